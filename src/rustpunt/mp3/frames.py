"""MPEG-1 Layer III frames as bytes: headers, the side info that matters for splicing, silent
frames, LAME's padding pattern, the CRC-16 that LAME and ffmpeg use, and the Xing/Info frame with
its LAME tag.

Only what rustpunt writes is supported: MPEG-1 Layer III (32, 44.1 or 48 kHz), no CRC protection,
mono or stereo side info. Field layouts follow the LAME tag specification (Gabriel Bouvigne's
"Mp3 Info Tag rev 1") as LAME 3.100 writes it and as ffmpeg's mp3 demuxer and mutagen read it:

- The encoder version must start with "LAME": mutagen (`mutagen/mp3/_util.py`,
  `LAMEHeader.parse_version`) reads the delay and padding only then, and otherwise reports the
  file 576 + padding samples (25 to 51 ms) too long: what ffmpeg's own "Lavc" tag gets.
- The tag CRC covers every byte of the frame before the CRC field (175 bytes for mono). That is
  what LAME writes and what ffmpeg's demuxer checks; ffmpeg's muxer always hashes 190 bytes, which
  is only right for stereo, so ffmpeg rejects its own mono tags (it then shows no "encoder").
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np

Bytes: TypeAlias = bytes | bytearray | memoryview
"""Anything frames can be read from."""

SAMPLES_PER_FRAME = 1152
"""An MPEG-1 Layer III frame holds 1152 samples per channel."""

ENCODER_DELAY = 576
"""Samples of encoder delay LAME writes in its tag: the first input sample is decoded at
ENCODER_DELAY + DECODER_DELAY, which decoders skip when they read the tag."""

DECODER_DELAY = 529
"""The decoder's own delay (528 + 1 in ffmpeg, mpg123 and LAME's own --decode)."""

START_OFFSET = ENCODER_DELAY + DECODER_DELAY
"""1,105: where the first input sample lands in the decoded stream before the tag's trimming."""

BITRATES_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
"""MPEG-1 Layer III bitrates by header index (0 is 'free format', never written here)."""

SAMPLE_RATES = (44_100, 48_000, 32_000)
"""MPEG-1 sample rates by header index."""

_SIDE_INFO_BYTES = {1: 17, 2: 32}
_XING_FLAGS = 0x0F  # frames, bytes, TOC and quality fields are all present
_TOC_ENTRIES = 100
LAME_VERSION = b"LAME3.100"
"""Nine bytes, as LAME 3.100 writes them: the libmp3lame both encoders here are built from."""


class FrameError(ValueError):
    """Bytes that are not the MPEG-1 Layer III frames this module writes."""


@dataclass(frozen=True)
class FrameHeader:
    """The 32-bit header every MP3 frame starts with (MPEG-1 Layer III only)."""

    bitrate_kbps: int
    sample_rate: int
    padded: bool
    channels: int
    protected: bool  # a 16-bit CRC follows the header

    @property
    def length(self) -> int:
        """Bytes in the frame, header included."""
        return 144_000 * self.bitrate_kbps // self.sample_rate + int(self.padded)

    @property
    def side_info_offset(self) -> int:
        return 6 if self.protected else 4

    @property
    def side_info_bytes(self) -> int:
        return _SIDE_INFO_BYTES[self.channels]


def id3_size(head: Bytes) -> int:
    """Bytes an ID3v2 tag takes at the start of a file, from its 10-byte header (its size is
    syncsafe: 7 bits a byte; a footer adds 10); 0 when the file starts with no tag."""
    if len(head) < 10 or bytes(head[:3]) != b"ID3":
        return 0
    size = 0
    for byte in head[6:10]:
        size = (size << 7) | (byte & 0x7F)
    return 10 + size + (10 if head[5] & 0x10 else 0)


def parse_header(data: Bytes, offset: int = 0) -> FrameHeader:
    """The header at `offset`; FrameError when it is not MPEG-1 Layer III."""
    if offset + 4 > len(data):
        raise FrameError(f"no frame header at byte {offset}: the data ends")
    (word,) = struct.unpack_from(">I", data, offset)
    if word >> 21 != 0x7FF:
        raise FrameError(f"no frame sync at byte {offset}")
    if (word >> 19) & 3 != 3 or (word >> 17) & 3 != 1:
        raise FrameError(f"the frame at byte {offset} is not MPEG-1 Layer III")
    bitrate_index = (word >> 12) & 0xF
    rate_index = (word >> 10) & 3
    if bitrate_index in (0, 15) or rate_index == 3:
        raise FrameError(f"the frame at byte {offset} has a free or invalid bitrate or sample rate")
    return FrameHeader(
        bitrate_kbps=BITRATES_KBPS[bitrate_index],
        sample_rate=SAMPLE_RATES[rate_index],
        padded=bool((word >> 9) & 1),
        channels=1 if (word >> 6) & 3 == 3 else 2,
        protected=not (word >> 16) & 1,
    )


