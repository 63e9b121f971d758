"""Atomic writes: nothing half-written, leftovers of killed writers recognised and removed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rustpunt.files import atomic_path, remove_stale_parts, write_text_atomic


def test_a_file_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "a.json"
    write_text_atomic(target, "één\n")
    assert target.read_text(encoding="utf-8") == "één\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()  # not mkstemp's 0600
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed midway")
    assert target.read_text(encoding="utf-8") == "één\n"  # the old file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]


def test_only_abandoned_temporary_files_are_removed(tmp_path: Path) -> None:
    abandoned = tmp_path / ".a.mp3.pid999999.x.part"
    abandoned.write_bytes(b"left by a build that was killed")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from rustpunt.files import atomic_path\n"
         "with atomic_path(Path(sys.argv[1])) as t:\n"
         "    print(t.name, flush=True); sys.stdin.read()",
         str(tmp_path / "b.mp3")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdin is not None
    in_use = tmp_path / holder.stdout.readline().strip()
    assert remove_stale_parts(tmp_path) == 1
    assert not abandoned.exists() and in_use.exists()  # a running writer keeps its file
    holder.communicate(timeout=30)
    assert (tmp_path / "b.mp3").exists() and not in_use.exists()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_preallocate_reserves_the_file_at_its_size(tmp_path: Path) -> None:
    """A file about to be written whole is reserved first (where Linux's file system can), so
    the rename over the old one need not allocate it; a buffer in memory is left alone."""
    import io

    from rustpunt.files import preallocate

    target = tmp_path / "out.mp3"
    with target.open("wb") as handle:
        handle.write(b"ID3")
        preallocate(handle, 1 << 20)
        if sys.platform.startswith("linux"):
            status = os.fstat(handle.fileno())
            assert status.st_size == 1 << 20 and status.st_blocks * 512 >= 1 << 20
        handle.write(bytes((1 << 20) - 3))
    assert target.stat().st_size == 1 << 20 and target.read_bytes()[:3] == b"ID3"
    preallocate(io.BytesIO(), 1000)  # nothing to reserve, no error
