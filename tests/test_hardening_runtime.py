"""Hardening at run time (issue 10): memory, a bad cache folder, killed builds, full disks, stale
outputs and too many workers. Each test reproduces what a user met before it was fixed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soxr

from conftest import write_script
from rustpunt.audio import loudness
from rustpunt.audio import pcm as audio
from rustpunt.build.options import BuildStatus

WORDS = [
    "adem",
    "rustig",
    "in",
    "en",
    "voel",
    "hoe",
    "je",
    "buik",
    "langzaam",
    "omhoog",
    "komt",
    "terwijl",
    "je",
    "schouders",
    "zakken",
]


def long_text(characters: int, seed: int = 1) -> str:
    """Dutch-looking sentences of twelve words, about `characters` long."""
    pick = random.Random(seed)
    sentences: list[str] = []
    while sum(len(s) + 1 for s in sentences) < characters:
        sentences.append(" ".join(pick.choice(WORDS) for _ in range(12)).capitalize() + ".")
    return " ".join(sentences)[:characters].rsplit(" ", 1)[0] + "."


# --------------------------------------------------------------------------- 3. memory


def peak_rss_mb_of(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run `command` and return the peak memory of its whole process tree in MB, and its output.

    Two measures, the larger wins: the sum of the resident sets of the process and all its
    descendants (ffmpeg, workers), sampled every 20 ms with psutil; and the largest resident set
    any one of them reached (ru_maxrss of the children of a fresh Python that runs only this)."""
    import psutil

    probe = (
        "import json, resource, subprocess, sys, time\n"
        "import psutil\n"
        "build = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,"
        " text=True)\n"
        "tree_peak = 0\n"
        "root = psutil.Process(build.pid)\n"
        "while build.poll() is None:\n"
        "    total = 0\n"
        "    try:\n"
        "        for process in [root, *root.children(recursive=True)]:\n"
        "            total += process.memory_info().rss\n"
        "    except psutil.Error:\n"
        "        pass\n"
        "    tree_peak = max(tree_peak, total)\n"
        "    time.sleep(0.02)\n"
        "output = build.stdout.read()\n"
        "print(json.dumps({'tree': tree_peak, 'maxrss_kb': resource.getrusage("
        "resource.RUSAGE_CHILDREN).ru_maxrss, 'returncode': build.returncode, 'output': output}))\n"
    )
    assert psutil.Process().is_running()  # psutil is installed here, and in the probe
    result = subprocess.run(
        [sys.executable, "-c", probe, *command],
        capture_output=True, text=True, env=env, timeout=600, check=True,
    )  # fmt: skip
    measured = json.loads(result.stdout)
    assert measured["returncode"] == 0, measured["output"]
    peak = max(measured["tree"] / 2**20, measured["maxrss_kb"] / 1024)
    return peak, measured["output"]


@pytest.mark.slow
@pytest.mark.parametrize("voice", ["nl-espeak", "nl-google"])
def test_a_5000_character_step_builds_in_under_300_mb(
    tmp_path: Path, hermetic: Path, request: pytest.FixtureRequest, voice: str
) -> None:
    if voice == "nl-google":
        fake = request.getfixturevalue("fake_google")  # Google's stand-in, 60 ms per character
    text = long_text(5000)
    script = write_script(
        tmp_path, "lang.yaml", f'title: Lang\nvoice: {voice}\nsteps:\n  - text: "{text}"\n'
    )
    peak_mb, output = peak_rss_mb_of(
        [sys.executable, "-m", "rustpunt", "build", str(script), "-o", str(tmp_path / "out")],
        env=dict(os.environ),
    )
    assert "built" in output and (tmp_path / "out" / "lang.mp3").stat().st_size > 1_000_000
    print(f"{voice}: peak {peak_mb:.0f} MB")  # shown with -s
    assert peak_mb < 300, f"peak {peak_mb:.0f} MB"
    if voice == "nl-google":
        assert fake.count > 40  # it was Google that spoke, in pieces of at most 100 characters


@pytest.mark.parametrize("size", [1, 7, 100, 5_000, 40_001])
def test_upsampling_block_by_block_equals_the_whole_clip_at_once(size: int) -> None:
    samples = np.random.default_rng(size).integers(-20000, 20000, size).astype("<i2")
    blockwise = audio.upsample(samples, 2, block=977)
    assert blockwise.size == 2 * size
    whole = soxr.resample(samples.astype(np.float32) / 32768, 22_050, 44_100, quality="HQ")
    reference = np.clip(np.round(whole * 32768), -32768, 32767)
    assert np.abs(blockwise.astype(int) - reference).max() <= 1


