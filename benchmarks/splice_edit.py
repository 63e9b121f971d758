#!/usr/bin/env python3
"""Pause-only edits of a long spliced session, and the memory of writing it.

    python benchmarks/splice_edit.py            # a 60-minute session, 80 % pause
    python benchmarks/splice_edit.py --quick    # 20 minutes

- assembly only: the session's encoded parts taken from a cache, laid again with every pause
  moved by whole frames (a pause-only edit that keeps every part), through `assemble` (in memory
  and to a file), and through `write_spliced_mp3` finding its parts by the speech's sha256 or by
  keys the caller gives;
- re-timing by a fraction of a frame: every part after the first pause moves by 10 ms, so every
  one of them is encoded again (the writer never rounds an offset);
- peak memory of a fresh process writing the long session from its speech segments, and of its
  ffmpeg, polled with psutil (the largest sum over the live tree, as builds.py measures).

It reports, it does not assert.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from harness import Figure, arguments, log, own_and_descendants_rss, report
from splice_speech import BITRATE_KBPS, best, decoded_samples, make_session, speak_all

from rustpunt.audio.pcm import SAMPLE_RATE
from rustpunt.mp3 import splice
from rustpunt.mp3.assembly import assemble
from rustpunt.mp3.frames import SAMPLES_PER_FRAME
from rustpunt.mp3.partcache import MemoryPartCache, part_key
from rustpunt.mp3.units import plan_units

_CHILD = """
import sys, numpy as np
from rustpunt.mp3 import splice
data = np.load(sys.argv[1])
segments = [(int(o), data[f"s{i}"]) for i, o in enumerate(data["offsets"])]
splice.write_spliced_mp3(sys.argv[2], segments, int(data["total"]))
"""


def measure_memory(
    segments: list[tuple[int, np.ndarray]], total: int, work: Path
) -> dict[str, Any]:
    """Peak memory of a fresh process that loads the session's speech segments (held in memory,
    as the mixer holds them) and writes the spliced MP3, and of its ffmpeg: psutil polled every
    20 ms, the largest sum over the live tree (ru_maxrss would not do: a child started by vfork
    reports its parent's size)."""
    arrays = {f"s{index}": samples for index, (_, samples) in enumerate(segments)}
    offsets = np.array([offset for offset, _ in segments])
    np.savez(work / "segments.npz", offsets=offsets, total=total, **arrays)
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(work / "segments.npz"), str(work / "memory.mp3")]
    )
    python_peak = ffmpeg_peak = tree_peak = 0
    root = psutil.Process(process.pid)
    while process.poll() is None:
        own, descendants = own_and_descendants_rss(root)
        python_peak = max(python_peak, own)
        ffmpeg_peak = max(ffmpeg_peak, descendants)
        tree_peak = max(tree_peak, own + descendants)
        time.sleep(0.02)
    if process.returncode != 0:
        raise SystemExit("the memory measurement failed")
    return {
        "speech_pcm_mb": round(sum(samples.nbytes for _, samples in segments) / 1e6, 1),
        "python_peak_mb": round(python_peak / 1e6, 1),
        "ffmpeg_peak_mb": round(ffmpeg_peak / 1e6, 1),
        "tree_peak_mb": round(tree_peak / 1e6, 1),
    }


