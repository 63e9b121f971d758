"""Loudness of a session's speech (ITU-R BS.1770 / EBU R128), measured in numpy, clip by clip.

The mixer sets one gain for the whole session from its speech; silence would be gated out of the
measurement anyway. Measuring here instead of with ffmpeg's ebur128 filter costs a few
milliseconds per clip instead of a fifth of a build, and needs no copy of all the speech at once.

How: the K-weighting filter (BS.1770's high shelf and high-pass) is applied in the frequency
domain to 100 ms segments (Parseval: a segment's K-weighted energy is its power spectrum weighted
by the filter's squared magnitude); 400 ms blocks overlap by 75 % as the standard asks; the
absolute (-70 LUFS) and relative (-10 LU) gates follow. Each clip is measured as if silence
surrounds it, as it does in the session. A test holds the result to ffmpeg's ebur128.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np

from rustpunt.audio.pcm import SAMPLE_RATE

SEGMENT = SAMPLE_RATE // 10
"""100 ms: the hop between gating blocks; a block is four segments (400 ms)."""

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0


@functools.cache
def _k_weighting_power(size: int, rate: int = SAMPLE_RATE) -> np.ndarray:
    """|H(f)|^2 of BS.1770's K-weighting at the rfft bins of a `size`-sample segment.

    The two biquads' coefficients for any sample rate, derived as in libebur128.
    """
    k = math.tan(math.pi * 1681.974450955533 / rate)
    gain, q = 3.999843853973347, 0.7071752369554196
    vh = 10 ** (gain / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = [
        (vh + vb * k / q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
    ]
    shelf_a = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    k = math.tan(math.pi * 38.13547087602444 / rate)
    q = 0.5003270373238773
    a0 = 1 + k / q + k * k
    pass_b = [1.0, -2.0, 1.0]
    pass_a = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    z = np.exp(-1j * 2 * np.pi * np.fft.rfftfreq(size))
    response = np.ones_like(z)
    for b, a in ((shelf_b, shelf_a), (pass_b, pass_a)):
        response *= (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    return np.abs(response) ** 2


GROUP_SEGMENTS = 600
"""Segments transformed at once (60 s): a long clip never sits in memory as floats whole."""


def block_energies(samples: np.ndarray, *, group: int = GROUP_SEGMENTS) -> np.ndarray:
    """Mean-square K-weighted energy of every 400 ms block of a clip surrounded by silence."""
    count = -(-samples.size // SEGMENT)
    segments = np.concatenate(
        [
            segment_energies(samples[first * SEGMENT : (first + group) * SEGMENT])
            for first in range(0, count, group)
        ]
        or [np.zeros(0)]
    )
    padded = np.concatenate([np.zeros(3), segments, np.zeros(3)])
    return np.convolve(padded, np.full(4, 0.25), mode="valid")


def segment_energies(samples: np.ndarray) -> np.ndarray:
    """K-weighted energy of each 100 ms segment of `samples` (the last one padded with silence)."""
    count = -(-samples.size // SEGMENT)
    frames = np.zeros((count, SEGMENT), dtype=np.float32)
    frames.reshape(-1)[: samples.size] = samples
    frames /= np.float32(32768.0)
    spectrum = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    weights = np.full(spectrum.shape[1], 2.0)  # one-sided: every bin but DC and Nyquist twice
    weights[0] = 1.0
    if SEGMENT % 2 == 0:
        weights[-1] = 1.0
    return (spectrum * (weights * _k_weighting_power(SEGMENT))).sum(axis=1) / (SEGMENT * SEGMENT)


def integrated_loudness(blocks: Iterable[np.ndarray]) -> float:
    """Gated integrated loudness in LUFS of blocks gathered from all clips (-inf when silent)."""
    energies = np.concatenate([np.asarray(b, dtype=np.float64) for b in blocks] or [np.zeros(0)])
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10 * np.log10(energies)
    above = energies[loudness > ABSOLUTE_GATE_LUFS]
    if above.size == 0:
        return -math.inf
    threshold = -0.691 + 10 * math.log10(above.mean()) + RELATIVE_GATE_LU
    gated = energies[loudness > threshold]
    return float(-0.691 + 10 * math.log10(gated.mean()))


LIMITER_WINDOW = SAMPLE_RATE // 200
"""5 ms: the limiter lowers the level this long before and after a peak, so it never clicks."""


LIMIT_BLOCK = 1 << 16
"""The limiter works on this many samples (about 1.5 s) at a time, plus its window on either
side: its float work on a block is some twenty times the block's int16 size, so a long step
limited whole would briefly take tens of MB."""


def limit(
    samples: np.ndarray, gain: float, ceiling: float, *, block: int = LIMIT_BLOCK
) -> np.ndarray:
    """Apply `gain`, then hold every sample at or below `ceiling` (full scale 1.0) with a smooth,
    look-ahead gain dip around the few peaks that would pass it; int16 out.

    Speech has a high crest factor: without this, a voice's rare plosives would keep the whole
    session quieter than the loudness target. A long clip is limited a block at a time: each
    block sees 2 * LIMITER_WINDOW samples of context on either side, all its gain curve depends on.
    """
    out = np.empty(samples.size, dtype="<i2")
    margin = 2 * LIMITER_WINDOW + 2
    for start in range(0, samples.size, block):
        stop = min(start + block, samples.size)
        first, last = max(start - margin, 0), min(stop + margin, samples.size)
        limited = _limit_span(samples[first:last], gain, ceiling)
        out[start:stop] = limited[start - first : stop - first]
    return out


def _limit_span(samples: np.ndarray, gain: float, ceiling: float) -> np.ndarray:
    """limit() on one span, as if silence surrounded it."""
    signal = samples.astype(np.float32) * np.float32(gain / 32768.0)
    peak = np.abs(signal)
    if signal.size == 0 or float(peak.max()) <= ceiling:
        return np.round(signal * 32768.0).astype("<i2")
    needed = np.minimum(1.0, ceiling / np.maximum(peak, 1e-9))
    width = LIMITER_WINDOW
    held = _sliding_min(np.concatenate([np.ones(width), needed, np.ones(width)]), 2 * width + 1)
    # a centred moving average over `width` samples of values that each hold the minimum over
    # +-width around them: the result is smooth and never above what any sample needs (the ends
    # are extended with their own held value: padding with 1 let a peak at the very edge pass)
    before, after = np.full(width // 2 + 1, held[0]), np.full(width // 2, held[-1])
    sums = np.cumsum(np.concatenate([before, held, after]))
    smooth = (sums[width:] - sums[:-width]) / width
    shaped = signal * smooth[: signal.size].astype(np.float32)
    return np.clip(np.round(shaped * 32768.0), -32768, 32767).astype("<i2")


def _sliding_min(values: np.ndarray, width: int) -> np.ndarray:
    """min(values[i : i + width]) for every i, by doubling spans: O(n log width)."""
    result = values
    span = 1
    while span < width:
        step = min(span, width - span)
        result = np.minimum(result[:-step], result[step:])
        span += step
    return result
