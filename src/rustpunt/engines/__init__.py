"""Speech engines, one module each; a new engine is one module and one line in ENGINES."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from rustpunt.engines.base import Engine, EngineAudio
from rustpunt.errors import VoiceError

ENGINES: dict[str, str] = {
    "gtts": "rustpunt.engines.google:GoogleEngine",
    "espeak": "rustpunt.engines.espeak:EspeakEngine",
    "piper": "rustpunt.engines.piper:PiperEngine",
}


def create_engine(name: str, settings: Mapping[str, Any]) -> Engine:
    """Build the engine called `name` from a profile's settings; imports it only when used."""
    try:
        target = ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise VoiceError(f"unknown engine {name!r}; known engines: {known}") from None
    module_name, class_name = target.split(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    return engine_class(**dict(settings))  # type: ignore[no-any-return]


__all__ = ["ENGINES", "Engine", "EngineAudio", "create_engine"]
