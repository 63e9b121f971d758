"""A content-addressed cache of finished clips, so a sentence is spoken by an engine only once.

The key covers the engine, its version and every setting that changes the sound, the tempo, the
clip pipeline and the exact text. Each entry carries a checksum: a damaged entry is discarded and
spoken again, never mixed into audio. Entries are written to a temporary file and renamed, so
several processes can fill the cache at once.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from rustpunt.errors import RustpuntError
from rustpunt.files import remove_stale_parts, write_bytes_atomic, write_new_file

if TYPE_CHECKING:  # numpy is imported where clips are read or written: a no-op build never is
    import numpy as np

    from rustpunt.remote import RemoteCache

CACHE_ENV = "RUSTPUNT_CACHE"
HEADER_READ = 16384
"""Bytes read at once for an entry's header (with a clip's loudness blocks, a few kB)."""
MAGIC = b"RUSTPUNT-CLIP-1\n"
HEADERS_KEPT = 4096
"""Entry headers a ClipCache keeps in memory (a few kB each): a 60-minute session has ~150."""

FileStamp = tuple[int, int, int, int]
"""A file's device, inode, size and modification time: another file, or the same file rewritten,
has another stamp."""


@functools.cache
def pipeline() -> dict[str, Any]:
    """How a clip is made after the engine: a change here must miss the old entries."""
    from rustpunt.audio.pcm import FADE_MS, RESAMPLER_QUALITY, SAMPLE_RATE, SILENCE_THRESHOLD

    return {
        "rate": SAMPLE_RATE,
        "threshold": SILENCE_THRESHOLD,
        "fade_ms": FADE_MS,
        "format": "s16le",
        "resampler": f"soxr-{RESAMPLER_QUALITY}",  # was a hand-written polyphase sinc
    }


class CacheError(RustpuntError):
    """The clip cache folder cannot be used (not a folder, not writable, or its disk is full)."""


def cache_error(root: Path, error: OSError) -> CacheError:
    """One line naming the cache folder, why it cannot be used, and what to do."""
    other = "choose another folder with --cache-dir or RUSTPUNT_CACHE"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return CacheError(
            f"{root}: the disk of the clip cache is full; free some space "
            f"(`rustpunt cache --clear` empties the cache), or {other}"
        )
    blocker = next((p for p in (root, *root.parents) if p.exists() and not p.is_dir()), None)
    reason = f"{blocker} is a file, not a folder" if blocker else error.strerror or str(error)
    return CacheError(
        f"{root}: cannot use this folder for the clip cache ({reason}); fix it, or {other}"
    )


def default_cache_dir() -> Path:
    """--cache-dir, else $RUSTPUNT_CACHE, else the platform's user cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rustpunt"))


def clip_key(identity: Mapping[str, Any], tempo: float, text: str) -> str:
    """A clip's content address: a sha256 of the engine's identity, the tempo, the pipeline and
    the text, as one JSON document with sorted keys."""
    return clip_keys(identity, tempo, (text,))[text]


_TEXT_HOLE = "\x00text\x00"
"""Stands for the text in a clip key's document: JSON writes it as \\u0000text\\u0000, which no
identity, tempo or pipeline holds (clip_keys() checks, and writes each document whole if one does)."""
_TEXT_JSON = json.JSONEncoder(ensure_ascii=False)
"""Encodes a string exactly as json.dumps(..., ensure_ascii=False) does inside the document."""


def clip_keys(identity: Mapping[str, Any], tempo: float, texts: Iterable[str]) -> dict[str, str]:
    """clip_key() of many texts spoken by one voice: the document around the text is written
    once, not once per text (the same keys; a build that needs no speech computes ~150)."""
    written = _key_document(identity, tempo, _TEXT_HOLE)
    before, hole, after = written.partition(_TEXT_JSON.encode(_TEXT_HOLE))
    if not hole or hole in after:  # a setting that holds the stand-in itself: one by one
        return {text: _sha256(_key_document(identity, tempo, text)) for text in texts}
    return {text: _sha256(f"{before}{_TEXT_JSON.encode(text)}{after}") for text in texts}


