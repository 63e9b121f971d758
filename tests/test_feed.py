"""feed: real episodes built by `rustpunt build`, a feed read back by feedparser and by XML."""

from __future__ import annotations

import json
import os
import shutil
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import jsonschema
import pytest
from mutagen.id3 import ID3

import audiotools
from conftest import run_cli, write_script
from rustpunt.podcast.cover import COVER_PX, check_cover
from rustpunt.podcast.feed import FeedError, episode_guid, podcast_guid, write_feed

BASE = "https://example.org/rustpunt"
PODCAST = "{https://podcastindex.org/namespace/1.0}"
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"

SCRIPTS = {
    "ochtend.yaml": """\
title: Ochtend ademen
description: Een korte oefening voor de ochtend.
intro: Goedemorgen.
steps:
  - text: Adem rustig in door je neus.
    pause: 1
  - text: Adem langzaam uit door je mond.
    pause: 1
""",
    "avond.yaml": """\
title: Avond ontspannen
steps:
  - text: Sluit je ogen.
    pause: 1
  - text: Laat je schouders zakken.
    pause: 0.5
  - text: Open langzaam je ogen.
    pause: 0.5
""",
}

CHAPTERS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Podcasting 2.0 JSON chapters (podcast-namespace, chapters/jsonChapters.md)",
    "type": "object",
    "required": ["version", "chapters"],
    "properties": {
        "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
        "author": {"type": "string"},
        "title": {"type": "string"},
        "podcastName": {"type": "string"},
        "description": {"type": "string"},
        "fileName": {"type": "string"},
        "waypoints": {"type": "boolean"},
        "chapters": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["startTime"],
                "additionalProperties": False,
                "properties": {
                    "startTime": {"type": "number", "minimum": 0},
                    "endTime": {"type": "number", "minimum": 0},
                    "title": {"type": "string"},
                    "img": {"type": "string", "format": "uri"},
                    "url": {"type": "string", "format": "uri"},
                    "toc": {"type": "boolean"},
                    "location": {
                        "type": "object",
                        "required": ["name", "geo"],
                        "properties": {
                            "name": {"type": "string"},
                            "geo": {"type": "string"},
                            "osm": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}


def build(scripts: Path, output: Path) -> None:
    result = run_cli("build", scripts, "-o", output, "--voice", "nl-espeak")
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real episodes (MP3, VTT, JSON sidecar) built once by the real program, offline."""
    root = tmp_path_factory.mktemp("built")
    for name, text in SCRIPTS.items():
        write_script(root / "scripts", name, text)
    build(root / "scripts", root / "output")
    return root


@pytest.fixture
def folder(built: Path, tmp_path: Path) -> Path:
    """A fresh copy of the built episodes for each test (the feed writes beside them)."""
    shutil.copytree(built / "output", tmp_path / "output")
    return tmp_path / "output"


def podcast_yaml(folder: Path, text: str) -> None:
    (folder / "podcast.yaml").write_text(text, encoding="utf-8")


def items_by_title(feed_path: Path) -> dict[str, ET.Element]:
    channel = ET.parse(feed_path).getroot().find("channel")
    assert channel is not None
    return {item.findtext("title", ""): item for item in channel.findall("item")}


# --------------------------------------------------------------------------- read back


def test_feedparser_reads_every_episode_with_exact_lengths_and_durations(folder: Path) -> None:
    podcast_yaml(
        folder,
        "title: Rustpunt\ndescription: Oefeningen voor elke dag.\nauthor: Jan Jansen\n"
        "owner: {name: Jan Jansen, email: jan@example.org}\n",
    )
    result = write_feed(folder, BASE)
    parsed = feedparser.parse(str(result.feed))
    assert not parsed.bozo, parsed.get("bozo_exception")
    channel = parsed.feed
    assert channel.title == "Rustpunt"
    assert channel.subtitle == "Oefeningen voor elke dag."  # RSS <description>
    assert channel.language == "nl"
    assert channel.image.href == f"{BASE}/cover.jpg"
    assert channel.tags[0].term == "Health & Fitness"
    # (itunes:explicit is checked in the XML: feedparser 6 only understands yes/clean)
    assert channel.author_detail.name == "Jan Jansen"
    assert channel.publisher_detail.email == "jan@example.org"  # itunes:owner

    assert len(parsed.entries) == 2
    for entry in parsed.entries:
        (enclosure,) = entry.enclosures
        mp3 = folder / Path(enclosure.href).name
        assert enclosure.href == f"{BASE}/{mp3.name}"
        assert enclosure.type == "audio/mpeg"
        assert int(enclosure.length) == mp3.stat().st_size
        decoded_s = audiotools.duration_ms(mp3) / 1000
        assert abs(int(entry.itunes_duration) - decoded_s) <= 0.5 + 0.05
        sidecar = json.loads(mp3.with_suffix(".json").read_text(encoding="utf-8"))
        assert entry.title == sidecar["title"]
        assert entry.guidislink is False
        assert entry.published_parsed is not None
    by_title = {entry.title: entry for entry in parsed.entries}
    assert by_title["Ochtend ademen"].summary == "Een korte oefening voor de ochtend."
    assert by_title["Avond ontspannen"].summary == "Avond ontspannen"  # no description: the title


def test_podcasting20_tags_are_there(folder: Path) -> None:
    podcast_yaml(folder, "title: Rustpunt\nowner:\n  name: Jan\n  email: jan@example.org\n")
    result = write_feed(folder, BASE + "/")
    root = ET.parse(result.feed).getroot()
    channel = root.find("channel")
    assert channel is not None
    expected_guid = str(
        uuid.uuid5(
            uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"), "example.org/rustpunt/feed.xml"
        )
    )
    assert channel.findtext(f"{PODCAST}guid") == expected_guid == result.podcast_guid
    locked = channel.find(f"{PODCAST}locked")
    assert locked is not None and locked.text == "yes" and locked.get("owner") == "jan@example.org"
    assert channel.findtext(f"{ITUNES}explicit") == "false"
    assert channel.find(f"{ITUNES}image").get("href") == f"{BASE}/cover.jpg"  # type: ignore[union-attr]
    assert channel.find(f"{ITUNES}category").get("text") == "Health & Fitness"  # type: ignore[union-attr]
    for stem, item in (("ochtend", items_by_title(result.feed)["Ochtend ademen"]),
                       ("avond", items_by_title(result.feed)["Avond ontspannen"])):  # fmt: skip
        chapters = item.find(f"{PODCAST}chapters")
        assert chapters is not None
        assert chapters.get("url") == f"{BASE}/{stem}.chapters.json"
        assert chapters.get("type") == "application/json+chapters"
        transcript = item.find(f"{PODCAST}transcript")
        assert transcript is not None
        assert (transcript.get("url"), transcript.get("type")) == (f"{BASE}/{stem}.vtt", "text/vtt")
        assert (folder / f"{stem}.vtt").is_file()


@pytest.mark.parametrize(
    ("url", "guid"),
    [  # the vectors the namespace's own docs and feedgen's tests give
        ("https://mp3s.nashownotes.com/pc20rss.xml", "917393e3-1b1e-5cef-ace4-edaa54e1f810"),
        ("podnews.net/rss////", "9b024349-ccf0-5f69-a609-6b82873eab3c"),
        ("https://podnews.net/rss/", "9b024349-ccf0-5f69-a609-6b82873eab3c"),
    ],
)
def test_podcast_guid_follows_the_namespace(url: str, guid: str) -> None:
    assert podcast_guid(url) == guid


def test_chapters_json_is_valid_and_matches_the_mp3_chapters(folder: Path) -> None:
    jsonschema.Draft202012Validator.check_schema(CHAPTERS_SCHEMA)
    result = write_feed(folder, BASE, title="Rustpunt")
    assert sorted(p.name for p in result.chapters_files) == [
        "avond.chapters.json",
        "ochtend.chapters.json",
    ]
    for path in result.chapters_files:
        document = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(document, CHAPTERS_SCHEMA)
        mp3 = folder / document["fileName"]
        from_ffmpeg = audiotools.chapters(mp3)
        assert [(c["startTime"], c["title"]) for c in document["chapters"]] == [
            (start / 1000, title) for start, _, title in from_ffmpeg
        ]
        starts = [c["startTime"] for c in document["chapters"]]
        assert starts == sorted(starts) and starts[0] == 0
    # and the schema does reject what is not the format
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": "1.2.0", "chapters": [{"start_time": 0}]}, CHAPTERS_SCHEMA)


def test_guids_stay_when_episodes_are_rebuilt_and_changed(built: Path, tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    shutil.copytree(built / "scripts", scripts)
    output = tmp_path / "output"
    shutil.copytree(built / "output", output)
    first = write_feed(output, BASE, title="Rustpunt")
    guids = dict(zip((e.stem for e in first.episodes), first.guids))
    assert guids == {stem: episode_guid("Rustpunt", stem) for stem in ("ochtend", "avond")}
    assert len(set(guids.values())) == 2

    text = (scripts / "avond.yaml").read_text(encoding="utf-8")
    (scripts / "avond.yaml").write_text(
        text.replace("Sluit je ogen.", "Sluit nu rustig je ogen."), encoding="utf-8"
    )
    build(scripts, output)
    second = write_feed(output, BASE, title="Rustpunt")
    assert dict(zip((e.stem for e in second.episodes), second.guids)) == guids
    avond = next(e for e in second.episodes if e.stem == "avond")
    assert avond.size_bytes == (output / "avond.mp3").stat().st_size
    item = items_by_title(second.feed)["Avond ontspannen"]
    assert item.find("enclosure").get("length") == str(avond.size_bytes)  # type: ignore[union-attr]
    assert item.findtext("guid") == guids["avond"]


def test_an_unchanged_folder_gives_the_same_feed_and_leaves_it_alone(folder: Path) -> None:
    first = write_feed(folder, BASE, title="Rustpunt")
    data = first.feed.read_bytes()
    os.utime(first.feed, (1, 1))
    second = write_feed(folder, BASE, title="Rustpunt")
    assert not second.changed
    assert second.feed.read_bytes() == data
    assert second.feed.stat().st_mtime == 1
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]


# --------------------------------------------------------------------------- the channel's settings


def test_podcast_yaml_sets_the_channel_and_the_command_line_wins(folder: Path) -> None:
    podcast_yaml(
        folder,
        """\
title: Rustpunt
description: Korte oefeningen.
language: nl-BE
author: Jan Jansen
owner: {name: Jan Jansen, email: jan@example.org}
category: Health & Fitness
subcategory: Mental Health
explicit: true
locked: false
link: https://example.org/
type: serial
""",
    )
    result = write_feed(folder, BASE, title="Rustpunt Plus", owner_email="info@example.org")
    channel = ET.parse(result.feed).getroot().find("channel")
    assert channel is not None
    assert channel.findtext("title") == "Rustpunt Plus"
    assert channel.findtext("description") == "Korte oefeningen."
    assert channel.findtext("language") == "nl-BE"
    assert channel.findtext("link") == "https://example.org/"
    assert channel.findtext(f"{ITUNES}explicit") == "true"
    assert channel.findtext(f"{ITUNES}type") == "serial"
    assert channel.findtext(f"{ITUNES}owner/{ITUNES}email") == "info@example.org"
    assert channel.findtext(f"{ITUNES}owner/{ITUNES}name") == "Jan Jansen"
    category = channel.find(f"{ITUNES}category")
    assert category is not None and category.get("text") == "Health & Fitness"
    assert category.find(f"{ITUNES}category").get("text") == "Mental Health"  # type: ignore[union-attr]
    locked = channel.find(f"{PODCAST}locked")
    assert locked is not None and locked.text == "no" and locked.get("owner") == "info@example.org"


def test_a_users_cover_is_checked_and_published(folder: Path, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (1400, 1400), (20, 80, 90)).save(folder / "hoes.png")
    podcast_yaml(folder, "title: Rustpunt\nimage: hoes.png\n")
    result = write_feed(folder, BASE)
    assert result.cover == f"{BASE}/hoes.png"
    assert not (folder / "cover.jpg").exists()

    Image.new("RGB", (1400, 1000)).save(tmp_path / "scheef.png")
    podcast_yaml(folder, f"title: Rustpunt\nimage: {tmp_path / 'scheef.png'}\n")
    with pytest.raises(
        FeedError, match=r"scheef\.png: 1400 x 1000 px is not square; .*podcast\.yaml"
    ):
        write_feed(folder, BASE)


def test_a_greyscale_cover_is_published_in_rgb_and_a_truncated_one_refused(folder: Path) -> None:
    import io

    from PIL import Image

    Image.new("L", (1400, 1400), 90).save(folder / "grijs.png")
    podcast_yaml(folder, "title: Rustpunt\nimage: grijs.png\n")
    result = write_feed(folder, BASE)
    assert result.cover == f"{BASE}/cover.png"  # the converted copy, not the user's file
    with Image.open(folder / "cover.png") as published:
        assert published.mode == "RGB" and published.size == (1400, 1400)

    buffer = io.BytesIO()
    Image.effect_noise((1400, 1400), 60).convert("RGB").save(buffer, "JPEG")
    (folder / "half.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    podcast_yaml(folder, "title: Rustpunt\nimage: half.jpg\n")
    with pytest.raises(FeedError, match=r"half\.jpg: the image is damaged"):
        write_feed(folder, BASE)


def test_without_an_image_a_cover_is_drawn_for_the_show(folder: Path) -> None:
    result = write_feed(folder, BASE, title="Rustpunt")
    cover = check_cover(folder / "cover.jpg")
    assert (cover.width, cover.mime) == (COVER_PX, "image/jpeg")
    assert result.cover == f"{BASE}/cover.jpg"


def test_sidecar_fields_are_read_when_present(folder: Path) -> None:
    """Episodes will carry show and episode fields; the feed reads whichever are there."""
    sidecar = folder / "avond.json"
    document = json.loads(sidecar.read_text(encoding="utf-8"))
    document.update(
        {
            "kind": "episode",
            "description": "De tweede aflevering.",
            "date": "2025-03-01T07:30:00+01:00",
            "episode": 2,
            "season": 1,
            "explicit": False,
            "show": {"title": "Rustpunt", "author": "Jan", "language": "nl"},
        }
    )
    sidecar.write_text(json.dumps(document), encoding="utf-8")
    result = write_feed(folder, BASE)  # the title comes from the sidecar's show
    assert [e.stem for e in result.episodes] == ["avond"]  # episodes only, once one says so
    parsed = feedparser.parse(str(result.feed))
    assert parsed.feed.title == "Rustpunt"
    (entry,) = parsed.entries
    assert entry.summary == "De tweede aflevering."
    assert entry.published == "Sat, 01 Mar 2025 07:30:00 +0100"
    assert tuple(entry.published_parsed)[:5] == (2025, 3, 1, 6, 30)  # in UTC
    assert (entry.itunes_episode, entry.itunes_season) == ("2", "1")
    item = items_by_title(result.feed)["Avond ontspannen"]
    assert item.findtext(f"{ITUNES}explicit") == "false"


def test_episodes_are_newest_first(folder: Path) -> None:
    for stem, date in (("ochtend", "2025-01-02"), ("avond", "2025-01-09")):
        sidecar = folder / f"{stem}.json"
        document = json.loads(sidecar.read_text(encoding="utf-8"))
        document["date"] = date
        sidecar.write_text(json.dumps(document), encoding="utf-8")
    result = write_feed(folder, BASE, title="Rustpunt")
    assert [e.stem for e in result.episodes] == ["avond", "ochtend"]
    channel = ET.parse(result.feed).getroot().find("channel")
    assert channel is not None
    assert channel.findtext("lastBuildDate") == "Thu, 09 Jan 2025 00:00:00 +0000"


# --------------------------------------------------------------------------- errors


def test_a_show_without_a_title_is_an_error_that_says_where_to_put_one(folder: Path) -> None:
    with pytest.raises(
        FeedError, match=r"the show has no title; add `title:` to .*podcast\.yaml or pass --title"
    ):
        write_feed(folder, BASE)


def test_an_unknown_key_in_podcast_yaml_names_its_line(folder: Path) -> None:
    podcast_yaml(folder, "title: Rustpunt\nauthr: Jan\n")
    with pytest.raises(
        FeedError, match=r"podcast\.yaml:2: unknown key `authr`; did you mean `author`\?"
    ):
        write_feed(folder, BASE)


def test_a_bad_value_in_podcast_yaml_names_its_line(folder: Path) -> None:
    podcast_yaml(folder, "title: Rustpunt\nexplicit: misschien\n")
    with pytest.raises(FeedError, match=r"podcast\.yaml:2: `explicit` is true or false"):
        write_feed(folder, BASE)


def test_one_stray_file_is_skipped_with_one_warning_each(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What is not a built episode stays out of the feed, a line saying why; the rest is fed."""
    (folder / "fake.mp3").write_bytes(b"dit is geen mp3\n" * 100)
    (folder / "fake.json").write_text("{}", encoding="utf-8")
    for stem, sidecar in [
        ("kapot", "{niet: json"),
        ("lijst", "[1, 2]"),
        ("gisteren", '{"date": "yesterday"}'),
        ("drie", '{"episode": "drie"}'),
    ]:
        shutil.copy(folder / "avond.mp3", folder / f"{stem}.mp3")
        (folder / f"{stem}.json").write_text(sidecar, encoding="utf-8")
    result = write_feed(folder, BASE, title="Rustpunt", owner_email="jan@example.org")
    assert {e.stem for e in result.episodes} == {"ochtend", "avond"}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 5, warnings
    for stem, words in [
        ("fake", "not an MP3 that can be read"),
        ("kapot", "not a readable JSON sidecar"),
        ("lijst", "not a JSON object"),
        ("gisteren", "`date` is 'yesterday'"),
        ("drie", "`episode` is 'drie'; it is a whole number"),
    ]:
        assert any(f"{stem}." in w and words in w and "not in the feed" in w for w in warnings)


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("category: Nope", "`category` 'Nope' is not one of Apple Podcasts' categories"),
        ("category: Health", "did you mean 'Health & Fitness'?"),
        ("category: Meditation", "`category: Health & Fitness` with `subcategory: Mental Health`"),
        ("category: Mental Health", "is a subcategory of Apple's 'Health & Fitness'"),
        ("subcategory: Meditation", "did you mean 'Mental Health'?"),
        ("subcategory: Politics", "belongs to Apple's 'News'"),
        ("owner: {email: notanemail}", "'notanemail' is not an e-mail address"),
        ("language: xx-invalid-123", "`language` 'xx-invalid-123' is not a language tag"),
        ("link: notaurl", "`link` 'notaurl' is not a web address"),
        ("link: 'https://[::1'", "is not a web address (Invalid IPv6 URL)"),
    ],
)
def test_values_a_host_would_reject_name_their_line(folder: Path, setting: str, words: str) -> None:
    podcast_yaml(folder, f"title: Rustpunt\nlanguage: nl-BE\n{setting}\n")
    with pytest.raises(FeedError) as caught:
        write_feed(folder, BASE)
    message = str(caught.value)
    assert f"{folder / 'podcast.yaml'}:3: " in message and words in message, message


def test_apples_categories_pass(folder: Path) -> None:
    podcast_yaml(
        folder, "title: Rustpunt\ncategory: Religion & Spirituality\nsubcategory: Buddhism\n"
    )
    write_feed(folder, BASE)
    category = ET.parse(folder / "feed.xml").getroot().find(f"channel/{ITUNES}category")
    assert category is not None and category.get("text") == "Religion & Spirituality"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://ex.org/?q=1", "has a query (?) or fragment (#)"),
        ("https://ex.org/podcast#top", "has a query (?) or fragment (#)"),
        ("https://ex.org/mijn podcast", "has a space in it"),
        ("https://ex.org:99999/podcast", "Port out of range"),
        ("https://[::1", "Invalid IPv6 URL"),
        ("https://jan:geheim@ex.org/", "holds a user name or password"),
        ("example.org", "is not a web address"),
    ],
)
def test_a_bad_base_url_is_one_clear_line(folder: Path, url: str, words: str) -> None:
    result = run_cli("feed", folder, "--base-url", url, "--title", "Rustpunt")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"Error: --base-url {url!r} ") and words in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (folder / "feed.xml").exists()


