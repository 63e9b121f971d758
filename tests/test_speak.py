"""speak: one voice per session, the fallback as a whole, and a build's Voices, with fake engines."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import write_script
from rustpunt.cache import ClipCache
from rustpunt.engines import EngineAudio
from rustpunt.errors import VoiceUnavailable
from rustpunt.speak import Voices
from rustpunt.voices import VoiceProfile, VoiceRegistry


class FakeEngine:
    """A voice that says a tone per text, or cannot be reached at all."""

    name = "fake"

    def __init__(self, label: str, *, reachable: bool = True) -> None:
        self.label = label
        self.reachable = reachable
        self.spoken: list[str] = []
        self.checks = 0

    def identity(self) -> Mapping[str, Any]:
        return {"engine": "fake", "label": self.label}

    def synthesize(self, text: str) -> EngineAudio:
        if not self.reachable:
            raise VoiceUnavailable(f"{self.label} is offline")
        self.spoken.append(text)
        tone = 0.3 * np.sin(np.arange(4410) * 2 * np.pi * 440 / 44_100)
        return EngineAudio((tone * 32767).astype("<i2").tobytes(), "s16le", 44_100)

    def check(self) -> str | None:
        self.checks += 1
        return None if self.reachable else f"{self.label} is offline"


@pytest.fixture
def registry(tmp_path: Path) -> VoiceRegistry:
    write_script(tmp_path, "eerste.yaml", "engine: espeak\nfallback: tweede\n")
    write_script(tmp_path, "tweede.yaml", "engine: espeak\nsettings: {rate: 120}\n")
    return VoiceRegistry([tmp_path])


def voices_with(
    registry: VoiceRegistry, cache: Path, **engines: FakeEngine
) -> tuple[Voices, dict[str, FakeEngine]]:
    voices = Voices(ClipCache(cache))
    for name, engine in engines.items():
        profile: VoiceProfile = registry.get(name)
        voices.engines[(profile.name, profile.fingerprint())] = engine  # type: ignore[assignment]
    return voices, engines


def test_the_chosen_voice_speaks_every_text_once(registry: VoiceRegistry, tmp_path: Path) -> None:
    voices, engines = voices_with(registry, tmp_path / "c", eerste=FakeEngine("een"))
    spoken = voices.speak(["Adem in.", "Adem uit.", "Adem in."], registry, "eerste")
    assert spoken.profile.name == "eerste" and spoken.fallback_reason is None
    assert engines["eerste"].spoken == ["Adem in.", "Adem uit."]
    assert spoken.synthesized == 2 and set(spoken.clips) == {"Adem in.", "Adem uit."}


def test_an_unreachable_voice_falls_back_for_the_whole_session_and_is_not_asked_again(
    registry: VoiceRegistry, tmp_path: Path
) -> None:
    voices, engines = voices_with(
        registry,
        tmp_path / "c",
        eerste=FakeEngine("een", reachable=False),
        tweede=FakeEngine("twee"),
    )
    first = voices.speak(["Adem in.", "Adem uit."], registry, "eerste")
    assert first.profile.name == "tweede" and first.fallback_reason == "eerste: een is offline"
    assert engines["tweede"].spoken == ["Adem in.", "Adem uit."]
    second = voices.speak(["Ontspan."], registry, "eerste")  # the next script of the build
    assert second.profile.name == "tweede" and engines["tweede"].spoken[-1] == "Ontspan."
    assert not voices.reachable_now(registry.get("eerste"))
    assert engines["eerste"].checks == 0  # what the build found out is not asked again


def test_strict_refuses_the_fallback(registry: VoiceRegistry, tmp_path: Path) -> None:
    voices, _ = voices_with(
        registry,
        tmp_path / "c",
        eerste=FakeEngine("een", reachable=False),
        tweede=FakeEngine("twee"),
    )
    with pytest.raises(VoiceUnavailable, match="--strict forbids a fallback"):
        voices.speak(["Adem in."], registry, "eerste", strict=True)


def test_two_builds_in_one_process_keep_their_own_state(
    registry: VoiceRegistry, tmp_path: Path
) -> None:
    offline, _ = voices_with(registry, tmp_path / "a", eerste=FakeEngine("een", reachable=False))
    assert not offline.reachable_now(registry.get("eerste"))
    online, engines = voices_with(registry, tmp_path / "b", eerste=FakeEngine("een"))
    assert online.reachable_now(registry.get("eerste")) and engines["eerste"].checks == 1
    assert online.reachable_now(registry.get("eerste")) and engines["eerste"].checks == 1
