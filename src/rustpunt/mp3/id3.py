"""The MP3's ID3 tag: title, artist, voice and engine, the cover, and one chapter per step (CHAP
frames under a CTOC table of contents), as players read them (ffmpeg 5.1 and 9.0 tried).

- The tag is saved as ID3v2.3, not v2.4: ffmpeg (and every player built on it) drops a v2.4 CHAP
  whose title sub-frame is 128 bytes or more, which a 60-character Dutch step already reaches.
- CHAP frames are written in time order. mutagen orders frames by size, and ffmpeg lists chapters
  in file order, so `ChronologicalID3` writes the chapters last, sorted by start time, and the
  writers read the tag back (`check_chapter_order`, `tag_chapter_ids`) to make sure.
- A CTOC frame (top level, ordered) lists every chapter: players such as Overcast need it, and
  ffmpeg's own metadata route never writes one. It counts its children in one byte, so more than
  255 chapters go into nested tables.
- A new tag's CHAP frames are rendered here as bytes, not by mutagen, which would spend most of a
  pause-only rebuild's tag time on them (see ChronologicalID3); the watch rebuilds on every save.
  tests/test_id3.py pins these bytes to mutagen's own.

Why mutagen is pinned below 1.49 (pyproject.toml): `ChronologicalID3` overrides mutagen's private
`ID3Tags._write(config)`, as 1.47 and 1.48 have it, to put the chapters last. A private method
may change in any release, so a new minor version is tried (tests/test_id3.py checks the pin and
the method's signature, and pins the bytes) before the pin is raised.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mutagen.id3 import (
    APIC,
    COMM,
    CTOC,
    ID3,
    TALB,
    TCON,
    TDRC,
    TIT2,
    TLEN,
    TPE1,
    TXXX,
    CTOCFlags,
    Encoding,
    ID3Tags,
    PictureType,
)
from mutagen.id3 import error as ID3Error

from rustpunt.errors import ExportError
from rustpunt.mp3 import frames as mp3frames

ID3_VERSION = 3
"""ID3v2.3: the version whose chapters ffmpeg-based players read whatever the title length."""

GENRE = "Speech"
COMMENT_LANGUAGE = "dut"  # ISO 639-2 (bibliographic) code for Dutch, as ID3 asks
TOC_ID = "toc"
MAX_TOC_CHILDREN = 255
"""A CTOC frame counts its children in one byte: more chapters go into nested tables of contents."""
_MAX_ID3_MS = 0xFFFF_FFFE  # CHAP times are 32-bit; 0xFFFFFFFF means "not set"


@dataclass(frozen=True)
class Chapter:
    """One chapter of the MP3: a step of the script, from its first word to the next step."""

    start_ms: int
    end_ms: int
    title: str


@dataclass(frozen=True)
class Metadata:
    """What the MP3's tag says about the session."""

    title: str
    artist: str
    album: str
    voice: str  # the voice profile actually used, e.g. "nl-espeak"
    engine: str  # e.g. "espeak 1.52"
    comment: str | None = None  # the script's description, a note when the fallback voice spoke
    year: str | None = None


def chapter_id(index: int) -> str:
    """The element id of the `index`-th chapter in time order: chp0, chp1, ..."""
    return f"chp{index}"


def chronological(chapters: Sequence[Chapter]) -> list[Chapter]:
    for chapter in chapters:
        if not 0 <= chapter.start_ms <= chapter.end_ms <= _MAX_ID3_MS:
            raise ValueError(
                f"chapter {chapter.title!r} has impossible times "
                f"{chapter.start_ms} ms to {chapter.end_ms} ms"
            )
    return sorted(chapters, key=lambda chapter: (chapter.start_ms, chapter.end_ms))  # stable


