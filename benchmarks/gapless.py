#!/usr/bin/env python3
"""Peak memory of a gapless session: N steps "Stap N." with `pause: 0`, about an hour.

    python benchmarks/gapless.py            # 60 minutes: 1,536 steps
    python benchmarks/gapless.py --quick    # 20 minutes

25.6 steps a minute, all with `pause: 0`: the session's speech is one stretch, fed to the encoder
piece by piece, never mixed whole (issue 21: 1,000 such steps grew by 1.1 MB a step). Built cold,
its peak memory the largest of --repeat builds: the largest process and the live process tree
(rustpunt and its ffmpeg). It reports, it does not assert.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any

from builds import BuildFailed, Settings, build_arguments, run_build
from harness import Figure, log, report

from corpus import write_script

GAPLESS_STEPS_PER_MINUTE = 25.6
"""Steps "Stap N." with `pause: 0` a minute of the gapless session, so that it is about as long as
long.py's 60-minute session (66.7 minutes): the numbers take longer to say as they grow
(measured: 300 steps 10:47, 1,356 steps 57:06, 1,680 steps 74:13)."""


def experiment_gapless(settings: Settings, minutes: int) -> dict[str, Any]:
    """A session with no pause between its steps (issue 21: 1,000 steps "Stap N.", `pause: 0`,
    grew by 1.1 MB a step, as all its speech was one part mixed whole), about as long as the
    long session, built cold: its peak memory, the largest of `repeat` builds."""
    steps = round(minutes * GAPLESS_STEPS_PER_MINUTE)
    log(f"a gapless session: {steps} steps with pause 0 (cold caches)")
    folder = settings.work / "gapless"
    folder.mkdir()
    path = folder / f"gapless-{steps}.yaml"
    document = {
        "title": f"Zonder pauze, {steps} stappen",
        "pause": 0,
        "steps": [f"Stap {number}." for number in range(1, steps + 1)],
    }
    write_script(path, document)
    builds = []
    for attempt in range(settings.repeat):
        cache = settings.work / f"cache-gapless-{attempt}"
        builds.append(
            run_build(
                f"gapless session ({attempt + 1}/{settings.repeat})",
                [path],
                out=settings.work / f"out-gapless-{attempt}",
                cache=cache,
                jobs=1,
                settle_s=settings.settle_s,
                sample_memory=True,
            )
        )
        shutil.rmtree(cache, ignore_errors=True)
    best = min(builds, key=lambda b: b.wall)
    return {
        "steps": steps,
        "audio_s": best.audio_seconds,
        "wall_s": best.wall,
        "others": best.others,
        "maxrss_mb": max(b.maxrss_kb for b in builds) / 1024,
        "tree_peak_mb": max(b.tree_peak_bytes for b in builds) / 2**20,
    }


def figures(gapless: dict[str, Any]) -> list[Figure]:
    return [
        Figure(f"gapless session, {gapless['steps']} steps with pause 0, cold "
               f"({gapless['audio_s'] / 60:.1f} min)", gapless["wall_s"], "s",
               others=gapless["others"], key="wall_s"),
        Figure("  its peak RSS, process tree (sum)", gapless["tree_peak_mb"], "MB",
               target=("<", 100.0), key="tree_peak_mb"),
        Figure("  its peak RSS, largest process", gapless["maxrss_mb"], "MB", key="maxrss_mb"),
    ]  # fmt: skip


def notes(gapless: dict[str, Any]) -> list[str]:
    return []


def main(argv: list[str] | None = None) -> int:
    parser = build_arguments(__doc__)
    parser.add_argument("--minutes", type=int, help="about this long (default 60, --quick 20)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = Settings.from_args(args, "gapless")
    try:
        minutes = args.minutes or (20 if args.quick else 60)
        results = experiment_gapless(settings, minutes)
    except BuildFailed as error:
        log(f"error: {error}")
        return 1
    finally:
        settings.clean(args.keep)
    report("gapless", args, figures(results), results, started, notes(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
