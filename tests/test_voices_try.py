"""`rustpunt voices try`: a short real MP3 of one text in one voice, lexicon applied, measured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from mutagen.id3 import ID3
from piper import PiperVoice

from audiotools import chapters, decode, duration_ms, loudness, silences
from conftest import run_cli
from rustpunt.build.preview import LEAD_MS
from rustpunt.cli import cli
from tinypiper import HOP, SAMPLE_RATE, write_voice


def try_voice(*arguments: str | Path) -> dict[str, object]:
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["voices", "try", *map(str, arguments), "--json"]
    )
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_espeak_with_the_lexicon(tmp_path: Path) -> None:
    output = tmp_path / "espeak.mp3"
    document = try_voice("nl-espeak", "De GGZ adviseert 2x per dag 5 min.", "-o", output)
    assert document["spoken"] == "De gee-gee-zet adviseert twee keer per dag vijf minuten."
    assert document["voice"] == "nl-espeak"
    pcm = decode(output)
    assert 2500 < duration_ms(output) < 8000
    assert abs(duration_ms(output) - int(document["duration_ms"])) < 60
    quiet = silences(output, noise_db=-50, min_ms=200)
    assert quiet[0][0] == 0 and LEAD_MS - 60 <= quiet[0][1] <= LEAD_MS + 60  # the lead-in
    assert np.abs(pcm).max() > 3000  # speech in between
    lufs, peak = loudness(output)
    assert -23 < lufs < -15 and peak <= -1.0  # the session's loudness target, roughly
    tags = ID3(output)
    assert str(tags["TIT2"]) == "De GGZ adviseert 2x per dag 5 min."
    assert "spoken as: De gee-gee-zet" in str(tags.getall("COMM")[0])
    assert [title for _, _, title in chapters(output)] == ["nl-espeak"]


def test_a_folder_lexicon_changes_what_is_said(tmp_path: Path) -> None:
    (tmp_path / "lexicon.yaml").write_text("words:\n  rustpunt: rust punt\n", encoding="utf-8")
    document = try_voice(
        "nl-espeak", "Welkom bij rustpunt.", "-o", tmp_path / "a.mp3", "--lexicon-dir", tmp_path
    )
    assert document["spoken"] == "Welkom bij rust punt."


def test_the_tiny_piper_voice(tmp_path: Path) -> None:
    voices = tmp_path / "voices"
    model = write_voice(voices / "models", "nl_BE-tiny-medium")
    (voices / "test-piper-try.yaml").write_text(
        "engine: piper\nsettings:\n  model: models/nl_BE-tiny-medium.onnx\n  length_scale: 1.2\n"
        "fallback: nl-espeak\n",
        encoding="utf-8",
    )
    text = "Adem 4-7-8."
    output = tmp_path / "piper.mp3"
    document = try_voice("test-piper-try", text, "-o", output, "--voices-dir", voices)
    again = CliRunner(mix_stderr=False).invoke(
        cli,
        ["voices", "--voices-dir", str(voices), "try", "test-piper-try", text, "-o", str(output)],
    )
    assert again.exit_code == 0, again.stderr
    assert document["voice"] == "test-piper-try"
    assert str(document["engine"]).startswith("piper ")
    assert document["spoken"] == "Adem vier, zeven, acht."
    voice = PiperVoice.load(model)
    ids = sum(len(voice.phonemes_to_ids(p)) for p in voice.phonemize(str(document["spoken"])))
    speech_ms = int(ids * HOP * 1.2) * 1000 // SAMPLE_RATE
    assert abs(duration_ms(output) - (speech_ms + 2 * LEAD_MS)) < 80
    pcm = decode(output)[44100 * LEAD_MS // 1000 + 2000 : -44100 * LEAD_MS // 1000 - 2000]
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    assert spectrum.argmax() * 44100 / pcm.size > 100  # the model's tone, not silence


@pytest.mark.slow
def test_an_uninstalled_voice_is_an_error_not_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUSTPUNT_VOICE_MODELS", str(tmp_path / "empty"))
    output = tmp_path / "x.mp3"
    result = run_cli("voices", "try", "nl-piper-nathalie", "Adem in.", "-o", output)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "install it with `rustpunt voices install nl_BE-nathalie-medium`"
    )
    assert result.stderr.startswith("Error: Piper voice nl_BE-nathalie-medium is not installed")
    assert not output.exists()


@pytest.mark.parametrize("command", ["install", "try"])
def test_the_voices_subcommands_teach_with_an_example(command: str) -> None:
    result = CliRunner().invoke(cli, ["voices", command, "-h"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "Exit codes:" in result.output
    assert f"rustpunt voices {command}" in result.output


def test_the_file_is_what_its_suffix_says(tmp_path: Path) -> None:
    """-o p.wav wrote an MP3 under a .wav name: now a WAV; a suffix of neither is refused."""
    import wave

    wav = tmp_path / "p.wav"
    document = try_voice("nl-espeak", "Adem rustig in.", "-o", wav)
    with wave.open(str(wav), "rb") as read:
        assert (read.getnchannels(), read.getsampwidth(), read.getframerate()) == (1, 2, 44_100)
        frames = read.readframes(read.getnframes())
        assert round(read.getnframes() * 1000 / 44_100) == document["duration_ms"]
    samples = np.frombuffer(frames, dtype="<i2")
    lead = 44_100 * LEAD_MS // 1000
    assert not samples[: lead // 2].any() and np.abs(samples).max() > 3000  # silence, then speech
    mp3 = tmp_path / "p.mp3"
    try_voice("nl-espeak", "Adem rustig in.", "-o", mp3)
    assert mp3.read_bytes()[:3] == b"ID3"
    refused = CliRunner(mix_stderr=False).invoke(
        cli, ["voices", "try", "nl-espeak", "Adem in.", "-o", str(tmp_path / "p.ogg")]
    )
    assert refused.exit_code == 2 and "name it NAME.mp3 or NAME.wav" in refused.stderr
    assert not (tmp_path / "p.ogg").exists()
