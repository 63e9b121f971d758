"""An episode file (rustpunt.build.episode builds it): YAML beside the scripts, told apart from a
script by its `parts:`:

    episode: 3                  # the episode's number (and season:)
    title: Rust in de trein
    show: Rustpunt              # the podcast's name (the MP3's album)
    description: Twee korte oefeningen voor onderweg.
    date: 2026-12-01
    author: Jan Jansen
    language: nl
    explicit: false
    cover: cover.jpg            # square JPEG/PNG, 1400-3000 px; without it one is drawn
    voice: nl-espeak            # one voice speaks the whole episode (default: the first script's)
    sound: {bed: rain}          # sound design under the whole episode (see rustpunt.script.soundsettings)
    parts:
      - audio: jingle.mp3       # an audio file (relative to the episode file)
      - text: Welkom bij Rustpunt.
      - pause: 2
      - script: schouders.yaml  # an exercise script (relative to the episode file)
      - script: adem.yaml
        title: Ademhaling       # a part's chapter title (default: the script's title)
      - text: Tot de volgende keer.
      - audio: jingle.mp3

Loaded and checked here: every part named is there, and its scripts load; a problem is a
ScriptError naming the episode file and its line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from rustpunt.build.options import is_episode_file
from rustpunt.errors import FileProblem, ScriptError
from rustpunt.script.load import Script, load_script, parse_length, parse_pause, text_field
from rustpunt.script.soundsettings import (
    DesignProblem,
    SoundDesign,
    SoundSettings,
    design_for,
    parse_sound,
)
from rustpunt.script.yamldoc import LineMapping, LineSequence, Problem, decode_text, parse_document

EPISODE_KEYS = (
    "parts", "episode", "season", "title", "show", "description", "date", "author",
    "language", "explicit", "cover", "voice", "sound", "guid",
    "length",  # the episode's exact length: see rustpunt.build.length
)  # fmt: skip
PART_KINDS = ("text", "script", "audio", "pause")
PART_KEYS = (*PART_KINDS, "title")


@dataclass(frozen=True)
class Part:
    kind: Literal["text", "script", "audio", "pause"]
    line: int
    title: str | None = None
    text: str | None = None
    path: Path | None = None
    ms: int = 0
    script: Script | None = None


@dataclass(frozen=True)
class EpisodeFile:
    path: Path
    parts: tuple[Part, ...]
    title: str
    show: str | None = None
    number: int | None = None
    season: int | None = None
    description: str | None = None
    date: str | None = None
    author: str | None = None
    language: str | None = None
    explicit: bool | None = None
    guid: str | None = None
    cover: Path | None = None
    cover_line: int | None = None
    voice: str | None = None
    voice_line: int | None = None
    design: SoundDesign = field(default_factory=SoundDesign)
    """sound.yaml beside the episode, then its own `sound:` (see `with_overrides` for --bed)."""
    sound: SoundSettings | None = None
    """The episode's own `sound:`."""
    digest: str = ""
    length_ms: int | None = None
    """`length:`: the episode's exact length (its scripts' pauses give way; a script's own
    `length:` counts only when it is built on its own)."""
    length_line: int | None = None


def with_overrides(episode: EpisodeFile, overrides: SoundSettings | None) -> EpisodeFile:
    """The episode with the command line's --bed, --bell, --chime over its sound design."""
    if overrides is None:
        return episode
    return replace(episode, design=design_for(episode.path, episode.sound, overrides))


