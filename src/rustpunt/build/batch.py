"""Build or check many scripts: every good script is built even when others are bad.

Scripts are built in parallel processes (the espeak library keeps global state, so threads
would not do); each failure becomes one line in the report and never stops the others.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rustpunt.build.options import (
    BuildOptions,
    BuildResult,
    BuildStatus,
    is_episode_file,
    output_paths,
)
from rustpunt.build.uptodate import Ledger, noted
from rustpunt.build.workspace import Workspace
from rustpunt.errors import FileProblem, RustpuntError, ScriptError, VoiceError, shown
from rustpunt.files import check_writable, remove_stale_parts

if TYPE_CHECKING:
    from rustpunt.build.session import Prepared
    from rustpunt.errors import ProfileError
    from rustpunt.voice.clipcache import ClipCache
    from rustpunt.voice.speak import Voices

# The audio side (session, episode, speak, export, numpy) is imported where a script is checked
# or built: a no-op rebuild, which only compares file stamps (rustpunt.build.uptodate), never needs it.

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


NOT_SCRIPTS = (
    "lexicon.yaml", "lexicon.yml", "podcast.yaml", "podcast.yml",
    "sound.yaml", "sound.yml",  # a folder's sound design (rustpunt.script.soundsettings)
)  # fmt: skip
"""YAML files beside the scripts that are settings, not scripts: a folder's pronunciation lexicon
and a podcast's show settings."""


def is_script_file(path: Path) -> bool:
    return (
        path.suffix.lower() in SCRIPT_SUFFIXES
        and not path.name.startswith(".")
        and path.name.lower() not in NOT_SCRIPTS
    )


