"""How fast `rustpunt check` validates 1,000 scripts, the pre-commit case (target: under 2 s).

Baseline in the same run: the same files parsed with PyYAML's fastest safe loader alone, the floor
no validator built on it can beat.

    python benchmarks/check.py [--scripts N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts", type=int, default=1000)
    count = parser.parse_args().scripts
    examples = sorted((REPO / "scripts").glob("*.yaml"))
    with tempfile.TemporaryDirectory() as folder:
        for index in range(count):
            shutil.copy(examples[index % len(examples)], Path(folder) / f"script-{index:04d}.yaml")
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "rustpunt", "check", folder], capture_output=True, text=True
        )
        check_seconds = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"check failed: {result.stderr}")
        started = time.perf_counter()
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        for path in sorted(Path(folder).glob("*.yaml")):
            yaml.load(path.read_bytes(), Loader=loader)
        parse_seconds = time.perf_counter() - started
    print(f"rustpunt check, {count} scripts (whole command): {check_seconds:.2f} s  (target < 2 s)")
    print(f"baseline, PyYAML parse alone in-process:        {parse_seconds:.2f} s")
    print(f"ratio check / parse:                            {check_seconds / parse_seconds:.1f}x")


if __name__ == "__main__":
    main()
