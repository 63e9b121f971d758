"""Sessions of an exact length: `length: 10m` stretches or shrinks the pauses that may give way.

Which pauses give way:

* kept as they are: a step's own `pause:` and inline `(pauze ...)` (the author wrote them; inline
  pauses are part of the spoken clip), pauses that a cue fixes exactly ("vijf seconden", "vier
  tellen": the next words end the hold), the episode's `pause:` parts, and the quiet that frames
  the session (lead-in, tail: sized for players and for bells and a bed);
* giving way: default pauses (also a script's own default `pause:`), pauses of minute cues
  ("twee minuten"), breathing rounds ("vijf keer", with or without `breathing:` tones) and the
  settle moment after the intro.

The rule: every pause that gives way is multiplied by one factor, the same for all, and held
within its bounds (at least 1 s, or its length when shorter; at least the breathing cycles its
tones must play; at most an hour); what a bound holds back, the others take up (the factor is
solved with the bounds in place). One factor keeps the session's rhythm: a 5 s pause and a
three-minute stay both grow by 8 %, so no short pause balloons while a long one barely moves,
which an equal share in seconds (or water-filling the shortest pauses first) would do.

Exact to the sample: speech starts on an MP3 frame, so each pause before speech moves by whole
frames; the factor is solved against the session as placed, and what is left, less than a frame
or two, goes to the tail (the last quiet), which is not on the grid: the file is the asked
length to the millisecond.

The speech length is known only after speaking: `build` fits against the spoken clips; `check`
and `plan`, which speak nothing, fit against an estimate (rustpunt.script.plan's words a minute, and the
lengths of parts already known) and say so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rustpunt.audio.mix import LazyClips, place
from rustpunt.audio.pcm import SAMPLE_RATE
from rustpunt.audio.sounddesign import Designed
from rustpunt.errors import ScriptError
from rustpunt.files import read_json_object
from rustpunt.script.load import MAX_PAUSE_MS
from rustpunt.script.plan import ESTIMATE_WORDS_PER_MINUTE, Pause, Timeline, _spoken_measure

GIVING_WAY = {
    "default": "a default pause",
    "minutes": "a minute cue",
    "repeat": "breathing rounds",
    "after-intro": "a settle pause",
}
"""The pause rules whose length `length:` may change, and what each is called in `plan`."""

KEPT = {
    "explicit": "written by the author",
    "seconds": "a cue fixes it",
    "lead-in": "frames the session",
    "tail": "frames the session",
}

FLOOR_MS = 1_000
"""A pause that gives way never shrinks below a second (nor below its planned length, if less)."""


class LengthProblem(Exception):
    """The asked length is out of reach: the shortest and longest the session can be, in ms."""

    def __init__(self, asked_ms: int, shortest_ms: float, longest_ms: float) -> None:
        super().__init__(asked_ms, shortest_ms, longest_ms)
        self.asked_ms, self.shortest_ms, self.longest_ms = asked_ms, shortest_ms, longest_ms


@dataclass(frozen=True)
class Give:
    """A pause that may give way: its place in the timeline, planned length and bounds."""

    index: int
    planned_ms: int
    low_ms: int
    high_ms: int


def gives(designed: Designed) -> list[Give]:
    """The pauses of a designed timeline that `length:` may change, with their bounds."""
    breaths = {
        run.item: (1 if run.fills else run.cycles) * run.pattern.cycle_ms
        for run in designed.breathing
    }
    found = []
    for index, item in enumerate(designed.timeline.items):
        if isinstance(item, Pause) and item.rule in GIVING_WAY and item.ms > 0:
            low = max(min(item.ms, FLOOR_MS), breaths.get(index, 0))
            found.append(Give(index, item.ms, min(low, item.ms), max(item.ms, MAX_PAUSE_MS)))
    return found


def shares(flexible: list[Give], budget: int) -> list[int]:
    """Lengths for the flexible pauses that add up to `budget` ms (held within what their bounds
    allow): each the planned length times one factor, clamped to its bounds."""
    if not flexible:
        return []
    budget = min(max(budget, sum(g.low_ms for g in flexible)), sum(g.high_ms for g in flexible))

    def total(factor: float) -> float:
        return sum(min(max(factor * g.planned_ms, g.low_ms), g.high_ms) for g in flexible)

    low, high = 0.0, 1.0
    while total(high) < budget:
        high *= 2
    for _ in range(80):
        middle = (low + high) / 2
        low, high = (middle, high) if total(middle) < budget else (low, middle)
    lengths = [min(max(round(high * g.planned_ms), g.low_ms), g.high_ms) for g in flexible]
    miss = budget - sum(lengths)  # rounding: a few ms, to the longest pauses that can take them
    order = sorted(range(len(flexible)), key=lambda i: -lengths[i])
    while miss:
        moved = False
        for i in order:
            step = 1 if miss > 0 else -1
            if flexible[i].low_ms <= lengths[i] + step <= flexible[i].high_ms:
                lengths[i] += step
                miss -= step
                moved = True
                if not miss:
                    break
        if not moved:
            break
    return lengths


def _with(timeline: Timeline, flexible: list[Give], lengths: list[int]) -> Timeline:
    items = list(timeline.items)
    for give, ms in zip(flexible, lengths):
        item = items[give.index]
        assert isinstance(item, Pause)
        items[give.index] = replace(item, ms=ms, planned_ms=give.planned_ms)
    return replace(timeline, items=tuple(items))


def fit(
    designed: Designed, length_ms: int, measure: Callable[[Timeline], float], passes: int = 8
) -> Designed:
    """The designed session with its flexible pauses stretched so that `measure` (its length in
    ms as placed) gives `length_ms`; the tail takes what the speech grid leaves over. Breathing
    tones that fill their pause get the cycles the stretched pause holds.
    Raises LengthProblem when the bounds cannot reach the length."""
    timeline = designed.timeline
    flexible = gives(designed)
    shortest = measure(_with(timeline, flexible, [g.low_ms for g in flexible]))
    longest = measure(_with(timeline, flexible, [g.high_ms for g in flexible]))
    if not shortest <= length_ms <= longest:
        raise LengthProblem(length_ms, shortest, longest)
    budget = sum(g.planned_ms for g in flexible) + length_ms - measure(timeline)
    stretched, miss = timeline, 0.0
    for _ in range(passes):
        stretched = _with(timeline, flexible, shares(flexible, round(budget)))
        miss = length_ms - measure(stretched)
        if abs(miss) < SUB_FRAME_MS:
            break
        budget += miss
    stretched = _tail_takes(stretched, round(miss))
    factor = _factor(flexible, stretched)
    stretched = _noted(stretched, flexible, factor, length_ms)
    runs = tuple(
        replace(run, cycles=max(1, _pause(stretched, run.item).ms // run.pattern.cycle_ms))
        if run.fills
        else run
        for run in designed.breathing
    )
    return replace(designed, timeline=stretched, breathing=runs)


SUB_FRAME_MS = 1152 / 44.1
"""One MP3 frame: a miss smaller than this is the speech grid's, not the factor's."""


def _tail_takes(timeline: Timeline, miss_ms: int) -> Timeline:
    """The last quiet takes the last few ms (it is not on the speech grid: any length fits)."""
    if not miss_ms:
        return timeline
    items = list(timeline.items)
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if isinstance(item, Pause):
            items[index] = replace(
                item,
                ms=max(0, item.ms + miss_ms),
                planned_ms=item.planned_ms if item.planned_ms is not None else item.ms,
                stretch=f"{miss_ms:+d} ms so that the file ends on the asked length",
            )
            break
    return replace(timeline, items=tuple(items))


def _pause(timeline: Timeline, index: int) -> Pause:
    item = timeline.items[index]
    assert isinstance(item, Pause)
    return item


def _factor(flexible: list[Give], timeline: Timeline) -> float:
    planned = sum(g.planned_ms for g in flexible)
    now = sum(_pause(timeline, g.index).ms for g in flexible)
    return now / planned if planned else 1.0


def _noted(timeline: Timeline, flexible: list[Give], factor: float, length_ms: int) -> Timeline:
    """Each flexible pause says how it moved: with the others, or held at a bound."""
    items = list(timeline.items)
    for give in flexible:
        item = items[give.index]
        assert isinstance(item, Pause)
        if item.ms == give.low_ms and round(factor * give.planned_ms) < give.low_ms:
            why = f"held at its floor of {clock(give.low_ms, exact=True)}"
        elif item.ms == give.high_ms and round(factor * give.planned_ms) > give.high_ms:
            why = "held at the limit of an hour"
        else:
            why = f"x{item.ms / give.planned_ms:.3f} with the other pauses that give way"
        items[give.index] = replace(item, stretch=f"{why}, for a length of {clock(length_ms)}")
    return replace(timeline, items=tuple(items))


def why_kept(pause: Pause) -> str:
    """Why a pause keeps its length under `length:` (for `plan`), or "" when it gives way."""
    if pause.rule in GIVING_WAY:
        return "" if pause.ms else "zero: stays zero"
    return f"kept: {KEPT.get(pause.rule, 'fixed')}"


def clock(ms: float, *, exact: bool = False, up: bool = False) -> str:
    """6:12, 1:02:03 (rounded to the second; `up` rounds up); `exact`: "2.5 s" below a minute."""
    if exact and ms < 60_000:
        return f"{ms / 1000:g} s"
    seconds = max(0, math.ceil(ms / 1000) if up else math.floor(ms / 1000))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def estimate(
    known: Mapping[str, float] | None = None,
) -> Callable[[Timeline], float]:
    """A measure for `fit` before anything is spoken: the session placed as the build places it
    (speech on the frame grid), each text as long as `known` says (measured before), else its
    words at rustpunt.script.plan's estimated pace and its inline pauses."""
    known = known or {}

    def speech_ms(text: str) -> float:
        if text in known:
            return known[text]
        words, inline = _spoken_measure(text)
        return inline + words * 60_000 / ESTIMATE_WORDS_PER_MINUTE

    def measure(timeline: Timeline) -> float:
        lengths = {
            s.text: round(speech_ms(s.text) * SAMPLE_RATE / 1000) for s in timeline.speeches()
        }
        clips = LazyClips(lengths=lengths, energies={}, load=_nothing)
        return place(timeline, clips, normalize=False).total_samples * 1000 / SAMPLE_RATE

    return measure


