"""Session PCM: every clip becomes mono int16 at one sample rate, through the ffmpeg that pip installs."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soxr

from rustpunt.audio.incoming import EngineAudio
from rustpunt.errors import RustpuntError, SynthesisError

SAMPLE_RATE = 44_100
"""Every session is mixed and exported at 44.1 kHz mono, what podcast platforms and phones expect."""

SILENCE_THRESHOLD = 0.01
"""Samples quieter than 1 % of full scale (-40 dBFS) count as silence when a clip is trimmed."""

FADE_MS = 8
"""A clip's edges fade in and out over this many milliseconds, so joins never click."""


@functools.cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped by imageio-ffmpeg: never a system ffmpeg, never ffprobe."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as error:  # the package raises RuntimeError and others when the binary is gone
        raise RustpuntError(
            f"ffmpeg is not available ({error}); reinstall rustpunt with `pip install --force-reinstall imageio-ffmpeg`"
        ) from None


def as_mono_int16(samples: np.ndarray, what: str = "audio") -> np.ndarray:
    """`samples` as contiguous little-endian int16 (no copy when they already are): the one
    format the session's writers take. A stereo or float array is a bug upstream."""
    samples = np.asarray(samples)
    if samples.ndim != 1 or samples.dtype.kind != "i" or samples.dtype.itemsize != 2:
        raise ValueError(
            f"{what} must be one-dimensional int16 arrays (mono), got {samples.dtype} "
            f"with shape {samples.shape}"
        )
    return np.ascontiguousarray(samples, dtype="<i2")


def ms_to_samples(ms: int, rate: int = SAMPLE_RATE) -> int:
    """Whole samples for a duration in milliseconds, rounded once so lengths never drift."""
    return (ms * rate + 500) // 1000


