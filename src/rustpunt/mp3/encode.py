"""Encoding the spliced writer's units into parts (rustpunt.mp3.splice explains why they join
exactly): LAME through one ffmpeg process, a fresh encoder per unit."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeAlias

import numpy as np

from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe
from rustpunt.errors import ExportError
from rustpunt.mp3 import frames as mp3frames
from rustpunt.mp3.frames import SAMPLES_PER_FRAME
from rustpunt.mp3.partcache import MAX_PIECE_FRAMES, EncodedPart
from rustpunt.mp3.units import LEAD_IN_FRAMES, Unit, reach_frames

PARTS_PER_PROCESS = 16
"""Parts one ffmpeg encodes at once, each by its own encoder into its own file. Each encoder costs
ffmpeg about a quarter of a megabyte: at 128 a 60-minute session peaked at 137 MB (the whole
process tree), at 16 at 110 MB, in the same time (a new ffmpeg every 16 parts costs little)."""


MP3_BITRATES_KBPS = mp3frames.BITRATES_KBPS[1:]
"""The constant bitrates MPEG-1 Layer III allows (the same list as export's)."""


def encode_part(
    samples: np.ndarray, *, lead: int, lead_in: int = LEAD_IN_FRAMES, bitrate_kbps: int = 64
) -> EncodedPart:
    """Encode one speech segment (int16 mono 44.1 kHz) that starts `lead` samples into a frame,
    after `lead_in` frames of silence: see `encode_pieces`."""
    return encode_parts([Unit.holding(0, lead, lead_in, samples)], bitrate_kbps=bitrate_kbps)[0]


def encode_parts(
    units: Sequence[Unit], *, bitrate_kbps: int = 64, piece_frames: int = MAX_PIECE_FRAMES
) -> list[EncodedPart]:
    """Each unit's part whole, its pieces joined (see `encode_pieces`, which the writer uses:
    this holds all of them)."""
    made: list[dict[int, EncodedPart]] = [{} for _ in units]

    def keep(unit: int, piece: int, part: EncodedPart) -> None:
        made[unit][piece] = part

    encode_pieces(units, bitrate_kbps=bitrate_kbps, keep=keep, piece_frames=piece_frames)
    return [joined([pieces[index] for index in range(len(pieces))]) for pieces in made]


Keep: TypeAlias = Callable[[int, int, EncodedPart], None]
"""Told of each piece as it is made: the unit's index, the piece's index, the piece."""


def encode_pieces(
    units: Sequence[Unit],
    *,
    bitrate_kbps: int,
    keep: Keep,
    piece_frames: int = MAX_PIECE_FRAMES,
) -> None:
    """Encode units into parts with one ffmpeg (libmp3lame) process per PARTS_PER_PROCESS units,
    each unit by a fresh encoder: a part's bytes depend on its own unit only. Each part is
    given to `keep` in pieces of at most `piece_frames` frames as they are cut, its first
    piece last (it says how many there are): however long a unit of gapless speech is, a piece
    or two of it is in memory at a time.

    Each unit becomes a block of whole frames: `lead_in` silent frames, `lead` zeros, the samples,
    zeros up to its reach plus one frame. LAME's bit reservoir stays on, as in the one-pass
    encode: over the lead-in LAME settles and fills its reservoir, so a speech onset gets the same
    bits it gets there. A part is cut from its block's first frame to its last sounding one; the
    frame before the block carries nothing, so the part decodes the same after any silent frame.
    Borrowing is kept inside the part: the silent lead-in frames' main_data_begin is capped at the
    bytes the part holds before them (they read nothing, so only the decoder's bookkeeping sees
    it); the first frame's is then 0, and no sounding frame may reach before the part (checked).
    Raises ExportError if ffmpeg fails or a part breaks these rules.
    """
    check_bitrate(bitrate_kbps, "segment")
    blocks = []
    for unit in units:
        if not 0 <= unit.lead < SAMPLES_PER_FRAME or unit.lead_in < 0:
            raise ValueError(
                f"lead must be 0 to {SAMPLES_PER_FRAME - 1} samples and lead_in not negative, "
                f"got {unit.lead} and {unit.lead_in}"
            )
        zeros = unit.lead_in * SAMPLES_PER_FRAME + unit.lead
        blocks.append(_Block(unit, zeros, unit.lead_in + reach_frames(unit.lead, unit.length) + 1))
    for first in range(0, len(blocks), PARTS_PER_PROCESS):
        batch = blocks[first : first + PARTS_PER_PROCESS]
        with tempfile.TemporaryDirectory(prefix="rustpunt-parts-") as folder:
            _run_lame(batch, bitrate_kbps, folder)
            for number, block in enumerate(batch):
                with open(os.path.join(folder, f"{number}.mp3"), "rb") as stream:
                    _cut_pieces(
                        block,
                        _windows(stream, block.frames, bitrate_kbps, piece_frames),
                        bitrate_kbps,
                        functools.partial(keep, first + number),
                    )


def joined(pieces: Sequence[EncodedPart]) -> EncodedPart:
    """A part's pieces as one part (its frames in one buffer)."""
    if len(pieces) == 1:
        return dataclasses.replace(pieces[0], pieces=1, follows=False)
    starts = np.cumsum([0] + [piece.size for piece in pieces[:-1]])
    crc = 0
    for piece in pieces:
        crc = mp3frames.crc16_combine(crc, piece.crc, piece.size)
    return dataclasses.replace(
        pieces[0],
        data=b"".join(piece.data for piece in pieces),
        frame_count=sum(piece.frame_count for piece in pieces),
        frame_offsets=np.concatenate(
            [piece.frame_offsets + start for piece, start in zip(pieces, starts)]
        ),
        crc=crc,
        pieces=1,
        follows=False,
    )


@dataclass(frozen=True)
class _Block:
    """A unit as fed to LAME: `zeros` before its samples, `frames` whole frames in all."""

    unit: Unit
    zeros: int
    frames: int


@dataclass(frozen=True)
class _Window:
    """Frames `first` to `first + len(starts) - 1` of a part, read from its encoder's stream:
    their bytes, where each starts (and where the last ends) and each one's own CRC."""

    first: int
    data: bytearray
    starts: np.ndarray
    crcs: np.ndarray

    @property
    def frames(self) -> int:
        return self.starts.size - 1


def _cut_pieces(
    block: _Block,
    windows: Iterator[tuple[bytearray, np.ndarray]],
    bitrate_kbps: int,
    keep: Callable[[int, EncodedPart], None],
) -> None:
    """Cut a block's stream into its part's pieces (see encode_pieces), a window of frames (a
    piece's worth) at a time. Where the part ends (its last sounding frame) is known only once
    a later window sounds or the stream ends: until then the windows since the last sound
    wait."""
    unit = block.unit
    pending: list[_Window] = []
    held = 0  # main-data bytes of the part before the window
    last_sounding = -1
    first = 0
    head: list[EncodedPart] = []  # the first piece: given last, when the count is known
    given = 0
    ends_silent = True

    def give(window: _Window, count: int) -> None:
        nonlocal given
        piece = _piece(window, count, unit, bitrate_kbps, follows=given > 0)
        if given:
            keep(given, piece)
        else:
            head.append(piece)
        given += 1

    for data, starts in windows:
        offsets = starts[:-1]
        main_data_begin, silent = mp3frames.mono_side_info(data, offsets)
        areas = np.diff(starts) - 4 - 17  # main-data bytes of each (mono, unprotected) frame
        _contain_reservoir(
            data, offsets, main_data_begin=main_data_begin, silent=silent, areas=areas, held=held
        )
        held += int(areas.sum())
        crcs = mp3frames.frame_crcs(data, offsets, end=int(starts[-1]))
        sounding = np.flatnonzero(~silent)
        if sounding.size:
            last_sounding = first + int(sounding[-1])
            for earlier in pending:  # the part goes on past them: whole pieces
                give(earlier, earlier.frames)
            pending = []
        pending.append(_Window(first, data, starts, crcs))
        first += offsets.size
        ends_silent = bool(silent[-1])
    if not ends_silent:
        raise ExportError("an encoded segment sounds past its planned frames; report this bug")
    for window in pending:
        inside = min(window.frames, last_sounding + 1 - window.first)
        if inside > 0 or not given:  # a unit that never sounds is one empty piece
            give(window, max(0, inside))
    keep(0, dataclasses.replace(head[0], pieces=given))


def _piece(
    window: _Window, count: int, unit: Unit, bitrate_kbps: int, *, follows: bool
) -> EncodedPart:
    """The window's first `count` frames as a piece of the unit's part."""
    end = int(window.starts[count])
    crc = mp3frames.crc16_of_frames(window.crcs[:count], window.starts[1 : count + 1], end)
    del window.data[end:]  # the frames past the part's end, if it ends here
    return EncodedPart(
        data=window.data,
        frame_count=count,
        lead=unit.lead,
        lead_in=unit.lead_in,
        bitrate_kbps=bitrate_kbps,
        frame_offsets=window.starts[:count],
        crc=crc,
        follows=follows,
    )


def _windows(
    stream: IO[bytes], needed: int, bitrate_kbps: int, size: int
) -> Iterator[tuple[bytearray, np.ndarray]]:
    """The first `needed` frames of an encoder's stream, `size` at a time: their bytes, and
    where each frame starts with where the last one ends."""
    longest = 144_000 * bitrate_kbps // SAMPLE_RATE + 1  # a padded frame
    carry = b""
    done = 0
    while done < needed:
        want = min(size, needed - done)
        data = bytearray(carry)
        data += stream.read(max(0, want * longest - len(data)))
        offsets, end = mp3frames.whole_frames(data)
        if len(offsets) < want:
            raise ExportError(
                f"ffmpeg returned {done + len(offsets)} MP3 frames for {needed}; report this bug"
            )
        cut = offsets[want] if len(offsets) > want else end
        carry = bytes(data[cut:])
        del data[cut:]
        yield data, np.asarray([*offsets[:want], cut], dtype=np.int64)
        done += want


def _contain_reservoir(
    stream: bytearray,
    offsets: np.ndarray,
    *,
    main_data_begin: np.ndarray,
    silent: np.ndarray,
    areas: np.ndarray,
    held: int,
) -> None:
    """Cap main_data_begin at the bytes the part holds before each frame (see encode_pieces);
    the arrays are those of a window of the part, `held` main-data bytes after its start."""
    count = len(offsets)
    if count == 0:
        return
    before = held + np.concatenate([[0], np.cumsum(areas[: count - 1])])
    over = np.flatnonzero(main_data_begin[:count] > before)
    if np.any(~silent[over]):
        raise ExportError(
            "an encoded segment borrows bytes from before its first frame (main_data_begin); "
            "report this bug"
        )
    for index in over.tolist():
        mp3frames.set_main_data_begin(stream, int(offsets[index]), int(before[index]))
    if held == 0 and mp3frames.parse_side_info(stream, int(offsets[0])).main_data_begin != 0:
        raise ExportError("an encoded segment's first frame borrows; report this bug")


def _lame_output(bitrate_kbps: int, target: str) -> list[str]:
    """Raw CBR frames out (export's encoder settings), no tags or Xing frame."""
    return [
        "-map_metadata", "-1",
        "-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k",
        "-ar", str(SAMPLE_RATE), "-ac", "1",
        "-id3v2_version", "0", "-write_id3v1", "0", "-write_xing", "0", "-f", "mp3", target,
    ]  # fmt: skip


def _lame_command_each(blocks: Sequence[_Block], bitrate_kbps: int, folder: str) -> list[str]:
    """Raw PCM in, cut at the blocks' edges (asegment) into one fresh encoder per block, each
    writing its frames to folder/N.mp3."""
    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
    ]  # fmt: skip
    edges = np.cumsum([block.frames * SAMPLES_PER_FRAME for block in blocks])[:-1]
    labels = "".join(f"[b{index}]" for index in range(len(blocks)))
    if len(blocks) == 1:
        graph = "[0:a]anull[b0]"
    else:
        graph = f"[0:a]asegment=samples={'|'.join(str(int(edge)) for edge in edges)}{labels}"
    for index in range(len(blocks)):
        graph += f";[b{index}]asetpts=PTS-STARTPTS[o{index}]"
    command += ["-filter_complex", graph]
    for index in range(len(blocks)):
        target = os.path.join(folder, f"{index}.mp3")
        command += ["-map", f"[o{index}]", *_lame_output(bitrate_kbps, target)]
    return command


