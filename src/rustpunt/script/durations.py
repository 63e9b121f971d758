"""A written duration, read one way everywhere: a script's `pause:` and `cycle:`, an episode's
pause part, and an inline `(pauze ...)` in a spoken text.

The forms: seconds as a number (`6`, `2,5`, `2.5`), a number with a Dutch unit (`5 s`,
`5 seconden`, `1,5 minuut`, `2 min`), or a duration string as pytimeparse reads it (`90s`,
`1m30s`, `1h`, `1:30`). One rule for the numbers in all of them: a comma is a decimal comma; a
point is a decimal point, except that `1.000` (a point before exactly three digits, after one to
three digits) is a thousand in Dutch and one in English, so it is refused, never guessed. The
spoken words of a step are not read here: there the voice says "duizend" for "1.000 seconden",
and the pause after it follows what is said (see rustpunt.script.timing).
"""

from __future__ import annotations

import math
import re

from pytimeparse import parse as _timeparse

__all__ = ["UNITS_MS", "DurationError", "clock", "seconds_of", "whole_seconds"]

UNITS_MS = {
    "": 1000,
    "s": 1000,
    "sec": 1000,
    "seconde": 1000,
    "seconden": 1000,
    "min": 60_000,
    "minuut": 60_000,
    "minuten": 60_000,
}
"""The Dutch units a number may carry (none means seconds); case does not matter."""

AMOUNT = r"[0-9]{1,9}(?:[.,][0-9]{1,9})?"
"""A number as a duration writes it: digits, with a decimal comma or point."""

_WITH_UNIT = re.compile(rf"(?P<amount>{AMOUNT})\s*(?P<unit>[a-z]*)", re.IGNORECASE | re.ASCII)

_THOUSANDS = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+", re.ASCII)
"""`1.000`, `12.500`: a thousand (and more) in Dutch, one (and more) in English."""

_LARGEST_S = 10**12
"""Past this many seconds a number is only "very large" (as infinite: over any limit)."""


class DurationError(ValueError):
    """A duration that must not be guessed; the message says what to write instead."""


def seconds_of(text: str) -> float | None:
    """The seconds a written duration asks for (negative if it starts with `-`), or None when
    the text is not a duration. Raises DurationError for an ambiguous `1.000`."""
    cleaned = text.strip()
    negative = cleaned.startswith("-")
    body = cleaned[1:].strip() if negative else cleaned
    ambiguous = _THOUSANDS.match(body)
    if ambiguous and not body[ambiguous.end() : ambiguous.end() + 1].isdigit():
        number = ambiguous[0]
        raise DurationError(
            f"{number!r} is ambiguous (in Dutch 1.000 is a thousand, in English one): write "
            f"{number.replace('.', '')} for that many seconds, or use a comma for a decimal"
        )
    seconds: float | None = None
    written = _WITH_UNIT.fullmatch(body)
    if written and written["unit"].lower() in UNITS_MS:
        amount = float(written["amount"].replace(",", "."))
        seconds = amount * UNITS_MS[written["unit"].lower()] / 1000
    else:
        parsed = _timeparse(body)
        if parsed is None:
            return None
        seconds = math.inf if abs(parsed) > _LARGEST_S else float(parsed)
    return -seconds if negative else seconds


def whole_seconds(ms: int) -> int:
    """A duration in whole seconds, rounded half up: the one rounding of every duration shown (the
    build's m:ss, the feed's itunes:duration and its m:ss), so the same file says the same time."""
    return (ms + 500) // 1000


def clock(ms: int) -> str:
    """A duration as m:ss (minutes past 59 stay minutes), rounded as whole_seconds."""
    minutes, seconds = divmod(whole_seconds(ms), 60)
    return f"{minutes}:{seconds:02d}"
