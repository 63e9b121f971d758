"""Plan a session: the ordered speech and pauses of a script, decided before any audio exists.

Every pause records the rule that set its length, so `rustpunt plan` can show why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rustpunt.errors import ScriptError
from rustpunt.memo import MEMOS
from rustpunt.script.load import MAX_PAUSE_MS, Script
from rustpunt.script.sentences import inline_pause_ms, spoken_words, timing_text
from rustpunt.script.timing import TimingRule, infer_pause

DEFAULT_PAUSE_MS = 5_000
"""After a plain instruction ("Sluit je ogen"): time to do it and settle, without waiting idle."""

DEFAULT_CYCLE_MS = 10_000
"""One calm breathing cycle: about six breaths a minute, the pace most guided breathing uses."""

LEAD_IN_MS = 700
"""Silence before the first word: players and Bluetooth headsets swallow the first half second."""

AFTER_INTRO_MS = 2_000
"""After the intro, a moment to settle before the first step."""

ESTIMATE_WORDS_PER_MINUTE = 115
"""The pace of the built-in voices, sentence pauses included, for estimating a session's length
in `rustpunt plan` (measured on the examples with nl-espeak: see the README)."""

TAIL_MS = 2_000
"""After the outro, so the session ends in quiet instead of being cut off."""

MAX_SESSION_MS = 10 * 60 * 60 * 1000
"""Ten hours: longer is a mistake (hundreds of hour-long pauses), and would fill a disk."""


Part = Literal["intro", "step", "outro"]
"""Which part of the session a text is."""

PauseRule = Literal[TimingRule, "explicit", "lead-in", "after-intro", "tail"]
"""Why a pause has its length: `pause:` in the script, a timing rule (see timing.py), the
default, or one of the fixed quiet moments of every session."""


@dataclass(frozen=True)
class Speech:
    text: str
    part: Part
    step: int | None = None
    line: int | None = None


@dataclass(frozen=True)
class Pause:
    ms: int
    rule: PauseRule
    reason: str
    step: int | None = None
    planned_ms: int | None = None
    """The length planned before `length:` stretched this pause (rustpunt.build.length), else None."""
    stretch: str | None = None
    """Why `length:` changed it ("x1.18 with the other flexible pauses"), else None."""


Item = Speech | Pause


@dataclass(frozen=True)
class Timeline:
    script: Script
    items: tuple[Item, ...]

    def speeches(self) -> list[Speech]:
        return [item for item in self.items if isinstance(item, Speech)]

    def pause_ms(self) -> int:
        return sum(item.ms for item in self.items if isinstance(item, Pause))

    def estimated_ms(self) -> int:
        """The session's length before any audio exists: pauses (inline ones too) plus speech at
        a calm pace."""
        measures = [_spoken_measure(speech.text) for speech in self.speeches()]
        words = sum(count for count, _ in measures)
        inline = sum(ms for _, ms in measures)
        return self.pause_ms() + inline + words * 60_000 // ESTIMATE_WORDS_PER_MINUTE


@MEMOS.remember(maxsize=8192)
def _spoken_measure(text: str) -> tuple[int, int]:
    """The words a text speaks and its inline pauses in ms: remembered, because a rebuild (and
    every `plan`) estimates the same texts again."""
    return len(spoken_words(text)), inline_pause_ms(text)


_timing_text = MEMOS.remember(maxsize=8192)(timing_text)
"""timing_text, remembered for the same reason: a pure function of the step's text."""


def plan(script: Script) -> Timeline:
    default_ms = script.pause_ms if script.pause_ms is not None else DEFAULT_PAUSE_MS
    cycle_ms = script.cycle_ms or DEFAULT_CYCLE_MS
    items: list[Item] = [Pause(LEAD_IN_MS, "lead-in", "quiet before the first word")]
    if script.intro:
        items.append(Speech(script.intro, "intro"))
        items.append(Pause(AFTER_INTRO_MS, "after-intro", "a moment to settle after the intro"))
    for step in script.steps:
        items.append(Speech(step.text, "step", step.number, step.line))
        if step.pause_ms is not None:
            items.append(
                Pause(
                    step.pause_ms,
                    "explicit",
                    f"`pause:` in the script (line {step.pause_line or step.line})",
                    step.number,
                )
            )
        else:
            # cues before an inline pause were answered by it (see rustpunt.script.sentences); a step
            # that paces the breath counts "vijf keer" in cycles of its own breath
            breath_ms = step.breathing.pattern.cycle_ms if step.breathing else cycle_ms
            decision = infer_pause(
                _timing_text(step.text), default_ms=default_ms, cycle_ms=breath_ms
            )
            if decision.ms > MAX_PAUSE_MS:
                raise ScriptError(
                    script.path,
                    step.line,
                    f"step {step.number} asks for a pause of over an hour ({decision.reason});"
                    " a pause is at most an hour: reword the step, or set `pause:` for it",
                )
            items.append(Pause(decision.ms, decision.rule, decision.reason, step.number))
    if script.outro:
        items.append(Speech(script.outro, "outro"))
    items.append(Pause(TAIL_MS, "tail", "quiet after the last words"))
    timeline = Timeline(script, tuple(items))
    if timeline.estimated_ms() > MAX_SESSION_MS:
        hours = timeline.estimated_ms() / 3_600_000
        raise ScriptError(
            script.path,
            script.steps[0].line,
            f"the session would last about {hours:.0f} hours; at most"
            f" {MAX_SESSION_MS // 3_600_000} hours make one MP3: split it into several scripts",
        )
    return timeline


def timeline_document(timeline: Timeline) -> dict[str, Any]:
    """The plan as plain data, for `rustpunt plan --json`."""
    script = timeline.script
    return {
        "script": str(script.path),
        "title": script.title,
        "items": [
            {"type": "speech", "part": item.part, "step": item.step, "text": item.text}
            if isinstance(item, Speech)
            else {
                "type": "pause",
                "step": item.step,
                "ms": item.ms,
                "rule": item.rule,
                "reason": item.reason,
            }
            for item in timeline.items
        ],
        "pause_ms": timeline.pause_ms(),
        "estimated_ms": timeline.estimated_ms(),
    }
