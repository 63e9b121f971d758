"""The writer of the finished files: the MP3 (one streaming ffmpeg encode, or spliced from encoded
speech and silent frames by rustpunt.mp3.splice), its ID3 tag (rustpunt.mp3.id3) and its
sidecars' text (rustpunt.mp3.sidecars), each written to a temporary file and renamed into place.

ffmpeg writes no tag of its own (`-id3v2_version 0 -write_id3v1 0`) but does write the Xing/LAME
header: players learn the exact duration and trim the encoder delay and padding, so the decoded
audio lines up with the input to the sample.
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from mutagen import MutagenError

from rustpunt.audio.pcm import SAMPLE_RATE, as_mono_int16, ffmpeg_exe, samples_to_ms
from rustpunt.errors import ExportError, RustpuntError
from rustpunt.files import atomic_path
from rustpunt.mp3.id3 import (
    Chapter,
    Metadata,
    check_chapter_ids,
    check_chapter_order,
    chronological,
    tag_bytes,
    tag_chapter_ids,
    write_tags,
)
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
    ordered = chronological(chapters)
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
    ordered = chronological(chapters)
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
    check_chapter_ids(tag_chapter_ids(tag), len(ordered), shown)
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
        write_tags(
            temporary,
            metadata,
            ordered,
            samples_to_ms(samples),
            cover=cover,
            cover_mime=cover_mime,
        )
    except (OSError, MutagenError) as error:
        raise output_error(shown, error) from None
    check_chapter_order(temporary, len(ordered), shown)


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


def write_sidecar_into(temporary: Path, text: str, *, shown: Path) -> None:
    """A sidecar's text into a temporary file the caller renames; a failure names `shown`."""
    try:
        temporary.write_bytes(text.encode("utf-8"))
    except OSError as error:
        raise output_error(shown, error) from None


__all__ = [
    "Encoder",
    "check_encoder",
    "encoder_command",
    "output_error",
    "write_mp3",
    "write_mp3_into",
    "write_sidecar_into",
    "write_spliced_into",
]