def _nothing(text: str) -> np.ndarray:
    raise AssertionError(f"an estimate has no audio for {text!r}")


def length_error(
    problem: LengthProblem, path: Path, line: int | None, what: str, basis: str | None = None
) -> ScriptError:
    """The error at the `length:` line: the length asked, and the shortest and longest possible;
    `basis` says how the speech length is known when it is not spoken yet."""
    about = "about " if basis else ""
    basis = f" ({basis})" if basis else ""
    span = f"ask for {clock(problem.shortest_ms, up=True)} to {clock(problem.longest_ms)}"
    if problem.asked_ms < problem.shortest_ms:
        message = (
            f"`length` {clock(problem.asked_ms)} is too short: this {what} is at least"
            f" {about}{clock(problem.shortest_ms, up=True)} long{basis}; {span}, or shorten"
            " its text and the pauses that keep their length"
        )
    else:
        message = (
            f"`length` {clock(problem.asked_ms)} is too long: this {what} is at most"
            f" {about}{clock(problem.longest_ms)} long{basis}; {span} (a pause that gives way"
            " grows to an hour at most; `pause:` and cues such as 'vijf seconden' keep theirs)"
        )
    return ScriptError(path, line, message)


def fit_spoken(
    designed: Designed,
    length_ms: int,
    clips: Mapping[str, np.ndarray],
    where: tuple[Path, int | None, str],
) -> Designed:
    """`fit` against the spoken clips, as the build places them (speech on the frame grid):
    exact. `where`: the file, the `length:` line and "script" or "episode", for the error."""

    def measure(timeline: Timeline) -> float:
        return place(timeline, clips, normalize=False).total_samples * 1000 / SAMPLE_RATE

    try:
        return fit(designed, length_ms, measure)
    except LengthProblem as problem:
        raise length_error(problem, *where) from None