def test_trim_and_fade_block_by_block_match_the_whole_clip() -> None:
    rng = np.random.default_rng(3)
    clip = np.zeros(50_000, dtype="<i2")
    clip[12_345:40_000] = rng.integers(-9000, 9000, 27_655)
    trimmed = audio.trim_silence(clip, block=1000)
    loud = np.flatnonzero(np.abs(clip.astype(np.int32)) > audio.SILENCE_THRESHOLD * 32767)
    assert np.array_equal(trimmed, clip[loud[0] : loud[-1] + 1])
    faded = audio.fade_edges(trimmed)
    whole = trimmed.astype(np.float32)
    length = audio.ms_to_samples(audio.FADE_MS)
    ramp = np.linspace(0.0, 1.0, length, endpoint=False, dtype=np.float32)
    whole[:length] *= ramp
    whole[-length:] *= ramp[::-1]
    assert np.array_equal(faded, np.round(whole).astype("<i2"))
    assert audio.trim_silence(np.zeros(5000, dtype="<i2"), block=100).size == 0


def test_loudness_block_by_block_matches_the_whole_clip() -> None:
    rng = np.random.default_rng(4)
    clip = (rng.standard_normal(audio.SAMPLE_RATE * 7) * 6000).clip(-32768, 32767).astype("<i2")
    whole = loudness.block_energies(clip, group=10_000)
    blockwise = loudness.block_energies(clip, group=7)
    assert np.allclose(whole, blockwise, rtol=1e-6, atol=0)
    ceiling = 0.5
    limited = loudness.limit(clip, 2.0, ceiling, block=10_000_000)
    pieces = loudness.limit(clip, 2.0, ceiling, block=3_001)
    assert np.abs(limited.astype(int) - pieces.astype(int)).max() <= 1
    assert np.abs(pieces.astype(int)).max() <= ceiling * 32768 + 1


# --------------------------------------------------------------------------- 4. a bad cache folder

SHORT = "title: Kort\nvoice: nl-espeak\nsteps: [Adem in., Adem uit.]\n"


def run_build(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rustpunt", "build", *map(str, args)],
        capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize("where", ["a file", "under a file", "under /proc"])
def test_a_cache_folder_that_cannot_be_used_is_named_before_any_speech(
    tmp_path: Path, where: str
) -> None:
    (tmp_path / "blocker").write_text("not a folder")
    cache = {
        "a file": tmp_path / "blocker",
        "under a file": tmp_path / "blocker" / "cache",
        "under /proc": Path("/proc/rustpunt-cache"),  # cannot be created, not even by root
    }[where]
    script = write_script(tmp_path, "kort.yaml", SHORT)
    result = run_build(
        script, "-o", tmp_path / "out", env={**os.environ, "RUSTPUNT_CACHE": str(cache)}
    )
    lines = result.stderr.strip().splitlines()
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    if where == "a file":  # refused as `--cache-dir FILE` is: a wrong command line
        assert result.returncode == 2
        assert lines[-1].startswith(f"Error: Invalid value for $RUSTPUNT_CACHE: {cache} is a file")
    else:
        assert result.returncode == 1
        assert lines[-1].startswith(f"Error: {cache}: "), result.stderr
    assert "--cache-dir" in lines[-1] and "RUSTPUNT_CACHE" in lines[-1]
    assert not (tmp_path / "out" / "kort.mp3").exists()


def test_a_full_cache_while_building_is_one_line_naming_the_cache(
    tmp_path: Path, hermetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import rustpunt.files
    from rustpunt.build.batch import build_all
    from rustpunt.build.jobs import jobs_for
    from rustpunt.build.session import BuildOptions
    from rustpunt.voice.clipcache import ClipCache

    cache = ClipCache(hermetic)
    real_link = os.link

    def full_disk_link(source: str, destination: str) -> None:  # a new entry: no room
        if Path(destination).is_relative_to(cache.clips):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination))
        real_link(source, destination)

    script = write_script(tmp_path, "kort.yaml", SHORT)
    options = BuildOptions(output_dir=tmp_path / "out", cache_dir=cache.root)
    jobs = jobs_for([script], options.output_dir)
    monkeypatch.setattr(rustpunt.files.os, "link", full_disk_link)
    [result] = build_all(jobs, options, workers=1)
    assert result.status == BuildStatus.FAILED and result.error is not None
    assert "internal error" not in result.error and "\n" not in result.error
    assert str(cache.root) in result.error and "full" in result.error
    assert not list(cache.clips.glob("*/.*.part"))  # nothing half-written left in the cache


# --------------------------------------------------------------------------- 5. killed main process

SESSION = """\
title: Sessie {n}
voice: nl-espeak
intro: Welkom bij sessie nummer {n}. Neem de tijd om rustig te gaan zitten.
steps:
  - Adem rustig in door je neus, en voel hoe je buik omhoog komt. Dit is stap een van sessie {n}.
  - text: Adem langzaam uit door je mond, nog iets langer dan je inademing, in sessie {n}.
    pause: 40
  - Houd dit vijf seconden vast, en laat dan los. Dit hoort bij sessie {n}.
outro: Dat was sessie {n}. Open langzaam je ogen.
"""


