"""Nothing half-written: every file rustpunt makes is written to a temporary name and renamed into place."""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from rustpunt.errors import ExportError

try:
    import fcntl
except ImportError:  # Windows: stale temporary files are recognised by their writer's process id
    fcntl = None  # type: ignore[assignment]

Stamp = list[int] | None
"""[size, mtime_ns, ctime_ns, inode] of a file or folder, None where there is none (JSON-ready)."""


def stamp(path: str | Path) -> Stamp:
    """A file's stamp, as make, ninja and git's index compare them (rustpunt.build.uptodate)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]


@contextlib.contextmanager
def atomic_path(destination: Path) -> Iterator[Path]:
    """Yield a temporary path beside `destination`; rename it into place only if the block succeeds.

    The temporary file lives in the same folder so the rename is atomic; its name starts with a dot
    and ends in `.part`, so a killed build leaves nothing that looks like a finished output. While
    it is written, this process holds a lock on it: a file nobody holds is a leftover.
    """
    with atomic_paths([destination]) as (temporary,):
        yield temporary


@contextlib.contextmanager
def atomic_paths(destinations: Sequence[Path]) -> Iterator[list[Path]]:
    """Temporary paths for files that belong together (an MP3 and its sidecars): each is renamed
    into place, in the order given, only when the block has written them all. A failure on any
    leaves the previous set as it was, never a new file beside an old one. Put last the file
    whose presence says the set is complete."""
    handles: list[int] = []
    temporaries: list[Path] = []
    try:
        for destination in map(Path, destinations):
            handle, temporary = _temporary_beside(destination)
            handles.append(handle)
            temporaries.append(temporary)
        yield list(temporaries)
        for temporary, destination in zip(temporaries, destinations):
            os.replace(temporary, destination)
    finally:
        for handle in handles:
            os.close(handle)
        for temporary in temporaries:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()


NO_HARD_LINKS = {
    code
    for code in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK)
    if code is not None
}
"""What os.link says on a file system that cannot make hard links (FAT, some network shares)."""


def write_new_file(destination: Path, chunks: Iterable[bytes | memoryview]) -> bool:
    """Write `destination` atomically unless it is already there: True when this call wrote it,
    False when another writer (a parallel worker) was first. For content-addressed caches, where
    an entry must never change once someone may have read it."""
    handle, temporary = _temporary_beside(destination)
    try:
        with os.fdopen(os.dup(handle), "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
        try:
            os.link(temporary, destination)  # fails if it exists: the first writer stays
        except FileExistsError:
            return False
        except OSError as error:
            if error.errno not in NO_HARD_LINKS:
                raise
            if destination.exists():  # a file system without hard links: nearly as good
                return False
            os.replace(temporary, destination)
        return True
    finally:
        os.close(handle)
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _temporary_beside(destination: Path) -> tuple[int, Path]:
    """A new locked temporary file in `destination`'s folder (made if missing): handle and path."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{destination.name}.pid{os.getpid()}.", suffix=".part", dir=destination.parent
    )
    try:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        os.chmod(name, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
    except BaseException:
        os.close(handle)
        os.unlink(name)
        raise
    return handle, Path(name)


def preallocate(handle: BinaryIO, size: int) -> None:
    """Reserve `size` bytes for a file about to be written whole (its exact final size).

    Why: a large file written through the page cache gets its blocks only when it is renamed over
    the old one (ext4 then allocates them all at once: 20 ms for 32 MB). Reserved up front as one
    extent, they take 0.2 ms, and the rename stays cheap. Best effort, on Linux: where a file
    system cannot reserve space, the file is written as before. A full disk shows here, before
    anything is written (OSError, ENOSPC).
    """
    reserve = _fallocate()
    if reserve is None or size <= 0:
        return
    try:
        handle.flush()
        descriptor = handle.fileno()
    except (AttributeError, io.UnsupportedOperation):
        return  # not a file on disk (a buffer in memory)
    if reserve(descriptor, 0, 0, size) != 0:
        import ctypes

        code = ctypes.get_errno()
        if code in (errno.ENOSPC, errno.EDQUOT):
            raise OSError(code, os.strerror(code))


@functools.cache
def _fallocate() -> Callable[[int, int, int, int], int] | None:
    """Linux's fallocate(2), from the C library. Not os.posix_fallocate: where a file system
    cannot reserve space (FAT, some network shares), the C library's posix_fallocate emulates it
    by writing a byte into every block of the file, while fallocate says EOPNOTSUPP."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: every command imports this module, few write an MP3

    try:
        library = ctypes.CDLL(None, use_errno=True)
        function = getattr(library, "fallocate64", None) or library.fallocate
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


def write_bytes_atomic(destination: Path, data: bytes) -> None:
    with atomic_path(destination) as temporary:
        temporary.write_bytes(data)


def write_text_atomic(destination: Path, text: str) -> None:
    write_bytes_atomic(destination, text.encode("utf-8"))


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in a file (a sidecar, a record); None when the file is missing,
    unreadable, not JSON or not an object: each caller then goes on as if there were none."""
    try:
        document = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def check_writable(output_dir: Path) -> None:
    """Before any synthesis: `output_dir` exists or can be made, and takes a file."""
    output_dir = Path(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        # Named before it exists, and removed by that name: a Ctrl-C or SIGTERM at any moment,
        # even the one just after it was made (inside mkstemp), leaves no probe behind.
        name = output_dir / f".rustpunt-probe.pid{os.getpid()}.{secrets.token_hex(6)}.part"
        try:
            handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(handle, b"rustpunt")
            finally:
                os.close(handle)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ExportError(
            f"{output_dir}: cannot write the output folder ({reason}); "
            "choose another output folder or fix its permissions"
        ) from None


def remove_stale_parts(folder: Path, pattern: str = ".*.part") -> int:
    """Remove temporary files left by a build that was killed; returns how many.

    A file still locked by its writer belongs to a build that is running and is kept. Without
    file locks (Windows), a file whose writer's process is still alive is kept.
    """
    removed = 0
    for leftover in Path(folder).glob(pattern):
        if not _abandoned(leftover):
            continue
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    return removed


def _abandoned(path: Path) -> bool:
    if fcntl is None:
        pid = _writer_pid(path.name)
        return pid is None or not _alive(pid)
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # its writer still holds it
    finally:
        os.close(handle)
    return True


def _writer_pid(name: str) -> int | None:
    marker = name.rsplit(".pid", 1)
    if len(marker) != 2:
        return None
    digits = marker[1].split(".", 1)[0]
    return int(digits) if digits.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()
