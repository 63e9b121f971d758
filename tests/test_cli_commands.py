"""The commands other than a full build: help that teaches, check, plan, voices, cache, schema."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLES, run_main, write_script
from rustpunt.cli import cli
from rustpunt.errors import ExitStatus

COMMANDS = sorted(cli.commands)


def test_the_commands_are_the_documented_ones() -> None:
    assert COMMANDS == ["build", "cache", "check", "feed", "import", "plan", "schema", "voices"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_teaches_with_an_example(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "-h"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "Exit codes:" in result.output
    assert f"rustpunt {command}" in result.output


def test_top_level_help_and_version() -> None:
    result = run_main("--help")
    assert result.returncode == 0 and "Exit codes:" in result.stdout
    version = run_main("--version")
    assert version.returncode == 0 and version.stdout.startswith("rustpunt, version ")


def test_a_wrong_command_line_exits_2() -> None:
    result = run_main("build", "--jobs", "0")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--jobs" in result.stderr


@pytest.mark.parametrize("command", ["build", "check"])
def test_build_and_check_agree_on_what_is_not_a_script(tmp_path: Path, command: str) -> None:
    missing = run_main(command, tmp_path / "nope")
    assert missing.returncode == ExitStatus.USAGE
    assert f"Path '{tmp_path / 'nope'}' does not exist" in missing.stderr
    empty = run_main(command, tmp_path)
    assert empty.returncode == ExitStatus.ERROR
    assert empty.stderr.strip() == (
        f"Error: no scripts (*.yaml, *.yml) found in {tmp_path}; give script files or folders "
        "that hold them"
    )
    nowhere = run_main(command, cwd=tmp_path)  # the default scripts/ folder is not there
    assert nowhere.returncode == ExitStatus.USAGE and "no scripts/ folder here" in nowhere.stderr
    write_script(tmp_path, "ADEM.YAML", "title: t\nstpes: [a]\n")  # upper case is a script too
    found = run_main("check", tmp_path)
    assert (
        found.returncode == ExitStatus.ERROR and "ADEM.YAML:2: unknown key `stpes`" in found.stderr
    )


def test_an_unwritable_output_folder_fails_before_any_speech(
    tmp_path: Path, hermetic: Path
) -> None:
    script = write_script(tmp_path, "a.yaml", "title: t\nsteps: [Adem in.]\n")
    (tmp_path / "file").write_text("not a folder")
    result = run_main("build", script, "-o", tmp_path / "file" / "out")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: {tmp_path / 'file' / 'out'}: cannot write the output folder (Not a directory); "
        "choose another output folder or fix its permissions"
    ]
    assert not list(hermetic.glob("clips/*/*.clip"))  # nothing was synthesised


def test_two_scripts_with_one_output_name_fail_and_the_others_build(
    tmp_path: Path, hermetic: Path
) -> None:
    first = write_script(tmp_path / "in", "adem.yaml", "title: t\nsteps: [a]\n")
    second = write_script(tmp_path / "in", "adem.YML", "title: t\nsteps: [b]\n")
    good = write_script(tmp_path / "in", "goed.yaml", "title: t\nsteps: [Adem in.]\n")
    target = tmp_path / "out" / "adem.mp3"
    result = run_main(
        "build", tmp_path / "in", good, "--voice", "nl-espeak", "-o", tmp_path / "out"
    )
    assert result.returncode == 1, result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert sorted(failed) == sorted([
        f"failed  {first}: {second} would be built into the same {target}; rename one of them, "
        "or build them into different folders with -o",
        f"failed  {second}: {first} would be built into the same {target}; rename one of them, "
        "or build them into different folders with -o",
    ])  # fmt: skip
    assert (tmp_path / "out" / "goed.mp3").is_file() and not target.exists()
    checked = run_main("check", tmp_path / "in")
    assert checked.returncode == 1
    assert f"{first}: {second} would be built into the same" in checked.stderr
    assert "3 script(s) checked, 2 with problems" in checked.stderr


def test_check_reports_every_problem_as_file_line_message(tmp_path: Path) -> None:
    good = write_script(tmp_path, "goed.yaml", "title: t\nsteps: [Adem in.]\n")
    typo = write_script(tmp_path, "typo.yaml", "title: t\nstpes: [a]\n")
    voice = write_script(tmp_path, "stem.yaml", "title: t\nvoice: robot\nsteps: [a]\n")
    evil = write_script(
        tmp_path,
        "evil.yaml",
        "title: !!python/object/apply:os.system [touch /tmp/pwned]\nsteps: [a]\n",
    )
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)))
    result = run_main("check", tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert f"{typo}:2: unknown key `stpes` at the top level; did you mean `steps`?" in lines
    assert (
        f"{voice}:2: unknown voice 'robot'; known voices: nl-espeak, nl-google, nl-piper-nathalie, "
        "nl-piper-pim, nl-piper-rdh, nl-piper-ronnie" in lines
    )
    assert (
        f"{evil}:1: YAML error: the tag !!python/object/apply:os.system is not allowed; scripts hold only text, numbers, lists and mappings"
        in lines
    )
    assert (
        f"{tmp_path / 'binary.yaml'}:1: this is a binary file (a NUL byte here), not a YAML script"
        in lines
    )
    assert lines[-1] == "5 script(s) checked, 4 with problems"
    assert "Traceback" not in result.stderr
    assert run_main("check", good).returncode == 0
    report = json.loads(run_main("check", tmp_path, "--json").stdout)
    assert report["checked"] == 5
    assert {
        "file": str(typo),
        "line": 2,
        "message": "unknown key `stpes` at the top level; did you mean `steps`?",
    } in report["problems"]


@pytest.mark.skipif(not EXAMPLES, reason="no example scripts")
def test_the_examples_are_valid() -> None:
    result = run_main("check", *EXAMPLES)
    assert result.returncode == 0, result.stderr
    assert f"{len(EXAMPLES)} script(s) checked, 0 with problems" in result.stdout


def test_plan_shows_each_pause_and_its_rule(tmp_path: Path) -> None:
    script = write_script(tmp_path, "p.yaml", """\
