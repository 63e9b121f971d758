"""Fuzzing the script loader: whatever the bytes, load_script gives a Script or a ScriptError.

Never another exception (a traceback in `rustpunt check` is a bug), and every ScriptError starts
with the file's path and, when it has a line, `path:line: ` with a line that exists in the file.

The public path is tested: each example is written to one scratch file and read with load_script.
Settings are fixed (derandomize=True) so CI sees the same examples on every run.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rustpunt.errors import ScriptError
from rustpunt.script.load import (
    MAX_CYCLE_MS,
    MAX_PAUSE_MS,
    MIN_CYCLE_MS,
    STEP_KEYS,
    TOP_LEVEL_KEYS,
    Script,
    load_script,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "scripts"

VALID = """\
title: Ontspannen schouders
description: Vijf minuten voor nek en schouders.
voice: nl-espeak
intro: Ga rustig zitten en sluit je ogen.
outro: Open langzaam je ogen.
pause: 4
cycle: 8
steps:
  - Adem rustig in door je neus.
  - text: Trek je schouders op. Houd dit vijf seconden vast.
  - text: Laat je schouders zakken.
    pause: "1m30s"
  - text: Adem uit.
    pause: 2.5
  - Adem drie keer diep in en uit.
"""

BASES = [VALID] + [path.read_text(encoding="utf-8") for path in sorted(EXAMPLES_DIR.glob("*.yaml"))]

# Things a careless edit, a confused editor or a hostile file could put into a script.
SNIPPETS = [
    "!!python/object:os.system ", "!!python/object/apply:os.system ['echo hi']", "!!python/name:os.system ",
    "!!binary ", "!!int ", "!!float ", "!!bool ", "!!str ", "!!null ", "!!timestamp ", "!!set ",
    "!!omap ", "!!pairs ", "!!map ", "!!seq ", "!custom ", "!<tag:example.com,2000:x> ",
    "&a ", "*a", "*missing", "<<: *a\n", "<<: [*a]\n", "<<: 5\n", "&a [*a]",
    "\t", "\ufeff", "\x00", "\x85", "\u2028", "\r", "\r\n", "\x1f", "\x7f", "\ud7ff",
    "{", "}", "[", "]", ": ", "- ", "? ", ",", "#", "|", ">-", "'", '"', "\\", "%", "@", "`",
    "---\n", "...\n", "%YAML 1.1\n", "%YAML 2.0\n", "%TAG ! tag:example.com,2000:\n",
    "title: ", "steps:", "  - ", "    pause: ", "text: ", "pause: ", "cycle: ", "voice: ",
    "~", "null", "yes", "no", ".nan", ".inf", "-.inf", "-5", "0", "1e400", "4000", "1:30",
    "2024-05-01", "2024-02-30", "2024-01-01 25:00:00", "0x1F", "0o17", "0b101", "1_000",
    '"\\x1f"', '"6s\\x1c"', '"\\u2028"', "1m30s", "90m", "2,5", "- 1.5",
    "9" * 5000, "0x" + "f" * 4000, "1" + "0" * 400, "'1" + "0" * 400 + "s'",
]  # fmt: skip


def check(path: Path, data: bytes) -> None:
    """The loader's contract for any input: a sound Script, or a ScriptError naming path and line."""
    path.write_bytes(data)
    try:
        script = load_script(path)
    except ScriptError as error:
        message = str(error)
        assert message.startswith(str(path)), message
        assert error.reason.strip(), message
        if error.line is None:
            assert message.startswith(f"{path}: "), message
        else:
            assert isinstance(error.line, int) and error.line >= 1, message
            assert message.startswith(f"{path}:{error.line}: "), message
            # +1: a YAML error at the very end of the stream points one past the last line
            last_line = len(data.decode("utf-8", "replace").splitlines()) + 1
            assert error.line <= last_line, message
        return
    assert isinstance(script, Script)
    assert script.path == path
    assert script.title.strip()
    assert script.steps and [s.number for s in script.steps] == list(
        range(1, len(script.steps) + 1)
    )
    for step in script.steps:
        assert step.text.strip() and step.line >= 1
        assert step.pause_ms is None or 0 <= step.pause_ms <= MAX_PAUSE_MS
    assert script.pause_ms is None or 0 <= script.pause_ms <= MAX_PAUSE_MS
    assert script.cycle_ms is None or MIN_CYCLE_MS <= script.cycle_ms <= MAX_CYCLE_MS
    assert len(script.digest) == 64


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file, rewritten for every example: hypothesis runs many examples per test call."""
    return tmp_path_factory.mktemp("fuzz") / "fuzz.yaml"


# --- any bytes ----------------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=2000))
@example(data=b"")
@example(data=b"\xef\xbb\xbf")
@example(data=b"\xff\xfe")
@example(data=b"title: x\nsteps: [a]\n\xff")
def test_any_bytes(scratch: Path, data: bytes) -> None:
    check(scratch, data)


@FUZZ
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_any_text(scratch: Path, text: str) -> None:
    check(scratch, text.encode("utf-8"))


# --- generated YAML: random data dumped by yaml.safe_dump -----------------------------------------

KEYS = st.one_of(
    st.sampled_from([*TOP_LEVEL_KEYS, *STEP_KEYS, "stpes", "tekst", "<<"]),
    st.text(max_size=8),
    st.integers(),
    st.booleans(),
    st.none(),
)
DURATIONS = st.sampled_from(
    ["6s", "90s", "1m", "1m30s", "1h", "2h", "2.5", "2,5", "-5s", "abc", "", " ", "1:30", "1.5m", "90m",
     "1 hour, 5 min", "+5s", ":30", "1e3", "nan", "inf", "0x10", "1" + "0" * 400 + "s", "5\x1f"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),
    st.text(max_size=40),
    DURATIONS,
    st.dates(),
    st.datetimes(),
    st.binary(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)
STEP = st.one_of(
    st.text(max_size=40),
    st.integers(),
    st.fixed_dictionaries(
        {"text": st.one_of(st.text(max_size=40), VALUES)},
        optional={"pause": st.one_of(DURATIONS, VALUES)},
    ),
    VALUES,
)
SCRIPT_SHAPED = st.fixed_dictionaries(
    {
        "title": st.one_of(st.text(max_size=40), VALUES),
        "steps": st.one_of(st.lists(STEP, max_size=5), VALUES),
    },
    optional={
        "voice": st.one_of(st.sampled_from(["nl-google", "nl-espeak"]), VALUES),
        "intro": VALUES,
        "outro": VALUES,
        "description": VALUES,
        "pause": st.one_of(DURATIONS, VALUES),
        "cycle": st.one_of(DURATIONS, VALUES),
        "stpes": VALUES,
    },
)


@st.composite
def dumped(draw: st.DrawFn, documents: st.SearchStrategy[object]) -> bytes:
    document = draw(documents)
    text = yaml.safe_dump(
        document,
        allow_unicode=draw(st.booleans()),
        sort_keys=False,
        default_flow_style=draw(st.sampled_from([None, False, True])),
        explicit_start=draw(st.booleans()),
    )
    return text.encode("utf-8")


@pytest.mark.slow
@FUZZ
@given(data=dumped(VALUES))
def test_generated_yaml(scratch: Path, data: bytes) -> None:
    check(scratch, data)


@pytest.mark.slow
@FUZZ
@given(data=dumped(SCRIPT_SHAPED))
def test_generated_script_shaped_yaml(scratch: Path, data: bytes) -> None:
    check(scratch, data)


# --- mutations of valid scripts -----------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid script with a few lines and characters deleted, duplicated, swapped or inserted."""
    lines = draw(st.sampled_from(BASES)).splitlines(keepends=True)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        operation = draw(
            st.sampled_from(
                ["delete line", "duplicate line", "swap lines", "indent line", "dedent line",
                 "delete char", "duplicate char", "swap chars", "insert", "insert line"]
            )
        )  # fmt: skip
        if not lines:
            lines = [""]
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        line = lines[i]
        k = draw(st.integers(min_value=0, max_value=max(len(line) - 1, 0)))
        if operation == "delete line":
            del lines[i]
        elif operation == "duplicate line":
            lines.insert(i, line)
        elif operation == "swap lines":
            lines[i], lines[j] = lines[j], lines[i]
        elif operation == "indent line":
            lines[i] = draw(st.sampled_from([" ", "  ", "\t", "    "])) + line
        elif operation == "dedent line":
            lines[i] = line.lstrip(" ")
        elif operation == "delete char":
            lines[i] = line[:k] + line[k + 1 :]
        elif operation == "duplicate char":
            lines[i] = line[: k + 1] + line[k:]
        elif operation == "swap chars":
            lines[i] = line[:k] + line[k + 1 : k + 2] + line[k : k + 1] + line[k + 2 :]
        elif operation == "insert":
            lines[i] = line[:k] + draw(st.sampled_from(SNIPPETS) | st.text(max_size=3)) + line[k:]
        else:
            lines.insert(i, draw(st.sampled_from(SNIPPETS)) + "\n")
    data = "".join(lines).encode("utf-8")
    if draw(st.booleans()):  # sometimes damage the bytes themselves: bad UTF-8, a BOM, a NUL
        at = draw(st.integers(min_value=0, max_value=len(data)))
        junk = draw(
            st.sampled_from([b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\x00", b"\xed\xa0\x80"])
            | st.binary(max_size=3)
        )
        data = data[:at] + junk + data[at:]
    return data


@FUZZ
@given(data=mutated())
def test_mutated_scripts(scratch: Path, data: bytes) -> None:
    check(scratch, data)


TEMPLATES = {
    "title": "title: {}\nsteps:\n  - Adem in.\n",
    "intro": "title: Ontspannen\nintro: {}\nsteps:\n  - Adem in.\n",
    "voice": "title: Ontspannen\nvoice: {}\nsteps:\n  - Adem in.\n",
    "pause": "title: Ontspannen\npause: {}\nsteps:\n  - Adem in.\n",
    "cycle": "title: Ontspannen\ncycle: {}\nsteps:\n  - Adem in.\n",
    "step": "title: Ontspannen\nsteps:\n  - {}\n",
    "step text": "title: Ontspannen\nsteps:\n  - text: {}\n",
    "step pause": "title: Ontspannen\nsteps:\n  - text: Adem in.\n    pause: {}\n",
}


@FUZZ
@given(
    value=st.one_of(st.sampled_from(SNIPPETS), DURATIONS, st.text(max_size=20)),
    template=st.sampled_from(sorted(TEMPLATES.values())),
)
def test_one_odd_value_in_a_valid_script(scratch: Path, value: str, template: str) -> None:
    """Every value slot of a valid script, given one odd value, written plain and double-quoted."""
    quoted = yaml.safe_dump(value, default_style='"', width=math.inf, allow_unicode=True)
    for shown in (value, quoted.strip()):
        check(scratch, template.format(shown).encode("utf-8"))


# --- deep nesting -------------------------------------------------------------------------------


@settings(FUZZ, max_examples=40)
@given(
    depth=st.integers(min_value=1, max_value=20_000),
    shape=st.sampled_from(["[", "{a: ", "- ", "a:\n", "&x [", "!!seq ["]),
    closed=st.booleans(),
)
@example(depth=100_000, shape="[", closed=False)
@example(depth=2_000, shape="a:\n", closed=True)
def test_deep_nesting(scratch: Path, depth: int, shape: str, closed: bool) -> None:
    if shape == "a:\n":  # block mappings, each indented one more (the file grows as depth squared)
        depth = min(depth, 2_000)
        text = "".join(" " * level + "a:\n" for level in range(depth)) + " " * depth + "x\n"
    elif shape == "- ":
        depth = min(depth, 2_000)
        text = "".join(" " * (2 * level) + "-\n" for level in range(depth))
    else:
        closer = {"[": "]", "{a: ": "}", "&x [": "]", "!!seq [": "]"}[shape]
        text = shape * depth + ("x" + closer * depth if closed else "")
    check(scratch, ("title: t\nsteps: " + text).encode("utf-8"))
    check(scratch, text.encode("utf-8"))


# --- inputs that once escaped as other exceptions -------------------------------------------------
# Found by the tests above; each must end as a ScriptError (or load) like any other input.

CRASHERS = [
    ("huge int pause", b"title: x\nsteps: [a]\npause: 1" + b"0" * 400 + b"\n"),
    ("huge duration string", b"title: x\nsteps: [a]\npause: '1" + b"0" * 400 + b"s'\n"),
    ("huge sexagesimal pause", b"title: x\nsteps: [a]\npause: " + b"1:" * 300 + b"0\n"),
    ("huge hex step pause", b"title: x\nsteps:\n  - text: a\n    pause: 0x" + b"f" * 300 + b"\n"),
    ("int over 4300 digits", b"title: " + b"9" * 5000 + b"\nsteps: [a]\n"),
    ("hex int over 4300 digits as text", b"title: 0x" + b"f" * 4000 + b"\nsteps: [a]\n"),
    ("impossible date", b"title: 2024-02-30\nsteps: [a]\n"),
    ("impossible time", b"title: x\nsteps: [a]\nintro: 2024-01-01 25:00:00\n"),
    ("!!int tag on text", b"title: !!int abc\nsteps: [a]\n"),
    ("!!float tag on text", b"title: x\nsteps: [a]\npause: !!float abc\n"),
    ("!!bool tag on text", b"title: !!bool abc\nsteps: [a]\n"),
    ("empty !!int", b"title: x\nsteps: [a]\npause: !!int \n"),
    ("empty !!float", b"title: x\nsteps:\n  - text: a\n    pause: !!float \n"),
    ("empty !!bool", b"title: x\nsteps:\n  - !!bool \n"),
    ("empty !!timestamp", b"title: x\nvoice: !!timestamp \nsteps: [a]\n"),
    ("!!float tag on a key", b"!!float title: x\nsteps: [a]\n"),
    ("numeric pause with \\x1f", b'title: x\nsteps: [a]\npause: "5\\x1f"\n'),
    ("numeric pause with \\x1c", b'title: x\nsteps:\n  - text: a\n    pause: "\\x1c2.5"\n'),
]


@pytest.mark.parametrize("data", [pytest.param(data, id=name) for name, data in CRASHERS])
def test_inputs_that_escaped_as_other_exceptions(scratch: Path, data: bytes) -> None:
    check(scratch, data)
