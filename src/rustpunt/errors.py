"""Every failure rustpunt expects is a RustpuntError: one line that names the file, the line and what to do."""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path
from typing import TypeVar


class ExitStatus(IntEnum):
    """What `rustpunt` exits with; the README's table lists the same."""

    OK = 0
    ERROR = 1
    """An invalid script, a failed build, or another error (one line on stderr says which)."""
    USAGE = 2
    """The command line itself is wrong: an unknown option, a missing argument or path."""
    INTERRUPTED = 130
    """Ctrl-C, or SIGTERM: what was being written is left as a hidden part file, never as output."""


def shown(path: Path | str) -> str:
    """A path as text that can always be printed: bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


class RustpuntError(Exception):
    """Base class: the CLI prints `Error: <message>` and exits non-zero, never a traceback."""

    exit_code = ExitStatus.ERROR


_Problem = TypeVar("_Problem", bound="FileProblem")


class FileProblem(RustpuntError):
    """A problem at a line of a file the user wrote: `FILE:LINE: message`.

    A file may have several problems (six bad steps): `problems` holds each as its own
    FileProblem, one line each, for `check` to list; the error itself reads as the first, with
    how many more there are, so a build still fails in one line."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = message
        self.problems: tuple[FileProblem, ...] = (self,)
        where = f"{shown(self.path)}:{line}" if line else shown(self.path)
        super().__init__(f"{where}: {message}")

    @classmethod
    def several(
        cls: type[_Problem], path: Path | str, found: Sequence[tuple[int | None, str]]
    ) -> _Problem:
        """One error for all the (line, message) problems found in a file, in the order given."""
        each = tuple(cls(path, line, message) for line, message in found)
        if len(each) == 1:
            return each[0]
        more = len(each) - 1
        first = cls(
            path,
            each[0].line,
            f"{each[0].reason} (and {more} more problem{'s' if more > 1 else ''}: "
            f"`rustpunt check {shown(path)}` lists them all)",
        )
        first.problems = each
        return first


class ScriptError(FileProblem):
    """An exercise script cannot be read or is not valid."""


class VoiceError(RustpuntError):
    """A voice is unknown, or its settings are not ones its engine takes."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        """The profile key the error is about (`engine`, `settings.rate`), when there is one:
        a profile's error then names that key's line."""


class ProfileError(FileProblem, VoiceError):
    """A voice profile file cannot be read or is not valid."""


class SynthesisError(RustpuntError):
    """A speech engine failed to turn a text into audio."""


class VoiceUnavailable(SynthesisError):
    """The voice cannot be reached right now (network, rate limit): the session may use its fallback."""


class ExportError(RustpuntError):
    """Writing the MP3 or a sidecar failed."""


class SoundError(RustpuntError):
    """A bed file cannot be read as audio, or a sound setting is impossible."""
