"""A podcast feed (RSS 2.0) for the episodes built in one folder: it reads, it never synthesises.

Every `NAME.mp3` with its JSON sidecar `NAME.json` in the folder is an episode (when any sidecar
says `"kind": "episode"`, only those are: the sessions inside episodes are then parts, not
episodes). The MP3 gives the exact byte length, the duration (its TLEN frame, else mutagen's
reading of the stream), the title and comment, the chapters (its CHAP frames) and the cover; the
sidecar gives what it has of `title`, `description`, `date`, `episode`, `season`, `explicit`,
`guid` and `show` (a mapping with the channel's fields, or the show's title).

The channel's settings come, each field on its own, from the command line (`--title`,
`--owner-name`, `--owner-email`), else `podcast.yaml` in the folder, else the `show` of the newest
episode's sidecar, else a default (language `nl`, category Health & Fitness, not explicit).

Written beside the episodes: `NAME.chapters.json` (Podcasting 2.0 JSON chapters) for every episode
with chapters, `cover.jpg` (or `.png`) for the channel, and the feed itself. Each is written to a
temporary file and renamed, and left alone when its content is unchanged, so an unchanged
folder syncs nothing. The feed's `lastBuildDate` is the newest episode's date, not the clock:
the same episodes give the same feed, byte for byte.

Tags beyond RSS 2.0: Apple's `itunes:` tags through feedgen's podcast extension, with
`itunes:explicit` written as `true`/`false` as Apple documents it now (feedgen 1.0 only knows
yes/no/clean); the Podcasting 2.0 namespace (`podcast:guid`, `podcast:locked`,
`podcast:chapters`, `podcast:transcript`) through feedgen's `register_extension`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import yaml
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from mutagen import MutagenError
from mutagen.id3 import ID3, ID3NoHeaderError
from mutagen.mp3 import MP3

from rustpunt import __version__
from rustpunt.errors import RustpuntError
from rustpunt.files import write_bytes_atomic
from rustpunt.podcast.categories import category_problem, subcategory_problem
from rustpunt.podcast.cover import CoverArt, CoverError, check_cover, draw_cover, read_cover
from rustpunt.script.durations import whole_seconds

log = logging.getLogger(__name__)

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
"""podcast:guid is the UUIDv5 of the feed URL (no scheme, no trailing slash) in this namespace."""

EPISODE_GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://rustpunt/episode")
"""Item GUIDs are UUIDv5 of "show id/file stem" here: the same episode keeps its GUID for ever,
however often it is rebuilt, whatever its content or the feed's URL."""

CHAPTERS_VERSION = "1.2.0"
CHAPTERS_TYPE = "application/json+chapters"
CHANNEL_FILE = "podcast.yaml"
DEFAULT_FEED_NAME = "feed.xml"
DEFAULT_LANGUAGE = "nl"
DEFAULT_CATEGORY = "Health & Fitness"

ShowType = Literal["episodic", "serial"]


class FeedError(RustpuntError):
    """The feed cannot be written: no episodes, a bad podcast.yaml or sidecar, a bad URL."""


# --------------------------------------------------------------------------- the channel


@dataclass(frozen=True)
class Owner:
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Show:
    """The channel: what podcast.yaml (or the command line, or the episodes) says about the show."""

    title: str
    description: str
    language: str = DEFAULT_LANGUAGE
    author: str | None = None
    owner: Owner = field(default_factory=Owner)
    category: str = DEFAULT_CATEGORY
    subcategory: str | None = None
    explicit: bool = False
    image: str | None = None
    """A URL, or the path of a square JPEG/PNG (relative to the folder); None: one is drawn."""
    link: str | None = None
    """The show's web page; default the base URL."""
    locked: bool = True
    """podcast:locked: other platforms may not import the feed without the owner's consent."""
    id: str | None = None
    """A stable name for the show in episode GUIDs (default the title): keep it if the title changes."""
    type: ShowType = "episodic"


SHOW_KEYS = (
    "title", "description", "language", "author", "owner", "category", "subcategory",
    "explicit", "image", "link", "locked", "id", "type",
)  # fmt: skip
_TEXT_KEYS = (
    "title",
    "description",
    "language",
    "author",
    "category",
    "subcategory",
    "image",
    "link",
    "id",
)


