#!/usr/bin/env python3
"""Spliced MP3 writer benchmark: encode only the speech and splice the pauses, against encoding
the whole session in one pass.

    python benchmarks/splice.py            # 5-minute sessions at 52/80/90 % pause, a 60-minute one
    python benchmarks/splice.py --quick    # 5-minute sessions and a 20-minute one

The pause-only edits and the memory are splice_edit.py's, the quality splice_quality.py's; the
speech and the encoders all three share are in splice_speech.py.

The speech is real: Dutch sentences spoken by the offline voice (espeak-ng through rustpunt's
engine, prepared like every clip: trimmed, faded), placed with pauses so that the session has the
wanted share of silence. Every figure is measured in this run, best of --repeat, interleaved:

- baseline: the one-pass encode the build does today: the very same finished session audio (built
  in memory beforehand, untimed) piped into one imageio-ffmpeg process with export's exact settings
  (libmp3lame CBR, mono, 44.1 kHz, Xing header), written to a file;
- spliced: `write_spliced_mp3` with no cache, as rustpunt does it: every speech part, after its
  lead-in of silent frames, padded to whole frames and streamed through one imageio-ffmpeg process
  (libmp3lame, export's settings), the stream cut back into parts, the pauses laid as silent
  frames, the Info frame written;
- spliced, ffmpeg per part: the same, but each part through an ffmpeg process of its own;
- spliced, lameenc: each part through a fresh in-process `lameenc` encoder (LAME 3.100 from PyPI,
  the same quality 3 and lead-in), then the same assembly: the other encoder interface;
It reports, it does not assert.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from harness import Figure, arguments, log, report
from splice_speech import (
    best,
    decoded_samples,
    make_session,
    mix,
    one_pass,
    speak_all,
    spliced_ffmpeg_per_part,
    spliced_lameenc,
)

from rustpunt.audio.pcm import SAMPLE_RATE
from rustpunt.mp3 import splice


def measure_session(
    name: str,
    segments: list[tuple[int, np.ndarray]],
    total: int,
    work: Path,
    repeat: int,
    variants: bool,
) -> dict[str, Any]:
    audio = mix(segments, total)
    speech = sum(samples.size for _, samples in segments)
    figures: dict[str, Any] = {
        "session": name,
        "minutes": round(total / SAMPLE_RATE / 60, 1),
        "pause_share": round(1 - speech / total, 3),
        "segments": len(segments),
    }
    whole = work / f"{name}-whole.mp3"
    spliced = work / f"{name}-spliced.mp3"
    baseline = best(repeat, lambda: one_pass(audio, whole))
    cold = best(repeat, lambda: splice.write_spliced_mp3(spliced, segments, total))
    figures["baseline_s"] = round(baseline, 3)
    figures["spliced_s"] = round(cold, 3)
    figures["spliced_ratio"] = round(cold / baseline, 3)
    figures["decoded_exact"] = decoded_samples(spliced) == total
    figures["bytes_whole"] = whole.stat().st_size
    figures["bytes_spliced"] = spliced.stat().st_size
    if variants:
        per_part = best(1, lambda: spliced_ffmpeg_per_part(segments, total, work / "per-part.mp3"))
        figures["spliced_ffmpeg_per_part_s"] = round(per_part, 3)
        figures["spliced_ffmpeg_per_part_ratio"] = round(per_part / baseline, 3)
        figures["ffmpeg_per_part_exact"] = decoded_samples(work / "per-part.mp3") == total
        try:
            import lameenc  # noqa: F401
        except ImportError:
            figures["spliced_lameenc"] = "not installed (pip install lameenc)"
        else:
            in_process = best(
                repeat, lambda: spliced_lameenc(segments, total, work / "lameenc.mp3")
            )
            figures["spliced_lameenc_s"] = round(in_process, 3)
            figures["spliced_lameenc_ratio"] = round(in_process / baseline, 3)
            figures["lameenc_exact"] = decoded_samples(work / "lameenc.mp3") == total
    return figures


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, repeat=3, settle=0.0).parse_args(argv)
    started = time.perf_counter()
    clips = speak_all()
    long_minutes = 20 if args.quick else 60
    sessions = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for share in (0.90, 0.80, 0.52):
            segments, total = make_session(clips, 5, share, seed=int(share * 100))
            name = f"5min-{int(share * 100)}"
            sessions[name] = measure_session(name, segments, total, work, args.repeat, True)
            log(json.dumps(sessions[name]))
        segments, total = make_session(clips, long_minutes, 0.80, seed=7)
        name = f"{long_minutes}min-80"
        sessions[name] = measure_session(
            name, segments, total, work, max(1, args.repeat - 1), False
        )
        log(json.dumps(sessions[name]))
    table = []
    for name, session in sessions.items():
        table += [
            Figure(f"cold, {session['minutes']:g}-minute session, "
                   f"{session['pause_share']:.0%} pause: spliced / one-pass",
                   session["spliced_ratio"], "x", key=f"{name}_ratio"),
            Figure("  spliced", session["spliced_s"], "s", key=f"{name}_spliced_s"),
            Figure("  one-pass", session["baseline_s"], "s", key=f"{name}_one_pass_s"),
        ]  # fmt: skip
    other = sessions["5min-80"]
    if "spliced_ffmpeg_per_part_ratio" in other:
        table.append(Figure("5-minute 80 %: one ffmpeg per part / one-pass",
                            other["spliced_ffmpeg_per_part_ratio"], "x", key="per_part_ratio"))  # fmt: skip
    if "spliced_lameenc_ratio" in other:
        table.append(Figure("5-minute 80 %: the lameenc binding / one-pass",
                            other["spliced_lameenc_ratio"], "x", key="lameenc_ratio"))  # fmt: skip
    report("splice", args, table, {"sessions": sessions}, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
