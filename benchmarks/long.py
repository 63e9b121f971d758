#!/usr/bin/env python3
"""A 60-minute session against a 5-minute one, its peak memory, and its pause-only edits.

    python benchmarks/long.py            # 60 minutes (about 2 minutes on 2 cores)
    python benchmarks/long.py --quick    # 20 minutes

Both sessions have the same density (3 steps a minute), each built with a cold cache, best of
--repeat: build times, their ratio, and the peak memory of the long build: the largest single
process (os.wait4 ru_maxrss of that very child: the build and every ffmpeg it waited for; a
maximum, not a sum) and the sum over the live process tree (sampled with psutil every 20 ms).
Then the long session's first explicit pause moved three times by amounts that are no whole
number of MP3 frames, each rebuilt: the whole command, and the build's own time; and six more
times in this process, through the loop of `rustpunt build --watch`, which reports its own time
for each rebuild, and the time from the save to the rebuilt MP3. It reports, it does not assert.
"""

from __future__ import annotations

import functools
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from builds import (
    BuildFailed,
    InWatch,
    Settings,
    build_arguments,
    rebuilds_in_process,
    run_build,
)
from harness import Figure, log, report

from corpus import make_script, write_script

STEPS_PER_MINUTE = 3.0
"""Density of the long-session pair (5 and 60 minutes): 15 and 180 steps."""


def experiment_long(settings: Settings, long_minutes: int) -> dict[str, Any]:
    """Each session built `repeat` times with a fresh cache: the shortest time, the largest memory."""
    work, repeat = settings.work, settings.repeat
    log(f"a {long_minutes}-minute session against a 5-minute one (cold caches), best of {repeat}")
    folder = work / "long"
    folder.mkdir()
    results: dict[int, dict[str, Any]] = {}
    for minutes in (5, long_minutes):
        document = make_script(
            10_000 + minutes, minutes * 60, round(minutes * STEPS_PER_MINUTE), settings.seed
        )
        path = folder / f"sessie-{minutes}min.yaml"
        write_script(path, document)
        builds = []
        for attempt in range(repeat):
            cache = work / f"cache-{minutes}min-{attempt}"
            builds.append(
                run_build(
                    f"{minutes}-minute session ({attempt + 1}/{repeat})",
                    [path],
                    out=work / f"out-{minutes}min-{attempt}",
                    cache=cache,
                    jobs=1,
                    settle_s=settings.settle_s,
                    sample_memory=True,
                )
            )
            if minutes != long_minutes or attempt < repeat - 1:  # the last one is edited below
                shutil.rmtree(cache, ignore_errors=True)
        best = min(builds, key=lambda b: b.wall)
        results[minutes] = {
            "steps": len(document["steps"]),
            "audio_s": best.audio_seconds,
            "synthesized_clips": best.synthesized,
            "wall_s": best.wall,
            "wall_s_all": [b.wall for b in builds],
            "others": best.others,
            "maxrss_mb": max(b.maxrss_kb for b in builds) / 1024,
            "tree_peak_mb": max(b.tree_peak_bytes for b in builds) / 2**20,
        }
    short, long = results[5], results[long_minutes]
    edits = pause_only_edits(settings, folder / f"sessie-{long_minutes}min.yaml", long_minutes)
    return {
        "short": short,
        "long": long,
        "long_minutes": long_minutes,
        "ratio": long["wall_s"] / short["wall_s"],
        "audio_ratio": long["audio_s"] / short["audio_s"],
        "pause_edit": edits,
    }


PAUSE_EDITS = ("+0,37", "-0,11", "+1,5")
"""Pause-only edits of the long session, each by an amount that is no whole number of MP3
frames: the first explicit pause moved by this many seconds."""


def pause_only_edits(settings: Settings, path: Path, minutes: int) -> dict[str, Any]:
    """The long session rebuilt after each pause-only edit (its last cold build's cache and
    output kept): the whole command, and the build's own time from its --json report (no
    interpreter start, no imports), best of the edits."""
    log(f"   pause-only edits of the {minutes}-minute session, rebuilt")
    original = path.read_text(encoding="utf-8")
    match = re.search(r"^(\s+pause: )(\d+)$", original, flags=re.MULTILINE)
    if match is None:
        raise BuildFailed(f"{path.name} has no explicit pause to edit")
    builds = []
    for change in PAUSE_EDITS:
        seconds = _move_pause(path, original, match, change)
        build = run_build(
            f"pause {match[2]} s -> {seconds} s",
            [path],
            out=settings.work / f"out-{minutes}min-{settings.repeat - 1}",
            cache=settings.work / f"cache-{minutes}min-{settings.repeat - 1}",
            jobs=1,
            settle_s=settings.settle_s,
        )
        if build.report["built"] != 1 or build.synthesized != 0:
            raise BuildFailed(f"a pause-only edit built {build.report['built']} scripts")
        builds.append(build)
    in_process = pause_edits_in_process(
        path,
        original,
        match,
        out=settings.work / f"out-{minutes}min-{settings.repeat - 1}",
        cache=settings.work / f"cache-{minutes}min-{settings.repeat - 1}",
    )
    path.write_text(original, encoding="utf-8")
    best = min(builds, key=lambda b: b.wall)
    return {
        "wall_s": best.wall,
        "build_s": min(float(b.report["wall_seconds"]) for b in builds),
        "work_s": min(in_process.work_s),
        "work_s_all": in_process.work_s,
        "save_to_mp3_s": statistics.median(in_process.save_to_mp3_s),
        "save_to_mp3_s_all": in_process.save_to_mp3_s,
        "wall_s_all": [b.wall for b in builds],
        "others": best.others,
    }


