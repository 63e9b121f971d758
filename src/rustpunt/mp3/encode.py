"""Encoding the spliced writer's units into parts (rustpunt.mp3.splice explains why they join
exactly): LAME through one ffmpeg process, a fresh encoder per unit."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe
from rustpunt.errors import ExportError
from rustpunt.mp3 import frames as mp3frames
from rustpunt.mp3.frames import SAMPLES_PER_FRAME
from rustpunt.mp3.partcache import EncodedPart
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
    after `lead_in` frames of silence: see `encode_parts`."""
    return encode_parts([Unit.holding(0, lead, lead_in, samples)], bitrate_kbps=bitrate_kbps)[0]


def encode_parts(units: Sequence[Unit], *, bitrate_kbps: int = 64) -> list[EncodedPart]:
    """Encode units into parts with one ffmpeg (libmp3lame) process per PARTS_PER_PROCESS units,
    each unit by a fresh encoder: a part's bytes depend on its own unit only.

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
    parts: list[EncodedPart] = []
    for first in range(0, len(blocks), PARTS_PER_PROCESS):
        batch = blocks[first : first + PARTS_PER_PROCESS]
        for block, stream in zip(batch, _run_lame(batch, bitrate_kbps)):
            parts.extend(_encode_run([block.unit], [block], stream, bitrate_kbps))
    return parts


@dataclass(frozen=True)
class _Block:
    """A unit as fed to LAME: `zeros` before its samples, `frames` whole frames in all."""

    unit: Unit
    zeros: int
    frames: int


def _encode_run(
    units: Sequence[Unit], blocks: Sequence[_Block], stream: bytearray, bitrate_kbps: int
) -> list[EncodedPart]:
    """The parts of `blocks`, cut from `stream`: what one encoder made of them in turn."""
    every = mp3frames.frame_offsets(stream)
    needed = sum(block.frames for block in blocks)
    if len(every) < needed:
        raise ExportError(f"ffmpeg returned {len(every)} MP3 frames for {needed}; report this bug")
    starts = np.asarray(every[: needed + 1], dtype=np.int64)  # LAME's flush may add frames
    del every  # after the last block; a Python int per frame is 4 MB an hour of speech
    if starts.size == needed:
        starts = np.append(starts, len(stream))
    offsets = starts[:needed]
    main_data_begin, silent = mp3frames.mono_side_info(stream, offsets)
    areas = np.diff(starts) - 4 - 17  # main-data bytes of each (mono, unprotected) frame
    cuts = []  # (first frame, frames kept) per block
    first = 0
    for block in blocks:
        frames = block.frames
        block_silent = silent[first : first + frames]
        if not block_silent[-1] or (first > 0 and not silent[first - 1]):
            raise ExportError("an encoded segment sounds past its planned frames; report this bug")
        sounding = np.flatnonzero(~block_silent)
        count = int(sounding[-1]) + 1 if sounding.size else 0
        _contain_reservoir(
            stream,
            offsets[first : first + count],
            main_data_begin=main_data_begin[first:],
            silent=silent[first:],
            areas=areas[first:],
        )
        cuts.append((first, count))
        first += frames
    crcs = mp3frames.frame_crcs(stream, offsets, end=int(starts[needed]))
    parts = []
    for unit, (first, count) in reversed(list(zip(units, cuts))):  # from the end, so that
        begin, end = int(starts[first]), int(starts[first + count])  # the stream shrinks as
        ends = starts[first + 1 : first + count + 1]  # the parts are copied out of it
        shifted = mp3frames.crc16_shift(crcs[first : first + count], end - ends)
        del stream[end:]
        if begin == 0:  # the run's first part keeps the stream itself: no copy of an hour of
            data: mp3frames.Bytes = stream  # gapless speech (and nothing is left to copy out)
        else:
            with memoryview(stream) as view:
                data = bytes(view[begin:end])  # one copy (a bytearray slice would make two)
            del stream[begin:]
        parts.append(
            EncodedPart(
                data=data,
                frame_count=count,
                lead=unit.lead,
                lead_in=unit.lead_in,
                bitrate_kbps=bitrate_kbps,
                frame_offsets=starts[first : first + count] - begin,
                crc=int(np.bitwise_xor.reduce(shifted, initial=0)),
            )
        )
    return parts[::-1]


def _contain_reservoir(
    stream: bytearray,
    offsets: np.ndarray,
    *,
    main_data_begin: np.ndarray,
    silent: np.ndarray,
    areas: np.ndarray,
) -> None:
    """Cap main_data_begin at the bytes the part holds before each frame (see encode_parts);
    the arrays start at the part's first frame."""
    count = len(offsets)
    if count == 0:
        return
    held = np.concatenate([[0], np.cumsum(areas[: count - 1])])
    over = np.flatnonzero(main_data_begin[:count] > held)
    if np.any(~silent[over]):
        raise ExportError(
            "an encoded segment borrows bytes from before its first frame (main_data_begin); "
            "report this bug"
        )
    for index in over.tolist():
        mp3frames.set_main_data_begin(stream, int(offsets[index]), int(held[index]))
    if mp3frames.parse_side_info(stream, int(offsets[0])).main_data_begin != 0:
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


