"""Every failure rustpunt expects is a RustpuntError: one line that names the file, the line and what to do."""

from __future__ import annotations

import os
from enum import IntEnum
from pathlib import Path


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


class FileProblem(RustpuntError):
    """A problem at a line of a file the user wrote: `FILE:LINE: message`."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = message
        where = f"{shown(self.path)}:{line}" if line else shown(self.path)
        super().__init__(f"{where}: {message}")


class ScriptError(FileProblem):
    """An exercise script cannot be read or is not valid."""


class VoiceError(RustpuntError):
    """A voice is unknown, or its settings are not ones its engine takes."""


class ProfileError(FileProblem, VoiceError):
    """A voice profile file cannot be read or is not valid."""


class SynthesisError(RustpuntError):
    """A speech engine failed to turn a text into audio."""


class VoiceUnavailable(SynthesisError):
    """The voice cannot be reached right now (network, rate limit): the session may use its fallback."""


class ExportError(RustpuntError):
    """Writing the MP3 or a sidecar failed."""
