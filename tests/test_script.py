"""The script loader: the format's contract, and a clear FILE:LINE error for every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_script
from rustpunt.errors import ScriptError
from rustpunt.memo import MEMOS
from rustpunt.script.load import MAX_CYCLE_MS, MIN_CYCLE_MS, _text_seconds, load_script
from rustpunt.script.sentences import InlinePause, split_inline

GOOD = """\
title: Ademhaling
description: Een korte oefening.
voice: nl-espeak
intro: Welkom.
outro: Tot de volgende keer.
pause: 4
cycle: 8
steps:
  - Adem rustig in door je neus.
  - text: Houd dit vijf seconden vast.
  - text: Laat los.
    pause: "1m30s"
  - text: Adem uit.
    pause: 2.5
"""


def test_a_good_script_loads_with_lines_and_milliseconds(tmp_path: Path) -> None:
    script = load_script(write_script(tmp_path, "a.yaml", GOOD))
    assert script.title == "Ademhaling"
    assert script.voice == "nl-espeak" and script.voice_line == 3
    assert (script.pause_ms, script.cycle_ms) == (4000, 8000)
    assert [s.text for s in script.steps] == [
        "Adem rustig in door je neus.", "Houd dit vijf seconden vast.", "Laat los.", "Adem uit.",
    ]  # fmt: skip
    assert [s.pause_ms for s in script.steps] == [None, None, 90_000, 2500]
    assert [s.line for s in script.steps] == [9, 10, 11, 13]
    assert [s.number for s in script.steps] == [1, 2, 3, 4]
    assert len(script.digest) == 64


@pytest.mark.parametrize(
    ("value", "ms"),
    [("0", 0), ("6", 6000), ("2.5", 2500), ('"6s"', 6000), ('"90s"', 90_000), ('"1m"', 60_000),
     ('"1m30s"', 90_000), ('"2,5"', 2500), ("3600", 3_600_000), ('"1h"', 3_600_000), ("0.001", 1)],
)  # fmt: skip
def test_pause_values(tmp_path: Path, value: str, ms: int) -> None:
    script = load_script(
        write_script(tmp_path, "p.yaml", f"title: t\nsteps:\n  - text: a\n    pause: {value}\n")
    )
    assert script.steps[0].pause_ms == ms


BAD = [
    # (name, content, line, words the message must hold)
    ("empty", "", 1, "empty"),
    ("blank", "\n\n   \n", 1, "empty"),
    ("binary", "\x00\x01\x02PNG", 1, "binary"),
    ("binary later", "title: t\nsteps:\n  - a\x00b\n", 3, "binary"),
    ("list at top", "- a\n- b\n", 1, "mapping"),
    ("plain text", "hallo daar\n", 1, "mapping"),
    ("no title", "steps:\n  - a\n", 1, "missing `title:`"),
    ("no steps", "title: t\n", 1, "missing `steps:`"),
    ("steps empty", "title: t\nsteps: []\n", 2, "at least one step"),
    ("steps not a list", "title: t\nsteps: hallo\n", 2, "must be a list"),
    ("title a list", "title: [a, b]\nsteps: [a]\n", 1, "`title` must be text"),
    ("title empty", "title: ''\nsteps: [a]\n", 1, "empty"),
    ("typo key", "title: t\nstpes:\n  - a\n", 2, "did you mean `steps`"),
    ("typo step key", "title: t\nsteps:\n  - txet: a\n", 3, "did you mean `text`"),
    ("step without text", "title: t\nsteps:\n  - pause: 3\n", 3, "no `text:`"),
    ("step a list", "title: t\nsteps:\n  - a\n  - [b, c]\n", 4, "step 2 must be text"),
    ("step null", "title: t\nsteps:\n  - a\n  -\n", 4, "step 2"),
    ("nothing to speak", "title: t\nsteps:\n  - a\n  - '...'\n", 4, "step 2` has nothing to speak ('...')"),
    ("outro of dashes", "title: t\noutro: '- - -'\nsteps: [a]\n", 2, "`outro` has nothing to speak"),
    ("negative pause", "title: t\nsteps:\n  - text: a\n    pause: -3\n", 4, "negative"),
    ("negative pause string", "title: t\nsteps:\n  - text: a\n    pause: '-5s'\n", 4, "negative"),
    ("absurd pause", "title: t\nsteps:\n  - text: a\n    pause: 3601\n", 4, "over an hour"),
    ("absurd pause string", "title: t\nsteps:\n  - text: a\n    pause: 2h\n", 4, "over an hour"),
    ("unreadable pause", "title: t\nsteps:\n  - text: a\n    pause: soms\n", 4, "not a duration"),
    ("bool pause", "title: t\nsteps:\n  - text: a\n    pause: yes\n", 4, "not a duration"),
    ("nan pause", "title: t\nsteps:\n  - text: a\n    pause: .nan\n", 4, "not a duration"),
    ("inf pause", "title: t\nsteps:\n  - text: a\n    pause: .inf\n", 4, "over an hour"),
    ("bad default pause", "title: t\npause: -1\nsteps: [a]\n", 2, "negative"),
    ("bad cycle", "title: t\ncycle: 0.5\nsteps: [a]\n", 2, "breathing cycle"),
    ("voice a number", "title: t\nvoice: 5\nsteps: [a]\n", 2, "`voice`"),
    ("duplicate key", "title: t\ntitle: u\nsteps: [a]\n", 2, "appears twice"),
    ("yaml syntax", "title: t\nsteps:\n  - a\n - b\n", 4, "YAML error"),
    ("unclosed quote", 'title: "t\nsteps: [a]\n', 3, "YAML error"),
    ("tab indent", "title: t\nsteps:\n\t- a\n", 3, "tabs are not allowed for indentation; indent with spaces"),
    ("tab in a step", "title: t\nsteps:\n  - text: a\n  \t  pause: 3\n", 4, "tabs are not allowed"),
    ("tab before a key", "title: t\n\tsteps:\n  - a\n", 2, "tabs are not allowed"),
    ("python object", "title: !!python/object/apply:os.system [echo hi]\nsteps: [a]\n", 1, "!!python/object/apply:os.system"),
    ("python name", "title: t\nsteps: [!!python/name:os.system a]\n", 2, "not allowed"),
    ("custom tag", "title: !env HOME\nsteps: [a]\n", 1, "!env"),
    ("recursive alias", "title: t\nsteps: &s [*s]\n", 2, "recursive"),
    ("key a list", "title: t\n[a]: b\nsteps: [a]\n", 2, "key"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "line", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_scripts_name_file_and_line(
    tmp_path: Path, name: str, content: str, line: int | None, words: str
) -> None:
    path = write_script(tmp_path, "bad.yaml", content)
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    error = caught.value
    assert error.line == line, str(error)
    assert words in str(error)
    where = f"{path}:{line}: " if line else f"{path}: "
    assert str(error).startswith(where)
    assert "\n" not in str(error)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: t\nsteps:\n  - Knie\u00ebn\n".encode("latin-1"))
    with pytest.raises(ScriptError, match=r"latin1.yaml:3: .*UTF-8"):
        load_script(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_says_so_and_how_to_convert(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "windows.yaml"
    path.write_bytes("title: Knieën\nsteps: [één]\n".encode(encoding))
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert caught.value.line == 1
    assert "UTF-16" in caught.value.reason and "binary" not in caught.value.reason
    assert (
        "save it as UTF-8" in caught.value.reason
        and "iconv -f UTF-16 -t UTF-8" in caught.value.reason
    )


def test_a_utf8_bom_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufefftitle: Knieën\nsteps: [één]\n".encode())
    assert load_script(path).title == "Knieën"


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot be read"):
        load_script(tmp_path / "nope.yaml")
    with pytest.raises(ScriptError, match="folder"):
        load_script(tmp_path)


def test_whitespace_in_texts_is_folded(tmp_path: Path) -> None:
    script = load_script(
        write_script(
            tmp_path, "w.yaml", "title: '  a   b '\nsteps:\n  - |\n    lang\n    verhaal\n"
        )
    )
    assert script.title == "a b"
    assert script.steps[0].text == "lang verhaal"


@pytest.mark.parametrize(
    ("yaml_text", "title", "steps"),
    [
        ("title: 007\nsteps:\n  - 1:30\n  - 010\n", "007", ["1:30", "010"]),
        ("title: Null\nsteps:\n  - yes\n  - off\n", "Null", ["yes", "off"]),
        ("title: 2024-05-01\nsteps:\n  - 1.5\n  - 0x1F\n", "2024-05-01", ["1.5", "0x1F"]),
        ("title: True\nsteps:\n  - text: 12:30\n", "True", ["12:30"]),
    ],
)
def test_text_is_spoken_as_typed_not_as_yaml_1_1_reads_it(
    tmp_path: Path, yaml_text: str, title: str, steps: list[str]
) -> None:
    script = load_script(write_script(tmp_path, "typed.yaml", yaml_text))
    assert script.title == title
    assert [step.text for step in script.steps] == steps


@pytest.mark.parametrize(("value", "ms"), [("010", 10_000), ("1:30", 90_000), ("0.500", 500)])
def test_pause_numbers_are_read_as_typed(tmp_path: Path, value: str, ms: int) -> None:
    path = write_script(tmp_path, "p.yaml", f"title: t\nsteps:\n  - text: a\n    pause: {value}\n")
    assert load_script(path).steps[0].pause_ms == ms


@pytest.mark.parametrize("value", ["1.000", '"1.500"', "12.000"])
def test_a_pause_with_a_dutch_thousands_point_is_refused(tmp_path: Path, value: str) -> None:
    path = write_script(tmp_path, "p.yaml", f"title: t\nsteps:\n  - text: a\n    pause: {value}\n")
    with pytest.raises(ScriptError, match=r"p\.yaml:4: .*ambiguous.*a thousand"):
        load_script(path)


def test_a_merge_key_may_override_what_it_merges(tmp_path: Path) -> None:
    path = write_script(
        tmp_path,
        "merge.yaml",
        "title: t\n"
        "defaults: &d {text: Adem in., pause: 4}\n"
        "steps:\n"
        "  - *d\n"
        "  - {<<: *d, text: Adem uit.}\n",
    )
    with pytest.raises(ScriptError, match="unknown key `defaults`"):
        load_script(path)  # a stray top-level key is still refused ...
    path.write_text(
        "title: t\n"
        "steps:\n"
        "  - &d {text: Adem in., pause: 4}\n"
        "  - {<<: *d, text: Adem uit.}\n"
        "  - {<<: *d, text: Adem uit., text: Nog eens.}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScriptError, match=r"merge\.yaml:5: key 'text' appears twice"):
        load_script(path)  # ... and so is a key written twice in one mapping
    path.write_text(
        "title: t\nsteps:\n  - &d {text: Adem in., pause: 4}\n  - {<<: *d, text: Adem uit.}\n",
        encoding="utf-8",
    )
    script = load_script(path)
    assert [(s.text, s.pause_ms) for s in script.steps] == [("Adem in.", 4000), ("Adem uit.", 4000)]


def test_a_remembered_inline_pause_problem_names_each_files_own_line(tmp_path: Path) -> None:
    bad = "Adem in (pauze 4 uur) en uit."
    first = write_script(tmp_path, "a.yaml", f"title: A\nsteps:\n  - {bad}\n")
    second = write_script(tmp_path, "b.yaml", f"title: B\nsteps:\n  - Sluit je ogen.\n  - {bad}\n")
    messages = []
    for path in (first, first, second):
        with pytest.raises(ScriptError) as error:
            load_script(path)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert messages[0].endswith(
        "a.yaml:3: step 1: (pauze 4 uur): unknown unit 'uur'; write"
        " seconds or minutes, as in (pauze 4 s) or (pauze 1 min)"
    )
    assert messages[2] == messages[0].replace("a.yaml:3: step 1", "b.yaml:4: step 2")


@pytest.mark.parametrize(
    "written",
    ["6", "2,5", "2.5", "44s", "1m30s", "90 s", "-3s", "1:30", "zes", "", "5 h", "99999h"],
)
def test_a_remembered_pause_string_reads_as_afresh(written: str) -> None:
    with MEMOS.off():
        fresh = _text_seconds(written)
    assert _text_seconds(written) == fresh
    assert _text_seconds(written) == fresh  # from memory


SIX_BAD_STEPS = """\
title: t
stpes_note: x
steps:
  - text: a
    pause: -1
  - text: b
    pause: soms
  - Adem in (pauze vier s) en uit.
  - txet: c
  - [x]
  - text: d
    pause: 2h
    breathing: 4