def header_bytes(*, bitrate_kbps: int, sample_rate: int, padded: bool) -> bytes:
    """A mono, unprotected MPEG-1 Layer III header, marked 'original' as LAME marks its frames."""
    word = 0xFFE0_0000 | (3 << 19) | (1 << 17) | (1 << 16)
    word |= BITRATES_KBPS.index(bitrate_kbps) << 12
    word |= SAMPLE_RATES.index(sample_rate) << 10
    word |= int(padded) << 9
    word |= 3 << 6  # mono
    word |= 1 << 2  # original
    return struct.pack(">I", word)


_LENGTHS = {
    (bitrate_index, rate_index): 144_000 * BITRATES_KBPS[bitrate_index] // SAMPLE_RATES[rate_index]
    for bitrate_index in range(1, 15)
    for rate_index in range(3)
}


def frame_offsets(data: Bytes) -> list[int]:
    """The byte offset of every frame in `data`, which must be frames only, back to back."""
    offsets, position = whole_frames(data)
    if position != len(data):
        raise FrameError(
            f"the last frame is cut short ({len(data)} bytes, frame ends at {position})"
        )
    return offsets


def whole_frames(data: Bytes) -> tuple[list[int], int]:
    """The byte offset of every whole frame at the start of `data` (frames only, back to back),
    and where the first frame `data` holds only part of begins: a stream read a piece at a
    time."""
    offsets = []
    position = 0
    end = len(data)
    lengths = _LENGTHS
    while position + 4 <= end:
        if data[position] != 0xFF or data[position + 1] & 0xFE != 0xFA:
            parse_header(data, position)  # says what is wrong
            raise FrameError(f"the frame at byte {position} is not MPEG-1 Layer III")
        flags = data[position + 2]
        length = lengths.get((flags >> 4, (flags >> 2) & 3))
        if length is None:
            parse_header(data, position)
            raise FrameError(f"the frame at byte {position} has an invalid bitrate")
        length += (flags >> 1) & 1
        if position + length > end:
            break
        offsets.append(position)
        position += length
    return offsets, position


