"""Speech engines, one module each; a new engine is one module and one line in ENGINES."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from rustpunt.errors import VoiceError
from rustpunt.inputs import Inputs
from rustpunt.voice.engines.base import Engine, EngineAudio

ENGINES: dict[str, str] = {
    "gtts": "rustpunt.voice.engines.google:GoogleEngine",
    "espeak": "rustpunt.voice.engines.espeak:EspeakEngine",
    "piper": "rustpunt.voice.engines.piper:PiperEngine",
}


RUNTIME_PARAMETERS = ("sleep", "request_slots", "inputs")
"""What the build hands an engine besides the profile's settings; never a profile setting."""


def create_engine(
    name: str,
    settings: Mapping[str, Any],
    *,
    request_slots: AbstractContextManager[Any] | None = None,
    inputs: Inputs | None = None,
) -> Engine:
    """Build the engine called `name` from a profile's settings; imports it only when used.

    `request_slots` limits how many requests a remote engine (one whose class says `remote =
    True`) has in flight; a parallel build shares one between its processes. `inputs` reads
    the files of an engine that reads some (one whose class says `reads_files = True`).
    """
    reserved = sorted(key for key in settings if key in RUNTIME_PARAMETERS)
    if reserved:
        raise VoiceError(
            f"unknown setting {reserved[0]!r} for engine {name}", key=f"settings.{reserved[0]}"
        )
    try:
        target = ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise VoiceError(f"unknown engine {name!r}; known engines: {known}", key="engine") from None
    module_name, class_name = target.split(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    services: dict[str, Any] = {}
    if request_slots is not None and getattr(engine_class, "remote", False):
        services["request_slots"] = request_slots
    if inputs is not None and getattr(engine_class, "reads_files", False):
        services["inputs"] = inputs
    return engine_class(**dict(settings), **services)  # type: ignore[no-any-return]


__all__ = ["ENGINES", "Engine", "EngineAudio", "create_engine"]