def start_parallel_build(
    tmp_path: Path, scripts: int = 12
) -> tuple[subprocess.Popen[str], list[int]]:
    """A real build with two workers, in its own session, once both workers run; their pids."""
    import psutil

    folder = tmp_path / "scripts"
    for n in range(1, scripts + 1):
        write_script(folder, f"sessie-{n:02d}.yaml", SESSION.format(n=n))
    build = subprocess.Popen(
        [sys.executable, "-m", "rustpunt", "build", str(folder), "-o", str(tmp_path / "out"), "--jobs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = [
            child.pid
            for child in psutil.Process(build.pid).children()
            if "python" in child.name().lower()
        ]
        time.sleep(0.05)
    if len(workers) < 2:
        os.killpg(build.pid, signal.SIGKILL)
        build.communicate()
        raise AssertionError("the build never started its workers")
    time.sleep(0.5)  # mid-build: the workers are speaking
    return build, workers


def alive(pids: list[int], within: float) -> list[int]:
    """The pids still running (zombies do not count) after waiting up to `within` seconds."""
    import psutil

    deadline = time.monotonic() + within
    while True:
        running = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    running.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["kill -9", "SIGTERM"])
def test_workers_stop_when_the_main_process_is_killed(tmp_path: Path, how: signal.Signals) -> None:
    build, workers = start_parallel_build(tmp_path)
    try:
        os.kill(build.pid, how)  # the main process only, as a service manager does
        build.wait(timeout=30)
        assert alive(workers, within=5) == [], "workers outlived their parent"
    finally:
        for pid in alive(workers, within=0):
            os.kill(pid, signal.SIGKILL)
        if build.returncode is None:
            build.kill()
        _, stderr = build.communicate(timeout=30)  # the workers held its pipes open
    if how == signal.SIGTERM:  # like Ctrl-C: a clean stop with one line, no traceback
        assert build.returncode == 130, stderr
        assert stderr.strip().endswith("Interrupted.") and "Traceback" not in stderr
    again = subprocess.run(build.args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    out = tmp_path / "out"
    assert len(list(out.glob("*.mp3"))) == len(list(out.glob("*.json"))) == 12
    assert not list(out.glob(".*.part"))


def test_the_portable_watch_stops_an_orphaned_worker_without_the_kernels_help() -> None:
    """Where prctl is missing (macOS, Windows) the watching thread alone must notice."""
    middle = (
        "import os, sys, time\n"
        "from rustpunt.build import pool\n"
        "parent = os.getpid()\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    pool._watch_parent(parent)  # no prctl: only the watch\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "print(child, flush=True)\n"
        "os._exit(0)  # the parent dies; its child is now an orphan\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", middle], capture_output=True, text=True, timeout=30
    )
    orphan = int(result.stdout)
    try:
        assert alive([orphan], within=3) == []
    finally:
        for pid in alive([orphan], within=0):
            os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- 6. disk full at the sidecars


