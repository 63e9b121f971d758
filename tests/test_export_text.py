"""The tag and sidecar text that export renders itself, for speed, pinned to what the libraries
write: tag_bytes against mutagen building every frame (export's writer before it rendered the
CHAP frames), json_text against json.dumps, vtt_text against its earlier form."""

from __future__ import annotations

import dataclasses
import enum
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mutagen import MutagenError
from mutagen.id3 import CHAP, CTOC, ID3, TIT2, Encoding, ID3Tags

from conftest import write_script
from rustpunt.audio.mix import place
from rustpunt.build.session import chapters, cues, sidecar
from rustpunt.mp3 import id3, sidecars
from rustpunt.mp3.id3 import Chapter, Metadata, tag_bytes
from rustpunt.mp3.sidecars import Cue, json_text, vtt_text
from rustpunt.script.load import load_script
from rustpunt.script.plan import Speech, plan
from rustpunt.voice.joining import PhraseSpan
from rustpunt.voice.profiles import VoiceRegistry
from rustpunt.voice.speak import SpokenSession

# --------------------------------------------------------------------------- references


class _MutagenChronologicalID3(ID3):
    """id3.ChronologicalID3 as it was: mutagen serialises every CHAP frame, one per tag."""

    def _write(self, config: Any) -> bytes:
        frames = self.getall("CHAP")
        self.delall("CHAP")
        try:
            data = bytes(super()._write(config))
        finally:
            for frame in frames:
                self.add(frame)
        frames.sort(key=lambda frame: (frame.start_time, frame.end_time))
        for frame in frames:
            single = ID3Tags()
            single.add(frame)
            data += bytes(single._write(config))
        return data


def mutagen_tag_bytes(
    metadata: Metadata,
    chapter_list: list[Chapter],
    length_ms: int,
    *,
    cover: bytes | None = None,
    cover_mime: str = "image/jpeg",
) -> bytes:
    """The tag with mutagen's own CHAP frames, padded and sized by mutagen's save."""
    ours = id3._tags(metadata, chapter_list, length_ms, cover=cover, cover_mime=cover_mime)
    tags = _MutagenChronologicalID3()
    for frame in ours.values():  # the text frames, CTOCs and cover, mutagen's frames already
        tags.add(frame)
    for index, chapter in enumerate(chapter_list):
        tags.add(
            CHAP(
                element_id=id3.chapter_id(index),
                start_time=chapter.start_ms,
                end_time=chapter.end_ms,
                sub_frames=[TIT2(encoding=Encoding.UTF16, text=[chapter.title])],
            )
        )
    tags.update_to_v23()
    buffer = io.BytesIO()
    tags.save(buffer, v1=0, v2_version=id3.ID3_VERSION)
    return buffer.getvalue()


