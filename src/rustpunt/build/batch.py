"""Build many scripts: every good script is built even when others are bad.

Scripts are built in parallel processes (rustpunt.build.pool: the espeak library keeps global
state, so threads would not do); each failure becomes one line in the report and never stops the
others. Scripts become jobs in rustpunt.build.jobs; `rustpunt check` is rustpunt.build.check.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rustpunt.build.jobs import ClipProgress, Job, Progress, _build_one, _guarded, remove_leftovers
from rustpunt.build.options import BuildOptions, BuildResult, BuildStatus, is_episode_file
from rustpunt.build.pool import build_in_parallel, terminate_as_interrupt, worker_count
from rustpunt.build.uptodate import Ledger, noted
from rustpunt.build.workspace import Workspace
from rustpunt.errors import RustpuntError, shown
from rustpunt.files import check_writable

if TYPE_CHECKING:
    from rustpunt.build.session import Prepared
    from rustpunt.voice.speak import Voices

# The audio side (session, episode, speak, export, numpy) is imported where a script is checked
# or built: a no-op rebuild, which only compares file stamps (rustpunt.build.uptodate), never needs it.

log = logging.getLogger(__name__)


def check_voice_named(jobs: Sequence[Job], options: BuildOptions) -> None:
    """An unknown --voice fails before any work: at once when no voice folder of the scripts
    has a profile of that name (by its file name, without reading any), else in full once some
    script is to be checked (check_voice_override)."""
    if not options.voice or not jobs:
        return
    from rustpunt.voice.profiles import builtin_voices_dir

    folders = dict.fromkeys(
        [
            builtin_voices_dir(),
            *(job.script.parent / "voices" for job in jobs),
            *options.voices_dirs,
        ]
    )
    names = [f"{options.voice}.yaml", f"{options.voice}.yml"]
    if not any((Path(folder) / name).is_file() for folder in folders for name in names):
        check_voice_override(jobs, options)


def check_voice_override(
    jobs: Sequence[Job], options: BuildOptions, workspace: Workspace | None = None
) -> None:
    """An unknown --voice fails before any work, listing the voices known to the scripts."""
    if not options.voice or not jobs:
        return
    from rustpunt.build.session import voices_for

    inputs = (workspace or Workspace.for_options(options)).inputs
    registries = [voices_for(job.script, options.voices_dirs, inputs) for job in jobs]
    if all(options.voice not in registry.profiles for registry in registries):
        registries[0].get(options.voice)


def preflight(jobs: Sequence[Job], options: BuildOptions, workspace: Workspace) -> None:
    """Before any synthesis: --voice names a profile, every output folder takes files and so
    does the clip cache (a folder problem found after an hour of speech wastes the hour);
    leftovers of killed builds go. The --voice profile is read by build_all once it knows
    something is to be checked or built, and the encoder is tried before the first sentence is
    spoken (before the workers start, when they are several): a no-op rebuild reads no voice
    profile, and a rebuild that speaks nothing starts no ffmpeg it does not need."""
    check_voice_named(jobs, options)
    for folder in dict.fromkeys(job.output_dir for job in jobs):
        check_writable(folder)
    workspace.clips.check()
    remove_leftovers(jobs, workspace)


def _settled(
    job: Job,
    options: BuildOptions,
    voices: Callable[[], Voices],
    workspace: Workspace,
    on_prepared: Callable[[Prepared, Iterable[str]], None] | None = None,
) -> BuildResult | None:
    """The result of a job that needs no building (up to date, or invalid), else None: the full
    check, which reads and plans the script (`on_prepared` hears what it found, and every file
    it read through the workspace).

    A session spoken by a fallback voice is up to date until its own voice can speak again;
    `voices()` asks that once per voice for the whole build."""
    from rustpunt.build.session import prepare

    if job.clash:
        return BuildResult(
            job.script, BuildStatus.FAILED, error=f"{shown(job.script)}: {job.clash}"
        )

    def settle() -> BuildResult | None:
        if is_episode_file(job.script):
            from rustpunt.build.episode import settled as episode_settled

            return episode_settled(
                job.script, replace(options, output_dir=job.output_dir), workspace
            )
        with workspace.inputs.noting() as read:
            prepared = prepare(job.script, replace(options, output_dir=job.output_dir), workspace)
        if on_prepared is not None:
            on_prepared(prepared, read)
        if prepared.fell_back and voices().reachable_now(prepared.registry.get(prepared.voice)):
            return None
        return prepared.up_to_date

    return _guarded(settle, job)


def find_pending(
    jobs: Sequence[Job],
    options: BuildOptions,
    voices: Callable[[], Voices],
    on_done: Progress | None = None,
    ledger: Ledger | None = None,
    on_stamped: Callable[[float], None] | None = None,
    workspace: Workspace | None = None,
) -> tuple[dict[int, BuildResult], list[int]]:
    """The results of jobs that need no building (told to on_done), and the indexes of the rest.

    Runs in this process: a no-op rebuild of hundreds of scripts starts no worker at all. A job
    whose stamps in `ledger` all match is up to date without being read (`on_stamped` hears how
    long that took for all); the others take the full check, and `ledger` notes what each one
    read, to record it once the batch is done."""
    workspace = workspace or Workspace.for_options(options)
    started = time.perf_counter()
    results: dict[int, BuildResult] = {}
    unknown: list[int] = []
    for index, job in enumerate(jobs):
        current = _recorded(job, options, voices, ledger, workspace)
        if current is None:
            unknown.append(index)
            continue
        results[index] = current
        if on_done:
            on_done(current)
    if on_stamped:
        on_stamped(time.perf_counter() - started)
    if unknown:
        check_voice_override(jobs, options, workspace)  # a broken --voice fails before any work
    todo: list[int] = []
    for index in unknown:
        job = jobs[index]
        on_prepared = None
        if ledger is not None:
            on_prepared = functools.partial(_note, ledger, job, time.time_ns())
        current = _settled(job, options, voices, workspace, on_prepared)
        if current is None:
            todo.append(index)
            continue
        results[index] = current
        if on_done:
            on_done(current)
    return results, todo


def _recorded(
    job: Job,
    options: BuildOptions,
    voices: Callable[[], Voices],
    ledger: Ledger | None,
    workspace: Workspace,
) -> BuildResult | None:
    """The result of a job whose recorded stamps all still match (rustpunt.build.uptodate), else None.
    A session spoken by a fallback voice stays up to date only while its own voice cannot speak."""
    if ledger is None or options.force or job.clash:
        return None
    recorded = ledger.recorded(job.script, job.output_dir)
    if recorded is None:
        return None
    if recorded.fell_back:
        from rustpunt.voice.profiles import voices_for

        try:
            registry = voices_for(job.script, options.voices_dirs, workspace.inputs)
            profile = registry.get(recorded.requested)
        except RustpuntError:
            return None  # the full check says what is wrong
        if voices().reachable_now(profile):
            return None
    return recorded.result


def _note(
    ledger: Ledger, job: Job, started_ns: int, prepared: Prepared, read: Iterable[str]
) -> None:
    """What the full check of a job read, for its record; a failure here costs only the record."""
    try:
        ledger.note(job.script, noted(prepared, read, started_ns))
    except Exception:  # bookkeeping must never fail a build
        log.debug("cannot note the inputs of %s", job.script, exc_info=True)


def _voices_when_needed(workspace: Workspace, given: Voices | None = None) -> Callable[[], Voices]:
    """The build's Voices (`given`, else made on first use: a no-op rebuild never imports the
    engines)."""

    @functools.cache
    def voices() -> Voices:
        return given if given is not None else new_voices(workspace)

    return voices


def new_voices(workspace: Workspace) -> Voices:
    """The Voices of a build in this process, speaking through the workspace's clip cache: its
    encoder is tried before its first sentence is spoken (a broken ffmpeg found after an hour of
    speech wastes the hour)."""
    from rustpunt.voice.speak import Voices

    return Voices(workspace.clips, before_synthesis=_check_encoder)


def _check_encoder() -> None:
    """mp3.export's check, imported when it runs: asking whether a voice can speak (a no-op
    rebuild of sessions spoken by a fallback asks it) needs no numpy."""
    from rustpunt.mp3.export import check_encoder

    check_encoder()


def build_serially(
    jobs: Sequence[Job],
    options: BuildOptions,
    voices: Voices,
    on_done: Progress | None = None,
    on_clip: ClipProgress | None = None,
    workspace: Workspace | None = None,
) -> list[BuildResult]:
    """Build jobs one after the other in this process, telling on_clip of every clip spoken."""
    workspace = workspace or Workspace.for_options(options)
    results = []
    for job in jobs:
        clip_told = (
            (lambda done, total, script=job.script: on_clip(script, done, total))
            if on_clip
            else None
        )
        result = _build_one(job, options, voices, workspace, clip_told)
        results.append(result)
        if on_done:
            on_done(result)
    return results


def build_counts(results: Iterable[BuildResult]) -> dict[str, int]:
    """Clips spoken, and read from the local and the remote cache, by the builds in `results`."""
    results = list(results)
    return {
        "spoken": sum(r.synthesized for r in results),
        "local_hits": sum(r.from_cache for r in results),
        "remote_hits": sum(r.from_remote for r in results),
    }


def build_all(
    jobs: Sequence[Job],
    options: BuildOptions,
    *,
    workers: int | None = None,
    on_done: Progress | None = None,
    on_clip: ClipProgress | None = None,
    on_checked: Callable[[float, float], None] | None = None,
    checked: bool = False,
    shared_voices: Voices | None = None,
    cluster: str | None = None,
    workspace: Workspace | None = None,
) -> list[BuildResult]:
    """Build every job, in parallel processes when workers > 1, on a Dask cluster when `cluster`
    names its scheduler (rustpunt.build.cluster); results in the order of jobs.

    `on_done` hears of every finished job; `on_clip(script, done, total)` of every clip spoken,
    when the jobs are built in this process (one at a time); `on_checked(seconds, by_stamps)`
    how long finding the jobs to build took, and how much of it went to the jobs found up to
    date by their stamps alone. `checked`: preflight() was run. `shared_voices`: the Voices to
    build with in this process (rustpunt.build.watch keeps its engines), else one made on first use.
    `workspace`: what lives for the build, its caches among it (the watch keeps its own), else
    one made from the options; `shared_voices` must speak through its clip cache.
    """
    workspace = workspace or Workspace.for_options(options)
    with terminate_as_interrupt():
        if not checked:
            preflight(jobs, options, workspace)
        voices = _voices_when_needed(workspace, shared_voices)
        started = time.perf_counter()
        ledger = Ledger.open(options, workspace.clips.root)
        opened = time.perf_counter() - started
        stamped: list[float] = []
        results, todo = find_pending(
            jobs, options, voices, on_done, ledger, stamped.append, workspace
        )
        if on_checked:
            on_checked(time.perf_counter() - started, opened + sum(stamped))
        built: list[BuildResult] = []
        if todo:
            count = worker_count(workers, len(todo))
            pending = [jobs[index] for index in todo]
            if count > 1 and cluster is None:  # serially, Voices checks it before speaking
                from rustpunt.mp3.export import check_encoder

                check_encoder()  # before any speech: a codec problem found after an hour wastes it
            if cluster is not None:
                from rustpunt.build.cluster import build_on_cluster

                built = build_on_cluster(pending, options, workspace, cluster, on_done)
            elif count == 1:
                built = build_serially(pending, options, voices(), on_done, on_clip, workspace)
            else:
                built = build_in_parallel(pending, options, workspace, count, on_done)
        results.update(zip(todo, built))
        if built:
            from rustpunt.remote import add_stats

            add_stats(workspace.clips.root, build_counts(built))
        ordered = [results[i] for i in range(len(jobs))]
        for job, result in zip(jobs, ordered):
            ledger.finish(job.script, job.output_dir, result)
        ledger.save()  # by this process alone, once: workers never write the record
        return ordered


@dataclass(frozen=True)
class Report:
    results: list[BuildResult]
    wall_seconds: float
    check_seconds: float = 0.0
    """Of wall_seconds, the time spent finding which scripts to build."""
    stamp_check_seconds: float = 0.0
    """Of check_seconds, the time spent on the scripts found up to date by their stamps alone
    (rustpunt.build.uptodate); the rest went to checking the others in full (and the imports that
    takes)."""

    def count(self, status: BuildStatus) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def audio_minutes(self) -> float:
        return sum(r.duration_ms for r in self.results if r.status != BuildStatus.FAILED) / 60_000

    def document(self) -> dict[str, Any]:
        return {
            "built": self.count(BuildStatus.BUILT),
            "up_to_date": self.count(BuildStatus.UP_TO_DATE),
            "failed": self.count(BuildStatus.FAILED),
            "audio_minutes": round(self.audio_minutes, 2),
            "wall_seconds": round(self.wall_seconds, 2),
            "check_seconds": round(self.check_seconds, 3),
            "stamp_check_seconds": round(self.stamp_check_seconds, 3),
            "scripts": [
                {
                    "script": shown(r.script),
                    "status": r.status.value,
                    "mp3": shown(r.mp3) if r.mp3 else None,
                    "duration_ms": r.duration_ms,
                    "voice": r.voice,
                    "fallback_reason": r.fallback_reason,
                    "synthesized": r.synthesized,
                    "respoken": r.respoken,
                    "from_cache": r.from_cache,
                    "from_remote": r.from_remote,
                    **({"worker": r.worker} if r.worker else {}),
                    "error": r.error,
                }
                for r in self.results
            ],
            "clips": build_counts(self.results),
            **({"remote_cache_problem": self.remote_problem} if self.remote_problem else {}),
        }

    @property
    def remote_problem(self) -> str | None:
        """Why the remote cache was not used, said once for the whole build."""
        return next((r.remote_problem for r in self.results if r.remote_problem), None)


def timed_build(jobs: Sequence[Job], options: BuildOptions, **kwargs: Any) -> Report:
    started = time.perf_counter()
    checking: list[tuple[float, float]] = []
    results = build_all(
        jobs, options, on_checked=lambda *seconds: checking.append(seconds), **kwargs
    )
    check, stamps = checking[0] if checking else (0.0, 0.0)
    return Report(results, time.perf_counter() - started, check, stamps)
