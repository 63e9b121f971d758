"""`rustpunt build --watch`: one process that rebuilds a script as soon as it is saved.

Why one process: a new `rustpunt build` spends ~0.4 s on Python, its imports, the voice engine
and the ffmpeg check before any work, while a pause-only edit rebuilt in a process that has all
that takes tens of ms. The watch keeps the process, its loaded modules and its voice engines.

How changes are found: by polling file stamps (size, mtime, ctime, inode; rustpunt.build.uptodate's
`stamp`) every POLL_SECONDS. No dependency, and it works the same on every platform and file
system (network shares included, where change notifications are unreliable). What is watched
per script: the script; the sound.yaml, lexicon.yaml and voices/ beside it (also while absent,
so one that appears is seen); --voices-dir folders and their profiles; and what the full check
last read for it (a bed file, a Piper voice's model): from the stamps the last build recorded
(rustpunt.build.uptodate) and, for a script the watch rebuilt, from its own check after the build.
The folders given are watched for scripts added and removed. A `changes` source (the hook
rustpunt.build.changes.FileEvents plugs into: the operating system's file events) can wake the watch
instead of the poll; the stamps still decide what changed.

Several saves in a row give one rebuild: once a change is seen, the watch waits until no
watched stamp has changed for SETTLE_SECONDS (at most SETTLE_LIMIT_SECONDS) and then builds. A
change made while a script builds is seen by the next look and builds it again.

Rebuilds run one at a time in this process (worker processes would start cold, losing the
point). Each round gets a fresh `Voices` that shares the engines of the previous ones: the
engine is made once, while a voice that could not be reached is asked again in the next round,
and the lexicons are read again whenever a file other than a script changed. The encoded speech
stays in memory from one rebuild to the next (partcache.MemoryPartCache, in front of the cache
folder), and Python's collector runs while the watch waits, not in the middle of a rebuild.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rustpunt.build.batch import Report, build_serially
from rustpunt.build.jobs import Job, jobs_for
from rustpunt.build.options import BuildOptions, BuildResult, BuildStatus, is_episode_file
from rustpunt.build.pool import terminate_as_interrupt
from rustpunt.build.uptodate import Stamp, record_path, stamp
from rustpunt.build.workspace import Workspace
from rustpunt.errors import RustpuntError, shown

if TYPE_CHECKING:
    from rustpunt.voice.speak import Voices

log = logging.getLogger(__name__)


class Changes(Protocol):
    """What wakes the watch to look at the stamps (rustpunt.build.changes.FileEvents); without one it
    looks every poll_seconds."""

    def wait(self, watched: frozenset[str], stop: threading.Event) -> None:
        """Return once a path in `watched` (files and folders, some absent) may have changed,
        or once `stop` is set."""


POLL_SECONDS = 0.25
"""How often the stamps are looked at: a save is seen within this long (plus SETTLE_SECONDS)."""

SETTLE_SECONDS = 0.1
"""A change is built once no watched stamp has changed for this long: an editor's burst of
writes (or several files saved at once) gives one rebuild."""

KEPT_PARTS_BYTES = 128 * 2**20
"""Encoded speech the watch keeps in memory: a 60-minute session's is about 12 MB."""

SETTLE_LIMIT_SECONDS = 2.0
"""A file written for longer than this is built as it is then; its later change builds again."""


@dataclass(frozen=True)
class Rebuilt:
    """One script built (or checked) again by the watch, and how long that took."""

    result: BuildResult
    milliseconds: int


@dataclass(frozen=True)
class Round:
    """What one change built: every script it touched, in the order of the build."""

    number: int
    """1 for the first change after the initial build, then 2, 3, ..."""
    rebuilt: tuple[Rebuilt, ...]
    removed: tuple[Path, ...]
    """Scripts no longer found in the folders watched (their outputs are kept, as a build
    keeps them)."""
    wall_seconds: float

    def report(self) -> Report:
        return Report([item.result for item in self.rebuilt], self.wall_seconds)

    def document(self) -> dict[str, Any]:
        """The build's JSON report for this round (as `rustpunt build --json` prints it), with
        the round's number, each script's build time and the scripts removed."""
        document = self.report().document()
        for entry, item in zip(document["scripts"], self.rebuilt):
            entry["milliseconds"] = item.milliseconds
        return {"round": self.number, **document, "removed": [shown(p) for p in self.removed]}


