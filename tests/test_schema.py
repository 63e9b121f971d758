"""The JSON Schema for editors agrees with the loader: what one accepts, the other accepts.

The loader (rustpunt.script.load) is the authority; the schema is a second description of the same
format for yaml-language-server. These tests keep the two from drifting apart.

Rules the schema cannot express, left out of the agreement table on purpose (the loader catches
them, the editor does not):
  * a key written twice (YAML loaders keep the last one silently; the loader refuses it);
  * whether `voice:` names a profile that exists (checked by `rustpunt check`, not by the format);
  * the range of a duration *string*: "90m", "2h", "4000" or a cycle of "1s" match the pattern,
    but the loader refuses them as over an hour / not a breathing cycle (numbers are range-checked);
  * a float with no fraction where text is expected (`title: 5.0`, `- 00.0`): JSON Schema counts
    5.0 as an integer, the loader refuses a float;
  * a huge integer where text is expected (`title: 10000000000000000`): the loader refuses it as
    "a very large number", the schema has no bound for it;
  * .nan as a pause: JSON has no NaN, and minimum/maximum do not reject it;
  * rounding at the cycle bounds (1.9996 s rounds to 2000 ms, which the loader allows);
  * keys that are not strings (`1: x`): JSON keys are always strings;
  * a spoken text with no letter or digit (`- "..."`): the loader refuses it as "nothing to
    speak"; Python's re, which checks the schema here, has no Unicode letter class to say so;
  * duration forms only pytimeparse reads ("1 hour, 5 min", "1.5 Minutes", ":30", "+5s"), and
    whitespace other than space and tab around a number: the schema accepts fewer forms, by design;
  * a number written `1.000` (also `"1.000 s"`): the loader refuses it as ambiguous (a thousand
    in Dutch, one in English), the schema's number pattern lets it through;
  * YAML that does not parse, binary files, bad UTF-8: the editor reports those itself;
  * the length of an inline pause, `(pauze 0 s)` or `(pauze 90 min)`: its form is checked by
    both, its range only by the loader (as for duration strings).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from rustpunt.errors import ScriptError
from rustpunt.script.load import (
    MAX_CYCLE_MS,
    MAX_PAUSE_MS,
    MIN_CYCLE_MS,
    STEP_KEYS,
    TOP_LEVEL_KEYS,
    load_script,
)
from rustpunt.script.plan import DEFAULT_CYCLE_MS, DEFAULT_PAUSE_MS
from rustpunt.script.schema import script_schema
from rustpunt.voice.profiles import DEFAULT_VOICE

SCHEMA = script_schema()
VALIDATOR = Draft202012Validator(SCHEMA)
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "scripts"

HEAD = "title: Ontspannen schouders\n"
STEPS = "steps:\n  - Sluit je ogen.\n"

# (id, YAML text, valid?) -- the expected verdict is checked against both the schema and the loader.
# fmt: off
HAND_WRITTEN: list[tuple[str, str, bool]] = [
    # valid
    ("minimal", HEAD + STEPS, True),
    ("every key", """\
# yaml-language-server: $schema=./rustpunt-script.schema.json
title: Ademhaling
description: Een korte oefening.
voice: nl-espeak
intro: Ga rustig zitten.
outro: Open langzaam je ogen.
pause: 4
cycle: 8
steps:
  - Adem rustig in door je neus.
  - text: Houd dit vijf seconden vast.
  - text: Laat los.
    pause: "1m30s"
  - text: Adem uit.
    pause: 2.5
