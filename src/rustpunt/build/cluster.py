"""Build on a Dask cluster (`rustpunt build --cluster tcp://SCHEDULER:8786`): one task per script
in place of the local pool; the same builds, report and exit codes.

Inputs: a worker reads the scripts (and their voices/, lexicon.yaml, sound.yaml) at the paths
the client gives, from the client's working folder: every worker needs the same checkout at the
same path (a shared folder, or the same commit checked out in the workers' image).

Outputs: a worker builds into a temporary folder of its own and returns the files' bytes; the
client writes them into the output folder, all of a script's files renamed into place together.
So the workers need no write access to the client's disk, no shared file system holds half a
file, and a worker that dies mid-build leaves nothing behind where it matters: Dask runs its
task again on another worker, and the client writes only what a finished task returned.

Google's rate limit is per client address, and a cluster's workers often leave through one
address (a NAT, a CI network): a distributed Semaphore named `rustpunt-google-requests` holds
the requests in flight across the whole cluster to the same two that a local pool allows, so
more workers never means more requests at once (each request still waits its 0.2 s spacing
in its own process).

With --cache-url the workers share the remote cache; each uses the client's local cache folder
if it can (the same machine, a LocalCluster) and its own user cache folder otherwise.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rustpunt.build.options import BuildOptions, BuildResult, BuildStatus
from rustpunt.errors import RustpuntError, shown

if TYPE_CHECKING:
    from rustpunt.build.jobs import Job
    from rustpunt.build.workspace import Workspace
    from rustpunt.voice.speak import Voices

CONNECT_SECONDS = 10
SEMAPHORE_NAME = "rustpunt-google-requests"

_BUILD_LOCK = threading.Lock()
"""One build at a time per worker process: the espeak library keeps global state, and a build
changes the working folder (a worker started with several threads still builds one by one)."""
_worker_builds: dict[tuple[str, str | None], tuple[Workspace, Voices]] = {}
"""Each worker process's Workspace and Voices, by the client's cache folder and remote URL: made
once per process (the process is the worker's unit, as in the local pool), its engines started
once."""


class ClusterError(RustpuntError):
    """The Dask scheduler cannot be used."""


def build_on_cluster(
    jobs: Sequence[Job],
    options: BuildOptions,
    workspace: Workspace,
    address: str,
    on_done: Callable[[BuildResult], None] | None = None,
) -> list[BuildResult]:
    """Build each job as one Dask task; results in the order of jobs. Each worker makes its own
    Workspace on the cache folder and URL of this build's `workspace`."""
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError(
            "--cluster needs Dask distributed: pip install 'rustpunt[cluster]'"
        ) from None
    try:
        client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(
            f"--cluster {address}: cannot reach the Dask scheduler ({error}); start one with "
            "`dask scheduler` and workers with `dask worker ADDRESS --nthreads 1`"
        ) from None
    try:
        with client.as_current():
            return _submitted(client, jobs, workspace.passed_on(options), on_done)
    finally:
        client.close()


def _submitted(
    client: Any,
    jobs: Sequence[Job],
    options: BuildOptions,
    on_done: Callable[[BuildResult], None] | None,
) -> list[BuildResult]:
    from distributed import Semaphore, as_completed

    from rustpunt.voice.engines.google import MAX_CONCURRENT_REQUESTS

    slots = Semaphore(max_leases=MAX_CONCURRENT_REQUESTS, name=SEMAPHORE_NAME)  # on the scheduler
    folder = os.getcwd()
    run = uuid.uuid4().hex[:8]
    futures = {
        client.submit(
            build_task, job, options, folder, slots, key=f"rustpunt-{run}-{index}", pure=False
        ): index
        for index, job in enumerate(jobs)
    }
    results: dict[int, BuildResult] = {}
    try:
        for future in as_completed(futures):
            index = futures[future]
            job = jobs[index]
            try:
                result, files = future.result()
                results[index] = _written(job, result, files)
            except Exception as error:  # the task's workers kept dying, or writing failed
                results[index] = BuildResult(
                    job.script,
                    BuildStatus.FAILED,
                    error=f"{shown(job.script)}: {_reason(error)}",
                )
            if on_done:
                on_done(results[index])
    except BaseException:  # Ctrl-C: the cluster stops this build's tasks too
        client.cancel(list(futures))
        raise
    return [results[index] for index in range(len(jobs))]


def _reason(error: BaseException) -> str:
    name = type(error).__name__
    if name == "KilledWorker":
        return "the workers building it died, again and again (out of memory?)"
    if isinstance(error, OSError):
        return f"cannot write the outputs: {error}"
    return f"the cluster failed to build it: {' '.join(str(error).split())[:300]}"


def _written(job: Job, result: BuildResult, files: dict[str, bytes]) -> BuildResult:
    """A task's outputs written into the job's folder, all renamed into place together (the
    sidecar, whose presence says the set is complete, last)."""
    from rustpunt.files import atomic_paths

    if not files:
        return result
    job.output_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(files, key=lambda name: (name.endswith(".json"), name))
    with atomic_paths([job.output_dir / name for name in names]) as temporaries:
        for name, temporary in zip(names, temporaries):
            temporary.write_bytes(files[name])
    mp3 = job.output_dir / result.mp3.name if result.mp3 is not None else None
    return replace(result, mp3=mp3)


def build_task(
    job: Job, options: BuildOptions, folder: str, slots: Any
) -> tuple[BuildResult, dict[str, bytes]]:
    """On a worker: build one script into a temporary folder, and return the result with the
    bytes of every file it wrote."""
    from distributed import get_worker

    from rustpunt.build.jobs import _build_one

    worker = get_worker().address
    with _BUILD_LOCK:
        if not os.path.isdir(folder):
            return BuildResult(
                job.script,
                BuildStatus.FAILED,
                error=f"{shown(job.script)}: worker {worker} has no folder {folder}; workers read "
                "the scripts at the client's paths (a shared folder, or the same checkout)",
                worker=worker,
            ), {}
        workspace, voices = _worker_build(options, slots)
        scratch = Path(tempfile.mkdtemp(prefix="rustpunt-task-"))
        previous = os.getcwd()
        try:
            os.chdir(folder)
            job_here = replace(job, output_dir=scratch)
            here = replace(options, published_dir=job.output_dir)
            result = _build_one(job_here, here, voices, workspace)
            files = {
                path.name: path.read_bytes()
                for path in scratch.iterdir()
                if path.is_file() and not path.name.startswith(".")
            }
        finally:
            os.chdir(previous)
            shutil.rmtree(scratch, ignore_errors=True)
    return replace(result, worker=worker), files


def _worker_build(options: BuildOptions, slots: Any) -> tuple[Workspace, Voices]:
    """This worker's Workspace for the build's cache, and Voices speaking through its clip
    cache: made once per process. The client's cache folder if this worker can use it (the
    same machine, a LocalCluster), else the worker's own user cache folder."""
    from rustpunt.build.workspace import Workspace
    from rustpunt.mp3.export import check_encoder
    from rustpunt.voice.clipcache import CacheError, default_cache_dir
    from rustpunt.voice.speak import Voices

    key = (str(options.cache_dir), options.cache_url)
    if key not in _worker_builds:
        workspace = Workspace.for_options(options)
        try:
            workspace.clips.check()
        except CacheError:  # the client's folder is on another machine
            workspace = Workspace.for_options(replace(options, cache_dir=default_cache_dir()))
            workspace.clips.check()
        voices = Voices(workspace.clips, request_slots=slots, before_synthesis=check_encoder)
        _worker_builds[key] = (workspace, voices)
    return _worker_builds[key]
