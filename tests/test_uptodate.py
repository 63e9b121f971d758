"""The no-op rebuild by file stamps (rustpunt.build.uptodate): taken when nothing changed, never when
anything that goes into a build key did. Real builds of tiny scripts with the offline voice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, run_cli, run_main, write_script
from rustpunt.build import session
from rustpunt.build.uptodate import FOLDER
from rustpunt.build.workspace import Workspace
from rustpunt.inputs import Inputs

TINY = "title: Kort\nsteps:\n  - Adem in.\n  - text: Adem uit.\n    pause: 1\n"
AN_HOUR_AGO = time.time() - 3600

PROFILE = "engine: espeak\nsettings: {voice: nl}\ntempo: 1.0\n"


def backdate(*paths: Path) -> None:
    """As files edited a while ago: a stamp taken within seconds of an edit is not trusted."""
    for path in paths:
        os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """Every full check (session.prepare) the build makes, by script."""
    called: list[Path] = []
    real = session.prepare

    def counted(
        script_path: Path, options: session.BuildOptions, workspace: Workspace | None = None
    ) -> session.Prepared:
        called.append(script_path)
        return real(script_path, options, workspace)

    monkeypatch.setattr(session, "prepare", counted)
    yield called


def build(script: Path, out: Path, *options: str | Path, voice: str = "nl-espeak") -> dict:
    result = run_main("build", script, "-o", out, "--voice", voice, "--jobs", "1", "--json",
                      *options)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)["scripts"]
    return entry


def built_and_recorded(tmp_path: Path, voice: str = "nl-espeak") -> tuple[Path, Path]:
    """A tiny script built, its stamps recorded."""
    script = write_script(tmp_path / "scripts", "kort.yaml", TINY)
    backdate(script)
    out = tmp_path / "out"
    assert build(script, out, voice=voice)["status"] == "built"
    return script, out


def test_a_noop_rebuild_reads_no_script_nor_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script, out = built_and_recorded(tmp_path)

    def refuse(*args: object) -> None:
        raise AssertionError("the full check ran on a no-op rebuild")

    monkeypatch.setattr(session, "prepare", refuse)
    monkeypatch.setattr(session, "load_script", refuse)
    monkeypatch.setattr(session, "voices_for", refuse)
    again = build(script, out)
    assert again["status"] == "up to date"
    assert again["voice"] == "nl-espeak" and again["duration_ms"] > 1000
    assert again["mp3"] == str(out / "kort.mp3")
    assert sorted(p.name for p in out.iterdir()) == ["kort.json", "kort.mp3", "kort.vtt"]


def test_a_noop_rebuild_imports_no_audio_module_nor_engine(tmp_path: Path) -> None:
    script, out = built_and_recorded(tmp_path)
    program = (
        "import sys\nfrom rustpunt.cli import main\n"
        f"code = main(['build', {str(script)!r}, '-o', {str(out)!r}, '--voice', 'nl-espeak'])\n"
        "print(code, ' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO
    )
    code, modules = result.stdout.splitlines()[-1].split(" ", 1)
    assert code == "0" and "0           1       0" in result.stdout  # one up to date
    loaded = set(modules.split())
    heavy = {"yaml", "gtts", "requests", "mutagen", "rustpunt.build.session", "rustpunt.voice.speak",
             "rustpunt.build.episode", "rustpunt.build.episodefile", "rustpunt.mp3.export", "rustpunt.voice.engines.espeak", "rustpunt.script.load"}  # fmt: skip
    assert not heavy & loaded, heavy & loaded


def test_an_edit_of_the_same_size_with_the_mtime_put_back_is_rebuilt(
    tmp_path: Path, checks: list[Path]
) -> None:
    """The ctime, which no one can set back, gives the edit away."""
    script, out = built_and_recorded(tmp_path)
    edited = TINY.replace("Adem in.", "Adem op.")
    assert len(edited) == len(TINY)
    script.write_text(edited, encoding="utf-8")
    backdate(script)
    checks.clear()
    assert build(script, out)["status"] == "built"
    assert checks and "Adem op." in (out / "kort.vtt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "text", "status"),
    [
        ("lexicon.yaml", "words:\n  adem: aaa-dem\n", "built"),  # another lexicon: another key
        ("sound.yaml", "bell: start\n", "built"),
        ("sound.yml", "bell: none\n", "up to date"),  # read, and the same design as none
    ],
)
def test_a_settings_file_appearing_beside_the_script_is_seen(
    tmp_path: Path, checks: list[Path], name: str, text: str, status: str
) -> None:
    script, out = built_and_recorded(tmp_path)
    backdate(write_script(script.parent, name, text))
    checks.clear()
    assert build(script, out)["status"] == status
    assert checks  # the full check, not the stamps, decided


def test_a_new_input_read_through_the_workspace_is_recorded_without_a_list(
    tmp_path: Path, checks: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """prepare learns to read one more file: the record stamps it, though uptodate was not told,
    so a change to it is not missed by a no-op rebuild."""
    extra = write_script(tmp_path / "scripts", "uitspraak.txt", "adem\n")
    backdate(extra)
    real = session.load_script

    def reading_more(path: Path, inputs: Inputs | None = None) -> session.Script:
        if inputs is not None:
            inputs.read_bytes(extra)  # a new input, read as every input is
        return real(path, inputs)

    monkeypatch.setattr(session, "load_script", reading_more)
    script, out = built_and_recorded(tmp_path)
    checks.clear()
    assert build(script, out)["status"] == "up to date"
    assert not checks  # up to date by its stamps, the new input's among them

    extra.write_text("adem uit\n", encoding="utf-8")
    backdate(extra)
    assert build(script, out)["status"] == "up to date"
    assert checks == [script]  # the changed input sent the script through the full check


def test_a_changed_voice_profile_is_rebuilt(tmp_path: Path, checks: list[Path]) -> None:
    voices = tmp_path / "scripts" / "voices"
    profile = write_script(voices, "nl-eigen.yaml", PROFILE)
    backdate(profile, voices)
    script, out = built_and_recorded(tmp_path, voice="nl-eigen")
    checks.clear()
    assert build(script, out, voice="nl-eigen")["status"] == "up to date"
    assert not checks  # recorded: the profile and its folder are stamped too

    backdate(write_script(voices, "nl-ander.yaml", PROFILE), voices)  # a profile added
    assert build(script, out, voice="nl-eigen")["status"] == "up to date"
    assert checks
    # a process reads a profile once: the edit is built by a new one, as from the command line
    profile.write_text(PROFILE.replace("tempo: 1.0", "tempo: 1.2"), encoding="utf-8")
    backdate(profile)
    result = run_cli("build", script, "-o", out, "--voice", "nl-eigen", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["scripts"][0]["status"] == "built"


@pytest.mark.parametrize("name", ["kort.mp3", "kort.vtt"])
def test_a_truncated_output_is_rebuilt(tmp_path: Path, checks: list[Path], name: str) -> None:
    script, out = built_and_recorded(tmp_path)
    whole = (out / name).read_bytes()
    (out / name).write_bytes(whole[: len(whole) // 2])
    assert build(script, out)["status"] == "built"
    assert (out / name).read_bytes() == whole


def test_force_and_other_options_take_the_full_check(tmp_path: Path, checks: list[Path]) -> None:
    script, out = built_and_recorded(tmp_path)
    checks.clear()
    assert build(script, out, "--force")["status"] == "built"
    assert checks
    checks.clear()
    assert build(script, out, "--artist", "Iemand")["status"] == "built"  # a tag in the key
    assert checks
    checks.clear()
    assert build(script, out, "--artist", "Iemand")["status"] == "up to date"
    assert not checks
    assert build(script, out, "--artist", "Iemand", "--bed", "none")["status"] == "up to date"
    assert checks  # another --bed: checked in full (a bed of none is no bed: same key)
    checks.clear()
    result = run_main("build", script, "-o", out, "--artist", "Iemand", "--json")  # no --voice
    assert result.returncode == 0, result.stderr
    assert checks
    result = run_main("build", script, "-o", out, "--voice", "robot")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: unknown voice 'robot'; known voices: nl-espeak")


def test_a_damaged_or_unwritable_record_only_costs_the_full_check(
    tmp_path: Path, hermetic: Path, checks: list[Path]
) -> None:
    script, out = built_and_recorded(tmp_path)
    [record] = (hermetic / FOLDER).iterdir()
    record.write_text('{"format": 1, "scripts": {"', encoding="utf-8")
    checks.clear()
    assert build(script, out)["status"] == "up to date"
    assert checks
    checks.clear()
    assert build(script, out)["status"] == "up to date"  # recorded again by that full check
    assert not checks

    good = json.loads(record.read_text(encoding="utf-8"))
    entry = good["scripts"][str(script)]
    for damaged in (
        {**good, "sets": []},
        {**good, "scripts": {str(script): {**entry, "sets": 7}}},
        {**good, "scripts": {str(script): {**entry, "outputs": None}}},
        {**good, "scripts": {str(script): {**entry, "duration_ms": []}}},
        {**good, "sets": dict.fromkeys(good["sets"], "?")},
    ):
        record.write_text(json.dumps(damaged), encoding="utf-8")
        checks.clear()
        assert build(script, out)["status"] == "up to date"
        assert checks

    record.unlink()
    (hermetic / FOLDER).rmdir()
    (hermetic / FOLDER).write_text("not a folder", encoding="utf-8")  # nothing can be recorded
    script.write_text(TINY.replace("Adem uit.", "Adem zacht uit."), encoding="utf-8")
    backdate(script)
    assert build(script, out)["status"] == "built"
    checks.clear()
    assert build(script, out)["status"] == "up to date"
    assert checks


def test_a_script_edited_just_now_is_not_trusted_to_its_stamp(
    tmp_path: Path, checks: list[Path]
) -> None:
    """A stamp taken in the same tick as an edit cannot tell a later edit of the same size."""
    script = write_script(tmp_path / "scripts", "kort.yaml", TINY)
    out = tmp_path / "out"
    assert build(script, out)["status"] == "built"
    checks.clear()
    assert build(script, out)["status"] == "up to date"
    assert checks  # not recorded: edited less than 2 s before it was read
    checks.clear()
    backdate(script)
    assert build(script, out)["status"] == "up to date"
    assert checks  # the backdated stamp is another one: checked in full, then recorded
    checks.clear()
    assert build(script, out)["status"] == "up to date"
    assert not checks


FAST_GOOGLE = """\
engine: gtts
settings: {lang: nl, timeout: 10, retries: 1, backoff: 0.01}
fallback: nl-espeak
"""


def test_a_fallback_session_is_up_to_date_only_while_its_voice_cannot_speak(
    tmp_path: Path, fake_google, checks: list[Path]
) -> None:
    voices = tmp_path / "voices"
    backdate(write_script(voices, "nl-google.yaml", FAST_GOOGLE), voices)
    script = write_script(tmp_path / "scripts", "kort.yaml", TINY)
    backdate(script)
    out = tmp_path / "out"

    def build_with_google() -> dict:
        result = run_main("build", script, "-o", out, "--voices-dir", voices, "--json")
        assert result.returncode == 0, result.stderr
        [entry] = json.loads(result.stdout)["scripts"]
        return entry

    fake_google.mode = "500"
    assert build_with_google()["voice"] == "nl-espeak"
    checks.clear()
    assert build_with_google()["status"] == "up to date"  # Google still down
    assert not checks  # by the stamps, after asking Google once
    fake_google.mode = "ok"
    again = build_with_google()
    assert (again["status"], again["voice"]) == ("built", "nl-google")
    assert checks
    checks.clear()
    assert build_with_google()["status"] == "up to date"
    assert not checks
