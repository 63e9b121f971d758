"""Real step texts for tests that compare a remembered result with one worked out afresh: the
example scripts' texts and the phrases and generated scripts of corpus.py (which the benchmarks
use too)."""

from __future__ import annotations

import functools
from pathlib import Path

import corpus
from rustpunt.script.load import Script, load_script

REPO = Path(__file__).resolve().parent.parent


def example_scripts() -> list[Script]:
    return [load_script(path) for path in sorted((REPO / "scripts").glob("*.yaml"))]


@functools.cache
def step_texts() -> tuple[str, ...]:
    """Intros, steps and outros, as scripts hold them (duplicates kept: stock sentences repeat)."""
    texts: list[str] = []
    for script in example_scripts():
        texts += [step.text for step in script.steps]
        texts += [text for text in (script.intro, script.outro) if text]
    for phrases in (corpus.INTROS, corpus.OUTROS, corpus.OPENERS, corpus.STOCK, corpus.STOCK_CUES):
        texts += phrases
    for index in range(8):
        texts += corpus.script_texts(corpus.make_script(index, 300, 15, 7))
    return tuple(texts)
