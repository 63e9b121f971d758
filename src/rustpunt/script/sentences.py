"""A spoken text in pieces: inline pauses, sentences, clauses, and caption lines.

A step is spoken sentence by sentence (each sentence its own clip in the cache, so editing one
sentence re-speaks one sentence) and, where the voice profile asks, clause by clause. An editor can
write a pause inside a step as `(pauze 4 s)`:

    - Adem vier tellen in (pauze 4 s) en zes tellen uit.

The syntax, in full: an opening bracket, the word `pauze`, a number of seconds (digits, a decimal
comma or point allowed) and an optional unit (`s`, `sec`, `seconde`, `seconden`, `min`, `minuut`,
`minuten`), then a closing bracket; case and spaces inside the brackets do not matter. It reads as
Dutch, needs no quoting in YAML (no colon, no leading bracket of a YAML list), and cannot be
mistaken for an ordinary remark in brackets, which never starts with the word "pauze".

An inline pause is the author deciding the time: the timing rules read only the words after the
last inline pause of a step for the pause after it (see `timing_text`), so a cue answered by an
inline pause ("Adem vier tellen in (pauze 4 s) ...") is not waited for twice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rustpunt.memo import MEMOS
from rustpunt.script.durations import AMOUNT, UNITS_MS, DurationError, seconds_of

__all__ = [
    "CAPTION_LINE_CHARS",
    "MAX_INLINE_PAUSE_MS",
    "Gap",
    "InlinePause",
    "InlinePauseError",
    "Phrase",
    "caption_cues",
    "caption_lines",
    "check_inline_pauses",
    "clauses",
    "inline_pause_ms",
    "phrases",
    "sentences",
    "split_inline",
    "split_span",
    "spoken_words",
    "timing_text",
]

MAX_INLINE_PAUSE_MS = 60 * 60 * 1000
"""As for `pause:`: over an hour is a typo ("(pauze 90 min)" for 90 s), so it is refused."""

PHRASES_KEPT = 4096
"""Texts whose phrases are kept in memory: a 60-minute session has ~150 distinct texts."""

CAPTION_LINE_CHARS = 42
"""The longest caption line: the BBC, Netflix and most players' guidelines for subtitles."""

CAPTION_LINES = 2
"""At most two lines on screen at once."""

_INLINE = re.compile(
    rf"\(\s*pauze\s+(?P<amount>{AMOUNT})\s*(?P<unit>[a-z]*)\s*\)",
    re.IGNORECASE,
)
"""`(pauze 4 s)`, `(Pauze 2,5 seconden)`, `(pauze 1 min)`; the unit is checked separately."""

_ATTEMPT = re.compile(r"\(\s*pauze\b[^()]*\)?", re.IGNORECASE)
"""Anything that starts like an inline pause: if it is not one, it is a mistake to report."""


class InlinePauseError(ValueError):
    """An inline pause that is written wrongly or asks for an absurd time; the message says how
    to write it. The script loader adds the file and line."""


@dataclass(frozen=True)
class InlinePause:
    ms: int
    written: str
    """As the script writes it, `(pauze 4 s)`."""


def _inline_ms(match: re.Match[str]) -> int:
    written = " ".join(match.group(0).split())
    if match["unit"].lower() not in UNITS_MS:
        raise InlinePauseError(
            f"{written}: unknown unit {match['unit']!r}; write seconds or minutes, "
            "as in (pauze 4 s) or (pauze 1 min)"
        )
    try:  # read as `pause:` reads "2,5 seconden": one reading of durations everywhere
        seconds = seconds_of(f"{match['amount']} {match['unit']}")
    except DurationError as error:
        raise InlinePauseError(f"{written}: {error}") from None
    assert seconds is not None  # a number and a known unit always read
    if seconds * 1000 > MAX_INLINE_PAUSE_MS:
        raise InlinePauseError(f"{written} is over an hour; is the unit right?")
    ms = round(seconds * 1000)
    if ms <= 0:  # (pauze 0.0001 s) is as much a pause as (pauze 0 s): none
        raise InlinePauseError(
            f"{written} is no pause at all (under a millisecond); remove it or write a time"
            if seconds > 0
            else f"{written} is no pause at all; remove it or write a time"
        )
    return ms


