"""Running `rustpunt build` for the benchmarks: the public CLI as a subprocess, timed from outside
(process start, imports, YAML, synthesis, mixing, encoding and tags all count), its process tree's
memory, the encode floor (ffmpeg alone encoding the very audio built), and rebuilds in this
process through the loop of `rustpunt build --watch`. Shared by cold, noop, edit, long, gapless
and sound.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from harness import Meter, arguments, log, tree_rss, wait_idle

from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe
from rustpunt.build.session import BITRATE_KBPS
from rustpunt.mp3.export import encoder_command

VOICE = "nl-espeak"


class BuildFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    """What the command line chose, passed to every experiment."""

    work: Path
    """The scratch folder: scripts, outputs and caches."""
    jobs: int
    """--jobs of the builds, and how many ffmpeg encode at once in the floor."""
    repeat: int
    """Cold builds, floors and long sessions are measured this many times; the shortest counts."""
    settle_s: float
    """Before each measurement, wait up to this long for the machine to be idle."""
    seed: int
    """Seed of the generated scripts and of the edit in figure 3."""

    @classmethod
    def from_args(cls, args: argparse.Namespace, name: str) -> Settings:
        work = Path(tempfile.mkdtemp(prefix=f"rustpunt-{name}-"))
        log(f"work folder {work}")
        return cls(work, args.jobs, args.repeat, args.settle, args.seed)

    def clean(self, keep: bool) -> None:
        if keep:
            log(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def build_arguments(doc: str, **defaults: Any) -> argparse.ArgumentParser:
    """The harness's options, and those of a benchmark that builds: --jobs, --seed, --keep."""
    parser = arguments(doc, **defaults)
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="--jobs of the builds (CPU count)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated scripts")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    return parser


# --------------------------------------------------------------------------- running builds


@dataclass(frozen=True)
class Build:
    wall: float
    report: dict[str, Any]
    others: float
    """Share of the machine's CPU that other processes used during the build."""
    maxrss_kb: int = 0
    tree_peak_bytes: int = 0

    @property
    def audio_seconds(self) -> float:
        return sum(s["duration_ms"] for s in self.report["scripts"]) / 1000

    @property
    def synthesized(self) -> int:
        return sum(s["synthesized"] or 0 for s in self.report["scripts"])


def _report(rc: int, stdout: str, stderr: str, what: str) -> dict[str, Any]:
    """The build's --json report, or BuildFailed naming the first errors."""
    try:
        report = json.loads(stdout)
    except ValueError:
        report = None
    if rc != 0 or not isinstance(report, dict) or report.get("failed"):
        errors = [s["error"] for s in (report or {}).get("scripts", []) if s.get("error")]
        detail = "; ".join(errors[:3]) or stderr.strip().splitlines()[-1:] or f"exit status {rc}"
        raise BuildFailed(f"{what}: build failed (exit status {rc}): {detail}")
    return report


def run_build(
    what: str,
    paths: list[Path],
    *,
    out: Path,
    cache: Path,
    jobs: int,
    settle_s: float,
    sample_memory: bool = False,
    extra: Sequence[str] = (),
) -> Build:
    """`rustpunt build` as a subprocess, timed; with sample_memory, its process tree's peak RSS.

    `extra` options are added to the command line (sound.py adds a bed and bells).
    """
    log(f"  {what} ...")
    command = [
        sys.executable, "-m", "rustpunt", "build", *map(str, paths), "-o", str(out),
        "--voice", VOICE, "--jobs", str(jobs), "--cache-dir", str(cache), "--json", *extra,
    ]  # fmt: skip
    if settle_s:
        wait_idle(settle_s)
    peak = 0
    with (
        tempfile.TemporaryFile("w+") as stdout,
        tempfile.TemporaryFile("w+") as stderr,
        Meter() as meter,
    ):
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            try:
                root = psutil.Process(process.pid)
            except psutil.Error:  # already gone: nothing to sample
                return
            while not done.is_set():
                peak = max(peak, tree_rss(root))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        if sample_memory:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)  # ru_maxrss of this very child
        done.set()
        if sample_memory:
            sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    report = _report(process.returncode, output, errors, what)
    memory = (
        f", peak RSS {usage.ru_maxrss / 1024:.0f} MB (largest process), {peak / 2**20:.0f} MB (process tree)"
        if sample_memory
        else ""
    )
    log(
        f"    {meter.wall:.2f} s  built {report['built']}, up to date {report['up_to_date']}{memory}  (others {meter.others:.0%})"
    )
    return Build(meter.wall, report, meter.others, usage.ru_maxrss, peak)


# --------------------------------------------------------------------------- the floor


