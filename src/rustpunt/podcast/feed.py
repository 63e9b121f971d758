"""A podcast feed (RSS 2.0) for the episodes built in one folder (rustpunt.podcast.episodes reads
them), with the channel that rustpunt.podcast.channel checks.

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

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from rustpunt import __version__
from rustpunt.files import write_bytes_atomic
from rustpunt.podcast.categories import category_problem, subcategory_problem
from rustpunt.podcast.channel import (
    CHANNEL_FILE,
    DEFAULT_CATEGORY,
    FeedError,
    Owner,
    Show,
    load_channel_settings,
    web_address_problem,
)
from rustpunt.podcast.cover import CoverArt, CoverError, check_cover, draw_cover
from rustpunt.podcast.episodes import Episode, find_episodes, read_episode

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
DEFAULT_FEED_NAME = "feed.xml"


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
