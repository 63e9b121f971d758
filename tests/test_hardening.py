"""Hostile input found by a newcomer (issue 10): each case fails cleanly, at once, and alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import audiotools
from conftest import run_main, write_script
from rustpunt.errors import ScriptError
from rustpunt.script.load import load_script
from rustpunt.script.plan import plan


@pytest.mark.parametrize(
    "step",
    [
        "Herhaal dit honderdduizend keer.",
        "Houd dit 999999999 seconden vast.",
        "Houd dit negentig minuten vast.",
        "Houd dit 1.000.000 seconden vast.",
    ],
)
def test_an_inferred_pause_over_an_hour_is_refused_at_its_line(tmp_path: Path, step: str) -> None:
    path = write_script(tmp_path, "lang.yaml", f"title: t\nsteps:\n  - Adem in.\n  - {step}\n")
    with pytest.raises(ScriptError, match=r"lang\.yaml:4: step 2 asks for a pause of over an hour"):
        plan(load_script(path))
    result = run_main("check", path)
    assert result.returncode == 1
    assert f"{path}:4: step 2 asks for a pause of over an hour" in result.stderr


def test_dutch_thousands_in_a_cue_are_a_thousand(tmp_path: Path) -> None:
    path = write_script(tmp_path, "d.yaml", "title: t\nsteps:\n  - Houd dit 1.000 seconden vast.\n")
    pauses = [item for item in plan(load_script(path)).items if getattr(item, "step", None) == 1]
    assert pauses[-1].ms == 1_000_000  # a thousand seconds, ending on time


def test_a_session_of_more_than_ten_hours_is_refused(tmp_path: Path) -> None:
    steps = "".join(f"  - text: Stap {n}.\n    pause: 1h\n" for n in range(12))
    path = write_script(tmp_path, "dag.yaml", f"title: t\nsteps:\n{steps}")
    with pytest.raises(ScriptError, match=r"dag\.yaml:3: the session would last about 12 hours"):
        plan(load_script(path))


def test_a_file_name_that_is_not_utf8_is_refused_by_check_and_build(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsencode(folder) + b"/adem\xe9.yaml"
    with open(name, "w", encoding="utf-8") as handle:
        handle.write("title: t\nsteps: [Adem in.]\n")
    checked = run_main("check", folder, "--json")
    assert checked.returncode == 1
    problem = json.loads(checked.stdout)["problems"][0]
    assert problem["file"] == f"{folder}/adem\N{REPLACEMENT CHARACTER}.yaml"
    assert "not valid UTF-8; rename the file" in problem["message"]
    built = run_main("build", folder, "--voice", "nl-espeak", "-o", tmp_path / "out")
    assert built.returncode == 1
    assert "not valid UTF-8; rename the file" in built.stderr and len(built.stderr) < 400
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_one_file_named_twice_is_one_script(tmp_path: Path, hermetic: Path) -> None:
    path = write_script(tmp_path, "adem.yaml", "title: t\nsteps: [Adem in.]\n")
    result = run_main(
        "build", path, os.path.relpath(path, tmp_path), tmp_path, "--voice", "nl-espeak",
        "-o", tmp_path / "out", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["built"] == 1


def test_a_broken_profile_fails_only_the_scripts_that_use_it(
    tmp_path: Path, hermetic: Path
) -> None:
    write_script(tmp_path, "voices/kapot.yaml", "engine: espeak\nsettings:\n  rate: 9000\n")
    good = write_script(tmp_path, "goed.yaml", "title: t\nvoice: nl-espeak\nsteps: [Adem in.]\n")
    uses = write_script(tmp_path, "stuk.yaml", "title: t\nvoice: kapot\nsteps: [Adem in.]\n")
    profile = tmp_path / "voices" / "kapot.yaml"
    result = run_main("build", tmp_path, "-o", tmp_path / "out")
    assert result.returncode == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert len(failed) == 1
    assert failed[0].startswith(f"failed  {uses}: {profile}:3: espeak setting 'rate'")
    assert (tmp_path / "out" / "goed.mp3").is_file()
    checked = run_main("check", tmp_path)
    assert checked.returncode == 1
    assert f"{profile}:3: espeak setting 'rate' must be" in checked.stderr
    assert f"{good}" not in checked.stderr


@pytest.mark.parametrize("kind", ["invalid", "self-looping symlink"])
def test_check_and_build_agree_on_an_unused_broken_profile(
    tmp_path: Path, hermetic: Path, kind: str
) -> None:
    """A profile no script asks for fails no build, so it fails no check either: a warning,
    exit 0; named on its own (as a pre-commit hook names it) it is an error."""
    profile = tmp_path / "voices" / "kapot.yaml"
    if kind == "invalid":
        write_script(tmp_path, "voices/kapot.yaml", "engine: [\n")
    else:
        profile.parent.mkdir()
        profile.symlink_to(profile.name)
    write_script(tmp_path, "goed.yaml", "title: t\nvoice: nl-espeak\nsteps: [Adem in.]\n")
    built = run_main("build", tmp_path, "-o", tmp_path / "out")
    assert built.returncode == 0, built.stderr
    checked = run_main("check", tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert f"{profile}" in checked.stderr and ": warning: " in checked.stderr
    assert "1 script(s) checked, 0 with problems" in checked.stdout
    named = run_main("check", profile)  # a link to nowhere "does not exist": exit 2
    assert named.returncode != 0 and f"{profile}" in named.stderr and "warning" not in named.stderr


def test_check_of_a_script_with_a_broken_profile_counts_and_says_it_once(tmp_path: Path) -> None:
    profile = write_script(tmp_path, "voices/kapot.yaml", "engine: espeak\nsettings: {rate: 5}\n")
    script = write_script(tmp_path, "s.yaml", "title: t\nvoice: kapot\nsteps: [Adem in.]\n")
    for args in ([script], [script, profile], [tmp_path]):
        checked = run_main("check", *args)
        assert checked.returncode == 1
        assert checked.stderr.count("espeak setting 'rate'") == 1, args
    assert (
        run_main("check", script).stderr.splitlines()[-1] == "1 script(s) checked, 1 with problems"
    )


def test_a_fallback_that_does_not_exist_is_found_by_check(tmp_path: Path) -> None:
    write_script(tmp_path, "voices/eigen.yaml", "engine: espeak\nfallback: nergens\n")
    path = write_script(tmp_path, "a.yaml", "title: t\nvoice: eigen\nsteps: [Adem in.]\n")
    checked = run_main("check", path)
    assert checked.returncode == 1
    assert "unknown voice 'nergens'" in checked.stderr


def test_output_to_a_pipe_is_never_cut(tmp_path: Path) -> None:
    result = run_main("voices")  # the Google voice's reason is longer than any terminal line
    assert result.returncode == 0
    assert "…" not in result.stdout
    assert any(len(line) > 100 for line in result.stdout.splitlines())


def test_a_fallback_is_one_line_once_per_build(tmp_path: Path, hermetic: Path) -> None:
    for name in ("a", "b", "c"):
        write_script(tmp_path, f"{name}.yaml", "title: t\nsteps: [Adem in.]\n")
    result = run_main("build", tmp_path, "-o", tmp_path / "out", "-j", "1")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "nl-espeak" in line]
    assert len(notes) == 1 and notes[0].startswith("Note: 3 session(s) spoken by nl-espeak (")
    assert notes[0].endswith("--strict fails instead")


@pytest.mark.slow
def test_a_script_of_300_steps_builds_with_every_chapter(tmp_path: Path, hermetic: Path) -> None:
    steps = "".join(f"  - text: Stap {n}.\n    pause: 0.2\n" for n in range(1, 301))
    write_script(tmp_path / "in", "lang.yaml", f"title: Driehonderd\nsteps:\n{steps}")
    assert run_main("check", tmp_path / "in").returncode == 0
    result = run_main("build", tmp_path / "in", "--voice", "nl-espeak", "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    found = audiotools.chapters(tmp_path / "out" / "lang.mp3")  # as ffmpeg-based players read it
    assert [title for _, _, title in found] == [f"Stap {n}." for n in range(1, 301)]


def test_check_reports_every_bad_step_and_build_still_refuses_in_one_line(
    tmp_path: Path,
) -> None:
    """Issue 21: six bad steps were one line of `check`; now each is its own FILE:LINE line."""
    steps = "".join(f"  - text: Stap {n}.\n    pause: -{n}\n" for n in range(1, 7))
    path = write_script(tmp_path, "zes.yaml", f"title: t\nsteps:\n{steps}")
    checked = run_main("check", path)
    assert checked.returncode == 1
    lines = checked.stderr.splitlines()
    assert lines[:6] == [
        f"{path}:{2 * n + 2}: `step {n} pause` -{n} is negative; a pause is zero or longer"
        for n in range(1, 7)
    ]
    assert lines[6] == "1 script(s) checked, 1 with problems"
    as_json = json.loads(run_main("check", path, "--json").stdout)
    assert [p["line"] for p in as_json["problems"]] == [4, 6, 8, 10, 12, 14]
    built = run_main("build", path, "--voice", "nl-espeak", "-o", tmp_path / "out")
    assert built.returncode == 1
    failed = [line for line in built.stderr.splitlines() if "zes.yaml" in line]
    assert len(failed) == 1 and "(and 5 more problems" in failed[0]
    assert not (tmp_path / "out" / "zes.mp3").exists()


@pytest.mark.parametrize(
    ("voice", "line"), [("zz-nonexistent", 3), ("nl+nope", 3)], ids=["voice", "variant"]
)
def test_an_espeak_voice_that_does_not_exist_fails_check_as_it_fails_build(
    tmp_path: Path, voice: str, line: int
) -> None:
    profile = write_script(
        tmp_path, "voices/zz.yaml", f"engine: espeak\nsettings:\n  voice: {voice}\n  rate: 100\n"
    )
    script = write_script(tmp_path, "s.yaml", "title: t\nvoice: zz\nsteps: [Adem in.]\n")
    built = run_main("build", script, "-o", tmp_path / "out")
    assert built.returncode == 1 and "espeak has no voice" in built.stderr
    checked = run_main("check", script)
    assert checked.returncode == 1
    assert f"{profile}:{line}: espeak has no voice" in checked.stderr
