"""Place clips and pauses on one timeline of whole samples, and render it chunk by chunk.

A session is mostly silence: it is produced in order, a chunk at a time, so a 60-minute session
never sits in memory as one buffer, and rendering stays linear in its length.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from rustpunt.audio.loudness import block_energies, integrated_loudness, limit
from rustpunt.audio.pcm import SAMPLE_RATE, Segment, ms_to_samples, samples_to_ms
from rustpunt.script.plan import Item, Pause, Speech, Timeline

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

SPEECH_GRID = 1152
"""Speech begins on an MP3 frame (1152 samples, 26.1 ms: mp3.frames.SAMPLES_PER_FRAME, held equal
by a test, as the mix sits below the encoder's layer): the pause before it ends on the next
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


@dataclass(frozen=True, eq=False)
class LazyClips(Mapping[str, np.ndarray]):
    """A session's clips, each made when asked for (read from the clip cache and joined) and let
    go after use: a 60-minute session's speech is never in memory at once. Their lengths and
    loudness blocks are known up front, so placing and levelling them loads nothing."""

    lengths: Mapping[str, int]
    energies: Mapping[str, np.ndarray]
    """Each clip's loudness blocks (block_energies() of each of its phrases), for the gain."""
    load: Callable[[str], np.ndarray]

    def __getitem__(self, text: str) -> np.ndarray:
        if text not in self.lengths:
            raise KeyError(text)
        return self.load(text)

    def __iter__(self) -> Iterator[str]:
        return iter(self.lengths)

    def __len__(self) -> int:
        return len(self.lengths)


def with_clips(
    clips: Mapping[str, np.ndarray], more: Mapping[str, np.ndarray]
) -> Mapping[str, np.ndarray]:
    """`clips` and `more` (clips already made) as one mapping, still lazy when `clips` is."""
    if not isinstance(clips, LazyClips):
        return {**clips, **more}
    lazy = clips

    def load(text: str) -> np.ndarray:
        return more[text] if text in more else lazy.load(text)

    return LazyClips(
        lengths={**lazy.lengths, **{text: clip.size for text, clip in more.items()}},
        energies={**lazy.energies, **{text: block_energies(clip) for text, clip in more.items()}},
        load=load,
    )


def clip_length(clips: Mapping[str, np.ndarray], text: str) -> int:
    """A clip's length in samples, without making it when the clips are lazy."""
    return clips.lengths[text] if isinstance(clips, LazyClips) else clips[text].size


def speech_gain(clips: Mapping[str, np.ndarray]) -> float:
    """One gain for the whole session, decided from its speech (silence is gated out anyway).

    The clips themselves are left as they are relative to each other: normalising each sentence
    on its own would make the level jump between sentences.
    """
    if sum(clip_length(clips, text) for text in clips) < SAMPLE_RATE // 2:
        return 1.0  # too little speech to measure integrated loudness
    blocks: Iterable[np.ndarray] = (
        clips.energies.values()
        if isinstance(clips, LazyClips)
        else (block_energies(clip) for clip in clips.values())
    )
    lufs = integrated_loudness(blocks)
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
            end = position + clip_length(clips, item.text)
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


def speech_segments(mix: Mix) -> list[Segment]:
    """Each spoken clip at its first sample, for the spliced MP3 writer, which encodes only these:
    its samples (made when the writer needs them) are what render() puts there, with the gain and
    the limiter; its key, when the clips have keys, names all that makes them."""
    spoken = [p for p in mix.placements if isinstance(p.item, Speech)]
    texts = [p.item.text for p in spoken]  # type: ignore[union-attr]
    keyed = mix.keys is not None and all(text in mix.keys for text in texts)
    return [
        Segment(
            offset=placement.start,
            length=placement.end - placement.start,
            load=functools.partial(limited_clip, mix, text),
            key=f"{mix.keys[text]} gain {mix.gain!r} ceiling {LIMITER_CEILING!r}"
            if keyed and mix.keys is not None
            else None,
        )
        for placement, text in zip(spoken, texts)
    ]


def limited_clip(mix: Mix, text: str) -> np.ndarray:
    """A clip as the session plays it: at the session's gain, through the limiter."""
    return limit(mix.clips[text], mix.gain, LIMITER_CEILING)


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
        clip = limited_clip(mix, placement.item.text)
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