def _yaml_mapping(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """A YAML mapping and the line of each key; scalars as written, so `010` stays text."""
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError) as error:
        raise FeedError(f"{path}: cannot read it ({error})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise FeedError(f"{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if node is None:
        return {}, {}
    if not isinstance(node, yaml.MappingNode):
        raise FeedError(
            f"{path}:{node.start_mark.line + 1}: podcast.yaml is a mapping of settings (title: ..., owner: ...)"
        )
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        lines[key] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.ScalarNode) and key in _TEXT_KEYS:
            values[key] = None if value_node.tag.endswith(":null") else str(value_node.value)
        else:
            values[key] = yaml.safe_load(yaml.serialize(value_node))
    return values, lines


def _check_keys(source: str, values: Mapping[str, Any], lines: Mapping[str, int]) -> None:
    for key in values:
        if key not in SHOW_KEYS:
            close = difflib.get_close_matches(key, SHOW_KEYS, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(SHOW_KEYS)}"
            where = f"{source}:{lines[key]}" if key in lines else source
            raise FeedError(f"{where}: unknown key `{key}`; {hint}")


def _show_fields(
    source: str, values: Mapping[str, Any], lines: Mapping[str, int]
) -> dict[str, Any]:
    """Check the types of the channel settings found in one place; return them as Show fields."""
    fields: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        where = f"{source}:{lines[key]}" if key in lines else source
        if key in _TEXT_KEYS:
            if (
                not isinstance(value, (str, int, float))
                or isinstance(value, bool)
                or not str(value).strip()
            ):
                raise FeedError(f"{where}: `{key}` is text, not {value!r}")
            fields[key] = str(value).strip()
            problem = _value_problem(key, fields[key], values)
            if problem:
                raise FeedError(f"{where}: {problem}")
        elif key in ("explicit", "locked"):
            if not isinstance(value, bool):
                raise FeedError(f"{where}: `{key}` is true or false, not {value!r}")
            fields[key] = value
        elif key == "type":
            if value not in ("episodic", "serial"):
                raise FeedError(f"{where}: `type` is episodic or serial, not {value!r}")
            fields[key] = value
        elif key == "owner":
            if isinstance(value, str):
                value = {"email": value} if "@" in value else {"name": value}
            if not isinstance(value, Mapping) or set(value) - {"name", "email"}:
                raise FeedError(f"{where}: `owner` is a mapping with `name` and `email`")
            email = str(value["email"]).strip() if value.get("email") else None
            if email is not None and not EMAIL.fullmatch(email):
                raise FeedError(
                    f"{where}: the owner's e-mail {email!r} is not an e-mail address "
                    "(name@example.org); Apple writes to it to confirm the show is yours"
                )
            fields[key] = Owner(name=str(value["name"]) if value.get("name") else None, email=email)
    return fields


EMAIL = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[A-Za-z]{2,}")
LANGUAGE_TAG = re.compile(
    r"[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|[0-9]{3}))?(-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
)
"""A language tag as RFC 5646 builds one: language, then script, region and variants ("nl",
"nl-BE", "en-US"); a tag out of that order or shape is a typing error."""


def _value_problem(key: str, text: str, values: Mapping[str, Any]) -> str | None:
    """What is wrong with a text setting a podcast host would reject; None when it is fine."""
    if key == "category":
        return category_problem(text)
    if key == "subcategory":
        category = str(values.get("category") or DEFAULT_CATEGORY).strip()
        if category_problem(category):
            return None  # the category's own error says what to fix first
        return subcategory_problem(category, text)
    if key == "language" and not LANGUAGE_TAG.fullmatch(text):
        return f"`language` {text!r} is not a language tag; write it as `nl`, `nl-BE` or `en-US`"
    if key == "link":
        problem = web_address_problem(text)
        return f"`link` {text!r} {problem}" if problem else None
    return None


def web_address_problem(url: str, *, base: bool = False) -> str | None:
    """Why `url` is not a web address a podcast app can fetch (as the base of the files'
    addresses when `base`: then a query or fragment is wrong too); None when it is one."""
    example = "e.g. https://example.org/podcast"
    if any(char.isspace() or ord(char) < 32 for char in url):
        return "has a space in it; write a space in a path as %20"
    try:
        parts = urlsplit(url)
        port = parts.port  # out of range or not a number: ValueError
    except ValueError as error:
        return f"is not a web address ({error}); {example}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"is not a web address; {example}"
    if port == 0:
        return f"has port 0, which nothing listens on; {example}"
    if parts.username is not None or parts.password is not None:
        return "holds a user name or password, which the feed would publish; leave them out"
    if base and (parts.query or parts.fragment or "?" in url or "#" in url):
        return (
            "has a query (?) or fragment (#); the files' addresses are made by adding their "
            f"names to it, so give the folder's address alone, {example}"
        )
    return None


def load_channel_settings(folder: Path) -> dict[str, Any]:
    """The fields podcast.yaml in `folder` sets (an empty dict when there is none)."""
    path = Path(folder) / CHANNEL_FILE
    if not path.is_file():
        return {}
    values, lines = _yaml_mapping(path)
    _check_keys(str(path), values, lines)
    return _show_fields(str(path), values, lines)


# --------------------------------------------------------------------------- the episodes


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
        _check_keys(where + " (show)", show, {})
        show_fields = _show_fields(where + " (show)", show, {})
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


# --------------------------------------------------------------------------- chapters JSON


def chapters_document(episode: Episode, show_title: str) -> dict[str, Any]:
    """Podcasting 2.0 JSON chapters: version, and each chapter's startTime (s) and title."""
    return {
        "version": CHAPTERS_VERSION,
        "title": episode.title,
        "podcastName": show_title,
        "fileName": episode.mp3.name,
        "chapters": [
            {
                "startTime": chapter.start_ms / 1000,
                "endTime": chapter.end_ms / 1000,
                "title": chapter.title,
            }
            for chapter in episode.chapters
        ],
    }


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    write_bytes_atomic(path, data)
    return True


# --------------------------------------------------------------------------- feedgen extensions


class _Podcasting20(BaseExtension):
    """Channel tags of the Podcasting 2.0 namespace, and Apple's itunes:explicit as true/false."""

    def __init__(self) -> None:
        self.guid: str | None = None
        self.locked: bool | None = None
        self.locked_owner: str | None = None
        self.explicit: bool | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS, "itunes": ITUNES_NS}

    def extend_rss(self, rss_feed: Any) -> Any:
        channel = rss_feed[0]
        if self.explicit is not None:
            xml_elem(f"{{{ITUNES_NS}}}explicit", channel).text = (
                "true" if self.explicit else "false"
            )
        if self.guid:
            xml_elem(f"{{{PODCAST_NS}}}guid", channel).text = self.guid
        if self.locked is not None:
            locked = xml_elem(f"{{{PODCAST_NS}}}locked", channel)
            locked.text = "yes" if self.locked else "no"
            if self.locked_owner:
                locked.attrib["owner"] = self.locked_owner
        return rss_feed