def _run_lame(blocks: Sequence[_Block], bitrate_kbps: int, folder: str) -> None:
    """Stream the blocks through one ffmpeg, each block into its own encoder writing
    `folder`/N.mp3: each unit's samples are made piece by piece and written (a few seconds of
    speech in memory at a time, however long a unit of gapless speech is). ffmpeg writes files
    only, so writing its input from this thread cannot block for good; its messages go to a
    file."""
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                _lame_command_each(blocks, bitrate_kbps, folder),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        except OSError as error:
            raise ExportError(f"ffmpeg cannot run ({error})") from None
        stopped = False  # ffmpeg stopped reading: its messages say why
        with process:
            assert process.stdin is not None
            try:
                try:
                    _feed(process.stdin, blocks)
                except BrokenPipeError:
                    stopped = True
                finally:
                    with contextlib.suppress(OSError):
                        process.stdin.close()
                returncode = process.wait()
            except BaseException:  # making a unit's samples failed, or Ctrl-C
                process.kill()
                raise
        if returncode != 0 or stopped:
            errors.seek(0)
            lines = errors.read().decode("utf-8", "replace").strip().splitlines()
            detail = lines[-1] if lines else f"exit status {returncode}"
            raise ExportError(f"ffmpeg could not encode the speech: {detail}")


def _feed(stdin: IO[bytes], blocks: Sequence[_Block]) -> None:
    """Each block's samples as LAME takes them: its zeros, the unit's samples, zeros to its end."""
    for block in blocks:
        stdin.write(bytes(2 * block.zeros))
        made = 0
        for piece in block.unit.chunks():
            stdin.write(piece.data.cast("B"))
            made += piece.size
        stdin.write(bytes(2 * (block.frames * SAMPLES_PER_FRAME - block.zeros - made)))


def check_bitrate(bitrate_kbps: int, shown: Path | str) -> None:
    """A constant bitrate MPEG-1 Layer III allows at 44.1 kHz (ffmpeg silently clamps others)."""
    if bitrate_kbps not in MP3_BITRATES_KBPS:
        allowed = ", ".join(str(rate) for rate in MP3_BITRATES_KBPS)
        raise ExportError(
            f"{shown}: {bitrate_kbps!r} kbit/s is not an MP3 bitrate at 44.1 kHz; "
            f"choose one of {allowed}"
        )


__all__ = [
    "MP3_BITRATES_KBPS",
    "PARTS_PER_PROCESS",
    "Keep",
    "check_bitrate",
    "encode_part",
    "encode_parts",
    "encode_pieces",
    "joined",
]