title: Plan
cycle: 6
steps:
  - Houd dit vijf seconden vast.
  - Herhaal dit vier keer.
  - {text: Laat los., pause: 3}
  - Sluit je ogen.
""")  # fmt: skip
    result = run_main("plan", script)
    assert result.returncode == 0
    text = result.stdout
    assert "step  1  Houd dit vijf seconden vast." in text
    assert (
        "[seconds]" in text and "[repeat]" in text and "[explicit]" in text and "[default]" in text
    )
    document = json.loads(run_main("plan", script, "--json").stdout)
    pauses = {
        item["step"]: item for item in document["items"] if item["type"] == "pause" and item["step"]
    }
    assert pauses[1]["ms"] >= 5000 and pauses[1]["rule"] == "seconds"
    assert pauses[2] == pauses[2] | {"ms": 24_000, "rule": "repeat"}
    assert pauses[3] == pauses[3] | {"ms": 3000, "rule": "explicit"}
    assert pauses[4]["rule"] == "default"
    speech_ms = 14 * 60_000 // 115  # 14 words at the voices' measured 115 words a minute
    assert document["estimated_ms"] == document["pause_ms"] + speech_ms
    assert text.splitlines()[-1].endswith(
        f"about {document['estimated_ms'] / 60_000:.1f} min in all"
    )


def test_plan_of_a_bad_script_is_one_line(tmp_path: Path) -> None:
    script = write_script(tmp_path, "p.yaml", "title: t\nsteps:\n  - text: a\n    pause: soms\n")
    result = run_main("plan", script)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f'Error: {script}:4: `step 1 pause` \'soms\' is not a duration; write seconds (6, 2.5) or a duration like "90s", "1m30s"'
    ]


def test_voices_say_whether_each_can_speak_now(fake_google) -> None:
    rows = {row["name"]: row for row in json.loads(run_main("voices", "--json").stdout)}
    assert rows["nl-espeak"]["status"] == "ready"
    assert rows["nl-google"]["status"] == "ready" and rows["nl-google"]["default"]
    assert rows["nl-google"]["fallback"] == "nl-espeak"
    fake_google.mode = "429"
    rows = {row["name"]: row for row in json.loads(run_main("voices", "--json").stdout)}
    assert (
        rows["nl-google"]["status"].startswith("unavailable:")
        and "429" in rows["nl-google"]["status"]
    )


def test_voices_offline() -> None:
    result = run_main("voices")
    assert result.returncode == 0
    assert "* nl-google" in result.stdout and "unavailable" in result.stdout
    assert re.search(r"^  nl-espeak +espeak  ready$", result.stdout, re.MULTILINE)
    assert re.search(
        r"^  nl-piper-nathalie +piper +not installed: rustpunt voices install nl_BE-nathalie-medium$",
        result.stdout,
        re.MULTILINE,
    )


def test_voices_dir_overrides_a_builtin_profile(tmp_path: Path) -> None:
    write_script(
        tmp_path, "nl-espeak.yaml", "description: mine\nengine: espeak\nsettings: {rate: 200}\n"
    )
    rows = {
        r["name"]: r
        for r in json.loads(
            run_main("voices", "--voices-dir", tmp_path, "--json", "--no-check").stdout
        )
    }
    assert rows["nl-espeak"]["description"] == "mine"
    write_script(tmp_path, "kapot.yaml", "engine: [\n")
    result = run_main("voices", "--voices-dir", tmp_path)
    assert (
        result.returncode == 1
        and "kapot.yaml:" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_schema_is_json() -> None:
    result = run_main("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout)["required"] == ["title", "steps"]


def test_cache_shows_and_clears(tmp_path: Path, hermetic: Path) -> None:
    script = write_script(tmp_path, "c.yaml", "title: t\nsteps: [Adem in., Adem uit.]\n")
    assert run_main("build", script, "-o", tmp_path / "out", "--voice", "nl-espeak").returncode == 0
    shown = json.loads(run_main("cache", "--json", "--list").stdout)
    assert shown["folder"] == str(hermetic) and shown["entries"] == 2
    assert sorted(e["text"] for e in shown["list"]) == ["Adem in.", "Adem uit."]
    old = sorted(hermetic.glob("clips/*/*.clip"))[0]
    long_ago = time.time() - 40 * 86_400
    os.utime(old, (long_ago, long_ago))
    cleared = json.loads(run_main("cache", "--clear", "--older-than", "30", "--json").stdout)
    assert cleared["removed"] == 1 and not old.exists()
    # the other clip, and the two encoded speech parts of the spliced MP3 (made again when needed)
    assert json.loads(run_main("cache", "--clear", "--json").stdout)["removed"] == 3
    assert not list(hermetic.glob("mp3parts/*/*"))
    assert run_main("cache", "--older-than", "3").returncode == 2
    other = tmp_path / "elders"
    assert json.loads(run_main("cache", "--cache-dir", other, "--json").stdout)["folder"] == str(
        other
    )


def test_a_catastrophic_lexicon_pattern_is_one_line_from_check_plan_and_build(
    tmp_path: Path,
) -> None:
    """A pattern that would backtrack for ever on a step fails each command at its line."""
    write_script(
        tmp_path, "lexicon.yaml", "patterns:\n  - {match: Adem, say: adem}\n"
        "  - {match: '(a|aa)+$', say: x}\n",
    )  # fmt: skip
    script = write_script(tmp_path, "s.yaml", f"title: t\nsteps:\n  - {'a' * 40}!\n")
    expected = f"{tmp_path / 'lexicon.yaml'}:3: `match:` '(a|aa)+$' took more than 1 s on"
    for command in ("check", "plan", "build"):
        extra = ("-o", tmp_path / "out", "--voice", "nl-espeak") if command == "build" else ()
        result = run_main(command, script, *extra)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        lines = [line for line in result.stderr.splitlines() if expected in line]
        assert len(lines) == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "s.mp3").exists()
