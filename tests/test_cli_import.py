"""`rustpunt import`: what it prints, its JSON, exit codes, standard input, and an imported article
built into MP3s end to end."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from mutagen.id3 import ID3

import audiotools
from conftest import run_cli, run_main
from rustpunt.script.load import load_script

ARTICLES = Path(__file__).parent / "articles"
PAGE = ARTICLES / "ontspanning.html"
TIPS_ONLY = ARTICLES / "tips.txt"


@dataclass(frozen=True)
class Result:
    exit_code: int
    output: str
    stderr: str


def invoke(*args: str | Path, input: bytes | None = None) -> Result:
    """`rustpunt import ARGS` in this process, through main() as the console script runs it."""
    done = run_main("import", *args, input=input)
    return Result(done.returncode, done.stdout, done.stderr)


def test_it_prints_what_it_found_wrote_and_passed_over(tmp_path: Path) -> None:
    result = invoke(PAGE, "-o", tmp_path)
    assert result.exit_code == 0, result.stderr
    assert result.output.splitlines() == [
        f"{PAGE} “Ontspanningsoefeningen voor elke dag” (html)",
        f"  written      {tmp_path / 'bodyscan.yaml'}  “Bodyscan”, 7 steps",
        f"  written      {tmp_path / 'buikademhaling.yaml'}  “Buikademhaling”, 5 steps",
        f"  written      {tmp_path / 'de-4-7-8-ademhaling.yaml'}  “De 4-7-8-ademhaling”, 4 steps",
        "  passed over  5 tips, not an exercise (under “5 manieren om te ontspannen”)",
        f"3 script(s) written; build them: rustpunt build {tmp_path}",
    ]
    assert result.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bodyscan.yaml", "buikademhaling.yaml", "de-4-7-8-ademhaling.yaml",
    ]  # fmt: skip


def test_json_for_programs(tmp_path: Path) -> None:
    result = invoke(PAGE, ARTICLES / "stress.md", "-o", tmp_path, "--json")
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert (document["written"], document["exists"], document["failed"]) == (7, 0, 0)
    page, markdown = document["sources"]
    assert (page["source"], page["format"], page["title"], page["error"]) == (
        str(PAGE), "html", "Ontspanningsoefeningen voor elke dag", None,
    )  # fmt: skip
    assert page["url"] == "https://magazine.rustpunt.example/ontspanningsoefeningen"
    assert page["exercises"][0] == {
        "title": "Bodyscan", "steps": 7, "file": str(tmp_path / "bodyscan.yaml"),
        "status": "written", "left_out": [],
        "description": "Bij een bodyscan ga je met je aandacht door je hele lichaam, van je tenen"
        " tot je kruin. Zo merk je waar je spanning vasthoudt.",
    }  # fmt: skip
    assert page["passed_over"] == [{
        "kind": "tips", "items": 5, "heading": "5 manieren om te ontspannen",
        "message": "5 tips, not an exercise (under “5 manieren om te ontspannen”)",
    }]  # fmt: skip
    assert [p["kind"] for p in markdown["passed_over"]] == ["links", "tips", "links"]


def test_standard_input(tmp_path: Path) -> None:
    copied = "Even landen\r\n  1. Sluit je ogen.\r\n  2. Adem\u00a0drie keer diep in en uit.\r\n"
    result = invoke("-", "-o", tmp_path, input=copied.encode("utf-8"))
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "standard input (text)"
    script = load_script(tmp_path / "even-landen.yaml")
    assert (script.title, [s.text for s in script.steps]) == (
        "Even landen", ["Sluit je ogen.", "Adem drie keer diep in en uit."],
    )  # fmt: skip
    written = (tmp_path / "even-landen.yaml").read_text(encoding="utf-8")
    assert written.startswith("# Imported from standard input by `rustpunt import`")


def test_a_source_without_an_exercise_is_an_error_with_exit_code_1(tmp_path: Path) -> None:
    result = invoke(TIPS_ONLY, "-o", tmp_path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: {TIPS_ONLY}: no exercise found (passed over: 4 tips, not an exercise (under “Tien"
        " tips voor een rustig hoofd”)); an exercise is a heading followed by a numbered list of"
        " instructions such as “1. Ga rechtop zitten.”"
    ]
    assert not list(tmp_path.iterdir())


def test_existing_scripts_are_reported_the_others_written_and_force_overwrites(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "buikademhaling.yaml"
    mine.write_text("title: Mijn versie\nsteps: [Adem in.]\n", encoding="utf-8")
    result = invoke(PAGE, "-o", tmp_path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"  exists       {mine}  “Buikademhaling”, 5 steps: left as it is" in lines
    assert lines[-1] == (
        f"2 script(s) written, 1 already there (--force overwrites); build them: rustpunt build"
        f" {tmp_path}"
    )
    assert load_script(mine).title == "Mijn versie"
    assert (tmp_path / "bodyscan.yaml").exists()
    assert (tmp_path / "de-4-7-8-ademhaling.yaml").exists()
    forced = invoke(PAGE, "-o", tmp_path, "--force")
    assert forced.exit_code == 0
    assert f"  overwritten  {mine}  “Buikademhaling”, 5 steps" in forced.output
    assert load_script(mine).title == "Buikademhaling"


def test_explicit_pauses(tmp_path: Path) -> None:
    result = invoke(PAGE, "-o", tmp_path, "--explicit-pauses")
    assert result.exit_code == 0
    script = load_script(tmp_path / "de-4-7-8-ademhaling.yaml")
    assert [s.pause_ms for s in script.steps] == [4000, 7000, 8000, 30_000]  # 4-7-8, on time


def test_format_option_overrides_the_extension(tmp_path: Path) -> None:
    source = tmp_path / "bewaard.txt"  # a web page saved under a name that says text
    source.write_text(
        "<html><body><h2>Kort</h2><ol><li>Sluit je ogen.</li><li>Adem uit.</li></ol></body></html>",
        encoding="utf-8",
    )
    as_text = invoke(source, "-o", tmp_path / "a")
    assert as_text.exit_code == 1 and "no exercise found" in as_text.stderr
    as_html = invoke(source, "-o", tmp_path / "b", "--format", "html")
    assert as_html.exit_code == 0
    assert [s.text for s in load_script(tmp_path / "b" / "kort.yaml").steps] == [
        "Sluit je ogen.", "Adem uit.",
    ]  # fmt: skip


def test_without_trafilatura_one_line_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in sys.modules if n == "trafilatura" or n.startswith("trafilatura.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    result = invoke(PAGE, "-o", tmp_path)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {PAGE}: reading web pages needs trafilatura; pip install 'rustpunt[import]'\n"
    )


def test_no_source_is_a_usage_error() -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "Missing argument 'SOURCES...'" in result.stderr


@pytest.mark.slow
def test_an_imported_article_builds_offline_into_mp3s_with_a_chapter_per_step(
    tmp_path: Path,
) -> None:
    """The README's two commands, as a user runs them: import, then build with the offline voice."""
    scripts, output = tmp_path / "scripts", tmp_path / "output"
    imported = run_cli("import", PAGE, "-o", scripts, "--json")
    assert imported.returncode == 0, imported.stderr
    exercises = json.loads(imported.stdout)["sources"][0]["exercises"]
    checked = run_cli("check", scripts)
    assert checked.returncode == 0, checked.stderr
    built = run_cli("build", scripts, "-o", output, "--voice", "nl-espeak", "--json")
    assert built.returncode == 0, built.stderr
    report = json.loads(built.stdout)
    assert (report["built"], report["failed"]) == (len(exercises), 0)
    for exercise in exercises:
        mp3 = output / Path(exercise["file"]).with_suffix(".mp3").name
        assert mp3.stat().st_size > 10_000
        assert len(ID3(mp3).getall("CHAP")) == exercise["steps"]
        chapters = audiotools.chapters(mp3)  # as players read them, through ffmpeg
        assert len(chapters) == exercise["steps"]
        assert chapters[0][2] == load_script(exercise["file"]).steps[0].text


