"""The piper engine through the real piper-tts code (espeak phonemes, phoneme ids, onnxruntime),
speaking with a tiny Piper-shaped model that tests/tinypiper.py builds with the onnx package."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from piper import PiperVoice

from rustpunt.audio.pcm import prepare_clip
from rustpunt.errors import VoiceError, VoiceUnavailable
from rustpunt.voice.clipcache import ClipCache, clip_key
from rustpunt.voice.engines import create_engine
from rustpunt.voice.engines.piper import SENTENCE_GAP_MS, PiperEngine
from rustpunt.voice.profiles import VoiceRegistry
from rustpunt.voice.speak import Voices
from tinypiper import HOP, SAMPLE_RATE, write_voice


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder holding the tiny voice, and the only folder rustpunt looks in."""
    folder = tmp_path / "models"
    write_voice(folder, "nl_BE-tiny-medium")
    monkeypatch.setenv("RUSTPUNT_VOICE_MODELS", str(folder))
    return folder


def expected_ids(model: Path, text: str) -> list[list[int]]:
    """The phoneme ids piper-tts itself makes of `text`, one list per sentence."""
    voice = PiperVoice.load(model)
    return [voice.phonemes_to_ids(phonemes) for phonemes in voice.phonemize(text) if phonemes]


def samples(audio_data: bytes) -> np.ndarray:
    return np.frombuffer(audio_data, dtype="<i2")


def dominant_frequency(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / pcm.size)


def test_speaks_through_phoneme_ids_at_the_models_rate(models: Path) -> None:
    engine = PiperEngine(voice="nl_BE-tiny-medium")
    text = "Adem rustig in."
    audio = engine.synthesize(text)
    assert audio.codec == "s16le"
    assert audio.sample_rate == SAMPLE_RATE
    ids = expected_ids(models / "nl_BE-tiny-medium.onnx", text)
    assert len(ids) == 1 and len(ids[0]) > 10  # espeak phonemes, each with its padding id
    assert samples(audio.data).size == len(ids[0]) * HOP
    # the model's own level (the tiny model says 0.5 of full scale), not Piper's per-sentence
    # normalisation, which would make the level jump from sentence to sentence
    assert np.abs(samples(audio.data)).max() == pytest.approx(0.5 * 32767, abs=2)


def test_sentences_are_joined_with_a_gap(models: Path) -> None:
    text = "Adem rustig in. En weer uit."
    audio = PiperEngine(voice="nl_BE-tiny-medium").synthesize(text)
    ids = expected_ids(models / "nl_BE-tiny-medium.onnx", text)
    assert len(ids) == 2
    gap = SAMPLE_RATE * SENTENCE_GAP_MS // 1000
    pcm = samples(audio.data)
    assert pcm.size == (len(ids[0]) + len(ids[1])) * HOP + gap
    first_end = len(ids[0]) * HOP
    assert not pcm[first_end : first_end + gap].any()


def test_length_scale_slows_the_voice(models: Path) -> None:
    text = "Laat je schouders zakken."
    plain = samples(PiperEngine(voice="nl_BE-tiny-medium").synthesize(text).data)
    calm = samples(PiperEngine(voice="nl_BE-tiny-medium", length_scale=1.5).synthesize(text).data)
    assert calm.size == int(plain.size * 1.5)


def test_the_text_reaches_the_model(models: Path) -> None:
    """The tiny model's pitch follows the mean phoneme id: other words, another tone."""
    engine = PiperEngine(voice="nl_BE-tiny-medium")
    first = samples(engine.synthesize("aaaa aaaa aaaa").data)
    second = samples(engine.synthesize("zuur zuur zuur").data)
    assert (
        abs(dominant_frequency(first, SAMPLE_RATE) - dominant_frequency(second, SAMPLE_RATE)) > 10
    )


def test_speaker_by_number_and_by_name(tmp_path: Path) -> None:
    model = write_voice(tmp_path, "nl_NL-multi-medium", speakers=3)
    tones = {
        speaker: dominant_frequency(
            samples(PiperEngine(model=str(model), speaker=speaker).synthesize("Adem in.").data),
            SAMPLE_RATE,
        )
        for speaker in (0, 2, "speaker2")
    }
    assert tones[2] == tones["speaker2"]
    assert tones[2] - tones[0] > 50
    with pytest.raises(VoiceError, match="no speaker 'nobody'"):
        PiperEngine(model=str(model), speaker="nobody").synthesize("Adem in.")
    assert "from 0 to 2" in str(PiperEngine(model=str(model), speaker=5).check())


def test_clip_reaches_the_session_rate(models: Path) -> None:
    audio = PiperEngine(voice="nl_BE-tiny-medium").synthesize("Ontspan je kaak.")
    clip = prepare_clip(audio)
    assert clip.dtype == np.dtype("<i2")
    assert abs(clip.size - 2 * samples(audio.data).size) < 200  # 22,050 Hz to 44,100 Hz


