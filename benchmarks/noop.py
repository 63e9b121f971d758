#!/usr/bin/env python3
"""No-op rebuilds: M scripts, and 1,000, all up to date.

    python benchmarks/noop.py            # 200 and 1,000 scripts (the 200 built first, untimed)
    python benchmarks/noop.py --quick    # 40 and 200

M scripts (tests/corpus.py) built, then built again: the first rebuild is the figure (the median
of three is shown too), with the share the build itself reports as spent finding the scripts up
to date (`check_seconds` of its --json report: the rest is Python starting, imports, the command
line, finding the script files). Then 1,000 scripts: the M and copies of them under other names,
each beside a copy of its built outputs (a copy's outputs are up to date by rustpunt's own full
check: the build key covers the script's bytes, not its name; building 1,000 distinct scripts
cold would take ten minutes for a figure about file stamps). Their first rebuild checks every
script in full (what every no-op cost before rustpunt.build.uptodate) and records the stamps;
the figure is the next one. It reports, it does not assert.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from builds import BuildFailed, Settings, build_arguments, run_build
from harness import Figure, log, report

from corpus import generate


def experiment_noop(
    settings: Settings, folder: Path, count: int, repeats: int = 3
) -> dict[str, Any]:
    """All `count` scripts built, then rebuilt `repeats` times."""
    log(f"no-op rebuild of {count} scripts")
    out, cache = settings.work / "out", settings.work / "cache-cold"
    first = run_build(
        f"first build of {count}, untimed",
        [folder],
        out=out,
        cache=cache,
        jobs=settings.jobs,
        settle_s=0,
    )
    noops = [
        run_build(
            f"no-op rebuild {i + 1} of {repeats}",
            [folder],
            out=out,
            cache=cache,
            jobs=settings.jobs,
            settle_s=settings.settle_s,
        )
        for i in range(repeats)
    ]
    for noop in noops:
        if noop.report["up_to_date"] != count:
            raise BuildFailed(f"no-op rebuild rebuilt {noop.report['built']} script(s)")
    walls = [n.wall for n in noops]
    return {
        "scripts": count,
        "first_build_wall_s": first.wall,
        "first_build_built": first.report["built"],
        "first_build_audio_s": first.audio_seconds,
        "wall_s": walls[0],
        "others": noops[0].others,
        "wall_s_all": walls,
        "wall_s_median": statistics.median(walls),
        "reported_wall_s": noops[0].report["wall_seconds"],
        "check_s": noops[0].report.get("check_seconds"),
    }


def copies_of(folder: Path, out: Path, count: int, work: Path) -> tuple[Path, Path]:
    """`count` scripts (those of `folder`, then copies of them under other names), each beside a
    copy of its outputs from `out`: all up to date by rustpunt's own full check."""
    sources = sorted(folder.glob("*.yaml"))
    many, many_out = work / "scripts-many", work / "out-many"
    many.mkdir()
    many_out.mkdir()
    for index in range(count):
        source = sources[index % len(sources)]
        stem = source.stem if index < len(sources) else f"{source.stem}-{index // len(sources)}"
        shutil.copy2(source, many / f"{stem}.yaml")
        for suffix in (".mp3", ".vtt", ".json"):
            shutil.copy2(out / f"{source.stem}{suffix}", many_out / f"{stem}{suffix}")
    past = time.time() - 60  # as scripts edited a while ago (a stamp taken seconds after an edit
    for script in many.iterdir():  # is not trusted, rustpunt.build.uptodate.RACY_NS)
        os.utime(script, (past, past))
    return many, many_out


def experiment_noop_many(
    settings: Settings, folder: Path, count: int, repeats: int = 3
) -> dict[str, Any]:
    """A no-op rebuild of `count` scripts, after a first rebuild recorded their stamps."""
    log(f"no-op rebuild of {count} scripts")
    many, out = copies_of(folder, settings.work / "out", count, settings.work)
    cache = settings.work / "cache-cold"
    first = run_build(
        f"first rebuild of {count}: the full check of each, stamps recorded",
        [many],
        out=out,
        cache=cache,
        jobs=settings.jobs,
        settle_s=settings.settle_s,
    )
    noops = [
        run_build(
            f"no-op rebuild {i + 1} of {repeats}",
            [many],
            out=out,
            cache=cache,
            jobs=settings.jobs,
            settle_s=settings.settle_s,
        )
        for i in range(repeats)
    ]
    for build in (first, *noops):
        if build.report["up_to_date"] != count:
            raise BuildFailed(f"no-op rebuild of {count} built {build.report['built']} script(s)")
    walls = [n.wall for n in noops]
    return {
        "scripts": count,
        "full_check_wall_s": first.wall,
        "full_check_s": first.report.get("check_seconds"),
        "wall_s": walls[0],
        "others": noops[0].others,
        "wall_s_all": walls,
        "wall_s_median": statistics.median(walls),
        "check_s": noops[0].report.get("check_seconds"),
    }


def figures(results: dict[str, Any]) -> list[Figure]:
    noop, many = results["noop"], results["noop_many"]
    return [
        Figure(f"no-op rebuild, {noop['scripts']} scripts", noop["wall_s"], "s",
               others=noop["others"], target=("<", 2.0), key="noop_wall_s"),
        Figure("  median of 3 no-op rebuilds", noop["wall_s_median"], "s", key="noop_median_s"),
        Figure("  of which finding them up to date", noop["check_s"] or 0.0, "s",
               key="noop_check_s"),
        Figure(f"no-op rebuild, {many['scripts']} scripts", many["wall_s"], "s",
               others=many["others"], target=("<", 1.0), key="many_wall_s"),
        Figure("  median of 3 no-op rebuilds", many["wall_s_median"], "s", key="many_median_s"),
        Figure("  of which finding them up to date", many["check_s"] or 0.0, "s",
               key="many_check_s"),
        Figure("  the full check of each (first rebuild)", many["full_check_wall_s"], "s",
               key="many_full_check_s"),
    ]  # fmt: skip


def notes(results: dict[str, Any]) -> list[str]:
    noop, many = results["noop"], results["noop_many"]

    def walls(values: list[float]) -> str:
        return ", ".join(f"{w:.2f}" for w in values)

    return [
        f"no-op rebuilds of {noop['scripts']}: {walls(noop['wall_s_all'])} s; the first build "
        f"of all ({noop['first_build_built']} built) took {noop['first_build_wall_s']:.1f} s",
        f"no-op rebuilds of {many['scripts']}: {walls(many['wall_s_all'])} s",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = build_arguments(__doc__)
    parser.add_argument("--scripts", type=int, help="scripts (default 200, --quick 40)")
    parser.add_argument("--many", type=int, help="the second no-op (default 1000, --quick 200)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = Settings.from_args(args, "noop")
    try:
        count = args.scripts or (40 if args.quick else 200)
        many = max(args.many or (200 if args.quick else 1000), count)
        folder = settings.work / "scripts"
        generate(folder, count, settings.seed)
        results = {
            "noop": experiment_noop(settings, folder, count),
            "noop_many": experiment_noop_many(settings, folder, many),
        }
    except BuildFailed as error:
        log(f"error: {error}")
        return 1
    finally:
        settings.clean(args.keep)
    report("noop", args, figures(results), results, started, notes(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