class ChronologicalID3(ID3):
    """mutagen's ID3, except that the chapters are written last and in time order.

    mutagen (`ID3Tags._write`, 1.47 and 1.48) sorts frames by a short priority list, then by their
    encoded size, then by key: chapters would come out ordered by the length of their titles, and
    ffmpeg, like most players, lists chapters in file order. A new tag's chapters (`chapters`)
    are rendered here as bytes: a mutagen CHAP frame per chapter costs about 14 ms for 180
    chapters, most of a pause-only rebuild's tag, and tests/test_id3.py pins these bytes
    to mutagen's own. CHAP frames read from a file (rustpunt.podcast.cover re-saves a tag) are still
    serialised by mutagen, each as a one-frame tag.
    """

    chapters: Sequence[Chapter] = ()
    """A new tag's chapters; the i-th gets the element id chapter_id(i), and they are written
    sorted by time (the build passes them sorted already)."""

    def _write(self, config: Any) -> bytes:
        frames = self.getall("CHAP")
        if frames and self.chapters:
            raise ValueError("a tag holds CHAP frames read from a file or new chapters, not both")
        self.delall("CHAP")
        try:
            data = bytes(super()._write(config))
        finally:
            for frame in frames:
                self.add(frame)
        frames.sort(key=lambda frame: (frame.start_time, frame.end_time))  # stable
        for frame in frames:
            single = ID3Tags()
            single.add(frame)
            data += bytes(single._write(config))
        if self.chapters:
            if config.v2_version != ID3_VERSION:
                raise ValueError(f"new chapters are rendered for ID3v2.{ID3_VERSION} only")
            data += _chapter_frames(self.chapters)
        return data


def _chapter_frames(chapters: Sequence[Chapter]) -> bytes:
    """The CHAP frames of `chapters`, byte for byte as mutagen writes them for ID3v2.3: element
    id and NUL, start and end ms, two unset byte offsets, and the title as a TIT2 sub-frame."""
    frames = []
    by_time = sorted(enumerate(chapters), key=lambda item: (item[1].start_ms, item[1].end_ms))
    for index, chapter in by_time:  # already in time order from chronological; stable
        body = b"".join(
            (
                chapter_id(index).encode("latin-1"),
                b"\0",
                _CHAP_TIMES.pack(chapter.start_ms, chapter.end_ms, _UNSET, _UNSET),
                _utf16_text_frame(b"TIT2", chapter.title),
            )
        )
        frames.append(_v23_frame(b"CHAP", body))
    return b"".join(frames)


_CHAP_TIMES = struct.Struct(">IIII")
_UNSET = 0xFFFF_FFFF  # a CHAP's byte offsets: not set, players use the times


def _v23_frame(frame_id: bytes, body: bytes) -> bytes:
    """An ID3v2.3 frame: ID, body size (a plain 32-bit integer in v2.3), no flags, body."""
    return frame_id + len(body).to_bytes(4, "big") + b"\0\0" + body


def _utf16_text_frame(frame_id: bytes, text: str) -> bytes:
    """A text frame as mutagen writes one of Encoding.UTF16 for v2.3: encoding byte 1, a
    little-endian BOM, UTF-16-LE and two NULs; an empty text gives no frame at all."""
    if not text:
        return b""
    try:
        encoded = text.encode("utf-16-le")
    except UnicodeEncodeError as error:  # a lone surrogate: mutagen's own error, as before
        raise ID3Error(str(error)) from error
    return _v23_frame(frame_id, b"\x01\xff\xfe" + encoded + b"\0\0")


def cover_frame(data: bytes, mime: str) -> APIC:
    """The ID3 frame of a front cover image (JPEG or PNG bytes)."""
    if mime not in ("image/jpeg", "image/png"):
        raise ValueError(f"a cover is image/jpeg or image/png, not {mime!r}")
    return APIC(
        encoding=Encoding.LATIN1, mime=mime, type=PictureType.COVER_FRONT, desc="", data=data
    )


def write_tags(
    path: Path,
    metadata: Metadata,
    chapters: list[Chapter],
    length_ms: int,
    *,
    cover: bytes | None = None,
    cover_mime: str = "image/jpeg",
) -> None:
    tags = _tags(metadata, chapters, length_ms, cover=cover, cover_mime=cover_mime)
    tags.save(path, v1=0, v2_version=ID3_VERSION)


def tag_bytes(
    metadata: Metadata,
    chapters: list[Chapter],
    length_ms: int,
    *,
    cover: bytes | None = None,
    cover_mime: str = "image/jpeg",
) -> bytes:
    """The ID3v2.3 tag of an MP3, as bytes to write before its first frame."""
    tags = _tags(metadata, chapters, length_ms, cover=cover, cover_mime=cover_mime)
    buffer = io.BytesIO()
    tags.save(buffer, v1=0, v2_version=ID3_VERSION)
    return buffer.getvalue()


