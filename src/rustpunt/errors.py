"""Every failure rustpunt expects is a RustpuntError: one line that names the file, the line and what to do."""

from __future__ import annotations

from pathlib import Path


class RustpuntError(Exception):
    """Base class: the CLI prints `Error: <message>` and exits non-zero, never a traceback."""

    exit_code = 1


class ScriptError(RustpuntError):
    """An exercise script cannot be read or is not valid."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line else f"{self.path}"
        super().__init__(f"{where}: {message}")


class VoiceError(RustpuntError):
    """A voice profile is unknown, unreadable or names an unknown engine."""


class SynthesisError(RustpuntError):
    """A speech engine failed to turn a text into audio."""


class VoiceUnavailable(SynthesisError):
    """The voice cannot be reached right now (network, rate limit): the session may use its fallback."""


class ExportError(RustpuntError):
    """Writing the MP3 or a sidecar failed."""