def pause_edits_in_process(
    path: Path, original: str, match: re.Match[str], *, out: Path, cache: Path
) -> InWatch:
    """The pause moved six more times, each rebuilt in the watch (nothing spoken): the machine
    may be slow for a few seconds at a time, and the best of six is the work itself."""
    return rebuilds_in_process(
        path,
        [
            functools.partial(_move_pause, path, original, match, c)
            for c in ("+0,23", "-0,29", "+2,71", "+0,61", "-0,47", "+3,13")
        ],
        out=out,
        cache=cache,
        synthesized=0,
    )


def _move_pause(path: Path, original: str, match: re.Match[str], change: str) -> str:
    """Write `original` with the pause `match` found moved by `change` seconds; the new value."""
    value = f"{int(match[2]) + float(change.replace(',', '.')):.2f}".replace(".", ",")
    path.write_text(
        original[: match.start()] + f'{match[1]}"{value}"' + original[match.end() :],
        encoding="utf-8",
    )
    return value


def figures(long: dict[str, Any]) -> list[Figure]:
    minutes, short_s, long_s, edit = (
        long["long_minutes"], long["short"], long["long"], long["pause_edit"]
    )  # fmt: skip
    return [
        Figure(f"5-minute session, cold ({short_s['audio_s'] / 60:.1f} min)", short_s["wall_s"],
               "s", others=short_s["others"], key="short_wall_s"),
        Figure(f"{minutes}-minute session, cold ({long_s['audio_s'] / 60:.1f} min)",
               long_s["wall_s"], "s", others=long_s["others"], key="long_wall_s"),
        Figure(f"  {minutes}-min / 5-min build time", long["ratio"], "x",
               target=("<=", 13.0) if minutes == 60 else None, key="ratio"),
        Figure(f"  {minutes}-min peak RSS, process tree (sum)", long_s["tree_peak_mb"], "MB",
               target=("<", 100.0), key="tree_peak_mb"),
        Figure(f"  {minutes}-min peak RSS, largest process", long_s["maxrss_mb"], "MB",
               key="maxrss_mb"),
        Figure(f"  {minutes}-min pause-only edit, rebuilt (whole command)", edit["wall_s"], "s",
               others=edit["others"], key="edit_wall_s"),
        Figure("    of which the build (its --json wall_seconds, imports included)",
               edit["build_s"], "s", key="edit_build_s"),
        Figure("    the rebuild in one process, imports done (build --watch)", edit["work_s"],
               "s", target=("<", 0.05), key="edit_work_s"),
        Figure("    from the save to the MP3 in the watch (median)", edit["save_to_mp3_s"], "s",
               key="edit_save_to_mp3_s"),
    ]  # fmt: skip


def notes(long: dict[str, Any]) -> list[str]:
    def walls(values: list[float]) -> str:
        return ", ".join(f"{w:.2f}" for w in values)

    return [
        f"{long['long_minutes']}-min builds {walls(long['long']['wall_s_all'])} s, 5-min builds "
        f"{walls(long['short']['wall_s_all'])} s; {long['long']['steps']} and "
        f"{long['short']['steps']} steps, {long['long']['synthesized_clips']} and "
        f"{long['short']['synthesized_clips']} clips synthesised",
        f"pause edits in one process: {walls(long['pause_edit']['work_s_all'])} s",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = build_arguments(__doc__)
    parser.add_argument(
        "--long-minutes", type=int, help="the long session (default 60, --quick 20)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = Settings.from_args(args, "long")
    try:
        minutes = args.long_minutes or (20 if args.quick else 60)
        results = experiment_long(settings, minutes)
    except BuildFailed as error:
        log(f"error: {error}")
        return 1
    finally:
        settings.clean(args.keep)
    report("long", args, figures(results), results, started, notes(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