def _run_lame(blocks: Sequence[_Block], bitrate_kbps: int) -> list[bytearray]:
    """Stream the blocks through one ffmpeg, each block into its own encoder: a thread makes
    each unit's samples piece by piece and writes them (a few seconds of speech in memory at a
    time, however long a unit of gapless speech is); each block's frames come back as a
    bytearray, which the caller edits in place. ffmpeg's messages go to a file."""
    failure: list[BaseException] = []
    with (
        tempfile.TemporaryFile() as errors,
        tempfile.TemporaryDirectory(prefix="rustpunt-parts-") as folder,
    ):
        try:
            process = subprocess.Popen(
                _lame_command_each(blocks, bitrate_kbps, folder),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        except OSError as error:
            raise ExportError(f"ffmpeg cannot run ({error})") from None
        with process:
            assert process.stdin is not None
            stdin = process.stdin

            def feed() -> None:
                try:
                    for block in blocks:
                        stdin.write(bytes(2 * block.zeros))
                        made = 0
                        for piece in block.unit.chunks():
                            stdin.write(piece.data.cast("B"))
                            made += piece.size
                        tail = block.frames * SAMPLES_PER_FRAME - block.zeros - made
                        stdin.write(bytes(2 * tail))
                except BaseException as error:  # ffmpeg stopped reading, or a clip failed
                    failure.append(error)
                finally:
                    with contextlib.suppress(OSError):
                        stdin.close()

            writer = threading.Thread(target=feed, daemon=True)
            writer.start()
            try:
                writer.join()
                returncode = process.wait()
            except BaseException:
                process.kill()
                raise
        broken = [error for error in failure if not isinstance(error, OSError)]
        if broken:  # making a unit's samples failed (e.g. a clip left the cache): say that
            raise broken[0]
        if returncode != 0 or failure:
            errors.seek(0)
            lines = errors.read().decode("utf-8", "replace").strip().splitlines()
            detail = lines[-1] if lines else f"exit status {returncode}"
            raise ExportError(f"ffmpeg could not encode the speech: {detail}")
        streams = []
        for index, block in enumerate(blocks):
            with open(os.path.join(folder, f"{index}.mp3"), "rb") as encoded:
                streams.append(_read_all(encoded, expected=_stream_bytes([block], bitrate_kbps)))
    return streams


def _stream_bytes(blocks: Sequence[_Block], bitrate_kbps: int) -> int:
    """About what LAME writes for the blocks: whole frames, a few more for its flush."""
    frame_bytes = 144_000 * bitrate_kbps // SAMPLE_RATE + 1
    return (sum(block.frames for block in blocks) + 4) * frame_bytes


def _read_all(source: IO[bytes], *, expected: int) -> bytearray:
    """Everything `source` gives, read into one buffer of the expected size (grown if need be):
    a bytearray grown chunk by chunk would briefly need twice the stream when it moves."""
    buffer = bytearray(expected)
    filled = 0
    while True:
        if filled == len(buffer):
            buffer.extend(bytes(len(buffer) // 4 + 4096))
        read = source.readinto(memoryview(buffer)[filled:])  # type: ignore[attr-defined]
        if not read:
            break
        filled += read
    del buffer[filled:]
    return buffer


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
    "check_bitrate",
    "encode_part",
    "encode_parts",
]
