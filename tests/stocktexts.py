"""Real step texts for tests that compare a remembered result with one worked out afresh: the
example scripts' texts and the bulk benchmark's phrases and generated scripts."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

from rustpunt.script.load import Script, load_script

REPO = Path(__file__).resolve().parent.parent


def corpus() -> ModuleType:
    """benchmarks/corpus.py, which is no package: loaded from its file."""
    spec = importlib.util.spec_from_file_location("corpus", REPO / "benchmarks" / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_scripts() -> list[Script]:
    return [load_script(path) for path in sorted((REPO / "scripts").glob("*.yaml"))]


@functools.cache
def step_texts() -> tuple[str, ...]:
    """Intros, steps and outros, as scripts hold them (duplicates kept: stock sentences repeat)."""
    texts: list[str] = []
    for script in example_scripts():
        texts += [step.text for step in script.steps]
        texts += [text for text in (script.intro, script.outro) if text]
    bench = corpus()
    for phrases in (bench.INTROS, bench.OUTROS, bench.OPENERS, bench.STOCK, bench.STOCK_CUES):
        texts += phrases
    for index in range(8):
        texts += bench.script_texts(bench.make_script(index, 300, 15, 7))
    return tuple(texts)
