"""The episodes of a podcast feed, read from what the build wrote: it reads, it never synthesises.

Every `NAME.mp3` with its JSON sidecar `NAME.json` in the folder is an episode (when any sidecar
says `"kind": "episode"`, only those are: the sessions inside episodes are then parts, not
episodes). The MP3 gives the exact byte length, the duration (its TLEN frame, else mutagen's
reading of the stream), the title and comment, the chapters (its CHAP frames) and the cover; the
sidecar gives what it has of `title`, `description`, `date`, `episode`, `season`, `explicit`,
`guid` and `show` (a mapping with the channel's fields, or the show's title).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mutagen import MutagenError
from mutagen.id3 import ID3, ID3NoHeaderError
from mutagen.mp3 import MP3

from rustpunt.podcast.channel import FeedError, channel_fields, check_keys
from rustpunt.podcast.cover import CoverArt, read_cover
from rustpunt.script.durations import whole_seconds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpisodeChapter:
    start_ms: int
    end_ms: int
    title: str


@dataclass(frozen=True)
class Episode:
    """One built episode, read from its MP3 and its sidecar."""

    stem: str
    mp3: Path
    sidecar: Path
    title: str
    description: str
    published: dt.datetime
    """From the sidecar's `date`; else its `key_since` (when the content got its build key: a
    rebuild of the same content keeps it); else, for an older sidecar, the MP3's time."""
    duration_ms: int
    size_bytes: int
    chapters: tuple[EpisodeChapter, ...]
    transcript: Path | None
    number: int | None = None
    season: int | None = None
    explicit: bool | None = None
    guid: str | None = None
    """The sidecar's own GUID, when it gives one; else the feed derives one."""
    show: Mapping[str, Any] = field(default_factory=dict)
    """The channel fields the sidecar carries (its `show`)."""
    is_episode: bool = False
    """The sidecar says `"kind": "episode"`."""
    cover: CoverArt | None = None
    """The episode's own cover (its `cover:`), read from the MP3; None for a drawn one."""

    @property
    def duration_s(self) -> int:
        return whole_seconds(self.duration_ms)


