#!/usr/bin/env python3
"""Beds under the pauses: can a pause under a looped bed be whole pre-encoded frames?

    python benchmarks/splice_bed.py

A measurement, not a feature: `rustpunt.mp3.splice` writes silent pauses only. This script builds a
session of Dutch sentences (the offline voice) over a looped pink-noise bed, encodes it in one
pass (export's settings), and builds it a second way:

- the loop is a whole number of frames (383 x 1152 samples = 10.0 s) and plays in the session's
  phase, so session frame j always holds the same stretch of the loop: frame j mod 383 of the
  loop's own encode (the loop encoded three times in a row, the middle copy kept, so every frame
  has the loop itself as context; LAME's reservoir off, so any frame can start a run);
- every sentence is encoded with the bed under it, from 12 frames before it to the end of its
  sound (reservoir off too: its lead-in frames carry the bed, so they cannot be the silent
  frames whose borrowing rustpunt caps), and laid over the loop's frames.

It prints the error against the source of both files: overall, in the bed-only pauses, at the
loop's wrap points and at every edge where a part meets the loop's frames, and the times.
"""

from __future__ import annotations

import itertools
import subprocess
import time

import numpy as np

from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe, prepare_clip
from rustpunt.mp3 import frames as mp3frames
from rustpunt.mp3.frames import SAMPLES_PER_FRAME, START_OFFSET
from rustpunt.voice.engines.espeak import EspeakEngine

LOOP_FRAMES = 383
LEAD_IN_FRAMES = 12
BED_DBFS = -30.0
SENTENCES = [
    "Ga rustig zitten en sluit je ogen.",
    "Adem diep in door je neus.",
    "En adem langzaam uit door je mond.",
    "Voel hoe je schouders zwaar worden.",
    "Laat nu los en voel het verschil.",
    "Breng je aandacht naar je voeten.",
]


def lame(pcm: np.ndarray, *extra: str) -> bytes:
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
        "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
        "-c:a", "libmp3lame", "-b:a", "64k", *extra,
        "-write_xing", "0", "-id3v2_version", "0", "-f", "mp3", "pipe:1",
    ]  # fmt: skip
    return subprocess.run(command, input=pcm.tobytes(), capture_output=True, check=True).stdout


def decode(frames: bytes, total: int) -> tuple[np.ndarray, bytes]:
    """Every frame decoded, the 1,105 samples of delay skipped (no Info frame here)."""
    result = subprocess.run(
        [ffmpeg_exe(), "-v", "warning", "-f", "mp3", "-i", "pipe:0", "-f", "s16le", "pipe:1"],
        input=frames,
        capture_output=True,
        check=True,
    )
    decoded = np.frombuffer(result.stdout, "<i2").astype(np.float64)
    return decoded[START_OFFSET : START_OFFSET + total], result.stderr


def split(stream: bytes) -> list[bytes]:
    offsets = [*mp3frames.frame_offsets(stream), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(offsets)]


def pink_loop(samples: int, dbfs: float, seed: int) -> np.ndarray:
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(samples))
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
    spectrum[0] = 0
    loop = np.fft.irfft(spectrum, samples)
    return loop / np.sqrt(np.mean(loop**2)) * 32767 * 10 ** (dbfs / 20)


def error_db(decoded: np.ndarray, source: np.ndarray) -> float:
    return float(10 * np.log10(np.sum((decoded - source) ** 2) / np.sum(source**2)))