def samples_to_ms(samples: int, rate: int = SAMPLE_RATE) -> int:
    return (samples * 1000 + rate // 2) // rate


def to_session_pcm(audio: EngineAudio, tempo: float = 1.0) -> np.ndarray:
    """Decode an engine's audio, change its tempo (pitch kept) and resample: one ffmpeg run.

    Raw PCM at a rate that divides the session rate (espeak's 22,050 Hz) at its own tempo is
    resampled here instead: starting an ffmpeg for every clip cost a fifth of a cold build.
    """
    plain = abs(tempo - 1.0) <= 1e-4
    if (
        audio.codec == "s16le"
        and audio.sample_rate
        and plain
        and SAMPLE_RATE % audio.sample_rate == 0
    ):
        samples = np.frombuffer(audio.data[: len(audio.data) // 2 * 2], dtype="<i2")
        if samples.size == 0:
            raise SynthesisError("the engine returned no audio")
        return upsample(samples, SAMPLE_RATE // audio.sample_rate)
    if audio.codec == "s16le":
        if not audio.sample_rate:
            raise SynthesisError("raw PCM from an engine needs a sample rate")
        source = ["-f", "s16le", "-ar", str(audio.sample_rate), "-ac", "1"]
    else:
        source = ["-f", audio.codec]
    filters = [] if plain else [f"atempo={tempo:.4f}"]
    filters.append(f"aresample={SAMPLE_RATE}")
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin",
        *source, "-i", "pipe:0",
        "-af", ",".join(filters),
        "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1",
    ]  # fmt: skip
    result = subprocess.run(command, input=audio.data, capture_output=True)
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SynthesisError(
            f"ffmpeg could not decode the engine's audio: {detail[-1] if detail else 'no detail'}"
        )
    samples = np.frombuffer(result.stdout, dtype="<i2")
    if samples.size == 0:
        raise SynthesisError("the engine returned no audio")
    return samples


RESAMPLER_QUALITY = "HQ"
"""Raw engine PCM is resampled by libsoxr (python-soxr) at its "HQ" quality: 20-bit precision,
flat to about 10 kHz from 22,050 Hz. Part of the clip cache key (cache.pipeline())."""


BLOCK_SAMPLES = 1 << 18
"""Long clips are processed this many samples (about 6 s) at a time: memory stays bounded however
long a step is (a whole 7-minute clip in floats once took almost a gigabyte)."""


def upsample(samples: np.ndarray, factor: int, *, block: int = BLOCK_SAMPLES) -> np.ndarray:
    """Raise the sample rate by a whole factor with soxr, `block` input samples at a time.

    soxr's stream removes its filter's delay (nothing moves in time) and gives the same samples as
    the whole clip resampled at once; floats in and out, rounded here, so no dither is added.
    """
    if factor == 1:
        return samples.astype("<i2", copy=True)
    stream = soxr.ResampleStream(
        SAMPLE_RATE / factor, SAMPLE_RATE, 1, dtype="float32", quality=RESAMPLER_QUALITY
    )
    out = np.zeros(samples.size * factor, dtype="<i2")
    written = 0
    for start in range(0, max(samples.size, 1), block):
        chunk = samples[start : start + block].astype(np.float32) / 32768
        resampled = stream.resample_chunk(chunk, last=start + block >= samples.size)
        resampled = resampled[: out.size - written]
        out[written : written + resampled.size] = np.clip(
            np.round(resampled * 32768), -32768, 32767
        )
        written += resampled.size
    return out


def trim_silence(
    samples: np.ndarray, threshold: float = SILENCE_THRESHOLD, *, block: int = BLOCK_SAMPLES
) -> np.ndarray:
    """Cut a clip's own leading and trailing silence, so a pause is exactly what the plan asked.

    Returns a view; the clip is searched a block at a time from either end.
    """
    level = threshold * 32767

    def loud_in(start: int, stop: int) -> np.ndarray:
        return np.flatnonzero(np.abs(samples[start:stop].astype(np.int32)) > level)

    first = None
    for start in range(0, samples.size, block):
        found = loud_in(start, start + block)
        if found.size:
            first = start + int(found[0])
            break
    if first is None:
        return samples[:0]
    for stop in range(samples.size, first, -block):
        found = loud_in(max(stop - block, first), stop)
        if found.size:
            return samples[first : max(stop - block, first) + int(found[-1]) + 1]
    return samples[first : first + 1]  # not reached: the first loud sample is found again


def fade_edges(samples: np.ndarray, fade_ms: int = FADE_MS) -> np.ndarray:
    """A short linear fade in and out: joins between speech and silence never click.

    Only the edges are computed in floats; the rest of the clip is copied as it is.
    """
    return _fade_in_place(samples.astype("<i2", copy=True), fade_ms)


def _fade_in_place(samples: np.ndarray, fade_ms: int = FADE_MS) -> np.ndarray:
    length = min(ms_to_samples(fade_ms), samples.size // 2)
    if length:
        ramp = np.linspace(0.0, 1.0, length, endpoint=False, dtype=np.float32)
        samples[:length] = np.round(samples[:length].astype(np.float32) * ramp)
        samples[-length:] = np.round(samples[-length:].astype(np.float32) * ramp[::-1])
    return samples


def prepare_clip(audio: EngineAudio, tempo: float = 1.0) -> np.ndarray:
    """Engine audio to a finished clip: session rate and tempo, own silence trimmed, edges faded."""
    clip = trim_silence(to_session_pcm(audio, tempo))
    if clip.size == 0:
        raise SynthesisError("the engine returned only silence")
    if clip.flags.writeable and clip.dtype == np.dtype("<i2"):
        return _fade_in_place(clip)  # a fresh array of ours: no copy of a long clip
    return fade_edges(clip)


@dataclass(frozen=True)
class Segment:
    """Speech to lay at a sample offset. Its samples are made only when they are encoded (and
    let go right after), so a session's speech is never in memory at once; with a `key` that
    names everything that makes them, a cached part is found without making them at all."""

    offset: int
    length: int
    load: Callable[[], np.ndarray]
    key: str | None = None
