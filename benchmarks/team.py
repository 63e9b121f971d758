#!/usr/bin/env python3
"""Team benchmark: the shared clip cache (--cache-url) and builds on a Dask cluster (--cluster).

    python benchmarks/team.py              # 50 small scripts
    python benchmarks/team.py --quick      # 10: a smoke run

Every build is the public CLI as a subprocess (`python -m rustpunt build ... --voice nl-espeak
--json`), timed from outside. Needs '.[test]' (moto[server], s3fs, distributed).

1. A fresh machine (empty local cache and output folder) builds N small scripts with a remote
   cache on a moto S3 server on 127.0.0.1: cold (an empty bucket: everything is spoken, encoded
   and uploaded) against warm (the bucket filled by another machine: nothing is spoken).
2. The same N scripts built from a warm local cache (--force: nothing is spoken, every MP3 is
   assembled and written) by the local pool (-j 2) against a LocalCluster of 2 worker processes
   with one thread each: the difference per script is what the cluster costs (task round trips,
   pickling the options, sending the files' bytes back); its start-up (about a second) is apart.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Figure, arguments, report

STEPS = [
    "Ga rustig zitten en sluit je ogen.",
    "Adem in door je neus en tel tot vier.",
    "Adem uit door je mond en laat je schouders zakken.",
    "Voel je voeten op de grond.",
]


def scripts(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    for number in range(count):
        steps = [*STEPS, f"Dit is oefening nummer {number}."]
        (folder / f"oefening{number:03d}.yaml").write_text(
            f"title: Oefening {number}\nsteps: {json.dumps(steps)}\n", encoding="utf-8"
        )
    return folder


def build(
    folder: Path, out: Path, cache: Path, *extra: str, env: dict[str, str]
) -> tuple[float, dict]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "rustpunt", "build", str(folder), "-o", str(out), "--cache-dir",
         str(cache), "--voice", "nl-espeak", "--json", *extra],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    took = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"build failed: {done.stderr[-2000:]}")
    return took, json.loads(done.stdout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--scripts", type=int, help="scripts (default 50, --quick 10)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    count = args.scripts or (10 if args.quick else 50)
    work = Path(tempfile.mkdtemp(prefix="rustpunt-team-"))
    folder = scripts(work / "scripts", count)
    port = free_port()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }  # fmt: skip
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(2)
        os.environ.update(env)
        import s3fs

        s3fs.S3FileSystem(skip_instance_cache=True).mkdir("bench")
        url = ["--cache-url", "s3://bench/team"]
        cold, cold_report = build(folder, work / "a/out", work / "a/cache", *url, env=env)
        warm, warm_report = build(folder, work / "b/out", work / "b/cache", *url, env=env)
    finally:
        server.terminate()
        server.wait(10)

    from distributed import LocalCluster

    cache = work / "a/cache"  # warm: the pool and the cluster only assemble and write
    pool, _ = build(folder, work / "pool", cache, "-j", "2", "--force", env=env)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        address = ["--cluster", cluster.scheduler_address]
        build(folder, work / "warmup", cache, *address, "--force", env=env)  # workers' imports
        on_cluster, cluster_report = build(
            folder, work / "cluster", cache, *address, "--force", env=env
        )
    workers = {entry["worker"] for entry in cluster_report["scripts"]}
    table = [
        Figure(f"{count} scripts on a fresh machine, cold remote cache (moto S3)", cold, "s",
               key="cold_remote_s"),
        Figure("  the same, warm remote cache (nothing spoken)", warm, "s", key="warm_remote_s"),
        Figure("  cold / warm", cold / warm, "x", key="remote_ratio"),
        Figure(f"{count} scripts, warm local cache, --force: local pool -j 2", pool, "s",
               key="pool_s"),
        Figure(f"  LocalCluster, {len(workers)} workers", on_cluster, "s", key="cluster_s"),
        Figure("  cluster overhead per script", (on_cluster - pool) / count * 1000, "ms",
               key="cluster_overhead_ms"),
    ]  # fmt: skip
    details = {
        "scripts": count,
        "cold_clips": cold_report["clips"],
        "warm_clips": warm_report["clips"],
        "workers": len(workers),
    }
    report("team", args, table, details, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