def load_episode(path: Path) -> EpisodeFile:
    """Read and check an episode file and its parts (scripts loaded, files there); ScriptError
    naming the episode file and the line of the problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ScriptError(path, None, f"cannot be read: {error.strerror or error}") from None
    try:
        return _parse(data, path)
    except Problem as problem:
        raise ScriptError(path, problem.line, problem.message) from None


def _parse(data: bytes, path: Path) -> EpisodeFile:
    document = parse_document(decode_text(data))
    if not isinstance(document, LineMapping):
        raise Problem(1, "an episode is a mapping with `title:` and `parts:`")
    for key in document:
        if key not in EPISODE_KEYS:
            raise Problem(document.key_lines[key], _unknown(key, EPISODE_KEYS, "top level"))

    def line_of(key: str) -> int:
        return document.key_lines.get(key, document.line)

    def text_of(key: str) -> str | None:
        if document.get(key) is None and document.written.get(key) in (None, "", "~"):
            return None
        return text_field(document.get(key), line_of(key), key, written=document.written.get(key))

    title = text_of("title")
    if title is None:
        raise Problem(document.line, "missing `title:`; an episode needs a title and parts")
    if "parts" not in document:
        raise Problem(document.line, "missing `parts:`; list the episode's parts")
    own: SoundSettings | None = None
    if document.get("sound") is not None:
        try:
            own = parse_sound(
                document["sound"],
                getattr(document["sound"], "key_lines", {}),
                line_of("sound"),
                base=path.parent,
                named_in=path,
            )
        except DesignProblem as problem:
            raise Problem(problem.line, problem.message) from None
    design = design_for(path, own, None)
    explicit = document.get("explicit")
    if explicit is not None and not isinstance(explicit, bool):
        raise Problem(line_of("explicit"), "`explicit` is true or false")
    date = document.get("date")
    if isinstance(date, (dt.date, dt.datetime)):
        date = date.isoformat()
    if date is not None:
        try:
            dt.datetime.fromisoformat(str(date).replace("Z", "+00:00"))
        except ValueError:
            raise Problem(
                line_of("date"),
                f"`date` {date!r}: write it as 2026-12-01 or 2026-12-01T07:30:00+01:00",
            ) from None
    cover = text_of("cover")
    return EpisodeFile(
        path=path,
        parts=_parts(document["parts"], line_of("parts"), path),
        title=title,
        show=text_of("show"),
        number=_whole(document.get("episode"), line_of("episode"), "episode"),
        season=_whole(document.get("season"), line_of("season"), "season"),
        description=text_of("description"),
        date=str(date) if date is not None else None,
        author=text_of("author"),
        language=text_of("language"),
        explicit=explicit,
        guid=text_of("guid"),
        cover=path.parent / cover if cover else None,
        cover_line=document.key_lines.get("cover"),
        voice=text_of("voice"),
        voice_line=document.key_lines.get("voice"),
        design=design,
        sound=own,
        digest=hashlib.sha256(data).hexdigest(),
        length_ms=parse_length(document, line_of("length")),
        length_line=document.key_lines.get("length"),
    )


def _whole(value: Any, line: int, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Problem(line, f"`{key}` is a whole number, 0 or more, not {value!r}")
    return value


def _unknown(key: Any, known: tuple[str, ...], where: str) -> str:
    import difflib

    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key `{key}` at the {where}; {hint}"


def _parts(value: Any, line: int, episode: Path) -> tuple[Part, ...]:
    if not isinstance(value, LineSequence) or not value:
        raise Problem(
            line, "`parts` is a list of parts: `- text:`, `- script:`, `- audio:`, `- pause:`"
        )
    parts = []
    for number, (item, item_line) in enumerate(zip(value, value.item_lines), start=1):
        where = f"part {number}"
        if not isinstance(item, LineMapping):
            raise Problem(item_line, f"{where} is a mapping such as `- script: adem.yaml`")
        for key in item:
            if key not in PART_KEYS:
                raise Problem(item.key_lines[key], _unknown(key, PART_KEYS, where))
        kinds = [key for key in PART_KINDS if key in item]
        if len(kinds) != 1:
            raise Problem(
                item_line, f"{where} has one of {', '.join(PART_KINDS)}, not {len(kinds) or 'none'}"
            )
        kind = kinds[0]
        at = item.key_lines[kind]
        title = (
            text_field(item["title"], item.key_lines["title"], f"{where} title")
            if item.get("title") is not None
            else None
        )
        if kind == "pause":
            ms = parse_pause(item["pause"], at, f"{where} pause", written=item.written.get("pause"))
            parts.append(Part("pause", item_line, ms=ms))
        elif kind == "text":
            text = text_field(
                item["text"], at, f"{where} text", spoken=True, written=item.written.get("text")
            )
            parts.append(Part("text", item_line, title=title, text=text))
        else:
            name = text_field(item[kind], at, f"{where} {kind}")
            target = episode.parent / name
            if not target.is_file():
                raise Problem(
                    at, f"{where}: {name} is not there; check the path (relative to {episode.name})"
                )
            if kind == "script":
                parts.append(
                    Part(
                        "script",
                        item_line,
                        title=title,
                        path=target,
                        script=_script(target, at, where, episode),
                    )
                )
            else:
                parts.append(Part("audio", item_line, title=title, path=target))
    return tuple(parts)


def _script(target: Path, line: int, where: str, episode: Path) -> Script:
    if target.resolve() == episode.resolve():
        raise Problem(
            line, f"{where}: an episode cannot contain itself (a cycle); name exercise scripts"
        )
    if is_episode_file(target):
        raise Problem(
            line,
            f"{where}: {target.name} is an episode itself; an episode's parts are scripts, text and audio",
        )
    try:
        return load_script(target)
    except FileProblem as error:
        raise Problem(line, f"{where}: {error}") from None