def test_podcast_locked_goes_with_its_owner_or_not_at_all(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_feed(folder, BASE, title="Rustpunt")
    channel = ET.parse(folder / "feed.xml").getroot().find("channel")
    assert channel is not None and channel.find(f"{PODCAST}locked") is None
    assert any("podcast:locked is left out" in r.getMessage() for r in caplog.records)
    write_feed(folder, BASE, title="Rustpunt", owner_email="jan@example.org")
    locked = ET.parse(folder / "feed.xml").getroot().find(f"channel/{PODCAST}locked")
    assert locked is not None and (locked.text, locked.get("owner")) == ("yes", "jan@example.org")


def test_without_a_date_an_episode_is_dated_when_its_content_got_its_key(folder: Path) -> None:
    """Not the MP3's time: a --force rebuild of the same content touches it, the feed stays."""
    write_feed(folder, BASE, title="Rustpunt", owner_email="jan@example.org")
    before = (folder / "feed.xml").read_bytes()
    since = json.loads((folder / "avond.json").read_text(encoding="utf-8"))["key_since"]
    for mp3 in folder.glob("*.mp3"):
        os.utime(mp3, (1_000_000_000, 1_000_000_000))
    result = write_feed(folder, BASE, title="Rustpunt", owner_email="jan@example.org")
    assert not result.changed and (folder / "feed.xml").read_bytes() == before
    avond = next(e for e in result.episodes if e.stem == "avond")
    assert avond.published.isoformat() == since


def test_a_folder_without_episodes_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="no built episodes .*rustpunt build"):
        write_feed(tmp_path, BASE, title="Rustpunt")
    assert list(tmp_path.iterdir()) == []


