#!/usr/bin/env python3
"""Cold build of N scripts against its floor: ffmpeg alone encoding the same audio.

    python benchmarks/cold.py            # 50 scripts, best of 2 (about a minute on 2 cores)
    python benchmarks/cold.py --quick    # 10 scripts

A fresh cache and output folder, --jobs = CPU count, against the same imageio-ffmpeg binary
encoding the very same audio (the built MP3s decoded back to raw PCM beforehand, untimed) with
the build's own encoder command (rustpunt.mp3.export.encoder_command at the build's bitrate), one
ffmpeg per script fed through a pipe in 5 s chunks, as many at once as the build's jobs. No build
that encodes every sample (`--encoder whole`) can beat it; the default spliced writer encodes only
the speech, so its ratio can be below 1. Build and floor are interleaved --repeat times, each
time cold, and the shortest of each counts. The scripts are synthetic but shaped like the examples
(tests/corpus.py). It reports, it does not assert.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

from builds import (
    Build,
    BuildFailed,
    Settings,
    build_arguments,
    decode_all,
    measure_floor,
    run_build,
)
from harness import Figure, Meter, log, report

from corpus import generate, sharing


def experiment_cold(
    settings: Settings, scripts: dict[Path, dict[str, Any]], count: int
) -> dict[str, Any]:
    """Cold builds and floors, interleaved `repeat` times; the best (shortest) of each counts."""
    work, jobs, repeat = settings.work, settings.jobs, settings.repeat
    log(f"1. cold build of {count} scripts, --jobs {jobs}, best of {repeat}")
    paths = sorted(scripts)[:count]
    builds: list[Build] = []
    floors: list[Meter] = []
    raws: list[Path] = []
    floor_audio = 0.0
    for attempt in range(repeat):
        suffix = "" if attempt == 0 else f"-{attempt + 1}"  # the first serves figures 2 and 3
        out, cache = work / f"out{suffix}", work / f"cache-cold{suffix}"
        build = run_build(
            f"cold build of {count} ({attempt + 1}/{repeat})",
            paths,
            out=out,
            cache=cache,
            jobs=jobs,
            settle_s=settings.settle_s,
        )
        builds.append(build)
        if attempt == 0:
            mp3s = [Path(s["mp3"]) for s in build.report["scripts"]]
            raws, floor_audio = decode_all(mp3s, work / "floor", jobs)
        else:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)
        log(f"  floor: the same audio encoded by ffmpeg alone ({attempt + 1}/{repeat}) ...")
        floor = measure_floor(raws, jobs, settings.settle_s)
        floors.append(floor)
        log(f"    {floor.wall:.2f} s for {floor_audio:.0f} s of audio  (others {floor.others:.0%})")
    shutil.rmtree(work / "floor", ignore_errors=True)
    build = min(builds, key=lambda b: b.wall)
    floor = min(floors, key=lambda f: f.wall)
    return {
        "scripts": count,
        "jobs": jobs,
        "wall_s": build.wall,
        "wall_s_all": [b.wall for b in builds],
        "others": build.others,
        "reported_wall_s": build.report["wall_seconds"],
        "audio_s": build.audio_seconds,
        "audio_s_per_wall_s": build.audio_seconds / build.wall,
        "synthesized_clips": builds[0].synthesized,
        "sharing": sharing([scripts[p] for p in paths]),
        "floor_wall_s": floor.wall,
        "floor_wall_s_all": [f.wall for f in floors],
        "floor_others": floor.others,
        "floor_audio_s": floor_audio,
        "floor_audio_s_per_wall_s": floor_audio / floor.wall,
        "ratio_to_floor": build.wall / floor.wall,
    }


def figures(cold: dict[str, Any]) -> list[Figure]:
    return [
        Figure(f"cold build, {cold['scripts']} scripts (wall)", cold["wall_s"], "s",
               others=cold["others"], key="wall_s"),
        Figure("  audio built", cold["audio_s"], "s", key="audio_s"),
        Figure("  audio s per wall s (aggregate)", cold["audio_s_per_wall_s"], "x",
               key="audio_s_per_wall_s"),
        Figure("  floor: ffmpeg encode of the same audio", cold["floor_wall_s"], "s",
               others=cold["floor_others"], key="floor_wall_s"),
        Figure("  build / floor", cold["ratio_to_floor"], "x", target=("<=", 1.5),
               key="ratio_to_floor"),
    ]  # fmt: skip


def notes(cold: dict[str, Any]) -> list[str]:
    walls = ", ".join(f"{w:.2f}" for w in cold["wall_s_all"])
    floors = ", ".join(f"{w:.2f}" for w in cold["floor_wall_s_all"])
    return [
        f"{cold['sharing']['sentences']} sentences, {cold['sharing']['distinct']} distinct, "
        f"{cold['synthesized_clips']} synthesised; the floor encodes at "
        f"{cold['floor_audio_s_per_wall_s']:.0f}x real time with {cold['jobs']} at once",
        f"cold builds {walls} s; floors {floors} s (the shortest of each counts)",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = build_arguments(__doc__)
    parser.add_argument("--scripts", type=int, help="scripts built (default 50, --quick 10)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = Settings.from_args(args, "cold")
    try:
        count = args.scripts or (10 if args.quick else 50)
        scripts = generate(settings.work / "scripts", count, settings.seed)
        results = experiment_cold(settings, scripts, count)
    except BuildFailed as error:
        log(f"error: {error}")
        return 1
    finally:
        settings.clean(args.keep)
    report("cold", args, figures(results), results, started, notes(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
