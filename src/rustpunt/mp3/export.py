"""The finished files: the MP3 (one streaming ffmpeg encode, ID3 tags and chapters by mutagen) and
its sidecars (WebVTT captions, JSON), each written to a temporary file and renamed into place.

Choices made here, each checked against what players read (ffmpeg 5.1 and 9.0 tried):

- The tag is saved as ID3v2.3, not v2.4: ffmpeg (and every player built on it) drops a v2.4 CHAP
  whose title sub-frame is 128 bytes or more, which a 60-character Dutch step already reaches.
- CHAP frames are written in time order. mutagen orders frames by size, and ffmpeg lists chapters
  in file order, so `_ChronologicalID3` writes the chapters last, sorted by start time, and
  `write_mp3` reads the saved tag back to make sure.
- A CTOC frame (top level, ordered) lists every chapter: players such as Overcast need it, and
  ffmpeg's own metadata route never writes one.
- ffmpeg writes no tag of its own (`-id3v2_version 0 -write_id3v1 0`) but does write the
  Xing/LAME header: players learn the exact duration and trim the encoder delay and padding, so
  the decoded audio lines up with the input to the sample.
"""

from __future__ import annotations

import contextlib
import errno
import io
import itertools
import json
import math
import struct
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, Literal

import numpy as np
from mutagen import MutagenError
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

from rustpunt.audio.pcm import SAMPLE_RATE, as_mono_int16, ffmpeg_exe, samples_to_ms
from rustpunt.errors import ExportError, RustpuntError
from rustpunt.files import atomic_path, write_text_atomic
from rustpunt.mp3 import frames as mp3frames
from rustpunt.mp3.splice import (
    PartCache,
    SegmentLike,
    assemble,
    check_bitrate,
    place_parts,
    rewrite_info_tag,
)

Encoder = Literal["splice", "whole"]
"""How the MP3 is made: "splice" encodes only the speech and fills the pauses with ready silent
frames (fast, and a pause-only edit re-encodes nothing); "whole" encodes the finished session in
one pass, the reference the spliced file is compared with (and the way for a session with a bed
under its pauses)."""


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
class Cue:
    """One WebVTT caption."""

    start_ms: int
    end_ms: int
    text: str


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


# --------------------------------------------------------------------------- pre-flight


