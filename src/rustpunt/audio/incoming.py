"""Audio as it comes in from a speech engine, before rustpunt.audio.pcm makes session PCM of it.

Apart from pcm so that the engines can name it without importing numpy: a no-op rebuild loads the
engines' registry, and nothing else of the audio side.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineAudio:
    """Audio exactly as an engine produced it; `rustpunt.audio.pcm` turns it into session PCM."""

    data: bytes
    """Encoded audio (codec "mp3") or raw mono signed 16-bit little-endian PCM (codec "s16le")."""
    codec: str
    sample_rate: int | None = None
    """Required for raw PCM; encoded audio carries its own."""
