"""What a build will say, before any audio: the lexicon a script is spoken with, the spoken form
of each sentence where it differs from the text, the inline pauses, and the words the lexicon
would likely need (for `rustpunt plan` and `rustpunt check`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rustpunt.errors import RustpuntError, shown
from rustpunt.inputs import Inputs
from rustpunt.script.load import Script
from rustpunt.script.plan import Speech, Timeline, timeline_document
from rustpunt.script.sentences import InlinePause, split_inline
from rustpunt.voice.lexicon import Lexicon
from rustpunt.voice.profiles import chosen_voice, voices_for

__all__ = [
    "Piece",
    "lexicon_warnings",
    "plan_document",
    "script_lexicon",
    "speech_pieces",
]


def script_lexicon(
    script: Script,
    voices_dirs: Sequence[Path] = (),
    voice: str | None = None,
    inputs: Inputs | None = None,
) -> Lexicon:
    """The lexicon a build speaks `script` with: built-in, the folder's lexicon.yaml, and the
    chosen voice's `lexicon:` (without it when the voice cannot be read). Raises a FileProblem
    at the lexicon's line when a lexicon is broken."""
    profile = None
    try:
        registry = voices_for(script.path, tuple(voices_dirs), inputs)
        profile = registry.get(chosen_voice(script, registry, voice))
    except RustpuntError:
        profile = None  # the voice's own problem is reported where voices are checked
    return Lexicon.load([script.path.parent], profile=profile, inputs=inputs)


@dataclass(frozen=True)
class Piece:
    """One stretch of a spoken part as `rustpunt plan` shows it: words, or an inline pause."""

    text: str
    """The words as written, or the pause as written (`(pauze 4 s)`)."""
    spoken: str | None = None
    """What the engine will say, when the lexicon changes it; else None."""
    pause_ms: int | None = None
    """For an inline pause: its length."""


def speech_pieces(text: str, lexicon: Lexicon) -> list[Piece]:
    """A spoken part's words and inline pauses in order, with the spoken form where it differs."""
    pieces: list[Piece] = []
    for piece in split_inline(text):
        if isinstance(piece, InlinePause):
            pieces.append(Piece(piece.written, pause_ms=piece.ms))
        else:
            said = lexicon.spoken(piece)
            pieces.append(Piece(piece, said if said != piece else None))
    return pieces


def plan_document(timeline: Timeline, lexicon: Lexicon) -> dict[str, Any]:
    """`rustpunt plan --json`: the timeline, and for each spoken part its pieces (spoken form,
    inline pauses)."""
    document = timeline_document(timeline)
    for entry, item in zip(document["items"], timeline.items):
        if isinstance(item, Speech):
            entry["pieces"] = [
                {"type": "pause", "ms": piece.pause_ms, "written": piece.text}
                if piece.pause_ms is not None
                else {"type": "speech", "text": piece.text, "spoken": piece.spoken or piece.text}
                for piece in speech_pieces(item.text, lexicon)
            ]
    return document


def lexicon_warnings(script: Script, lexicon: Lexicon) -> list[str]:
    """`FILE:LINE: warning: ...` for each word an engine will likely mispronounce and no lexicon
    entry covers (all capitals, digits glued to letters); a script is still valid with them.

    When the lexicon has `patterns:`, they are run over each part's words as `plan` shows them,
    so a pattern that would hang plan and build on this script is a LexiconError at its line
    here too (no patterns, nothing to run)."""
    warnings: list[str] = []
    parts: list[tuple[str, int | None, str]] = []
    if script.intro:
        parts.append(("intro", None, script.intro))
    parts.extend((f"step {step.number}", step.line, step.text) for step in script.steps)
    if script.outro:
        parts.append(("outro", None, script.outro))
    for where, line, text in parts:
        if lexicon.patterns:
            for piece in split_inline(text):
                if not isinstance(piece, InlinePause):
                    lexicon.try_patterns(piece)
        for word in lexicon.suspicious_words(text):
            place = f"{shown(script.path)}:{line}" if line else shown(script.path)
            warnings.append(
                f"{place}: warning: {where}: {word!r} may be mispronounced; add it to"
                f" lexicon.yaml beside the script (words: {{{word}: how to say it}})"
            )
    return warnings
