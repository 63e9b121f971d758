"""Pronunciation: what a speech engine should say for what a script writes.

Applied to a text just before any engine speaks it (pause rules, captions and chapters keep the
original). Three layers, later ones winning on the same word:
- the built-in Dutch lexicon shipped with rustpunt (rustpunt/voice/lexicons/nl.yaml): abbreviations;
- a `lexicon.yaml` beside the scripts (per folder);
- a voice profile's `lexicon:` key (per voice: one voice may need "ggz" spelled out, another not).

A lexicon file has `words:` (a word or abbreviation and how to say it; matched as a whole word,
ignoring case unless the entry has capitals) and `patterns:` (a regular expression `match:` and
what to `say:`, with \\1 for its groups). Numbers, clock times, ranges, breathing counts ("4-7-8"),
ordinals, percentages and units are read in Dutch by the rules below, after the entries.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, cast

import yaml

from rustpunt.errors import FileProblem
from rustpunt.inputs import Inputs, inputs_or_new
from rustpunt.voice.profiles import VoiceProfile

if TYPE_CHECKING:  # imported where a lexicon has patterns (~10 ms): most have none
    import regex

FOLDER_FILE = "lexicon.yaml"
"""The lexicon a folder of scripts may hold beside them."""
FILE_KEYS = ("words", "patterns")
PATTERN_KEYS = ("match", "say")
MAX_ENTRY_CHARS = 200
PATTERN_TIMEOUT_S = 1.0
"""How long one `patterns:` entry may take on one text. A pattern that can backtrack
catastrophically, such as `(a|aa)+$` on forty a's and a "!", would otherwise run for ever and
hang plan, build and the watch; a sound pattern takes microseconds on any step."""
SAID_KEPT = 8192
"""Texts whose spoken form a Lexicon keeps: a 60-minute session has a few hundred phrases."""


class LexiconError(FileProblem):
    """A lexicon file (or a profile's `lexicon:`) cannot be read or is not valid, at its line."""


@dataclass(frozen=True)
class Entry:
    """One pronunciation: where it was written, what it matches and what is said instead."""

    written: str
    """The word or the regular expression as the lexicon writes it."""
    say: str
    pattern: re.Pattern[str] | regex.Pattern[str]
    """For a word, Python's re; for a `patterns:` entry, the regex package's, which can stop a
    match that takes too long (PATTERN_TIMEOUT_S)."""
    is_pattern: bool
    origin: str
    """FILE:LINE of the entry, for messages."""
    line: int | None = None
    """The entry's line in `source`, for a LexiconError at it."""
    source: str = ""
    """The file (or `voice NAME`) the entry was written in."""


# --------------------------------------------------------------------------- reading files


def _fail(origin: str, line: int, message: str) -> LexiconError:
    return LexiconError(origin, line, message)


def _compose(path: Path) -> yaml.Node | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LexiconError(
            path, None, f"cannot read the lexicon: {' '.join(str(error).split())}"
        ) from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else 1
        raise _fail(str(path), line, f"not valid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise LexiconError(path, None, f"not valid YAML: {' '.join(str(error).split())}") from None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _text(node: yaml.Node, origin: str, what: str) -> str:
    """A scalar exactly as written (YAML 1.1 would turn `no` into False and `1:30` into 90)."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        raise _fail(origin, _line(node), f"{what} must be text")
    value = str(node.value).strip()
    if not value:
        raise _fail(origin, _line(node), f"{what} is empty")
    if len(value) > MAX_ENTRY_CHARS:
        raise _fail(origin, _line(node), f"{what} is longer than {MAX_ENTRY_CHARS} characters")
    return value


def word_pattern(word: str) -> re.Pattern[str]:
    """A whole-word match; ignoring case unless the word is written with a capital."""
    flags = 0 if any(character.isupper() for character in word) else re.IGNORECASE
    return re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", flags)


def entries_from_node(node: yaml.Node | None, origin: str) -> list[Entry]:
    """The entries of a lexicon document (a mapping with `words:` and `patterns:`)."""
    if node is None:
        return []
    if not isinstance(node, yaml.MappingNode):
        raise _fail(origin, _line(node), "a lexicon is a mapping with `words:` and/or `patterns:`")
    entries: list[Entry] = []
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
        if key not in FILE_KEYS:
            raise _fail(
                origin,
                _line(key_node),
                f"unknown key `{key}`; a lexicon has `words:` and `patterns:`",
            )
        if value_node.tag == "tag:yaml.org,2002:null":
            continue
        if key == "words":
            entries.extend(_words(value_node, origin))
        else:
            entries.extend(_patterns(value_node, origin))
    return entries


def _words(node: yaml.Node, origin: str) -> list[Entry]:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(
            origin,
            _line(node),
            "`words:` must map each word to how to say it, e.g. `ggz: gee-gee-zet`",
        )
    entries = []
    for key_node, value_node in node.value:
        word = _text(key_node, origin, "a word")
        say = _text(value_node, origin, f"how to say {word!r}")
        where = f"{origin}:{_line(key_node)}"
        entries.append(Entry(word, say, word_pattern(word), False, where))
    return entries


def _patterns(node: yaml.Node, origin: str) -> list[Entry]:
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(
            origin, _line(node), "`patterns:` must be a list of `- match: ...` / `say: ...`"
        )
    if not node.value:  # `patterns: []`, as the built-in lexicon has: no `regex` to import
        return []
    import regex

    entries = []
    for item in node.value:
        if not isinstance(item, yaml.MappingNode):
            raise _fail(origin, _line(item), "a pattern is a mapping with `match:` and `say:`")
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in item.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
            if key not in PATTERN_KEYS:
                raise _fail(
                    origin,
                    _line(key_node),
                    f"unknown key `{key}` in a pattern; known keys: match, say",
                )
            fields[key] = value_node
        for key in PATTERN_KEYS:
            if key not in fields:
                raise _fail(origin, _line(item), f"a pattern needs `{key}:`")
        match = _text(fields["match"], origin, "`match:`")
        say = _text(fields["say"], origin, "`say:`")
        line = _line(fields["match"])
        try:
            compiled = regex.compile(match)
        except regex.error as error:
            raise _fail(
                origin, line, f"`match:` is not a valid regular expression: {error}"
            ) from None
        if compiled.search("") is not None:
            raise _fail(
                origin,
                line,
                f"`match:` {match!r} matches empty text; it must match at least one character",
            )
        references = [int(number) for number in re.findall(r"\\(\d+)", say)]
        if any(number > compiled.groups for number in references):
            raise _fail(
                origin,
                _line(fields["say"]),
                f"`say:` refers to group \\{max(references)} but `match:` has "
                f"{compiled.groups} group(s)",
            )
        _check_template(compiled, say, origin, _line(fields["say"]))
        entries.append(Entry(match, say, compiled, True, f"{origin}:{line}", line, origin))
    return entries


def _check_template(compiled: regex.Pattern[str], say: str, origin: str, line: int) -> None:
    """Try `say` on a stand-in with the same groups: a bad escape fails here, not mid-build."""
    import regex

    names = {number: name for name, number in compiled.groupindex.items()}
    groups = "".join(
        f"(?P<{names[number]}>)" if number in names else "()"
        for number in range(1, compiled.groups + 1)
    )
    try:
        regex.compile(groups + "x").sub(say, "x")
    except (regex.error, IndexError) as error:
        raise _fail(origin, line, f"`say:` is not a valid replacement: {error}") from None


def read_file(path: Path) -> list[Entry]:
    """The entries of one lexicon file; LexiconError with FILE:LINE when it is not valid."""
    return entries_from_node(_compose(path), str(path))


def profile_entries(profile: VoiceProfile) -> list[Entry]:
    """The entries of a voice profile's `lexicon:` key, with the profile file's line numbers."""
    if not profile.lexicon:
        return []
    if profile.path is not None and profile.path.is_file():
        document = _compose(profile.path)
        if isinstance(document, yaml.MappingNode):
            for key_node, value_node in document.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == "lexicon":
                    return entries_from_node(value_node, str(profile.path))
    # a profile built in code: no lines to name
    node = yaml.compose(
        yaml.safe_dump(dict(profile.lexicon), allow_unicode=True), Loader=yaml.SafeLoader
    )
    return entries_from_node(node, f"voice {profile.name}")


def builtin_path(language: str = "nl") -> Path:
    return Path(str(resources.files("rustpunt.voice"))) / "lexicons" / f"{language}.yaml"


# --------------------------------------------------------------------------- the lexicon


class Lexicon:
    """Word entries and patterns, then the Dutch number rules: text in, text to speak out."""

    def __init__(self, entries: Sequence[Entry] = (), sources: Sequence[str] = ()) -> None:
        by_word: dict[str, Entry] = {}
        for entry in entries:  # a later entry for the same word wins
            if not entry.is_pattern:
                by_word[_word_key(entry.written)] = entry
        patterns = [entry for entry in entries if entry.is_pattern]  # applied in this order
        self.words: tuple[Entry, ...] = tuple(
            sorted(by_word.values(), key=lambda entry: -len(entry.written))
        )
        self.patterns: tuple[Entry, ...] = tuple(patterns)
        self.sources = tuple(sources)
        self._digest: str | None = None
        self._said: dict[str, str] = {}
        """spoken() of the texts asked so far, at most SAID_KEPT of them."""
        self._exact = {
            entry.written: entry for entry in self.words if not entry.pattern.flags & re.IGNORECASE
        }
        self._folded = {
            entry.written.casefold(): entry
            for entry in self.words
            if entry.pattern.flags & re.IGNORECASE
        }
        alternatives = [re.escape(entry.written) for entry in self.words]
        self._word_match = (
            re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)", re.IGNORECASE)
            if alternatives
            else None
        )

    @classmethod
    def load(
        cls,
        folders: Iterable[Path] = (),
        *,
        profile: VoiceProfile | None = None,
        builtin: bool = True,
        language: str = "nl",
        inputs: Inputs | None = None,
    ) -> Lexicon:
        """The built-in lexicon, each folder's lexicon.yaml (in order), then the profile's.

        A later layer wins: its word entries replace earlier ones for the same word, and its
        patterns are tried before those of earlier layers. A lexicon is read once by `inputs`
        for the same files (by their stamps) and profile: hundreds of scripts share a handful.
        """
        folders = tuple(Path(folder) for folder in folders)
        files = [builtin_path(language) if builtin else None, *(f / FOLDER_FILE for f in folders)]
        key = (
            "lexicon",
            tuple(str(path) for path in files if path is not None),
            None if profile is None else (profile.name, profile.fingerprint(), str(profile.path)),
            builtin,
            language,
        )
        return inputs_or_new(inputs).loaded(
            key,
            [path for path in files if path is not None],
            lambda: cls._read(folders, profile=profile, builtin=builtin, language=language),
        )

    @classmethod
    def _read(
        cls,
        folders: tuple[Path, ...],
        *,
        profile: VoiceProfile | None,
        builtin: bool,
        language: str,
    ) -> Lexicon:
        layers: list[list[Entry]] = []
        sources: list[str] = []
        if builtin:
            path = builtin_path(language)
            layers.append(read_file(path))
            sources.append(str(path))
        for folder in folders:
            path = Path(folder) / FOLDER_FILE
            if path.is_file():
                layers.append(read_file(path))
                sources.append(str(path))
        if profile is not None and profile.lexicon:
            layers.append(profile_entries(profile))
            sources.append(f"voice {profile.name}")
        words = [entry for layer in layers for entry in layer if not entry.is_pattern]
        patterns = [entry for layer in reversed(layers) for entry in layer if entry.is_pattern]
        return cls([*words, *patterns], sources)

    def digest(self) -> str:
        """Changes whenever what is said could change: for build keys."""
        if self._digest is None:
            self._digest = self._compute_digest()
        return self._digest

    def _compute_digest(self) -> str:
        document = [
            [entry.written, entry.say, entry.is_pattern] for entry in (*self.words, *self.patterns)
        ]
        return hashlib.sha256(
            json.dumps([document, RULES_VERSION], ensure_ascii=False).encode()
        ).hexdigest()

    def lookup(self, word: str) -> Entry | None:
        """The word entry that covers `word`, if any."""
        return self._exact.get(word) or self._folded.get(word.casefold())

    def spoken(self, text: str) -> str:
        """What the engine should say for `text`: worked out once per text and lexicon (a
        Lexicon never changes once made; a changed lexicon file is read into a new one)."""
        said = self._said.get(text)
        if said is None:
            said = self._speak(text)
            if len(self._said) >= SAID_KEPT:
                del self._said[next(iter(self._said))]  # the one kept longest
            self._said[text] = said
        return said

    def _speak(self, text: str) -> str:
        if self._word_match is not None:
            text = self._word_match.sub(lambda match: self._say_word(match, text), text)
        return say_numbers(self._apply_patterns(text))

    def _apply_patterns(self, text: str) -> str:
        """The `patterns:` in order, each stopped after PATTERN_TIMEOUT_S: LexiconError at the
        pattern's line when one takes longer."""
        for entry in self.patterns:
            pattern = cast("regex.Pattern[str]", entry.pattern)  # a pattern's is regex's
            try:
                text = pattern.sub(entry.say, text, timeout=PATTERN_TIMEOUT_S)
            except TimeoutError:
                raise _too_slow(entry, text) from None
        return text

    def try_patterns(self, text: str) -> None:
        """For `check`: the patterns run over `text` as written, so one that would hang plan and
        build is a LexiconError at its line. Without the words and the number rules, which
        cannot hang and cost ten to fifty times what a pattern does on a step."""
        self._apply_patterns(text)

    def _say_word(self, match: re.Match[str], text: str) -> str:
        written = match.group(0)
        entry = self.lookup(written)
        if entry is None:  # matched ignoring case, but the entry wants its exact capitals
            return written
        return _fit(entry.say, match, text)

    def suspicious_words(self, text: str) -> list[str]:
        """Words an engine will likely mispronounce and no entry covers: all capitals (GGZ, ADHD)
        or digits glued to letters (mp3, CO2) that the number rules do not read."""
        found: list[str] = []
        for token in text.split():
            word = token.strip(_EDGE_PUNCTUATION)
            if not _DIGIT.search(word) and (word.islower() or sum(map(str.isupper, word)) < 2):
                continue  # neither digits nor two capitals: no lookup needed (most words)
            if self.lookup(word) is not None:
                continue  # an abbreviation the lexicon knows, full stop included
            word = word.rstrip(".")
            if not word or word in found or self.lookup(word) is not None:
                continue
            letters = [character for character in word if character.isalpha()]
            digits = any(character.isdigit() for character in word)
            shouting = len(letters) >= 2 and all(character.isupper() for character in letters)
            glued = bool(letters) and digits and any(c.isdigit() for c in self.spoken(word))
            if shouting or glued:
                found.append(word)
        return found


def _too_slow(entry: Entry, text: str) -> LexiconError:
    shown_text = text if len(text) <= 50 else f"{text[:47]}..."
    return LexiconError(
        entry.source or entry.origin,
        entry.line,
        f"`match:` {entry.written!r} took more than {PATTERN_TIMEOUT_S:g} s on {shown_text!r} "
        "and was stopped: it backtracks catastrophically (repeats that can match the same "
        "characters in many ways, such as (a|aa)+); rewrite it so each character can match "
        "only one way",
    )


_DIGIT = re.compile(r"\d")

_EDGE_PUNCTUATION = "\"'\u2018\u2019\u201c\u201d()[]{},;:!?\u2026"


_TITLES = {"dhr.", "mevr.", "dr.", "drs.", "prof.", "mr.", "ir.", "ing.", "st."}
"""Abbreviations a name follows: their full stop never ends the sentence."""


def _word_key(word: str) -> str:
    return word if any(character.isupper() for character in word) else word.casefold()


def _fit(say: str, match: re.Match[str], text: str) -> str:
    """Capitalise at the start of a sentence, and keep a full stop an abbreviation ended."""
    start, end = match.span()
    before = text[:start].rstrip()
    if say[:1].islower() and match.group(0)[:1].isupper() and (not before or before[-1] in ".!?…"):
        say = say[0].upper() + say[1:]
    if (
        match.group(0).endswith(".")
        and match.group(0).casefold() not in _TITLES
        and _ends_sentence(text, end)
    ):
        say += "."
    return say


def _ends_sentence(text: str, end: int) -> bool:
    """Whether the full stop just before `end` also closes the sentence."""
    rest = text[end:]
    return not rest.strip() or bool(re.match("\\s+[A-Z\u00c0-\u00dd\"'\u201c\u2018(]", rest))


# --------------------------------------------------------------------------- Dutch numbers

RULES_VERSION = 2
"""Raise when the number rules below change what is said: clips spoken before are then stale."""


def number_words(digits: str) -> str:
    """An integer or a decimal in words: "2,5", "1.000" (a thousand, as Dutch writes it), and
    "2.5" (taken for the decimal an English habit meant: a dot before one or two digits)."""
    from num2words import num2words

    if re.fullmatch(r"\d+\.\d{1,2}", digits):
        digits = digits.replace(".", ",")
    whole, comma, fraction = digits.replace(".", "").partition(",")
    words = str(num2words(int(whole), lang="nl"))
    if not comma:
        return words
    if len(fraction) <= 2 and not fraction.startswith("0"):
        tail = str(num2words(int(fraction), lang="nl"))
    else:
        tail = " ".join(str(num2words(int(digit), lang="nl")) for digit in fraction)
    return f"{words} komma {tail}"


def ordinal_words(number: int) -> str:
    from num2words import num2words

    return str(num2words(number, lang="nl", to="ordinal"))


def clock_words(hours: int, minutes: int) -> str:
    """A clock time as people say it: 10:30 is "half elf", 7:05 "vijf over zeven"."""

    def hour(value: int) -> str:
        return number_words(str(value % 12 or 12))

    now, next_hour = hour(hours), hour(hours + 1)
    if minutes == 0:
        return f"{now} uur"
    if minutes == 15:
        return f"kwart over {now}"
    if minutes == 30:
        return f"half {next_hour}"
    if minutes == 45:
        return f"kwart voor {next_hour}"
    if minutes < 15:
        return f"{number_words(str(minutes))} over {now}"
    if minutes < 30:
        return f"{number_words(str(30 - minutes))} voor half {next_hour}"
    if minutes < 45:
        return f"{number_words(str(minutes - 30))} over half {next_hour}"
    return f"{number_words(str(60 - minutes))} voor {next_hour}"


UNITS: dict[str, tuple[str, str]] = {
    "x": ("keer", "keer"),
    "keer": ("keer", "keer"),
    "maal": ("maal", "maal"),
    "%": ("procent", "procent"),
    "min": ("minuut", "minuten"),
    "min.": ("minuut", "minuten"),
    "minuut": ("minuut", "minuten"),
    "minuten": ("minuut", "minuten"),
    "sec": ("seconde", "seconden"),
    "sec.": ("seconde", "seconden"),
    "s": ("seconde", "seconden"),
    "seconde": ("seconde", "seconden"),
    "seconden": ("seconde", "seconden"),
    "u": ("uur", "uur"),
    "u.": ("uur", "uur"),
    "h": ("uur", "uur"),
    "uur": ("uur", "uur"),
    "km": ("kilometer", "kilometer"),
    "m": ("meter", "meter"),
    "cm": ("centimeter", "centimeter"),
    "kg": ("kilo", "kilo"),
    "g": ("gram", "gram"),
    "l": ("liter", "liter"),
    "ml": ("milliliter", "milliliter"),
    "bpm": ("slag per minuut", "slagen per minuut"),
    "°c": ("graad", "graden"),
    "°": ("graad", "graden"),
}
"""A unit after a number: (said after one, said after any other number)."""

_NUMBER = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+\.\d{1,2}(?![\d.])|\d+(?:,\d+)?"
"""A Dutch number: 1.000 is a thousand, 2,5 is two and a half (and 2.5 too)."""
_UNIT = "|".join(re.escape(unit) for unit in sorted(UNITS, key=len, reverse=True))

_CLOCK = re.compile(
    r"(?<![\w.,:])([01]?\d|2[0-3])"
    r"(?::([0-5]\d)|\.([0-5]\d)(?=\s*u(?:ur)?\b)|(?<=\bom \d)\.([0-5]\d)|(?<=\bom \d\d)\.([0-5]\d))"
    r"(?:\s*(?:uur|u)\b)?(?![\d:]|\.\d)",
    re.IGNORECASE,
)
"""10:30, 7:05 uur, 22.15 u, om 9.45 (a dot only with "uur" or "u" after or "om" before it:
10.300 is ten thousand three hundred)."""
_COUNTS = re.compile(r"(?<![\w.,-])(\d{1,2})((?:-\d{1,2}){2,})(?!\d|,\d|-\d)")
"""4-7-8: a breathing count, said as "vier, zeven, acht". A comma after it ends a clause
("4-7-8, bijv. 2x"); only a comma before a digit ("4-7-8,5") makes it something else."""
_QUANTITY = re.compile(
    rf"(?<![\w.,-])(?P<first>{_NUMBER})(?:\s?(?:-|\u2013|tot)\s?(?P<second>{_NUMBER}))?"
    rf"(?:\s?(?P<unit>{_UNIT}))?(?![\w°%])",
    re.IGNORECASE,
)
"""A number, a range (2-3, 5 tot 10) and the unit after it (5 min., 2x, 50%)."""
_ORDINAL = re.compile(r"(?<![\w.,])(\d+)(?:e|de|ste)(?!\w)")
"""1e, 2de, 8ste: eerste, tweede, achtste."""


def say_numbers(text: str) -> str:
    """Clock times, breathing counts, ordinals, numbers with their units, then any number left."""
    text = _CLOCK.sub(_say_clock, text)
    text = _COUNTS.sub(
        lambda m: ", ".join(number_words(part) for part in m.group(0).split("-")), text
    )
    text = _ORDINAL.sub(lambda m: ordinal_words(int(m.group(1))), text)
    return _QUANTITY.sub(lambda m: _say_quantity(m, text), text)


def _say_clock(match: re.Match[str]) -> str:
    hours = int(match.group(1))
    minutes = int(next(group for group in match.groups()[1:] if group is not None))
    if hours == 0 and match.group(2) and not match.group(0).rstrip(".").endswith(("u", "uur")):
        return (
            f"{number_words(str(minutes))} seconden"  # 0:30 is a duration, not half past midnight
        )
    return clock_words(hours, minutes)


def _say_quantity(match: re.Match[str], text: str) -> str:
    first, second, unit = match.group("first"), match.group("second"), match.group("unit")
    words = number_words(first)
    if second:
        words = f"{words} tot {number_words(second)}"
    if not unit:
        return words
    one, many = UNITS[unit.lower()]
    if unit.lower() in (one, many):  # written out ("seconde", "minuten"): as the author wrote it
        return f"{words} {unit}"
    spoken = f"{words} {one if first == '1' and not second else many}"
    if unit.endswith(".") and _ends_sentence(text, match.end()):
        spoken += "."
    return spoken


__all__ = [
    "FOLDER_FILE",
    "Entry",
    "Lexicon",
    "LexiconError",
    "clock_words",
    "number_words",
    "say_numbers",
]
