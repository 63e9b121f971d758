"""speak: one voice per session, the fallback as a whole, and a build's Voices, with fake engines."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import write_script
from rustpunt.errors import VoiceUnavailable
from rustpunt.voice.clipcache import ClipCache
from rustpunt.voice.engines import EngineAudio
from rustpunt.voice.profiles import VoiceProfile, VoiceRegistry
from rustpunt.voice.speak import LOUDNESS_FIELD, Voices


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


TEXTS = [
    "Adem in.",
    "Adem 4 tellen in, en 6 tellen uit. Ontspan je schouders (pauze 2,5 s) en je kaak.",
    "Om 10:30 ben je klaar; 1e keer, 2de keer.",
    "Adem in.",
]


def same_sessions(one: Any, other: Any) -> None:
    """Two speakings of the texts agree in every key, layout, length and loudness block."""
    assert one.keys == other.keys and one.layouts == other.layouts
    assert dict(one.clips.lengths) == dict(other.clips.lengths)
    assert one.clips.energies.keys() == other.clips.energies.keys()
    for text, energies in one.clips.energies.items():
        np.testing.assert_array_equal(energies, other.clips.energies[text])


def test_speaking_from_the_cache_again_gives_the_same_session(
    registry: VoiceRegistry, tmp_path: Path
) -> None:
    """A pause-only edit speaks nothing: what it learns from the cache (kept in this process)
    equals what a fresh process reads, and what was spoken the first time."""
    voices, engines = voices_with(registry, tmp_path / "c", eerste=FakeEngine("een"))
    first = voices.speak(TEXTS, registry, "eerste")
    assert first.synthesized == len(engines["eerste"].spoken) == 5
    again = voices.speak(TEXTS, registry, "eerste")
    fresh, _ = voices_with(registry, tmp_path / "c", eerste=FakeEngine("een"))
    from_disk = fresh.speak(TEXTS, registry, "eerste")
    assert again.synthesized == from_disk.synthesized == 0
    same_sessions(first, again)
    same_sessions(first, from_disk)
    for text in dict.fromkeys(TEXTS):
        np.testing.assert_array_equal(again.clips[text], first.clips[text])


def test_a_clip_cleared_between_builds_is_spoken_again(
    registry: VoiceRegistry, tmp_path: Path
) -> None:
    voices, engines = voices_with(registry, tmp_path / "c", eerste=FakeEngine("een"))
    first = voices.speak(TEXTS, registry, "eerste")
    assert voices.speak(TEXTS, registry, "eerste").synthesized == 0  # headers read, and kept
    voices.cache.clear()  # `rustpunt cache --clear` from another process
    again = voices.speak(TEXTS, registry, "eerste")
    assert again.synthesized == 5 and len(engines["eerste"].spoken) == 10
    same_sessions(first, again)
    for text in dict.fromkeys(TEXTS):
        assert again.clips[text].size == again.clips.lengths[text]


def _damage(entry: Path) -> None:
    data = bytearray(entry.read_bytes())
    data[-len(data) // 3] ^= 0xFF  # a byte of the samples: the header still reads well
    entry.write_bytes(bytes(data))


def test_a_clip_damaged_while_encoding_is_spoken_again_and_used(
    registry: VoiceRegistry, tmp_path: Path
) -> None:
    voices, engines = voices_with(registry, tmp_path / "c", eerste=FakeEngine("een"))
    first = voices.speak(TEXTS, registry, "eerste")
    clean = {text: first.clips[text].copy() for text in first.clips}
    again = voices.speak(TEXTS, registry, "eerste")  # measured from the headers alone
    assert again.synthesized == 0
    for entry in voices.cache.entries():
        _damage(entry.path)
    for text in again.clips:  # the mix reads them: spoken again, each once, and the same
        np.testing.assert_array_equal(again.clips[text], clean[text])
    assert sorted(again.respoken) == sorted(engines["eerste"].spoken[5:])
    assert len(again.respoken) == 5
    assert all(voices.cache.get(entry.path.stem) is not None for entry in voices.cache.entries())


def test_a_damaged_clip_the_voice_cannot_speak_again_is_a_clear_error(
    registry: VoiceRegistry, tmp_path: Path
) -> None:
    from rustpunt.voice.clipcache import CacheError

    voices, engines = voices_with(registry, tmp_path / "c", eerste=FakeEngine("een"))
    spoken = voices.speak(["Adem in."], registry, "eerste")
    _damage(next(voices.cache.entries()).path)
    engines["eerste"].reachable = False
    with pytest.raises(CacheError, match="damaged in the clip cache, and voice eerste could not"):
        spoken.clips["Adem in."]


def test_an_entry_from_before_loudness_blocks_is_measured_and_annotated(
    registry: VoiceRegistry, tmp_path: Path
) -> None:
    voices, engines = voices_with(registry, tmp_path / "c", eerste=FakeEngine("een"))
    first = voices.speak(TEXTS, registry, "eerste")
    for entry in voices.cache.entries():  # as an older rustpunt wrote them: no loudness blocks
        key = entry.path.stem
        header, clip = voices.cache.header(key), voices.cache.get(key)
        assert header is not None and clip is not None and LOUDNESS_FIELD in header
        entry.path.unlink()
        voices.cache.put(key, clip, header["text"], header["engine"])
        assert LOUDNESS_FIELD not in voices.cache.header(key)  # type: ignore[operator]
    again = voices.speak(TEXTS, registry, "eerste")
    assert again.synthesized == 0 and len(engines["eerste"].spoken) == 5
    same_sessions(first, again)
    for entry in voices.cache.entries():  # annotated, and read back from the new header
        header = voices.cache.header(entry.path.stem)
        assert header is not None and LOUDNESS_FIELD in header
    same_sessions(first, voices.speak(TEXTS, registry, "eerste"))