def mono_side_info(
    data: Bytes, offsets: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """main_data_begin and "carries nothing" for many mono frames at once (numpy).

    The per-frame `parse_side_info` reads the same fields; this is the fast path for a stream.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    starts = np.asarray(offsets, dtype=np.int64)
    if starts.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    if np.any(buffer[starts + 3] >> 6 != 3):
        raise FrameError("mono_side_info reads mono frames only")
    starts = starts + 4 + 2 * (1 - (buffer[starts + 1] & 1)).astype(np.int64)  # CRC after header

    def side(index: int) -> np.ndarray:  # one byte of every frame's side info: a column at a
        return buffer[starts + index].astype(np.int64)  # time, not a frames x 12 table (18 MB
        # for 40 minutes of speech, twice: the table and its index)

    main_data_begin = (side(0) << 1) | (side(1) >> 7)
    granule0 = (((side(2) << 8) | side(3)) >> 2) & 0xFFF  # bits 18-29
    granule1 = (((side(9) << 16) | (side(10) << 8) | side(11)) >> 7) & 0xFFF  # 77-88
    return main_data_begin, (granule0 == 0) & (granule1 == 0)


@dataclass(frozen=True)
class SideInfo:
    """What splicing needs from a frame's side info."""

    main_data_begin: int
    """Bytes of this frame's main data that sit in earlier frames (the bit reservoir)."""
    part2_3_lengths: tuple[int, ...]
    """Bits of scale factors and Huffman data per granule and channel: all zero means the frame
    carries no spectral values at all and decodes to silence (after the previous frame's tail)."""

    @property
    def silent(self) -> bool:
        return not any(self.part2_3_lengths)


def parse_side_info(data: Bytes, offset: int = 0) -> SideInfo:
    header = parse_header(data, offset)
    start = offset + header.side_info_offset
    bits = int.from_bytes(bytes(data[start : start + header.side_info_bytes]), "big")
    size = header.side_info_bytes * 8
    main_data_begin = bits >> (size - 9)
    private_bits, scfsi_bits = (5, 4) if header.channels == 1 else (3, 8)
    position = 9 + private_bits + scfsi_bits  # first granule's part2_3_length, from the top
    lengths = []
    for _ in range(2 * header.channels):  # two granules per frame, each with every channel
        lengths.append((bits >> (size - position - 12)) & 0xFFF)
        position += 59
    return SideInfo(main_data_begin=main_data_begin, part2_3_lengths=tuple(lengths))


def set_main_data_begin(data: bytearray, offset: int, value: int) -> None:
    """Rewrite the 9-bit main_data_begin of the frame at `offset`."""
    if not 0 <= value < 512:
        raise FrameError(f"main_data_begin {value} does not fit in 9 bits")
    start = offset + parse_header(data, offset).side_info_offset
    data[start] = value >> 1
    data[start + 1] = (data[start + 1] & 0x7F) | ((value & 1) << 7)


def silent_frame(*, bitrate_kbps: int, sample_rate: int, padded: bool) -> bytes:
    """A frame that decodes to digital silence and borrows nothing: side info and main data all
    zero (main_data_begin 0, no spectral values), so it can sit between any two frames."""
    header = header_bytes(bitrate_kbps=bitrate_kbps, sample_rate=sample_rate, padded=padded)
    length = 144_000 * bitrate_kbps // sample_rate + int(padded)
    return header + bytes(length - 4)


# --------------------------------------------------------------------------- LAME's padding


def padded_count(frames: int | np.ndarray, *, bitrate_kbps: int, sample_rate: int) -> np.ndarray:
    """How many of the first `frames` frames LAME pads (its slot_lag rule; the first frame never).

    LAME starts with slot_lag = frac and, per frame, subtracts frac and pads when it goes below
    zero (adding the sample rate back), where frac = 144,000 * kbps mod rate. After n >= 1 frames
    that is ceil((n - 1) * frac / rate) padded frames: the average frame is then exactly
    144,000 * kbps / rate bytes long, so the bitrate is exact.
    """
    n = np.asarray(frames, dtype=np.int64)
    frac = (144_000 * bitrate_kbps) % sample_rate
    return np.where(n > 0, -((-(n - 1) * frac) // sample_rate), 0)


def stream_bytes(frames: int, *, bitrate_kbps: int, sample_rate: int) -> int:
    """Bytes in the first `frames` audio frames of a LAME CBR stream."""
    base = 144_000 * bitrate_kbps // sample_rate
    return frames * base + int(
        padded_count(frames, bitrate_kbps=bitrate_kbps, sample_rate=sample_rate)
    )


# --------------------------------------------------------------------------- CRC-16 (ARC)


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table[byte] = crc
    return table


_CRC_TABLE = _crc_table()
_CRC_LIST = [int(value) for value in _CRC_TABLE]


def crc16(data: Bytes, crc: int = 0) -> int:
    """CRC-16/ARC (polynomial 0x8005 reflected, no final xor): LAME's and ffmpeg's tag CRC.

    Pure Python: for short data (the tag). Long data goes through `crc16_frames`.
    """
    table = _CRC_LIST
    for byte in bytes(data):
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def _shift_tables() -> list[tuple[np.ndarray, np.ndarray]]:
    """For each j, the CRC state after 2**j zero bytes, as two 256-entry lookups (low, high byte).

    The CRC is linear over GF(2): state -> state after n zero bytes is a 16x16 bit matrix,
    and powers of two of it combine any n.
    """
    columns = []
    for bit in range(16):  # one zero byte applied to each basis state
        state = 1 << bit
        columns.append((state >> 8) ^ _CRC_LIST[state & 0xFF])
    tables = []
    for _ in range(15):
        low = np.zeros(256, dtype=np.uint32)
        high = np.zeros(256, dtype=np.uint32)
        for value in range(256):
            low_acc = high_acc = 0
            for bit in range(8):
                if value >> bit & 1:
                    low_acc ^= columns[bit]
                    high_acc ^= columns[bit + 8]
            low[value], high[value] = low_acc, high_acc
        tables.append((low, high))
        columns = [  # square the matrix: apply it to its own columns
            int(low[column & 0xFF] ^ high[column >> 8]) for column in columns
        ]
    return tables


_SHIFT_TABLES = _shift_tables()


CRC_ZERO_PERIOD = 32_767
"""After this many zero bytes the CRC-16/ARC state is back where it was: the polynomial is
(x + 1)(x^15 + x + 1) with x^15 + x + 1 primitive, so x has order 2^15 - 1, and so has x^8."""


def crc16_shift(crc: int | np.ndarray, zero_bytes: int | np.ndarray) -> np.ndarray:
    """The CRC state after `zero_bytes` more zero bytes (vectorised over arrays of both)."""
    state, count = np.broadcast_arrays(
        np.asarray(crc, dtype=np.uint32), np.asarray(zero_bytes, dtype=np.int64) % CRC_ZERO_PERIOD
    )
    state = state.copy()
    for j in range(15):  # CRC_ZERO_PERIOD < 2**15
        take = (count >> j) & 1 == 1
        low, high = _SHIFT_TABLES[j]
        state = np.where(take, low[state & 0xFF] ^ high[state >> 8], state)
    return state


@functools.cache
def crc16_after_zeros(crc: int) -> np.ndarray:
    """crc16_shift(crc, r) for every r below CRC_ZERO_PERIOD: one lookup per silent frame."""
    return crc16_shift(crc, np.arange(CRC_ZERO_PERIOD, dtype=np.int64))


def crc16_combine(first: int, second: int, second_length: int) -> int:
    """CRC of A + B from CRC(A) and CRC(B) (both from 0) and len(B): the CRC is linear."""
    return int(crc16_shift(first, second_length)) ^ second


def frame_crcs(
    data: Bytes, offsets: Sequence[int] | np.ndarray, end: int | None = None
) -> np.ndarray:
    """CRC-16/ARC (from 0) of each frame on its own, all frames at once: one numpy step per byte
    position. The last frame ends at `end` (default: the end of `data`)."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    starts = np.asarray(offsets, dtype=np.int64)
    if starts.size == 0:
        return np.zeros(0, dtype=np.uint32)
    ends = np.append(starts[1:], len(buffer) if end is None else end)
    lengths = ends - starts
    state = np.zeros(starts.size, dtype=np.uint32)
    last = len(buffer) - 1
    for position in range(int(lengths.max())):
        alive = lengths > position
        byte = buffer[np.minimum(starts + position, last)].astype(np.uint32)
        updated = (state >> 8) ^ _CRC_TABLE[(state ^ byte) & 0xFF]
        state = np.where(alive, updated, state)
    return state


def crc16_frames(data: Bytes, offsets: list[int]) -> int:
    """CRC-16/ARC of `data` (from 0), computed frame by frame in parallel with numpy: every
    frame's own CRC at once (frame_crcs), then combined (crc16_of_frames)."""
    if not offsets:
        return crc16(data)
    starts = np.asarray(offsets, dtype=np.int64)
    ends = np.append(starts[1:], len(data))
    return crc16_of_frames(frame_crcs(data, starts), ends, len(data))


def crc16_of_frames(crcs: np.ndarray, ends: np.ndarray, end: int) -> int:
    """CRC-16/ARC (from 0) of frames laid back to back up to byte `end`, from each one's own CRC
    (frame_crcs) and where each ends: every CRC shifted over the bytes after its frame, then all
    xor-ed together (the CRC is linear)."""
    shifted = crc16_shift(crcs, end - np.asarray(ends, dtype=np.int64))
    return int(np.bitwise_xor.reduce(shifted, initial=0))


# --------------------------------------------------------------------------- Xing/Info + LAME tag


@dataclass(frozen=True)
class InfoTag:
    """What a Xing "Info" frame with a LAME tag says about a CBR stream."""

    frames: int  # audio frames after the Info frame
    stream_bytes: int  # the Info frame and every audio frame
    toc: bytes  # 100 entries: byte position of each per cent of the duration, in 256ths
    encoder_delay: int
    padding: int
    music_crc: int  # CRC-16 of the audio frames (without the Info frame)
    bitrate_kbps: int
    lowpass_hz: int = 0  # 0: not known
    version: bytes = LAME_VERSION
    vbr_method: Literal[1] = 1  # 1 = constant bitrate
    quality: int = 57  # Xing quality field as LAME writes it: 100 - 10 * V (4) - q (3)


def info_frame_header(bitrate_kbps: int, sample_rate: int) -> FrameHeader:
    """The Info frame's header: the stream's bitrate, or the lowest one whose frame holds the tag
    (32-48 kbit/s frames are too short; ffmpeg's muxer chooses the same way)."""
    needed = 4 + _SIDE_INFO_BYTES[1] + _INFO_BYTES
    for candidate in BITRATES_KBPS[1:]:
        if candidate < bitrate_kbps:
            continue
        header = FrameHeader(
            bitrate_kbps=candidate,
            sample_rate=sample_rate,
            padded=False,
            channels=1,
            protected=False,
        )
        if header.length >= needed:
            return header
    raise FrameError("no bitrate holds the Info frame")  # cannot happen for MPEG-1


_INFO_BYTES = 4 + 4 + 4 + 4 + _TOC_ENTRIES + 4 + 36
"""'Info', flags, frames, bytes, TOC, quality, then the 36-byte LAME tag."""


def build_info_frame(tag: InfoTag, *, bitrate_kbps: int, sample_rate: int) -> bytes:
    """The Xing "Info" frame (a silent mono frame whose data area carries the tags)."""
    header = info_frame_header(bitrate_kbps, sample_rate)
    frame = bytearray(
        silent_frame(bitrate_kbps=header.bitrate_kbps, sample_rate=sample_rate, padded=False)
    )
    position = 4 + _SIDE_INFO_BYTES[1]
    body = bytearray()
    body += b"Info"
    body += struct.pack(">III", _XING_FLAGS, tag.frames, tag.stream_bytes)
    body += tag.toc
    body += struct.pack(">I", tag.quality)
    lame = bytearray()
    lame += tag.version[:9].ljust(9, b"\x00")
    lame.append((0 << 4) | tag.vbr_method)  # tag revision 0, VBR method
    lame.append(min(255, (tag.lowpass_hz + 50) // 100))
    lame += bytes(4)  # peak amplitude: not measured
    lame += bytes(2)  # radio replay gain: not set
    lame += bytes(2)  # audiophile replay gain: not set
    lame.append(0)  # encoding flags and ATH type: not recorded
    lame.append(min(255, tag.bitrate_kbps))
    if not (0 <= tag.encoder_delay < 4096 and 0 <= tag.padding < 4096):
        raise FrameError(f"delay {tag.encoder_delay} or padding {tag.padding} exceeds 12 bits")
    lame += ((tag.encoder_delay << 12) | tag.padding).to_bytes(3, "big")
    source_rate = {32_000: 0, 44_100: 1, 48_000: 2}[sample_rate]
    lame.append(source_rate << 6)  # source rate, not unwise, mono (0), no noise shaping recorded
    lame.append(0)  # MP3 gain
    lame += bytes(2)  # surround info and preset: none
    lame += struct.pack(">IH", tag.stream_bytes, tag.music_crc)
    body += lame
    frame[position : position + len(body)] = body
    end = position + len(body)
    frame[end : end + 2] = struct.pack(">H", crc16(frame[:end]))
    return bytes(frame)


@dataclass(frozen=True)
class ParsedInfo:
    """An Info/Xing frame read back (for tests and for rewriting ffmpeg's own)."""

    header: FrameHeader
    kind: bytes  # b"Info" or b"Xing"
    frames: int
    stream_bytes: int
    toc: bytes
    version: bytes
    encoder_delay: int
    padding: int
    music_length: int
    music_crc: int
    tag_crc: int
    tag_crc_ok: bool
    lame_offset: int  # where the LAME tag starts in the frame


def parse_info_frame(frame: Bytes) -> ParsedInfo:
    """Read a Xing/Info frame with a LAME-style tag (all four Xing fields present)."""
    header = parse_header(frame)
    start = header.side_info_offset + header.side_info_bytes
    kind = bytes(frame[start : start + 4])
    if kind not in (b"Info", b"Xing"):
        raise FrameError("the first frame is no Xing/Info frame")
    (flags,) = struct.unpack_from(">I", frame, start + 4)
    if flags & 0x7 != 0x7:
        raise FrameError("the Xing/Info frame lacks the frame count, byte count or TOC")
    frames, size = struct.unpack_from(">II", frame, start + 8)
    toc = bytes(frame[start + 16 : start + 116])
    lame = start + 116 + (4 if flags & 8 else 0)
    version = bytes(frame[lame : lame + 9])
    delay_padding = int.from_bytes(bytes(frame[lame + 21 : lame + 24]), "big")
    music_length, music_crc, tag_crc = struct.unpack_from(">IHH", frame, lame + 28)
    return ParsedInfo(
        header=header,
        kind=kind,
        frames=frames,
        stream_bytes=size,
        toc=toc,
        version=version,
        encoder_delay=delay_padding >> 12,
        padding=delay_padding & 0xFFF,
        music_length=music_length,
        music_crc=music_crc,
        tag_crc=tag_crc,
        tag_crc_ok=crc16(frame[: lame + 34]) == tag_crc,
        lame_offset=lame,
    )