def check_length(
    designed: Designed,
    length_ms: int,
    where: tuple[Path, int | None, str],
    known: Mapping[str, float] | None = None,
) -> Designed:
    """`fit` against the estimate, for `check` and `plan`; the error says it is estimated."""
    try:
        return fit(designed, length_ms, estimate(known))
    except LengthProblem as problem:
        raise length_error(problem, *where, speech_basis(designed.timeline, known)) from None


def speech_basis(timeline: Timeline, known: Mapping[str, float] | None) -> str:
    """How an estimate knows the speech: measured in the last build, estimated, or both."""
    texts = {speech.text for speech in timeline.speeches()}
    measured = len(texts & set(known or ()))
    pace = f"at {ESTIMATE_WORDS_PER_MINUTE} words a minute"
    if measured == len(texts):
        return "its speech as the last build measured it"
    if measured:
        return f"its speech as the last build measured it, new text estimated {pace}"
    return f"its speech estimated {pace}: it is not spoken yet"


def length_record(timeline: Timeline, length_ms: int) -> dict[str, Any]:
    """The sidecar's "length": the length asked and every pause `length:` changed."""
    return {
        "asked_ms": length_ms,
        "pauses": [
            {
                "item": index,
                "step": item.step,
                "rule": item.rule,
                "planned_ms": item.planned_ms,
                "ms": item.ms,
                "stretch": item.stretch,
            }
            for index, item in enumerate(timeline.items)
            if isinstance(item, Pause) and item.planned_ms is not None
        ],
    }


def known_speech(sidecar: Path) -> dict[str, float]:
    """Each text's spoken length (ms) as a previous build's JSON sidecar records it, so `check`
    and `plan` estimate only what was not spoken before; empty when there is none."""
    document = read_json_object(sidecar)
    if document is None:
        return {}
    known: dict[str, float] = {}
    steps = document.get("steps")
    entries = [
        document.get("intro"),
        document.get("outro"),
        *(steps if isinstance(steps, list) else []),
    ]
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            continue
        end = entry.get("speech_end_ms", entry.get("end_ms"))
        start = entry.get("start_ms")
        if isinstance(start, (int, float)) and isinstance(end, (int, float)) and end >= start:
            known[entry["text"]] = float(end - start)
    return known


def pause_line(pause: Pause, fitted: bool) -> str:
    """A pause as `rustpunt plan` prints it; with `length:`, before and after, and why."""
    if not fitted:
        return f"        pause {pause.ms / 1000:6.1f} s  [{pause.rule}] {pause.reason}"
    if pause.planned_ms is None:
        kept = why_kept(pause)
        return f"        pause {pause.ms / 1000:6.1f} s  [{pause.rule}] {pause.reason} ({kept})"
    digits = 1 if round(pause.planned_ms, -2) != round(pause.ms, -2) else 3  # the tail's few ms
    return (
        f"        pause {pause.planned_ms / 1000:6.1f} s -> {pause.ms / 1000:.{digits}f} s  [{pause.rule}]"
        f" {pause.reason}; {pause.stretch}"
    )