def find_scripts(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(script, folder relative to its input) for files given and YAML files found under folders.

    Folders named voices/ hold voice profiles, not scripts, and hidden folders are skipped. One
    file named twice (by a relative and an absolute path, or inside a folder also given) is one
    script.
    """
    found: dict[Path, tuple[Path, Path]] = {}
    folders: dict[Path, Path] = {}
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
                    found.setdefault(_resolved(candidate, folders), (candidate, relative.parent))
        else:
            found.setdefault(path.resolve(), (path, Path()))
    return list(found.values())


def _resolved(path: Path, folders: dict[Path, Path]) -> Path:
    """path.resolve(), with each folder resolved once: a thousand scripts share a few folders."""
    if path.is_symlink():
        return path.resolve()
    if path.parent not in folders:
        folders[path.parent] = path.parent.resolve()
    return folders[path.parent] / path.name


def jobs_for(paths: Iterable[Path], output_dir: Path) -> list[Job]:
    """One job per script. Two scripts that would write the same MP3 (`a.yaml` beside `a.yml`)
    both fail, saying why; the other scripts are not held up by them."""
    jobs = [Job(script, output_dir / sub) for script, sub in find_scripts(paths)]
    claims: dict[Path, list[int]] = {}
    folders: dict[Path, Path] = {}
    for index, job in enumerate(jobs):
        target = output_paths(job.script, job.output_dir).mp3
        claims.setdefault(_resolved(target, folders), []).append(index)
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
    """The file checked: a script or episode, or a file named on the command line."""
    error: FileProblem | None
    warnings: tuple[str, ...] = ()
    """`FILE:LINE: warning: ...` lines that do not make the script invalid (words the lexicon
    would likely need)."""
    kind: str = "script"
    """What the file is: script, episode, lexicon, sound settings, voice profile, podcast
    settings; or `other` (YAML rustpunt does not read: passed over, `passed_over` says why)."""
    passed_over: str | None = None


@dataclass(frozen=True)
class CheckReport:
    results: list[CheckResult]
    warnings: list[str]
    """Problems that fail no checked file: voice profiles beside the scripts that cannot be used
    but that no checked script asks for (a build of these scripts does not fail on them)."""


def file_kind(path: Path) -> tuple[str, str | None]:
    """What a file named on the command line is, and why it is passed over when rustpunt does not
    read it: a pre-commit hook passes every YAML file of a commit (docker-compose.yml too)."""
    name = path.name
    settings = {"lexicon": "lexicon", "sound": "sound settings", "podcast": "podcast settings"}
    stem, suffix = name.lower().rsplit(".", 1) if "." in name else (name.lower(), "")
    if stem in settings and f".{suffix}" in SCRIPT_SUFFIXES:
        read = {"lexicon": ("lexicon.yaml",), "sound": ("sound.yaml", "sound.yml")}.get(
            stem, ("podcast.yaml",)
        )
        if name not in read:
            return "other", f"rustpunt reads {' or '.join(read)}, not {name}: rename it"
        if name == "sound.yml" and (path.parent / "sound.yaml").is_file():
            return "other", "sound.yaml beside it is the one rustpunt reads"
        return settings[stem], None
    if path.parent.name == "voices":
        return "voice profile", None
    if is_episode_file(path):
        return "episode", None
    if _has_script_key(path):
        return "script", None
    keys = _top_level_keys(path)
    if keys is None or any(_script_key(key) for key in keys):
        return "script", None  # YAML that cannot be read: the script loader says why
    if "engine" in keys:
        return "voice profile", None
    return "other", "not a rustpunt file (a script has `title:` and `steps:`)"


SCRIPT_MARKS = ("title", "steps", "intro", "outro")


def _script_key(key: str) -> bool:
    """A key only a script has, or a slip of one (`stpes`, `titel`): that file is checked as a
    script, so a misspelt one is reported, never passed over."""
    return bool(difflib.get_close_matches(key.lower(), SCRIPT_MARKS, n=1, cutoff=0.75))


_SCRIPT_MARK = re.compile(rb"^(?:title|steps)[ \t]*:", re.MULTILINE)


def _has_script_key(path: Path) -> bool:
    """`title:` or `steps:` at the top level, by a look at the bytes (as is_episode_file looks):
    a pre-commit hook names a thousand scripts, and reading each as YAML twice costs."""
    try:
        with open(path, "rb") as handle:
            return bool(_SCRIPT_MARK.search(handle.read(1 << 20)))
    except OSError:
        return False


def _top_level_keys(path: Path) -> set[str] | None:
    """The keys of a YAML mapping as written (tags such as mkdocs' !!python/name are not
    resolved); an empty set for YAML that is no mapping, None when it cannot be read."""
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeError, yaml.YAMLError):
        return None
    if not isinstance(node, yaml.MappingNode):
        return set()
    return {str(key.value) for key, _ in node.value if isinstance(key, yaml.ScalarNode)}


def _check_settings_file(path: Path, kind: str, voices_dirs: Sequence[Path]) -> None:
    """Read a lexicon, sound settings, a voice profile or podcast settings as rustpunt reads them;
    raise a FileProblem at the line of the first problem."""
    if kind == "lexicon":
        from rustpunt.voice.lexicon import read_file

        read_file(path)
    elif kind == "sound settings":
        from rustpunt.script.soundsettings import folder_settings

        folder_settings(path.parent)
    elif kind == "voice profile":
        from rustpunt.voice.profiles import check_profile_file

        check_profile_file(path, voices_dirs)
    elif kind == "podcast settings":
        from rustpunt.podcast.feed import load_channel_settings

        try:
            load_channel_settings(path.parent)
        except RustpuntError as error:  # "FILE:LINE: message" as text: a FileProblem again
            raise _file_problem(path, str(error)) from None


def _file_problem(path: Path, message: str) -> FileProblem:
    where = re.match(rf"{re.escape(str(path))}(?::(\d+))?: ", message)
    if where is None:
        return FileProblem(path, None, message)
    return FileProblem(path, int(where[1]) if where[1] else None, message[where.end() :])


def check_scripts(paths: Iterable[Path], voices_dirs: Sequence[Path] = ()) -> CheckReport:
    """Everything a build would refuse, without any audio work: the script, its plan (pause
    limits), its voice and fallbacks, clashing outputs. A file named on its own is checked as
    what it is (script, episode, lexicon, sound settings, voice profile, podcast settings) or
    passed over when rustpunt does not read it. A voice profile that cannot be used fails the
    scripts that ask for it, as in a build; one that no checked script asks for is a warning."""
    from rustpunt.audio.sounddesign import check_sound
    from rustpunt.build.length import check_length, known_speech
    from rustpunt.build.session import chosen_voice, voices_for
    from rustpunt.script.load import load_script
    from rustpunt.script.plan import plan
    from rustpunt.voice.spokentext import lexicon_warnings, script_lexicon

    results = []
    scripts: list[Path] = []
    for path in paths:
        kind, why = ("script", None) if Path(path).is_dir() else file_kind(Path(path))
        if kind in ("script", "episode"):
            scripts.append(path)
        elif why is not None:
            results.append(CheckResult(path, None, kind=kind, passed_over=why))
        else:
            try:
                _check_settings_file(path, kind, voices_dirs)
                results.append(CheckResult(path, None, kind=kind))
            except FileProblem as problem:
                results.append(CheckResult(path, problem, kind=kind))
    profile_problems: dict[Path, ProfileError] = {}
    inputs = Workspace().inputs  # hundreds of scripts share a few voice folders and lexicons
    for job in jobs_for(scripts, Path("output")) if scripts else []:
        script_path = job.script
        registry = voices_for(script_path, tuple(voices_dirs), inputs)
        for error in registry.broken.values():
            profile_problems.setdefault(error.path, error)
        try:
            if job.clash:
                raise ScriptError(script_path, None, job.clash)
            if is_episode_file(script_path):
                from rustpunt.build.episode import check_episode

                check_episode(script_path, tuple(voices_dirs))
                results.append(CheckResult(script_path, None, kind="episode"))
                continue
            script = load_script(script_path, inputs)
            designed = check_sound(script, plan(script), inputs)
            if script.length_ms is not None:  # reachable, by the speech spoken before or estimated
                check_length(
                    designed,
                    script.length_ms,
                    (script_path, script.length_line, "script"),
                    known_speech(output_paths(script_path, job.output_dir).json),
                )
            voice = chosen_voice(script, registry, None)
            registry.chain(voice)
            lexicon = script_lexicon(script, voices_dirs, inputs=inputs)
            warnings = lexicon_warnings(script, lexicon)
            results.append(CheckResult(script_path, None, tuple(warnings)))
        except FileProblem as error:
            results.append(CheckResult(script_path, error))
        except VoiceError as error:
            results.append(CheckResult(script_path, ScriptError(script_path, None, str(error))))
    reported = {str(r.error) for r in results if r.error is not None}
    unused = [
        f"{shown(path)}{f':{error.line}' if error.line else ''}: warning: {error.reason} (no"
        " script checked here asks for this voice profile, so their builds do not fail on it)"
        for path, error in sorted(profile_problems.items())
        if str(error) not in reported
    ]
    return CheckReport(results, unused)


def _guarded(action: Callable[[], BuildResult | None], job: Job) -> BuildResult | None:
    """Run one job's step and turn any failure into a failed result, so the batch goes on."""
    try:
        return action()
    except RustpuntError as error:
        message = str(error)  # every failure line names the script, even an engine's error
        if shown(job.script) not in message:
            message = f"{shown(job.script)}: {message}"
        return BuildResult(job.script, BuildStatus.FAILED, error=message)
    except Exception as error:  # an unexpected bug must not stop the other scripts either
        log.debug("unexpected failure building %s", job.script, exc_info=True)
        return BuildResult(
            job.script,
            BuildStatus.FAILED,
            error=f"{shown(job.script)}: internal error: {_short(repr(error))} (please report this)",
        )


def _short(text: str, limit: int = 300) -> str:
    """A message fit for one line: an exception's repr can hold a whole document."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _build_one(
    job: Job,
    options: BuildOptions,
    voices: Voices,
    workspace: Workspace,
    on_clip: Callable[[int, int], None] | None = None,
) -> BuildResult:
    from rustpunt.build.session import build_script

    job_options = replace(options, output_dir=job.output_dir)
    builder: Callable[..., BuildResult] = build_script
    if is_episode_file(job.script):
        from rustpunt.build.episode import build_episode

        builder = build_episode
    found = options.cache.found.copy()

    def build() -> BuildResult:
        try:
            return builder(job.script, job_options, voices, on_clip, workspace=workspace)
        finally:
            options.cache.flush()  # done means in the shared cache too (a worker may stop next)

    result = _guarded(build, job)
    assert result is not None
    remote = options.cache.remote
    return replace(
        result,
        from_cache=options.cache.found["local"] - found["local"],
        from_remote=options.cache.found["remote"] - found["remote"],
        remote_problem=remote.problem if remote is not None else None,
    )


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


_worker_voices: Voices | None = None
"""A worker process's own Voices, made by _init_worker: it lives as long as the process."""
_worker_workspace: Workspace | None = None
"""A worker's own Workspace, beside its Voices (a global: the pool initializer's only way in)."""


def _init_worker(cache: ClipCache, request_slots: Any, parent_pid: int) -> None:
    """A worker's voices share one limit on requests to Google with every other worker; Ctrl-C
    is left to the parent, which stops the workers (an interrupt inside espeak's callback would
    only print a traceback and let the worker go on); and the worker dies with its parent,
    however the parent dies."""
    from rustpunt.voice.speak import Voices

    global _worker_voices, _worker_workspace
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)  # not the parent's handler, inherited by fork
    _worker_voices = Voices(cache, request_slots=request_slots)
    _worker_workspace = Workspace()
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
        options = replace(options, cache=_worker_voices.cache)  # one cache (and remote) per worker
        return _build_one(job, options, _worker_voices, _worker_workspace)
    except _WorkerStopped:
        os._exit(1)  # unwound: what this job was writing is gone; take no further job
    finally:
        _worker_building = False


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

    inputs = (workspace or Workspace()).inputs
    registries = [voices_for(job.script, options.voices_dirs, inputs) for job in jobs]
    if all(options.voice not in registry.profiles for registry in registries):
        registries[0].get(options.voice)