def _key_document(identity: Mapping[str, Any], tempo: float, text: str) -> str:
    document = {
        "engine": dict(identity),
        "tempo": round(tempo, 4),
        "pipeline": pipeline(),
        "text": text,
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    path: Path
    size: int
    last_used: float
    text: str
    engine: str


class ClipCache:
    def __init__(self, root: Path | None = None, remote: RemoteCache | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.remote = remote
        """A second level behind this folder (--cache-url): asked only on a local miss."""
        self.found: Counter[str] = Counter()
        """Entries header() found, "local" or "remote": a build's counts are the difference."""
        self.clips = self.root / "clips"
        self.parts = self.root / "mp3parts"
        """Encoded speech for the spliced MP3 writer (rustpunt.mp3.partcache.DirectoryPartCache)."""
        self._clips_text = str(self.clips)
        self._headers: dict[str, tuple[FileStamp, dict[str, Any]]] = {}
        """Headers read by header(), by key, with the stamp of the file they were read from."""

    def check(self) -> None:
        """Before any synthesis: the cache folder exists or can be made, and takes a file.

        Raises CacheError naming the folder; speech made for a cache that cannot keep it is lost.
        """
        try:
            self.clips.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(
                prefix=f".probe.pid{os.getpid()}.", suffix=".part", dir=self.clips
            )
            try:
                os.write(handle, MAGIC)
            finally:
                os.close(handle)
                os.unlink(name)
        except OSError as error:
            raise cache_error(self.root, error) from None

    def _path(self, key: str) -> Path:
        return Path(self._file(key))

    def _file(self, key: str) -> str:
        """The entry's path as text: os.stat on it costs less than building a Path."""
        return os.path.join(self._clips_text, key[:2], f"{key}.clip")

    def get(self, key: str) -> np.ndarray | None:
        """The clip for a key, or None when absent or damaged (a damaged entry is removed)."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        samples = _decode(data)
        if samples is None:
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # "last used", for `rustpunt cache --clear --older-than`
        return samples

    def header(self, key: str) -> dict[str, Any] | None:
        """An entry's header alone (its length, checksum and what put() was given beside the
        samples), or None when absent or unreadable: cheap, for a build that may not need the
        samples at all. A truncated entry counts as absent; the samples' checksum is checked
        when get() reads them.

        Read once per process while the file stays the same (by its stat stamp): an entry never
        changes once written, but `rustpunt cache --clear` or another process may remove it, and
        annotate() replaces it; either gives another stamp, and the header is read again."""
        path = self._file(key)
        where = "local"
        try:
            stamp = _stamp(os.stat(path))
        except OSError:
            if self.remote is None or not self._fetch(key):
                return None
            stamp, where = _stamp(os.stat(path)), "remote"
        known = self._headers.get(key)
        if known is None or known[0] != stamp:
            known = _read_header(path)
            if known is None:
                return None
            if len(self._headers) >= HEADERS_KEPT:
                del self._headers[next(iter(self._headers))]  # the one kept longest
            self._headers[key] = known
        self.found[where] += 1
        return dict(known[1])  # a copy: the caller may change it, the kept one stays

    def _fetch(self, key: str) -> bool:
        """A local miss: the remote entry, verified, kept locally. True when it is here now."""
        assert self.remote is not None
        data = self.remote.fetch("clips", key, ".clip", lambda data: _decode(data) is not None)
        if data is None:
            return False
        try:
            write_new_file(self._path(key), [data])
            return True
        except OSError as error:
            raise cache_error(self.root, error) from None

    def flush(self) -> None:
        """Wait for this process's writes to the remote cache, if there is one."""
        if self.remote is not None:
            self.remote.flush()

    def annotate(self, key: str, samples: np.ndarray, **fields: Any) -> None:
        """Add fields to an entry's header (same samples, so a reader sees the same clip before
        and after); for entries written before those fields existed. Best effort."""
        header = self.header(key)
        if header is None:
            return
        with contextlib.suppress(OSError):
            write_bytes_atomic(self._path(key), b"".join(_entry({**header, **fields}, samples)))

    def put(self, key: str, samples: np.ndarray, text: str, engine: str, **fields: Any) -> bool:
        """Keep a clip, unless the entry is already there: an entry never changes once written,
        because a build reads its clips again while it mixes (engines such as espeak do not
        always give the same samples twice, and a parallel worker may speak the same sentence).
        True when this call wrote it; False when another was first (get() then gives that one).
        """
        try:
            wrote = write_new_file(
                self._path(key), _entry({"text": text, "engine": engine, **fields}, samples)
            )
        except OSError as error:  # a full disk, or the folder went away while building
            raise cache_error(self.root, error) from None
        if wrote and self.remote is not None:
            self.remote.store_file("clips", key, ".clip", self._path(key))
        return wrote

    def entries(self) -> Iterator[CacheEntry]:
        for path in sorted(self.clips.glob("*/*.clip")):
            try:
                stat = path.stat()
                with path.open("rb") as handle:
                    head = handle.read(len(MAGIC) + 4096)
            except OSError:
                continue
            header = _header(head)
            yield CacheEntry(
                path,
                stat.st_size,
                stat.st_mtime,
                str(header.get("text", "?")) if header else "(damaged)",
                str(header.get("engine", "?")) if header else "?",
            )

    def speech_parts(self) -> Iterator[tuple[Path, int, float]]:
        """The encoded speech parts kept for the spliced MP3 writer: (path, size, mtime)."""
        for part in sorted(self.parts.glob("*/*.mp3part")):
            try:
                stat = part.stat()
            except OSError:
                continue
            yield part, stat.st_size, stat.st_mtime

    def clear(self, older_than_days: float | None = None) -> Cleared:
        """Remove all entries and encoded speech parts (made again when needed), or those unused
        for that many days. CacheError naming the folder when one cannot be removed."""
        cutoff = None if older_than_days is None else time.time() - older_than_days * 86_400
        clips = parts = freed = 0
        try:
            for entry in list(self.entries()):
                if cutoff is None or entry.last_used < cutoff:
                    entry.path.unlink(missing_ok=True)
                    clips += 1
                    freed += entry.size
            for part, size, mtime in list(self.speech_parts()):
                if cutoff is None or mtime < cutoff:
                    part.unlink(missing_ok=True)
                    parts += 1
                    freed += size
            remove_stale_parts(self.clips, "*/.*.part")  # left by a process killed mid-write
            remove_stale_parts(self.parts, "*/.*.part")
        except OSError as error:
            raise CacheError(
                f"{self.root}: cannot remove from the clip cache ({error.strerror or error});"
                f" {clips} clip(s) and {parts} speech part(s) removed before that; make the"
                " folder writable, or leave it as it is"
            ) from None
        return Cleared(clips, parts, freed)


class Cleared(NamedTuple):
    """What `rustpunt cache --clear` removed: the same two things `rustpunt cache` counts."""

    clips: int
    parts: int
    freed_bytes: int


def _entry(header: dict[str, Any], samples: np.ndarray) -> list[bytes | memoryview]:
    """An entry's bytes: the magic line, the header (with the samples' count and checksum), the
    samples."""
    import numpy as np

    payload = np.ascontiguousarray(samples, dtype="<i2").data.cast("B")  # a view, no copy
    header = {**header, "samples": samples.size, "sha256": hashlib.sha256(payload).hexdigest()}
    return [MAGIC + json.dumps(header, ensure_ascii=False).encode() + b"\n", payload]


def _stamp(status: os.stat_result) -> FileStamp:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def _read_header(path: str) -> tuple[FileStamp, dict[str, Any]] | None:
    """An entry's header and the stamp of the file it was read from; None when absent, damaged
    or truncated (the samples' length disagrees with the file's size)."""
    try:
        with open(path, "rb") as handle:
            stamp = _stamp(os.fstat(handle.fileno()))
            head = handle.read(HEADER_READ)
            while b"\n" not in head[len(MAGIC) :]:
                more = handle.read(HEADER_READ)
                if not more:
                    return None
                head += more
    except OSError:
        return None
    header = _header(head)
    if header is None:
        return None
    samples = header.get("samples")
    if not isinstance(samples, int) or stamp[2] != head.find(b"\n", len(MAGIC)) + 1 + 2 * samples:
        return None  # damaged (a truncated entry): get() removes it
    return stamp, header


def _header(data: bytes) -> dict[str, Any] | None:
    if not data.startswith(MAGIC):
        return None
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        return None
    try:
        header = json.loads(data[len(MAGIC) : end])
    except (ValueError, UnicodeDecodeError):
        return None
    return header if isinstance(header, dict) else None


def _decode(data: bytes) -> np.ndarray | None:
    header = _header(data)
    if header is None:
        return None
    payload = memoryview(data)[data.find(b"\n", len(MAGIC)) + 1 :]  # a view: no copy
    if len(payload) != 2 * header.get("samples", -1) or hashlib.sha256(
        payload
    ).hexdigest() != header.get("sha256"):
        return None
    import numpy as np

    return np.frombuffer(payload, dtype="<i2")