def test_identity_holds_the_model_checksum(models: Path) -> None:
    engine = PiperEngine(voice="nl_BE-tiny-medium", length_scale=1.2)
    identity = engine.identity()
    assert identity["engine"] == "piper"
    assert len(identity["model_sha256"]) == 64
    assert identity["length_scale"] == 1.2
    key_before = clip_key(identity, 1.0, "Adem in.")

    config = models / "nl_BE-tiny-medium.onnx.json"
    document = json.loads(config.read_text())
    document["inference"]["noise_scale"] = 0.5
    config.write_text(json.dumps(document))
    assert clip_key(engine.identity(), 1.0, "Adem in.") != key_before

    write_voice(models, "nl_BE-tiny-medium", speakers=2)  # a retrained model, same name
    assert engine.identity()["model_sha256"] != identity["model_sha256"]
    assert clip_key(engine.identity(), 1.0, "Adem in.") != key_before


def test_identity_changes_with_every_setting(models: Path) -> None:
    base = PiperEngine(voice="nl_BE-tiny-medium").identity()
    for setting in ({"length_scale": 1.1}, {"noise_scale": 0.3}, {"noise_w_scale": 0.5}):
        assert PiperEngine(voice="nl_BE-tiny-medium", **setting).identity() != base


def test_missing_voice_says_the_install_command(models: Path) -> None:
    engine = create_engine("piper", {"voice": "nl_BE-nathalie-medium"})
    with pytest.raises(VoiceUnavailable, match=r"`rustpunt voices install nl_BE-nathalie-medium`"):
        engine.identity()
    with pytest.raises(VoiceUnavailable, match="not installed"):
        engine.synthesize("Adem in.")
    assert "rustpunt voices install nl_BE-nathalie-medium" in str(engine.check())
    assert PiperEngine(voice="nl_BE-tiny-medium").check() is None


def test_half_a_model_is_not_installed(models: Path) -> None:
    (models / "nl_BE-tiny-medium.onnx.json").unlink()
    assert "not installed" in str(PiperEngine(voice="nl_BE-tiny-medium").check())


def test_a_model_path_without_its_config(tmp_path: Path) -> None:
    model = write_voice(tmp_path, "nl_BE-tiny-medium")
    model.with_name(model.name + ".json").unlink()
    problem = PiperEngine(model=str(model)).check()
    assert problem is not None and problem.startswith(f"{model}.json: Piper model file not found")


def test_a_corrupt_model_is_unavailable(tmp_path: Path) -> None:
    model = write_voice(tmp_path, "nl_BE-tiny-medium")
    model.write_bytes(b"not a model" * 10)
    with pytest.raises(VoiceUnavailable, match="cannot load the Piper voice"):
        PiperEngine(model=str(model)).synthesize("Adem in.")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "exactly one of"),
        ({"voice": "x", "model": "y.onnx"}, "exactly one of"),
        ({"voice": "nathalie"}, "Piper voice id"),
        ({"model": "voice.bin"}, "path of a .onnx file"),
        ({"voice": "nl_BE-nathalie-medium", "length_scale": 3}, "from 0.5 to 2"),
        ({"voice": "nl_BE-nathalie-medium", "noise_scale": "hoog"}, "noise_scale"),
        ({"voice": "nl_BE-nathalie-medium", "speed": 1}, "unknown piper setting 'speed'"),
    ],
)
def test_bad_settings_are_voice_errors(settings: dict[str, object], message: str) -> None:
    with pytest.raises(VoiceError, match=message):
        create_engine("piper", settings)