def main() -> int:
    engine = EspeakEngine()
    clips = [prepare_clip(engine.synthesize(text)) for text in SENTENCES]
    rng = np.random.default_rng(5)
    loop_samples = LOOP_FRAMES * SAMPLES_PER_FRAME
    bed = pink_loop(loop_samples, BED_DBFS, seed=5)
    segments = []
    position = 3 * SAMPLE_RATE
    for clip in clips:
        segments.append((position, clip))
        position += clip.size + int(rng.integers(3 * SAMPLE_RATE, 8 * SAMPLE_RATE))
    total = position
    mix = np.resize(bed, total)
    for offset, clip in segments:
        mix[offset : offset + clip.size] += clip
    source = np.clip(np.round(mix), -32768, 32767).astype("<i2")

    started = time.perf_counter()
    whole, _ = decode(lame(source), total)
    whole_s = time.perf_counter() - started

    started = time.perf_counter()
    loop_pcm = np.clip(np.round(bed), -32768, 32767).astype("<i2")
    loop_frames = split(lame(np.tile(loop_pcm, 3), "-reservoir", "0"))[
        LOOP_FRAMES : 2 * LOOP_FRAMES
    ]
    loop_s = time.perf_counter() - started
    frame_count = -(-(total + START_OFFSET) // SAMPLES_PER_FRAME)
    frames = [loop_frames[j % LOOP_FRAMES] for j in range(frame_count)]

    started = time.perf_counter()
    edges = []
    for offset, clip in segments:
        first = offset // SAMPLES_PER_FRAME - LEAD_IN_FRAMES
        end = -(-(offset + clip.size + START_OFFSET + SAMPLES_PER_FRAME) // SAMPLES_PER_FRAME) + 1
        # block sample 0 is session sample first * 1152, so block frame i is session frame
        # first + i; frame 0 was encoded from the encoder's own zeros and is left out
        part = split(
            lame(source[first * SAMPLES_PER_FRAME : end * SAMPLES_PER_FRAME], "-reservoir", "0")
        )
        for index in range(1, end - first):
            frames[first + index] = part[index]
        edges += [
            (first + 1) * SAMPLES_PER_FRAME - START_OFFSET,
            end * SAMPLES_PER_FRAME - START_OFFSET,
        ]
    parts_s = time.perf_counter() - started
    spliced, warnings = decode(b"".join(frames), total)

    reference = source.astype(np.float64)
    pauses = np.ones(total, dtype=bool)
    for offset, clip in segments:
        pauses[offset - 13 * SAMPLES_PER_FRAME : offset + clip.size + 3 * SAMPLES_PER_FRAME] = False
    print(f"ffmpeg warnings: {warnings.decode() or 'none'}")
    print(
        f"bed: pink noise at {BED_DBFS:.0f} dBFS RMS, a loop of {LOOP_FRAMES} frames "
        f"({loop_samples / SAMPLE_RATE:.2f} s), {sum(map(len, loop_frames))} bytes encoded"
    )
    print(
        f"error against the source, overall:      one-pass {error_db(whole, reference):6.2f} dB, "
        f"spliced {error_db(spliced, reference):6.2f} dB"
    )
    print(
        f"  in the bed-only pauses:                one-pass {error_db(whole[pauses], reference[pauses]):6.2f} dB, "
        f"spliced {error_db(spliced[pauses], reference[pauses]):6.2f} dB"
    )
    for wrap in range(loop_samples, total - SAMPLES_PER_FRAME, loop_samples):
        window = slice(wrap - SAMPLES_PER_FRAME, wrap + SAMPLES_PER_FRAME)
        print(
            f"  at the loop's wrap, {wrap / SAMPLE_RATE:6.2f} s:          one-pass "
            f"{error_db(whole[window], reference[window]):6.2f} dB, spliced "
            f"{error_db(spliced[window], reference[window]):6.2f} dB"
        )
    for edge in edges:
        window = slice(edge - SAMPLES_PER_FRAME, edge + SAMPLES_PER_FRAME)
        print(
            f"  where a part meets the loop, {edge / SAMPLE_RATE:6.2f} s: one-pass "
            f"{error_db(whole[window], reference[window]):6.2f} dB, spliced "
            f"{error_db(spliced[window], reference[window]):6.2f} dB"
        )
    print(
        f"times: one-pass {whole_s:.2f} s (with its decode); the loop, once per bed and "
        f"bitrate, {loop_s:.2f} s; the parts, one ffmpeg each, {parts_s:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
