"""The channel of a podcast feed: the show's settings from `podcast.yaml`, each checked where it
is written, so a podcast host never refuses what the feed says.

The channel's settings come, each field on its own, from the command line (`--title`,
`--owner-name`, `--owner-email`), else `podcast.yaml` in the folder, else the `show` of the newest
episode's sidecar, else a default (language `nl`, category Health & Fitness, not explicit); the
feed (rustpunt.podcast.feed) settles them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from rustpunt.errors import RustpuntError
from rustpunt.podcast.categories import category_problem, subcategory_problem

CHANNEL_FILE = "podcast.yaml"
DEFAULT_LANGUAGE = "nl"
DEFAULT_CATEGORY = "Health & Fitness"

ShowType = Literal["episodic", "serial"]


class FeedError(RustpuntError):
    """The feed cannot be written: no episodes, a bad podcast.yaml or sidecar, a bad URL."""


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


def check_keys(source: str, values: Mapping[str, Any], lines: Mapping[str, int]) -> None:
    for key in values:
        if key not in SHOW_KEYS:
            close = difflib.get_close_matches(key, SHOW_KEYS, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(SHOW_KEYS)}"
            where = f"{source}:{lines[key]}" if key in lines else source
            raise FeedError(f"{where}: unknown key `{key}`; {hint}")


def channel_fields(
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
    check_keys(str(path), values, lines)
    return channel_fields(str(path), values, lines)
