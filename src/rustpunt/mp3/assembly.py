"""Assembling a spliced session (rustpunt.mp3.splice): the Info frame, each encoded part at its
frame and LAME's silent frames around them. Nothing is encoded here."""

from __future__ import annotations

import bisect
import functools
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import numpy as np

from rustpunt.audio.pcm import SAMPLE_RATE
from rustpunt.errors import ExportError
from rustpunt.files import preallocate
from rustpunt.mp3 import frames as mp3frames
from rustpunt.mp3.frames import SAMPLES_PER_FRAME, START_OFFSET


def session_frames(total_samples: int) -> int:
    """Audio frames of a session: the fewest that hold its last sample after the 1,105 delay."""
    return -(-(total_samples + START_OFFSET) // SAMPLES_PER_FRAME)


class LaidPart(Protocol):
    """What assembly knows of a part before it writes it (an EncodedPart, or a StoredPart whose
    frames are read from the cache only when they are written)."""

    @property
    def frame_count(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def frame_offsets(self) -> np.ndarray: ...
    @property
    def crc(self) -> int: ...
    @property
    def follows(self) -> bool: ...
    def read(self) -> mp3frames.Bytes: ...


def assemble(
    handle: BinaryIO,
    placed: Sequence[tuple[int, LaidPart]],
    total_samples: int,
    *,
    bitrate_kbps: int = 64,
) -> None:
    """Write the Info frame and the audio frames from where `handle` is: each part at its
    frame, silence around.

    `placed` holds (first frame, part) in order, each part ending at least one frame before the
    next begins (a piece that `follows` begins where the one before it ends). Pure assembly:
    nothing is encoded here, and a part's frames are read only when they are written. The
    session's frames are laid out first as arrays (every frame's length, which are silent and
    padded), so the TOC and the music CRC come from whole-session numpy steps rather than a few
    per pause.
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
            handle.write(run.part.read() if run.count == run.part.frame_count else run.data)
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
    part: LaidPart | None = None
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


def _plan_layout(placed: Sequence[tuple[int, LaidPart]], frames: int, silence: _Silence) -> _Layout:
    """Where every part and silent frame goes. Silence follows LAME's padding pattern, except
    that the first frames of a pause are padded or not so that the byte count after the part
    that follows (its own encode started the pattern afresh: a byte or two off) is exactly on
    the constant bitrate again. A part's pieces (`follows`) are laid back to back as one."""
    target = silence.target(np.arange(frames + 1, dtype=np.int64))
    padded = np.diff(target) - silence.base  # LAME's pattern: silent frames start from it
    lengths = silence.base + padded
    silent = np.ones(frames, dtype=bool)
    layout = _Layout([], lengths, silent, padded, [], [])
    written = 0  # audio bytes before `cursor`
    cursor = 0
    previous_end = -1
    for chain in _chains(placed):
        start_frame = chain[0][0]
        if start_frame < cursor or start_frame <= previous_end:
            raise ValueError("parts overlap or touch: keep one silent frame between them")
        if start_frame >= frames:
            break
        laid = []  # (first frame, part, frames laid, bytes laid) of each piece that fits
        for first, part in chain:
            count = max(0, min(part.frame_count, frames - first))
            laid.append((first, part, count, _bytes_of(part, count)))
        end_frame = start_frame + sum(item[2] for item in laid)  # back to back
        excess = sum(item[3] for item in laid) - int(target[end_frame] - target[start_frame])
        written = _lay_silence(
            layout, target, cursor, start_frame, written=written, excess=excess, base=silence.base
        )
        for first, part, count, length in laid:
            if not count:
                continue
            lengths[first] = length
            lengths[first + 1 : first + count] = 0
            silent[first : first + count] = False
            whole = count == part.frame_count
            data = b"" if whole else part.read()[:length]
            layout.runs.append(_Run(first, count, part=part, data=data))
            written += length
            layout.part_ends.append(written)
            layout.part_crcs.append(
                part.crc
                if whole
                else mp3frames.crc16_frames(data, np.asarray(part.frame_offsets[:count]).tolist())
            )
        cursor = end_frame
        previous_end = cursor
    _lay_silence(layout, target, cursor, frames, written=written, excess=0, base=silence.base)
    return layout


def _chains(placed: Sequence[tuple[int, LaidPart]]) -> Iterator[list[tuple[int, LaidPart]]]:
    """The placed parts with each one's pieces together; a piece starts where the one before
    it ends."""
    chain: list[tuple[int, LaidPart]] = []
    for first, part in placed:
        if part.follows and chain:
            before, previous = chain[-1]
            if first != before + previous.frame_count:
                raise ValueError("a piece of a part does not start where the one before it ends")
            chain.append((first, part))
            continue
        if chain:
            yield chain
        chain = [(first, part)]
    if chain:
        yield chain


def _bytes_of(part: LaidPart, count: int) -> int:
    """Bytes of a part's first `count` frames."""
    return part.size if count == part.frame_count else int(part.frame_offsets[count])


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


__all__ = [
    "LaidPart",
    "assemble",
    "session_frames",
]