def preflight(jobs: Sequence[Job], options: BuildOptions) -> None:
    """Before any synthesis: --voice names a profile, every output folder takes files and so
    does the clip cache (a folder problem found after an hour of speech wastes the hour);
    leftovers of killed builds go. The --voice profile is read by build_all once it knows
    something is to be checked or built, and the encoder is tried before the first sentence is
    spoken (before the workers start, when they are several): a no-op rebuild reads no voice
    profile, and a rebuild that speaks nothing starts no ffmpeg it does not need."""
    check_voice_named(jobs, options)
    for folder in dict.fromkeys(job.output_dir for job in jobs):
        check_writable(folder)
    options.cache.check()
    remove_leftovers(jobs, options)


def remove_leftovers(jobs: Sequence[Job], options: BuildOptions) -> None:
    """Temporary files of builds that were killed, in the output folders and the clip cache
    (a file its writer still holds belongs to a build that runs, and stays)."""
    for folder in dict.fromkeys(job.output_dir for job in jobs):
        remove_stale_parts(folder)
    remove_stale_parts(options.cache.clips, "*/.*.part")


Progress = Callable[[BuildResult], None]
ClipProgress = Callable[[Path, int, int], None]


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
    workspace = workspace or Workspace()
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
        from rustpunt.build.session import voices_for

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


