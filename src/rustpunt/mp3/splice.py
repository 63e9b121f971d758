"""The spliced MP3 writer: encode only the speech, lay the pauses as ready-made silent frames.

A guided session is mostly silence, and a silent MP3 frame is always the same bytes. So only the
speech segments are encoded (LAME, the libmp3lame of the imageio-ffmpeg binary, all of a session's
segments through one process), each with just enough leading zeros that it starts on a frame
boundary, and the frames between them are copied in. The result decodes to exactly
`total_samples` samples, every segment at its sample offset and digital zero elsewhere.

Why it is exact:

- LAME delays its input by 576 samples and decoders by 529 more: input sample i is decoded at
  i + 1105 in a stream of frames of 1152 samples. A segment at session offset o is encoded after
  `lead_in` whole frames of zeros and `lead = o % 1152` zeros more, so its part is laid from
  frame o // 1152 - lead_in of the session and its first sample lands at o + 1105, as in a
  one-pass encode. The Info frame's LAME tag tells every decoder to skip 1105 samples and trim
  the padding at the end.
- A frame that carries no spectral values decodes to zero, and after one such frame the decoder
  has nothing left of the past (the 576-sample overlap and the synthesis filter are both zero).
  A part is cut after its last frame with spectral values, and its encode had a silent frame
  right before its first one, so it decodes the same after the session's silent frames.
  Segments closer than that are encoded together as one part.
- LAME's bit reservoir stays on, as in the one-pass encode, but never reaches across a join: every
  part begins with LEAD_IN_FRAMES silent frames (where LAME settles and fills the reservoir for
  the speech onset) and its first frame's main_data_begin is 0 (checked for every part).
- Every part is encoded by a fresh LAME encoder, so its bytes are a function of its own samples:
  a cached part is laid in other sessions and later builds, and LAME's state (psychoacoustics,
  reservoir, padding phase) carries over any length of silence (measured: after 200 silent
  frames a part still differed by what was encoded before it).
- Silent frames take LAME's padding pattern (208 or 209 bytes at 64 kbit/s): the byte count
  after every pause is back on the exact constant bitrate, so players' CBR seeking lands right.

Why one ffmpeg process (one encoder per part in it) and not the lameenc binding: both are LAME 3.100, but the imageio-ffmpeg
build is faster (benchmarks/splice.py, 5-minute session at 80 % pause: 0.46x the one-pass encode
against 0.54x; one ffmpeg per part: 1.19x), needs no new dependency, and is the encoder of the
one-pass reference, so a join comparison shows the splice and nothing else.

Re-timing: a part is cached under its PCM (or the segments' keys, when the caller gives them),
its lead (the sub-frame offset) and lead-in, the bitrate and the encoder. A segment that moves by
a whole number of frames (multiples of 1152 samples, 26.1 ms) keeps its lead and is pure assembly; one that moves by anything else is re-encoded, so placement
stays exact to the sample (this module never rounds an offset). A build starts every clip on a
frame edge (`mix.SPEECH_GRID`: its lead is always 0), so a changed pause or sentence re-encodes
no other clip; segments less than about 0.4 s apart share one part, encoded together.

Beds under the pauses are not handled here; benchmarks/splice_bed.py measures how a looped bed
could be laid as whole pre-encoded frames too (benchmarks/README.md has the figures).
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import json
import logging
import math
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol, TypeAlias

import numpy as np

from rustpunt.audio.pcm import SAMPLE_RATE, Segment, as_mono_int16, ffmpeg_exe
from rustpunt.errors import ExportError
from rustpunt.files import atomic_path, preallocate, write_bytes_atomic
from rustpunt.mp3 import frames as mp3frames
from rustpunt.mp3.frames import SAMPLES_PER_FRAME, START_OFFSET

if TYPE_CHECKING:
    from rustpunt.remote import RemoteCache

log = logging.getLogger(__name__)

PARTS_PER_PROCESS = 128
"""Parts one ffmpeg encodes at once, each by its own encoder into its own file: bounded, so the
open files stay far below a process's limit (1,024 on Linux) for a session of any length."""

MP3_BITRATES_KBPS = mp3frames.BITRATES_KBPS[1:]
"""The constant bitrates MPEG-1 Layer III allows (the same list as export's)."""

LEAD_IN_FRAMES = 12
"""Silent frames encoded before each segment (and kept: in a CBR file they cost nothing). LAME
needs about this many to reach a speech onset as it does in a one-pass encode: settled, with a
full bit reservoir. Measured on 40 Dutch sentences at 64 kbit/s, error in the first two frames of
speech, mean (worst): one-pass -23.8 dB (-18.0); lead-in 12 frames -23.8 (-18.0), 16 -23.9
(-18.0), 10 -20.5 (-11.8), 5 -19.7 (-11.9), 3 -18.4 (-8.7); the reservoir off -18.1 (-11.3)."""

CHUNK_SAMPLES = 1 << 18
"""Samples (5.9 s) of a unit made at a time for the encoder and the part key."""