def _parse_date(value: Any, where: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    raise FeedError(
        f"{where}: `date` is {value!r}; write it as 2025-03-01 or 2025-03-01T07:30:00+01:00"
    )


def _whole(value: Any, key: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FeedError(f"{where}: `{key}` is {value!r}; it is a whole number, 0 or more")
    return value


def _text(value: Any, key: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FeedError(f"{where}: `{key}` is {value!r}; it is text")
    return value.strip() or None


def _mp3_facts(mp3: Path) -> tuple[int, ID3 | None]:
    """(duration in ms, tags): TLEN is the exact length export wrote; else mutagen's estimate."""
    try:
        audio = MP3(mp3)
    except (MutagenError, OSError) as error:
        raise FeedError(f"{mp3}: not an MP3 that can be read ({error}); rebuild it") from None
    try:
        tags: ID3 | None = ID3(mp3)
    except ID3NoHeaderError:
        tags = None
    except (MutagenError, OSError) as error:
        raise FeedError(f"{mp3}: its tags cannot be read ({error}); rebuild it") from None
    if tags is not None and "TLEN" in tags:
        try:
            return int(str(tags["TLEN"].text[0])), tags
        except (ValueError, IndexError):
            pass
    if audio.info is None:
        raise FeedError(f"{mp3}: no MP3 stream found; rebuild it")
    return round(audio.info.length * 1000), tags


def _chapters(tags: ID3 | None) -> tuple[EpisodeChapter, ...]:
    if tags is None:
        return ()
    frames = sorted(tags.getall("CHAP"), key=lambda frame: (frame.start_time, frame.end_time))
    chapters = []
    for frame in frames:
        title = frame.sub_frames.get("TIT2")
        chapters.append(
            EpisodeChapter(frame.start_time, frame.end_time, str(title.text[0]) if title else "")
        )
    return tuple(chapters)


def read_episode(mp3: Path, sidecar: Path) -> Episode:
    """An episode from its MP3 and its JSON sidecar; optional sidecar fields may be missing."""
    where = str(sidecar)
    try:
        document = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise FeedError(
            f"{where}: not a readable JSON sidecar ({error}); rebuild the episode"
        ) from None
    if not isinstance(document, dict):
        raise FeedError(f"{where}: the sidecar is not a JSON object; rebuild the episode")
    duration_ms, tags = _mp3_facts(mp3)
    tag_title = str(tags["TIT2"].text[0]) if tags is not None and "TIT2" in tags else None
    comments = tags.getall("COMM") if tags is not None else []
    tag_comment = str(comments[0].text[0]) if comments and comments[0].text else None
    title = _text(document.get("title"), "title", where) or tag_title or mp3.stem
    description = _text(document.get("description"), "description", where) or tag_comment or title
    if document.get("date") is not None:
        published = _parse_date(document["date"], where)
    elif isinstance(document.get("key_since"), str):
        published = _parse_date(document["key_since"], where).astimezone(dt.timezone.utc)
    else:
        published = dt.datetime.fromtimestamp(mp3.stat().st_mtime, dt.timezone.utc).replace(
            microsecond=0
        )
        log.info("%s: no `date`; the feed uses the MP3's time %s", where, published.isoformat())
    explicit = document.get("explicit")
    if explicit is not None and not isinstance(explicit, bool):
        raise FeedError(f"{where}: `explicit` is {explicit!r}; it is true or false")
    show = document.get("show")
    if isinstance(show, str):
        show = {"title": show}
    if show is not None and not isinstance(show, dict):
        raise FeedError(
            f"{where}: `show` is {show!r}; it is the show's title or a mapping of its settings"
        )
    show_fields: dict[str, Any] = {}
    if show:
        check_keys(where + " (show)", show, {})
        show_fields = channel_fields(where + " (show)", show, {})
    transcript = mp3.with_suffix(".vtt")
    return Episode(
        stem=mp3.stem,
        mp3=mp3,
        sidecar=sidecar,
        title=title,
        description=description,
        published=published,
        duration_ms=duration_ms,
        size_bytes=mp3.stat().st_size,
        chapters=_chapters(tags),
        transcript=transcript if transcript.is_file() else None,
        number=_whole(document.get("episode"), "episode", where),
        season=_whole(document.get("season"), "season", where),
        explicit=explicit,
        guid=_text(document.get("guid"), "guid", where),
        show=show_fields,
        is_episode=document.get("kind") == "episode",
        cover=_own_cover(mp3, where) if document.get("cover") == "own" else None,
    )


def _own_cover(mp3: Path, where: str) -> CoverArt | None:
    """The cover an episode file gave (embedded in its MP3); None, with a warning, when unreadable."""
    try:
        return read_cover(mp3)
    except (OSError, ValueError, MutagenError) as error:
        log.warning(
            "%s: its cover cannot be read from %s (%s); the show's cover is used",
            where,
            mp3.name,
            error,
        )
        return None


def find_episodes(folder: Path) -> list[Episode]:
    """The built episodes in `folder`, newest first (by date, then episode number, then name)."""
    found = []
    for mp3 in sorted(Path(folder).glob("*.mp3")):
        if mp3.name.startswith("."):
            continue
        sidecar = mp3.with_suffix(".json")
        if not sidecar.is_file():
            log.warning("%s: no sidecar %s beside it; not in the feed", mp3, sidecar.name)
            continue
        try:
            found.append(read_episode(mp3, sidecar))
        except FeedError as error:  # one stray file never stops the feed
            log.warning("%s; not in the feed", error)
    if any(episode.is_episode for episode in found):
        found = [episode for episode in found if episode.is_episode]
    found.sort(key=lambda e: (e.published, e.season or 0, e.number or 0, e.stem), reverse=True)
    return found