""", True),
    ("block scalar step", HEAD + "steps:\n  - |\n    Adem in.\n    Adem uit.\n", True),
    ("alias step", HEAD + "intro: &w Welkom.\nsteps:\n  - *w\n", True),
    ("integer step", HEAD + "steps:\n  - 10\n", True),
    ("integer title", "title: 2024\n" + STEPS, True),
    ("flow style", "{title: Kort, steps: [Sluit je ogen., {text: Adem in., pause: 4}]}\n", True),
    ("empty optional keys", HEAD + "voice:\nintro:\noutro:\ndescription:\npause:\ncycle:\n" + STEPS, True),
    ("step pause empty", HEAD + "steps:\n  - text: Adem in.\n    pause:\n", True),
    ("pause 0", HEAD + "pause: 0\n" + STEPS, True),
    ("pause 3600", HEAD + "pause: 3600\n" + STEPS, True),
    ("pause 2.5", HEAD + "pause: 2.5\n" + STEPS, True),
    ("pause '6s'", HEAD + 'pause: "6s"\n' + STEPS, True),
    ("pause '90s'", HEAD + 'pause: "90s"\n' + STEPS, True),
    ("pause '1m'", HEAD + 'pause: "1m"\n' + STEPS, True),
    ("pause '1m30s'", HEAD + "steps:\n  - text: Adem in.\n    pause: 1m30s\n", True),
    ("pause '1h'", HEAD + 'pause: "1h"\n' + STEPS, True),
    ("pause '2.5'", HEAD + 'pause: "2.5"\n' + STEPS, True),
    ("pause '2,5'", HEAD + 'pause: "2,5"\n' + STEPS, True),
    ("pause '6 sec'", HEAD + 'pause: "6 sec"\n' + STEPS, True),
    ("pause '1:30'", HEAD + 'pause: "1:30"\n' + STEPS, True),
    ("pause 1:30 sexagesimal", HEAD + "pause: 1:30\n" + STEPS, True),
    ("cycle 2", HEAD + "cycle: 2\n" + STEPS, True),
    ("cycle 60", HEAD + "cycle: 60\n" + STEPS, True),
    ("cycle '12s'", HEAD + 'cycle: "12s"\n' + STEPS, True),
    ("cycle '1m'", HEAD + 'cycle: "1m"\n' + STEPS, True),
    ("step float (spoken as typed)", HEAD + "steps:\n  - 1.5\n", True),
    ("step true (spoken as typed)", HEAD + "steps:\n  - yes\n", True),
    ("title float (spoken as typed)", "title: 1.5\n" + STEPS, True),
    ("title true (spoken as typed)", "title: true\n" + STEPS, True),
    ("sound design", HEAD + """\
sound:
  bed: rain
  bed_level: -40
  duck: 12
  bell: both
  bell_level: -14
  chime: 20
  chime_level: -26
  breathing_level: -32
steps:
  - text: Adem vijf keer rustig in en uit.
    breathing: {in: 4, out: 6, hold_in: 1, hold_out: 0, cycles: 4}
