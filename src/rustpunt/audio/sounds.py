"""Sound design under the speech: a bed (noise, rain or a looped file), bells and breathing tones.

Everything is synthesised in numpy at `SAMPLE_RATE` (44.1 kHz), mono, as float32 in [-1, 1]
(`to_pcm16` makes int16 of a mix). No sound file ships with rustpunt.

- A bed is one seamless loop (`Bed`) read out chunk by chunk (`Bed.chunk`, `bed_chunk`): a
  60-minute bed is never one buffer. Generated beds are made in the frequency domain with one
  circular FFT, so they are periodic by construction and their end joins their start exactly;
  a bed read from a file is looped with an equal-power crossfade at the loop point.
- `Ducking` is the bed's gain over the session: its pause level, lowered by `duck_db` under
  speech with smooth raised-cosine ramps, faded in at the start and out at the end. It is computed
  for any span of samples on its own, so it streams too.
- `bell` synthesises a singing bowl (or a soft chime); `breathing_cues` paced-breathing tones.

Levels are dBFS: RMS for beds, peak for bells and cue tones. The mixer sets the speech to its
target loudness (-19 LUFS, a speech RMS near -22 dBFS), so a bed at -38 dBFS RMS sits about
16 dB under the speech in the pauses, and `duck_db` more while someone speaks.

A bed counts in the integrated loudness: blocks of bed alone pass the -70 LUFS gate, and with
40 % speech a pink bed at -38 dBFS lowered a stand-in session's integrated loudness by 3 LU
(brown at -38: 0.1 LU; rain at -38: 2.9 LU). So the session's gain is best decided on the speech
and this layer together, one gain for both, which keeps every level relative to the speech.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe, ms_to_samples
from rustpunt.errors import SoundError
from rustpunt.memo import MEMOS
from rustpunt.script.soundsettings import (
    BED_KINDS,
    BELL_LEVEL_DBFS,
    CHIME_LEVEL_DBFS,
    DUCK_DB,
    BedKind,
    Breathing,
)

DEFAULT_BED_DBFS = -38.0
"""RMS level of a bed in the pauses: clearly there on a phone in a train, 16 dB under the speech."""

DEFAULT_LOOP_SECONDS = 45
"""A generated bed repeats after this long: long enough that no pattern in the rain is noticed."""

LOW_CUT_HZ = 20.0
"""Generated beds hold nothing below this: brown noise would otherwise spend its energy on rumble
that small speakers cannot play and that pumps a limiter."""

ATTACK_MS = 300
"""The bed starts going down this long before the first word, so it is already down when the
voice starts (the mixer knows the timeline: no look-ahead needed) and no syllable is masked.
300 ms is slow enough not to be heard as a pump."""

RELEASE_MS = 800
"""After the last word the bed comes back over this long: slower than the attack, as a broadcast
ducker does, so the bed swells back gently instead of jumping into the pause."""

FADE_IN_MS = 3_000
"""The bed fades in over the first seconds of the session instead of starting at full level."""

FADE_OUT_MS = 5_000
"""...and fades out over the last ones: the session ends with a fade, not a cut."""

FILE_CROSSFADE_MS = 2_000
"""The loop point of a bed from a file: its last two seconds are crossfaded into its start."""

MAX_FILE_SECONDS = 300
"""At most this much of a bed file is read (53 MB as float32): a longer file loops after 5 min."""


# --------------------------------------------------------------------------- beds


@dataclass(frozen=True, eq=False)
class Bed:
    """A seamless loop: sample `len(loop) - 1` is followed by sample 0 without a seam."""

    loop: np.ndarray
    """float32 mono samples at SAMPLE_RATE, at the bed's level; made read-only (beds are shared)."""
    name: str
    """What it is, for logs and sidecars: "pink", "brown", "rain" or the file's path."""

    def __post_init__(self) -> None:
        if self.loop.ndim != 1 or self.loop.size == 0:
            raise SoundError(f"bed {self.name}: a bed needs at least one sample of mono audio")
        self.loop.setflags(write=False)  # shared between sessions (generated_bed is cached)

    def chunk(self, start: int, n: int) -> np.ndarray:
        """Samples `start` to `start + n` of the bed repeated for ever (float32, a new array)."""
        if start < 0 or n < 0:
            raise ValueError(f"a bed chunk starts at 0 or later and is not negative: {start}, {n}")
        size = self.loop.size
        out = np.empty(n, dtype=np.float32)
        position = start % size
        filled = 0
        while filled < n:
            take = min(n - filled, size - position)
            out[filled : filled + take] = self.loop[position : position + take]
            filled += take
            position = 0
        return out


