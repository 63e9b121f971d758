"""Episodes: a script of scripts, built into one MP3 with chapters, cover art and a feed's sidecar;
bad episode files named by file and line, while the other files still build."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
from pathlib import Path

import feedparser
import numpy as np
import pytest
from mutagen.id3 import ID3
from PIL import Image

import audiotools
from conftest import run_main, write_script
from rustpunt.audio.mix import TARGET_LUFS
from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe
from rustpunt.build.episode import plan_episode
from rustpunt.build.episodefile import load_episode
from rustpunt.build.options import is_episode_file
from rustpunt.errors import ScriptError
from rustpunt.podcast.cover import read_cover

SCHOUDERS = """\
title: Schouders
intro: Ga rustig zitten.
steps:
  - text: Trek je schouders op.
    pause: 2
  - text: Laat ze zakken.
    pause: 1.5
outro: Goed zo.
"""

ADEM = """\
title: Adem
steps:
  - text: Adem twee keer rustig in en uit.
    breathing: {in: 2, out: 3}
  - text: Laat los.
    pause: 1
"""

EPISODE = """\
episode: 3
season: 1
title: Rust in de trein
show: Rustpunt
description: Twee korte oefeningen voor onderweg.
date: 2026-12-01
author: Jan Jansen
language: nl
explicit: false
parts:
  - audio: jingle.wav
  - text: Welkom bij Rustpunt.
  - pause: 1
  - script: schouders.yaml
  - script: adem.yaml
    title: Ademhaling
  - text: Tot de volgende keer.
  - audio: jingle.wav
    title: Tune
