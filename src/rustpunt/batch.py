"""Build or check many scripts: every good script is built even when others are bad.

Scripts are built in parallel processes (the espeak library keeps global state, so threads
would not do); each failure becomes one line in the report and never stops the others.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rustpunt.errors import RustpuntError, ScriptError, VoiceError
from rustpunt.export import check_encoder
from rustpunt.files import remove_stale_parts
from rustpunt.script import load_script
from rustpunt.session import (
    BuildOptions,
    BuildResult,
    build_script,
    chosen_voice,
    output_paths,
    prepare,
    voices_for,
)

log = logging.getLogger(__name__)

SCRIPT_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Job:
    script: Path
    output_dir: Path
    """Where this script's outputs go: a script in a subfolder keeps that subfolder under output."""


def find_scripts(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(script, folder relative to its input) for files given and YAML files found under folders.

    Folders named voices/ hold voice profiles, not scripts, and hidden folders are skipped.
    """
    found: list[tuple[Path, Path]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                relative = candidate.relative_to(path)
                if (
                    candidate.suffix in SCRIPT_SUFFIXES
                    and candidate.is_file()
                    and not any(
                        part.startswith(".") or part == "voices" for part in relative.parts[:-1]
                    )
                    and not candidate.name.startswith(".")
                ):
                    found.append((candidate, relative.parent))
        else:
            found.append((path, Path()))
    return list(dict.fromkeys(found))


def jobs_for(paths: Iterable[Path], output_dir: Path) -> list[Job]:
    """One job per script; two scripts that would write the same MP3 are an error up front."""
    jobs = [Job(script, output_dir / sub) for script, sub in find_scripts(paths)]
    claimed: dict[Path, Path] = {}
    for job in jobs:
        target = output_paths(job.script, job.output_dir)["mp3"]
        if target in claimed:
            raise RustpuntError(
                f"{claimed[target]} and {job.script} would both be built into {target}; "
                "rename one, or build them into different folders with -o"
            )
        claimed[target] = job.script
    return jobs


@dataclass(frozen=True)
class CheckResult:
    script: Path
    error: ScriptError | None


def check_scripts(paths: Iterable[Path], voices_dirs: Sequence[Path] = ()) -> list[CheckResult]:
    """Validate scripts and their voice names without any audio work."""
    results = []
    for script_path, _ in find_scripts(paths):
        try:
            script = load_script(script_path)
            chosen_voice(script, voices_for(script_path, tuple(voices_dirs)), None)
            results.append(CheckResult(script_path, None))
        except ScriptError as error:
            results.append(CheckResult(script_path, error))
        except VoiceError as error:
            results.append(CheckResult(script_path, ScriptError(script_path, None, str(error))))
    return results


def _guarded(
    action: Callable[[Path, BuildOptions], BuildResult | None], job: Job, options: BuildOptions
) -> BuildResult | None:
    """Run one job's step and turn any failure into a failed result, so the batch goes on."""
    try:
        return action(job.script, replace(options, output_dir=job.output_dir))
    except RustpuntError as error:
        message = str(error)  # every failure line names the script, even an engine's error
        if not message.startswith(str(job.script)):
            message = f"{job.script}: {message}"
        return BuildResult(job.script, "failed", error=message)
    except Exception as error:  # an unexpected bug must not stop the other scripts either
        log.debug("unexpected failure building %s", job.script, exc_info=True)
        return BuildResult(
            job.script,
            "failed",
            error=f"{job.script}: internal error: {error!r} (please report this)",
        )


def _build_one(
    job: Job, options: BuildOptions, on_clip: Callable[[int, int], None] | None = None
) -> BuildResult:
    result = _guarded(lambda script, opts: build_script(script, opts, on_clip), job, options)
    assert result is not None
    return result


def _current(job: Job, options: BuildOptions) -> BuildResult | None:
    """The result of a job that needs no building (up to date, or invalid), else None."""
    return _guarded(lambda script, opts: prepare(script, opts).up_to_date, job, options)


def _init_worker(request_slots: Any, parent_pid: int) -> None:
    """Share one limit on concurrent Google requests across all worker processes; leave Ctrl-C to
    the parent, which stops the workers (an interrupt inside espeak's callback would only print a
    traceback and let the worker go on); and die with the parent, however it dies."""
    from rustpunt.engines import google

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler, inherited by fork
    google.REQUEST_SLOTS = request_slots
    _die_with_parent(parent_pid)


PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal the kernel sends this process when its parent dies (Linux)."""

PARENT_POLL_SECONDS = 0.5
"""How often a worker looks whether its parent is still there, where the kernel cannot tell it."""


def _die_with_parent(parent_pid: int) -> None:
    """A worker whose parent was killed (kill -9, an out-of-memory kill) stops at once instead of
    running on forever under PID 1: the kernel kills it on Linux, a watching thread elsewhere."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="rustpunt-parent-watch", daemon=True
    ).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)  # orphaned: what this worker was writing stays a .part file for the next build


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While a build runs, SIGTERM (a service manager, `kill`) stops it as Ctrl-C does: workers
    stopped, nothing half-written in view, KeyboardInterrupt for the caller to report."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals
        return
    previous = signal.signal(signal.SIGTERM, _interrupt_on_terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt_on_terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # held by the espeak engine while it speaks, raised when it returns


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def worker_count(requested: int | None, pending: int) -> int:
    """Worker processes worth starting: never more than the CPUs (speech and encoding keep a CPU
    busy, and Google's requests are limited to two at once whatever the count), nor than the
    scripts to build. Each worker costs about 45 MB; 50 on 2 CPUs were slower than 2."""
    cpus = usable_cpus()
    count = max(1, min(requested or cpus, cpus, pending))
    if requested is not None and requested > cpus and pending > cpus:
        log.warning(
            "--jobs %d: %d at once, as many as this machine has CPUs; more would only compete",
            requested,
            count,
        )
    return count


def preflight(jobs: Sequence[Job], options: BuildOptions) -> None:
    """Before any synthesis: the encoder works and every output folder takes files (a codec or
    folder problem found after an hour of speech wastes the hour), and so does the clip cache;
    leftovers of killed builds go."""
    for folder in dict.fromkeys(job.output_dir for job in jobs):
        check_encoder(folder)
        remove_stale_parts(folder)
    options.cache.check()
    remove_stale_parts(options.cache.clips, "*/.*.part")


def build_all(
    jobs: Sequence[Job],
    options: BuildOptions,
    *,
    workers: int | None = None,
    on_done: Callable[[BuildResult], None] | None = None,
    on_clip: Callable[[Path, int, int], None] | None = None,
    checked: bool = False,
) -> list[BuildResult]:
    """Build every job, in parallel processes when workers > 1; results in the order of jobs.

    `on_done` hears of every finished job; `on_clip(script, done, total)` of every clip spoken,
    when the jobs are built in this process (one at a time). `checked`: preflight() was run.
    """
    with _terminate_as_interrupt():
        return _build_all(
            jobs, options, workers=workers, on_done=on_done, on_clip=on_clip, checked=checked
        )


def _build_all(
    jobs: Sequence[Job],
    options: BuildOptions,
    *,
    workers: int | None,
    on_done: Callable[[BuildResult], None] | None,
    on_clip: Callable[[Path, int, int], None] | None,
    checked: bool,
) -> list[BuildResult]:
    if not checked:
        preflight(jobs, options)
    results: dict[int, BuildResult] = {}
    todo: list[int] = []
    for index, job in enumerate(jobs):  # no-op checks here: no process is started for them
        current = _current(job, options)
        if current is None:
            todo.append(index)
            continue
        results[index] = current
        if on_done:
            on_done(current)
    workers = worker_count(workers, len(todo))
    if workers == 1:
        for index in todo:
            script = jobs[index].script
            clip_told = (
                (lambda done, total, script=script: on_clip(script, done, total))
                if on_clip
                else None
            )
            results[index] = _build_one(jobs[index], options, clip_told)
            if on_done:
                on_done(results[index])
        return [results[i] for i in range(len(jobs))]
    from rustpunt.engines import google

    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    slots = context.BoundedSemaphore(google.MAX_CONCURRENT_REQUESTS)
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(slots, os.getpid()),
    ) as pool:
        futures = {pool.submit(_build_one, jobs[index], options): index for index in todo}
        try:
            for future in concurrent.futures.as_completed(futures):
                index = futures[future]
                try:
                    results[index] = future.result()
                except Exception as error:  # a worker that died (killed, out of memory)
                    results[index] = BuildResult(
                        jobs[index].script,
                        "failed",
                        error=f"{jobs[index].script}: worker died: {error}",
                    )
                if on_done:
                    on_done(results[index])
        except BaseException:  # Ctrl-C: stop now; what was being written stays a hidden .part file,
            pool.shutdown(wait=False, cancel_futures=True)  # removed by the next build
            for worker in multiprocessing.active_children():
                worker.terminate()
            raise
    return [results[i] for i in range(len(jobs))]


@dataclass(frozen=True)
class Report:
    results: list[BuildResult]
    wall_seconds: float

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def audio_minutes(self) -> float:
        return sum(r.duration_ms for r in self.results if r.status != "failed") / 60_000

    def document(self) -> dict[str, Any]:
        return {
            "built": self.count("built"),
            "up_to_date": self.count("up to date"),
            "failed": self.count("failed"),
            "audio_minutes": round(self.audio_minutes, 2),
            "wall_seconds": round(self.wall_seconds, 2),
            "scripts": [
                {
                    "script": str(r.script),
                    "status": r.status,
                    "mp3": str(r.mp3) if r.mp3 else None,
                    "duration_ms": r.duration_ms,
                    "voice": r.voice,
                    "fallback_reason": r.fallback_reason,
                    "synthesized": r.synthesized,
                    "error": r.error,
                }
                for r in self.results
            ],
        }


def timed_build(jobs: Sequence[Job], options: BuildOptions, **kwargs: Any) -> Report:
    started = time.perf_counter()
    results = build_all(jobs, options, **kwargs)
    return Report(results, time.perf_counter() - started)