class _Podcasting20Entry(BaseEntryExtension):
    """Item tags: podcast:chapters, podcast:transcript, and itunes:explicit as true/false."""

    def __init__(self) -> None:
        self.chapters_url: str | None = None
        self.transcript_url: str | None = None
        self.transcript_language: str | None = None
        self.explicit: bool | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS, "itunes": ITUNES_NS}

    def extend_rss(self, entry: Any) -> Any:
        if self.explicit is not None:
            xml_elem(f"{{{ITUNES_NS}}}explicit", entry).text = "true" if self.explicit else "false"
        if self.chapters_url:
            chapters = xml_elem(f"{{{PODCAST_NS}}}chapters", entry)
            chapters.attrib.update({"url": self.chapters_url, "type": CHAPTERS_TYPE})
        if self.transcript_url:
            transcript = xml_elem(f"{{{PODCAST_NS}}}transcript", entry)
            transcript.attrib.update(
                {"url": self.transcript_url, "type": "text/vtt", "rel": "captions"}
            )
            if self.transcript_language:
                transcript.attrib["language"] = self.transcript_language
        return entry


# --------------------------------------------------------------------------- the feed


@dataclass(frozen=True)
class FeedResult:
    """What `write_feed` wrote, for the command line to report."""

    feed: Path
    url: str
    podcast_guid: str
    show: Show
    episodes: tuple[Episode, ...]
    guids: tuple[str, ...]
    """Each episode's item GUID, in the order of `episodes`."""
    chapters_files: tuple[Path, ...]
    cover: str
    """The URL of the channel's image."""
    changed: bool
    """False when the feed already had this content and was left alone."""

    def as_json(self) -> dict[str, Any]:
        return {
            "feed": str(self.feed),
            "url": self.url,
            "podcast_guid": self.podcast_guid,
            "title": self.show.title,
            "cover": self.cover,
            "changed": self.changed,
            "episodes": [
                {
                    "file": str(episode.mp3),
                    "title": episode.title,
                    "guid": guid,
                    "published": episode.published.isoformat(),
                    "bytes": episode.size_bytes,
                    "duration_s": episode.duration_s,
                    "chapters": len(episode.chapters),
                    "transcript": episode.transcript is not None,
                }
                for episode, guid in zip(self.episodes, self.guids)
            ],
        }


