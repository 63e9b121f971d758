"""`rustpunt check`: everything a build would refuse, without any audio work. A file named on its
own is checked as what it is (script, episode, lexicon, sound settings, voice profile, podcast
settings), or passed over when rustpunt does not read it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rustpunt.build.jobs import SCRIPT_SUFFIXES, jobs_for
from rustpunt.build.options import is_episode_file, output_paths
from rustpunt.build.workspace import Workspace
from rustpunt.errors import FileProblem, RustpuntError, ScriptError, VoiceError, shown

if TYPE_CHECKING:
    from rustpunt.errors import ProfileError


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
