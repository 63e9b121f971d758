"""Encoded parts and where they are kept between builds: their content keys, a cache in memory
for one process, and checksummed files in a folder (the part format)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rustpunt.audio.pcm import SAMPLE_RATE
from rustpunt.errors import ExportError
from rustpunt.files import atomic_path, write_bytes_atomic
from rustpunt.mp3 import frames as mp3frames
from rustpunt.mp3.units import LEAD_IN_FRAMES

if TYPE_CHECKING:
    from rustpunt.remote import RemoteCache


@dataclass(frozen=True, eq=False)
class EncodedPart:
    """Speech encoded into whole frames, to be laid at a frame index of a session.

    `lead_in` frames and `lead` zeros precede the first sample, so the part is laid from frame
    (offset - lead) / 1152 - lead_in of the session. Frames after `frame_count` carry nothing and
    are left out: the session's silent frames take their place.

    A long unit (gapless speech can last the whole session) is kept as `pieces` of at most
    MAX_PIECE_FRAMES frames of one encode, laid back to back: this is the first, the others are
    kept under `piece_key(key, 1, MAX_PIECE_FRAMES)` and on. `follows` marks a piece after the
    first.
    """

    data: mp3frames.Bytes
    frame_count: int
    lead: int
    lead_in: int  # the part starts this many frames before the speech's first frame
    bitrate_kbps: int
    frame_offsets: np.ndarray  # where each frame starts in `data` (integers)
    crc: int  # CRC-16/ARC of `data`, from 0: the LAME tag's music CRC is combined from these
    pieces: int = 1
    follows: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self) -> mp3frames.Bytes:
        """Its frames (a StoredPart reads them from its cache when they are written)."""
        return self.data

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


MAX_PIECE_FRAMES = 2048
"""Frames of a piece of a long part (53 seconds; 0.43 MB at 64 kbit/s): about the most of a
session's encoded speech the writer holds at once, whatever the shape of the session. Ordinary
parts (a step's sentences) are one piece."""


def piece_key(key: str, index: int, piece_frames: int) -> str:
    """Where piece `index` of the part kept under `key` is kept, cut every `piece_frames` frames
    (the first is under `key`, and its frame count is that size when there are more). The size
    is in the key, so the pieces of one way of cutting are never mixed with another's."""
    return key if index == 0 else f"{key}.{piece_frames}.{index}"


@dataclass(frozen=True, eq=False)
class StoredPart:
    """A part (or a piece of one) in a cache, known by everything assembly plans with; its
    frames are read when they are written, so a session's encoded speech is never held whole."""

    cache: PartCache
    key: str
    frame_count: int
    size: int
    frame_offsets: np.ndarray
    crc: int
    follows: bool = False

    @classmethod
    def of(cls, part: EncodedPart, cache: PartCache, key: str, *, follows: bool) -> StoredPart:
        """What is known of `part`; its frame offsets copied (read from a cache file, they are a
        view of the whole file, frames and all)."""
        offsets = np.array(part.frame_offsets)
        return cls(cache, key, part.frame_count, part.size, offsets, part.crc, follows)

    def read(self) -> mp3frames.Bytes:
        part = self.cache.get(self.key)
        if part is None or part.size != self.size or part.crc != self.crc:
            raise PartGone(
                "an encoded part of this build was damaged or removed from the cache while it "
                "was being built (was rustpunt cache --clear run?); build again"
            )
        return part.data


class PartGone(ExportError):
    """A part planned from the cache was no longer there (or no longer whole) when written."""


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
            "pieces": part.pieces,
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
            pieces=int(header.get("pieces", 1)),
        )
    except (ValueError, KeyError, TypeError):
        return None


__all__ = [
    "MAX_PIECE_FRAMES",
    "DirectoryPartCache",
    "EncodedPart",
    "MemoryPartCache",
    "PartCache",
    "PartGone",
    "StoredPart",
    "encoder_version",
    "part_key",
    "piece_key",
]