"""


def write_jingle(path: Path, seconds: float = 1.5, hz: float = 523.0) -> Path:
    time = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tone = 0.4 * np.sin(2 * np.pi * hz * time) * np.exp(-time * 1.5)
    subprocess.run(
        [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "s16le", "-ar", str(SAMPLE_RATE),
         "-ac", "1", "-i", "pipe:0", str(path)],
        input=(tone * 32767).astype("<i2").tobytes(), check=True,
    )  # fmt: skip
    return path


def write_image(path: Path, width: int, height: int) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 80, 90)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def show(tmp_path: Path) -> Path:
    folder = tmp_path / "show"
    write_script(folder, "schouders.yaml", SCHOUDERS)
    write_script(folder, "adem.yaml", ADEM)
    write_jingle(folder / "jingle.wav")
    write_script(folder, "aflevering.yaml", EPISODE)
    return folder


def test_an_episode_file_is_told_apart_by_its_parts(show: Path) -> None:
    assert is_episode_file(show / "aflevering.yaml")
    assert not is_episode_file(show / "adem.yaml")


def test_the_plan_marks_a_chapter_for_every_part_and_step(show: Path) -> None:
    planned = plan_episode(load_episode(show / "aflevering.yaml"))
    titles = [mark.title for mark in planned.marks]
    assert titles == [
        "jingle", "Welkom", "Schouders", "Trek je schouders op.", "Laat ze zakken.",
        "Schouders: afsluiting", "Ademhaling", "Adem twee keer rustig in en uit.", "Laat los.",
        "Tot slot", "Tune",
    ]  # fmt: skip
    items = [mark.item for mark in planned.marks]
    assert items == sorted(items)
    (run,) = planned.designed.breathing  # the script's breathing keeps its place in the episode
    assert run.cycles == 2 and planned.designed.timeline.items[run.item].ms >= 10_000


BAD = [
    ("unknown key", "titel: x\n", 1, "unknown key `titel`"),
    ("missing part", "parts:\n  - script: weg.yaml\n", 2, "weg.yaml is not there"),
    ("an episode as a part", "parts:\n  - script: ander.yaml\n", 2, "is an episode itself"),
    ("itself", "parts:\n  - script: slecht.yaml\n", 2, "cannot contain itself (a cycle)"),
    ("not audio", "parts:\n  - audio: notes.txt\n", 2, "not an audio file"),
    ("two kinds", "parts:\n  - text: a\n    script: adem.yaml\n", 2, "has one of text"),
    ("small cover", "cover: small.jpg\nparts:\n  - text: a\n", 1, "too small"),
    ("not square", "cover: wide.jpg\nparts:\n  - text: a\n", 1, "not square"),
    ("a bad script part", "parts:\n  - script: kapot.yaml\n", 2, "kapot.yaml:2: unknown key"),
]


@pytest.mark.parametrize(("text", "line", "words"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_episode_files_name_the_file_and_line(
    show: Path, text: str, line: int, words: str
) -> None:
    (show / "notes.txt").write_text("geen geluid\n", encoding="utf-8")
    write_script(show, "kapot.yaml", "title: k\nstapjes: [a]\nsteps: [a]\n")
    write_script(show, "ander.yaml", "title: Ander\nparts:\n  - text: a\n")
    write_image(show / "small.jpg", 800, 800)
    write_image(show / "wide.jpg", 1600, 1400)
    path = write_script(show, "slecht.yaml", "title: Slecht\n" + text)
    result = run_main("check", path)
    assert result.returncode == 1
    expected = f"{path}:{line + 1}: " if "cover" not in text else f"{path}:2: "
    assert expected in result.stderr, result.stderr
    assert words in result.stderr, result.stderr
    with pytest.raises(ScriptError):
        from rustpunt.build.episode import check_episode

        check_episode(path)


@pytest.mark.slow
def test_an_episode_builds_into_one_mp3_with_chapters_cover_and_a_feed(show: Path) -> None:
    write_image(show / "cover.jpg", 1400, 1400)
    episode = show / "aflevering.yaml"
    episode.write_text(EPISODE.replace("parts:", "cover: cover.jpg\nparts:"), encoding="utf-8")
    write_script(show, "slecht.yaml", "title: Slecht\nparts:\n  - script: weg.yaml\n")
    out = show.parent / "out"
    result = run_main("build", show, "-o", out, "--voice", "nl-espeak")
    assert result.returncode == 1  # the bad episode failed...
    assert f"{show / 'slecht.yaml'}:3: part 1: weg.yaml is not there" in result.stderr
    mp3 = out / "aflevering.mp3"  # ...and the good one was built, with its scripts
    assert mp3.is_file() and (out / "adem.mp3").is_file() and (out / "schouders.mp3").is_file()

    sidecar = json.loads((out / "aflevering.json").read_text(encoding="utf-8"))
    assert sidecar["kind"] == "episode"
    assert (sidecar["title"], sidecar["episode"], sidecar["season"]) == ("Rust in de trein", 3, 1)
    assert sidecar["date"] == "2026-12-01" and sidecar["explicit"] is False
    assert sidecar["show"] == {"title": "Rustpunt", "author": "Jan Jansen", "language": "nl"}

    chapters = audiotools.chapters(mp3)  # as players read them
    titles = [title for _, _, title in chapters]
    assert titles == [
        "jingle", "Welkom", "Schouders", "Trek je schouders op.", "Laat ze zakken.",
        "Schouders: afsluiting", "Ademhaling", "Adem twee keer rustig in en uit.", "Laat los.",
        "Tot slot", "Tune",
    ]  # fmt: skip
    starts = [start for start, _, _ in chapters]
    assert starts[0] == 0 and starts == sorted(starts)
    assert [(c["start_ms"], c["title"]) for c in sidecar["chapters"]] == [
        (start, title) for start, _, title in chapters
    ]
    cues = (out / "aflevering.vtt").read_text(encoding="utf-8")
    assert "Welkom bij Rustpunt." in cues and "jingle" not in cues

    cover = read_cover(mp3)
    assert cover is not None and cover.width == cover.height == 1400
    assert cover.data == (show / "cover.jpg").read_bytes()
    tags = ID3(mp3)
    assert tags["TALB"].text == ["Rustpunt"] and tags["TPE1"].text == ["Jan Jansen"]

    total_ms = audiotools.duration_ms(mp3)
    assert abs(total_ms - sidecar["duration_ms"]) <= 5
    lufs, peak = audiotools.loudness(mp3)
    assert abs(lufs - TARGET_LUFS) <= 0.3 and peak <= -1.0, (lufs, peak)

    # incremental: nothing changed, nothing built; a changed jingle rebuilds the episode only
    again = run_main("build", show / "aflevering.yaml", "-o", out, "--voice", "nl-espeak", "--json")
    assert json.loads(again.stdout)["up_to_date"] == 1
    write_jingle(show / "jingle.wav", hz=440.0)
    again = run_main("build", show, "-o", out, "--voice", "nl-espeak", "--json")
    report = {Path(s["script"]).name: s["status"] for s in json.loads(again.stdout)["scripts"]}
    assert report["aflevering.yaml"] == "built" and report["adem.yaml"] == "up to date"

    fed = run_main("feed", out, "--base-url", "https://example.org/rustpunt")
    assert fed.returncode == 0, fed.stderr
    parsed = feedparser.parse((out / "feed.xml").read_bytes())
    assert len(parsed.entries) == 1  # the sessions inside are parts, not episodes
    entry = parsed.entries[0]
    assert entry.title == "Rust in de trein"
    assert int(entry.enclosures[0].length) == mp3.stat().st_size
    assert int(entry.itunes_duration) == round(sidecar["duration_ms"] / 1000)
    assert entry.image.href == "https://example.org/rustpunt/aflevering.cover.jpg"  # its own cover
    assert (out / "aflevering.cover.jpg").read_bytes() == (show / "cover.jpg").read_bytes()


@pytest.mark.slow
def test_no_cover_given_one_is_drawn(show: Path) -> None:
    out = show.parent / "out"
    result = run_main("build", show / "aflevering.yaml", "-o", out, "--voice", "nl-espeak")
    assert result.returncode == 0, result.stderr
    cover = read_cover(out / "aflevering.mp3")
    assert cover is not None and cover.mime == "image/jpeg"
    assert cover.width == cover.height == 3000


def test_plan_shows_an_episodes_parts_and_chapters(show: Path) -> None:
    result = run_main("plan", show / "aflevering.yaml")
    assert result.returncode == 0, result.stderr
    assert "» chapter: Schouders" in result.stdout and "» chapter: Ademhaling" in result.stdout
    assert "   step » Trek je schouders op." in result.stdout
    assert "step  1  breathing tones: 2 x (in 2 s, out 3 s)" in result.stdout  # adem.yaml
    document = json.loads(run_main("plan", show / "aflevering.yaml", "--json").stdout)
    assert document["chapters"][:3] == ["jingle", "Welkom", "Schouders"]
    assert [i["file"] for i in document["items"] if i["type"] == "audio"] == [
        str(show / "jingle.wav")
    ] * 2


def test_no_chapter_title_comes_twice(show: Path) -> None:
    """Each script's outro and the episode's goodbye, a jingle twice, a step said in two scripts:
    a listener skipping by chapter must know where they land."""
    write_script(show, "adem.yaml", ADEM + "outro: Goed zo.\n")
    write_script(
        show,
        "twee.yaml",
        EPISODE.replace("    title: Tune\n", "").replace(
            "  - script: adem.yaml\n    title: Ademhaling\n",
            "  - script: adem.yaml\n  - script: adem.yaml\n",
        ),
    )
    titles = [mark.title for mark in plan_episode(load_episode(show / "twee.yaml")).marks]
    assert len(titles) == len(set(titles)), titles
    assert titles[:2] == ["jingle", "Welkom"] and titles[-2:] == ["Tot slot", "jingle (2)"]
    assert titles.count("Adem: afsluiting") == 1 and "Adem: afsluiting (2)" in titles
    assert "Schouders: afsluiting" in titles and "Laat los. (2)" in titles


LONG_WELCOME = (
    "Welkom bij Rustpunt. Vandaag doen we samen twee korte oefeningen, eerst voor je schouders "
    "en daarna voor je ademhaling, zodat je rustig aan de dag kunt beginnen. Zit goed."
)


@pytest.mark.slow
def test_episode_captions_follow_the_session_caption_rules(show: Path) -> None:
    """One cue per sentence, at most two lines of 42 characters: the same cues a session of the
    same words gets, read back by a real WebVTT parser."""
    import webvtt

    write_script(show, "aflevering.yaml", EPISODE.replace("Welkom bij Rustpunt.", LONG_WELCOME))
    write_script(show, "los.yaml", f"title: Los\nsteps:\n  - text: {LONG_WELCOME}\n    pause: 1\n")
    out = show.parent / "out"
    result = run_main(
        "build", show / "aflevering.yaml", show / "los.yaml", "-o", out, "--voice", "nl-espeak"
    )
    assert result.returncode == 0, result.stderr
    episode = [c.text for c in webvtt.read(str(out / "aflevering.vtt"))]
    session = [c.text for c in webvtt.read(str(out / "los.vtt"))]
    for text in episode:
        lines = text.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines), text
    assert episode[: len(session)] == session  # the welcome, cue for cue as the session has it
    assert len(session) >= 4  # three sentences, the long one in two cues
    assert "Trek je schouders op." in episode and not any("jingle" in t for t in episode)


@pytest.mark.slow
def test_published_sidecars_hold_no_path_of_the_build_machine(
    show: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder is copied to a web server: paths relative to it, and a date that a --force
    rebuild of the same content keeps."""
    write_jingle(show / "regen.wav", seconds=2.0, hz=200.0)
    write_script(show, "sound.yaml", "bed: regen.wav\n")
    monkeypatch.chdir(show.parent)
    out = show.parent / "out"
    result = run_main("build", "show", "-o", "out", "--voice", "nl-espeak")
    assert result.returncode == 0, result.stderr
    first = {}
    for name in ("aflevering.json", "adem.json", "schouders.json"):
        text = (out / name).read_text(encoding="utf-8")
        assert str(show.parent) not in text and '"/' not in text, text
        first[name] = json.loads(text)
    episode = first["aflevering.json"]
    assert episode["episode_file"] == "../show/aflevering.yaml"
    assert [p.get("path") for p in episode["parts"] if p["kind"] == "script"] == [
        "../show/schouders.yaml", "../show/adem.yaml"
    ]  # fmt: skip
    assert episode["sound"]["bed"] == "../show/regen.wav" and episode["cover"] == "drawn"
    assert first["adem.json"]["script"] == "../show/adem.yaml"

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # would show if the date were taken again
    again = run_main("build", "show", "-o", "out", "--voice", "nl-espeak", "--force")
    assert again.returncode == 0, again.stderr
    for name, document in first.items():
        rebuilt = json.loads((out / name).read_text(encoding="utf-8"))
        assert rebuilt["key_since"] == document["key_since"] != "2023-11-14T22:13:20+00:00"
    (show / "adem.yaml").write_text(ADEM.replace("Laat los.", "Laat alles los."), encoding="utf-8")
    run_main("build", "show", "-o", "out", "--voice", "nl-espeak")
    assert json.loads((out / "adem.json").read_text())["key_since"] == "2023-11-14T22:13:20+00:00"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")  # without it: when the script was saved
    (show / "adem.yaml").write_text(ADEM, encoding="utf-8")
    saved = int((show / "adem.yaml").stat().st_mtime)
    run_main("build", "show", "-o", "out", "--voice", "nl-espeak")
    since = json.loads((out / "adem.json").read_text())["key_since"]
    assert dt.datetime.fromisoformat(since).timestamp() == saved