def measure_edits(
    segments: list[tuple[int, np.ndarray]], total: int, work: Path, repeat: int
) -> dict[str, Any]:
    """Pause-only edits of a long session: whole-frame moves (assembly) and a 10 ms move."""
    cache = MemoryPartCache()
    target = work / "edit.mp3"
    fill = best(1, lambda: splice.write_spliced_mp3(target, segments, total, cache=cache))
    # every pause after the first grows by 3 frames (78 ms): every part keeps its lead
    shift = 3 * SAMPLES_PER_FRAME
    moved = [
        (offset + (shift if k else 0), samples) for k, (offset, samples) in enumerate(segments)
    ]
    moved_total = total + shift
    units = plan_units(moved, moved_total)
    placed = []
    for unit in units:
        key = part_key(
            unit.samples(), lead=unit.lead, lead_in=unit.lead_in, bitrate_kbps=BITRATE_KBPS
        )
        part = cache.get(key)
        assert part is not None, "a whole-frame move must keep every part"
        placed.append((unit.start_frame - part.lead_in, part))

    def assemble_to_file() -> None:
        with target.open("wb") as handle:
            assemble(handle, placed, moved_total, bitrate_kbps=BITRATE_KBPS)

    def assemble_in_memory() -> None:
        assemble(io.BytesIO(), placed, moved_total, bitrate_kbps=BITRATE_KBPS)

    in_memory = best(repeat, assemble_in_memory)
    to_file = best(repeat, assemble_to_file)
    whole_call = best(
        repeat, lambda: splice.write_spliced_mp3(target, moved, moved_total, cache=cache)
    )
    exact = decoded_samples(target) == moved_total
    keys = [f"segment-{index}" for index in range(len(segments))]  # e.g. the clip cache's keys
    splice.write_spliced_mp3(target, segments, total, cache=cache, segment_keys=keys)
    keyed_call = best(
        repeat,
        lambda: splice.write_spliced_mp3(
            target, moved, moved_total, cache=cache, segment_keys=keys
        ),
    )
    nudge = ms_samples = SAMPLE_RATE // 100  # 10 ms: not a whole frame, every later part re-encoded
    nudged = [(offset + (nudge if k else 0), s) for k, (offset, s) in enumerate(segments)]
    before = len(cache)
    retime = best(
        1, lambda: splice.write_spliced_mp3(target, nudged, total + ms_samples, cache=cache)
    )
    return {
        "cold_fill_s": round(fill, 3),
        "assemble_in_memory_ms": round(in_memory * 1000, 1),
        "assemble_to_file_ms": round(to_file * 1000, 1),
        "write_spliced_cached_ms": round(whole_call * 1000, 1),
        "write_spliced_cached_with_keys_ms": round(keyed_call * 1000, 1),
        "whole_frame_edit_exact": exact,
        "parts": len(placed),
        "retime_10ms_s": round(retime, 3),
        "retime_10ms_parts_encoded": len(cache) - before,
    }


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, repeat=3, settle=0.0).parse_args(argv)
    started = time.perf_counter()
    minutes = 20 if args.quick else 60
    segments, total = make_session(speak_all(), minutes, 0.80, seed=7)
    with tempfile.TemporaryDirectory() as folder:
        edits = measure_edits(segments, total, Path(folder), args.repeat)
        log(str(edits))
        memory = measure_memory(segments, total, Path(folder))
        log(str(memory))
    table = [
        Figure(f"pause-only edit of the {minutes}-minute session (whole frames): assembly in "
               "memory", edits["assemble_in_memory_ms"], "ms", key="assemble_in_memory_ms"),
        Figure("  assembly to the file", edits["assemble_to_file_ms"], "ms",
               key="assemble_to_file_ms"),
        Figure("  the whole write_spliced_mp3 call, parts found by the caller's keys",
               edits["write_spliced_cached_with_keys_ms"], "ms", key="keys_ms"),
        Figure("  ... parts found by hashing the speech", edits["write_spliced_cached_ms"], "ms",
               key="hashing_ms"),
        Figure(f"speech moved 10 ms off the frame grid: {edits['retime_10ms_parts_encoded']} of "
               f"{edits['parts']} parts encoded again", edits["retime_10ms_s"], "s",
               key="retime_10ms_s"),
        Figure(f"peak memory writing the {minutes}-minute session, the process tree "
               f"(holding {memory['speech_pcm_mb']:g} MB of speech as arrays)",
               memory["tree_peak_mb"], "MB", key="tree_peak_mb"),
        Figure("  of which python", memory["python_peak_mb"], "MB", key="python_peak_mb"),
        Figure("  of which ffmpeg", memory["ffmpeg_peak_mb"], "MB", key="ffmpeg_peak_mb"),
    ]  # fmt: skip
    report("splice_edit", args, table, {"edits": edits, "memory": memory}, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
