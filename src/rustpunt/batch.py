"""Build or check many scripts: every good script is built even when others are bad.

Scripts are built in parallel processes (the espeak library keeps global state, so threads
would not do); each failure becomes one line in the report and never stops the others.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rustpunt.errors import (
    FileProblem,
    ProfileError,
    RustpuntError,
    ScriptError,
    VoiceError,
    shown,
)
from rustpunt.export import check_encoder
from rustpunt.files import remove_stale_parts
from rustpunt.plan import plan
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
"""Compared without case: `ADEM.YAML` from a Windows colleague is a script too."""


@dataclass(frozen=True)
class Job:
    script: Path
    output_dir: Path
    """Where this script's outputs go: a script in a subfolder keeps that subfolder under output."""
    clash: str | None = None
    """Why this script cannot be built (another script would write the same MP3), else None."""


def is_script_file(path: Path) -> bool:
    return path.suffix.lower() in SCRIPT_SUFFIXES and not path.name.startswith(".")


def find_scripts(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(script, folder relative to its input) for files given and YAML files found under folders.

    Folders named voices/ hold voice profiles, not scripts, and hidden folders are skipped. One
    file named twice (by a relative and an absolute path, or inside a folder also given) is one
    script.
    """
    found: dict[Path, tuple[Path, Path]] = {}
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                relative = candidate.relative_to(path)
                if (
                    is_script_file(candidate)
                    and candidate.is_file()
                    and not any(
                        part.startswith(".") or part == "voices" for part in relative.parts[:-1]
                    )
                ):
                    found.setdefault(candidate.resolve(), (candidate, relative.parent))
        else:
            found.setdefault(path.resolve(), (path, Path()))
    return list(found.values())


def jobs_for(paths: Iterable[Path], output_dir: Path) -> list[Job]:
    """One job per script. Two scripts that would write the same MP3 (`a.yaml` beside `a.yml`)
    both fail, saying why; the other scripts are not held up by them."""
    jobs = [Job(script, output_dir / sub) for script, sub in find_scripts(paths)]
    claims: dict[Path, list[int]] = {}
    for index, job in enumerate(jobs):
        target = output_paths(job.script, job.output_dir)["mp3"]
        claims.setdefault(target.resolve(), []).append(index)
    for target, indexes in claims.items():
        if len(indexes) > 1:
            names = [shown(jobs[index].script) for index in indexes]
            for index in indexes:
                others = ", ".join(name for name in names if name != shown(jobs[index].script))
                jobs[index] = replace(
                    jobs[index],
                    clash=f"{others} would be built into the same {shown(target)}; "
                    "rename one of them, or build them into different folders with -o",
                )
    return jobs


@dataclass(frozen=True)
class CheckResult:
    path: Path
    """The script checked, or a voice profile that cannot be used."""
    error: FileProblem | None


def check_scripts(paths: Iterable[Path], voices_dirs: Sequence[Path] = ()) -> list[CheckResult]:
    """Everything a build would refuse, without any audio work: the script, its plan (pause
    limits), its voice and fallbacks, clashing outputs; and voice profiles that cannot be used."""
    results = []
    profile_problems: dict[Path, ProfileError] = {}
    for job in jobs_for(paths, Path("output")):
        script_path = job.script
        registry = voices_for(script_path, tuple(voices_dirs))
        for error in registry.broken.values():
            profile_problems.setdefault(error.path, error)
        try:
            if job.clash:
                raise ScriptError(script_path, None, job.clash)
            script = load_script(script_path)
            plan(script)
            voice = chosen_voice(script, registry, None)
            registry.chain(voice)
            results.append(CheckResult(script_path, None))
        except FileProblem as error:
            results.append(CheckResult(script_path, error))
        except VoiceError as error:
            results.append(CheckResult(script_path, ScriptError(script_path, None, str(error))))
    results.extend(CheckResult(path, error) for path, error in sorted(profile_problems.items()))
    return results


def _guarded(
    action: Callable[[Path, BuildOptions], BuildResult | None], job: Job, options: BuildOptions
) -> BuildResult | None:
    """Run one job's step and turn any failure into a failed result, so the batch goes on."""
    try:
        return action(job.script, replace(options, output_dir=job.output_dir))
    except RustpuntError as error:
        message = str(error)  # every failure line names the script, even an engine's error
        if shown(job.script) not in message:
            message = f"{shown(job.script)}: {message}"
        return BuildResult(job.script, "failed", error=message)
    except Exception as error:  # an unexpected bug must not stop the other scripts either
        log.debug("unexpected failure building %s", job.script, exc_info=True)
        return BuildResult(
            job.script,
            "failed",
            error=f"{shown(job.script)}: internal error: {_short(repr(error))} (please report this)",
        )


def _short(text: str, limit: int = 300) -> str:
    """A message fit for one line: an exception's repr can hold a whole document."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _build_one(
    job: Job, options: BuildOptions, on_clip: Callable[[int, int], None] | None = None
) -> BuildResult:
    result = _guarded(lambda script, opts: build_script(script, opts, on_clip), job, options)
    assert result is not None
    return result


def _current(job: Job, options: BuildOptions) -> BuildResult | None:
    """The result of a job that needs no building (up to date, or invalid), else None."""
    if job.clash:
        return BuildResult(job.script, "failed", error=f"{shown(job.script)}: {job.clash}")
    return _guarded(lambda script, opts: prepare(script, opts).up_to_date, job, options)


def _init_worker(request_slots: Any) -> None:
    """Share one limit on concurrent Google requests across all worker processes; leave Ctrl-C to
    the parent, which stops the workers (an interrupt inside espeak's callback would only print a
    traceback and let the worker go on)."""
    from rustpunt.engines import google

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    google.REQUEST_SLOTS = request_slots


def preflight(jobs: Sequence[Job], options: BuildOptions) -> None:
    """Before any synthesis: the encoder works and every output folder takes files (a codec or
    folder problem found after an hour of speech wastes the hour); leftovers of killed builds go."""
    for folder in dict.fromkeys(job.output_dir for job in jobs):
        check_encoder(folder)
        remove_stale_parts(folder)
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
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
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
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(slots,)
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
                    "script": shown(r.script),
                    "status": r.status,
                    "mp3": shown(r.mp3) if r.mp3 else None,
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