def json_line(document: dict[str, Any]) -> str:
    """A JSON document on one line: `--watch --json` prints JSON Lines, one document a round."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def watch(
    paths: Sequence[Path],
    options: BuildOptions,
    *,
    voices: Voices | None = None,
    on_watching: Callable[[int], None] | None = None,
    on_rebuilt: Callable[[Rebuilt], None] | None = None,
    on_round: Callable[[Round], None] | None = None,
    stop: threading.Event | None = None,
    max_rounds: int | None = None,
    poll_seconds: float = POLL_SECONDS,
    settle_seconds: float = SETTLE_SECONDS,
    changes: Changes | None = None,
    workspace: Workspace | None = None,
) -> int:
    """Rebuild the scripts found in `paths` whenever they or their inputs change, until `stop`
    is set or `max_rounds` rounds were built; returns the number of rounds.

    Call it after a first build of the same paths and options (`voices`: that build's Voices,
    whose engines are reused). `on_watching` hears how many scripts are watched once their
    stamps are taken (a change from then on is seen); `on_rebuilt` hears of each script as
    soon as it is done, `on_round` of each round once all its scripts are. A bad script is one
    failed result; the watch goes on. Ctrl-C (and SIGTERM, in the main thread) raise
    KeyboardInterrupt out of here, between or during builds: what was being written is never
    left behind (rustpunt.files). `changes`: what wakes the watch instead of the poll (file
    events). `workspace`: what lives for the watch, its caches among it (the first build's,
    whose clip cache `voices` speaks through), else one made from the options.
    """
    workspace = workspace or Workspace.for_options(options)
    workspace.keep_parts(KEPT_PARTS_BYTES)  # the encoded speech stays in memory between rebuilds
    watcher = _Watcher(paths, options, voices, workspace)
    _tidy(first=True)
    if on_watching:
        on_watching(len(watcher.jobs))
    stop = stop or threading.Event()
    rounds = 0
    with terminate_as_interrupt():
        while max_rounds is None or rounds < max_rounds:
            if changes is not None:
                changes.wait(watcher.watched(), stop)
                if stop.is_set():
                    break
            elif stop.wait(poll_seconds):
                break
            latest = watcher.look()
            if latest is None:
                continue
            latest = watcher.settle(latest, stop, settle_seconds)
            if stop.is_set():
                break
            current = watcher.round(rounds + 1, latest, on_rebuilt)
            if current is None:
                continue
            rounds += 1
            if on_round:
                on_round(current)
            watcher.learn(current)
            _tidy()
    return rounds


def _tidy(*, first: bool = False) -> None:
    """Python's collector, run while waiting rather than in the middle of the next rebuild: a
    full collection walks every object of the process (20 ms here). The first time, what is
    left (modules, engines, profiles: kept for the life of the process) is set aside for good
    (gc.freeze), so a collection during a rebuild walks only what rebuilds made."""
    gc.collect()
    if first:
        gc.freeze()


class _Watcher:
    """The scripts watched, the stamps each one's build depends on, and the shared engines."""

    def __init__(
        self,
        paths: Sequence[Path],
        options: BuildOptions,
        voices: Voices | None,
        workspace: Workspace,
    ):
        self.paths = tuple(Path(path) for path in paths)
        self.options = options
        self.workspace = workspace
        self.engines: dict[Any, Any] = voices.engines if voices is not None else {}
        self.lexicons: dict[Any, Any] = voices.lexicons if voices is not None else {}
        self.encoder_checked = voices is not None and voices.before_synthesis is None
        """The first build tried the encoder before it spoke (or was given no such check)."""
        self.jobs = self._scan()
        self.folders = self._folders()
        _warm_up(self.jobs.values())
        recorded = _recorded_inputs(options, workspace)
        self.inputs = {
            key: _static_inputs(job, options)
            | (
                _checked_inputs(job, options, workspace)  # episodes are never recorded
                if is_episode_file(job.script)
                else recorded.get(key, frozenset())
            )
            for key, job in self.jobs.items()
        }
        self.seen: dict[str, Stamp] = {path: stamp(path) for path in self._watched()}

    def _scan(self) -> dict[str, Job]:
        return {
            os.path.abspath(job.script): job
            for job in jobs_for(self.paths, self.options.output_dir)
        }

    def _folders(self) -> frozenset[str]:
        """The folders given and those under them (but hidden ones and the output folder):
        a script added or removed changes its folder's stamp."""
        output = os.path.abspath(self.options.output_dir)
        found: set[str] = set()
        for path in self.paths:
            if not path.is_dir():
                continue
            for folder, subfolders, _files in os.walk(path):
                absolute = os.path.abspath(folder)
                if absolute == output or absolute.startswith(output + os.sep):
                    subfolders[:] = []
                    continue
                found.add(absolute)
                subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        return frozenset(found)

    def _watched(self) -> set[str]:
        return set(self.folders).union(*self.inputs.values())

    def watched(self) -> frozenset[str]:
        """Every path whose stamp is looked at: for a source of file events to listen to."""
        return frozenset(self.seen)

    def look(self) -> dict[str, Stamp] | None:
        """Every watched stamp as it is now, when one of them changed; else None."""
        now = {path: stamp(path) for path in self.seen}
        return now if now != self.seen else None

    def settle(
        self, latest: dict[str, Stamp], stop: threading.Event, settle_seconds: float
    ) -> dict[str, Stamp]:
        """The stamps once none has changed for settle_seconds (or SETTLE_LIMIT_SECONDS passed).

        A file's own modification time says how long it has been quiet already: a save seen
        later than settle_seconds after it was made is built at once."""
        deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
        previous = self.seen
        while True:
            wait = settle_seconds - _quiet_seconds(latest, previous)
            if wait <= 0:
                return latest
            if stop.wait(wait):
                return latest
            again = {path: stamp(path) for path in self.seen}
            if again == latest or time.monotonic() > deadline:
                return again
            previous, latest = latest, again

    def round(
        self, number: int, latest: dict[str, Stamp], on_rebuilt: Callable[[Rebuilt], None] | None
    ) -> Round | None:
        """Build, one at a time, every script whose inputs changed and every script added."""
        started = time.perf_counter()
        changed = {path for path, value in latest.items() if value != self.seen.get(path)}
        self.seen.update(latest)
        previous = self.jobs
        if changed & self.folders:
            self.jobs = self._scan()
            self.folders = self._folders()
        removed = [previous[key].script for key in previous.keys() - self.jobs.keys()]
        for key in previous.keys() - self.jobs.keys():
            self.inputs.pop(key, None)
        affected = [
            job
            for key, job in self.jobs.items()
            if previous.get(key) != job or changed & self.inputs.get(key, frozenset())
        ]
        for key in self.jobs.keys() - previous.keys():
            self.inputs[key] = _static_inputs(self.jobs[key], self.options)
        self._watch_new_inputs()  # before the build: a change from now on is seen
        if not affected and not removed:
            return None
        watched_inputs = set().union(*self.inputs.values())
        if any(path not in self.jobs and path in watched_inputs for path in changed):
            self._forget_settings()  # a sound.yaml, a lexicon, a voice profile or its folder
        voices = self._voices()
        rebuilt = []
        for job in affected:
            job_started = time.perf_counter()
            result = _build(job, self.options, voices, self.workspace)
            item = Rebuilt(result, round((time.perf_counter() - job_started) * 1000))
            rebuilt.append(item)
            if on_rebuilt:
                on_rebuilt(item)
        return Round(number, tuple(rebuilt), tuple(removed), time.perf_counter() - started)

    def learn(self, done: Round) -> None:
        """After a round is reported: what each script rebuilt read, to watch it from now on."""
        for item in done.rebuilt:
            key = os.path.abspath(item.result.script)
            job = self.jobs.get(key)
            if job is not None:
                self.inputs[key] = _static_inputs(job, self.options) | _checked_inputs(
                    job, self.options, self.workspace
                )
        self._watch_new_inputs()

    def _watch_new_inputs(self) -> None:
        watched = self._watched()
        self.seen = {
            path: self.seen[path] if path in self.seen else stamp(path) for path in watched
        }

    def _forget_settings(self) -> None:
        """Lexicons are read once per build; one changed (voice profiles are read again by
        rustpunt.build.session when their files change)."""
        self.lexicons = {}

    def _voices(self) -> Voices:
        from rustpunt.voice.speak import Voices

        return Voices(
            self.workspace.clips,
            engines=self.engines,
            lexicons=self.lexicons,
            before_synthesis=None if self.encoder_checked else self._check_encoder,
        )

    def _check_encoder(self) -> None:
        """Before the watch first speaks: the encoder works (once per watch, 30 ms)."""
        from rustpunt.mp3.export import check_encoder

        check_encoder()
        self.encoder_checked = True


