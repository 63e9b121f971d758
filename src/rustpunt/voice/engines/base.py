"""The small contract every speech engine fulfils: text in, audio out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from rustpunt.audio.incoming import EngineAudio


class Engine(Protocol):
    """A speech engine built from the `settings` mapping of a voice profile."""

    name: str

    def identity(self) -> Mapping[str, Any]:
        """Everything that changes the sound: engine name, its version, its settings (the cache key)."""
        ...

    def synthesize(self, text: str) -> EngineAudio:
        """Speak one text. Raises SynthesisError, or VoiceUnavailable when it cannot be reached."""
        ...

    def check(self) -> str | None:
        """None when the engine can speak right now, else a short reason why not."""
        ...
