"""The benchmarks' shared harness: timing on a shared machine, memory of a process tree, and the
figures each benchmark writes as JSON (benchmarks/results/NAME.json, which table.py renders).

A benchmark on a shared machine is only as good as its quiet: before each measurement it waits for
the machine to be idle, and `Meter.others` says what share of all cores processes outside the
benchmark used meanwhile. A figure measured with others well above 0 % is suspect.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple

import psutil

from rustpunt.audio.pcm import ffmpeg_exe

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
"""Where each benchmark writes NAME.json (committed: the README's tables are rendered from them)."""
sys.path.insert(0, str(REPO / "tests"))  # corpus.py, the synthetic scripts the tests use too

IDLE_BELOW = 0.15
"""The machine counts as idle when under 15 % of its CPU time is busy (over a half-second sample)."""


def log(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the figures (or their JSON)."""
    print(message, file=sys.stderr, flush=True)


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores; idle and iowait excluded)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of every child it has waited for (builds, ffmpeg)."""
    times = psutil.Process().cpu_times()
    return times.user + times.system + times.children_user + times.children_system


class Meter:
    """Wall time of a measurement, and the share of all cores that other processes used meanwhile."""

    wall = 0.0
    others = 0.0

    def __enter__(self) -> Meter:
        self._busy, self._own = busy_seconds(), own_cpu_seconds()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._started
        foreign = (busy_seconds() - self._busy) - (own_cpu_seconds() - self._own)
        self.others = max(0.0, foreign) / (self.wall * (os.cpu_count() or 1))


def wait_idle(max_wait_s: float) -> None:
    """Wait (at most max_wait_s seconds) for other processes to leave the machine idle, after
    the disk has written out what is pending (os.sync): a benchmark that has just written a
    gigabyte of builds would otherwise measure the next figure during that writeback."""
    if hasattr(os, "sync"):
        os.sync()
    deadline = time.monotonic() + max_wait_s
    while True:
        share = psutil.cpu_percent(interval=0.5) / 100
        if share < IDLE_BELOW:
            return
        if time.monotonic() >= deadline:
            log(f"    (machine still {share:.0%} busy after {max_wait_s:.0f} s; measuring anyway)")
            return


def tree_rss(root: psutil.Process) -> int:
    """Resident bytes of `root` and all its live descendants, summed (shared pages count twice)."""
    return sum(own_and_descendants_rss(root))


def own_and_descendants_rss(root: psutil.Process) -> tuple[int, int]:
    """Resident bytes of `root`, and of its live descendants summed (0, 0 once it has ended)."""
    try:
        own, children = root.memory_info().rss, root.children(recursive=True)
    except psutil.Error:  # the root has ended
        return 0, 0
    descendants = 0
    for child in children:
        with contextlib.suppress(psutil.Error):  # a child ended while we looked
            descendants += child.memory_info().rss
    return own, descendants


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPUs, platform, Python and the ffmpeg that encodes."""
    model = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ffmpeg = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True)
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ffmpeg": ffmpeg.stdout.split("\n", 1)[0],
    }


def best_of(repeat: int, settle_s: float, measure: Callable[[], object]) -> Meter:
    """The shortest of `repeat` measurements, each after waiting for an idle machine."""
    meters = []
    for _ in range(repeat):
        wait_idle(settle_s)
        with Meter() as meter:
            measure()
        meters.append(meter)
    return min(meters, key=lambda meter: meter.wall)


class Figure(NamedTuple):
    """One row of the table: a measured value, the share others took, and its target if any.
    `key` names it in the JSON, for table.py (the name is for people and may say more)."""

    name: str
    value: float
    unit: Literal["s", "x", "MB", "ms", "dB"]
    others: float | None = None
    target: tuple[Literal["<", "<="], float] | None = None
    key: str = ""

    def met(self) -> bool | None:
        if self.target is None:
            return None
        op, limit = self.target
        return self.value <= limit if op == "<=" else self.value < limit

    def target_text(self) -> str:
        if self.target is None:
            return ""
        op, limit = self.target
        return f"{op} {limit:g}x" if self.unit == "x" else f"{op} {limit:g} {self.unit}"

    def value_text(self) -> str:
        text = (
            f"{self.value:.0f}" if self.unit == "MB" or self.value >= 100 else f"{self.value:.2f}"
        )
        return f"{text}x" if self.unit == "x" else f"{text} {self.unit}"

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key or None,
            "figure": self.name,
            "value": round(self.value, 3),
            "unit": self.unit,
            "target": self.target_text() or None,
            "met": self.met(),
            "others_cpu_share": None if self.others is None else round(self.others, 3),
        }


def table_lines(table: list[Figure]) -> list[str]:
    """The figures as an aligned text table, with a footnote on the others column."""
    width = max(len(row.name) for row in table)
    lines = [
        f"{'figure':<{width}}  {'value':>11}  {'target':>10}  {'result':<8} others*",
        "-" * (width + 48),
    ]
    for row in table:
        met = {None: "", True: "met", False: "NOT MET"}[row.met()]
        others = "" if row.others is None else f"{row.others:.0%}"
        lines.append(
            f"{row.name:<{width}}  {row.value_text():>11}  {row.target_text():>10}  {met:<8} {others:>6}".rstrip()
        )
    lines += [
        "",
        "* others: share of the machine's CPU that processes outside this benchmark used meanwhile",
    ]
    return lines


def arguments(doc: str, **defaults: Any) -> argparse.ArgumentParser:
    """The options every benchmark takes; `defaults` sets --repeat and --settle per benchmark."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument(
        "--repeat", type=int, default=defaults.get("repeat", 2), help="each figure the best of"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=defaults.get("settle", 20.0),
        help="before each measurement, wait up to this many seconds for an idle machine",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON on stdout too")
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="folder of the JSON results (default benchmarks/results; NAME.json, NAME-quick.json)",
    )
    return parser


def report(
    name: str,
    args: argparse.Namespace,
    table: list[Figure],
    details: dict[str, Any],
    started: float,
    notes: list[str] = (),  # type: ignore[assignment]
) -> Path:
    """Print the table (stderr with --json) and write the figures, the details and the machine
    to RESULTS/NAME.json (NAME-quick.json for a --quick run, which table.py does not read)."""
    info = machine()
    lines = [
        *table_lines(table),
        *notes,
        f"machine: {info['cpu_count']} CPUs, {info['cpu_model']}, {info['memory_gb']} GB; "
        f"{info['platform']}; Python {info['python']}",
        f"         {info['ffmpeg']}",
        f"(benchmark run: {time.perf_counter() - started:.0f} s)",
    ]
    document = {
        "benchmark": name,
        "command": " ".join(["python", f"benchmarks/{name}.py", *sys.argv[1:]]),
        "quick": bool(args.quick),
        "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": info,
        "figures": [row.as_json() for row in table],
        "details": details,
        "benchmark_wall_s": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"{name}{'-quick' if args.quick else ''}.json"
    path.write_text(text, encoding="utf-8")
    if args.json:
        log("\n".join(lines))
        print(text, end="")
    else:
        print("\n".join(lines))
    log(f"wrote {path}")
    return path
