"""Worker processes for a batch (the espeak library keeps global state, so threads would not do):
each worker makes its own Workspace (its caches on the build's cache folder and URL) and Voices,
ignores Ctrl-C (the parent stops it), unwinds its build on SIGTERM and dies with its parent.
SIGTERM to the parent stops a build as Ctrl-C does."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rustpunt.build.jobs import Job, Progress, _build_one, remove_leftovers
from rustpunt.build.options import BuildOptions, BuildResult, BuildStatus
from rustpunt.build.workspace import Workspace
from rustpunt.errors import shown

if TYPE_CHECKING:
    from rustpunt.voice.speak import Voices

log = logging.getLogger(__name__)


_worker_voices: Voices | None = None
"""A worker process's own Voices, made by _init_worker: it lives as long as the process."""


_worker_workspace: Workspace | None = None
"""A worker's own Workspace, beside its Voices (a global: the pool initializer's only way in)."""


def _init_worker(options: BuildOptions, request_slots: Any, parent_pid: int) -> None:
    """A worker's Workspace is made from the build's plain options, its caches with it, and its
    Voices speak through that clip cache. The voices share one limit on requests to Google with every other worker; Ctrl-C
    is left to the parent, which stops the workers (an interrupt inside espeak's callback would
    only print a traceback and let the worker go on); and the worker dies with its parent,
    however the parent dies."""
    from rustpunt.voice.speak import Voices

    global _worker_voices, _worker_workspace
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)  # not the parent's handler, inherited by fork
    _worker_workspace = Workspace.for_options(options)
    _worker_voices = Voices(_worker_workspace.clips, request_slots=request_slots)
    _die_with_parent(parent_pid)


_worker_building = False
"""True while a worker builds a job: SIGTERM then unwinds the build before the worker ends."""


class _WorkerStopped(BaseException):
    """SIGTERM (the parent stopping its workers) in the middle of a build. Not an Exception, so
    no handler of a build's failures takes it: it unwinds the build as Ctrl-C unwinds one in
    the main process (ffmpeg stopped, temporary files removed), and the worker ends."""


def _stop_worker(signum: int, frame: Any) -> None:
    if not _worker_building:
        os._exit(1)  # idle: nothing of this worker's is on disk
    raise _WorkerStopped  # held by the espeak engine while it speaks, raised when it returns


WORKER_STOP_SECONDS = 10.0
"""How long a stopped build waits for its workers to unwind (espeak finishes the sentence it is
speaking first; an ffmpeg is killed at once)."""


PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal the kernel sends this process when its parent dies (Linux)."""


PARENT_POLL_SECONDS = 0.5
"""How often a worker looks whether its parent is still there, where the kernel cannot tell it."""


def _die_with_parent(parent_pid: int) -> None:
    """A worker whose parent was killed (kill -9, an out-of-memory kill) stops at once instead of
    running on forever under PID 1: the kernel kills it on Linux, a watching thread elsewhere."""
    if sys.platform.startswith("linux"):
        import ctypes

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
def terminate_as_interrupt() -> Iterator[None]:
    """While a build (or a watch) runs, SIGTERM (a service manager, `kill`) stops it as Ctrl-C
    does: workers stopped, nothing half-written in view, KeyboardInterrupt for the caller to
    report."""
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


def _build_in_worker(job: Job, options: BuildOptions) -> BuildResult:
    global _worker_building
    assert _worker_voices is not None, "_init_worker sets up every worker"
    assert _worker_workspace is not None, "_init_worker sets up every worker"
    _worker_building = True
    try:
        return _build_one(job, options, _worker_voices, _worker_workspace)
    except _WorkerStopped:
        os._exit(1)  # unwound: what this job was writing is gone; take no further job
    finally:
        _worker_building = False


def build_in_parallel(
    jobs: Sequence[Job],
    options: BuildOptions,
    workspace: Workspace,
    workers: int,
    on_done: Progress | None = None,
) -> list[BuildResult]:
    """Build jobs in worker processes (espeak keeps global state: threads would not do), each
    with a Workspace of its own on the same cache folder and URL as this build's `workspace`."""
    import concurrent.futures
    import multiprocessing

    from rustpunt.voice.engines.google import MAX_CONCURRENT_REQUESTS

    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    slots = context.BoundedSemaphore(MAX_CONCURRENT_REQUESTS)
    results: dict[int, BuildResult] = {}
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(workspace.passed_on(options), slots, os.getpid()),
    ) as pool:
        futures = {pool.submit(_build_in_worker, job, options): i for i, job in enumerate(jobs)}
        try:
            for future in concurrent.futures.as_completed(futures):
                index = futures[future]
                try:
                    results[index] = future.result()
                except Exception as error:  # a worker that died (killed, out of memory)
                    results[index] = BuildResult(
                        jobs[index].script,
                        BuildStatus.FAILED,
                        error=f"{shown(jobs[index].script)}: worker died: {error}",
                    )
                if on_done:
                    on_done(results[index])
        except BaseException:
            # Ctrl-C or SIGTERM: stop now and leave nothing half-written. Each worker unwinds
            # its build on SIGTERM (its temporary files removed); wait for that, or the workers
            # die with this process and what they were writing stays until the next build.
            # Then sweep what a worker stopped the very moment it made a file could not remove.
            children = multiprocessing.active_children()
            for worker in children:
                worker.terminate()
            deadline = time.monotonic() + WORKER_STOP_SECONDS
            for worker in children:
                worker.join(max(0.0, deadline - time.monotonic()))
            # Only then shut the pool down, waiting for its manager thread (which ends at once:
            # its workers are gone). Shut down without waiting, the thread closed its wake-up
            # pipe while the interpreter's exit hook wrote to it (CPython 3.11), and "Exception
            # ignored ... Bad file descriptor" followed "Interrupted." (1 run in 30). Cancelling
            # the futures here by hand races the thread too (InvalidStateError).
            pool.shutdown(wait=True, cancel_futures=True)
            with contextlib.suppress(OSError):
                remove_leftovers(jobs, workspace)
            raise
    return [results[i] for i in range(len(jobs))]
