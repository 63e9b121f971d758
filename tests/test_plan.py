"""plan on its own: the remembered step pauses and estimates give the timeline worked out afresh,
and a changed setting is planned anew."""

from __future__ import annotations

from pathlib import Path

import corpus
from conftest import write_script
from rustpunt.memo import MEMOS
from rustpunt.script.load import Script, load_script
from rustpunt.script.plan import Pause, plan
from stocktexts import example_scripts


def scripts(tmp_path: Path) -> list[Script]:
    generated = []
    for index in range(6):
        path = tmp_path / f"s{index}.yaml"
        corpus.write_script(path, corpus.make_script(index, 300, 15, 11))
        generated.append(load_script(path))
    return [*example_scripts(), *generated]


def test_a_remembered_plan_is_the_one_worked_out_afresh(tmp_path: Path) -> None:
    found = scripts(tmp_path)
    remembered = [plan(script) for script in found]
    again = [plan(script) for script in found]  # now all from memory
    with MEMOS.off():
        fresh = [plan(script) for script in found]
    assert remembered == again == fresh
    assert [t.estimated_ms() for t in remembered] == [t.estimated_ms() for t in fresh]


def test_a_changed_pause_or_cycle_is_planned_anew(tmp_path: Path) -> None:
    steps = "steps:\n  - Sluit je ogen.\n  - Adem drie keer diep in en uit.\n"
    path = write_script(tmp_path, "adem.yaml", f"title: Adem\npause: 6\ncycle: 10\n{steps}")
    first = [item.ms for item in plan(load_script(path)).items if isinstance(item, Pause)]
    path.write_text(f"title: Adem\npause: 5\ncycle: 8\n{steps}", encoding="utf-8")
    second = [item.ms for item in plan(load_script(path)).items if isinstance(item, Pause)]
    assert first[1:3] == [6000, 30_000] and second[1:3] == [5000, 24_000]


def test_an_explicit_pause_gives_its_own_line(tmp_path: Path) -> None:
    """Issue 21: the pause's reason named the step's first line, not the line of `pause:`."""
    path = write_script(
        tmp_path,
        "p.yaml",
        "title: t\nsteps:\n  - text: >-\n      Adem in\n      en uit.\n    pause: 4\n"
        "  - {text: Los., pause: 2}\n",
    )
    reasons = [item.reason for item in plan(load_script(path)).items if isinstance(item, Pause)]
    assert "`pause:` in the script (line 6)" in reasons
    assert "`pause:` in the script (line 7)" in reasons