def _quiet_seconds(now: dict[str, Stamp], before: dict[str, Stamp]) -> float:
    """How long ago the last of the changed files was modified, by the stamps (0 for a file
    removed: nothing says when)."""
    times = []
    for path, value in now.items():
        if value != before.get(path):
            if value is None:
                return 0.0
            times.append(max(value[1], value[2]))  # mtime, ctime (a rename, a chmod)
    if not times:
        return 0.0
    return max(0.0, (time.time_ns() - max(times)) / 1e9)


def _warm_up(jobs: Iterable[Job]) -> None:
    """Import the audio side now, not at the first save: after a first build that found every
    script up to date by its stamps, nothing of it is loaded yet."""
    import rustpunt.build.session
    import rustpunt.voice.speak

    if any(is_episode_file(job.script) for job in jobs):
        import rustpunt.build.episode  # noqa: F401


def _build(job: Job, options: BuildOptions, voices: Voices, workspace: Workspace) -> BuildResult:
    if job.clash:
        return BuildResult(
            job.script, BuildStatus.FAILED, error=f"{shown(job.script)}: {job.clash}"
        )
    (result,) = build_serially([job], options, voices, workspace=workspace)
    return result


def _static_inputs(job: Job, options: BuildOptions) -> frozenset[str]:
    """The files a script's build reads that can be named without reading it."""
    folder = job.script.parent
    paths: list[Path] = [
        job.script,
        folder / "sound.yaml",
        folder / "sound.yml",
        folder / "lexicon.yaml",
        *profile_folder(folder / "voices"),
    ]
    for extra in options.voices_dirs:
        paths.extend(profile_folder(Path(extra)))
    return frozenset(os.path.abspath(path) for path in paths)