def test_an_episode_past_ten_hours_is_refused_at_the_part_that_passes_them(show: Path) -> None:
    hour = "".join("  - pause: 3600\n" for _ in range(11))
    path = write_script(show, "lang.yaml", f"title: Lang\nparts:\n{hour}")
    result = run_main("check", path)
    assert result.returncode == 1
    assert f"{path}:13: with this part the episode would last about 11.0 hours" in result.stderr
    assert "at most 10 hours make one MP3: split it into several episodes" in result.stderr
    steps = "".join(f"  - text: Rust {n}.\n    pause: 3600\n" for n in range(8))
    write_script(show, "nacht.yaml", f"title: Nacht\nsteps:\n{steps}")  # about 8 hours
    path = write_script(
        show, "twee.yaml", "title: Twee\nparts:\n  - script: nacht.yaml\n  - script: nacht.yaml\n"
    )
    for command in (("check",), ("build", "-o", show / "out", "--voice", "nl-espeak")):
        result = run_main(*command, path)
        assert result.returncode == 1 and f"{path}:4: with this part" in result.stderr, command
        assert "internal error" not in result.stderr
    assert not (show / "out" / "twee.mp3").exists()


@pytest.mark.slow
def test_audio_parts_count_once_their_length_is_known(
    show: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan cannot know an audio file's length; the build measures it before writing."""
    monkeypatch.setattr("rustpunt.build.episode.MAX_SESSION_MS", 12_000)
    write_jingle(show / "lang.wav", seconds=15.0)
    path = write_script(
        show, "geluid.yaml", "title: G\nparts:\n  - text: Hallo.\n  - audio: lang.wav\n"
    )
    result = run_main("build", path, "-o", show / "out", "--voice", "nl-espeak")
    assert result.returncode == 1 and f"{path}:4: with this part the episode lasts" in result.stderr
    assert not (show / "out" / "geluid.mp3").exists()
