"""Place clips and pauses on one timeline of whole samples, and render it chunk by chunk.

A session is mostly silence: it is produced in order, a chunk at a time, so a 60-minute session
never sits in memory as one buffer, and rendering stays linear in its length.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from rustpunt.audio import SAMPLE_RATE, ms_to_samples, samples_to_ms
from rustpunt.loudness import block_energies, integrated_loudness, limit
from rustpunt.mp3frames import SAMPLES_PER_FRAME
from rustpunt.plan import Item, Pause, Speech, Timeline

TARGET_LUFS = -19.0
"""Integrated loudness of a finished session. The file is mono: played on both ears it sounds like
-16 LUFS stereo, the podcast norm (Apple, AES TD1008 give -19 LUFS for mono)."""

TRUE_PEAK_DBTP = -1.5
"""Peaks stay below -1 dBTP after MP3 encoding, which can add a few tenths of a dB."""

LIMITER_CEILING = 10 ** ((TRUE_PEAK_DBTP - 0.5) / 20)
"""The limiter holds samples here; half a dB more leaves room for peaks between the samples."""

MAX_GAIN_DB = 30.0
"""A voice that would need more than this is broken, not quiet: it is not blown up further."""

GAIN_STEP_DB = 0.25
"""The session's gain is a multiple of this: an edited sentence moves the measured loudness by
hundredths of a dB, and a gain that stays the same keeps every other clip's encoded speech
reusable (the spliced writer's cache). The file lands within 0.125 dB of the target."""

SPEECH_GRID = SAMPLES_PER_FRAME
"""Speech begins on an MP3 frame (1152 samples, 26.1 ms): the pause before it ends on the next
frame edge, so it is never shorter than asked and at most 26 ms longer (each pause on its own:
nothing adds up). A clip encoded once then fits any place its pause can take, so a changed pause
or sentence re-encodes no other clip."""

CHUNK_SAMPLES = SAMPLE_RATE * 5
"""Five seconds a chunk: big enough that the encoder pipe is efficient, small enough for memory."""


@dataclass(frozen=True)
class Placement:
    item: Item
    start: int
    """First sample of the item."""
    end: int
    """One past its last sample."""

    @property
    def start_ms(self) -> int:
        return samples_to_ms(self.start)

    @property
    def end_ms(self) -> int:
        return samples_to_ms(self.end)


@dataclass(frozen=True)
class Mix:
    placements: tuple[Placement, ...]
    clips: Mapping[str, np.ndarray]
    total_samples: int
    gain: float = 1.0
    """One gain for every clip, applied while rendering (with the limiter): the session's
    loudness, set once."""
    keys: Mapping[str, str] | None = None
    """Each clip's content address (speak's), when known: the spliced writer finds its encoded
    speech by these instead of hashing the samples."""

    @property
    def duration_ms(self) -> int:
        return samples_to_ms(self.total_samples)


def speech_gain(clips: Mapping[str, np.ndarray]) -> float:
    """One gain for the whole session, decided from its speech (silence is gated out anyway).

    The clips themselves are left as they are relative to each other: normalising each sentence
    on its own would make the level jump between sentences.
    """
    if sum(clip.size for clip in clips.values()) < SAMPLE_RATE // 2:
        return 1.0  # too little speech to measure integrated loudness
    lufs = integrated_loudness(block_energies(clip) for clip in clips.values())
    if lufs < -70:
        return 1.0
    gain_db = min(TARGET_LUFS - lufs, MAX_GAIN_DB)
    return float(10 ** (round(gain_db / GAIN_STEP_DB) * GAIN_STEP_DB / 20))


def place(
    timeline: Timeline,
    clips: Mapping[str, np.ndarray],
    *,
    normalize: bool = True,
    keys: Mapping[str, str] | None = None,
) -> Mix:
    """Every item gets its exact sample span: a clip its own length, a pause its whole samples,
    the pause before speech ending on the speech grid (SPEECH_GRID)."""
    placements = []
    position = 0
    items = timeline.items
    for index, item in enumerate(items):
        if isinstance(item, Speech):
            end = position + clips[item.text].size
        else:
            end = position + ms_to_samples(item.ms)
            before_speech = index + 1 < len(items) and isinstance(items[index + 1], Speech)
            if before_speech and item.ms > 0:
                end = on_grid(end)
        placements.append(Placement(item, position, end))
        position = end
    gain = speech_gain(clips) if normalize else 1.0
    return Mix(tuple(placements), clips, position, gain, keys)


def on_grid(sample: int) -> int:
    """The first point of the speech grid at or after `sample`."""
    return -(-sample // SPEECH_GRID) * SPEECH_GRID


def speech_segments(mix: Mix) -> list[tuple[int, np.ndarray]]:
    """Each spoken clip at its first sample, with the session's gain and limiter applied: what
    render() would put there, for the spliced MP3 writer, which encodes only these."""
    return [
        (placement.start, limit(mix.clips[placement.item.text], mix.gain, LIMITER_CEILING))
        for placement in mix.placements
        if isinstance(placement.item, Speech)
    ]


def segment_keys(mix: Mix) -> list[str] | None:
    """What makes each of speech_segments(): the clip's key, the gain and the limiter, or None
    when the clips came without keys (the writer then hashes the samples)."""
    speeches = [p.item.text for p in mix.placements if isinstance(p.item, Speech)]
    if mix.keys is None or not all(text in mix.keys for text in speeches):
        return None
    return [
        f"{mix.keys[placement.item.text]} gain {mix.gain!r} ceiling {LIMITER_CEILING!r}"
        for placement in mix.placements
        if isinstance(placement.item, Speech)
    ]


def render(mix: Mix, chunk_samples: int = CHUNK_SAMPLES) -> Iterator[np.ndarray]:
    """Yield the session as int16 chunks, in order; silence is zeros, never stored as a whole."""
    buffer = np.zeros(chunk_samples, dtype="<i2")
    filled = 0
    for placement in mix.placements:
        if isinstance(placement.item, Pause):
            remaining = placement.end - placement.start
            while remaining:
                take = min(remaining, chunk_samples - filled)
                buffer[filled : filled + take] = 0
                filled += take
                remaining -= take
                if filled == chunk_samples:
                    yield buffer.copy()
                    filled = 0
            continue
        clip = limit(mix.clips[placement.item.text], mix.gain, LIMITER_CEILING)
        offset = 0
        while offset < clip.size:
            take = min(clip.size - offset, chunk_samples - filled)
            buffer[filled : filled + take] = clip[offset : offset + take]
            filled += take
            offset += take
            if filled == chunk_samples:
                yield buffer.copy()
                filled = 0
    if filled:
        yield buffer[:filled].copy()
