"""The sidecars beside each MP3: WebVTT captions (NAME.vtt) and the JSON record (NAME.json), as
text; write_vtt and write_json write them atomically."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from rustpunt.files import write_text_atomic


@dataclass(frozen=True)
class Cue:
    """One WebVTT caption."""

    start_ms: int
    end_ms: int
    text: str


def write_vtt(destination: Path, cues: Sequence[Cue]) -> None:
    """WebVTT captions, one cue per spoken step, written atomically."""
    write_text_atomic(Path(destination), vtt_text(cues))


def vtt_text(cues: Sequence[Cue]) -> str:
    """The WebVTT document for `cues`.

    Times put together from ready digit strings, and cue text that needs no escaping or line
    clean-up taken as it is: a 60-minute session's few hundred cues are rebuilt on every edit.
    """
    blocks = ["WEBVTT"]
    for cue in cues:
        start, end, text = cue.start_ms, cue.end_ms, cue.text
        if not 0 <= start < end:
            raise ValueError(f"cue {text!r} has impossible times {start} ms to {end} ms")
        if not _plain_cue_text(text):
            text = _vtt_text(text)
        if end < _VTT_TABLE_MS:  # what _vtt_time writes, inline
            timing = (
                f"{_DIGITS_2[start // 3_600_000]}:{_DIGITS_2[start // 60_000 % 60]}:"
                f"{_DIGITS_2[start // 1000 % 60]}.{_DIGITS_3[start % 1000]} --> "
                f"{_DIGITS_2[end // 3_600_000]}:{_DIGITS_2[end // 60_000 % 60]}:"
                f"{_DIGITS_2[end // 1000 % 60]}.{_DIGITS_3[end % 1000]}"
            )
        else:
            timing = f"{_vtt_time(start)} --> {_vtt_time(end)}"
        blocks.append(f"{timing}\n{text}" if text else timing)
    return "\n\n".join(blocks) + "\n"


_DIGITS_2 = tuple(f"{number:02d}" for number in range(100))
_DIGITS_3 = tuple(f"{number:03d}" for number in range(1000))
_VTT_TABLE_MS = 100 * 3_600_000  # up to 99:59:59.999 the hours come from _DIGITS_2 too


def _vtt_time(ms: int) -> str:
    """A WebVTT timestamp, hh:mm:ss.ttt (vtt_text writes the same inline, below 100 hours)."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _plain_cue_text(text: str) -> bool:
    """True when _vtt_text would return `text` unchanged: nothing to escape, no line break (every
    character str.splitlines splits at is unprintable), no space to strip at either end."""
    return (
        text.isprintable()
        and text[:1] != " "
        and text[-1:] != " "
        and "&" not in text
        and "<" not in text
        and ">" not in text
    )


def _vtt_text(text: str) -> str:
    """Cue text as WebVTT wants it: escaped, and without blank lines (one would end the cue)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def write_json(destination: Path, document: Mapping[str, Any]) -> None:
    """A JSON sidecar: UTF-8, indented by two, non-ASCII kept as is, a final newline; atomic."""
    write_text_atomic(Path(destination), json_text(document))


def json_text(document: Mapping[str, Any]) -> str:
    """The text write_json writes: exactly `json.dumps(document, indent=2, ensure_ascii=False,
    allow_nan=False)` and a newline.

    json's indented output takes its pure-Python encoder (about 4 ms for a 60-minute session's
    sidecar, on every rebuild); a document of plain dicts, lists, strings, ints, floats, bools
    and None is written here at about a third of that, anything else by json itself.
    """
    if type(document) is dict and document:
        pieces: list[str] = []
        try:
            _indented_json(document, 0, pieces, {_LIST_ITEM: ""})
        except _NotPlainJSON:
            pass
        else:
            pieces.append("\n")
            return "".join(pieces)
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


class _NotPlainJSON(Exception):
    """A value _indented_json leaves to json: another type, a non-string key, a float json
    refuses, or nesting deep enough to be a circular reference."""


_JSON_INDENTS = tuple("\n" + "  " * depth for depth in range(64))


def _indented_json(
    container: dict[Any, Any] | list[Any], depth: int, pieces: list[str], keys: dict[Any, str]
) -> None:
    """Append the indented JSON of a non-empty dict or list at `depth` to `pieces`, as json's
    own encoder writes it. `keys` maps each key written so far to its encoding (a few keys are
    written thousands of times), and _LIST_ITEM to "": a list's items are pairs with that key."""
    if depth + 2 >= len(_JSON_INDENTS):
        raise _NotPlainJSON
    inner = _JSON_INDENTS[depth + 1]
    items: Iterable[tuple[Any, Any]]
    if type(container) is dict:
        lead, closer, items = "{" + inner, "}", container.items()
    else:
        lead, closer, items = "[" + inner, "]", zip(itertools.repeat(_LIST_ITEM), container)
    comma = "," + inner
    for key, value in items:
        encoded_key = keys.get(key)
        if encoded_key is None:
            if type(key) is not str:
                raise _NotPlainJSON
            encoded_key = keys[key] = encode_basestring(key) + ": "
        kind = type(value)  # one chain of checks, inline: this runs for every value
        if kind is int:
            pieces.append(lead + encoded_key + repr(value))
        elif kind is str:
            pieces.append(lead + encoded_key + encode_basestring(value))
        elif kind is dict or kind is list:
            if value:
                pieces.append(lead + encoded_key)
                _indented_json(value, depth + 1, pieces, keys)
            else:
                pieces.append(lead + encoded_key + ("{}" if kind is dict else "[]"))
        elif value is None:
            pieces.append(lead + encoded_key + "null")
        elif value is True:
            pieces.append(lead + encoded_key + "true")
        elif value is False:
            pieces.append(lead + encoded_key + "false")
        elif kind is float and -math.inf < value < math.inf:  # json refuses NaN and infinities
            pieces.append(lead + encoded_key + repr(value))
        else:
            raise _NotPlainJSON
        lead = comma
    pieces.append(_JSON_INDENTS[depth] + closer)


_LIST_ITEM = object()
