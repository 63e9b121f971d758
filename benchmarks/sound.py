#!/usr/bin/env python3
"""Sound-design benchmark: the cold build of the example sessions with a bed and bells, against
the same build without them and against the encode floor (bulk.py's: ffmpeg alone encoding the
very audio built, as many at once as the build's jobs).

    python benchmarks/sound.py              # best of 2
    python benchmarks/sound.py --repeat 3 --json

Every build is the public CLI in a subprocess with a fresh cache and output folder
(`--voice nl-espeak --jobs <CPUs>`, plus `--bed rain --bell both` for the sound design). It
reports, it does not assert.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bulk  # the floor and the meters are bulk.py's, so the figures compare
from measure import log

from rustpunt.build.batch import usable_cpus

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "scripts").glob("*.yaml"))
SOUND = ["--bed", "rain", "--bell", "both"]


SETTLE_S = 5.0
"""Wait at most this long for an idle machine before each figure."""


def cold(work: Path, extra: list[str], jobs: int) -> tuple[float, list[Path]]:
    shutil.rmtree(work, ignore_errors=True)
    build = bulk.run_build(
        f"cold build {' '.join(extra) or 'without sounds'}",
        EXAMPLES,
        out=work / "out",
        cache=work / "cache",
        jobs=jobs,
        settle_s=SETTLE_S,
        extra=extra,
    )
    return build.wall, [Path(s["mp3"]) for s in build.report["scripts"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    jobs = usable_cpus()
    figures: dict[str, Any] = {"jobs": jobs, "sessions": len(EXAMPLES)}
    with tempfile.TemporaryDirectory(prefix="rustpunt-sound-") as temporary:
        root = Path(temporary)
        for name, extra in (("plain", []), ("bed", SOUND)):
            best = None
            for _ in range(args.repeat):
                wall, mp3s = cold(root / name, extra, jobs)
                best = wall if best is None else min(best, wall)
            raws, seconds = bulk.decode_all(mp3s, root / f"{name}-floor", jobs)
            floor = min(bulk.measure_floor(raws, jobs, SETTLE_S).wall for _ in range(args.repeat))
            figures[name] = {
                "build_s": round(best or 0.0, 2),
                "floor_s": round(floor, 2),
                "ratio": round((best or 0.0) / floor, 1),
                "audio_s": round(seconds, 1),
            }
            log(
                f"{name:5}: cold build {best:.2f} s, encode floor {floor:.2f} s "
                f"({(best or 0.0) / floor:.1f}x) for {seconds:.0f} s of audio"
            )
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
