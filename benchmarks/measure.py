"""Timing on a shared machine: wall time, the CPU share of other processes, memory of a process tree.

A benchmark on a shared machine is only as good as its quiet: before each measurement it waits for
the machine to be idle, and `Meter.others` says what share of all cores processes outside the
benchmark used meanwhile. A figure measured with others well above 0 % is suspect.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal, NamedTuple

import psutil

from rustpunt.audio.pcm import ffmpeg_exe

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


class Figure(NamedTuple):
    """One row of the table: a measured value, the share others took, and its target if any."""

    name: str
    value: float
    unit: Literal["s", "x", "MB"]
    others: float | None = None
    target: tuple[Literal["<", "<="], float] | None = None

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
