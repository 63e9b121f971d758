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
    assert COMMANDS == [
        "build", "cache", "check", "feed", "import", "plan", "review", "schema", "studio", "voices",
    ]  # fmt: skip


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
    # the other clip, and the two encoded speech parts of the spliced MP3 (made again when
    # needed): counted as `rustpunt cache` counts them
    before = json.loads(run_main("cache", "--json").stdout)
    assert (before["entries"], before["parts"]) == (1, 2)
    cleared = json.loads(run_main("cache", "--clear", "--json").stdout)
    assert (cleared["removed"], cleared["removed_parts"]) == (1, 2)
    assert cleared["freed_bytes"] == before["bytes"]
    assert not list(hermetic.glob("mp3parts/*/*"))
    assert run_main("cache", "--older-than", "3").returncode == 2
    other = tmp_path / "elders"
    assert json.loads(run_main("cache", "--cache-dir", other, "--json").stdout)["folder"] == str(
        other
    )


def _failures_with_json(tmp: Path) -> list[list[str | Path]]:
    """A failing run of every command that takes --json (one of each kind of failure)."""
    empty = tmp / "empty"
    empty.mkdir()
    bad = write_script(tmp, "bad.yaml", "title: t\nstpes: [a]\n")
    good = write_script(tmp, "good.yaml", "title: t\nsteps: [Adem in.]\n")
    return [
        ["build", empty],  # a folder with no scripts
        ["build", good, "--voice", "nl-nope", "-o", tmp / "out"],
        ["build", good, "-o", bad / "out"],  # an output folder that cannot be made
        ["build", good, "--nonsense"],  # refused by the parser before --json is read
        ["check", empty],
        ["plan", bad],
        ["feed", empty, "--base-url", "https://example.org/p"],
        ["cache", "--cache-dir", bad],
        ["voices", "try", "nl-nope", "tekst", "-o", tmp / "t.mp3"],
        ["voices", "install", "--timeout", "0", "nl_BE-nathalie-medium"],
        ["import", "-o", tmp / "imported"],  # a missing argument
    ]


def test_every_failure_with_json_is_one_json_document(tmp_path: Path) -> None:
    runs = _failures_with_json(tmp_path)
    with_json = {name for name, command in cli.commands.items()
                 if any("--json" in option.opts for option in command.params)}  # fmt: skip
    assert {str(run[0]) for run in runs} == with_json
    for args in runs:
        plain = run_main(*args)
        assert plain.returncode != 0 and plain.stdout == "", args
        answered = run_main(*args, "--json")
        document = json.loads(answered.stdout)  # exactly one document, nothing else
        assert answered.returncode == plain.returncode == document["exit_code"], args
        assert document["error"] and document["error"] in answered.stderr, args
    plan = json.loads(run_main("plan", tmp_path / "bad.yaml", "--json").stdout)
    assert plan["file"] == str(tmp_path / "bad.yaml") and plan["line"] == 2


def test_watch_with_json_fails_as_one_json_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_main("build", tmp_path / "empty", "--watch", "--json")
    assert result.returncode == ExitStatus.ERROR
    [line] = result.stdout.splitlines()
    assert "no scripts" in json.loads(line)["error"]


def test_named_files_are_checked_as_what_they_are(tmp_path: Path) -> None:
    """A pre-commit hook passes every YAML file of a commit by name: each is read as rustpunt
    reads it (script, episode, lexicon, sound, voice profile, podcast settings); other YAML is
    passed over, saying so."""
    files = {
        "scripts/a.yaml": "title: t\nsteps: [Adem in.]\n",
        "scripts/lexicon.yaml": "words:\n  GGZ: gee gee zet\n",
        "scripts/sound.yaml": "bed: rain\n",
        "scripts/voices/eigen.yaml": "engine: espeak\nsettings: {voice: nl}\n",
        "output/podcast.yaml": "title: Rustpunt\nauthor: Wij\n",
        "podcast/aflevering.yaml": "title: E\nparts:\n  - script: ../scripts/a.yaml\n",
        "docker-compose.yml": "services:\n  web:\n    image: nginx\n",
        "mkdocs.yml": "site_name: x\nplugins: [search]\nx: !!python/name:os.path\n",
    }
    paths = [write_script(tmp_path, name, text) for name, text in files.items()]
    result = run_main("check", *paths, "--json")
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert [(Path(f["file"]).name, f["kind"], f["ok"]) for f in report["files"]] == [
        ("lexicon.yaml", "lexicon", True),
        ("sound.yaml", "sound settings", True),
        ("eigen.yaml", "voice profile", True),
        ("podcast.yaml", "podcast settings", True),
        ("a.yaml", "script", True),
        ("aflevering.yaml", "episode", True),
    ]
    assert [Path(p["file"]).name for p in report["passed_over"]] == [
        "docker-compose.yml",
        "mkdocs.yml",
    ]
    plain = run_main("check", *paths)
    assert f"passed over  {tmp_path / 'mkdocs.yml'}: not a rustpunt file" in plain.stdout
    assert "8 file(s) checked" not in plain.stdout and "2 passed over" in plain.stdout
    # each kind's own mistakes, at their lines; a misspelt script is still a script
    broken = {
        "scripts/lexicon.yaml": ("wordz:\n  GGZ: x\n", 1),
        "scripts/sound.yaml": ("bed: rain\nbedd: x\n", 2),
        "scripts/voices/eigen.yaml": ("engine: espeak\nfallback: nergens\n", 2),
        "output/podcast.yaml": ("title: R\ntitel: R\n", 2),
        "scripts/a.yaml": ("titel: t\nstpes: [a]\n", 1),
    }
    for name, (text, line) in broken.items():
        write_script(tmp_path, name, text)
        failed = run_main("check", tmp_path / name)
        assert failed.returncode == 1 and f"{tmp_path / name}:{line}: " in failed.stderr, name