def write_profile(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


def test_a_missing_model_falls_back_for_the_whole_session(tmp_path: Path, models: Path) -> None:
    voices = tmp_path / "voices"
    write_profile(
        voices,
        "test-piper-missing",
        "engine: piper\nsettings:\n  voice: nl_BE-absent-medium\nfallback: nl-espeak\n",
    )
    registry = VoiceRegistry([voices])
    cache = ClipCache(tmp_path / "cache")
    spoken = Voices(cache).speak(["Adem in.", "Adem uit."], registry, "test-piper-missing")
    assert spoken.profile.name == "nl-espeak"
    assert spoken.fallback_reason is not None
    assert "rustpunt voices install nl_BE-absent-medium" in spoken.fallback_reason
    with pytest.raises(VoiceUnavailable, match="--strict"):
        Voices(cache).speak(["Adem in."], registry, "test-piper-missing", strict=True)


def test_a_profile_model_path_is_relative_to_the_profile(tmp_path: Path) -> None:
    voices = tmp_path / "voices"
    write_voice(voices / "models", "nl_BE-tiny-medium")
    write_profile(
        voices,
        "test-piper-local",
        "engine: piper\nsettings:\n  model: models/nl_BE-tiny-medium.onnx\n  length_scale: 1.1\n",
    )
    registry = VoiceRegistry([voices])
    cache = ClipCache(tmp_path / "cache")
    spoken = Voices(cache).speak(["Adem in.", "Adem uit."], registry, "test-piper-local")
    assert spoken.profile.name == "test-piper-local"
    assert spoken.fallback_reason is None
    assert spoken.synthesized == 2
    again = Voices(cache).speak(["Adem in.", "Adem uit."], registry, "test-piper-local")
    assert again.synthesized == 0  # from the clip cache
    assert np.array_equal(again.clips["Adem in."], spoken.clips["Adem in."])


def test_shipped_profiles_name_the_recommended_dutch_voices() -> None:
    registry = VoiceRegistry()
    piper = {
        name: registry.get(name)
        for name in registry.names()
        if registry.get(name).engine == "piper"
    }
    voices = sorted(str(profile.settings["voice"]) for profile in piper.values())
    assert voices == [
        "nl_BE-nathalie-medium",
        "nl_BE-rdh-medium",
        "nl_NL-pim-medium",
        "nl_NL-ronnie-medium",
    ]
    assert all(profile.fallback == "nl-espeak" for profile in piper.values())
    assert not any("mls" in voice for voice in voices)
    for profile in piper.values():
        create_engine(profile.engine, profile.settings)  # the settings are valid


def test_without_piper_tts_the_voice_is_unavailable(
    models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)  # what `import piper` meets when not installed
    engine = PiperEngine(voice="nl_BE-tiny-medium")
    with pytest.raises(VoiceUnavailable, match=r"pip install 'rustpunt\[piper\]'"):
        engine.identity()
    assert "optional piper-tts package" in str(engine.check())


SCRIPT = """title: Piper proef
steps:
  - Adem rustig in.
  - text: Adem langzaam uit.
    pause: 2
"""


@pytest.mark.slow
def test_a_build_speaks_with_piper_and_falls_back_without_its_model(tmp_path: Path) -> None:
    from audiotools import duration_ms
    from conftest import run_cli

    voices = tmp_path / "voices"
    write_voice(voices / "models", "nl_BE-tiny-medium")
    write_profile(
        voices,
        "test-piper-build",
        "engine: piper\nsettings:\n  model: models/nl_BE-tiny-medium.onnx\nfallback: nl-espeak\n",
    )
    write_profile(
        voices,
        "test-piper-absent",
        "engine: piper\nsettings:\n  voice: nl_BE-absent-medium\nfallback: nl-espeak\n",
    )
    script = tmp_path / "proef.yaml"
    script.write_text(SCRIPT, encoding="utf-8")

    built = run_cli("build", script, "-o", tmp_path / "piper", "--voice", "test-piper-build",
                    "--voices-dir", voices)  # fmt: skip
    assert built.returncode == 0, built.stderr
    sidecar = json.loads((tmp_path / "piper" / "proef.json").read_text())
    assert sidecar["voice"]["used"] == "test-piper-build"
    assert sidecar["voice"]["engine"]["engine"] == "piper"
    assert len(sidecar["voice"]["engine"]["model_sha256"]) == 64
    assert sidecar["voice"]["fallback_reason"] is None
    assert duration_ms(tmp_path / "piper" / "proef.mp3") > 2000

    fallen = run_cli("build", script, "-o", tmp_path / "fallback", "--voice", "test-piper-absent",
                     "--voices-dir", voices)  # fmt: skip
    assert fallen.returncode == 0, fallen.stderr
    sidecar = json.loads((tmp_path / "fallback" / "proef.json").read_text())
    assert sidecar["voice"]["used"] == "nl-espeak"
    assert "rustpunt voices install nl_BE-absent-medium" in sidecar["voice"]["fallback_reason"]

    strict = run_cli("build", script, "-o", tmp_path / "strict", "--voice", "test-piper-absent",
                     "--voices-dir", voices, "--strict")  # fmt: skip
    assert strict.returncode == 1
    assert "rustpunt voices install nl_BE-absent-medium" in strict.stderr
    assert not (tmp_path / "strict" / "proef.mp3").exists()


def _noisy_digests(model: Path, order: list[int]) -> list[str]:
    import hashlib

    texts = ["Adem rustig in.", "Laat je schouders zakken."]
    engine = PiperEngine(model=str(model), noise_scale=0.667)
    return [hashlib.sha256(engine.synthesize(texts[i]).data).hexdigest() for i in order]


def test_a_noisy_voice_speaks_the_same_samples_every_time(tmp_path: Path) -> None:
    """A VITS voice draws noise from onnxruntime's generator, seeded from the clock per session
    and advancing per run: the same text must still give the same samples, in any order and in
    another process."""
    import subprocess

    model = write_voice(tmp_path / "noisy", noisy=True)
    first, again, other, third = _noisy_digests(model, [0, 0, 1, 0])
    assert first == again == third != other
    code = (
        f"import sys; sys.path[:0] = {sys.path!r}\n"
        "from pathlib import Path\n"
        "from test_engine_piper import _noisy_digests\n"
        f"print(*_noisy_digests(Path({str(model)!r}), [1, 0]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split() == [other, first]
