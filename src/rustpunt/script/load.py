"""Load and validate an exercise script: YAML in, a frozen Script that remembers file and line out.

YAML is read with the safe loader only, so a tag that tries to build a Python object is an error,
and every problem becomes a ScriptError naming the file, the line and what to do.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rustpunt.errors import ScriptError
from rustpunt.inputs import Inputs
from rustpunt.memo import MEMOS
from rustpunt.script.durations import DurationError, seconds_of
from rustpunt.script.sentences import InlinePauseError, check_inline_pauses
from rustpunt.script.soundsettings import (
    DesignProblem,
    SoundSettings,
    StepBreathing,
    parse_breathing,
    parse_sound,
)
from rustpunt.script.yamldoc import (
    LineMapping,
    LineSequence,
    Problem,
    Problems,
    decode_text,
    parse_document,
)

_T = TypeVar("_T")

MAX_PAUSE_MS = 60 * 60 * 1000
"""A pause over an hour is surely a typo ("90m" for "90s"), so it is refused."""

MAX_STEPS = 10_000
"""More steps is a mistake (and more chapters than an MP3's nested tables of contents hold)."""

MIN_CYCLE_MS, MAX_CYCLE_MS = 2_000, 60_000
"""One breathing cycle: faster than 2 s or slower than a minute is not a breath."""

MAX_LENGTH_MS = 10 * 60 * 60 * 1000
"""`length:` over ten hours is a mistake (plan.MAX_SESSION_MS: at most that makes one MP3)."""

TOP_LEVEL_KEYS = (
    "title", "steps", "voice", "intro", "outro", "pause", "cycle", "description",
    "sound",  # sound design: see rustpunt.script.soundsettings
    "length",  # the session's exact length: see rustpunt.build.length
)  # fmt: skip
STEP_KEYS = ("text", "pause", "breathing")  # breathing: tones in the step's pause


@dataclass(frozen=True)
class Step:
    number: int
    """1-based, as a person counts the steps."""
    text: str
    pause_ms: int | None
    """The explicit pause after this step, or None to infer it from the text."""
    line: int
    breathing: StepBreathing | None = None
    """`breathing:`: paced-breathing tones in the pause after this step."""
    pause_line: int | None = None
    """The line of the step's own `pause:` (it may sit lines below the step's first line)."""


@dataclass(frozen=True)
class Script:
    path: Path
    title: str
    steps: tuple[Step, ...]
    voice: str | None = None
    voice_line: int | None = None
    intro: str | None = None
    outro: str | None = None
    pause_ms: int | None = None
    """The script's default pause after a step with no cue."""
    cycle_ms: int | None = None
    """How long one breathing cycle takes, for "N keer"."""
    description: str | None = None
    digest: str = ""
    """SHA-256 of the file's bytes: the script's identity for incremental builds."""
    sound: SoundSettings | None = None
    """The script's own `sound:` settings (a bed, bells, a chime), or None."""
    length_ms: int | None = None
    """`length:`: the session's exact length; the pauses that may give way take up the rest."""
    length_line: int | None = None


def load_script(path: Path | str, inputs: Inputs | None = None) -> Script:
    """Read and validate one script (through the build's `inputs`, if any); raises ScriptError
    naming the file and line of the problem."""
    path = Path(path)
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise ScriptError(
            path, None, "the file name is not valid UTF-8; rename the file (its MP3 takes its name)"
        ) from None
    try:
        data = path.read_bytes() if inputs is None else inputs.read_bytes(path)
    except IsADirectoryError:
        raise ScriptError(path, None, "is a folder, not a script file") from None
    except OSError as error:
        raise ScriptError(path, None, f"cannot be read: {error.strerror or error}") from None
    return parse_script(data, path)


def parse_script(data: bytes, path: Path) -> Script:
    """Validate a script's bytes; `path` is where they came from, for messages and the Script.
    Raises ScriptError naming the file and line of the problem; when there are several, it
    holds them all (`problems`), one line each."""
    try:
        return _parse(data, path)
    except Problem as problem:
        found = problem.found if isinstance(problem, Problems) else [problem]
        raise ScriptError.several(path, [(p.line, p.message) for p in found]) from None


class _Found:
    """The problems of one script, gathered so `check` can report every one, not the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def attempt(self, read: Callable[..., _T], *args: Any) -> _T | None:
        """What `read(*args)` returns; None, with its problem noted, when it raises one."""
        try:
            return read(*args)
        except Problems as problems:
            self.problems.extend(problems.found)
        except Problem as problem:
            self.problems.append(problem)
        return None

    def note(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(line, message))


def _parse(data: bytes, path: Path) -> Script:
    text = decode_text(data)
    document = parse_document(text)
    if not isinstance(document, LineMapping):
        line = getattr(document, "line", 1)
        raise Problem(line, "a script is a mapping with `title:` and `steps:` at the top level")
    found = _Found()
    unknown = [key for key in document if key not in TOP_LEVEL_KEYS]
    for key in unknown:
        found.note(document.key_lines[key], _unknown_key(key, TOP_LEVEL_KEYS, "top level"))
    for required in ("title", "steps"):
        misspelt = any(_closest(key, TOP_LEVEL_KEYS) == required for key in unknown)
        if required not in document and not misspelt:  # `stpes:` says "did you mean `steps`"
            found.note(document.line, f"missing `{required}:`; a script needs a title and steps")

    def line_of(key: str) -> int:
        return document.key_lines.get(key, document.line)

    def text_of(key: str, spoken: bool = False) -> str | None:
        """A text field as the editor typed it; None when the key is absent or left empty."""
        value = document.get(key)
        written = document.written.get(key)
        if value is None and written in (None, "", "~"):
            return None
        return text_field(value, line_of(key), key, spoken=spoken, written=written)

    def title_of() -> str:
        title = text_of("title")
        if title is None:
            raise Problem(line_of("title"), "`title` is empty; write the session's title")
        return title

    title = found.attempt(title_of) if "title" in document else None
    steps = (
        found.attempt(lambda: _steps(document["steps"], line_of("steps"))) or ()
        if "steps" in document
        else ()
    )
    voice = found.attempt(lambda: _voice(document.get("voice"), line_of("voice")))
    intro = found.attempt(lambda: text_of("intro", spoken=True))
    outro = found.attempt(lambda: text_of("outro", spoken=True))
    pause_ms = (
        found.attempt(
            lambda: parse_pause(
                document["pause"], line_of("pause"), "pause", written=document.written.get("pause")
            )
        )
        if document.get("pause") is not None
        else None
    )
    cycle_ms = (
        found.attempt(_cycle, document["cycle"], line_of("cycle"), document.written.get("cycle"))
        if document.get("cycle") is not None
        else None
    )
    description = found.attempt(lambda: text_of("description"))
    sound = found.attempt(lambda: _sound(document, path))
    length_ms = found.attempt(lambda: parse_length(document, line_of("length")))
    if found.problems:
        raise Problems(found.problems)
    assert title is not None
    return Script(
        path=path,
        title=title,
        steps=steps,
        voice=voice,
        voice_line=document.key_lines.get("voice"),
        intro=intro,
        outro=outro,
        pause_ms=pause_ms,
        cycle_ms=cycle_ms,
        description=description,
        digest=hashlib.sha256(data).hexdigest(),
        sound=sound,
        length_ms=length_ms,
        length_line=document.key_lines.get("length"),
    )


def parse_length(document: LineMapping, line: int) -> int | None:
    """`length:` of a script or an episode: a duration in the forms `pause:` takes, in ms."""
    if document.get("length") is None:
        return None
    value, written = document["length"], document.written.get("length")
    ms = parse_pause(value, line, "length", written=written, at_most_ms=MAX_LENGTH_MS)
    if ms == 0:
        raise Problem(line, '`length` is zero; write the session\'s length, such as "10m"')
    return ms


def _sound(document: LineMapping, path: Path) -> SoundSettings | None:
    if document.get("sound") is None:
        return None
    value, line = document["sound"], document.key_lines["sound"]
    try:
        return parse_sound(
            value, getattr(value, "key_lines", {}), line, base=path.parent, named_in=path
        )
    except DesignProblem as problem:
        raise Problem(problem.line, problem.message) from None


def _breathing(item: LineMapping, where: str) -> StepBreathing | None:
    if item.get("breathing") is None:
        return None
    value, line = item["breathing"], item.key_lines["breathing"]
    try:
        return parse_breathing(value, getattr(value, "key_lines", {}), line, where)
    except DesignProblem as problem:
        raise Problem(problem.line, problem.message) from None


def _unknown_key(key: Any, known: tuple[str, ...], where: str) -> str:
    if not isinstance(key, str):
        return f"unexpected key {key!r} at the {where}; keys are words like {', '.join(known)}"
    close = _closest(key, known)
    hint = f"did you mean `{close}`?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key `{key}` at the {where}; {hint}"


def _closest(key: Any, known: tuple[str, ...]) -> str | None:
    """The known key a misspelt key most likely means, or None."""
    if not isinstance(key, str):
        return None
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return close[0] if close else None


def text_field(
    value: Any, line: int, what: str, *, spoken: bool = False, written: str | None = None
) -> str:
    """A text field. A plain scalar that YAML 1.1 reads as something else (`1:30`, `010`,
    `Null`, `yes`) is taken as the editor typed it: it is spoken as written."""
    if written is not None and not isinstance(value, str):
        value = written
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        kind = _kind(value)
        raise Problem(line, f"`{what}` must be text, not {kind}")
    text = " ".join(str(value).split())
    if not text:
        raise Problem(line, f"`{what}` is empty; write the text to speak")
    if spoken and not any(character.isalnum() for character in text):
        raise Problem(line, f"`{what}` has nothing to speak ({_shown(text)}); write words")
    if spoken:
        problem = _inline_problem(text)
        if problem is not None:
            raise Problem(line, f"{what}: {problem}")
    return text


@MEMOS.remember(maxsize=8192)
def _inline_problem(text: str) -> str | None:
    """What is wrong with a text's inline pauses, or None: remembered, because a rebuild (and a
    bulk build's stock sentences) checks the same texts again."""
    try:
        check_inline_pauses(text)
    except InlinePauseError as error:
        return str(error)
    return None


def _voice(value: Any, line: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Problem(
            line,
            f"`voice` must name a voice profile, such as nl-google or nl-espeak, not {_kind(value)}",
        )
    return value.strip()


def _steps(value: Any, line: int) -> tuple[Step, ...]:
    """The steps; raises Problems with every bad step's problems, not only the first."""
    if not isinstance(value, LineSequence):
        raise Problem(
            line, f"`steps` must be a list of steps (lines starting with `- `), not {_kind(value)}"
        )
    if not value:
        raise Problem(line, "`steps` is empty; a script needs at least one step")
    if len(value) > MAX_STEPS:
        raise Problem(
            line,
            f"{len(value)} steps are too many for one session (at most {MAX_STEPS}); split the script",
        )
    found = _Found()
    steps = []
    for number, (item, item_line) in enumerate(zip(value, value.item_lines), start=1):
        step = found.attempt(_step, number, item, item_line, value.written)
        if step is not None:
            steps.append(step)
    if found.problems:
        raise Problems(found.problems)
    return tuple(steps)


def _step(number: int, item: Any, item_line: int, written: dict[int, str]) -> Step:
    """One step; raises Problems with each of its problems (an unknown key and a bad pause)."""
    where = f"step {number}"
    if isinstance(item, LineMapping):
        found = _Found()
        for key in item:
            if key not in STEP_KEYS:
                found.note(item.key_lines[key], _unknown_key(key, STEP_KEYS, where))
        misspelt = any(_closest(key, STEP_KEYS) == "text" for key in item if key not in STEP_KEYS)
        if "text" not in item and not misspelt:
            found.note(item.line, f"{where} has no `text:`; write what to say")
        text = (
            found.attempt(
                lambda: text_field(
                    item["text"],
                    item.key_lines["text"],
                    f"{where} text",
                    spoken=True,
                    written=item.written.get("text"),
                )
            )
            if "text" in item
            else None
        )
        pause = item.get("pause")
        pause_ms = (
            None
            if pause is None
            else found.attempt(
                lambda: parse_pause(
                    pause,
                    item.key_lines["pause"],
                    f"{where} pause",
                    written=item.written.get("pause"),
                )
            )
        )
        breathing = found.attempt(lambda: _breathing(item, where))
        if found.problems:
            raise Problems(found.problems)
        assert text is not None
        return Step(
            number=number,
            text=text,
            pause_ms=pause_ms,
            line=item_line,
            breathing=breathing,
            pause_line=item.key_lines.get("pause") if pause_ms is not None else None,
        )
    if not isinstance(item, LineSequence) and (
        item is not None or written.get(number - 1) not in (None, "", "~")
    ):
        text = text_field(item, item_line, where, spoken=True, written=written.get(number - 1))
        return Step(number=number, text=text, pause_ms=None, line=item_line)
    raise Problem(item_line, f"{where} must be text or a mapping with `text:`, not {_kind(item)}")


_YAML11_SURPRISE = re.compile(r"[+-]?(?:0[0-9_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)")
"""Integers YAML 1.1 reads in a way nobody means in a pause: octal `010`, base 60 `1:30`."""

_DECIMAL_AS_TYPED = re.compile(r"[+-]?[0-9]+\.[0-9]+")
"""A number with a point, read again as typed: `1.000` is refused as ambiguous, not taken as 1.0."""


def pause_seconds(
    value: Any, line: int, what: str = "pause", *, written: str | None = None
) -> float:
    """The seconds a pause-like value asks for, any sign, any size (the caller sets the range):
    a YAML number or a written duration (see rustpunt.script.durations: `6`, `2,5`, `"5 seconden"`,
    `"1,5 minuut"`, `"1m30s"`). Raises Problem at `line` when it is no duration.

    `written` is the value as typed when YAML 1.1 read it as a number: `010` is ten seconds,
    not eight (octal), and `1.000` is refused as ambiguous, not read as one."""
    typed = (written if written is not None else value if isinstance(value, str) else "").strip()
    if _YAML11_SURPRISE.fullmatch(typed) or _DECIMAL_AS_TYPED.fullmatch(typed):
        value = typed
    try:
        seconds = _seconds(value)
    except DurationError as error:
        raise Problem(line, f"`{what}` {error}") from None
    if seconds is None or math.isnan(seconds):
        raise Problem(
            line,
            f"`{what}` {_shown(value)} is not a duration; write seconds (6, 2.5) or a duration"
            ' like "90s", "1m30s"',
        )
    return seconds


def parse_pause(
    value: Any,
    line: int,
    what: str = "pause",
    *,
    written: str | None = None,
    at_most_ms: int = MAX_PAUSE_MS,
) -> int:
    """A pause in whole milliseconds, zero up to `at_most_ms` (an hour; a `length:` more): see
    pause_seconds for the forms."""
    seconds = pause_seconds(value, line, what, written=written)
    shown = _shown(value)
    if seconds < 0:
        raise Problem(line, f"`{what}` {shown} is negative; a pause is zero or longer")
    if math.isinf(seconds) or seconds * 1000 > at_most_ms:
        limit = "an hour" if at_most_ms == MAX_PAUSE_MS else f"{at_most_ms // 3_600_000} hours"
        raise Problem(line, f"`{what}` {shown} is over {limit}; is the unit right?")
    return round(seconds * 1000)


def _shown(value: Any) -> str:
    """A value as the script wrote it, short enough for a one-line message."""
    if isinstance(value, int) and abs(value) > 10**12:
        return "(a very large number)"
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _seconds(value: Any) -> float | None:
    """A number of seconds from a YAML number or a duration string; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return math.inf if abs(value) > MAX_PAUSE_MS else float(value)
    if isinstance(value, float):
        return value
    if not isinstance(value, str):
        return None
    return _text_seconds(value.strip())


@MEMOS.remember(maxsize=4096)
def _text_seconds(cleaned: str) -> float | None:
    """durations.seconds_of, remembered: a rebuild reads the same `"44s"` pauses again."""
    return seconds_of(cleaned)


def _cycle(value: Any, line: int, written: str | None = None) -> int:
    """One breathing cycle in ms; anything out of range, negative and zero too, gets one message."""
    seconds = pause_seconds(value, line, "cycle", written=written)
    if not MIN_CYCLE_MS <= seconds * 1000 <= MAX_CYCLE_MS:
        raise Problem(
            line, f"`cycle` {_shown(value)} is not a breathing cycle; use 2 to 60 seconds"
        )
    return round(seconds * 1000)


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