def profile_folder(folder: Path) -> list[Path]:
    """A voice folder and its profiles; the folder's own stamp changes when a profile is added
    or removed."""
    from rustpunt.voice.profiles import profile_files

    return [Path(folder), *profile_files(folder)]


def _checked_inputs(job: Job, options: BuildOptions, workspace: Workspace) -> frozenset[str]:
    """What the full check of a script reads (as the workspace's Inputs note it; an episode's
    parts and cover), without rustpunt's own files and the installed packages: the code of a
    running process does not change when they do. Empty when the script cannot be read."""
    job_options = replace(options, output_dir=job.output_dir)
    try:
        if is_episode_file(job.script):
            from rustpunt.build.episodefile import load_episode

            episode = load_episode(job.script)
            files = [part.path for part in episode.parts if part.path is not None]
            return frozenset(os.path.abspath(path) for path in [*files, episode.cover] if path)
        from rustpunt.build.session import prepare

        with workspace.inputs.noting() as read:
            prepare(job.script, job_options, workspace)
    except RustpuntError:
        return frozenset()
    except Exception:  # watching less must never stop the watch
        log.debug("cannot tell what %s reads", job.script, exc_info=True)
        return frozenset()
    return frozenset(path for path in read if not _environment(path))


def _recorded_inputs(options: BuildOptions, workspace: Workspace) -> dict[str, frozenset[str]]:
    """What the last build recorded each script to depend on (rustpunt.build.uptodate's record of
    the output folder), without rustpunt's own files and the installed packages."""
    try:
        document = json.loads(record_path(workspace.clips.root, options.output_dir).read_bytes())
        sets = document["sets"]
        return {
            key: frozenset(
                path
                for name in entry["sets"]
                for path in sets.get(name, {})
                if not _environment(path)
            )
            for key, entry in document["scripts"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # scripts are then watched for their static inputs


def _environment(path: str) -> bool:
    """rustpunt's own files and the installed packages' folders."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # rustpunt/
    folders = [
        package,
        *(p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")),
    ]
    return any(path == folder or path.startswith(folder + os.sep) for folder in folders)