def decode_to_pcm(mp3: Path, raw: Path) -> int:
    """A built MP3 back to raw session PCM; returns its samples."""
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(mp3),
        "-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-y", str(raw),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return raw.stat().st_size // 2


def encode_pcm(raw: Path, mp3: Path) -> None:
    """The build's own encoder command (rustpunt.mp3.export), PCM written to its stdin in 5 s chunks."""
    command = [*encoder_command(ffmpeg_exe(), BITRATE_KBPS), "-f", "mp3", "-y", str(mp3)]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stdin is not None
    with raw.open("rb") as source:
        while chunk := source.read(SAMPLE_RATE * 5 * 2):
            process.stdin.write(chunk)
    process.stdin.close()
    errors = process.stderr.read() if process.stderr else b""
    if process.wait() != 0:
        raise BuildFailed(
            f"floor: ffmpeg could not encode {raw}: {errors.decode(errors='replace').strip()}"
        )


def decode_all(mp3s: list[Path], work: Path, jobs: int) -> tuple[list[Path], float]:
    """The built sessions back to raw PCM (untimed): the floor encodes exactly the audio built."""
    work.mkdir(parents=True)
    raws = [work / f"{mp3.stem}.raw" for mp3 in mp3s]
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        samples = list(pool.map(decode_to_pcm, mp3s, raws))
    return raws, sum(samples) / SAMPLE_RATE


def measure_floor(raws: list[Path], jobs: int, settle_s: float) -> Meter:
    """Encode every session again, `jobs` ffmpeg processes at a time, as the build runs its jobs."""
    wait_idle(settle_s)
    with Meter() as meter, concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(encode_pcm, raws, [raw.with_suffix(".mp3") for raw in raws]))
    return meter


@dataclass(frozen=True)
class InWatch:
    """Rebuilds in the watch: each one's own time, and from the save to its MP3 in place (the
    rebuild plus the wait for the watch's next look at the files)."""

    work_s: list[float]
    save_to_mp3_s: list[float]


def rebuilds_in_process(
    path: Path,
    edits: Sequence[Callable[[], object]],
    *,
    out: Path,
    cache: Path,
    synthesized: int,
) -> InWatch:
    """`path` rebuilt after each edit by `rustpunt build --watch`'s loop (rustpunt.build.watch, in a
    thread of this process, after a first build that finds it up to date): the work inside
    rustpunt, without the interpreter's start and the imports a command pays each time. Each
    figure is the watch's own time for the rebuild (Rebuilt.milliseconds: the build of that
    script, from reading it to its outputs renamed into place), not the wait for its next look
    at the files. Each rebuild must have spoken `synthesized` sentences."""
    import queue

    from rustpunt.build.batch import build_all
    from rustpunt.build.jobs import jobs_for
    from rustpunt.build.options import BuildOptions, BuildStatus
    from rustpunt.build.watch import Rebuilt, watch
    from rustpunt.build.workspace import Workspace
    from rustpunt.voice.speak import Voices

    options = BuildOptions(output_dir=out, cache_dir=cache, voice=VOICE)
    workspace = Workspace.for_options(options)  # the first build's, kept by the watch
    voices = Voices(workspace.clips)
    build_all(jobs_for([path], out), options, workers=1, shared_voices=voices, workspace=workspace)
    rebuilt: queue.Queue[Rebuilt] = queue.Queue()
    stop, watching = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=watch,
        args=([path], options),
        kwargs={
            "voices": voices,
            "workspace": workspace,
            "on_watching": lambda count: watching.set(),
            "on_rebuilt": rebuilt.put,
            "stop": stop,
        },
        daemon=True,
    )
    thread.start()
    seconds, latencies = [], []
    try:
        if not watching.wait(timeout=60):
            raise BuildFailed("the watch did not start")
        for edit in edits:
            time.sleep(0.3)  # a save an editor makes after the last one, not in the same instant
            edit()
            saved = time.perf_counter()
            item = rebuilt.get(timeout=120)
            latencies.append(time.perf_counter() - saved)
            result = item.result
            if result.status != BuildStatus.BUILT or result.synthesized != synthesized:
                raise BuildFailed(
                    f"a rebuild in the watch gave {result.status.value}, {result.synthesized} "
                    f"spoken: {result.error}"
                )
            seconds.append(item.milliseconds / 1000)
    finally:
        stop.set()
        thread.join(timeout=30)
    log(f"    in the watch: {', '.join(f'{1000 * s:.0f} ms' for s in seconds)}")
    log(f"    save to MP3: {', '.join(f'{1000 * s:.0f} ms' for s in latencies)}")
    return InWatch(seconds, latencies)
