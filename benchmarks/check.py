#!/usr/bin/env python3
"""How fast `rustpunt check` validates 1,000 scripts, the pre-commit case (target: under 2 s).

    python benchmarks/check.py                # 1,000 copies of scripts/*.yaml, best of 3
    python benchmarks/check.py --quick        # 200 scripts

The command is the public CLI run as a subprocess (`python -m rustpunt check FOLDER --json`), timed
from outside, so interpreter start and imports count. Baselines measured in the same run:

- PyYAML's fastest safe loader parsing the same files in this process: the floor no validator
  built on it can beat;
- `python -m rustpunt --version`: starting the CLI with no script at all.

Each is measured --repeat times after waiting for an idle machine (harness.py); the shortest counts.
It reports, it does not assert: exit status 0 even when the target is missed, 1 when check fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from harness import REPO, Figure, arguments, best_of, log, report


def run_check(folder: Path, count: int) -> None:
    """`rustpunt check` over the folder; every script must be read and found valid."""
    command = [sys.executable, "-m", "rustpunt", "check", str(folder), "--json"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"check failed (exit status {result.returncode}): {result.stderr.strip()}")
    report = json.loads(result.stdout)
    if report["checked"] != count or report["problems"]:
        sys.exit(f"check read {report['checked']} of {count} scripts: {report['problems'][:3]}")


def parse_all(folder: Path) -> None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted(folder.glob("*.yaml")):
        yaml.load(path.read_bytes(), Loader=loader)


def start_cli() -> None:
    command = [sys.executable, "-m", "rustpunt", "--version"]
    subprocess.run(command, capture_output=True, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__, repeat=3)
    parser.add_argument("--scripts", type=int, help="scripts checked (default 1000, --quick 200)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    count = args.scripts or (200 if args.quick else 1000)
    examples = sorted((REPO / "scripts").glob("*.yaml"))
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        for index in range(count):
            shutil.copy(examples[index % len(examples)], folder / f"script-{index:04d}.yaml")
        log(f"rustpunt check of {count} scripts, and its baselines, best of {args.repeat}")
        check = best_of(args.repeat, args.settle, lambda: run_check(folder, count))
        parse = best_of(args.repeat, args.settle, lambda: parse_all(folder))
        start = best_of(args.repeat, args.settle, start_cli)
    table = [
        Figure(f"rustpunt check, {count} scripts (whole command)", check.wall, "s",
               others=check.others, target=("<", 2.0), key="wall_s"),
        Figure("  PyYAML parse alone, in-process", parse.wall, "s", others=parse.others,
               key="parse_s"),
        Figure("  check / parse", check.wall / parse.wall, "x", key="ratio_to_parse"),
        Figure("  CLI start alone (rustpunt --version)", start.wall, "s", others=start.others,
               key="start_s"),
    ]  # fmt: skip
    report("check", args, table, {"scripts": count}, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