def split_inline(text: str) -> list[str | InlinePause]:
    """The text as spoken stretches (stripped, never empty) and the inline pauses between them.

    Raises InlinePauseError for a malformed or absurd inline pause, for one at the very start or
    end of the text (the pause before or after a step is its `pause:`), and for two in a row.
    """
    pieces: list[str | InlinePause] = []
    position = 0
    for attempt in _ATTEMPT.finditer(text):
        match = _INLINE.fullmatch(attempt.group(0))
        if match is None:
            written = " ".join(attempt.group(0).split())
            raise InlinePauseError(
                f"{written!r} is not an inline pause; write it as (pauze 4 s): the word pauze, "
                "seconds in digits, and a closing bracket"
            )
        ms = _inline_ms(match)
        before = text[position : attempt.start()].strip()
        written = " ".join(attempt.group(0).split())
        if not _has_words(before):
            where = "starts the text" if not pieces else "follows another pause"
            raise InlinePauseError(
                f"{written} {where}; an inline pause goes between words "
                "(the pause before a step is the `pause:` of the step before it)"
            )
        pieces.append(before)
        pieces.append(InlinePause(ms, written))
        position = attempt.end()
    rest = text[position:].strip()
    if pieces and not _has_words(rest):
        written = pieces[-1].written  # type: ignore[union-attr]
        raise InlinePauseError(
            f"{written} ends the text; for a pause after a step write `pause:` for the step instead"
        )
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def check_inline_pauses(text: str) -> None:
    """Raise InlinePauseError when the text's inline pauses are not right; else nothing."""
    split_inline(text)


def inline_pause_ms(text: str) -> int:
    """The inline pauses of a text, in all; 0 when it has none (or they are malformed)."""
    try:
        return sum(p.ms for p in split_inline(text) if isinstance(p, InlinePause))
    except InlinePauseError:
        return 0


def timing_text(text: str) -> str:
    """The words the timing rules read for the pause after a step: those after its last inline
    pause. Cues before an inline pause were answered by it, and are not waited for again."""
    try:
        pieces = split_inline(text)
    except InlinePauseError:
        return text
    return pieces[-1] if isinstance(pieces[-1], str) else ""


def spoken_words(text: str) -> list[str]:
    """The words that will be spoken: the text without its inline pauses."""
    return _INLINE.sub(" ", text).split()


def _has_words(text: str) -> bool:
    return any(character.isalnum() for character in text)


# --------------------------------------------------------------------------- sentences


_TITLES = ("dhr.", "mevr.", "dr.", "drs.", "prof.", "mr.", "ir.", "ing.", "st.", "nr.", "bijv.")
"""Abbreviations a name or number follows: their full stop never ends a sentence."""

_SENTENCE_END = re.compile(
    r"(?<=[.!?\u2026])[\"'\u201d\u2019)]*\s+(?=[\"'\u201c\u2018(]*[^\W\d_]|\d)"
)
"""A sentence ends at . ! ? or an ellipsis, followed by space and a new word."""

_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
"""A clause ends at a comma, semicolon or colon followed by a space ("2,5" is not a clause)."""


def sentences(text: str) -> list[str]:
    """The sentences of a text, each with its own closing punctuation.

    A full stop ends a sentence only before a capital or a digit, and never after a known title
    or abbreviation ("Dr. Jansen", "bijv. 5"); "1.5" and "10.30" are no sentence ends.
    """
    found: list[str] = []
    start = 0
    for boundary in _SENTENCE_END.finditer(text):
        before = text[start : boundary.end()].strip()
        last_word = before.rsplit(None, 1)[-1].lower() if before else ""
        following = text[boundary.end() : boundary.end() + 1]
        if last_word.endswith(".") and (
            last_word.lstrip("\"'(\u201c\u2018") in _TITLES
            or not (following.isupper() or following.isdigit())
        ):
            continue
        if _has_words(before):
            found.append(before)
            start = boundary.end()
    rest = text[start:].strip()
    if rest:
        if found and not _has_words(rest):
            found[-1] = f"{found[-1]} {rest}"
        else:
            found.append(rest)
    return found


def clauses(sentence: str) -> list[str]:
    """A sentence split after each comma, semicolon or colon (each clause keeps its mark, so the
    engine still gives it the intonation of a clause that goes on)."""
    found: list[str] = []
    start = 0
    for boundary in _CLAUSE_END.finditer(sentence):
        piece = sentence[start : boundary.start()]
        if _has_words(piece):
            found.append(piece.strip())
            start = boundary.end()
    rest = sentence[start:].strip()
    if found and not _has_words(rest):
        found[-1] = f"{found[-1]} {rest}".strip()
    elif rest:
        found.append(rest)
    return found


Gap = Literal["clause", "sentence", "inline", "end"]
"""What follows a phrase: the profile's clause or sentence pause, an inline pause, or nothing."""