def check_encoder() -> None:
    """Before any synthesis: ffmpeg runs and encodes MP3 with our settings.

    A failure found only after all the speech is synthesised wastes the run, so the build calls
    this first, once. Raises ExportError with one line that says what to do.
    """
    try:
        executable = ffmpeg_exe()
    except RustpuntError as error:
        raise ExportError(str(error)) from None

    # A real encode of 50 ms of silence with exactly the options write_mp3 uses, to stdout.
    silence = np.zeros(SAMPLE_RATE // 20, dtype="<i2").tobytes()
    command = [*encoder_command(executable, 64), "-f", "mp3", "pipe:1"]
    try:
        result = subprocess.run(
            command, input=silence, capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise ExportError(
            f"ffmpeg ({executable}) cannot run: {error}; "
            "reinstall it with `pip install --force-reinstall imageio-ffmpeg`"
        ) from None
    if result.returncode != 0 or not result.stdout:
        detail = _last_line(result.stderr) or f"exit status {result.returncode}"
        hint = "this ffmpeg has no libmp3lame; " if b"libmp3lame" in result.stderr else ""
        raise ExportError(
            f"ffmpeg cannot encode MP3 ({detail}); {hint}"
            "reinstall it with `pip install --force-reinstall imageio-ffmpeg`"
        )


# --------------------------------------------------------------------------- MP3


def write_mp3(
    destination: Path,
    chunks: Iterable[np.ndarray],
    metadata: Metadata,
    chapters: Sequence[Chapter],
    *,
    bitrate_kbps: int = 64,
    cover: bytes | None = None,
    cover_mime: str = "image/jpeg",
) -> None:
    """Encode int16 mono 44.1 kHz `chunks` into a tagged, chaptered CBR MP3 at `destination`.

    `cover` (JPEG or PNG bytes, see rustpunt.podcast.cover) becomes the tag's front cover (APIC).

    The chunks are consumed lazily and streamed into one ffmpeg process, so a session is never
    held in memory at once. Nothing appears at `destination` unless encoding and tagging both
    succeed; an exception from `chunks` propagates unchanged, and ffmpeg is always reaped.
    Raises ExportError when ffmpeg fails (with its last line of error output).
    """
    destination = Path(destination)
    check_bitrate(bitrate_kbps, destination)
    with atomic_path(destination) as temporary:
        write_mp3_into(
            temporary,
            chunks,
            metadata,
            chapters,
            bitrate_kbps=bitrate_kbps,
            shown=destination,
            cover=cover,
            cover_mime=cover_mime,
        )


def write_mp3_into(
    temporary: Path,
    chunks: Iterable[np.ndarray],
    metadata: Metadata,
    chapters: Sequence[Chapter],
    *,
    bitrate_kbps: int,
    shown: Path,
    cover: bytes | None = None,
    cover_mime: str = "image/jpeg",
) -> None:
    """write_mp3's work, into a temporary file the caller renames (with its sidecars, as one set);
    errors name `shown`, the file the user will look for."""
    ordered = _chronological(chapters)
    samples = _encode(temporary, chunks, bitrate_kbps, shown)
    rewrite_info_tag(temporary, total_samples=samples)  # exact length for every reader
    _tag_into(
        temporary,
        metadata,
        ordered,
        samples,
        shown=shown,
        cover=cover,
        cover_mime=cover_mime,
    )


def write_spliced_into(
    temporary: Path,
    segments: Sequence[SegmentLike],
    total_samples: int,
    metadata: Metadata,
    chapters: Sequence[Chapter],
    *,
    bitrate_kbps: int,
    shown: Path,
    parts: PartCache | None = None,
    cover: bytes | None = None,
    cover_mime: str = "image/jpeg",
) -> None:
    """The MP3 made by encoding only the speech: each segment (a splice.Segment, or an
    `(offset, samples)` pair) is encoded, or taken from `parts`, a cache of encoded segments, by
    its key or its samples; the pauses between them are pre-encoded silent frames
    (rustpunt.mp3.splice). Tagged like write_mp3_into's, the tag written first."""
    ordered = _chronological(chapters)
    if total_samples <= 0:
        raise ExportError(f"{shown}: the session has no audio to encode")
    try:
        placed = place_parts(segments, total_samples, bitrate_kbps=bitrate_kbps, cache=parts)
    except ExportError as error:
        raise ExportError(f"{shown}: {error}") from None
    try:
        tag = tag_bytes(
            metadata, ordered, samples_to_ms(total_samples), cover=cover, cover_mime=cover_mime
        )
    except MutagenError as error:
        raise output_error(shown, error) from None
    _check_chapter_ids(_chapter_ids(tag), len(ordered), shown)
    try:
        with temporary.open("wb") as handle:
            handle.write(tag)  # first: mutagen would otherwise move the whole stream to fit it
            assemble(handle, placed, total_samples, bitrate_kbps=bitrate_kbps)
    except OSError as error:
        raise output_error(shown, error) from None


def _tag_into(
    temporary: Path,
    metadata: Metadata,
    ordered: list[Chapter],
    samples: int,
    *,
    shown: Path,
    cover: bytes | None,
    cover_mime: str,
) -> None:
    try:
        _write_tags(
            temporary,
            metadata,
            ordered,
            samples_to_ms(samples),
            cover=cover,
            cover_mime=cover_mime,
        )
    except (OSError, MutagenError) as error:
        raise output_error(shown, error) from None
    _check_chapter_order(temporary, len(ordered), shown)


def output_error(shown: Path, error: BaseException) -> ExportError:
    """One line for an output that could not be written: which file, why, and what to do."""
    cause = (error.__cause__ or error.__context__) if isinstance(error, MutagenError) else error
    code = getattr(cause, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return ExportError(
            f"{shown}: the disk is full; free some space, or choose another output folder with -o"
        )
    reason = getattr(cause, "strerror", None) or str(cause or error)
    return ExportError(
        f"{shown}: cannot write it ({reason}); fix the output folder, or choose another with -o"
    )


def encoder_command(executable: str, bitrate_kbps: int) -> list[str]:
    """ffmpeg reading raw session PCM on stdin and encoding constant-bitrate mono MP3, no tags.

    The caller appends the output (`-f mp3 PATH`); benchmarks/bulk.py times this very command as
    its floor: ffmpeg encoding the whole session.
    """
    return [
        executable, "-hide_banner", "-nostats", "-loglevel", "error",
        "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
        "-map_metadata", "-1",
        "-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k", "-ar", str(SAMPLE_RATE), "-ac", "1",
        "-id3v2_version", "0", "-write_id3v1", "0", "-write_xing", "1",
    ]  # fmt: skip


def _encode(temporary: Path, chunks: Iterable[np.ndarray], bitrate_kbps: int, shown: Path) -> int:
    """Stream `chunks` through one ffmpeg into `temporary`; return how many samples went in."""
    command = [*encoder_command(ffmpeg_exe(), bitrate_kbps), "-f", "mp3", "-y", str(temporary)]
    total = 0
    with tempfile.TemporaryFile() as errors:  # a file, not a PIPE: ffmpeg can never block on it
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors
            )
        except OSError as error:
            raise ExportError(f"{shown}: ffmpeg cannot run ({error})") from None
        assert process.stdin is not None
        try:
            ffmpeg_gone = False
            iterator = iter(chunks)
            try:
                for chunk in iterator:
                    data = as_mono_int16(chunk, "audio chunks")
                    total += data.size
                    try:
                        process.stdin.write(data.data.cast("B"))
                    except BrokenPipeError:
                        ffmpeg_gone = True  # ffmpeg stopped reading: stop synthesising too
                        break
            finally:
                if ffmpeg_gone:
                    close = getattr(iterator, "close", None)
                    if close is not None:
                        close()
            try:
                process.stdin.close()
            except BrokenPipeError:
                ffmpeg_gone = True
            returncode = process.wait()
        except BaseException:
            # The chunks raised (a synthesis error, KeyboardInterrupt, ...): never leave ffmpeg behind.
            _kill(process)
            raise
        if returncode != 0 or ffmpeg_gone:
            errors.seek(0)
            detail = _last_line(errors.read()) or f"exit status {returncode}"
            raise ExportError(f"{shown}: ffmpeg could not encode the MP3: {detail}")
    if total == 0:
        raise ExportError(f"{shown}: the session has no audio to encode")
    return total


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        process.kill()
    with contextlib.suppress(OSError, ValueError):
        if process.stdin is not None:
            process.stdin.close()
    process.wait()


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def _chronological(chapters: Sequence[Chapter]) -> list[Chapter]:
    for chapter in chapters:
        if not 0 <= chapter.start_ms <= chapter.end_ms <= _MAX_ID3_MS:
            raise ValueError(
                f"chapter {chapter.title!r} has impossible times "
                f"{chapter.start_ms} ms to {chapter.end_ms} ms"
            )
    return sorted(chapters, key=lambda chapter: (chapter.start_ms, chapter.end_ms))  # stable


class _ChronologicalID3(ID3):
    """mutagen's ID3, except that the chapters are written last and in time order.

    mutagen (`ID3Tags._write`, 1.47 and 1.48) sorts frames by a short priority list, then by their
    encoded size, then by key: chapters would come out ordered by the length of their titles, and
    ffmpeg, like most players, lists chapters in file order. A new tag's chapters (`chapters`)
    are rendered here as bytes: a mutagen CHAP frame per chapter costs about 14 ms for 180
    chapters, most of a pause-only rebuild's tag, and tests/test_export_text.py pins these bytes
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
    for index, chapter in by_time:  # already in time order from _chronological; stable
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


def _write_tags(
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
) -> _ChronologicalID3:
    text = Encoding.UTF16  # ID3v2.3 knows Latin-1 and UTF-16 only
    tags = _ChronologicalID3()
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


def _check_chapter_order(path: Path, count: int, shown: Path) -> None:
    """Read the saved tag back: the CHAP frames must sit in the file in time order."""
    with path.open("rb") as handle:
        head = handle.read(10)
        tag = head + handle.read(max(0, mp3frames.id3_size(head) - len(head)))
    _check_chapter_ids(_chapter_ids(tag), count, shown)


def _check_chapter_ids(in_file: list[str], count: int, shown: Path) -> None:
    """The chapters' IDs as the tag holds them must be ch0, ch1, ... in that order."""
    if in_file != [chapter_id(index) for index in range(count)]:
        raise ExportError(
            f"{shown}: the chapters were written out of order ({', '.join(in_file)}); "
            "this mutagen version orders frames differently, report it to the rustpunt developers"
        )


def _chap_keys(tags: ID3) -> list[str]:
    return [key.removeprefix("CHAP:") for key in tags.keys() if key.startswith("CHAP:")]  # noqa: SIM118


def _chapter_ids(tag: bytes) -> list[str]:
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


# --------------------------------------------------------------------------- sidecars


def write_vtt(destination: Path, cues: Sequence[Cue]) -> None:
    """WebVTT captions, one cue per spoken step, written atomically."""
    write_text_atomic(Path(destination), vtt_text(cues))


def vtt_text(cues: Sequence[Cue]) -> str:
    """The WebVTT document for `cues`.

    Times put together from ready digit strings, and cue text that needs no escaping or line
    clean-up taken as it is: a 60-minute session's few hundred cues are rebuilt on every edit.
    """
    blocks = ["WEBVTT"]
    for cue in cues:
        start, end, text = cue.start_ms, cue.end_ms, cue.text
        if not 0 <= start < end:
            raise ValueError(f"cue {text!r} has impossible times {start} ms to {end} ms")
        if not _plain_cue_text(text):
            text = _vtt_text(text)
        if end < _VTT_TABLE_MS:  # what _vtt_time writes, inline
            timing = (
                f"{_DIGITS_2[start // 3_600_000]}:{_DIGITS_2[start // 60_000 % 60]}:"
                f"{_DIGITS_2[start // 1000 % 60]}.{_DIGITS_3[start % 1000]} --> "
                f"{_DIGITS_2[end // 3_600_000]}:{_DIGITS_2[end // 60_000 % 60]}:"
                f"{_DIGITS_2[end // 1000 % 60]}.{_DIGITS_3[end % 1000]}"
            )
        else:
            timing = f"{_vtt_time(start)} --> {_vtt_time(end)}"
        blocks.append(f"{timing}\n{text}" if text else timing)
    return "\n\n".join(blocks) + "\n"


_DIGITS_2 = tuple(f"{number:02d}" for number in range(100))
_DIGITS_3 = tuple(f"{number:03d}" for number in range(1000))
_VTT_TABLE_MS = 100 * 3_600_000  # up to 99:59:59.999 the hours come from _DIGITS_2 too


def write_sidecar_into(temporary: Path, text: str, *, shown: Path) -> None:
    """A sidecar's text into a temporary file the caller renames; a failure names `shown`."""
    try:
        temporary.write_bytes(text.encode("utf-8"))
    except OSError as error:
        raise output_error(shown, error) from None


def _vtt_time(ms: int) -> str:
    """A WebVTT timestamp, hh:mm:ss.ttt (vtt_text writes the same inline, below 100 hours)."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _plain_cue_text(text: str) -> bool:
    """True when _vtt_text would return `text` unchanged: nothing to escape, no line break (every
    character str.splitlines splits at is unprintable), no space to strip at either end."""
    return (
        text.isprintable()
        and text[:1] != " "
        and text[-1:] != " "
        and "&" not in text
        and "<" not in text
        and ">" not in text
    )


def _vtt_text(text: str) -> str:
    """Cue text as WebVTT wants it: escaped, and without blank lines (one would end the cue)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def write_json(destination: Path, document: Mapping[str, Any]) -> None:
    """A JSON sidecar: UTF-8, indented by two, non-ASCII kept as is, a final newline; atomic."""
    write_text_atomic(Path(destination), json_text(document))


def json_text(document: Mapping[str, Any]) -> str:
    """The text write_json writes: exactly `json.dumps(document, indent=2, ensure_ascii=False,
    allow_nan=False)` and a newline.

    json's indented output takes its pure-Python encoder (about 4 ms for a 60-minute session's
    sidecar, on every rebuild); a document of plain dicts, lists, strings, ints, floats, bools
    and None is written here at about a third of that, anything else by json itself.
    """
    if type(document) is dict and document:
        pieces: list[str] = []
        try:
            _indented_json(document, 0, pieces, {_LIST_ITEM: ""})
        except _NotPlainJSON:
            pass
        else:
            pieces.append("\n")
            return "".join(pieces)
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


class _NotPlainJSON(Exception):
    """A value _indented_json leaves to json: another type, a non-string key, a float json
    refuses, or nesting deep enough to be a circular reference."""


_JSON_INDENTS = tuple("\n" + "  " * depth for depth in range(64))


def _indented_json(
    container: dict[Any, Any] | list[Any], depth: int, pieces: list[str], keys: dict[Any, str]
) -> None:
    """Append the indented JSON of a non-empty dict or list at `depth` to `pieces`, as json's
    own encoder writes it. `keys` maps each key written so far to its encoding (a few keys are
    written thousands of times), and _LIST_ITEM to "": a list's items are pairs with that key."""
    if depth + 2 >= len(_JSON_INDENTS):
        raise _NotPlainJSON
    inner = _JSON_INDENTS[depth + 1]
    items: Iterable[tuple[Any, Any]]
    if type(container) is dict:
        lead, closer, items = "{" + inner, "}", container.items()
    else:
        lead, closer, items = "[" + inner, "]", zip(itertools.repeat(_LIST_ITEM), container)
    comma = "," + inner
    for key, value in items:
        encoded_key = keys.get(key)
        if encoded_key is None:
            if type(key) is not str:
                raise _NotPlainJSON
            encoded_key = keys[key] = encode_basestring(key) + ": "
        kind = type(value)  # one chain of checks, inline: this runs for every value
        if kind is int:
            pieces.append(lead + encoded_key + repr(value))
        elif kind is str:
            pieces.append(lead + encoded_key + encode_basestring(value))
        elif kind is dict or kind is list:
            if value:
                pieces.append(lead + encoded_key)
                _indented_json(value, depth + 1, pieces, keys)
            else:
                pieces.append(lead + encoded_key + ("{}" if kind is dict else "[]"))
        elif value is None:
            pieces.append(lead + encoded_key + "null")
        elif value is True:
            pieces.append(lead + encoded_key + "true")
        elif value is False:
            pieces.append(lead + encoded_key + "false")
        elif kind is float and -math.inf < value < math.inf:  # json refuses NaN and infinities
            pieces.append(lead + encoded_key + repr(value))
        else:
            raise _NotPlainJSON
        lead = comma
    pieces.append(_JSON_INDENTS[depth] + closer)


_LIST_ITEM = object()


__all__ = [
    "Chapter",
    "Cue",
    "Metadata",
    "chapter_id",
    "check_encoder",
    "cover_frame",
    "encoder_command",
    "json_text",
    "output_error",
    "vtt_text",
    "write_json",
    "write_mp3",
    "write_mp3_into",
    "write_sidecar_into",
    "write_spliced_into",
    "write_vtt",
]
