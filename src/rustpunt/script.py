"""Load and validate an exercise script: YAML in, a frozen Script that remembers file and line out.

YAML is read with the safe loader only, so a tag that tries to build a Python object is an error,
and every problem becomes a ScriptError naming the file, the line and what to do.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytimeparse import parse as parse_duration

from rustpunt.errors import ScriptError
from rustpunt.sentences import InlinePauseError, check_inline_pauses
from rustpunt.soundkeys import (
    DesignProblem,
    SoundSettings,
    StepBreathing,
    parse_breathing,
    parse_sound,
)
from rustpunt.yamldoc import LineMapping, LineSequence, Problem, decode_text, parse_document

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
    "sound",  # sound design: see rustpunt.soundkeys
    "length",  # the session's exact length: see rustpunt.length
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


def load_script(path: Path | str) -> Script:
    """Read and validate one script; raises ScriptError naming the file and line of the problem."""
    path = Path(path)
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise ScriptError(
            path, None, "the file name is not valid UTF-8; rename the file (its MP3 takes its name)"
        ) from None
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise ScriptError(path, None, "is a folder, not a script file") from None
    except OSError as error:
        raise ScriptError(path, None, f"cannot be read: {error.strerror or error}") from None
    return parse_script(data, path)


def parse_script(data: bytes, path: Path) -> Script:
    """Validate a script's bytes; `path` is where they came from, for messages and the Script.
    Raises ScriptError naming the file and line of the problem."""
    try:
        return _parse(data, path)
    except Problem as problem:
        raise ScriptError(path, problem.line, problem.message) from None


def _parse(data: bytes, path: Path) -> Script:
    text = decode_text(data)
    document = parse_document(text)
    if not isinstance(document, LineMapping):
        line = getattr(document, "line", 1)
        raise Problem(line, "a script is a mapping with `title:` and `steps:` at the top level")
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            raise Problem(document.key_lines[key], _unknown_key(key, TOP_LEVEL_KEYS, "top level"))
    for required in ("title", "steps"):
        if required not in document:
            raise Problem(document.line, f"missing `{required}:`; a script needs a title and steps")

    def line_of(key: str) -> int:
        return document.key_lines.get(key, document.line)

    def text_of(key: str, spoken: bool = False) -> str | None:
        """A text field as the editor typed it; None when the key is absent or left empty."""
        value = document.get(key)
        written = document.written.get(key)
        if value is None and written in (None, "", "~"):
            return None
        return text_field(value, line_of(key), key, spoken=spoken, written=written)

    title = text_of("title")
    if title is None:
        raise Problem(line_of("title"), "`title` is empty; write the session's title")
    return Script(
        path=path,
        title=title,
        steps=_steps(document["steps"], line_of("steps")),
        voice=_voice(document.get("voice"), line_of("voice")),
        voice_line=document.key_lines.get("voice"),
        intro=text_of("intro", spoken=True),
        outro=text_of("outro", spoken=True),
        pause_ms=(
            parse_pause(
                document["pause"], line_of("pause"), "pause", written=document.written.get("pause")
            )
            if document.get("pause") is not None
            else None
        ),
        cycle_ms=_cycle(document["cycle"], line_of("cycle"))
        if document.get("cycle") is not None
        else None,
        description=text_of("description"),
        digest=hashlib.sha256(data).hexdigest(),
        sound=_sound(document, path),
        length_ms=parse_length(document, line_of("length")),
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
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key `{key}` at the {where}; {hint}"


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


@functools.lru_cache(maxsize=8192)
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
    steps = []
    for number, (item, item_line) in enumerate(zip(value, value.item_lines), start=1):
        where = f"step {number}"
        if isinstance(item, LineMapping):
            for key in item:
                if key not in STEP_KEYS:
                    raise Problem(item.key_lines[key], _unknown_key(key, STEP_KEYS, where))
            if "text" not in item:
                raise Problem(item.line, f"{where} has no `text:`; write what to say")
            text = text_field(
                item["text"],
                item.key_lines["text"],
                f"{where} text",
                spoken=True,
                written=item.written.get("text"),
            )
            pause = item.get("pause")
            pause_ms = (
                None
                if pause is None
                else parse_pause(
                    pause,
                    item.key_lines["pause"],
                    f"{where} pause",
                    written=item.written.get("pause"),
                )
            )
            steps.append(
                Step(
                    number=number,
                    text=text,
                    pause_ms=pause_ms,
                    line=item_line,
                    breathing=_breathing(item, where),
                )
            )
        elif not isinstance(item, (LineMapping, LineSequence)) and (
            item is not None or value.written.get(number - 1) not in (None, "", "~")
        ):
            text = text_field(
                item, item_line, where, spoken=True, written=value.written.get(number - 1)
            )
            steps.append(Step(number=number, text=text, pause_ms=None, line=item_line))
        else:
            raise Problem(
                item_line, f"{where} must be text or a mapping with `text:`, not {_kind(item)}"
            )
    return tuple(steps)


_NUMBER = re.compile(r"[0-9]{1,9}(?:[.,][0-9]{1,9})?", re.ASCII)


_YAML11_SURPRISE = re.compile(r"[+-]?(?:0[0-9_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)")
"""Integers YAML 1.1 reads in a way nobody means in a pause: octal `010`, base 60 `1:30`."""

_THOUSANDS = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+", re.ASCII)
"""`1.000`: a thousand in Dutch, one in English; a pause written so is refused, not guessed."""


def parse_pause(
    value: Any,
    line: int,
    what: str = "pause",
    *,
    written: str | None = None,
    at_most_ms: int = MAX_PAUSE_MS,
) -> int:
    """Seconds (`6`, `2.5`) or a duration string (`"6s"`, `"1m30s"`) to whole milliseconds.

    `written` is the value as typed when YAML 1.1 read it as a number: `010` is ten seconds,
    not eight (octal). `at_most_ms`: the longest allowed (a pause an hour; a `length:` more)."""
    typed = (written if written is not None else value if isinstance(value, str) else "").strip()
    if _THOUSANDS.fullmatch(typed):
        raise Problem(
            line,
            f"`{what}` {typed!r} is ambiguous (in Dutch 1.000 is a thousand); write "
            f"{typed.replace('.', '')} for that many seconds, or use a comma for a decimal",
        )
    if _YAML11_SURPRISE.fullmatch(typed):
        value = typed  # `010` is ten seconds, not octal eight; `1:30` is read as a duration
    seconds = _seconds(value)
    value = _shown(value)
    if seconds is None or math.isnan(seconds):
        raise Problem(
            line,
            f'`{what}` {value} is not a duration; write seconds (6, 2.5) or a duration like "90s", "1m30s"',
        )
    if seconds < 0:
        raise Problem(line, f"`{what}` {value} is negative; a pause is zero or longer")
    if math.isinf(seconds) or seconds * 1000 > at_most_ms:
        limit = "an hour" if at_most_ms == MAX_PAUSE_MS else f"{at_most_ms // 3_600_000} hours"
        raise Problem(line, f"`{what}` {value} is over {limit}; is the unit right?")
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


@functools.lru_cache(maxsize=4096)
def _text_seconds(cleaned: str) -> float | None:
    """_seconds of a string: remembered, as a rebuild reads the same `"44s"` pauses again."""
    if _NUMBER.fullmatch(cleaned):
        return float(cleaned.replace(",", "."))
    negative = cleaned.startswith("-")
    parsed = parse_duration(cleaned.lstrip("-").strip())
    if parsed is None:
        return None
    seconds = math.inf if abs(parsed) > MAX_PAUSE_MS else float(parsed)
    return -seconds if negative else seconds


def _cycle(value: Any, line: int) -> int:
    ms = parse_pause(value, line, "cycle")
    if not MIN_CYCLE_MS <= ms <= MAX_CYCLE_MS:
        raise Problem(
            line, f"`cycle` {_shown(value)} is not a breathing cycle; use 2 to 60 seconds"
        )
    return ms


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