def _tags(
    metadata: Metadata,
    chapters: list[Chapter],
    length_ms: int,
    *,
    cover: bytes | None = None,
    cover_mime: str = "image/jpeg",
) -> ChronologicalID3:
    text = Encoding.UTF16  # ID3v2.3 knows Latin-1 and UTF-16 only
    tags = ChronologicalID3()
    tags.add(TIT2(encoding=text, text=[metadata.title]))
    tags.add(TPE1(encoding=text, text=[metadata.artist]))
    tags.add(TALB(encoding=text, text=[metadata.album]))
    tags.add(TCON(encoding=text, text=[GENRE]))
    if metadata.year:
        tags.add(TDRC(encoding=text, text=[metadata.year]))  # becomes TYER (+TDAT) for v2.3
    if metadata.comment:
        tags.add(COMM(encoding=text, lang=COMMENT_LANGUAGE, desc="", text=[metadata.comment]))
    tags.add(TXXX(encoding=text, desc="voice", text=[metadata.voice]))
    tags.add(TXXX(encoding=text, desc="engine", text=[metadata.engine]))
    tags.add(TLEN(encoding=Encoding.LATIN1, text=[str(length_ms)]))
    if cover is not None:
        tags.add(cover_frame(cover, cover_mime))
    if chapters:
        ids = [chapter_id(index) for index in range(len(chapters))]
        for toc in _tables_of_contents(ids, metadata.title):
            tags.add(toc)
        tags.chapters = tuple(chapters)
    tags.update_to_v23()
    return tags


def _tables_of_contents(chapter_ids: list[str], title: str) -> list[CTOC]:
    """The CTOC frames for these chapters: one top-level table of up to 255 chapters, or, for
    more, a top-level table of nested tables of up to 255 chapters each (ID3 chapter spec 1.0)."""
    text = Encoding.UTF16
    if len(chapter_ids) <= MAX_TOC_CHILDREN:
        groups: list[list[str]] = []
        children = chapter_ids
    else:
        groups = [
            chapter_ids[start : start + MAX_TOC_CHILDREN]
            for start in range(0, len(chapter_ids), MAX_TOC_CHILDREN)
        ]
        children = [f"{TOC_ID}{number}" for number in range(len(groups))]
    if len(children) > MAX_TOC_CHILDREN:
        raise ExportError(
            f"{len(chapter_ids)} chapters are more than an MP3's tables of contents can hold"
        )
    frames = [
        CTOC(
            element_id=TOC_ID,
            flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
            child_element_ids=children,
            sub_frames=[TIT2(encoding=text, text=[title])],
        )
    ]
    for element_id, group in zip(children, groups):
        frames.append(
            CTOC(
                element_id=element_id,
                flags=CTOCFlags.ORDERED,
                child_element_ids=group,
                sub_frames=[TIT2(encoding=text, text=[f"{title} ({group[0]}-{group[-1]})"])],
            )
        )
    return frames


def check_chapter_order(path: Path, count: int, shown: Path) -> None:
    """Read the saved tag back: the CHAP frames must sit in the file in time order."""
    with path.open("rb") as handle:
        head = handle.read(10)
        tag = head + handle.read(max(0, mp3frames.id3_size(head) - len(head)))
    check_chapter_ids(tag_chapter_ids(tag), count, shown)


def check_chapter_ids(in_file: list[str], count: int, shown: Path) -> None:
    """The chapters' IDs as the tag holds them must be ch0, ch1, ... in that order."""
    if in_file != [chapter_id(index) for index in range(count)]:
        raise ExportError(
            f"{shown}: the chapters were written out of order ({', '.join(in_file)}); "
            "this mutagen version orders frames differently, report it to the rustpunt developers"
        )


def _chap_keys(tags: ID3) -> list[str]:
    return [key.removeprefix("CHAP:") for key in tags.keys() if key.startswith("CHAP:")]  # noqa: SIM118


def tag_chapter_ids(tag: bytes) -> list[str]:
    """The element IDs of the CHAP frames of an ID3v2.3 tag as mutagen wrote it, in file order:
    a walk over the frame headers (10 bytes each: ID, size, flags), not a parse of the frames,
    which for a few hundred chapters costs more than the rest of a rebuild."""
    if tag[:4] != b"ID3\x03" or tag[5] & 0xC0:  # not v2.3, or unsynchronised / extended header
        return _chap_keys(ID3(io.BytesIO(tag)))
    end = mp3frames.id3_size(tag[:10])
    found = []
    position = 10
    while position + 10 <= end and tag[position] != 0:  # a zero byte: the padding begins
        size = int.from_bytes(tag[position + 4 : position + 8], "big")
        if tag[position : position + 4] == b"CHAP":
            body = tag[position + 10 : position + 10 + size]
            found.append(body[: body.index(b"\0")].decode("latin-1"))
        position += 10 + size
    return found