def test_the_shipped_hook_passes_a_projects_yaml_files(tmp_path: Path) -> None:
    """What .pre-commit-hooks.yaml selects from a project's files, `rustpunt check` accepts."""
    import yaml

    from conftest import REPO

    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    files = {
        "scripts/adem.yaml": "title: t\nsteps: [Adem in.]\n",
        "scripts/lexicon.yaml": "words:\n  GGZ: gee gee zet\n",
        "scripts/sound.yaml": "bed: rain\n",
        "scripts/voices/eigen.yaml": "engine: espeak\nsettings: {voice: nl}\n",
        "podcast.yaml": "title: Rustpunt\n",
        "docker-compose.yml": "services:\n  web:\n    image: nginx\n",
        "mkdocs.yml": "site_name: x\n",
        ".pre-commit-config.yaml": "repos: []\n",
    }
    for name, text in files.items():
        write_script(tmp_path, name, text)
    selected = [
        name
        for name in files
        if re.search(hook["files"], name) and not re.search(hook["exclude"], name)
    ]
    assert ".pre-commit-config.yaml" not in selected and "scripts/voices/eigen.yaml" in selected
    result = run_main("check", *selected, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 passed over" in result.stdout


def test_a_wrong_command_line_for_sound_exits_2(tmp_path: Path) -> None:
    from rustpunt.cli.build import MIN_CHIME_SECONDS
    from rustpunt.script.soundsettings import MIN_CHIME_MS

    assert MIN_CHIME_SECONDS * 1000 == MIN_CHIME_MS
    script = write_script(tmp_path, "s.yaml", "title: t\nsteps: [Adem in.]\n")
    for option in (["--chime", "-5"], ["--chime", "3"], ["--bed", ""]):
        result = run_main("build", script, "-o", tmp_path / "out", *option)
        assert result.returncode == ExitStatus.USAGE, (option, result.stderr)
        assert option[0] in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "sub").mkdir()
    missing = run_main(
        "build", script, "-o", tmp_path / "out", "--bed", "nothere.wav", cwd=tmp_path / "sub"
    )
    assert missing.returncode == ExitStatus.USAGE
    assert (
        f"no such audio file {tmp_path / 'sub' / 'nothere.wav'} (a --bed file is relative to the"
        " current folder)" in missing.stderr
    )
    assert not (tmp_path / "out").exists()


def test_a_cache_that_is_a_file_is_refused_from_the_environment_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    afile = tmp_path / "cache"
    afile.write_text("not a folder")
    given = run_main("cache", "--cache-dir", afile)
    monkeypatch.setenv("RUSTPUNT_CACHE", str(afile))
    from_environment = run_main("cache")
    assert given.returncode == from_environment.returncode == ExitStatus.USAGE
    assert f"$RUSTPUNT_CACHE: {afile} is a file, not a folder" in from_environment.stderr
    assert run_main("cache", "--cache-dir", tmp_path / "elders").returncode == 0  # given wins


def test_a_cache_that_cannot_be_cleared_is_one_line(
    tmp_path: Path, hermetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    script = write_script(tmp_path, "c.yaml", "title: t\nsteps: [Adem in.]\n")
    assert run_main("build", script, "-o", tmp_path / "out", "--voice", "nl-espeak").returncode == 0

    def read_only(self: Path, missing_ok: bool = False) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "unlink", read_only)  # as on a read-only mount (root ignores modes)
    result = run_main("cache", "--clear")
    assert result.returncode == ExitStatus.ERROR
    assert result.stderr == (
        f"Error: {hermetic}: cannot remove from the clip cache (Read-only file system); 0 clip(s)"
        " and 0 speech part(s) removed before that; make the folder writable, or leave it as it"
        " is\n"
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