"""


def test_every_problem_of_a_script_is_found_each_at_its_own_line(tmp_path: Path) -> None:
    path = write_script(tmp_path, "zes.yaml", SIX_BAD_STEPS)
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    problems = caught.value.problems
    assert [p.line for p in problems] == [2, 5, 7, 8, 9, 10, 12, 13]
    assert all(str(p).startswith(f"{path}:{p.line}: ") and "\n" not in str(p) for p in problems)
    assert "did you mean `text`" in problems[4].reason  # not also "step 4 has no `text:`"
    # the error itself is one line: the first problem, and how many more there are
    assert str(caught.value) == (
        f"{problems[0]} (and 7 more problems: `rustpunt check {path}` lists them all)"
    )


def test_a_script_with_one_problem_reads_as_before(tmp_path: Path) -> None:
    path = write_script(tmp_path, "een.yaml", "title: t\nsteps:\n  - text: a\n    pause: -1\n")
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert caught.value.problems == (caught.value,)
    assert (
        str(caught.value) == f"{path}:4: `step 1 pause` -1 is negative; a pause is zero or longer"
    )


@pytest.mark.parametrize(
    ("written", "ms"),
    [("5 seconden", 5000), ("1,5 minuut", 90_000), ("2 minuten", 120_000), ("2,5 sec", 2500),
     ("1 min", 60_000), ("4 S", 4000), ("0,5", 500)],
)  # fmt: skip
def test_pause_and_an_inline_pause_read_a_duration_alike(
    tmp_path: Path, written: str, ms: int
) -> None:
    """Issue 21: `pause:` refused "5 seconden" and "1,5 minuut" that `(pauze ...)` took."""
    path = write_script(
        tmp_path,
        "d.yaml",
        f"title: t\npause: {written}\ncycle: {written}\n"
        f"steps:\n  - text: Adem in (pauze {written}) en uit.\n    pause: {written}\n",
    )
    if not MIN_CYCLE_MS <= ms <= MAX_CYCLE_MS:
        path.write_text(path.read_text(encoding="utf-8").replace(f"cycle: {written}\n", ""))
    script = load_script(path)
    inline = split_inline(script.steps[0].text)[1]
    assert isinstance(inline, InlinePause)
    assert script.pause_ms == script.steps[0].pause_ms == inline.ms == ms
    if script.cycle_ms is not None:
        assert script.cycle_ms == ms


@pytest.mark.parametrize("written", ["1.000", "1.000 s", "'12.500 seconden'", "1.500"])
def test_a_dutch_thousands_point_is_refused_in_pause_cycle_and_inline_alike(
    tmp_path: Path, written: str
) -> None:
    bare = written.strip("'")
    for key, text in [
        ("pause", f"title: t\npause: {written}\nsteps: [a]\n"),
        ("cycle", f"title: t\ncycle: {written}\nsteps: [a]\n"),
        ("step 1", f"title: t\nsteps:\n  - Adem in (pauze {bare}) en uit.\n"),
    ]:
        path = write_script(tmp_path, "k.yaml", text)
        with pytest.raises(ScriptError) as caught:
            load_script(path)
        assert caught.value.reason.startswith(f"`{key}` " if key != "step 1" else "step 1: ")
        assert "is ambiguous (in Dutch 1.000 is a thousand, in English one)" in caught.value.reason


@pytest.mark.parametrize("written", ["-3", "0", "1", "61", "99999", "'-5s'", "'1s'", "2h"])
def test_every_cycle_out_of_range_gets_the_one_message(tmp_path: Path, written: str) -> None:
    path = write_script(tmp_path, "c.yaml", f"title: t\ncycle: {written}\nsteps: [a]\n")
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert caught.value.line == 2
    assert caught.value.reason.endswith("is not a breathing cycle; use 2 to 60 seconds")


def test_a_cycle_is_read_as_typed(tmp_path: Path) -> None:
    path = write_script(tmp_path, "c.yaml", "title: t\ncycle: 010\nsteps: [a]\n")
    assert load_script(path).cycle_ms == 10_000  # ten seconds, not octal eight
