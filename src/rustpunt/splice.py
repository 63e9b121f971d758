"""The spliced MP3 writer: encode only the speech, lay the pauses as ready-made silent frames.

A guided session is mostly silence, and a silent MP3 frame is always the same bytes. So each
speech segment is encoded on its own (LAME through `lameenc`, in process), with just enough
leading zeros that it starts on a frame boundary, and the frames between segments are copied in.
The result decodes to exactly `total_samples` samples, every segment at its sample offset and
digital zero elsewhere, and a pause-only edit that moves segments by whole frames is pure assembly.

Why it is exact:

- LAME delays its input by 576 samples and decoders by 529 more: input sample i is decoded at
  i + 1105 in a stream of frames of 1152 samples. A segment at session offset o is encoded with
  `lead = o % 1152` zeros in front, so its first frame is frame o // 1152 of the session and its
  first sample lands at o + 1105, as in a one-pass encode. The Info frame's LAME tag tells every
  decoder to skip 1105 samples and trim the padding at the end.
- A frame that carries no spectral values decodes to zero, and after one such frame the decoder
  has nothing left of the past (the 576-sample overlap and the synthesis filter are both zero).
  A segment's frames are cut after its last frame with spectral values; its own encode continues
  with silent frames there, just like the session does. Segments closer than that are encoded
  together as one part.
- The first frame of every part is the first frame of its own encode, so its main_data_begin is 0:
  no frame reaches back into the bit reservoir across a join (checked for every part).
- Silent frames take LAME's padding pattern (208 or 209 bytes at 64 kbit/s): the byte count
  after every pause is back on the exact constant bitrate, so players' CBR seeking lands right.

Re-timing: a part is cached under its PCM, its lead (the sub-frame offset), the bitrate and the
encoder. A segment that moves by a whole number of frames (multiples of 1152 samples, 26.1 ms)
keeps its lead and is pure assembly; one that moves by anything else is re-encoded, so placement
stays exact to the sample (this module never rounds an offset).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from rustpunt import mp3frames
from rustpunt.audio import SAMPLE_RATE
from rustpunt.errors import ExportError
from rustpunt.files import atomic_path, write_bytes_atomic
from rustpunt.mp3frames import SAMPLES_PER_FRAME, START_OFFSET

log = logging.getLogger(__name__)

MP3_BITRATES_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
"""The constant bitrates MPEG-1 Layer III allows at 44.1 kHz."""

LAME_QUALITY = 3
"""LAME's own default (what ffmpeg's libmp3lame uses when not told): the one-pass quality."""

TAIL_SAMPLES = SAMPLES_PER_FRAME
"""Zeros after a segment: enough that LAME's last frames carry nothing (checked, and doubled if
ever not)."""

REACH_MARGIN = SAMPLES_PER_FRAME
"""How far past a segment's last decoded sample its frames may still carry spectral values: the
planner keeps parts whose reach is closer than this plus one silent frame in one encode. The
encoded parts are checked against it."""


@dataclass(frozen=True)
class EncodedPart:
    """Speech encoded into whole frames, to be laid at a frame index of a session.

    `lead` zeros precede the first sample, so the part's first frame is frame
    (offset - lead) / 1152 of the session. The frames after `frame_count` are silent in the
    part's own encode and are left out.
    """

    data: bytes
    frame_count: int
    lead: int
    bitrate_kbps: int
    frame_offsets: tuple[int, ...]  # where each frame starts in `data`
    crc: int  # CRC-16/ARC of `data`, from 0: the LAME tag's music CRC is combined from these


class PartCache(Protocol):
    """Where encoded parts are kept between builds (see `DirectoryPartCache`)."""

    def get(self, key: str) -> EncodedPart | None: ...

    def put(self, key: str, part: EncodedPart) -> None: ...


def encoder_version() -> str:
    """The encoder as it goes into cache keys: a new lameenc (or LAME) misses the old parts."""
    from importlib.metadata import version

    return f"lameenc {version('lameenc')} q{LAME_QUALITY}"


def part_key(samples: np.ndarray, *, lead: int, bitrate_kbps: int) -> str:
    """Content address of an encoded part: the PCM itself, the lead, the bitrate, the encoder."""
    digest = hashlib.sha256()
    digest.update(f"{encoder_version()}|{bitrate_kbps}|{lead}|{SAMPLE_RATE}|".encode())
    digest.update(np.ascontiguousarray(samples, dtype="<i2").data)
    return digest.hexdigest()


# --------------------------------------------------------------------------- encoding


def _lame(samples: np.ndarray, bitrate_kbps: int) -> bytes:
    try:
        import lameenc
    except ImportError:
        raise ExportError(
            "the MP3 encoder lameenc is not installed; reinstall rustpunt (`pip install rustpunt`)"
        ) from None
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate_kbps)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_out_sample_rate(SAMPLE_RATE)  # else LAME may resample low bitrates
    encoder.set_channels(1)
    encoder.set_quality(LAME_QUALITY)
    pcm = np.ascontiguousarray(samples, dtype="<i2").tobytes()
    return bytes(encoder.encode(pcm)) + bytes(encoder.flush())


def encode_part(samples: np.ndarray, *, lead: int, bitrate_kbps: int = 64) -> EncodedPart:
    """Encode one speech segment (int16 mono 44.1 kHz) that starts `lead` samples into a frame.

    Returns its frames up to the last one with spectral values. Raises ExportError if the encoder
    breaks the splicing rules (a first frame that borrows from the reservoir, a tail that is cut).
    """
    if not 0 <= lead < SAMPLES_PER_FRAME:
        raise ValueError(f"lead must be 0 to {SAMPLES_PER_FRAME - 1} samples, got {lead}")
    _check_bitrate(bitrate_kbps, "segment")
    samples = _pcm(samples)
    tail = TAIL_SAMPLES
    while True:
        padded = np.concatenate([np.zeros(lead, "<i2"), samples, np.zeros(tail, "<i2")])
        data = _lame(padded, bitrate_kbps)
        offsets = mp3frames.frame_offsets(data)
        side = [mp3frames.parse_side_info(data, offset) for offset in offsets]
        if side and side[-1].silent:
            break
        if tail > 8 * SAMPLES_PER_FRAME:
            raise ExportError("the MP3 encoder left sound in its last frame; report this bug")
        tail *= 2
    if side[0].main_data_begin != 0:
        raise ExportError(
            f"the MP3 encoder's first frame borrows {side[0].main_data_begin} bytes from before "
            "the stream (main_data_begin); report this bug"
        )
    sounding = [index for index, info in enumerate(side) if not info.silent]
    count = sounding[-1] + 1 if sounding else 0
    reach = -(-(lead + samples.size + START_OFFSET + REACH_MARGIN) // SAMPLES_PER_FRAME)
    if count > reach:
        raise ExportError(
            f"an encoded segment sounds for {count} frames, more than the {reach} planned; "
            "report this bug"
        )
    end = offsets[count] if count < len(offsets) else len(data)
    kept = data[:end]
    kept_offsets = offsets[:count]
    return EncodedPart(
        data=kept,
        frame_count=count,
        lead=lead,
        bitrate_kbps=bitrate_kbps,
        frame_offsets=tuple(kept_offsets),
        crc=mp3frames.crc16_frames(kept, kept_offsets),
    )


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class _Unit:
    """Segments close enough to share frames, encoded together from `start_frame`."""

    start_frame: int
    lead: int
    samples: np.ndarray


def _reach_frame(offset: int, length: int) -> int:
    """The first frame after the last one a segment's encode can make sound (exclusive)."""
    return -(-(offset + length + START_OFFSET + REACH_MARGIN) // SAMPLES_PER_FRAME)


def plan_units(segments: Sequence[tuple[int, np.ndarray]], total_samples: int) -> list[_Unit]:
    """Group segments into parts: each part starts on its first segment's frame and ends at least
    one silent frame before the next part starts; overlapping segments are summed."""
    ordered = sorted(
        ((int(offset), _pcm(samples)) for offset, samples in segments), key=lambda item: item[0]
    )
    groups: list[list[tuple[int, np.ndarray]]] = []
    group_reach = 0
    for offset, samples in ordered:
        if offset < 0 or offset + samples.size > total_samples:
            raise ValueError(
                f"a segment of {samples.size} samples at {offset} does not fit in "
                f"{total_samples} samples"
            )
        if samples.size == 0:
            continue
        start_frame = offset // SAMPLES_PER_FRAME
        if groups and start_frame <= group_reach:  # needs a silent frame in between
            groups[-1].append((offset, samples))
            group_reach = max(group_reach, _reach_frame(offset, samples.size))
        else:
            groups.append([(offset, samples)])
            group_reach = _reach_frame(offset, samples.size)
    units = []
    for group in groups:
        first = group[0][0]
        if len(group) == 1:
            pcm = group[0][1]
        else:
            end = max(offset + samples.size for offset, samples in group)
            mixed = np.zeros(end - first, dtype=np.int32)
            for offset, samples in group:
                mixed[offset - first : offset - first + samples.size] += samples
            pcm = np.clip(mixed, -32768, 32767).astype("<i2")
        units.append(
            _Unit(
                start_frame=first // SAMPLES_PER_FRAME,
                lead=first % SAMPLES_PER_FRAME,
                samples=pcm,
            )
        )
    return units


# --------------------------------------------------------------------------- assembly


@dataclass(frozen=True)
class _Piece:
    """A stretch of the audio frames: an encoded part, or a run of silent frames."""

    first_frame: int
    byte_start: int  # from the first audio frame
    offsets: np.ndarray  # frame starts within the piece
    length: int
    crc: int


def write_spliced_mp3(
    destination: Path,
    segments: Sequence[tuple[int, np.ndarray]],
    total_samples: int,
    *,
    bitrate_kbps: int = 64,
    cache: PartCache | None = None,
) -> None:
    """Write a CBR mono 44.1 kHz MP3 that decodes to exactly `total_samples` samples, each
    `(offset, samples)` segment at its offset and digital zero elsewhere; atomically.

    Only the segments are encoded (or taken from `cache`); pauses are silent frames. Tags are
    for the caller to add afterwards (mutagen keeps the Info frame as it is).
    """
    destination = Path(destination)
    _check_bitrate(bitrate_kbps, str(destination))
    if total_samples <= 0:
        raise ExportError(f"{destination}: the session has no audio to encode")
    units = plan_units(segments, total_samples)
    parts = [_encoded(unit, bitrate_kbps, cache) for unit in units]
    placed = [(unit.start_frame, part) for unit, part in zip(units, parts)]
    with atomic_path(destination) as temporary, temporary.open("wb") as handle:
        assemble(handle, placed, total_samples, bitrate_kbps=bitrate_kbps)


def _encoded(unit: _Unit, bitrate_kbps: int, cache: PartCache | None) -> EncodedPart:
    if cache is None:
        return encode_part(unit.samples, lead=unit.lead, bitrate_kbps=bitrate_kbps)
    key = part_key(unit.samples, lead=unit.lead, bitrate_kbps=bitrate_kbps)
    part = cache.get(key)
    if part is None or part.lead != unit.lead or part.bitrate_kbps != bitrate_kbps:
        part = encode_part(unit.samples, lead=unit.lead, bitrate_kbps=bitrate_kbps)
        cache.put(key, part)
    return part


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
    """Write the Info frame and the audio frames: each part at its frame, silence around.

    `placed` holds (first frame, part) in order, each part ending at least one frame before the
    next begins. Pure assembly: nothing is encoded here.
    """
    rate = SAMPLE_RATE
    frames = session_frames(total_samples)
    base = 144_000 * bitrate_kbps // rate
    info_length = mp3frames.info_frame_header(bitrate_kbps, rate).length
    handle.write(bytes(info_length))  # the Info frame is written last, once everything is known
    headers = np.array(
        [
            int.from_bytes(
                mp3frames.header_bytes(bitrate_kbps=bitrate_kbps, sample_rate=rate, padded=p),
                "big",
            )
            for p in (False, True)
        ],
        dtype=np.uint32,
    )
    pieces: list[_Piece] = []
    cursor = 0  # next frame index
    written = 0  # audio bytes so far
    previous_end = -1
    for start_frame, part in placed:
        if start_frame < cursor or start_frame <= previous_end:
            raise ValueError("parts overlap or touch: keep one silent frame between them")
        if start_frame >= frames:
            break
        written = _silence(
            handle, pieces, cursor, start_frame, written, headers, base, bitrate_kbps
        )
        count = min(part.frame_count, frames - start_frame)
        if count:
            end = part.frame_offsets[count] if count < part.frame_count else len(part.data)
            data = part.data[:end] if count < part.frame_count else part.data
            crc = (
                part.crc
                if count == part.frame_count
                else mp3frames.crc16_frames(data, list(part.frame_offsets[:count]))
            )
            handle.write(data)
            pieces.append(
                _Piece(
                    first_frame=start_frame,
                    byte_start=written,
                    offsets=np.asarray(part.frame_offsets[:count], dtype=np.int64),
                    length=len(data),
                    crc=crc,
                )
            )
            written += len(data)
        cursor = start_frame + count
        previous_end = cursor
    written = _silence(handle, pieces, cursor, frames, written, headers, base, bitrate_kbps)

    music_crc = 0
    for piece in pieces:
        music_crc = mp3frames.crc16_combine(music_crc, piece.crc, piece.length)
    stream_bytes = info_length + written
    starts = np.array([piece.first_frame for piece in pieces], dtype=np.int64)
    wanted = (np.arange(100, dtype=np.int64) * frames) // 100
    which = np.searchsorted(starts, wanted, side="right") - 1
    positions = np.array(
        [
            info_length + pieces[w].byte_start + pieces[w].offsets[f - pieces[w].first_frame]
            for w, f in zip(which.tolist(), wanted.tolist())
        ],
        dtype=np.int64,
    )
    toc = bytes(np.minimum(255, positions * 256 // stream_bytes).astype(np.uint8))
    tag = mp3frames.InfoTag(
        frames=frames,
        stream_bytes=stream_bytes,
        toc=toc,
        encoder_delay=mp3frames.ENCODER_DELAY,
        padding=frames * SAMPLES_PER_FRAME - mp3frames.ENCODER_DELAY - total_samples,
        music_crc=music_crc,
        bitrate_kbps=bitrate_kbps,
    )
    handle.seek(0)
    handle.write(mp3frames.build_info_frame(tag, bitrate_kbps=bitrate_kbps, sample_rate=rate))
    handle.seek(0, os.SEEK_END)


def _silence(
    handle: BinaryIO,
    pieces: list[_Piece],
    first: int,
    end: int,
    written: int,
    headers: np.ndarray,
    base: int,
    bitrate_kbps: int,
) -> int:
    """Write silent frames `first` to `end` (exclusive); their padding brings the byte count back
    onto LAME's pattern (parts start the pattern afresh and may be a byte or two off)."""
    count = end - first
    if count <= 0:
        return written
    indices = np.arange(first, end + 1, dtype=np.int64)
    target = indices * base + mp3frames.padded_count(
        indices, bitrate_kbps=bitrate_kbps, sample_rate=SAMPLE_RATE
    )
    padded = np.diff(target).astype(np.int64) - base  # LAME's own pattern over this run
    deviation = written - int(target[0])  # > 0: ahead of the pattern
    if deviation > 0:
        ones = np.flatnonzero(padded == 1)[:deviation]
        padded[ones] = 0
    elif deviation < 0:
        zeros = np.flatnonzero(padded == 0)[:-deviation]
        padded[zeros] = 1
    lengths = base + padded
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    run = np.zeros(int(lengths.sum()), dtype=np.uint8)
    words = headers[padded]
    for byte, shift in enumerate((24, 16, 8, 0)):
        run[starts + byte] = (words >> shift) & 0xFF
    handle.write(run.data)
    pieces.append(
        _Piece(
            first_frame=first,
            byte_start=written,
            offsets=starts,
            length=run.size,
            crc=mp3frames.crc16_silent_run(words, lengths),
        )
    )
    return written + run.size


# --------------------------------------------------------------------------- the one-pass path


def rewrite_info_tag(path: Path) -> None:
    """Make an ffmpeg-written MP3's Info frame readable by every reader, in place.

    ffmpeg's muxer signs its LAME tag "Lavc..." and hashes the wrong bytes for its CRC in mono
    files; mutagen (and other readers) then ignore the delay and padding and report the file
    about 37 ms too long, and ffmpeg itself drops the tag's extras. This writes LAME's version
    string (the encoder is libmp3lame 3.100), marks the stream CBR and recomputes the tag CRC.
    Frames, byte count, TOC, delay, padding and music CRC are kept as ffmpeg wrote them.
    """
    path = Path(path)
    with path.open("r+b") as handle:
        start = _id3_size(handle.read(10))
        handle.seek(start)
        head = handle.read(4)
        header = mp3frames.parse_header(head)
        handle.seek(start)
        frame = bytearray(handle.read(header.length))
        info = mp3frames.parse_info_frame(frame)
        lame = info.lame_offset
        frame[lame : lame + 9] = mp3frames.LAME_VERSION
        if info.kind == b"Info":
            frame[lame + 9] = (frame[lame + 9] & 0xF0) | 1  # VBR method: constant bitrate
            if frame[lame + 20] == 0:
                frame[lame + 20] = min(255, header.bitrate_kbps)
        frame[lame + 34 : lame + 36] = struct.pack(">H", mp3frames.crc16(frame[: lame + 34]))
        handle.seek(start)
        handle.write(frame)


def _id3_size(head: bytes) -> int:
    if len(head) == 10 and head[:3] == b"ID3":
        size = 0
        for byte in head[6:10]:
            size = (size << 7) | (byte & 0x7F)
        return 10 + size + (10 if head[5] & 0x10 else 0)
    return 0


# --------------------------------------------------------------------------- cache on disk

_PART_MAGIC = b"RUSTPUNT-MP3PART-1\n"


class MemoryPartCache:
    """Parts kept for the life of one process (an editor session, a benchmark)."""

    def __init__(self) -> None:
        self._parts: dict[str, EncodedPart] = {}

    def get(self, key: str) -> EncodedPart | None:
        return self._parts.get(key)

    def put(self, key: str, part: EncodedPart) -> None:
        self._parts[key] = part

    def __len__(self) -> int:
        return len(self._parts)


class DirectoryPartCache:
    """Encoded parts as files under `root` (e.g. the clip cache's folder + "/mp3"), each with a
    checksum: a damaged entry is removed and encoded again, never spliced into a session."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.mp3part"

    def get(self, key: str) -> EncodedPart | None:
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        part = _decode_part(blob)
        if part is None:
            with contextlib.suppress(OSError):
                path.unlink()
        return part

    def put(self, key: str, part: EncodedPart) -> None:
        header: dict[str, Any] = {
            "frames": part.frame_count,
            "lead": part.lead,
            "bitrate_kbps": part.bitrate_kbps,
            "crc": part.crc,
            "offsets": list(part.frame_offsets),
            "sha256": hashlib.sha256(part.data).hexdigest(),
        }
        blob = _PART_MAGIC + json.dumps(header).encode() + b"\n" + part.data
        write_bytes_atomic(self._path(key), blob)


def _decode_part(blob: bytes) -> EncodedPart | None:
    if not blob.startswith(_PART_MAGIC):
        return None
    line_end = blob.find(b"\n", len(_PART_MAGIC))
    if line_end < 0:
        return None
    try:
        header = json.loads(blob[len(_PART_MAGIC) : line_end])
        data = blob[line_end + 1 :]
        if hashlib.sha256(data).hexdigest() != header["sha256"]:
            return None
        return EncodedPart(
            data=data,
            frame_count=int(header["frames"]),
            lead=int(header["lead"]),
            bitrate_kbps=int(header["bitrate_kbps"]),
            frame_offsets=tuple(int(offset) for offset in header["offsets"]),
            crc=int(header["crc"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- helpers


def _check_bitrate(bitrate_kbps: int, shown: str) -> None:
    if bitrate_kbps not in MP3_BITRATES_KBPS:
        allowed = ", ".join(str(rate) for rate in MP3_BITRATES_KBPS)
        raise ExportError(
            f"{shown}: {bitrate_kbps!r} kbit/s is not an MP3 bitrate at 44.1 kHz; "
            f"choose one of {allowed}"
        )


def _pcm(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim != 1 or samples.dtype.kind != "i" or samples.dtype.itemsize != 2:
        raise ValueError(
            f"segments must be one-dimensional int16 arrays (mono), got {samples.dtype} "
            f"with shape {samples.shape}"
        )
    return np.ascontiguousarray(samples, dtype="<i2")


__all__ = [
    "DirectoryPartCache",
    "EncodedPart",
    "MemoryPartCache",
    "PartCache",
    "assemble",
    "encode_part",
    "encoder_version",
    "part_key",
    "plan_units",
    "rewrite_info_tag",
    "session_frames",
    "write_spliced_mp3",
]