def _voices_when_needed(cache: ClipCache, given: Voices | None = None) -> Callable[[], Voices]:
    """The build's Voices (`given`, else made on first use: a no-op rebuild never imports the
    engines)."""

    @functools.cache
    def voices() -> Voices:
        return given if given is not None else new_voices(cache)

    return voices


def new_voices(cache: ClipCache) -> Voices:
    """The Voices of a build in this process: its encoder is tried before its first sentence
    is spoken (a broken ffmpeg found after an hour of speech wastes the hour)."""
    from rustpunt.mp3.export import check_encoder
    from rustpunt.voice.speak import Voices

    return Voices(cache, before_synthesis=check_encoder)


def build_serially(
    jobs: Sequence[Job],
    options: BuildOptions,
    voices: Voices,
    on_done: Progress | None = None,
    on_clip: ClipProgress | None = None,
    workspace: Workspace | None = None,
) -> list[BuildResult]:
    """Build jobs one after the other in this process, telling on_clip of every clip spoken."""
    workspace = workspace or Workspace()
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


def build_in_parallel(
    jobs: Sequence[Job], options: BuildOptions, workers: int, on_done: Progress | None = None
) -> list[BuildResult]:
    """Build jobs in worker processes (espeak keeps global state: threads would not do)."""
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
        initargs=(options.cache, slots, os.getpid()),
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
            pool.shutdown(wait=False, cancel_futures=True)
            children = multiprocessing.active_children()
            for worker in children:
                worker.terminate()
            deadline = time.monotonic() + WORKER_STOP_SECONDS
            for worker in children:
                worker.join(max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(OSError):
                remove_leftovers(jobs, options)
            raise
    return [results[i] for i in range(len(jobs))]


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
    `workspace`: what lives for the build (the watch keeps its own), else a new one.
    """
    workspace = workspace or Workspace()
    with terminate_as_interrupt():
        if not checked:
            preflight(jobs, options)
        voices = _voices_when_needed(options.cache, shared_voices)
        started = time.perf_counter()
        ledger = Ledger.open(options)
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

                built = build_on_cluster(pending, options, cluster, on_done)
            elif count == 1:
                built = build_serially(pending, options, voices(), on_done, on_clip, workspace)
            else:
                built = build_in_parallel(pending, options, count, on_done)
        results.update(zip(todo, built))
        if built:
            from rustpunt.remote import add_stats

            add_stats(options.cache.root, build_counts(built))
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