@dataclass(frozen=True)
class Phrase:
    """One clip to speak, and the silence after it."""

    text: str
    """As the script writes it: captions show this; the engine gets the lexicon's spoken form."""
    sentence: int
    """Which caption sentence of the text it belongs to (an inline pause also ends one)."""
    gap: Gap
    gap_ms: int = 0
    """For an inline pause: its length; the profile decides the others."""


def phrases(text: str, *, split_clauses: bool) -> list[Phrase]:
    """The clips a text is spoken in, in order: a sentence each, or a clause each when the voice
    profile sets a clause pause. Raises InlinePauseError for a malformed inline pause."""
    return list(_phrases(text, split_clauses))


@MEMOS.remember(maxsize=PHRASES_KEPT)
def _phrases(text: str, split_clauses: bool) -> tuple[Phrase, ...]:
    """phrases(), kept per text: a pure function of its arguments, asked again on every build."""
    result: list[Phrase] = []
    sentence_index = 0
    for piece in split_inline(text):
        if isinstance(piece, InlinePause):
            last = result[-1]
            result[-1] = Phrase(last.text, last.sentence, "inline", piece.ms)
            continue
        for sentence in sentences(piece):
            parts = clauses(sentence) if split_clauses else [sentence]
            for index, part in enumerate(parts):
                gap: Gap = "clause" if index + 1 < len(parts) else "sentence"
                result.append(Phrase(part, sentence_index, gap))
            sentence_index += 1
    if result:
        last = result[-1]
        result[-1] = Phrase(last.text, last.sentence, "end")
    return tuple(result)


# --------------------------------------------------------------------------- captions


def caption_lines(text: str, width: int = CAPTION_LINE_CHARS) -> list[str]:
    """A text of at most two lines' worth as one or two lines of at most `width` characters,
    broken after a clause wherever both lines then fit (a reader takes in a clause at a time;
    "Herhaal dit vijf keer, in / je eigen rustige tempo." reads worse than a break at the comma),
    the clause nearest the middle; without one between the most even words."""
    text = " ".join(text.split())
    if len(text) <= width:
        return [text]
    spaces = [index for index, character in enumerate(text) if character == " "]
    fitting = [i for i in spaces if i <= width and len(text) - i - 1 <= width]
    if not fitting:  # a word longer than a line: break it where it must
        return [text[i : i + width] for i in range(0, len(text), width)]
    at_clause = [i for i in fitting if text[i - 1] in ",;:"]
    best = min(at_clause or fitting, key=lambda index: abs(index - (len(text) - index - 1)))
    return [text[:best], text[best + 1 :]]


def _fits(text: str, width: int) -> bool:
    return len(caption_lines(text, width)) <= CAPTION_LINES and all(
        len(line) <= width for line in caption_lines(text, width)
    )


def caption_cues(sentence: str, width: int = CAPTION_LINE_CHARS) -> list[str]:
    """A sentence as caption cues of at most two lines of `width` characters: one cue when it
    fits, else split at clauses, a clause too long for a cue between words, and a word longer
    than a line into pieces of a line."""
    sentence = " ".join(sentence.split())
    if _fits(sentence, width):
        return ["\n".join(caption_lines(sentence, width))]
    chunks: list[str] = []
    for clause in clauses(sentence):
        if _fits(clause, width):
            chunks.append(clause)
            continue
        words = [  # a word longer than a line goes over lines (and cues) a line's width at a time
            word[i : i + width] for word in clause.split() for i in range(0, len(word), width)
        ]
        current = ""
        for word in words:
            candidate = f"{current} {word}".strip()
            if current and not _fits(candidate, width):
                chunks.append(current)
                current = word
            else:
                current = candidate
        if current:
            chunks.append(current)
    packed: list[str] = []  # join short neighbours back into one cue where they fit
    for chunk in chunks:
        if packed and _fits(f"{packed[-1]} {chunk}", width):
            packed[-1] = f"{packed[-1]} {chunk}"
        else:
            packed.append(chunk)
    return ["\n".join(caption_lines(chunk, width)) for chunk in packed]


def split_span(start: int, end: int, texts: Sequence[str]) -> list[tuple[int, int]]:
    """A time span shared among texts in proportion to their lengths (for a sentence's cues)."""
    if len(texts) == 1:  # most sentences are one cue: the whole span (at least 1 ms)
        return [(start, max(end, start + 1))]
    total = sum(len(t) for t in texts) or 1
    spans: list[tuple[int, int]] = []
    position = start
    consumed = 0
    for index, piece in enumerate(texts):
        consumed += len(piece)
        stop = (
            end if index + 1 == len(texts) else start + math.floor((end - start) * consumed / total)
        )
        spans.append((position, max(stop, position + 1)))
        position = stop
    return spans
