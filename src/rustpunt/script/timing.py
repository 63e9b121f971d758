"""Pause inference: how long the silence after a step lasts, read from the Dutch words of the step.

A step that names a duration or a number of repetitions gets a pause that is AT LEAST that long;
every other step gets the script's default pause. The rules, in short:

* "vijf seconden", "2,5 sec", "30s", "een seconde of vijf"   -> seconds   (rule "seconds")
* "vier tellen", "een tel", "tel langzaam tot tien"          -> 1 s a count (rule "seconds")
* "twee minuten", "een minuut", "anderhalve minuut",
  "een halve minuut", "een paar minuten", "1.5 min"          -> minutes   (rule "minutes")
* "vijf keer", "driemaal", "vijf ademhalingen"               -> N * cycle_ms (rule "repeat")
* nothing of the above                                       -> default_ms (rule "default")

Numbers are digits (decimal comma or point) or Dutch number words, read by text2num
(`alpha2digit`); "een"/"één", "anderhalve", "een halve", "N-ënhalve" and "een paar" are our own
rules, because text2num leaves them alone (they are also articles and idioms). Right before a
unit, "een" is read as one: "een minuut" is 1 min, "nog een keer" is one cycle.

Decisions (the MP3 is measured, so every inferred pause is at least what the cue asks):

* A hold ends on time: a step whose cues are seconds or counts gets exactly what they ask
  ("Houd dit vijf seconden vast" = 5 s), because the next words ("En laat los") are the signal
  that the hold is over; a margin would make every hold, and every counted breath, a second too
  long. The settle margin, SETTLE_MS (1 s) once per step, stays where the listener times a long
  stretch alone and needs a moment to come back before the voice speaks again: a stay of a
  minute or more, and rounds of breathing that "Herhaal ... N keer" repeats. A pure repetition
  cue gets exactly N * cycle_ms: the cycle is already a generous, author-set estimate.
* No default floor: a cue replaces the default, even when it is shorter ("Adem twee tellen in"
  gives 2 s against a 6 s default). Paced breathing lives on those short, exact pauses.
* Several cues in one step happen one after the other, so they add up ("Adem vier tellen in en
  zeven tellen uit" = 11 s). Alternatives ("vijf of zes seconden", "dertig tot veertig
  seconden", "twee, drie keer") count once, at the longest; "een minuut of twee" is the Dutch
  "about two minutes" and counts as two.
* "Herhaal ... N keer" after timed cues in the same step repeats those cues: the pause is
  N * max(their sum, cycle_ms) + 1 s ("Adem vier tellen in en acht tellen uit. Herhaal dit drie
  keer." = 3 * 12 s + 1 s). Without "herhaal" the repetition is added like any other cue.
* "een paar" (and "enkele", "een aantal") is A_FEW = 3, see there.
* A zero asks for no time: "Houd dit 0 seconden vast" (or "nul minuten", "nul keer") goes
  straight on to the next step, as `pause: 0` does, and the reason quotes the cue. The words
  are the author's, and a zero is as exact as any other number; `rustpunt plan` shows it.
* The rule id is "repeat" if a repetition cue counts, else "minutes" if a minute cue counts,
  else "seconds"; the reason names every cue that counted.

Not cues (the step gets the default pause, and the reason says which words were passed over):

* frequencies and rates: "een keer per dag", "twee keer per week", "zes ademhalingen per minuut",
  "tien minuten per dag", and a number after "per", "elke", "iedere", "om de" ("om de twee
  minuten");
* descriptions: a sentence with "duurt"/"duren" ("Deze oefening duurt tien minuten");
* words without a number: "elke keer", "per minuut", "de minuten", "keer terug" (the verb keren),
  ordinals ("voor de tweede keer"), "min of meer", "nu eenmaal";
* hours ("uur"): an exercise step never asks for hours, and "uur" in a step is a schedule.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from text_to_num import alpha2digit

from rustpunt.memo import MEMOS

__all__ = [
    "A_FEW",
    "MS_PER_COUNT",
    "SETTLE_MS",
    "CueReading",
    "PauseDecision",
    "explain",
    "infer_pause",
    "pause_for",
    "read_cues",
]


TimingRule = Literal["seconds", "minutes", "repeat", "default"]
"""Which rule set an inferred pause: the cue with the most weight, or the default pause."""


@dataclass(frozen=True)
class PauseDecision:
    """The pause after one step and why, as `rustpunt plan` shows it."""

    ms: int
    """The pause after the step, in whole milliseconds."""
    rule: TimingRule
    reason: str
    """One short English sentence quoting the Dutch cue."""


SETTLE_MS = 1000
"""Added once to a step that asks for minutes or repeats timed rounds: a moment to come back
before the voice goes on. Seconds and counts end on time (see the module's notes)."""

MS_PER_COUNT = 1000
"""One count ("tel") is one second: breathing exercises (4-7-8, box breathing) count seconds."""

A_FEW = Fraction(3)
""""een paar" (also "enkele", "een aantal") as a number. Literally "a pair", but in speech it means
"a few", which listeners stretch beyond two; three keeps the pause at least as long as they
expect, and three minutes is the usual stay in a guided visualisation (the mindfulness
"three-minute breathing space"). An author who wants more sets an explicit pause."""

# --- Numbers --------------------------------------------------------------------------------------

_TOKEN = r"(?:\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:[.,]\d+)?|[^\W\d_]+)"
"""One number-ish token: digits with Dutch thousands points and an optional decimal part, or one
word."""

_NUMBER_TAIL = re.compile(rf"(?<![\w:])((?:{_TOKEN}(?:\s+|\s*[-\u2013]\s*)){{0,4}}{_TOKEN})\s*$")
"""Up to five tokens right before a unit, joined by spaces or hyphens only (punctuation ends a
number; "1:30" is no number, so its "30" is not read as one)."""

_LOOK_BACK = 120
"""How far before a unit to look for its number: five tokens fit, and long steps stay linear."""

_SPECIAL_NUMBERS: dict[str, Fraction] = {
    "een paar": A_FEW,
    "enkele": A_FEW,
    "een aantal": A_FEW,
    "een stuk of wat": A_FEW,
    "anderhalve": Fraction(3, 2),
    "anderhalf": Fraction(3, 2),
    "een halve": Fraction(1, 2),
    "een half": Fraction(1, 2),
    "halve": Fraction(1, 2),
}
"""Idioms text2num leaves alone: "een" is also the article, so these are ours."""

_FEW_WORDS = re.compile(
    r"\b(?:een\s+(?:paar|aantal|stuk\s+of\s+wat)|enkele|of\s+wat)\b", re.IGNORECASE
)
"""The words that A_FEW stands for, named in the reason."""

_AND_A_HALF = re.compile(r"(?P<whole>.+?)\s*(?:ën|en)\s*(?:een\s+)?halve?")
"""'tweeënhalve', 'twee en een halve', '2 en een half': the whole number plus one half."""

_DIGITS = re.compile(r"\d+(?:[.,]\d+)?")

_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?")
"""Dutch writes a thousand as 1.000 and a half as 0,5: a point before exactly three digits groups
thousands ("1.000 seconden" is a thousand seconds); any other point is a decimal point, as in
English ("1.5 minuut")."""


@MEMOS.remember(maxsize=4096)
def _parse_number(phrase: str) -> Fraction | None:
    """The value of a phrase that is one number and nothing else, or None."""
    phrase = " ".join(phrase.lower().replace("\u2013", "-").split())
    if phrase in _SPECIAL_NUMBERS:
        return _SPECIAL_NUMBERS[phrase]
    if _THOUSANDS.fullmatch(phrase):
        return Fraction(phrase.replace(".", "").replace(",", "."))
    if _DIGITS.fullmatch(phrase):
        return Fraction(phrase.replace(",", "."))
    half = _AND_A_HALF.fullmatch(phrase)
    if half:
        whole = _parse_number(half["whole"])
        return None if whole is None else whole + Fraction(1, 2)
    # threshold=0: also read "een", "één" and "twee" standing alone (text2num skips them).
    digits = alpha2digit(phrase, "nl", threshold=0)
    if _DIGITS.fullmatch(digits):
        return Fraction(digits.replace(",", "."))
    return None


def _number_before(text: str, end: int) -> tuple[Fraction, int] | None:
    """The longest number phrase ending right before `end`, with where it starts."""
    tail = _NUMBER_TAIL.search(text, max(0, end - _LOOK_BACK), end)
    if not tail:
        return None
    for token in re.finditer(_TOKEN, tail[1]):
        start = tail.start(1) + token.start()
        value = _parse_number(text[start : tail.end(1)])
        if value is not None:
            return value, start
    return None


def _number_after(text: str, start: int) -> tuple[Fraction, int] | None:
    """The longest number phrase (up to three tokens) starting at `start`, with where it ends."""
    tokens = list(re.finditer(rf"\s*({_TOKEN})", text[start:]))[:3]
    for count in range(len(tokens), 0, -1):
        # only whitespace between the tokens taken
        if any(tokens[i].start() != tokens[i - 1].end() for i in range(1, count)):
            continue
        end = start + tokens[count - 1].end()
        value = _parse_number(text[start:end])
        if value is not None:
            return value, end
    return None


# --- Units: the rule table ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    kind: str  # "minutes", "seconds", "counts" (timed) or "repeat"
    pattern: str
    ms: int  # per unit; 0 for "repeat", which takes cycle_ms


_UNITS = (
    # "min" but not "min of meer" (more or less).
    _Unit("minutes", r"minuutjes?|minuten|minuut|min(?!\s+of\s+meer\b)", 60_000),
    # a bare "s" only glued to digits ("30s").
    _Unit("seconds", r"secondjes?|seconden|seconde|secs?|(?<=\d)s", 1000),
    _Unit("counts", r"tellen|tel", MS_PER_COUNT),
    # "keer terug" is the verb keren; "maal" covers "drie maal"; a breath is one cycle.
    _Unit(
        "repeat",
        r"keer(?!\s+terug\b)|maal|ademhalingen|ademhaling|ademteugen|ademteug"
        r"|herhalingen|herhaling",
        0,
    ),
)

_UNIT_RE = re.compile(
    r"(?:(?<=\d)|\b)(?:" + "|".join(f"(?P<{u.kind}>{u.pattern})" for u in _UNITS) + r")\b",
    re.IGNORECASE,
)
_UNIT_BY_KIND = {u.kind: u for u in _UNITS}

_COMPOUND_TIMES = re.compile(r"\b(?P<num>[^\W\d_]+?)maal\b", re.IGNORECASE)
"""'tweemaal', 'driemaal': repetitions written as one word ('eenmaal' is the idiom 'nu eenmaal')."""

_COUNT_TO = re.compile(r"\btel\b(?P<mid>(?:\s+\w+){0,4}?)\s+(?:tot|naar)\s+(?=\S)", re.IGNORECASE)
"""'tel (langzaam) tot tien', 'tel van tien terug naar een': counting, one count a second."""

_COUNT_FROM = re.compile(rf"\bvan\s+({_TOKEN})", re.IGNORECASE)

_FREQUENCY_BEFORE = re.compile(
    r"\b(?:per|elke|elk|iedere|ieder|om\s+de|om\s+het|na\s+elke)\s+$", re.IGNORECASE
)
"""'per twee minuten', 'elke vijf seconden', 'om de twee minuten': how often, not how long."""

_FREQUENCY_AFTER = re.compile(
    r"\s+(?:(?:per|elke|elk|iedere|ieder|in\s+de|op\s+een|a|à)\s+"
    r"(?:dag|week|maand|jaar|nacht|uur|ochtend|middag|avond|minuut|seconde)"
    r"|daags|dagelijks|wekelijks|'s\s+(?:morgens|ochtends|middags|avonds))\b",
    re.IGNORECASE,
)
"""'een keer per dag', 'zes ademhalingen per minuut', 'tien minuten per dag': schedules, rates."""

_ANY_UNIT = "|".join(u.pattern for u in _UNITS)
_ABOUT = re.compile(rf"\s+of\s+({_TOKEN})\b(?!\s*(?:{_ANY_UNIT})\b)", re.IGNORECASE)
"""'een minuut of twee', 'een seconde of vijf': Dutch for 'about two minutes', 'about 5 seconds'."""

_DESCRIPTION = re.compile(r"\b(?:duurt|duren|duurde|duurden)\b", re.IGNORECASE)
"""'Deze oefening duurt tien minuten' describes the session; it asks nothing of the listener."""

_SENTENCE = re.compile(r"(?:[^.!?;]|(?<=\d)[.](?=\d))+")
"""Sentences, keeping decimal points ('1.5 minuut') inside."""

_ALTERNATIVE = re.compile(r"\s*,?\s*(?:of|à|a|tot|-|\u2013)\s*", re.IGNORECASE)
"""What joins alternatives ('vijf of zes seconden ...', 'vijf seconden of tien seconden')."""

_RANGE_START = re.compile(rf"(?<!\w)({_TOKEN})\s*(?:of|à|a|tot|-|\u2013)\s*$", re.IGNORECASE)
"""The lower end of a range before a cue's number ('dertig tot veertig'), for quoting only."""

_REPEAT_VERB = re.compile(r"\bherha(?:al|alt|len)\b", re.IGNORECASE)
"""'Herhaal dit vijf keer': repeat what the step said before."""


@dataclass
class _Cue:
    kind: str  # "minutes", "seconds", "counts", "repeat"
    value: Fraction  # units (or repetitions)
    start: int
    end: int
    quote: str
    ms: Fraction = Fraction(0)  # for timed cues


def _find_cues(text: str) -> tuple[list[_Cue], list[tuple[str, str]]]:
    """Every cue in the text in order, and the number-and-unit phrases passed over (quote, why)."""
    cues: list[_Cue] = []
    ignored: list[tuple[str, str]] = []
    described = [m.span() for m in _SENTENCE.finditer(text) if _DESCRIPTION.search(m[0])]

    def quote(start: int, end: int) -> str:
        return " ".join(text[start:end].split())

    def add(kind: str, value: Fraction, start: int, end: int) -> None:
        if any(a <= start < b for a, b in described):
            ignored.append((quote(start, end), "describes the session"))
            return
        after = _FREQUENCY_AFTER.match(text, end)
        before = _FREQUENCY_BEFORE.search(text, max(0, start - _LOOK_BACK), start)
        if after or before:
            span = quote(before.start() if before else start, after.end() if after else end)
            ignored.append((span, "is a frequency"))
            return
        if value < 0:
            return
        # quote a range whole: "dertig tot veertig seconden"
        low = _RANGE_START.search(text, max(0, start - _LOOK_BACK), start)
        if low and _parse_number(low[1]) is not None:
            start = low.start()
        unit = _UNIT_BY_KIND[kind]
        cues.append(_Cue(kind, value, start, end, quote(start, end), value * unit.ms))

    for unit in _UNIT_RE.finditer(text):
        kind = unit.lastgroup or ""
        number = _number_before(text, unit.start())
        if number is None:
            continue
        value, start = number
        end = unit.end()
        about = _ABOUT.match(text, end)
        if about:
            approx = _parse_number(about[1]) if about[1].lower() != "wat" else A_FEW
            if approx is not None and approx > value:
                value, end = approx, about.end()
        add(kind, value, start, end)

    for compound in _COMPOUND_TIMES.finditer(text):
        times = _parse_number(compound["num"])
        if times is not None and times >= 2:  # "nu eenmaal" is an idiom, not "once"
            add("repeat", times, compound.start(), compound.end())

    for count in _COUNT_TO.finditer(text):
        number = _number_after(text, count.end())
        if number is None:
            continue
        value, end = number
        origin = _COUNT_FROM.search(count["mid"])
        if origin:
            value = max(value, _parse_number(origin[1]) or Fraction(0))
        add("counts", value, count.start(), end)

    cues.sort(key=lambda c: c.start)
    return cues, ignored


# --- Combining ------------------------------------------------------------------------------------


def _fmt(ms: Fraction | int) -> str:
    """'5 s', '2.5 s', '3 min', '1 min 30 s'."""
    ms = Fraction(ms)
    if ms >= 60_000:
        minutes, rest = divmod(ms, 60_000)
        return f"{minutes} min" + (f" {_fmt(rest)}" if rest else "")
    seconds = ms / 1000
    if seconds.denominator == 1:
        return f"{seconds.numerator} s"
    return f"{float(seconds):.3g} s"


def _group(cues: list[_Cue], text: str) -> list[_Cue]:
    """Merge alternatives ('vijf seconden of tien seconden') into one cue, at the longest."""
    groups: list[_Cue] = []
    for cue in cues:
        last = groups[-1] if groups else None
        if (
            last is not None
            and (cue.kind == "repeat") == (last.kind == "repeat")
            and _ALTERNATIVE.fullmatch(text, last.end, cue.start)
        ):
            longer = cue if (cue.ms, cue.value) > (last.ms, last.value) else last
            groups[-1] = _Cue(
                longer.kind,
                longer.value,
                last.start,
                cue.end,
                " ".join(text[last.start : cue.end].split()),
                longer.ms,
            )
        else:
            groups.append(cue)
    return groups


def _gloss(cue: _Cue, cycle_ms: int) -> str:
    """What one cue asks for, in a few words."""
    few = _few_note(cue, ", '{}' read as {}")
    if cue.kind == "repeat":
        return f"{_fmt(math.ceil(cue.value * cycle_ms))}, {_num(cue.value)} breathing cycles{few}"
    if cue.kind == "counts":
        return f"{_fmt(cue.ms)}, a count a second{few}"
    return _fmt(cue.ms) + few


def _few_note(cue: _Cue, template: str) -> str:
    """Name the words read as A_FEW, if the cue has them."""
    few = _FEW_WORDS.search(cue.quote)
    return template.format(" ".join(few[0].split()), A_FEW) if few else ""


def _num(value: Fraction) -> str:
    """'5', '1.5'."""
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


@dataclass(frozen=True)
class CueReading:
    """What a step's words ask for, before any arithmetic: the cues that count and how."""

    groups: tuple[_Cue, ...]
    """Every cue, alternatives merged ('vijf of zes seconden' counts once, at the longest)."""
    repeated: tuple[_Cue, ...]
    """Timed cues that a later 'Herhaal ... N keer' repeats."""
    timed: tuple[_Cue, ...]
    """The other timed cues (seconds, counts, minutes): they add up."""
    repeats: tuple[_Cue, ...]
    """Repetition cues ('vijf keer', 'driemaal')."""
    ignored: tuple[tuple[str, str], ...]
    """Number-and-unit phrases passed over, with why ('is a frequency')."""

    @property
    def times(self) -> Fraction:
        return sum((g.value for g in self.repeats), Fraction(0))

    @property
    def settle_ms(self) -> int:
        """The margin after a long, self-timed stretch (minutes, repeated rounds); seconds and
        counts end on time."""
        minutes = any(g.kind == "minutes" and g.ms for g in (*self.timed, *self.repeated))
        return SETTLE_MS if minutes or (self.repeated and self.times) else 0


def read_cues(text: str) -> CueReading:
    """Find the timing cues in a step's Dutch words and how they combine."""
    text = unicodedata.normalize("NFC", text)
    cues, ignored = _find_cues(text)
    groups = _group(cues, text)
    timed = [g for g in groups if g.kind != "repeat"]
    repeats = tuple(g for g in groups if g.kind == "repeat")
    verb = _REPEAT_VERB.search(text)
    repeated = (
        [g for g in timed if g.end <= verb.start()]
        if verb and repeats and any(r.start > verb.start() for r in repeats)
        else []
    )
    rest = tuple(g for g in timed if g not in repeated)
    return CueReading(tuple(groups), tuple(repeated), rest, repeats, tuple(ignored))


def _round_ms(reading: CueReading, cycle_ms: int) -> Fraction:
    """One round of what 'Herhaal' repeats: the repeated cues, at least one breathing cycle."""
    return max(sum((g.ms for g in reading.repeated), Fraction(0)), Fraction(cycle_ms))


def pause_for(reading: CueReading, *, default_ms: int, cycle_ms: int) -> tuple[int, TimingRule]:
    """The pause in whole milliseconds and its rule id, from the cues alone."""
    if not reading.groups:
        return int(default_ms), "default"
    timed_ms = sum((g.ms for g in reading.timed), Fraction(0))
    if reading.repeated:
        total = reading.times * _round_ms(reading, cycle_ms) + timed_ms + reading.settle_ms
        return math.ceil(total), "repeat"
    total = timed_ms + reading.times * cycle_ms + reading.settle_ms
    minutes = any(g.kind == "minutes" for g in reading.timed)
    rule: TimingRule = "repeat" if reading.repeats else "minutes" if minutes else "seconds"
    return math.ceil(total), rule


def explain(reading: CueReading, ms: int, *, default_ms: int, cycle_ms: int) -> str:
    """One short English sentence quoting the Dutch cues, for `rustpunt plan`."""
    if not reading.groups:
        ignored = reading.ignored
        passed = f" ('{ignored[0][0]}' {ignored[0][1]}, not a pause)" if ignored else ""
        return f"no timing cue{passed}: default pause of {_fmt(default_ms)}"
    settle = reading.settle_ms
    margin = f" (+{_fmt(settle)} to settle)" if settle else ""
    if reading.repeated:
        said = " + ".join(f"'{g.quote}'" for g in reading.repeated)
        reps = " + ".join(f"'{r.quote}'" for r in reading.repeats)
        extra = "".join(f", plus '{g.quote}' ({_gloss(g, cycle_ms)})" for g in reading.timed)
        return (
            f"{said} repeated {reps} asks for {_num(reading.times)} x"
            f" {_fmt(_round_ms(reading, cycle_ms))}{extra}{margin}"
        )
    if len(reading.groups) == 1:
        cue = reading.groups[0]
        if cue.kind != "repeat":
            return f"'{cue.quote}' asks for {_gloss(cue, cycle_ms)}{margin}"
        cycles = "breathing cycle" if reading.times == 1 else "breathing cycles"
        note = _few_note(cue, " ('{}' read as {})")
        return (
            f"'{cue.quote}' asks for {_num(reading.times)} {cycles}"
            f" of {_fmt(cycle_ms)}: {_fmt(ms)}{note}"
        )
    parts = " + ".join(f"'{g.quote}' ({_gloss(g, cycle_ms)})" for g in reading.groups)
    return f"{parts} ask for {_fmt(ms - settle)} in all{margin}"


def infer_pause(text: str, *, default_ms: int, cycle_ms: int) -> PauseDecision:
    """The pause after a step: at least what its Dutch words ask for, else the default pause.

    Remembered per (text, default_ms, cycle_ms), all it depends on: a rebuild plans the same
    steps again, and stock sentences repeat across the scripts of a bulk build."""
    return _remembered_pause(text, default_ms, cycle_ms)


def _decide_pause(text: str, default_ms: int, cycle_ms: int) -> PauseDecision:
    """infer_pause, worked out afresh (the decision is frozen, so one may be shared)."""
    reading = read_cues(text)
    ms, rule = pause_for(reading, default_ms=default_ms, cycle_ms=cycle_ms)
    reason = explain(reading, ms, default_ms=default_ms, cycle_ms=cycle_ms)
    return PauseDecision(ms, rule, reason)


_remembered_pause = MEMOS.remember(maxsize=8192, typed=True)(_decide_pause)
"""A few thousand distinct step texts cover a large library; typed, so 5000 and 5000.0 differ."""
