#!/usr/bin/env python3
"""Sound-design benchmark: the cold build of the example sessions with a bed and bells, against
the same build without them and against the encode floor (cold.py's: ffmpeg alone encoding the
very audio built, as many at once as the build's jobs).

    python benchmarks/sound.py              # the four examples, best of 2
    python benchmarks/sound.py --quick      # two of them, once

Every build is the public CLI in a subprocess with a fresh cache and output folder
(`--voice nl-espeak --jobs <CPUs>`, plus `--bed rain --bell both` for the sound design). It
reports, it does not assert.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import builds  # the floor and the meters are cold.py's, so the figures compare
from harness import REPO, Figure, arguments, log, report

from rustpunt.build.pool import usable_cpus

EXAMPLES = sorted((REPO / "scripts").glob("*.yaml"))
SOUND = ["--bed", "rain", "--bell", "both"]


SETTLE_S = 5.0
"""Wait at most this long for an idle machine before each figure."""


def cold(
    work: Path, extra: list[str], jobs: int, scripts: list[Path], settle_s: float
) -> tuple[float, list[Path]]:
    shutil.rmtree(work, ignore_errors=True)
    build = builds.run_build(
        f"cold build {' '.join(extra) or 'without sounds'}",
        scripts,
        out=work / "out",
        cache=work / "cache",
        jobs=jobs,
        settle_s=settle_s,
        extra=extra,
    )
    return build.wall, [Path(s["mp3"]) for s in build.report["scripts"]]


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, repeat=2, settle=SETTLE_S).parse_args(argv)
    started = time.perf_counter()
    scripts = EXAMPLES[:2] if args.quick else EXAMPLES
    repeat = 1 if args.quick else args.repeat
    jobs = usable_cpus()
    figures: dict[str, Any] = {"jobs": jobs, "sessions": len(scripts)}
    with tempfile.TemporaryDirectory(prefix="rustpunt-sound-") as temporary:
        root = Path(temporary)
        for name, extra in (("plain", []), ("bed", SOUND)):
            best = None
            for _ in range(repeat):
                wall, mp3s = cold(root / name, extra, jobs, scripts, args.settle)
                best = wall if best is None else min(best, wall)
            raws, seconds = builds.decode_all(mp3s, root / f"{name}-floor", jobs)
            floor = min(builds.measure_floor(raws, jobs, args.settle).wall for _ in range(repeat))
            figures[name] = {
                "build_s": best or 0.0,
                "floor_s": floor,
                "ratio": (best or 0.0) / floor,
                "audio_s": seconds,
            }
            log(
                f"{name:5}: cold build {best:.2f} s, encode floor {floor:.2f} s "
                f"({(best or 0.0) / floor:.1f}x) for {seconds:.0f} s of audio"
            )
    bed, plain = figures["bed"], figures["plain"]
    table = [
        Figure(f"cold build of {len(scripts)} examples, {' '.join(SOUND)} "
               f"({bed['audio_s'] / 60:.0f} min of audio)", bed["build_s"], "s", key="bed_s"),
        Figure("  its encode floor", bed["floor_s"], "s", key="bed_floor_s"),
        Figure("  build / floor", bed["ratio"], "x", key="bed_ratio"),
        Figure("the same without sounds", plain["build_s"], "s", key="plain_s"),
        Figure("  its encode floor", plain["floor_s"], "s", key="plain_floor_s"),
        Figure("  build / floor", plain["ratio"], "x", key="plain_ratio"),
    ]  # fmt: skip
    report("sound", args, table, figures, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
