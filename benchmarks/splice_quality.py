#!/usr/bin/env python3
"""Quality of the spliced MP3 against the one-pass encode: SNR and the error at speech onsets.

    python benchmarks/splice_quality.py    # 40 sentences (a few seconds)

It reports, it does not assert.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from harness import Figure, arguments, report
from splice_speech import mix, one_pass, speak_all, spliced_lameenc

from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe
from rustpunt.mp3 import splice
from rustpunt.mp3.frames import SAMPLES_PER_FRAME


def measure_snr(clips: list[np.ndarray], work: Path) -> dict[str, Any]:
    """Every sentence twice, 0.9-2 s apart: the signal-to-noise ratio of the one-pass encode, the
    spliced file and the spliced file with lameenc parts; and the error in the first two frames
    of every speech onset (mean and worst, relative to the source there), where a part's encode
    could differ most from the one-pass encode (the bit reservoir, LAME's settling)."""
    rng = random.Random(3)
    segments = []
    position = SAMPLE_RATE
    for clip in clips * 2:
        segments.append((position, clip))
        position += clip.size + rng.randrange(40_000, 90_000)
    audio = mix(segments, position)
    source = audio.astype(np.float64)

    def figures(path: Path) -> dict[str, float]:
        result = subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "pipe:1"],
            capture_output=True,
            check=True,
        )
        decoded = np.frombuffer(result.stdout, "<i2").astype(np.float64)[: source.size]
        error = decoded - source
        onsets = []
        for offset, _ in segments:
            window = slice(offset - SAMPLES_PER_FRAME, offset + 2 * SAMPLES_PER_FRAME)
            onsets.append(np.sum(error[window] ** 2) / np.sum(source[window] ** 2))
        return {
            "snr_db": round(float(10 * np.log10(np.sum(source**2) / np.sum(error**2))), 2),
            "onset_error_mean_db": round(float(10 * np.log10(np.mean(onsets))), 2),
            "onset_error_worst_db": round(float(10 * np.log10(max(onsets))), 2),
        }

    one_pass(audio, work / "snr-whole.mp3")
    splice.write_spliced_mp3(work / "snr-spliced.mp3", segments, position)
    results = {
        "one_pass": figures(work / "snr-whole.mp3"),
        "spliced": figures(work / "snr-spliced.mp3"),
    }
    try:
        spliced_lameenc(segments, position, work / "snr-lameenc.mp3")
        results["spliced_lameenc"] = figures(work / "snr-lameenc.mp3")
    except ImportError:
        pass
    return results


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, repeat=1, settle=0.0).parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        quality = measure_snr(speak_all(), Path(folder))
    table = []
    for name, label in (("one_pass", "one-pass"), ("spliced", "spliced"),
                        ("spliced_lameenc", "spliced, lameenc parts")):  # fmt: skip
        if name in quality:
            table += [
                Figure(f"SNR, {label} (40 sentences)", quality[name]["snr_db"], "dB",
                       key=f"{name}_snr_db"),
                Figure(f"  error in the first two frames of each speech onset, {label} (mean)",
                       quality[name]["onset_error_mean_db"], "dB", key=f"{name}_onset_db"),
            ]  # fmt: skip
    report("splice_quality", args, table, quality, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