def dbfs_rms(samples: np.ndarray) -> float:
    """RMS level in dBFS of float samples (full scale 1.0); -inf for silence."""
    rms = math.sqrt(float(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def _at_rms(samples: np.ndarray, level_dbfs: float) -> np.ndarray:
    current = dbfs_rms(samples)
    if not math.isfinite(current):
        return samples.astype(np.float32)
    return (samples * 10 ** ((level_dbfs - current) / 20)).astype(np.float32)


def _low_cut(freqs: np.ndarray, corner_hz: float) -> np.ndarray:
    """Amplitude weights that rise smoothly from 0 at half the corner to 1 at the corner."""
    weights = np.clip((freqs - corner_hz / 2) / (corner_hz / 2), 0.0, 1.0)
    return np.sin(weights * np.pi / 2) ** 2


def _periodic_noise(
    size: int, rng: np.random.Generator, exponent: float, low_cut_hz: float = LOW_CUT_HZ
) -> np.ndarray:
    """Gaussian noise whose power falls as 1/f**exponent, periodic in `size` samples.

    Each rfft bin gets a random complex amplitude scaled by f**(-exponent/2); the inverse FFT of
    a spectrum is periodic, so the result loops without a seam. exponent 1 is pink (-3 dB per
    octave), 2 is brown (-6 dB per octave), 0 is white.
    """
    freqs = np.fft.rfftfreq(size, 1 / SAMPLE_RATE)
    spectrum = rng.standard_normal(freqs.size) + 1j * rng.standard_normal(freqs.size)
    weights = np.zeros(freqs.size)
    weights[1:] = freqs[1:] ** (-exponent / 2)
    weights *= _low_cut(freqs, low_cut_hz)
    return np.fft.irfft(spectrum * weights, size)


def _rain(size: int, rng: np.random.Generator) -> np.ndarray:
    """A gentle rain: soft broadband hiss that swells slowly, with light drops pattering in it.

    All of it periodic in `size`: the hiss is shaped in one FFT, the swell is a sum of sines with
    whole numbers of cycles per loop, and the drops are an impulse train convolved circularly
    (in the FFT) with short band-passed noise bursts, so a drop near the end wraps to the start.
    """
    freqs = np.fft.rfftfreq(size, 1 / SAMPLE_RATE)
    spectrum = rng.standard_normal(freqs.size) + 1j * rng.standard_normal(freqs.size)
    shape = np.zeros(freqs.size)
    shape[1:] = freqs[1:] ** -0.3  # between white and pink: rain hisses, but softly
    shape *= _low_cut(freqs, 250.0) / np.sqrt(1 + (freqs / 7_000.0) ** 4)  # no rumble, no sizzle
    hiss = np.fft.irfft(spectrum * shape, size)

    seconds = size / SAMPLE_RATE
    time = np.arange(size) / size  # one period = the loop
    swell = np.ones(size)
    for cycles in {
        max(1, round(seconds / 11)),
        max(1, round(seconds / 7)),
        max(2, round(seconds / 4)),
    }:
        swell += 0.12 * np.sin(2 * np.pi * cycles * time + rng.uniform(0, 2 * np.pi))
    hiss *= swell

    drops = np.zeros(freqs.size, dtype=complex)
    burst_size = ms_to_samples(40)
    burst_time = np.arange(burst_size) / SAMPLE_RATE
    for centre_hz, per_second in ((1_400.0, 3.0), (2_300.0, 5.0), (3_600.0, 5.0), (5_200.0, 3.0)):
        count = max(1, round(per_second * seconds))
        train = np.zeros(size)
        positions = rng.integers(0, size, count)
        np.add.at(train, positions, rng.lognormal(0.0, 0.5, count))
        burst = rng.standard_normal(burst_size) * np.exp(-burst_time / rng.uniform(0.004, 0.008))
        burst_spectrum = np.fft.rfft(burst, size)
        band = np.exp(-0.5 * ((freqs - centre_hz) / (centre_hz * 0.25)) ** 2)
        drops += np.fft.rfft(train) * burst_spectrum * band
    patter = np.fft.irfft(drops, size)
    patter *= 0.5 * np.std(hiss) / max(float(np.std(patter)), 1e-12)  # drops 6 dB under the hiss
    return hiss + patter


@MEMOS.remember(maxsize=8)
def generated_bed(
    kind: BedKind,
    *,
    level_dbfs: float = DEFAULT_BED_DBFS,
    seed: int = 0,
    loop_seconds: float = DEFAULT_LOOP_SECONDS,
) -> Bed:
    """A pink-noise, brown-noise or rain bed: a seamless loop at `level_dbfs` RMS.

    The same kind, seed and length always give the same samples (a rebuild sounds the same),
    and are made once per process: a 45 s rain loop takes about a second to synthesise.
    """
    if kind not in BED_KINDS:
        raise SoundError(f"unknown bed {kind!r}; choose one of {', '.join(BED_KINDS)} or a file")
    size = round(loop_seconds * SAMPLE_RATE)
    if size < SAMPLE_RATE:
        raise SoundError(f"a {kind} bed loop needs at least one second, not {loop_seconds} s")
    rng = np.random.default_rng([seed, BED_KINDS.index(kind)])
    if kind == "rain":
        samples = _rain(size, rng)
    else:
        samples = _periodic_noise(size, rng, exponent=1.0 if kind == "pink" else 2.0)
    return Bed(_at_rms(samples, level_dbfs), kind)


def decode_audio(path: Path, *, max_seconds: float | None = None) -> np.ndarray:
    """Any audio file ffmpeg reads, as int16 mono at SAMPLE_RATE (the pip-installed ffmpeg)."""
    path = Path(path)
    if not path.is_file():
        if path.exists():  # a FIFO would block ffmpeg's read, a device never ends
            raise SoundError(
                f"{path}: not a regular file (a pipe, device or folder); give an audio file "
                "such as a WAV or MP3"
            )
        raise SoundError(f"{path}: no such audio file; check the path (relative to the script)")
    limit = ["-t", f"{max_seconds:.3f}"] if max_seconds else []
    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
        "-i", str(path), *limit, "-map", "0:a:0",
        "-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, check=False)
    samples = np.frombuffer(result.stdout, dtype="<i2")
    if result.returncode != 0 or samples.size == 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = lines[-1] if lines else "no audio in it"
        raise SoundError(
            f"{path}: not an audio file ffmpeg can read ({detail}); "
            "give a WAV, MP3, FLAC, OGG or M4A file"
        )
    return samples


def crossfade_loop(samples: np.ndarray, crossfade: int) -> np.ndarray:
    """Make `samples` loop without a seam: its last `crossfade` samples fade into its start.

    The result is `crossfade` samples shorter. Its sample 0 is the original sample
    `len - crossfade` (the continuation of the result's last sample), and over the first
    `crossfade` samples the tail gives way to the head along equal-power (sine/cosine) curves,
    which keep the level steady for uncorrelated material such as noise or rain.
    """
    signal = np.asarray(samples, dtype=np.float32)
    crossfade = min(crossfade, signal.size // 2)
    if crossfade <= 0:
        return signal.copy()
    head = signal[:crossfade]
    tail = signal[signal.size - crossfade :]
    angle = (np.arange(crossfade, dtype=np.float64) + 0.5) / crossfade * (np.pi / 2)
    looped = signal[: signal.size - crossfade].copy()
    looped[:crossfade] = head * np.sin(angle) + tail * np.cos(angle)
    return looped


def file_bed(
    path: Path,
    *,
    level_dbfs: float = DEFAULT_BED_DBFS,
    crossfade_ms: int = FILE_CROSSFADE_MS,
    max_seconds: float = MAX_FILE_SECONDS,
) -> Bed:
    """A bed from an audio file: decoded, set to `level_dbfs` RMS and looped with a crossfade.

    Raises SoundError naming the file when it is missing, not audio, or too short to loop.
    """
    samples = decode_audio(path, max_seconds=max_seconds).astype(np.float32) / 32768
    if samples.size < SAMPLE_RATE // 2:
        raise SoundError(
            f"{path}: {samples.size / SAMPLE_RATE:.2f} s is too short to loop as a bed; give at least a second of audio"
        )
    crossfade = min(ms_to_samples(crossfade_ms), samples.size // 4)
    return Bed(_at_rms(crossfade_loop(samples, crossfade), level_dbfs), str(path))


# --------------------------------------------------------------------------- ducking


def _raised_cosine(x: np.ndarray) -> np.ndarray:
    """0 at x <= 0, 1 at x >= 1, an S-curve between with zero slope at both ends."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


@dataclass(frozen=True)
class Ducking:
    """The bed's gain over a session: 0 dB in pauses, `-duck_db` under speech, faded at both ends.

    Around each speech span (start, end) in samples the gain ramps down over the `attack` samples
    before the start and back up over the `release` samples after the end; where the ramps of two
    spans meet, the deeper one wins. Ramps are raised cosines in dB, so the gain has no step and
    no kink. Build it with `ducking()`.
    """

    spans: tuple[tuple[int, int], ...]
    """Speech (start, end) in samples, sorted and merged."""
    total_samples: int
    duck_db: float = DUCK_DB
    attack: int = ms_to_samples(ATTACK_MS)
    release: int = ms_to_samples(RELEASE_MS)
    fade_in: int = ms_to_samples(FADE_IN_MS)
    fade_out: int = ms_to_samples(FADE_OUT_MS)
    _starts: np.ndarray = field(init=False, repr=False, compare=False)
    _ends: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", np.array([s for s, _ in self.spans], dtype=np.int64))
        object.__setattr__(self, "_ends", np.array([e for _, e in self.spans], dtype=np.int64))

    def ducked(self, start: int, n: int) -> np.ndarray:
        """How far down the bed is at each sample, from 0 (pause level) to 1 (fully ducked)."""
        amount = np.zeros(n, dtype=np.float32)
        end = start + n
        # only the spans whose ramps reach into [start, end), and only where they reach
        first = int(np.searchsorted(self._ends, start - self.release, side="right"))
        last = int(np.searchsorted(self._starts, end + self.attack, side="left"))
        for index in range(first, last):
            span_start, span_end = self.spans[index]
            _ramp_into(amount, start, span_start - self.attack, span_start, rising=True)
            low, high = max(span_start, start), min(span_end, end)
            if low < high:
                amount[low - start : high - start] = 1.0
            _ramp_into(amount, start, span_end, span_end + self.release, rising=False)
        return amount

    def gain(self, start: int, n: int) -> np.ndarray:
        """Linear gain (float32) for the bed's samples `start` to `start + n`."""
        amount = self.ducked(start, n)
        gain = np.ones(n, dtype=np.float32)
        ducked = np.flatnonzero(amount)
        if ducked.size:
            gain[ducked] = np.power(np.float32(10), amount[ducked] * np.float32(-self.duck_db / 20))
        _fade_into(gain, start, 0, self.fade_in, rising=True)
        _fade_into(
            gain, start, self.total_samples - self.fade_out, self.total_samples, rising=False
        )
        silent = max(self.total_samples - start, 0)
        gain[silent:] = 0.0  # nothing after the end of the session
        return gain


def _ramp_window(
    start: int, n: int, ramp_start: int, ramp_end: int, rising: bool
) -> tuple[slice, np.ndarray] | None:
    """The part of a raised-cosine ramp over [ramp_start, ramp_end) inside [start, start + n)."""
    low, high = max(ramp_start, start), min(ramp_end, start + n)
    if low >= high:
        return None
    length = max(ramp_end - ramp_start, 1)
    offsets = np.arange(low - ramp_start, high - ramp_start, dtype=np.float64)
    fraction = offsets / length if rising else (length - offsets) / length
    return slice(low - start, high - start), _raised_cosine(fraction).astype(np.float32)


def _ramp_into(
    amount: np.ndarray, start: int, ramp_start: int, ramp_end: int, rising: bool
) -> None:
    window = _ramp_window(start, amount.size, ramp_start, ramp_end, rising)
    if window is not None:
        np.maximum(amount[window[0]], window[1], out=amount[window[0]])


def _fade_into(gain: np.ndarray, start: int, fade_start: int, fade_end: int, rising: bool) -> None:
    window = _ramp_window(start, gain.size, fade_start, fade_end, rising)
    if window is not None:
        gain[window[0]] *= window[1]


def ducking(
    spans: Iterable[tuple[int, int]],
    total_samples: int,
    *,
    duck_db: float = DUCK_DB,
    attack_ms: int = ATTACK_MS,
    release_ms: int = RELEASE_MS,
    fade_in_ms: int = FADE_IN_MS,
    fade_out_ms: int = FADE_OUT_MS,
) -> Ducking:
    """The bed's gain envelope for a session of `total_samples` with speech at `spans` (samples).

    Spans may come in any order and may touch or overlap: they are sorted and merged. The fades
    are shortened to half the session if it is shorter than both together.
    """
    if duck_db < 0:
        raise SoundError(f"ducking is a reduction: {duck_db} dB must be zero or more")
    merged: list[tuple[int, int]] = []
    for start, end in sorted((int(s), int(e)) for s, e in spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    half = total_samples // 2
    return Ducking(
        spans=tuple(merged),
        total_samples=total_samples,
        duck_db=duck_db,
        attack=ms_to_samples(attack_ms),
        release=ms_to_samples(release_ms),
        fade_in=min(ms_to_samples(fade_in_ms), half),
        fade_out=min(ms_to_samples(fade_out_ms), half),
    )


def bed_chunk(bed: Bed, envelope: Ducking, start: int, n: int) -> np.ndarray:
    """The bed as heard at samples `start` to `start + n` of the session: looped, ducked, faded."""
    return bed.chunk(start, n) * envelope.gain(start, n)


# --------------------------------------------------------------------------- bells


@dataclass(frozen=True)
class Bell:
    """A struck bowl or chime: inharmonic partials, each a slowly beating pair of sines."""

    fundamental_hz: float
    ratios: tuple[float, ...]
    """Partial frequencies over the fundamental (a singing bowl's are near 1 : 2.71 : 5.24 : 8.58)."""
    amplitudes: tuple[float, ...]
    decay_s: tuple[float, ...]
    """Each partial's time constant: the amplitude falls to 1/e after this long (higher: faster)."""
    beat_hz: tuple[float, ...]
    """Each partial is paired with a copy this much higher: the pair beats slowly at this rate."""
    level_dbfs: float
    """Peak level."""


SINGING_BOWL = Bell(
    fundamental_hz=220.0,
    ratios=(1.0, 2.71, 5.24, 8.58),
    amplitudes=(1.0, 0.55, 0.3, 0.15),
    decay_s=(3.5, 2.0, 1.1, 0.6),
    beat_hz=(0.5, 0.8, 1.3, 1.9),
    level_dbfs=BELL_LEVEL_DBFS,
)
"""A 220 Hz bowl for the start and the end of a session; at -12 dBFS it rings 22 s."""

SOFT_CHIME = Bell(
    fundamental_hz=660.0,
    ratios=(1.0, 2.71, 5.24),
    amplitudes=(1.0, 0.3, 0.1),
    decay_s=(1.0, 0.5, 0.25),
    beat_hz=(0.7, 1.2, 1.8),
    level_dbfs=CHIME_LEVEL_DBFS,
)
"""A short, quiet, higher chime: to announce speech after a long pause without startling."""

STRIKE_MS = 6
"""A bell's onset rises over a few milliseconds: a strike, not a click."""

BEAT_PARTNER = 0.6
"""The detuned copy of each partial is this strong: the level wavers by about 12 dB, a slow
swell that never falls to silence (equal copies would cancel at every beat)."""


RING_OUT_DBFS = -72.0
"""A bell rings until its peak has decayed to this level, and only then ends (in `END_FADE_MS`).
The session's gain raises the layer by at most 5 dB (`sounddesign.MAX_LAYER_BOOST_DB`): still
under -65 dBFS RMS, where a bowl cut off at -45 dBFS was an audible click of silence."""

END_FADE_MS = 50
"""The last moment of a bell fades to zero: from below `RING_OUT_DBFS`, inaudible."""


def _partials(spec: Bell, time: np.ndarray) -> np.ndarray:
    """The bell of `spec` at `time` (seconds after the strike), not yet set to its level."""
    if not len(spec.ratios) == len(spec.amplitudes) == len(spec.decay_s) == len(spec.beat_hz):
        raise SoundError("a bell needs one amplitude, decay and beat for each partial")
    out = np.zeros(time.size)
    for index, (ratio, amplitude, decay, beat) in enumerate(
        zip(spec.ratios, spec.amplitudes, spec.decay_s, spec.beat_hz)
    ):
        frequency = spec.fundamental_hz * ratio
        envelope = amplitude * np.exp(-time / decay)
        phase = 0.7 * index  # partials start out of step, as after a real strike
        out += envelope * np.sin(2 * np.pi * frequency * time + phase)
        out += BEAT_PARTNER * envelope * np.sin(2 * np.pi * (frequency + beat) * time + phase)
    return out * _raised_cosine(time / (STRIKE_MS / 1000))


def _scale(spec: Bell, level_dbfs: float) -> float:
    """What the bell's partials are multiplied by to peak at `level_dbfs` (the peak comes in the
    first tenths of a second: every partial only decays after the strike)."""
    peak = float(np.max(np.abs(_partials(spec, np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE))))
    return 10 ** (level_dbfs / 20) / peak


def ring_ms(spec: Bell = SINGING_BOWL, *, level_dbfs: float | None = None) -> int:
    """How long the bell of `spec` at `level_dbfs` (peak) rings: until no sum of its partials can
    reach above `RING_OUT_DBFS`, plus its end fade; in whole 10 ms. A louder bell rings longer
    (the -12 dBFS bowl 22 s, at -6 dBFS 24 s), as a harder-struck bowl does."""
    level = spec.level_dbfs if level_dbfs is None else level_dbfs
    time = np.arange(0.0, 600.0, 0.01)
    bound = np.zeros(time.size)  # the largest the partials can add up to at each moment
    for amplitude, decay in zip(spec.amplitudes, spec.decay_s):
        bound += (1 + BEAT_PARTNER) * amplitude * np.exp(-time / decay)
    above = np.flatnonzero(bound * _scale(spec, level) > 10 ** (RING_OUT_DBFS / 20))
    rung_out = (int(above[-1]) + 1) * 10 if above.size else 0
    return max(rung_out, STRIKE_MS) + END_FADE_MS


def bell(spec: Bell = SINGING_BOWL, *, level_dbfs: float | None = None) -> np.ndarray:
    """The bell of `spec` as float32 samples, struck at sample 0, at its peak level.

    Each partial k is two sines, at f_k and (weaker) f_k + beat_k, decaying as exp(-t / decay_k);
    the pair's sum swells and fades `beat_k` times a second, the slow wavering of a real bowl. It
    lasts `ring_ms`: it decays naturally to `RING_OUT_DBFS` and then fades to zero over the last
    `END_FADE_MS`, so it neither clicks nor is cut off while it is still heard.
    """
    level = spec.level_dbfs if level_dbfs is None else level_dbfs
    size = ms_to_samples(ring_ms(spec, level_dbfs=level))
    time = np.arange(size) / SAMPLE_RATE
    out = _partials(spec, time) * _raised_cosine((size / SAMPLE_RATE - time) / (END_FADE_MS / 1000))
    return (out * _scale(spec, level)).astype(np.float32)


# --------------------------------------------------------------------------- breathing


CUE_EDGE_FRACTION = 0.25
"""A cue tone swells in over its first quarter and fades out over its last: no edges to hear."""


def _glide(size: int, start_hz: float, end_hz: float, level: float) -> np.ndarray:
    """A sine gliding exponentially (evenly in pitch) from start_hz to end_hz, softly enveloped."""
    if size == 0:
        return np.zeros(0)
    time = np.arange(size) / SAMPLE_RATE
    seconds = size / SAMPLE_RATE
    ratio = end_hz / start_hz
    if abs(ratio - 1) < 1e-9:
        phase = 2 * np.pi * start_hz * time
    else:  # f(t) = start * ratio ** (t / T); the phase is its integral
        growth = math.log(ratio) / seconds
        phase = 2 * np.pi * start_hz * (np.exp(growth * time) - 1) / growth
    edge = CUE_EDGE_FRACTION * seconds
    envelope = _raised_cosine(time / edge) * _raised_cosine((seconds - time) / edge)
    return level * envelope * np.sin(phase)


def breathing_cues(pattern: Breathing, cycles: int) -> np.ndarray:
    """`cycles` breaths of `pattern` as float32 samples: exactly cycles * cycle_ms long.

    Each cycle starts with the rising "in" tone at sample `k * cycle` (whole samples from the
    millisecond durations, so cycles never drift), then the hold, the falling "out" tone, the hold.
    """
    if cycles < 0 or min(pattern.inhale_ms, pattern.exhale_ms) <= 0:
        raise SoundError("paced breathing needs a positive in and out time and zero or more cycles")
    if min(pattern.hold_in_ms, pattern.hold_out_ms) < 0:
        raise SoundError("a breathing hold is zero or longer")
    level = 10 ** (pattern.level_dbfs / 20)
    inhale = _glide(ms_to_samples(pattern.inhale_ms), pattern.low_hz, pattern.high_hz, level)
    exhale = _glide(ms_to_samples(pattern.exhale_ms), pattern.high_hz, pattern.low_hz, level)
    out = np.zeros(ms_to_samples(pattern.cycle_ms * cycles), dtype=np.float32)
    for cycle in range(cycles):
        begin = ms_to_samples(pattern.cycle_ms * cycle)
        out[begin : begin + inhale.size] = inhale
        begin = ms_to_samples(pattern.cycle_ms * cycle + pattern.inhale_ms + pattern.hold_in_ms)
        out[begin : begin + exhale.size] = exhale
    return out


def breath_onsets(pattern: Breathing, cycles: int) -> list[tuple[int, int]]:
    """Where each tone starts, in samples: (in, out) for every cycle, as `breathing_cues` lays them."""
    return [
        (
            ms_to_samples(pattern.cycle_ms * cycle),
            ms_to_samples(pattern.cycle_ms * cycle + pattern.inhale_ms + pattern.hold_in_ms),
        )
        for cycle in range(cycles)
    ]


# --------------------------------------------------------------------------- the layer


@dataclass(frozen=True, eq=False)
class PlacedSound:
    """A finished sound (a bell, a run of breathing tones) and the session sample it starts at."""

    start: int
    samples: np.ndarray
    """float32, full scale 1.0."""

    @property
    def end(self) -> int:
        return self.start + self.samples.size


@dataclass(frozen=True, eq=False)
class SoundLayer:
    """Everything under the speech of one session, read out chunk by chunk like the speech.

    The mixer adds `chunk(start, n)` to its speech chunk (as floats, after the speech's gain)
    and converts the sum with `to_pcm16`; nothing here is ever the length of the session.
    """

    bed: Bed | None = None
    envelope: Ducking | None = None
    """The bed's gain; required with a bed."""
    sounds: tuple[PlacedSound, ...] = ()
    """In any order; kept sorted by start."""
    _starts: np.ndarray = field(init=False, repr=False)
    _longest: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.bed is not None and self.envelope is None:
            raise SoundError("a bed needs its ducking envelope (sounds.ducking)")
        ordered = tuple(sorted(self.sounds, key=lambda sound: sound.start))
        object.__setattr__(self, "sounds", ordered)
        object.__setattr__(self, "_starts", np.array([s.start for s in ordered], dtype=np.int64))
        object.__setattr__(self, "_longest", max((s.samples.size for s in ordered), default=0))

    def chunk(self, start: int, n: int) -> np.ndarray:
        """The layer at session samples `start` to `start + n` (float32)."""
        if self.bed is not None and self.envelope is not None:
            out = bed_chunk(self.bed, self.envelope, start, n)
        else:
            out = np.zeros(n, dtype=np.float32)
        # the sounds that start before the chunk ends and may still ring into it
        first = int(np.searchsorted(self._starts, start - self._longest, side="left"))
        last = int(np.searchsorted(self._starts, start + n, side="left"))
        for sound in self.sounds[first:last]:
            if sound.end > start:
                overlay(out, sound.samples, sound.start - start)
        return out


# --------------------------------------------------------------------------- output


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples (full scale 1.0) as int16, rounded and clipped."""
    return np.clip(np.round(np.asarray(samples) * 32767), -32768, 32767).astype("<i2")


def overlay(target: np.ndarray, sound: np.ndarray, at: int) -> None:
    """Add `sound` into `target` (float) starting at sample `at` of target; what falls outside is cut.

    `at` may be negative or beyond the end: the mixer overlays a bell on each chunk it overlaps.
    """
    begin = max(at, 0)
    end = min(at + sound.size, target.size)
    if begin < end:
        target[begin:end] += sound[begin - at : end - at]


def sample_spans(spans_ms: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Millisecond spans as whole samples (for callers that hold times in ms)."""
    return [(ms_to_samples(start), ms_to_samples(end)) for start, end in spans_ms]


__all__ = [
    "ATTACK_MS",
    "BED_KINDS",
    "DEFAULT_BED_DBFS",
    "DUCK_DB",
    "FADE_IN_MS",
    "FADE_OUT_MS",
    "RELEASE_MS",
    "RING_OUT_DBFS",
    "SAMPLE_RATE",
    "SINGING_BOWL",
    "SOFT_CHIME",
    "Bed",
    "BedKind",
    "Bell",
    "Breathing",
    "Ducking",
    "PlacedSound",
    "SoundError",
    "SoundLayer",
    "bed_chunk",
    "bell",
    "breath_onsets",
    "breathing_cues",
    "crossfade_loop",
    "dbfs_rms",
    "decode_audio",
    "ducking",
    "file_bed",
    "generated_bed",
    "overlay",
    "ring_ms",
    "sample_spans",
    "to_pcm16",
]