def podcast_guid(feed_url: str) -> str:
    """podcast:guid: UUIDv5 of the feed URL without its scheme and trailing slashes."""
    parts = urlsplit(feed_url)
    bare = feed_url[len(parts.scheme) + 3 :] if parts.scheme else feed_url
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare.rstrip("/")))


def episode_guid(show_id: str, stem: str) -> str:
    """An item's GUID from its identity (the show and the file's name), never from its content."""
    return str(uuid.uuid5(EPISODE_GUID_NAMESPACE, f"{show_id}/{stem}"))


def _check_base_url(base_url: str) -> str:
    problem = web_address_problem(base_url, base=True)
    if problem:
        raise FeedError(f"--base-url {base_url!r} {problem}; give where the folder is published")
    return base_url.rstrip("/")


def _url(base: str, relative: str) -> str:
    return f"{base}/{quote(relative)}"


def _settle_show(folder: Path, episodes: list[Episode], overrides: Mapping[str, Any]) -> Show:
    """Each channel field from the command line, else podcast.yaml, else the newest episode's show."""
    fields: dict[str, Any] = {}
    for episode in reversed(episodes):  # newest last: it wins
        fields.update(episode.show)
    fields.update(load_channel_settings(folder))
    owner = fields.get("owner", Owner())
    if overrides.get("owner_name") or overrides.get("owner_email"):
        fields["owner"] = Owner(
            name=overrides.get("owner_name") or owner.name,
            email=overrides.get("owner_email") or owner.email,
        )
    if overrides.get("title"):
        fields["title"] = overrides["title"]
    if not fields.get("title"):
        raise FeedError(
            f"{folder}: the show has no title; add `title:` to {folder / CHANNEL_FILE} "
            "or pass --title"
        )
    fields.setdefault("description", fields["title"])
    category = fields.get("category", DEFAULT_CATEGORY)
    problem = category_problem(category) or (
        subcategory_problem(category, fields["subcategory"]) if fields.get("subcategory") else None
    )
    if problem:  # each was checked where it was set; here they meet from different places
        raise FeedError(f"{folder}: the show's {problem}")
    return Show(**fields)


def _channel_cover(folder: Path, show: Show, base: str) -> str:
    """The URL of the channel's image: given as a URL, or a checked file, or a drawn cover."""
    if show.image and urlsplit(show.image).scheme in ("http", "https"):
        if not show.image.lower().endswith((".jpg", ".png")):
            raise FeedError(
                f"{folder / CHANNEL_FILE}: `image` {show.image} must end in .jpg or .png, as Apple asks"
            )
        return show.image
    cover: CoverArt
    if show.image:
        path = (folder / show.image).resolve()
        try:
            cover = check_cover(path)
        except CoverError as error:
            raise FeedError(f"{error} (the `image` of {folder / CHANNEL_FILE})") from None
        inside = path.is_relative_to(folder.resolve())
        if inside and path.suffix in (".jpg", ".png") and cover.converted_from is None:
            return _url(base, path.relative_to(folder.resolve()).as_posix())
    else:
        cover = draw_cover(show.title, show.author)
    name = f"cover.{cover.extension}"
    _write_if_changed(folder / name, cover.data)
    return _url(base, name)