""", True),
    ("sound: a bed file, bell true, chime none", HEAD + "sound: {bed: zee.ogg, bell: true, chime: none}\n" + STEPS, True),
    ("sound and breathing empty", HEAD + "sound:\nsteps:\n  - text: Adem.\n    breathing:\n", True),
    ("inline pause", HEAD + "steps:\n  - Adem vier tellen in (pauze 4 s) en zes tellen uit.\n", True),
    ("inline pause forms", HEAD + "intro: Welkom (Pauze 2,5 seconden) hier.\nsteps:\n  - text: a (pauze 1 min) b (pauze 3) c\n", True),
    ("a remark in brackets", HEAD + "steps:\n  - Ga zitten (of liggen) en pauzeer (even).\n", True),
    # invalid
    ("missing title", STEPS, False),
    ("missing steps", HEAD, False),
    ("empty steps", HEAD + "steps: []\n", False),
    ("steps empty value", HEAD + "steps:\n", False),
    ("steps a string", HEAD + "steps: Sluit je ogen.\n", False),
    ("steps a mapping", HEAD + "steps:\n  text: Sluit je ogen.\n", False),
    ("unknown key stpes", HEAD + "stpes:\n  - Sluit je ogen.\n", False),
    ("unknown extra key", HEAD + STEPS + "tempo: 1.2\n", False),
    ("unknown step key", HEAD + "steps:\n  - text: Adem in.\n    pauze: 4\n", False),
    ("inline pause in words", HEAD + "steps:\n  - Adem in (pauze vier s) en uit.\n", False),
    ("inline pause unknown unit", HEAD + "steps:\n  - text: Adem in (pauze 4 uur) en uit.\n", False),
    ("inline pause unclosed", HEAD + "outro: Adem in (pauze 4 s en uit.\n" + STEPS, False),
    ("inline pause starts a step", HEAD + "steps:\n  - (pauze 4 s) Adem in.\n", False),
    ("inline pause ends a step", HEAD + "steps:\n  - Adem in. (pauze 4 s)\n", False),
    ("two inline pauses in a row", HEAD + "intro: a (pauze 4 s) (pauze 2 s) b\n" + STEPS, False),
    ("step without text", HEAD + "steps:\n  - pause: 4\n", False),
    ("step empty", HEAD + "steps:\n  -\n", False),
    ("step blank text", HEAD + 'steps:\n  - "   "\n', False),
    ("step mapping empty text", HEAD + 'steps:\n  - text: ""\n', False),
    ("nested step list", HEAD + "steps:\n  - - Adem in.\n    - Adem uit.\n", False),
    ("step text a list", HEAD + "steps:\n  - text: [Adem in.]\n", False),
    ("title empty", 'title: ""\n' + STEPS, False),
    ("title null", "title:\n" + STEPS, False),
    ("title a list", "title: [Ademhaling]\n" + STEPS, False),
    ("voice a number", HEAD + "voice: 5\n" + STEPS, False),
    ("voice blank", HEAD + 'voice: " "\n' + STEPS, False),
    ("intro a mapping", HEAD + "intro:\n  tekst: Welkom.\n" + STEPS, False),
    ("description a list", HEAD + "description: [a, b]\n" + STEPS, False),
    ("negative pause", HEAD + "pause: -1\n" + STEPS, False),
    ("negative pause string", HEAD + 'pause: "-5s"\n' + STEPS, False),
    ("pause 4000", HEAD + "pause: 4000\n" + STEPS, False),
    ("pause infinite", HEAD + "pause: .inf\n" + STEPS, False),
    ("pause 'abc'", HEAD + 'pause: "abc"\n' + STEPS, False),
    ("pause '5 seconden'", HEAD + 'pause: "5 seconden"\n' + STEPS, True),
    ("pause '1,5 minuut'", HEAD + 'pause: "1,5 minuut"\n' + STEPS, True),
    ("step pause 2 minuten", HEAD + "steps:\n  - text: Adem in.\n    pause: 2 minuten\n", True),
    ("pause '5 uur'", HEAD + 'pause: "5 uur"\n' + STEPS, False),
    ("pause ''", HEAD + 'pause: ""\n' + STEPS, False),
    ("pause true", HEAD + "pause: true\n" + STEPS, False),
    ("pause a list", HEAD + "pause: [5]\n" + STEPS, False),
    ("step pause 4000", HEAD + "steps:\n  - text: Adem in.\n    pause: 4000\n", False),
    ("step pause 'abc'", HEAD + "steps:\n  - text: Adem in.\n    pause: abc\n", False),
    ("cycle 1", HEAD + "cycle: 1\n" + STEPS, False),
    ("cycle 0", HEAD + "cycle: 0\n" + STEPS, False),
    ("cycle 61", HEAD + "cycle: 61\n" + STEPS, False),
    ("cycle 'snel'", HEAD + 'cycle: "snel"\n' + STEPS, False),
    ("document a list", "- title: Ademhaling\n- steps: [a]\n", False),
    ("document a string", "Ademhaling\n", False),
    ("document only a comment", "# nog leeg\n", False),
    ("sound: unknown key", HEAD + "sound: {bedd: rain}\n" + STEPS, False),
    ("sound: a list", HEAD + "sound: [rain]\n" + STEPS, False),
    ("sound: bell sometimes", HEAD + "sound: {bell: sometimes}\n" + STEPS, False),
    ("sound: bed level too loud", HEAD + "sound: {bed: pink, bed_level: -3}\n" + STEPS, False),
    ("sound: duck negative", HEAD + "sound: {duck: -5}\n" + STEPS, False),
    ("sound: chime too soon", HEAD + "sound: {chime: 2}\n" + STEPS, False),
    ("sound: chime as text", HEAD + "sound: {chime: 20s}\n" + STEPS, False),
    ("breathing without out", HEAD + "steps:\n  - text: Adem.\n    breathing: {in: 4}\n", False),
    ("breathing: unknown key", HEAD + "steps:\n  - text: Adem.\n    breathing: {in: 4, out: 6, pace: 2}\n", False),
    ("breathing: in too long", HEAD + "steps:\n  - text: Adem.\n    breathing: {in: 40, out: 6}\n", False),
    ("breathing: cycles zero", HEAD + "steps:\n  - text: Adem.\n    breathing: {in: 4, out: 6, cycles: 0}\n", False),
    ("breathing as a number", HEAD + "steps:\n  - text: Adem.\n    breathing: 4\n", False),
]
# fmt: on


def _example_scripts() -> list[Any]:
    return [
        pytest.param(path.read_text(encoding="utf-8"), True, id=f"scripts/{path.name}")
        for path in sorted(EXAMPLES_DIR.glob("*.yaml"))
    ]


TABLE = [
    pytest.param(text, valid, id=name) for name, text, valid in HAND_WRITTEN
] + _example_scripts()


def schema_accepts(text: str) -> bool:
    """What an editor would say: parse the YAML as plain data and validate it against the schema."""
    try:
        instance = yaml.safe_load(text)
    except Exception:  # PyYAML fails in many ways (`!!int abc` is a ValueError): all mean invalid
        return False
    return VALIDATOR.is_valid(instance)


def loader_accepts(text: str, path: Path) -> bool:
    path.write_text(text, encoding="utf-8")
    try:
        load_script(path)
    except ScriptError:
        return False
    return True


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_schema_ships_inside_the_package() -> None:
    shipped = files("rustpunt.script") / "schema.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == SCHEMA
    assert script_schema() is not script_schema(), "each call returns a fresh dict"


@pytest.mark.parametrize(("text", "valid"), TABLE)
def test_schema_and_loader_agree(tmp_path: Path, text: str, valid: bool) -> None:
    by_loader = loader_accepts(text, tmp_path / "script.yaml")
    by_schema = schema_accepts(text)
    assert (by_schema, by_loader) == (valid, valid), (
        f"expected {'valid' if valid else 'invalid'}; schema says {by_schema}, loader says {by_loader}"
    )


def test_the_schema_knows_exactly_the_loaders_keys() -> None:
    assert set(SCHEMA["properties"]) == set(TOP_LEVEL_KEYS)
    assert SCHEMA["required"] == ["title", "steps"]
    assert SCHEMA["additionalProperties"] is False
    step_object = next(s for s in SCHEMA["$defs"]["step"]["oneOf"] if s.get("type") == "object")
    assert set(step_object["properties"]) == set(STEP_KEYS)
    assert step_object["required"] == ["text"] and step_object["additionalProperties"] is False


def test_limits_and_defaults_match_the_code() -> None:
    pause, cycle = SCHEMA["$defs"]["pause"], SCHEMA["properties"]["cycle"]
    assert (pause["minimum"], pause["maximum"]) == (0, MAX_PAUSE_MS / 1000)
    assert (cycle["minimum"], cycle["maximum"]) == (MIN_CYCLE_MS / 1000, MAX_CYCLE_MS / 1000)
    assert SCHEMA["properties"]["pause"]["default"] == DEFAULT_PAUSE_MS / 1000
    assert cycle["default"] == DEFAULT_CYCLE_MS / 1000
    assert SCHEMA["properties"]["voice"]["default"] == DEFAULT_VOICE
    assert cycle["pattern"] == pause["pattern"], "pause and cycle take the same duration strings"


def _properties(schema: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every named property and $defs entry in the schema, recursively, with its path."""
    if isinstance(schema, dict):
        for group in ("properties", "$defs"):
            for name, sub in schema.get(group, {}).items():
                yield f"{where}/{group}/{name}", sub
        for key, sub in schema.items():
            yield from _properties(sub, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, sub in enumerate(schema):
            yield from _properties(sub, f"{where}/{index}")


def test_every_property_has_a_description_for_the_editor() -> None:
    found = list(_properties(SCHEMA))
    assert len(found) >= 12
    missing = [where for where, sub in found if not str(sub.get("description", "")).strip()]
    assert not missing


def test_the_schemas_own_examples_and_defaults_are_valid(tmp_path: Path) -> None:
    for example in SCHEMA["examples"]:
        assert VALIDATOR.is_valid(example)
        assert loader_accepts(
            yaml.safe_dump(example, allow_unicode=True), tmp_path / "example.yaml"
        )
    for where, sub in _properties(SCHEMA):
        for value in [*sub.get("examples", []), *([sub["default"]] if "default" in sub else [])]:
            if where.startswith("/properties/") and where.count("/") == 2:
                name = where.rsplit("/", 1)[1]
                document = {"title": "t", "steps": ["a"], name: value}
                assert VALIDATOR.is_valid(document), (where, value)
                assert loader_accepts(yaml.safe_dump(document), tmp_path / "value.yaml"), (
                    where,
                    value,
                )


DURATION = SCHEMA["$defs"]["pause"]["pattern"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file, rewritten for every generated example (hypothesis runs many per test call)."""
    return tmp_path_factory.mktemp("duration") / "duration.yaml"


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(value=st.from_regex(DURATION, fullmatch=True))
def test_every_duration_string_the_schema_allows_is_one_the_loader_reads(
    scratch: Path, value: str
) -> None:
    """The schema may be stricter than pytimeparse, never looser: only the range may be refused."""
    scratch.write_text(
        f"title: t\nsteps:\n  - text: a\n    pause: {json.dumps(value)}\n", encoding="utf-8"
    )
    try:
        load_script(scratch)
    except ScriptError as error:  # or `1.000`: a thousand in Dutch, one in English
        assert "over an hour" in error.reason or "ambiguous" in error.reason, f"{value!r}: {error}"