REACH_MARGIN = SAMPLES_PER_FRAME
"""How far past a segment's last decoded sample (input + 1,105) its frames may still carry
spectral values. The planner keeps segments whose reach is closer than this plus one silent frame
in one part, and every encoded part is checked against it."""


@dataclass(frozen=True, eq=False)
class EncodedPart:
    """Speech encoded into whole frames, to be laid at a frame index of a session.

    `lead_in` frames and `lead` zeros precede the first sample, so the part is laid from frame
    (offset - lead) / 1152 - lead_in of the session. Frames after `frame_count` carry nothing and
    are left out: the session's silent frames take their place.
    """

    data: mp3frames.Bytes
    frame_count: int
    lead: int
    lead_in: int  # the part starts this many frames before the speech's first frame
    bitrate_kbps: int
    frame_offsets: np.ndarray  # where each frame starts in `data` (integers)
    crc: int  # CRC-16/ARC of `data`, from 0: the LAME tag's music CRC is combined from these

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EncodedPart):
            return NotImplemented
        same = (self.data, self.frame_count, self.lead, self.lead_in, self.bitrate_kbps, self.crc)
        return same == (
            other.data,
            other.frame_count,
            other.lead,
            other.lead_in,
            other.bitrate_kbps,
            other.crc,
        ) and np.array_equal(self.frame_offsets, other.frame_offsets)

    __hash__ = None  # type: ignore[assignment]


SegmentLike: TypeAlias = "Segment | tuple[int, np.ndarray]"
"""A Segment, or an (offset, samples) pair of samples already made."""


class PartCache(Protocol):
    """Where encoded parts are kept between builds (see `DirectoryPartCache`)."""

    def get(self, key: str) -> EncodedPart | None: ...

    def put(self, key: str, part: EncodedPart) -> None: ...


@functools.cache
def encoder_version() -> str:
    """The encoder as it goes into cache keys: another ffmpeg build misses the old parts.

    Named without running it (`ffmpeg -version` costs a command 90 ms, and a pause-only edit
    runs no ffmpeg at all): the imageio-ffmpeg release, which fixes the ffmpeg binary it ships,
    or the file IMAGEIO_FFMPEG_EXE names, by its path, size and time."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        name = f"imageio-ffmpeg {version('imageio-ffmpeg')}"
    except PackageNotFoundError:  # ffmpeg_exe() says what to do when it is called
        name = "imageio-ffmpeg unknown"
    chosen = os.environ.get("IMAGEIO_FFMPEG_EXE")
    if chosen:
        try:
            stat = os.stat(shutil.which(chosen) or chosen)
            name += f" exe {chosen} {stat.st_size} {stat.st_mtime_ns}"
        except OSError:
            name += f" exe {chosen}"
    return f"{name} libmp3lame lead-in {LEAD_IN_FRAMES} fresh encoder per part"


def part_key(
    samples: np.ndarray | Iterable[np.ndarray] | None,
    *,
    lead: int,
    lead_in: int,
    bitrate_kbps: int,
    content: str | None = None,
) -> str:
    """Content address of an encoded part: its PCM (an array, or its pieces in order: the same
    key), or a `content` key the caller vouches for; the lead and lead-in, the bitrate, the
    encoder."""
    digest = hashlib.sha256()
    digest.update(f"{encoder_version()}|{bitrate_kbps}|{lead}|{lead_in}|{SAMPLE_RATE}|".encode())
    if content is not None:
        digest.update(f"key|{content}".encode())
    elif isinstance(samples, np.ndarray):
        digest.update(np.ascontiguousarray(samples, dtype="<i2").data)
    elif samples is not None:
        for piece in samples:
            digest.update(np.ascontiguousarray(piece, dtype="<i2").data)
    else:
        raise ValueError("a part key needs the samples or a content key")
    return digest.hexdigest()


# --------------------------------------------------------------------------- encoding


def reach_frames(lead: int, length: int) -> int:
    """At most how many frames an encoded segment can make sound, from its first frame."""
    return -(-(lead + length + START_OFFSET + REACH_MARGIN) // SAMPLES_PER_FRAME)


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
    offsets = every[:needed]  # LAME's flush may add frames after the last block
    main_data_begin, silent = mp3frames.mono_side_info(stream, offsets)
    starts = np.asarray([*every, len(stream)][: needed + 1], dtype=np.int64)
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
    offsets: Sequence[int],
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
        mp3frames.set_main_data_begin(stream, offsets[index], int(held[index]))
    if mp3frames.parse_side_info(stream, offsets[0]).main_data_begin != 0:
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


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Unit:
    """Segments close enough to share frames, encoded together.

    The speech starts `lead` samples into frame `start_frame`; the part begins `lead_in` silent
    frames earlier, so LAME reaches the speech settled and with a full bit reservoir.
    """

    start_frame: int
    lead: int
    lead_in: int
    members: tuple[Segment, ...]
    """Its segments, the first at the unit's start (overlapping ones are summed)."""
    content: str | None = None  # the members' keys and places, when every member has a key

    @classmethod
    def holding(cls, start_frame: int, lead: int, lead_in: int, samples: np.ndarray) -> Unit:
        """A unit of samples already made."""
        offset = start_frame * SAMPLES_PER_FRAME + lead
        return cls(start_frame, lead, lead_in, tuple(as_segments([(offset, samples)])))

    @property
    def length(self) -> int:
        first = self.members[0].offset
        return max(member.offset + member.length for member in self.members) - first

    def samples(self) -> np.ndarray:
        """The unit's int16 samples, made now (from its segments) and not kept. The encoder and
        the part key take `chunks()` instead: this is the whole unit in memory at once."""
        if len(self.members) == 1:
            return _made(self.members[0])
        return np.concatenate(list(self.chunks()))

    def chunks(self, size: int = CHUNK_SAMPLES) -> Iterator[np.ndarray]:
        """The unit's int16 samples in pieces of at most `size`, each made when it is asked for.

        Speech with no pause between steps is one unit as long as the session (4 hours of
        speech in a 5,000-step session): it is never mixed whole, only a piece at a time from
        the few segments that piece overlaps, each made once. Overlapping segments are summed
        and clipped, as one mix of the whole unit would do."""
        if len(self.members) == 1:
            whole = _made(self.members[0])
            for begin in range(0, whole.size, size):
                yield whole[begin : begin + size]
            return
        first = self.members[0].offset
        total = self.length
        waiting = iter(sorted(self.members, key=lambda member: member.offset))
        upcoming = next(waiting, None)
        active: list[tuple[int, np.ndarray]] = []  # (start in the unit, samples)
        for begin in range(0, total, size):
            end = min(begin + size, total)
            while upcoming is not None and upcoming.offset - first < end:
                active.append((upcoming.offset - first, _made(upcoming)))
                upcoming = next(waiting, None)
            mixed = np.zeros(end - begin, dtype=np.int32)
            for at, samples in active:
                low, high = max(at, begin), min(at + samples.size, end)
                if low < high:
                    mixed[low - begin : high - begin] += samples[low - at : high - at]
            active = [(at, samples) for at, samples in active if at + samples.size > end]
            yield np.clip(mixed, -32768, 32767).astype("<i2")


