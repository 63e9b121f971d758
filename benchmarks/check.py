#!/usr/bin/env python3
"""How fast `rustpunt check` validates 1,000 scripts, the pre-commit case (target: under 2 s).

    python benchmarks/check.py                # 1,000 copies of scripts/*.yaml, best of 3
    python benchmarks/check.py --json         # figures as JSON on stdout (the table goes to stderr)

The command is the public CLI run as a subprocess (`python -m rustpunt check FOLDER --json`), timed
from outside, so interpreter start and imports count. Baselines measured in the same run:

- PyYAML's fastest safe loader parsing the same files in this process: the floor no validator
  built on it can beat;
- `python -m rustpunt --version`: starting the CLI with no script at all.

Each is measured --repeat times after waiting for an idle machine (measure.py); the shortest counts.
It reports, it does not assert: exit status 0 even when the target is missed, 1 when check fails.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from measure import Figure, Meter, log, machine, table_lines, wait_idle

REPO = Path(__file__).resolve().parents[1]


def best_of(repeat: int, settle_s: float, measure: Callable[[], None]) -> Meter:
    """The shortest of `repeat` measurements, each after waiting for an idle machine."""
    meters = []
    for _ in range(repeat):
        wait_idle(settle_s)
        with Meter() as meter:
            measure()
        meters.append(meter)
    return min(meters, key=lambda meter: meter.wall)


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts", type=int, default=1000, help="scripts checked (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="each figure the best of (default 3)")
    parser.add_argument("--settle", type=float, default=20.0, help="wait for idle (default 20 s)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args(argv)
    examples = sorted((REPO / "scripts").glob("*.yaml"))
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        for index in range(args.scripts):
            shutil.copy(examples[index % len(examples)], folder / f"script-{index:04d}.yaml")
        log(f"rustpunt check of {args.scripts} scripts, and its baselines, best of {args.repeat}")
        check = best_of(args.repeat, args.settle, lambda: run_check(folder, args.scripts))
        parse = best_of(args.repeat, args.settle, lambda: parse_all(folder))
        start = best_of(args.repeat, args.settle, start_cli)
    table = [
        Figure(
            f"rustpunt check, {args.scripts} scripts (whole command)",
            check.wall,
            "s",
            others=check.others,
            target=("<", 2.0),
        ),
        Figure("  PyYAML parse alone, in-process", parse.wall, "s", others=parse.others),
        Figure("  check / parse", check.wall / parse.wall, "x"),
        Figure("  CLI start alone (rustpunt --version)", start.wall, "s", others=start.others),
    ]
    info = machine()
    lines = [
        *table_lines(table),
        f"machine: {info['cpu_count']} CPUs, {info['cpu_model']}; Python {info['python']}",
    ]
    if args.json:
        log("\n".join(lines))
        figures = [row.as_json() for row in table]
        print(json.dumps({"machine": info, "figures": figures}, indent=2))
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    status = main()
    log(f"(benchmark run: {time.perf_counter() - started:.0f} s)")
    sys.exit(status)