def reference_json_text(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def reference_vtt_text(cue_list: Sequence[Cue]) -> str:
    """export.vtt_text as it was: a formatted time per end, every text through _vtt_text."""
    blocks = ["WEBVTT"]
    for cue in cue_list:
        if not 0 <= cue.start_ms < cue.end_ms:
            raise ValueError("impossible times")
        timing = f"{reference_vtt_time(cue.start_ms)} --> {reference_vtt_time(cue.end_ms)}"
        payload = sidecars._vtt_text(cue.text)
        blocks.append(f"{timing}\n{payload}" if payload else timing)
    return "\n\n".join(blocks) + "\n"


def reference_vtt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


# --------------------------------------------------------------------------- tag_bytes

METADATA = Metadata(
    title="Ochtendoefening: knieën en rug",
    artist="rustpunt",
    album="Oefeningen voor één week",
    voice="nl-espeak",
    engine="espeak 1.52",
    comment="Rustige oefening.\nGesproken door nl-espeak.",
    year="2025",
)
PLAIN = Metadata(title="Adem", artist="rustpunt", album="Oefeningen", voice="v", engine="e")
TITLES = [
    "Stap 1",  # Latin-1 only: still UTF-16, as export asks mutagen for
    "Buig door je knieën, één minuut; café crème",
    "Adem rustig 🙂🌬️ en laat los",
    "",  # no TIT2 sub-frame at all
    "Ga rechtop staan, zet je voeten op heupbreedte en buig langzaam door je knieën " * 30,
    "slash / en NUL \0 en lijn\nbreuk",
    "中文 ✓ Ω",
]


def titled(count: int) -> list[Chapter]:
    return [
        Chapter(index * 20_017, (index + 1) * 20_017, TITLES[index % len(TITLES)])
        for index in range(count)
    ]


CASES = {
    "none": (METADATA, [], None),
    "one": (METADATA, titled(1), None),
    "three": (PLAIN, titled(3), None),
    "every title": (METADATA, titled(len(TITLES)), b"\xff\xd8\xff\xe0" + bytes(3000)),
    "180 steps": (METADATA, titled(180), None),
    "300 steps, nested tables": (METADATA, titled(300), b"\x89PNG\r\n\x1a\n" + bytes(700)),
    "empty titles only": (PLAIN, [Chapter(0, 10, ""), Chapter(10, 20, "")], None),
    "same start, zero length": (
        PLAIN,
        [Chapter(0, 0, "a"), Chapter(0, 5, "b"), Chapter(5, 5, "c"), Chapter(5, 0xFFFF_FFFE, "d")],
        None,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_tag_bytes_are_mutagens_to_the_byte(case: str) -> None:
    metadata, chapter_list, cover = CASES[case]
    mime = "image/png" if cover and cover.startswith(b"\x89PNG") else "image/jpeg"
    length_ms = chapter_list[-1].end_ms if chapter_list else 1234
    ours = tag_bytes(metadata, chapter_list, length_ms, cover=cover, cover_mime=mime)
    theirs = mutagen_tag_bytes(metadata, chapter_list, length_ms, cover=cover, cover_mime=mime)
    assert ours == theirs
    assert ours.endswith(bytes(1024))  # mutagen's padding for a new tag, kept


def test_unsorted_chapters_come_out_as_mutagens_too() -> None:
    """The build sorts the chapters first; handed unsorted ones, the frames still match."""
    chapter_list = [Chapter(5000, 6000, "later"), Chapter(0, 1000, "first"), Chapter(0, 500, "x")]
    ours = tag_bytes(PLAIN, chapter_list, 6000)
    assert ours == mutagen_tag_bytes(PLAIN, chapter_list, 6000)


@pytest.mark.parametrize("count", [0, 1, 3, 300])
def test_mutagen_reads_back_every_chapter(count: int) -> None:
    chapter_list = titled(count)
    tags = ID3(io.BytesIO(tag_bytes(METADATA, chapter_list, 10**7)))
    assert tags.version == (2, 3, 0)
    read = [
        (frame.element_id, frame.start_time, frame.end_time, frame.sub_frames.getall("TIT2"))
        for frame in tags.getall("CHAP")
    ]
    assert sorted(read, key=lambda entry: entry[1:3]) == read  # the file order is time order
    assert [entry[:3] for entry in read] == [
        (id3.chapter_id(index), chapter.start_ms, chapter.end_ms)
        for index, chapter in enumerate(chapter_list)
    ]
    assert [[str(title) for title in entry[3]] for entry in read] == [
        [chapter.title] if chapter.title else [] for chapter in chapter_list
    ]
    tocs: list[CTOC] = tags.getall("CTOC")
    assert bool(tocs) == bool(chapter_list)


@pytest.mark.parametrize("count", [0, 3, 300])
def test_a_tag_read_back_and_saved_again_by_mutagen_is_the_same(count: int) -> None:
    """rustpunt.podcast.cover re-saves a file's tag through _ChronologicalID3: the CHAP frames mutagen
    read come out where and as they were (and so as the rendered ones). Without a year or a NUL
    in a title: mutagen reads TYER as TDRC and writes it back in Latin-1, and reads a NUL as a
    second text that it writes back joined by "/", changes of its own."""
    metadata = dataclasses.replace(METADATA, year=None)
    chapter_list = [
        dataclasses.replace(chapter, title=chapter.title.replace("\0", ""))
        for chapter in titled(count)
    ]
    tag = tag_bytes(metadata, chapter_list, 10**7, cover=b"\xff\xd8" + bytes(900))
    tags = id3.ChronologicalID3(io.BytesIO(tag))
    assert len(tags.getall("CHAP")) == count and not tags.chapters
    tags.update_to_v23()
    again = io.BytesIO()
    tags.save(again, v1=0, v2_version=id3.ID3_VERSION)
    assert again.getvalue() == tag


def test_a_title_utf16_cannot_hold_is_mutagens_error_still() -> None:
    broken = [Chapter(0, 10, "half a pair \ud800")]
    with pytest.raises(MutagenError, match="surrogates not allowed"):
        tag_bytes(PLAIN, broken, 10)
    with pytest.raises(MutagenError, match="surrogates not allowed"):
        mutagen_tag_bytes(PLAIN, broken, 10)


# --------------------------------------------------------------------------- a real session


def session_documents(tmp_path: Path, steps: int) -> tuple[dict[str, Any], list[Cue], list]:
    """The sidecar, cues and chapters of a planned session of `steps` steps, silent clips."""
    texts = [
        "Ga rechtop zitten. Laat je schouders zakken.",
        "Buig door je knieën & houd één minuut vast <rustig>.",
        'Zeg "ja" tegen wat je voelt \\ en laat het {even} [zo].',
        "Adem in 🌬️. Adem uit. Voel hoe je buik zakt.",
        "Ontspan je kaak",
    ]
    lines = ["title: Lange oefening met ë", "intro: Welkom. Neem de tijd.", "steps:"]
    for index in range(steps):
        lines.append(
            f"  - text: {json.dumps(texts[index % len(texts)] + f' ({index})', ensure_ascii=False)}"
        )
        if index % 3:
            lines.append(f"    pause: {1 + index % 7}")
    lines.append("outro: Klaar.")
    script = write_script(tmp_path, "lang.yaml", "\n".join(lines) + "\n")
    timeline = plan(load_script(script))
    second = 44_100
    spoken_texts = {item.text for item in timeline.items if isinstance(item, Speech)}
    clips = {text: np.full(second * 2, 100, dtype="<i2") for text in spoken_texts}
    layouts = {}
    for text in spoken_texts:
        sentences = [part.strip() for part in text.split(". ")]
        if len(sentences) > 1:
            share = 2 * second // len(sentences)
            layouts[text] = tuple(
                PhraseSpan(sentence, sentence, number, number * share, (number + 1) * share - 99)
                for number, sentence in enumerate(sentences)
            )
    mix = place(timeline, clips, normalize=False)
    profile = VoiceRegistry().get("nl-espeak")
    spoken = SpokenSession(profile, {"engine": "espeak", "rate": 100}, clips, 4, layouts=layouts)
    document = sidecar(timeline, mix, spoken, "nl-google", "sleutel")
    return document, cues(mix, spoken.layouts), chapters(mix)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Cue], list]:
    return session_documents(tmp_path_factory.mktemp("sessie"), 240)


def test_a_real_sidecar_is_jsons_own_text(session: tuple[dict[str, Any], list[Cue], list]) -> None:
    document, _, _ = session
    assert len(document["steps"]) == 240 and document["steps"][0]["sentences"]
    assert json_text(document) == reference_json_text(document)


def test_real_cues_are_the_vtt_they_were(session: tuple[dict[str, Any], list[Cue], list]) -> None:
    _, cue_list, _ = session
    assert len(cue_list) > 240 and any("&" in cue.text for cue in cue_list)
    assert vtt_text(cue_list) == reference_vtt_text(cue_list)


def test_real_chapters_tag_as_mutagen_tags_them(
    session: tuple[dict[str, Any], list[Cue], list],
) -> None:
    document, _, chapter_list = session
    length = document["duration_ms"]
    assert tag_bytes(METADATA, chapter_list, length) == mutagen_tag_bytes(
        METADATA, chapter_list, length
    )


# --------------------------------------------------------------------------- json_text


class Level(enum.IntEnum):
    LOW = 1


class Name(str):
    pass


JSON_DOCUMENTS: dict[str, Any] = {
    "non-ASCII and escapes": {
        "tekst": 'Knieën één 🙂 "aanhalingstekens" \\ /\n\t\r\x00\x1f\x7f\u2028\ud83d',
        "ë-sleutel 🙂": "waarde",
        "": "lege sleutel",
    },
    "nested lists and empty containers": {
        "a": [[], {}, [[1, [2, [3, []]]], {"b": {}}], [None, True, False]],
        "leeg": {},
        "lijst": [],
        "diep": {"x": [{"y": [{"z": [0]}]}]},
    },
    "numbers": {
        "ints": [0, -1, 2**63, -(2**70), 10**40],
        "floats": [0.0, -0.0, 1.0, 1.5, 1e-7, 1e16, 1e300, -2.5e-300, 0.1 + 0.2, 5e-324],
        "bools": [True, False],
        "none": None,
    },
    "types json converts": {
        "tuple": (1, 2, (3,)),
        "int key": {1: "een", 2.5: "x", False: "y", None: "z"},
        "enum": Level.LOW,
        "str subclass": Name("naam"),
    },
    "deeper than the fast path goes": {"d": json.loads("[" * 90 + "]" * 90)},
    "one key": {"a": 1},
}


@pytest.mark.parametrize("name", JSON_DOCUMENTS)
def test_json_text_is_jsons_own_text(name: str) -> None:
    document = JSON_DOCUMENTS[name]
    assert json_text(document) == reference_json_text(document)


@pytest.mark.parametrize("document", [{}, [], [1, {"a": [2]}], "tekst"], ids=repr)
def test_json_text_of_other_top_levels(document: Any) -> None:
    assert json_text(document) == reference_json_text(document)


@pytest.mark.parametrize(
    "document",
    [{"x": [1, math.nan]}, {"x": {"y": math.inf}}, {"x": -math.inf}, {"pad": Path("p")}],
    ids=["nan", "inf", "-inf", "path"],
)
def test_json_text_refuses_what_json_refuses(document: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as ours:
        json_text(document)
    with pytest.raises((ValueError, TypeError)) as theirs:
        reference_json_text(document)
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


def test_json_text_refuses_a_circular_document() -> None:
    document: dict[str, Any] = {"a": []}
    document["a"].append(document)
    with pytest.raises(ValueError, match="Circular reference"):
        json_text(document)


# --------------------------------------------------------------------------- vtt_text

CUE_TEXTS = [
    "Ga rechtop staan.",
    "Buig & strek <langzaam> > 3 keer",
    " spaties rond ",
    "Twee regels\n\nin één cue",
    "windows\r\nregels",
    "scheiding\u2028en\u2029alinea\x85volgende\x0bverticaal\x0cpagina\x1c\x1d\x1e",
    "tab\tin het midden",
    "\u00a0harde spatie\u00a0",
    "",
    "   ",
    "\n",
    "🙂 emoji en ë",
]


def test_vtt_text_is_what_it_was_for_awkward_texts_and_times() -> None:
    times = [0, 1, 999, 1000, 59_999, 60_000, 3_599_999, 3_600_000, 359_999_990, 360_000_000]
    cue_list = [
        Cue(start, start + 1 + index * 37, CUE_TEXTS[index % len(CUE_TEXTS)])
        for index, start in enumerate(times * 3)
    ]
    assert vtt_text(cue_list) == reference_vtt_text(cue_list)
    assert "100:00:00.000 --> 100:00:00." in vtt_text(cue_list)


@pytest.mark.parametrize("text", CUE_TEXTS)
def test_plain_cue_text_only_where_nothing_would_change(text: str) -> None:
    assert not sidecars._plain_cue_text(text) or sidecars._vtt_text(text) == text
    one = [Cue(5, 10, text)]
    assert vtt_text(one) == reference_vtt_text(one)


@pytest.mark.parametrize("times", [(10, 10), (-1, 5), (20, 10)])
def test_vtt_text_refuses_impossible_times(times: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="impossible times"):
        vtt_text([Cue(0, 5, "goed"), Cue(*times, "fout")])