def _made(segment: Segment) -> np.ndarray:
    samples = as_mono_int16(segment.load(), "segments")
    if samples.size != segment.length:
        raise ValueError(f"a segment of {segment.length} samples made {samples.size}")
    return samples


def _reach(offset: int, length: int) -> int:
    """The first session frame after those a segment at `offset` can make sound."""
    lead = offset % SAMPLES_PER_FRAME
    return offset // SAMPLES_PER_FRAME + reach_frames(lead, length)


def as_segments(
    segments: Sequence[SegmentLike], segment_keys: Sequence[str] | None = None
) -> list[Segment]:
    """Segments as Segment, (offset, samples) pairs made into ones, with `segment_keys` if given."""
    if segment_keys is not None and len(segment_keys) != len(segments):
        raise ValueError(f"{len(segment_keys)} segment keys for {len(segments)} segments")
    found = []
    for index, segment in enumerate(segments):
        if not isinstance(segment, Segment):
            offset, samples = segment
            made = as_mono_int16(samples, "segments")
            segment = Segment(int(offset), made.size, functools.partial(_same, made))
        if segment_keys is not None:
            segment = Segment(segment.offset, segment.length, segment.load, segment_keys[index])
        found.append(segment)
    return found


def _same(samples: np.ndarray) -> np.ndarray:
    return samples


def plan_units(
    segments: Sequence[SegmentLike],
    total_samples: int,
    *,
    segment_keys: Sequence[str] | None = None,
) -> list[Unit]:
    """Group segments into parts: each part starts LEAD_IN_FRAMES before its first segment's frame
    (fewer at the session's start) and ends at least one silent frame before the next part
    starts; segments closer than that share a part, and overlapping ones are summed. No samples
    are made here."""
    ordered = sorted(as_segments(segments, segment_keys), key=lambda segment: segment.offset)
    groups: list[list[Segment]] = []
    group_reach = 0
    for segment in ordered:
        offset, length = segment.offset, segment.length
        if offset < 0 or offset + length > total_samples:
            raise ValueError(
                f"a segment of {length} samples at {offset} does not fit in {total_samples} samples"
            )
        if length == 0:
            continue
        start_frame = offset // SAMPLES_PER_FRAME
        if groups and start_frame - LEAD_IN_FRAMES <= group_reach:  # one silent frame between
            groups[-1].append(segment)
            group_reach = max(group_reach, _reach(offset, length))
        else:
            groups.append([segment])
            group_reach = _reach(offset, length)
    units = []
    for group in groups:
        first = group[0].offset
        content = None
        if all(segment.key is not None for segment in group):
            content = " ".join(f"{segment.offset - first}:{segment.key}" for segment in group)
        start_frame = first // SAMPLES_PER_FRAME
        units.append(
            Unit(
                start_frame=start_frame,
                lead=first % SAMPLES_PER_FRAME,
                lead_in=min(LEAD_IN_FRAMES, start_frame),
                members=tuple(group),
                content=content,
            )
        )
    return units