def full_disk_for(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Writing the temporary file of the output called `name` fails as on a full disk."""
    import errno

    real_write_bytes = Path.write_bytes

    def write_bytes(self: Path, data: bytes) -> int:  # type: ignore[override]
        if self.name.startswith(f".{name}."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


@pytest.mark.parametrize("failing", ["kort.json", "kort.vtt"])
def test_a_full_disk_at_the_sidecars_is_one_line_and_leaves_no_half_set(
    tmp_path: Path, hermetic: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    from rustpunt.build.batch import build_all
    from rustpunt.build.jobs import jobs_for
    from rustpunt.build.session import BuildOptions

    script = write_script(tmp_path, "kort.yaml", SHORT)
    out = tmp_path / "out"
    options = BuildOptions(output_dir=out, cache_dir=hermetic)
    jobs = jobs_for([script], out)
    [first] = build_all(jobs, options, workers=1)
    assert first.status == BuildStatus.BUILT
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["kort.json", "kort.mp3", "kort.vtt"]

    script.write_text(SHORT.replace("Adem uit.", "Adem langzaam uit."), encoding="utf-8")
    full_disk_for(monkeypatch, failing)
    [result] = build_all(jobs, options, workers=1)
    assert result.status == BuildStatus.FAILED and result.error is not None
    assert "internal error" not in result.error and "\n" not in result.error
    assert str(out / failing) in result.error and "space" in result.error
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # the previous set, whole: no new MP3 beside an old JSON

    (out / "kort.json").unlink()  # now with no previous set at all
    (out / "kort.mp3").unlink()
    (out / "kort.vtt").unlink()
    [result] = build_all(jobs, options, workers=1)
    assert result.status == BuildStatus.FAILED
    assert list(out.iterdir()) == []  # nothing at all, not an MP3 without its JSON


# --------------------------------------------------------------------------- 9. truncated outputs


@pytest.mark.parametrize(
    ("name", "keep"),
    [("kort.mp3", 0), ("kort.mp3", 0.5), ("kort.vtt", 0)],
    ids=["empty mp3", "half mp3", "empty vtt"],
)
def test_a_truncated_output_beside_an_intact_json_is_rebuilt(
    tmp_path: Path, hermetic: Path, name: str, keep: float
) -> None:
    from rustpunt.build.batch import build_all
    from rustpunt.build.jobs import jobs_for
    from rustpunt.build.session import BuildOptions

    script = write_script(tmp_path, "kort.yaml", SHORT)
    out = tmp_path / "out"
    options = BuildOptions(output_dir=out, cache_dir=hermetic)
    jobs = jobs_for([script], out)
    assert [r.status for r in build_all(jobs, options, workers=1)] == ["built"]
    assert [r.status for r in build_all(jobs, options, workers=1)] == ["up to date"]
    whole = (out / name).read_bytes()
    (out / name).write_bytes(whole[: int(len(whole) * keep)])
    [again] = build_all(jobs, options, workers=1)
    assert again.status == BuildStatus.BUILT
    assert (out / name).read_bytes() == whole
    assert [r.status for r in build_all(jobs, options, workers=1)] == ["up to date"]


# --------------------------------------------------------------------------- 13. --jobs 1000


def test_workers_are_capped_at_the_cpus_and_the_pending_scripts(
    tmp_path: Path, hermetic: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import multiprocessing

    from rustpunt.build.batch import build_all
    from rustpunt.build.jobs import jobs_for
    from rustpunt.build.pool import usable_cpus
    from rustpunt.build.session import BuildOptions

    scripts = 2 * usable_cpus() + 1
    for n in range(scripts):
        write_script(tmp_path / "scripts", f"s{n}.yaml", SHORT.replace("Kort", f"Kort {n}"))
    options = BuildOptions(output_dir=tmp_path / "out", cache_dir=hermetic)
    jobs = jobs_for([tmp_path / "scripts"], options.output_dir)
    running: list[int] = []
    with caplog.at_level(logging.INFO, logger="rustpunt.build.pool"):
        results = build_all(
            jobs, options, workers=1000,
            on_done=lambda result: running.append(len(multiprocessing.active_children())),
        )  # fmt: skip
    assert [r.status for r in results] == ["built"] * scripts
    assert 0 < max(running) <= usable_cpus()
    assert f"--jobs 1000: {usable_cpus()} at once" in caplog.text


# --------------------------------------------------------------------------- friction: a warning for Google

UNPUNCTUATED = " ".join(["adem rustig in en voel hoe je buik langzaam omhoog komt"] * 3)


def test_no_warning_about_googles_limit_when_espeak_spoke_the_text(tmp_path: Path) -> None:
    script = write_script(tmp_path, "lang.yaml", f"title: Lang\nsteps:\n  - {UNPUNCTUATED}\n")
    result = run_build(script, "-o", tmp_path / "out", "--json")  # no Google: nl-espeak speaks
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["scripts"][0]["voice"] == "nl-espeak"
    assert "100 characters" not in result.stderr


def test_the_warning_comes_when_google_speaks_the_text(
    fake_google: object, caplog: pytest.LogCaptureFixture
) -> None:
    from rustpunt.voice.engines.google import GoogleEngine

    GoogleEngine(retries=0).synthesize(UNPUNCTUATED)
    assert "100 characters" in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize("sigint", ["default", "ignored"], ids=["terminal", "background job"])
def test_sigterm_during_speech_in_a_single_process_build_stops_it(
    tmp_path: Path, sigint: str
) -> None:
    """Python runs the handler inside espeak's callback, where ctypes would print and drop the
    KeyboardInterrupt; a shell's background job starts with SIGINT ignored."""
    script = write_script(
        tmp_path, "lang.yaml", f'title: Lang\nvoice: nl-espeak\nsteps:\n  - "{long_text(20000)}"\n'
    )
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint == "ignored" else None
    build = subprocess.Popen(
        [sys.executable, "-m", "rustpunt", "build", str(script), "-o", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ignore,
    )  # fmt: skip
    assert build.stderr is not None
    started = build.stderr.read(len("Building"))  # the progress bar: the build has begun
    time.sleep(1.0)  # speaking the one long step (about ten seconds of work)
    build.send_signal(signal.SIGTERM)
    _, stderr = build.communicate(timeout=60)
    stderr = started + stderr
    assert build.returncode == 130, stderr
    assert stderr.strip().endswith("Interrupted.")
    assert "Exception ignored" not in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out" / "lang.mp3").exists()