def test_a_base_url_that_is_not_a_web_address_is_an_error(folder: Path) -> None:
    with pytest.raises(FeedError, match="--base-url 'example.org' is not a web address"):
        write_feed(folder, "example.org", title="Rustpunt")


# --------------------------------------------------------------------------- the command


def test_feed_command_prints_json_and_writes_the_feed(folder: Path) -> None:
    result = run_cli(
        "feed",
        folder,
        "--base-url",
        BASE,
        "--title",
        "Rustpunt",
        "--json",
        "-o",
        folder / "podcast.xml",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["url"] == f"{BASE}/podcast.xml"
    assert {e["title"] for e in document["episodes"]} == {"Ochtend ademen", "Avond ontspannen"}
    for episode in document["episodes"]:
        assert episode["bytes"] == Path(episode["file"]).stat().st_size
    assert (folder / "podcast.xml").is_file()


def test_feed_command_error_is_one_line(folder: Path) -> None:
    result = run_cli("feed", folder, "--base-url", BASE)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: ") and "has no title" in result.stderr


def test_the_feed_only_reads_the_episodes(folder: Path) -> None:
    """The episodes' own tags are left alone by the feed: it only reads them."""
    before = {p.name: p.read_bytes() for p in folder.glob("*.mp3")}
    write_feed(folder, BASE, title="Rustpunt")
    assert {p.name: p.read_bytes() for p in folder.glob("*.mp3")} == before
    assert ID3(folder / "ochtend.mp3").version == (2, 3, 0)


def test_build_and_feed_show_one_time_for_one_file(folder: Path, tmp_path: Path) -> None:
    """One rounding of durations everywhere (half a second up), and "1 episode" in the singular."""
    from rustpunt.script.durations import clock, whole_seconds

    assert (clock(613_499), clock(613_500), clock(3_600_000)) == ("10:13", "10:14", "60:00")
    write_script(tmp_path / "los", "kort.yaml", SCRIPTS["avond.yaml"])
    built = run_cli("build", tmp_path / "los", "-o", tmp_path / "uit", "--voice", "nl-espeak")
    assert built.returncode == 0, built.stderr
    duration_ms = json.loads((tmp_path / "uit" / "kort.json").read_text())["duration_ms"]
    assert f"  {clock(duration_ms)}  " in built.stdout
    fed = run_cli("feed", tmp_path / "uit", "--base-url", BASE, "--title", "Rustpunt")
    assert fed.returncode == 0, fed.stderr
    assert f"  {clock(duration_ms)}  Avond ontspannen" in fed.stdout
    assert ": 1 episode, " in fed.stdout
    entry = feedparser.parse((tmp_path / "uit" / "feed.xml").read_bytes()).entries[0]
    assert int(entry.itunes_duration) == whole_seconds(duration_ms)
