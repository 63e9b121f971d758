"""A build killed at any moment (kill -9) leaves nothing half-written, and the next build finishes
the job, redoing only what was unfinished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import audiotools
from conftest import write_script
from rustpunt.voice.clipcache import ClipCache

pytestmark = pytest.mark.slow

SCRIPT = """\
title: Sessie {n}
intro: Welkom bij sessie nummer {n}. Neem de tijd om rustig te gaan zitten.
steps:
  - Adem rustig in door je neus, en voel hoe je buik omhoog komt. Dit is stap een van sessie {n}.
  - text: Adem langzaam uit door je mond, nog iets langer dan je inademing.
    pause: 40
  - Houd dit vijf seconden vast, en laat dan los. Dit hoort bij sessie {n}.
  - text: Voel hoe je schouders zwaar en warm worden, en hoe je hele lichaam ontspant.
    pause: "1m"
outro: Dat was sessie {n}. Open langzaam je ogen.
"""


def assert_nothing_half_written(out: Path, cache: Path) -> None:
    """Every visible output is whole, and every cache entry reads back intact."""
    for mp3 in out.glob("*.mp3"):
        sidecar = out / f"{mp3.stem}.json"
        decoded_ms = audiotools.duration_ms(mp3)  # raises on a truncated or broken file
        if sidecar.exists():
            assert abs(decoded_ms - json.loads(sidecar.read_text())["duration_ms"]) <= 5
    for vtt in out.glob("*.vtt"):
        assert vtt.read_text(encoding="utf-8").startswith("WEBVTT")
    for sidecar in out.glob("*.json"):
        json.loads(sidecar.read_text(encoding="utf-8"))  # complete JSON
        assert (out / f"{sidecar.stem}.mp3").exists()  # the sidecar is written last
    clips = ClipCache(cache)
    for entry in clips.entries():
        assert entry.text != "(damaged)", entry.path
        key = entry.path.stem
        assert clips.get(key) is not None, entry.path


@pytest.mark.parametrize("delay", [0.6, 1.0, 1.5, 2.2])
def test_kill_minus_nine_mid_build(tmp_path: Path, hermetic: Path, delay: float) -> None:
    folder = tmp_path / "scripts"
    for n in range(1, 7):
        write_script(folder, f"sessie-{n}.yaml", SCRIPT.format(n=n))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "rustpunt", "build", str(folder), "-o", str(out),
               "--voice", "nl-espeak", "--jobs", "2", "--json"]  # fmt: skip
    build = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    time.sleep(delay)
    os.killpg(build.pid, signal.SIGKILL)  # the build and every process it started, at once
    build.communicate()
    time.sleep(0.2)  # let an orphaned ffmpeg notice its closed input
    assert_nothing_half_written(out, hermetic)
    finished_before = {p.stem for p in out.glob("*.json")}

    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    statuses = {Path(s["script"]).stem: s["status"] for s in report["scripts"]}
    assert {stem for stem, status in statuses.items() if status == "up to date"} == finished_before
    assert report["built"] + report["up_to_date"] == 6
    assert_nothing_half_written(out, hermetic)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"sessie-{n}.{ext}" for n in range(1, 7) for ext in ("json", "mp3", "vtt")
    )  # and no temporary file is left behind
    assert not list(hermetic.glob("clips/*/.*.part"))


def test_two_builds_at_once_share_the_cache_safely(tmp_path: Path, hermetic: Path) -> None:
    folder = tmp_path / "scripts"
    for n in range(1, 4):
        write_script(folder, f"sessie-{n}.yaml", SCRIPT.format(n=n))
    builds = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rustpunt",
                "build",
                str(folder),
                "-o",
                str(tmp_path / f"out{i}"),
                "--voice",
                "nl-espeak",
                "--jobs",
                "2",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    for build in builds:
        _, stderr = build.communicate(timeout=300)
        assert build.returncode == 0, stderr
    texts = {entry.text for entry in ClipCache(hermetic).entries()}
    assert len(texts) == len(list(ClipCache(hermetic).entries()))  # one entry per sentence
    # four sentences of its own per session; ten sentences and clauses they share (nl-espeak
    # speaks each clause as its own clip)
    assert len(texts) == 3 * 4 + 10
    for i in range(2):
        assert_nothing_half_written(tmp_path / f"out{i}", hermetic)
        assert len(list((tmp_path / f"out{i}").glob("*.mp3"))) == 3


def wait_for_an_mp3_being_written(out: Path, process: subprocess.Popen[str]) -> None:
    """Until a worker holds `.NAME.mp3.pidN.*.part` open: the moment issue 21 stopped builds at."""
    deadline = time.monotonic() + 120
    while not list(out.glob(".sessie-*.mp3.pid*.part")):
        assert process.poll() is None and time.monotonic() < deadline, "no MP3 was written"
        time.sleep(0.002)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_a_parallel_build_stopped_while_writing_leaves_no_part_file(
    tmp_path: Path, hermetic: Path, how: str
) -> None:
    """Issue 21: the workers were killed outright, and the zero-byte temporary files they held
    stayed in the output folder until the next build."""
    folder = tmp_path / "scripts"
    for n in range(1, 7):
        write_script(folder, f"sessie-{n}.yaml", SCRIPT.format(n=n))
    out = tmp_path / "out"
    build = subprocess.Popen(
        [sys.executable, "-m", "rustpunt", "build", str(folder), "-o", str(out), "--voice", "nl-espeak", "--jobs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    wait_for_an_mp3_being_written(out, build)
    if how == "ctrl-c":
        os.killpg(build.pid, signal.SIGINT)  # the whole process group, as a terminal does
    else:
        os.kill(build.pid, signal.SIGTERM)  # the main process only, as a service manager does
    _, stderr = build.communicate(timeout=60)
    assert build.returncode == 130, stderr
    assert stderr.strip().endswith("Interrupted.") and "Traceback" not in stderr
    assert sorted(path.name for path in out.iterdir() if path.name.endswith(".part")) == []
    assert not list(hermetic.glob("clips/*/.*.part"))
    assert_nothing_half_written(out, hermetic)


def test_ctrl_c_stops_a_parallel_build_soon_and_cleanly(tmp_path: Path, hermetic: Path) -> None:
    folder = tmp_path / "scripts"
    for n in range(1, 13):
        write_script(folder, f"sessie-{n:02d}.yaml", SCRIPT.format(n=n))
    out = tmp_path / "out"
    build = subprocess.Popen(
        [sys.executable, "-m", "rustpunt", "build", str(folder), "-o", str(out), "--voice", "nl-espeak", "--jobs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(out.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)  # interrupt once the first session is done
    os.killpg(build.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    _, stderr = build.communicate(timeout=60)
    assert build.returncode == 130
    assert stderr.strip().endswith("Interrupted.") and "Traceback" not in stderr
    assert len(list(out.glob("*.mp3"))) < 12  # the scripts not started yet were not started
    assert_nothing_half_written(out, hermetic)
    again = subprocess.run(build.args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert len(list(out.glob("*.mp3"))) == 12
    assert not list(out.glob(".*.part"))  # what the interrupted workers left is gone
