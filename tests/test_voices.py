"""Voice profiles: the built-in ones ship with the package, others add or override, bad ones say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_script
from rustpunt.errors import VoiceError
from rustpunt.voice.engines import create_engine
from rustpunt.voice.profiles import DEFAULT_VOICE, VoiceRegistry, builtin_voices_dir, load_profile


def test_the_builtin_profiles() -> None:
    registry = VoiceRegistry()
    assert registry.names() == [
        "nl-espeak",
        "nl-google",
        "nl-piper-nathalie",
        "nl-piper-pim",
        "nl-piper-rdh",
        "nl-piper-ronnie",
    ]
    assert DEFAULT_VOICE == "nl-google"
    google = registry.get("nl-google")
    assert (google.engine, google.fallback, google.settings["lang"]) == ("gtts", "nl-espeak", "nl")
    assert 0.7 <= google.tempo <= 0.8  # gTTS reads at 160-175 words a minute: 120-130, pitch kept
    assert registry.get("nl-espeak").engine == "espeak"
    assert [p.name for p in registry.chain("nl-google")] == ["nl-google", "nl-espeak"]
    assert (builtin_voices_dir() / "nl-google.yaml").is_file()


def test_the_builtin_profiles_build_their_engines_only_when_used() -> None:
    """Reading the profiles imports no engine (gTTS and requests cost every command 50 ms);
    each shipped profile's settings are still valid for its engine."""
    import subprocess
    import sys

    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from rustpunt.voice.profiles import VoiceRegistry; VoiceRegistry(); "
            "print(sorted(m for m in ('gtts', 'requests', 'piper') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == "[]"
    for name in VoiceRegistry().names():
        profile = load_profile(builtin_voices_dir() / f"{name}.yaml")  # engine checked here
        assert create_engine(profile.engine, profile.settings) is not None


def test_a_folder_adds_and_overrides_by_name(tmp_path: Path) -> None:
    write_script(tmp_path, "nl-espeak.yaml", "engine: espeak\nsettings: {rate: 120}\n")
    write_script(tmp_path, "nl-snel.yml", "engine: espeak\nsettings: {rate: 200}\ntempo: 1.1\n")
    registry = VoiceRegistry([tmp_path])
    assert registry.get("nl-espeak").settings == {"rate": 120}
    assert registry.get("nl-snel").tempo == 1.1
    assert registry.get("nl-google").fallback == "nl-espeak"  # now the overridden one


def test_a_loop_of_fallbacks_ends(tmp_path: Path) -> None:
    write_script(tmp_path, "a.yaml", "engine: espeak\nfallback: b\n")
    write_script(tmp_path, "b.yaml", "engine: espeak\nfallback: a\n")
    assert [p.name for p in VoiceRegistry([tmp_path]).chain("a")] == ["a", "b"]


def test_the_fingerprint_follows_what_changes_the_sound(tmp_path: Path) -> None:
    one = load_profile(write_script(tmp_path, "x.yaml", "engine: espeak\nsettings: {rate: 120}\n"))
    same = load_profile(
        write_script(
            tmp_path, "y.yaml", "description: other words\nengine: espeak\nsettings: {rate: 120}\n"
        )
    )
    faster = load_profile(
        write_script(tmp_path, "z.yaml", "engine: espeak\nsettings: {rate: 130}\n")
    )
    assert one.fingerprint() == same.fingerprint() != faster.fingerprint()


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        ("engine: espeak\nspeed: 3\n", 2, "unknown key `speed`"),
        ("settings: {rate: 120}\n", 1, "`engine:` must name a speech engine"),
        ("engine: espeak\nsettings: [1, 2]\n", 2, "`settings:` must be a mapping"),
        (
            "description: x\nengine: espeak\ntempo: 3\n",
            3,
            "`tempo:` must be a number from 0.5 to 2.0",
        ),
        ("engine: espeak\ntempo: snel\n", 2, "`tempo:`"),
        ("engine: espeak\nfallback: [a]\n", 2, "`fallback:` must name another voice profile"),
        ("- engine\n", 1, "a voice profile is a mapping"),
        ("engine: [\n", 2, "voice profile is not valid YAML"),
        ("engine: robot\n", 1, "unknown engine 'robot'"),
        (
            "engine: espeak\nsettings:\n  voice: nl\n  rate: 9000\n",
            4,
            "'rate' must be a whole number",
        ),
        (
            "engine: espeak\nsettings:\n  rate: 120\n  snelheid: 3\n",
            4,
            "unknown espeak setting 'snelheid'",
        ),
        ("engine: gtts\nsettings:\n  lang: xx-nope\n", 3, "does not speak language 'xx-nope'"),
        # the error names its key: another key whose value the message happens to hold
        # (`not 1`) is not taken for it
        ("engine: gtts\nsettings:\n  timeout: 1\n  slow: 1\n", 4, "slow must be true or false"),
        ("engine: robot\nsettings:\n  rate: 1\n", 1, "unknown engine 'robot'"),
    ],
)
def test_bad_profiles_say_what_is_wrong_at_their_line(
    tmp_path: Path, content: str, line: int, words: str
) -> None:
    path = write_script(tmp_path, "kapot.yaml", content)
    registry = VoiceRegistry([tmp_path])  # a broken profile fails only where it is used
    assert registry.get("nl-espeak").engine == "espeak"
    with pytest.raises(VoiceError) as caught:
        registry.get("kapot")
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_an_unknown_engine_is_named() -> None:
    with pytest.raises(
        VoiceError, match="unknown engine 'festival'; known engines: espeak, gtts, piper"
    ):
        create_engine("festival", {})


def test_an_unknown_voice_lists_the_known_ones() -> None:
    with pytest.raises(
        VoiceError, match="unknown voice 'robot'; known voices: nl-espeak, nl-google"
    ):
        VoiceRegistry().get("robot")
