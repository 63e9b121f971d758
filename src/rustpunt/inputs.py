"""The files a build reads, as one service: each read is noted (the up-to-date record lists what
was noted, rustpunt.build.uptodate), and what was made of a file is remembered by its stamp, so
hundreds of scripts that share a bed, a Piper model, a lexicon or a voices folder read it once.

One Inputs lives as long as its build, watch, studio or pool worker (rustpunt.build.workspace);
a function called outside a build makes a throwaway one. Reading through it is what keeps the
up-to-date record whole: a new input read this way can no longer be forgotten there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from rustpunt.files import Stamp, stamp

T = TypeVar("T")

LOADED_KEPT = 256
"""Things made of files (voice registries, lexicons) kept at once; the oldest go first."""


class Inputs:
    """Reads files for a build: notes every path read (also one found absent, so that one
    appearing later is seen) and remembers digests and loaded files by their stamps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._digests: dict[tuple[str, int, int], str] = {}
        self._loaded: dict[Hashable, tuple[tuple[Stamp, ...], Any]] = {}
        self._local = threading.local()

    # -- noting ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def noting(self) -> Iterator[dict[str, None]]:
        """Inside the block, every path this thread reads through here is added (absolute, in
        the order first read) to the dict yielded."""
        noted: dict[str, None] = {}
        stack = self._stack()
        stack.append(noted)
        try:
            yield noted
        finally:
            stack.remove(noted)

    def _stack(self) -> list[dict[str, None]]:
        stack: list[dict[str, None]] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def note(self, path: str | Path) -> None:
        """A file or folder was read (or looked for) outside this service's own readers."""
        stack = self._stack()
        if stack:
            absolute = os.path.abspath(path)
            for noted in stack:
                noted[absolute] = None

    # -- reading --------------------------------------------------------------------------------

    def stamp(self, path: str | Path) -> Stamp:
        self.note(path)
        return stamp(path)

    def is_file(self, path: str | Path) -> bool:
        self.note(path)
        return os.path.isfile(path)

    def is_dir(self, path: str | Path) -> bool:
        self.note(path)
        return os.path.isdir(path)

    def read_bytes(self, path: str | Path) -> bytes:
        self.note(path)
        return Path(path).read_bytes()

    def read_text(self, path: str | Path) -> str:
        self.note(path)
        return Path(path).read_text(encoding="utf-8")

    def digest(self, path: str | Path) -> str:
        """SHA-256 of a file's bytes, worked out once while its size and time stay the same (a
        60 MB model, a bed shared by hundreds of scripts). OSError when it cannot be read."""
        self.note(path)
        status = os.stat(path)
        key = (os.path.realpath(path), status.st_size, status.st_mtime_ns)
        with self._lock:
            known = self._digests.get(key)
        if known is None:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
            known = digest.hexdigest()
            with self._lock:
                self._digests[key] = known
        return known

    def loaded(self, key: Hashable, paths: Iterable[str | Path], make: Callable[[], T]) -> T:
        """What `make` reads from `paths` (noted, present or not), made once while all their
        stamps stay the same: a profile edited while the watch runs is read again."""
        stamps = tuple(self.stamp(path) for path in paths)
        with self._lock:
            kept = self._loaded.get(key)
        if kept is not None and kept[0] == stamps:
            return kept[1]  # type: ignore[no-any-return]
        made = make()
        with self._lock:
            self._loaded.pop(key, None)
            if len(self._loaded) >= LOADED_KEPT:
                self._loaded.pop(next(iter(self._loaded)))
            self._loaded[key] = (stamps, made)
        return made


def inputs_or_new(inputs: Inputs | None) -> Inputs:
    """The build's Inputs, or a throwaway one for a call outside any build."""
    return inputs if inputs is not None else Inputs()
