"""Builds on a Dask cluster (--cluster): a LocalCluster of two worker processes, one thread each."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

from conftest import run_main, write_script
from rustpunt.build.batch import build_all
from rustpunt.build.jobs import jobs_for
from rustpunt.build.options import BuildOptions

STEPS = [
    "Adem rustig in door je neus.",
    "Houd je adem drie tellen vast.",
    "Adem langzaam uit door je mond.",
    "Ontspan je schouders en je kaak.",
    "Voel hoe je buik zacht beweegt.",
]


def _scripts(folder: Path, count: int) -> list[Path]:
    return [
        write_script(
            folder, f"s{number}.yaml", f"title: Sessie {number}\nsteps: {json.dumps(STEPS[number:] + STEPS[:number])}\noutro: Klaar nummer {number}.\n"
        )
        for number in range(count)
    ]  # fmt: skip


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    ) as local:
        yield local


@pytest.mark.slow
def test_a_cluster_builds_the_same_bytes_and_names_its_workers(
    tmp_path: Path, cluster: LocalCluster
) -> None:
    _scripts(tmp_path / "scripts", 3)
    cache = tmp_path / "cache"
    common = ["--cache-dir", cache, "--voice", "nl-espeak", "--json"]
    warm = run_main("build", tmp_path / "scripts", "-o", tmp_path / "warm", "-j", "1", *common)
    assert warm.returncode == 0, warm.stderr  # the sidecars count what was spoken: speak it first
    local = run_main("build", tmp_path / "scripts", "-o", tmp_path / "local", "-j", "1", *common)
    assert local.returncode == 0, local.stderr
    address = cluster.scheduler_address
    done = run_main(
        "build", tmp_path / "scripts", "-o", tmp_path / "cluster", "--cluster", address, *common
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["built"] == 3
    workers = set(cluster.scheduler_info["workers"])
    for entry in report["scripts"]:
        assert entry["worker"] in workers
        assert (entry["synthesized"], entry["from_cache"]) == (0, len(STEPS) + 1)  # and the outro
        assert entry["mp3"] == str(
            tmp_path / "cluster" / Path(entry["script"]).with_suffix(".mp3").name
        )
    made = sorted(p.name for p in (tmp_path / "cluster").iterdir() if p.is_file())
    assert made == sorted(p.name for p in (tmp_path / "local").iterdir() if p.is_file())
    assert len(made) == 9
    for name in made:
        mine = (tmp_path / "cluster" / name).read_bytes()
        assert mine == (tmp_path / "local" / name).read_bytes(), name

    again = run_main(
        "build", tmp_path / "scripts", "-o", tmp_path / "cluster", "--cluster", address, *common
    )
    assert json.loads(again.stdout)["up_to_date"] == 3  # the client found them: no task at all


def test_an_unreachable_scheduler_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rustpunt.build.cluster

    monkeypatch.setattr(rustpunt.build.cluster, "CONNECT_SECONDS", 1)
    _scripts(tmp_path / "scripts", 1)
    done = run_main(
        "build", tmp_path / "scripts", "-o", tmp_path / "out", "--voice", "nl-espeak",
        "--cluster", "tcp://127.0.0.1:9",
    )  # fmt: skip
    assert done.returncode == 1
    assert "cannot reach the Dask scheduler" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_worker_killed_mid_build_loses_nothing(tmp_path: Path, cluster: LocalCluster) -> None:
    scripts = _scripts(tmp_path / "scripts", 4)
    options = BuildOptions(
        output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", voice="nl-espeak"
    )
    results: list = []
    builder = threading.Thread(
        target=lambda: results.extend(
            build_all(
                jobs_for(scripts, options.output_dir), options, cluster=cluster.scheduler_address
            )
        )
    )
    builder.start()
    with Client(cluster.scheduler_address, set_as_default=False) as watcher:
        pids = watcher.run(os.getpid)
        deadline = time.monotonic() + 30
        victim = None
        while victim is None and time.monotonic() < deadline:
            busy = [address for address, tasks in watcher.processing().items() if tasks]
            victim = busy[0] if busy else None
            time.sleep(0.05)
        assert victim is not None, "no task started"
        time.sleep(0.3)  # well into its build: speaking
        os.kill(pids[victim], signal.SIGKILL)
    builder.join(90)
    assert not builder.is_alive()
    assert [r.status for r in results] == ["built"] * 4, [r.error for r in results]
    assert all(r.worker != victim or r.worker is None for r in results)
    for script in scripts:
        assert (tmp_path / "out" / f"{script.stem}.mp3").stat().st_size > 0
    assert not list((tmp_path / "out").glob(".*"))