BODY_PAGE = """<html><head><title>Oefeningen</title></head><body>
<h2>Ademhaling</h2>
<ol><li>Ga rechtop zitten.</li><li>Adem in (pauze vier s) en uit.</li><li>Sluit je ogen.</li></ol>
<h2>Bodyscan</h2>
<ol><li>Ga liggen.</li><li>Voel je voeten.</li><li>Adem rustig door.</li></ol>
</body></html>
"""


def test_an_item_that_would_not_load_is_left_out_and_the_rest_is_written(tmp_path: Path) -> None:
    """One bad item neither aborts its source nor loses the exercise beside it; the headings of a
    page whose content sits directly in <body> are kept; trafilatura's own log lines stay out."""
    page = tmp_path / "oefeningen.html"
    page.write_text(BODY_PAGE, encoding="utf-8")
    out = tmp_path / "scripts"
    result = invoke(page, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.output.splitlines()[1:] == [
        f"  written      {out / 'ademhaling.yaml'}  “Ademhaling”, 2 steps",
        f"  written      {out / 'bodyscan.yaml'}  “Bodyscan”, 3 steps",
        f"2 script(s) written; build them: rustpunt build {out}",
    ]
    assert result.stderr.startswith(
        "  left out     item 2 “Adem in (pauze vier s) en uit.” (a comment in "
        f"{out / 'ademhaling.yaml'}): '(pauze vier s)' is not an inline pause"
    )
    script = load_script(out / "ademhaling.yaml")  # it loads: build takes it as it is
    assert [step.text for step in script.steps] == ["Ga rechtop zitten.", "Sluit je ogen."]
    text = (out / "ademhaling.yaml").read_text(encoding="utf-8")
    assert '  # left out by rustpunt import, item 2: "Adem in (pauze vier s) en uit."' in text
    assert text.index("Ga rechtop") < text.index("left out") < text.index("Sluit je ogen")
    document = json.loads(invoke(page, "-o", tmp_path / "again", "--json").output)
    [left_out] = document["sources"][0]["exercises"][0]["left_out"]
    assert left_out["item"] == 2 and "not an inline pause" in left_out["reason"]


def test_an_exercise_that_cannot_be_written_is_one_line_and_counted(tmp_path: Path) -> None:
    page = tmp_path / "oefeningen.html"
    page.write_text(BODY_PAGE, encoding="utf-8")
    (tmp_path / "bodyscan.yaml").mkdir()  # in the way of the second exercise
    result = invoke(page, "-o", tmp_path, "--force")
    assert result.exit_code == 1
    assert (
        f"  not written  “Bodyscan”: {tmp_path / 'bodyscan.yaml'}: is a folder, not a script;"
        in result.stderr
    )
    assert "Errno" not in result.stderr and (tmp_path / "ademhaling.yaml").is_file()
    assert result.output.splitlines()[-1] == (
        f"1 script(s) written, 1 not written; build them: rustpunt build {tmp_path}"
    )


def test_trafilatura_log_lines_stay_off_the_console(tmp_path: Path) -> None:
    page = tmp_path / "leeg.html"
    page.write_text("<html><body><div> </div></body></html>", encoding="utf-8")
    result = run_cli("import", page, "-o", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: {page}: no exercise found; an exercise is a heading followed by a numbered list"
        " of instructions such as “1. Ga rechtop zitten.”"
    ]