# --------------------------------------------------------------------------- assembly


def write_spliced_mp3(
    destination: Path,
    segments: Sequence[SegmentLike],
    total_samples: int,
    *,
    bitrate_kbps: int = 64,
    cache: PartCache | None = None,
    segment_keys: Sequence[str] | None = None,
) -> None:
    """Write a CBR mono 44.1 kHz MP3 that decodes to exactly `total_samples` samples, each
    segment (a Segment, or an `(offset, samples)` pair) at its offset and digital zero elsewhere;
    atomically.

    Only the segments are encoded (or taken from `cache`); pauses are silent frames. Tags are
    for the caller to add afterwards (mutagen keeps the Info frame as it is). Parts are found in
    the cache by their segments' keys, when every segment has one (Segment.key, or
    `segment_keys`, one per segment: keys that cover everything that makes the samples, such as
    clip key, gain and limiter), else by their PCM (sha256, about 36 ms for the 12 minutes of
    speech of a 60-minute session).
    """
    destination = Path(destination)
    check_bitrate(bitrate_kbps, str(destination))
    if total_samples <= 0:
        raise ExportError(f"{destination}: the session has no audio to encode")
    try:
        placed = place_parts(
            segments,
            total_samples,
            bitrate_kbps=bitrate_kbps,
            cache=cache,
            segment_keys=segment_keys,
        )
    except ExportError as error:
        raise ExportError(f"{destination}: {error}") from None
    with atomic_path(destination) as temporary, temporary.open("wb") as handle:
        assemble(handle, placed, total_samples, bitrate_kbps=bitrate_kbps)


def place_parts(
    segments: Sequence[SegmentLike],
    total_samples: int,
    *,
    bitrate_kbps: int = 64,
    cache: PartCache | None = None,
    segment_keys: Sequence[str] | None = None,
) -> list[tuple[int, EncodedPart]]:
    """The encoding half of `write_spliced_mp3`: every part and the frame it is laid from, ready
    for `assemble`. For a caller that writes and tags in one temporary file of its own:

        placed = place_parts(segments, total)
        with atomic_path(destination) as temporary:
            with temporary.open("wb") as handle:
                assemble(handle, placed, total)
            ...  # tags with mutagen
    """
    check_bitrate(bitrate_kbps, "segment")
    units = plan_units(segments, total_samples, segment_keys=segment_keys)
    parts = _encoded(units, bitrate_kbps, cache)
    return [(unit.start_frame - part.lead_in, part) for unit, part in zip(units, parts)]


def _encoded(
    units: Sequence[Unit], bitrate_kbps: int, cache: PartCache | None
) -> list[EncodedPart]:
    """Every unit's part: from the cache when it has it, the others encoded in one ffmpeg run."""
    keys = [
        part_key(
            None if unit.content is not None else unit.chunks(),
            lead=unit.lead,
            lead_in=unit.lead_in,
            bitrate_kbps=bitrate_kbps,
            content=unit.content,
        )
        if cache is not None
        else ""
        for unit in units
    ]
    found: list[EncodedPart | None] = [
        cache.get(key) if cache is not None else None for key in keys
    ]
    missing = [index for index, part in enumerate(found) if part is None]
    if missing:
        log.debug("encoding %d of %d speech parts", len(missing), len(units))
        fresh = encode_parts([units[index] for index in missing], bitrate_kbps=bitrate_kbps)
        for index, part in zip(missing, fresh):
            found[index] = part
            if cache is not None:
                cache.put(keys[index], part)
    return [part for part in found if part is not None]


