"""The ID3 tag (rustpunt.mp3.id3): the CHAP frames it renders itself, for speed, pinned to the
bytes mutagen writes when it builds every frame (the writer before it rendered them), and the
mutagen pin that its override of a private method needs."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mutagen import MutagenError
from mutagen.id3 import CHAP, CTOC, ID3, TIT2, Encoding, ID3Tags

from conftest import write_script
from rustpunt.audio.mix import place
from rustpunt.build.session import chapters, sidecar
from rustpunt.mp3 import id3
from rustpunt.mp3.id3 import Chapter, Metadata, tag_bytes
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
    "Stap 1",  # Latin-1 only: still UTF-16, as id3 asks mutagen for
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


def session_documents(tmp_path: Path, steps: int) -> tuple[dict[str, Any], list[Chapter]]:
    """The sidecar and chapters of a planned session of `steps` steps, silent clips."""
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
    document = sidecar(timeline, mix, spoken, "nl-google", "sleutel", tmp_path)
    return document, chapters(mix)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Chapter]]:
    return session_documents(tmp_path_factory.mktemp("sessie"), 240)


def test_real_chapters_tag_as_mutagen_tags_them(
    session: tuple[dict[str, Any], list[Chapter]],
) -> None:
    document, chapter_list = session
    assert len(chapter_list) > 240
    length = document["duration_ms"]
    assert tag_bytes(METADATA, chapter_list, length) == mutagen_tag_bytes(
        METADATA, chapter_list, length
    )


# --------------------------------------------------------------------------- the mutagen pin


def test_the_mutagen_pin_covers_the_private_method_id3_overrides() -> None:
    """ChronologicalID3 overrides mutagen's private `ID3Tags._write(config)`: the
    dependency is pinned below mutagen's next minor version, and the installed one has it."""
    import inspect
    from importlib.metadata import requires, version

    import mutagen.id3
    from packaging.requirements import Requirement

    pins = [Requirement(r) for r in requires("rustpunt") or [] if r.startswith("mutagen")]
    assert len(pins) == 1 and pins[0].specifier.contains(version("mutagen"))
    assert not pins[0].specifier.contains("1.49.0")  # a new minor version is tried first
    assert list(inspect.signature(mutagen.id3.ID3Tags._write).parameters) == ["self", "config"]


@pytest.mark.parametrize("count", [3, 300])
def test_the_chapter_walk_reads_what_mutagen_reads(count: int) -> None:
    """The spliced writer checks the chapter order on the tag it is about to write by walking
    the frame headers; mutagen's full parse must see the same IDs in the same order."""
    import io

    from mutagen.id3 import CHAP, ID3, TIT2

    chapters = [Chapter(i * 1000, (i + 1) * 1000, f"Stap {i}: adem in") for i in range(count)]
    tag = id3.tag_bytes(METADATA, chapters, count * 1000, cover=b"\xff\xd8" + bytes(500))
    parsed = id3._chap_keys(ID3(io.BytesIO(tag)))
    assert id3.tag_chapter_ids(tag) == parsed == [id3.chapter_id(i) for i in range(count)]
    shuffled = ID3()  # mutagen's own ID3 writes frames sorted by key: ch10 before ch2
    for index in (0, 10, 2):
        shuffled.add(
            CHAP(element_id=f"ch{index}", start_time=0, end_time=1, sub_frames=[TIT2(text=["x"])])
        )
    buffer = io.BytesIO()
    shuffled.save(buffer, v2_version=3)
    assert id3.tag_chapter_ids(buffer.getvalue()) == id3._chap_keys(
        ID3(io.BytesIO(buffer.getvalue()))
    )