def write_feed(
    folder: Path,
    base_url: str,
    *,
    output: Path | None = None,
    title: str | None = None,
    owner_name: str | None = None,
    owner_email: str | None = None,
) -> FeedResult:
    """Write the podcast feed for the episodes built in `folder`, published at `base_url`.

    `output` defaults to `folder/feed.xml`; the feed's own URL is `base_url` plus its path
    relative to the folder (or its name, when it is written elsewhere). Raises FeedError.
    """
    folder = Path(folder)
    base = _check_base_url(base_url)
    if not folder.is_dir():
        raise FeedError(f"{folder}: no such folder; build the episodes into it first")
    output = Path(output) if output is not None else folder / DEFAULT_FEED_NAME
    episodes = find_episodes(folder)
    if not episodes:
        raise FeedError(
            f"{folder}: no built episodes (NAME.mp3 with its NAME.json); "
            "build them first with `rustpunt build`"
        )
    show = _settle_show(
        folder, episodes, {"title": title, "owner_name": owner_name, "owner_email": owner_email}
    )
    try:
        relative = output.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        relative = output.name
    feed_url = _url(base, relative)
    guid = podcast_guid(feed_url)
    cover_url = _channel_cover(folder, show, base)

    generator = FeedGenerator()
    generator.load_extension("podcast")
    generator.register_extension("podcastindex", _Podcasting20, _Podcasting20Entry)
    generator.title(show.title)
    generator.description(show.description)
    generator.link(href=feed_url, rel="self")  # feedgen gives RSS's <link> the last one
    generator.link(href=show.link or base + "/", rel="alternate")
    generator.language(show.language)
    generator.generator(f"rustpunt {__version__}")
    generator.lastBuildDate(episodes[0].published)
    generator.pubDate(episodes[0].published)
    itunes = generator.podcast  # type: ignore[attr-defined]
    itunes.itunes_image(cover_url)
    itunes.itunes_category(
        {"cat": show.category, "sub": show.subcategory}
        if show.subcategory
        else {"cat": show.category}
    )
    itunes.itunes_type(show.type)
    itunes.itunes_summary(show.description)
    if show.author:
        itunes.itunes_author(show.author)
    if show.owner.email:
        itunes.itunes_owner(
            name=show.owner.name or show.author or show.title, email=show.owner.email
        )
    extension = generator.podcastindex  # type: ignore[attr-defined]
    extension.explicit = show.explicit  # feedgen refuses "true"/"false": written by our extension
    extension.guid = guid
    if show.owner.email:
        extension.locked = show.locked
        extension.locked_owner = show.owner.email
    elif show.locked:  # the Podcast Index ignores podcast:locked without its owner
        log.warning(
            "podcast:locked is left out: it needs the owner's e-mail; set `owner: {email: ...}` "
            "in %s or pass --owner-email",
            folder / CHANNEL_FILE,
        )

    show_id = show.id or show.title
    guids = []
    chapters_files = []
    for episode in episodes:
        item_guid = episode.guid or episode_guid(show_id, episode.stem)
        guids.append(item_guid)
        entry = generator.add_entry(order="append")
        entry.title(episode.title)
        entry.description(episode.description)
        entry.guid(item_guid, permalink=False)
        entry.enclosure(_url(base, episode.mp3.name), str(episode.size_bytes), "audio/mpeg")
        entry.pubDate(episode.published)
        entry.podcast.itunes_duration(episode.duration_s)
        entry.podcast.itunes_episode_type("full")
        if episode.number is not None:
            entry.podcast.itunes_episode(episode.number)
        if episode.season is not None:
            entry.podcast.itunes_season(episode.season)
        if episode.explicit is not None:
            entry.podcastindex.explicit = episode.explicit
        if episode.chapters:
            chapters_path = folder / f"{episode.stem}.chapters.json"
            text = json.dumps(chapters_document(episode, show.title), indent=2, ensure_ascii=False)
            _write_if_changed(chapters_path, (text + "\n").encode("utf-8"))
            chapters_files.append(chapters_path)
            entry.podcastindex.chapters_url = _url(base, chapters_path.name)
        if episode.cover is not None:
            image = f"{episode.stem}.cover.{episode.cover.extension}"
            _write_if_changed(folder / image, episode.cover.data)
            entry.podcast.itunes_image(_url(base, image))
        if episode.transcript is not None:
            entry.podcastindex.transcript_url = _url(base, episode.transcript.name)
            entry.podcastindex.transcript_language = show.language
    data = generator.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    changed = _write_if_changed(output, data)
    return FeedResult(
        feed=output,
        url=feed_url,
        podcast_guid=guid,
        show=show,
        episodes=tuple(episodes),
        guids=tuple(guids),
        chapters_files=tuple(chapters_files),
        cover=cover_url,
        changed=changed,
    )


__all__ = [
    "CHANNEL_FILE",
    "Episode",
    "FeedError",
    "FeedResult",
    "Show",
    "chapters_document",
    "episode_guid",
    "find_episodes",
    "load_channel_settings",
    "podcast_guid",
    "read_episode",
    "write_feed",
]