def session_frames(total_samples: int) -> int:
    """Audio frames of a session: the fewest that hold its last sample after the 1,105 delay."""
    return -(-(total_samples + START_OFFSET) // SAMPLES_PER_FRAME)


def assemble(
    handle: BinaryIO,
    placed: Sequence[tuple[int, EncodedPart]],
    total_samples: int,
    *,
    bitrate_kbps: int = 64,
) -> None:
    """Write the Info frame and the audio frames from where `handle` is: each part at its
    frame, silence around.

    `placed` holds (first frame, part) in order, each part ending at least one frame before the
    next begins. Pure assembly: nothing is encoded here. The session's frames are laid out first
    as arrays (every frame's length, which are silent and padded), so the TOC and the music CRC
    come from whole-session numpy steps rather than a few per pause.
    """
    frames = session_frames(total_samples)
    silence = _silence_template(bitrate_kbps)
    info_length = mp3frames.info_frame_header(bitrate_kbps, SAMPLE_RATE).length
    layout = _plan_layout(placed, frames, silence)
    start = handle.tell()  # after the ID3 tag, when the caller wrote one first
    preallocate(handle, start + info_length + layout.stream_bytes)
    handle.write(bytes(info_length))  # the Info frame is written last, once everything is known
    for run in layout.runs:
        if run.part is None:
            _write_silence(handle, silence, run, layout.padded)
        else:
            handle.write(run.part.data if run.count == run.part.frame_count else run.data)
    written = handle.tell() - start - info_length
    if written != layout.stream_bytes:  # the plan and the bytes disagree: never ship that
        raise ExportError(f"assembled {written} audio bytes for {layout.stream_bytes} planned")
    tag = mp3frames.InfoTag(
        frames=frames,
        stream_bytes=info_length + written,
        toc=layout.toc(info_length),
        encoder_delay=mp3frames.ENCODER_DELAY,
        padding=frames * SAMPLES_PER_FRAME - mp3frames.ENCODER_DELAY - total_samples,
        music_crc=layout.music_crc(silence),
        bitrate_kbps=bitrate_kbps,
    )
    handle.seek(start)
    handle.write(
        mp3frames.build_info_frame(tag, bitrate_kbps=bitrate_kbps, sample_rate=SAMPLE_RATE)
    )
    handle.seek(0, os.SEEK_END)


@dataclass(frozen=True)
class _Silence:
    """Silent frames in LAME's padding pattern for one bitrate, ready to be sliced.

    The pattern repeats every `period` frames (147 at 64 kbit/s); `data` holds whole periods, so a
    run of silence is a slice of it (or several), never built anew.
    """

    bitrate_kbps: int
    base: int  # bytes of an unpadded frame
    period: int
    data: bytes
    starts: np.ndarray  # byte offset of each frame in `data`, and the end
    frames: tuple[bytes, bytes]  # an unpadded and a padded silent frame
    header_crcs: tuple[int, int]  # CRC-16 of each one's 4-byte header, from 0

    def target(self, indices: np.ndarray) -> np.ndarray:
        """Bytes before frame `indices` of a LAME stream (the exact constant bitrate)."""
        return indices * self.base + mp3frames.padded_count(
            indices, bitrate_kbps=self.bitrate_kbps, sample_rate=SAMPLE_RATE
        )


@functools.cache
def _silence_template(bitrate_kbps: int) -> _Silence:
    base = 144_000 * bitrate_kbps // SAMPLE_RATE
    fraction = (144_000 * bitrate_kbps) % SAMPLE_RATE
    period = SAMPLE_RATE // math.gcd(fraction, SAMPLE_RATE) if fraction else 1
    repeats = max(1, (1 << 20) // (period * base))  # about a megabyte
    indices = np.arange(period * repeats + 1, dtype=np.int64)
    starts = indices * base + mp3frames.padded_count(
        indices, bitrate_kbps=bitrate_kbps, sample_rate=SAMPLE_RATE
    )
    frames = tuple(
        mp3frames.silent_frame(bitrate_kbps=bitrate_kbps, sample_rate=SAMPLE_RATE, padded=padded)
        for padded in (False, True)
    )
    data = b"".join(frames[int(padded)] for padded in np.diff(starts) - base)
    return _Silence(
        bitrate_kbps=bitrate_kbps,
        base=base,
        period=period,
        data=data,
        starts=starts,
        frames=(frames[0], frames[1]),
        header_crcs=(mp3frames.crc16(frames[0][:4]), mp3frames.crc16(frames[1][:4])),
    )


@dataclass(frozen=True)
class _Run:
    """Frames `first` to `first + count` of the session: a part's first `count` frames (`data`,
    those frames' bytes, when they are fewer than the part's), or silence (`part` None) whose
    first `changed` frames leave LAME's pattern to bring the byte count back onto it."""

    first: int
    count: int
    part: EncodedPart | None = None
    data: mp3frames.Bytes = b""
    changed: int = 0


@dataclass(frozen=True)
class _Layout:
    """Every frame of the session before a byte is written: the runs to write in order, and
    per frame its bytes (a part's all at its first frame, 0 at its others), whether it is
    silent and, for silent frames, whether it is padded."""

    runs: list[_Run]
    lengths: np.ndarray  # bytes of each silent frame; a part's bytes at its first frame
    silent: np.ndarray  # True where a silent frame goes
    padded: np.ndarray  # for silent frames: 1 when padded (other frames: what LAME would do)
    part_ends: list[int]  # audio bytes up to the end of each part
    part_crcs: list[int]

    @property
    def stream_bytes(self) -> int:
        return int(self.lengths.sum())

    def toc(self, info_length: int) -> bytes:
        """Xing TOC: where (in 256ths of the stream) each per cent of the duration starts."""
        frames = self.lengths.size
        wanted = ((np.arange(100, dtype=np.int64) * frames) // 100).tolist()
        starts = np.cumsum(self.lengths) - self.lengths
        parts = [run for run in self.runs if run.part is not None]
        firsts = [run.first for run in parts]
        positions = []
        for frame in wanted:
            if self.silent[frame]:
                positions.append(int(starts[frame]))
                continue
            run = parts[bisect.bisect_right(firsts, frame) - 1]  # the part holding this frame
            assert run.part is not None
            positions.append(
                int(starts[run.first]) + int(run.part.frame_offsets[frame - run.first])
            )
        stream_bytes = info_length + self.stream_bytes
        found = info_length + np.asarray(positions, dtype=np.int64)
        return bytes(np.minimum(255, found * 256 // stream_bytes).astype(np.uint8))

    def music_crc(self, silence: _Silence) -> int:
        """CRC-16 of all audio frames: the CRC is linear, so it is the xor of each part's CRC and
        each silent frame's header CRC, each shifted over the zero bytes that follow it."""
        written = self.stream_bytes
        crc = 0
        if self.part_crcs:
            after = written - np.asarray(self.part_ends, dtype=np.int64)
            shifted = mp3frames.crc16_shift(np.asarray(self.part_crcs, dtype=np.uint32), after)
            crc ^= int(np.bitwise_xor.reduce(shifted))
        ends = np.cumsum(self.lengths)
        positions = (ends - self.lengths)[self.silent]
        after = (written - positions - 4) % mp3frames.CRC_ZERO_PERIOD
        padded = self.padded[self.silent]
        for flag in (0, 1):
            table = mp3frames.crc16_after_zeros(silence.header_crcs[flag])
            crc ^= int(np.bitwise_xor.reduce(table[after[padded == flag]], initial=0))
        return crc


def _plan_layout(
    placed: Sequence[tuple[int, EncodedPart]], frames: int, silence: _Silence
) -> _Layout:
    """Where every part and silent frame goes. Silence follows LAME's padding pattern, except
    that the first frames of a pause are padded or not so that the byte count after the part
    that follows (its own encode started the pattern afresh: a byte or two off) is exactly on
    the constant bitrate again."""
    target = silence.target(np.arange(frames + 1, dtype=np.int64))
    padded = np.diff(target) - silence.base  # LAME's pattern: silent frames start from it
    lengths = silence.base + padded
    silent = np.ones(frames, dtype=bool)
    layout = _Layout([], lengths, silent, padded, [], [])
    written = 0  # audio bytes before `cursor`
    cursor = 0
    previous_end = -1
    for start_frame, part in placed:
        if start_frame < cursor or start_frame <= previous_end:
            raise ValueError("parts overlap or touch: keep one silent frame between them")
        if start_frame >= frames:
            break
        count = min(part.frame_count, frames - start_frame)
        whole = count == part.frame_count
        length = len(part.data) if whole else int(part.frame_offsets[count])
        excess = length - int(target[start_frame + count] - target[start_frame]) if count else 0
        written = _lay_silence(
            layout, target, cursor, start_frame, written=written, excess=excess, base=silence.base
        )
        if count:
            lengths[start_frame] = length
            lengths[start_frame + 1 : start_frame + count] = 0
            silent[start_frame : start_frame + count] = False
            data = b"" if whole else part.data[:length]
            layout.runs.append(_Run(start_frame, count, part=part, data=data))
            written += length
            layout.part_ends.append(written)
            layout.part_crcs.append(
                part.crc
                if whole
                else mp3frames.crc16_frames(data, np.asarray(part.frame_offsets[:count]).tolist())
            )
        cursor = start_frame + count
        previous_end = cursor
    _lay_silence(layout, target, cursor, frames, written=written, excess=0, base=silence.base)
    return layout


def _lay_silence(
    layout: _Layout,
    target: np.ndarray,
    first: int,
    end: int,
    *,
    written: int,
    excess: int,
    base: int,
) -> int:
    """Plan silent frames `first` to `end` (exclusive) into `layout`, `written` audio bytes
    before them and a part `excess` bytes off the pattern after them (see _plan_layout); the
    bytes after them. `target` holds the pattern's byte count before each frame."""
    if end <= first:
        return written
    deviation = written - int(target[first]) + excess  # > 0: ahead of the pattern
    changed = moved = 0
    if deviation:
        flags = layout.padded[first:end]  # a view: flipped in place
        wanted = 1 if deviation > 0 else 0
        flips = np.flatnonzero(flags[:_FLIP_WINDOW] == wanted)[: abs(deviation)]
        if flips.size < abs(deviation):  # rare: a pause of one kind of frame for so long
            flips = np.flatnonzero(flags == wanted)[: abs(deviation)]
        if flips.size:
            flags[flips] ^= 1
            layout.lengths[first + flips] = base + flags[flips]
            changed = int(flips[-1]) + 1
            moved = flips.size if deviation > 0 else -flips.size
    layout.runs.append(_Run(first, end - first, changed=changed))
    return written + int(target[end] - target[first]) - moved


_FLIP_WINDOW = 1024
"""Frames searched first for ones to pad or unpad: LAME's pattern holds both kinds within a few
hundred frames at every bitrate, and a deviation is a byte or two."""


def _write_silence(handle: BinaryIO, silence: _Silence, run: _Run, padded: np.ndarray) -> None:
    """A silent run: its frames off the pattern one by one, the rest as slices of the template."""
    if run.changed:
        flags = padded[run.first : run.first + run.changed].tolist()
        handle.write(b"".join(silence.frames[flag] for flag in flags))
    view = memoryview(silence.data)
    phase = (run.first + run.changed) % silence.period
    remaining = run.count - run.changed
    frames_in_template = silence.starts.size - 1
    while remaining > 0:
        take = min(remaining, frames_in_template - phase)
        handle.write(view[silence.starts[phase] : silence.starts[phase + take]])
        remaining -= take
        phase = 0


# --------------------------------------------------------------------------- the one-pass path


def rewrite_info_tag(path: Path, *, total_samples: int | None = None) -> None:
    """Make an ffmpeg-written MP3's Info frame read right by every reader, in place.

    ffmpeg's muxer signs its LAME tag "Lavc..." and hashes the wrong bytes for its CRC in mono
    files: mutagen (and other readers) then ignore the delay and padding and report the file
    576 + padding samples (25 to 51 ms) too long, and ffmpeg drops the tag's extras.
    This writes LAME's version string (the encoder is its libmp3lame 3.100), marks the stream
    CBR and recomputes the tag CRC; frames, byte count, TOC, delay and music CRC stay as written.

    ffmpeg also caps the padding it writes at 1,681 samples (1152 + 529), while LAME pads up to
    1152 samples more: when the length in samples is 1 to 47 past a multiple of 1152, the file
    then decodes up to 47 samples long. Given `total_samples` (what went in), the padding is
    rewritten to make the decoded length exact. Raises ExportError if the file has no such tag.
    """
    path = Path(path)
    with path.open("r+b") as handle:
        start = mp3frames.id3_size(handle.read(10))
        handle.seek(start)
        try:
            header = mp3frames.parse_header(handle.read(4))
            handle.seek(start)
            frame = bytearray(handle.read(header.length))
            info = mp3frames.parse_info_frame(frame)
        except mp3frames.FrameError as error:
            raise ExportError(f"{path}: no Xing/Info frame to rewrite ({error})") from None
        lame = info.lame_offset
        frame[lame : lame + 9] = mp3frames.LAME_VERSION
        if info.kind == b"Info":
            frame[lame + 9] = (frame[lame + 9] & 0xF0) | 1  # VBR method: constant bitrate
            if frame[lame + 20] == 0:
                frame[lame + 20] = min(255, header.bitrate_kbps)
        if total_samples is not None:
            padding = info.frames * SAMPLES_PER_FRAME - info.encoder_delay - total_samples
            if not 0 <= padding < 4096:
                raise ExportError(
                    f"{path}: {total_samples} samples do not fit its {info.frames} frames"
                )
            frame[lame + 21 : lame + 24] = ((info.encoder_delay << 12) | padding).to_bytes(3, "big")
        frame[lame + 34 : lame + 36] = struct.pack(">H", mp3frames.crc16(frame[: lame + 34]))
        handle.seek(start)
        handle.write(frame)


# --------------------------------------------------------------------------- cache on disk

_PART_MAGIC = b"RUSTPUNT-MP3PART-3\n"
"""3: checked by CRC-32 rather than SHA-256 (a part is read on every build, and a 60-minute
session's parts are 12 MB: 2.8 ms against 6.6). 2: the frame offsets as uint32 after the header
line, not a JSON list (parsed 4x faster). Older parts are never asked for: their keys named
the encoder by running it."""


class MemoryPartCache:
    """Parts kept for the life of one process (an editor session, a benchmark), optionally in
    front of another cache (`behind`: read from it once, written through to it) and up to
    `limit_bytes` of encoded speech (the part used longest ago goes first).

    `rustpunt build --watch` keeps a 60-minute session's 12 MB of parts this way, so a rebuild
    reads none from disk. A part never changes once made (its key names what it is made of), so
    a kept one is always right, even after the folder behind it was cleared."""

    def __init__(self, behind: PartCache | None = None, *, limit_bytes: int | None = None) -> None:
        self.behind = behind
        self.limit_bytes = limit_bytes
        self._parts: dict[str, EncodedPart] = {}
        self._bytes = 0

    def get(self, key: str) -> EncodedPart | None:
        part = self._parts.pop(key, None)
        if part is None:
            part = self.behind.get(key) if self.behind is not None else None
            if part is None:
                return None
            self._bytes += len(part.data)
        self._parts[key] = part  # the newest now: used most recently
        self._trim()
        return part

    def put(self, key: str, part: EncodedPart) -> None:
        if self.behind is not None:
            self.behind.put(key, part)
        old = self._parts.pop(key, None)
        self._bytes += len(part.data) - (len(old.data) if old is not None else 0)
        self._parts[key] = part
        self._trim()

    def _trim(self) -> None:
        while self.limit_bytes is not None and self._bytes > self.limit_bytes and self._parts:
            oldest = next(iter(self._parts))
            self._bytes -= len(self._parts.pop(oldest).data)

    def __len__(self) -> int:
        return len(self._parts)


class DirectoryPartCache:
    """Encoded parts as files under `root` (e.g. the clip cache's folder + "/mp3"), each with a
    checksum: a damaged entry is removed and encoded again, never spliced into a session."""

    def __init__(self, root: Path, remote: RemoteCache | None = None) -> None:
        self.root = Path(root)
        self._folder = os.fspath(self.root)
        self.remote = remote
        """A second level (rustpunt.remote): asked on a local miss, told of every part made."""

    def _path(self, key: str) -> str:
        return os.path.join(self._folder, key[:2], f"{key}.mp3part")

    def get(self, key: str) -> EncodedPart | None:
        path = self._path(key)
        try:  # one read of the size the file has: a plain read() reads twice and resizes
            handle = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            try:
                blob = os.read(handle, os.fstat(handle).st_size)
            finally:
                os.close(handle)
        except OSError:
            return self._fetch(key) if self.remote is not None else None
        part = _decode_part(blob)
        if part is None:
            with contextlib.suppress(OSError):
                os.unlink(path)
        return part

    def _fetch(self, key: str) -> EncodedPart | None:
        assert self.remote is not None
        blob = self.remote.fetch("mp3parts", key, ".mp3part", lambda b: _decode_part(b) is not None)
        if blob is None:
            return None
        with contextlib.suppress(OSError):  # kept locally too; a full disk only costs a fetch
            write_bytes_atomic(Path(self._path(key)), blob)
        return _decode_part(blob)

    def put(self, key: str, part: EncodedPart) -> None:
        """Written piece by piece, never joined first: a part of gapless speech can be as long
        as the session, and a joined copy would be two more of it in memory."""
        offsets = np.asarray(part.frame_offsets, dtype="<u4").tobytes()
        header: dict[str, Any] = {
            "frames": part.frame_count,
            "lead": part.lead,
            "lead_in": part.lead_in,
            "bitrate_kbps": part.bitrate_kbps,
            "crc": part.crc,
            "offsets_bytes": len(offsets),
            "body_bytes": len(offsets) + len(part.data),
            "crc32": zlib.crc32(part.data, zlib.crc32(offsets)),
        }
        first = _PART_MAGIC + json.dumps(header).encode() + b"\n"
        with atomic_path(Path(self._path(key))) as temporary, temporary.open("wb") as handle:
            for piece in (first, offsets, part.data):
                handle.write(piece)
        if self.remote is not None:
            self.remote.store("mp3parts", key, ".mp3part", first + offsets + bytes(part.data))


def _decode_part(blob: bytes) -> EncodedPart | None:
    """A part from its file: the header line, the frame offsets (uint32), the frames. The
    frames stay a view of `blob`: a session's parts are laid without being copied again."""
    if not blob.startswith(_PART_MAGIC):
        return None
    line_end = blob.find(b"\n", len(_PART_MAGIC))
    if line_end < 0:
        return None
    try:
        header = json.loads(blob[len(_PART_MAGIC) : line_end])
        body = memoryview(blob)[line_end + 1 :]
        if len(body) != int(header["body_bytes"]) or zlib.crc32(body) != header["crc32"]:
            return None
        split = int(header["offsets_bytes"])
        offsets = np.frombuffer(body[:split], dtype="<u4")
        if offsets.size != int(header["frames"]):
            return None
        return EncodedPart(
            data=body[split:],
            frame_count=int(header["frames"]),
            lead=int(header["lead"]),
            lead_in=int(header["lead_in"]),
            bitrate_kbps=int(header["bitrate_kbps"]),
            frame_offsets=offsets,
            crc=int(header["crc"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- helpers


def check_bitrate(bitrate_kbps: int, shown: Path | str) -> None:
    """A constant bitrate MPEG-1 Layer III allows at 44.1 kHz (ffmpeg silently clamps others)."""
    if bitrate_kbps not in MP3_BITRATES_KBPS:
        allowed = ", ".join(str(rate) for rate in MP3_BITRATES_KBPS)
        raise ExportError(
            f"{shown}: {bitrate_kbps!r} kbit/s is not an MP3 bitrate at 44.1 kHz; "
            f"choose one of {allowed}"
        )


__all__ = [
    "DirectoryPartCache",
    "EncodedPart",
    "MemoryPartCache",
    "PartCache",
    "Segment",
    "SegmentLike",
    "Unit",
    "as_segments",
    "assemble",
    "encode_part",
    "encode_parts",
    "encoder_version",
    "part_key",
    "place_parts",
    "plan_units",
    "rewrite_info_tag",
    "session_frames",
    "write_spliced_mp3",
]
