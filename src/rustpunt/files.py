"""Nothing half-written: every file rustpunt makes is written to a temporary name and renamed into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(destination: Path) -> Iterator[Path]:
    """Yield a temporary path beside `destination`; rename it into place only if the block succeeds.

    The temporary file lives in the same folder so the rename is atomic; its name starts with a dot
    and ends in `.part`, so a killed build leaves nothing that looks like a finished output.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{destination.name}.pid{os.getpid()}.", suffix=".part", dir=destination.parent
    )
    os.close(handle)
    temporary = Path(name)
    os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield temporary
        os.replace(temporary, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def write_bytes_atomic(destination: Path, data: bytes) -> None:
    with atomic_path(destination) as temporary:
        temporary.write_bytes(data)


def write_text_atomic(destination: Path, text: str) -> None:
    write_bytes_atomic(destination, text.encode("utf-8"))


def remove_stale_parts(folder: Path) -> int:
    """Remove temporary files left by a build that was killed; returns how many.

    A temporary name carries the writer's process id, so files of a build still running are kept.
    """
    removed = 0
    for leftover in Path(folder).glob(".*.part"):
        pid = _writer_pid(leftover.name)
        if pid is not None and _alive(pid):
            continue
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    return removed


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
