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

Why one ffmpeg process (one encoder per part in it) and not the lameenc binding: both are LAME
3.100, but the imageio-ffmpeg build is at least as fast (benchmarks/splice.py, 5-minute session at
80 % pause, two runs: 0.68x and 0.70x the one-pass encode against 0.77x and 0.72x; one ffmpeg per
part: 1.47x and 1.28x), needs no new dependency, and is the encoder of the one-pass reference, so
a join comparison shows the splice and nothing else.

Re-timing: a part is cached under its PCM (or the segments' keys, when the caller gives them),
its lead (the sub-frame offset) and lead-in, the bitrate and the encoder. A segment that moves by
a whole number of frames (multiples of 1152 samples, 26.1 ms) keeps its lead and is pure assembly; one that moves by anything else is re-encoded, so placement
stays exact to the sample (this module never rounds an offset). A build starts every clip on a
frame edge (`mix.SPEECH_GRID`: its lead is always 0), so a changed pause or sentence re-encodes
no other clip; segments less than about 0.4 s apart share one part, encoded together.

Beds under the pauses are not handled here; benchmarks/splice_bed.py measures how a looped bed
could be laid as whole pre-encoded frames too (benchmarks/README.md has the figures).

The writer here ties the stages together: `units` plans which segments share a part, `encode`
runs LAME, `partcache` keeps the parts between builds and `assembly` lays them into the file.
With a cache, a part is written to it as it is encoded and read back when it is laid, so a
session's encoded speech is never held whole; a long part (gapless speech can be one part as long
as the session) is kept in pieces of MAX_PIECE_FRAMES frames of the one encode, laid back to back.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from pathlib import Path

from rustpunt.errors import ExportError
from rustpunt.files import atomic_path
from rustpunt.mp3 import frames as mp3frames
from rustpunt.mp3.assembly import LaidPart, assemble
from rustpunt.mp3.encode import check_bitrate, encode_pieces
from rustpunt.mp3.frames import SAMPLES_PER_FRAME
from rustpunt.mp3.partcache import (
    MAX_PIECE_FRAMES,
    EncodedPart,
    MemoryPartCache,
    PartCache,
    StoredPart,
    part_key,
    piece_key,
)
from rustpunt.mp3.units import SegmentLike, plan_units

log = logging.getLogger(__name__)


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
) -> list[tuple[int, LaidPart]]:
    """The encoding half of `write_spliced_mp3`: every part (or piece of one) and the frame it
    is laid from, ready for `assemble`. For a caller that writes and tags in one temporary file
    of its own:

        placed = place_parts(segments, total)
        with atomic_path(destination) as temporary:
            with temporary.open("wb") as handle:
                assemble(handle, placed, total)
            ...  # tags with mutagen

    With a `cache`, what is returned names parts in it, whose frames are read again when they
    are written: the session's encoded speech is never held whole (a piece of a long part at a
    time). Without one, the parts are kept in memory until the returned list goes.
    """
    check_bitrate(bitrate_kbps, "segment")
    units = plan_units(segments, total_samples, segment_keys=segment_keys)
    store = cache if cache is not None else MemoryPartCache()
    keys = [
        part_key(
            None if unit.content is not None else unit.chunks(),
            lead=unit.lead,
            lead_in=unit.lead_in,
            bitrate_kbps=bitrate_kbps,
            content=unit.content,
        )
        if cache is not None
        else str(index)
        for index, unit in enumerate(units)
    ]
    found = [_kept(store, key) for key in keys]
    missing = [index for index, pieces in enumerate(found) if pieces is None]
    if missing:
        log.debug("encoding %d of %d speech parts", len(missing), len(units))
        made: dict[int, dict[int, StoredPart]] = {index: {} for index in missing}

        def keep(number: int, piece: int, part: EncodedPart) -> None:
            index = missing[number]
            key = piece_key(keys[index], piece, MAX_PIECE_FRAMES)
            store.put(key, part)
            made[index][piece] = StoredPart.of(part, store, key, follows=piece > 0)

        encode_pieces(
            [units[index] for index in missing],
            bitrate_kbps=bitrate_kbps,
            keep=keep,
            piece_frames=MAX_PIECE_FRAMES,
        )
        for index, numbered in made.items():
            found[index] = [numbered[piece] for piece in range(len(numbered))]
    placed: list[tuple[int, LaidPart]] = []
    for unit, kept in zip(units, found):
        assert kept is not None
        first = unit.start_frame - unit.lead_in
        for piece in kept:
            placed.append((first, piece))
            first += piece.frame_count
    return placed


def _kept(cache: PartCache, key: str) -> list[StoredPart] | None:
    """A part's pieces in the cache, each read once to check it (a damaged one is encoded
    again); None unless every piece is there."""
    head = cache.get(key)
    if head is None:
        return None
    pieces = [StoredPart.of(head, cache, key, follows=False)]
    for index in range(1, head.pieces):
        name = piece_key(key, index, head.frame_count)
        piece = cache.get(name)
        if piece is None:
            return None
        pieces.append(StoredPart.of(piece, cache, name, follows=True))
    return pieces


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


__all__ = [
    "place_parts",
    "rewrite_info_tag",
    "write_spliced_mp3",
]
