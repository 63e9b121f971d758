"""Scripts made into jobs, and one job built: a script found under the folders given, where its
outputs go, and its build, whose failure becomes a failed result rather than stopping the batch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rustpunt.build.options import (
    BuildOptions,
    BuildResult,
    BuildStatus,
    is_episode_file,
    output_paths,
)
from rustpunt.build.workspace import Workspace
from rustpunt.errors import RustpuntError, shown
from rustpunt.files import remove_stale_parts

if TYPE_CHECKING:
    from rustpunt.voice.speak import Voices

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


Progress = Callable[[BuildResult], None]


ClipProgress = Callable[[Path, int, int], None]


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
    clips = workspace.clips  # the one the build's Voices speak through
    found = clips.found.copy()

    def build() -> BuildResult:
        try:
            return builder(job.script, job_options, voices, on_clip, workspace=workspace)
        finally:
            clips.flush()  # done means in the shared cache too (a worker may stop next)

    result = _guarded(build, job)
    assert result is not None
    remote = clips.remote
    return replace(
        result,
        from_cache=clips.found["local"] - found["local"],
        from_remote=clips.found["remote"] - found["remote"],
        remote_problem=remote.problem if remote is not None else None,
    )


def remove_leftovers(jobs: Sequence[Job], workspace: Workspace) -> None:
    """Temporary files of builds that were killed, in the output folders and the clip cache
    (a file its writer still holds belongs to a build that runs, and stays)."""
    for folder in dict.fromkeys(job.output_dir for job in jobs):
        remove_stale_parts(folder)
    remove_stale_parts(workspace.clips.clips, "*/.*.part")
