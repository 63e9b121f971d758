"""Import exercises from articles: find each numbered list of instructions and write it as a script.

Content editors' exercises already exist as web pages; retyping them is where mistakes come from.
`article` reads a page, a Markdown file or copied text into blocks; this module decides which
lists are exercises, cleans their text for speech, and writes one script per exercise that
`rustpunt build` takes as it is.

What counts as an exercise (the README says the same):

* a numbered list of at least two items, of which at least two thirds are instructions: a
  sentence that opens with a Dutch imperative ("Ga", "Sluit", "Adem", "Span", "Houd", "Voel",
  "Stel je voor", ...), possibly after "Nu", "Dan", "Daarna" ("Daarna adem je uit");
* its title is the line that reads as a heading right above the list (a bold line, or a short
  line without a full stop), else the section's heading, else the article's title;
* its description is the paragraph right before the list, when there is one.

Not exercises, and reported as passed over: a list of links (menus, "read also"), a list of items
of one or two words, a bulleted list (steps are numbered), a list whose items are not instructions
("Een korte wandeling maken" is a tip), and any list under a heading that announces tips or ways
("5 manieren om te ontspannen", "Tips voor een goede nachtrust"): those items are alternatives to
choose from, not steps to follow one after the other, even when they are written as imperatives.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from rustpunt.files import write_text_atomic
from rustpunt.importing.article import Article, ArticleError, Block, Format, read_article
from rustpunt.script.plan import DEFAULT_CYCLE_MS, DEFAULT_PAUSE_MS
from rustpunt.script.timing import infer_pause

log = logging.getLogger(__name__)

INSTRUCTION_SHARE = 2 / 3
"""At least this share of a list's items must be instructions: an exercise may have a step that
only describes ("Je merkt misschien dat je hoofd leeg wordt.")."""

TITLE_MAX_WORDS = 10
"""A line longer than this is a sentence, not a heading."""

DESCRIPTION_MIN_WORDS = 3
"""A description is a sentence ("Zo doe je het:"); one glued word ("sharefacebookmail") is clutter."""

TITLE_LOOK_BACK = 3
"""A heading-like line counts as the list's title only within this many paragraphs above it."""

SLUG_MAX = 60

Kind = Literal["tips", "links", "short", "bullets", "other"]
Status = Literal["written", "overwritten", "exists"]


def _words(text: str) -> list[str]:
    return text.split()


_IMPERATIVES = frozenset(
    _words(
        """
    accepteer adem beadem bedank bedenk begin beleef beweeg blaas blijf breng buig
    concentreer dank denk doe draai droom druk duw eindig focus ga geef geniet glimlach haal
    hef herhaal herken hou houd kantel kauw kies kijk klem knijp knik knipper kom kruis laat
    lees leg let leun loop luister maak masseer merk neem noem observeer omarm ontdek
    ontspan open pak pauzeer plaats probeer proef rek ren richt rol ruik rust schrijf schud
    schuif slik sluit snuif span spreid sta stap stel stop strek strijk stuur tel til trek
    verander verdeel vergeet verlaag verleg verleng verplaats verzacht visualiseer voel volg
    vouw vul wacht wandel wees wieg wissel wrijf zak zeg zet zie zing zit zoek zucht zwaai
    """
    )
)
"""Imperatives that open a step in Dutch exercises. A word that is followed by "je" ("Ontspan je
kaak") counts too, so a verb missing here is still recognised in most steps."""

_NOT_VERBS = frozenset(
    _words(
        """
    je jij jou jouw u uw ik we wij ze zij hij het de een dit dat deze die als wat hoe waar waarom
    wanneer zodat terwijl omdat of en maar want zo ook nu dan daarna vervolgens eerst toch wel
    niet geen welke wie waarmee heb hebt ben bent kun kan wil zal moet mag weet
    """
    )
)
_LEADING_ADVERBS = frozenset(
    _words("nu dan daarna vervolgens eerst langzaam rustig opnieuw nog weer even tenslotte")
)
_TIPS_HEADING = re.compile(
    r"\b(?:tips?|manieren|ideeën|ideeen|redenen|voordelen|adviezen|dingen|trucs?)\b", re.IGNORECASE
)
_LINKS_HEADING = re.compile(
    r"^(?:lees ook|lees meer|meer lezen|bekijk ook|gerelateerd\w*|populair\w*|meer over)\b",
    re.IGNORECASE,
)
_LIST_NUMBER = re.compile(r"^\s*(?:\d{1,3}\s*[.):]|stap\s+\d{1,3}\s*[.):-]?)\s*", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
_GLUED_WORDS = re.compile(r"[a-z\u00e0-\u00ff][A-Z]")
_SENTENCE_END = re.compile(r"[.!?;:]+\s*|\s+[-\u2013]\s+")


# --------------------------------------------------------------------------- cleaning


def clean_text(text: str) -> str:
    """Text as it should be spoken and written into a script.

    HTML entities decoded, non-breaking and zero-width spaces, soft hyphens and control characters
    gone, whitespace collapsed, a space put back where a page glued a sentence to the next one
    ("zitten.Sluit"), and icon names glued to the start or the end ("check_circleGa rechtop
    zitten.", "Ga zitten.arrow_forward") removed: a Dutch step never starts with a lower-case word
    glued to a capital, and never ends in lower-case words after its full stop.
    """
    text = unicodedata.normalize("NFC", html.unescape(text))
    text = "".join(
        " " if character.isspace() else character
        for character in text
        if character.isspace() or unicodedata.category(character)[0] != "C"
    )
    text = " ".join(text.split())
    text = re.sub(r"(?<=[^\W\d_]{2}[.!?])(?=[^\W\d_])", " ", text)  # "zitten.Sluit"
    text = re.sub(r"^[a-z_]{3,}(?=[A-Z])", "", text)  # "check_circleGa"
    text = re.sub(r"(?<=[.!?])(?:\s*\b[a-z]+_[a-z_]+\b)+$", "", text)  # "zitten. arrow_forward"
    text = re.sub(r"(?<=[.!?]) [a-z_]+(?: [a-z_]+)*$", "", text)  # "zitten. check"
    return text.strip(" \u2022\u00b7\u2013\u2014*-")


def clean_title(text: str) -> str:
    """A heading as a title: cleaned, without its list numbering ("1. Bodyscan") or a final colon."""
    title = _LIST_NUMBER.sub("", clean_text(text), count=1)
    return title.rstrip(" :").strip() or clean_text(text)


def slug(title: str) -> str:
    """A file name stem: lower case, ASCII, words joined by hyphens ("Bodyscan" -> "bodyscan")."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    stem = ""
    for word in words:
        if len(stem) + len(word) + 1 > SLUG_MAX and stem:
            break
        stem = f"{stem}-{word}" if stem else word
    return stem[:SLUG_MAX] or "oefening"


# --------------------------------------------------------------------------- what is what


def is_instruction(text: str) -> bool:
    """Whether a step opens a sentence with a Dutch imperative ("Sluit je ogen.", "Daarna adem je uit.")."""
    for sentence in _SENTENCE_END.split(text):
        words = [word.lower() for word in _WORD.findall(sentence)]
        while words and words[0] in _LEADING_ADVERBS and len(words) > 1:
            words = words[1:]
        if not words:
            continue
        first, following = words[0], words[1] if len(words) > 1 else ""
        if first in _IMPERATIVES:
            return True
        if following in ("je", "jezelf", "jouw") and first not in _NOT_VERBS:
            return True
    return False


def reads_as_heading(block: Block) -> bool:
    """A paragraph that stands for a heading: bold as a whole, or a short line without a full stop."""
    if block.kind == "heading":
        return True
    if block.kind != "paragraph" or block.link_share >= 0.5:
        return False
    text = clean_text(block.text)
    words = text.split()
    if not words or len(words) > TITLE_MAX_WORDS or not (text[0].isupper() or text[0].isdigit()):
        return False
    if len(_GLUED_WORDS.findall(text)) >= 2:  # "HomeOefeningenOver onsContact": a glued menu
        return False
    if block.emphasised:
        return not text.endswith(":")
    return not re.search(r"[.,;:!]$", text)


def _looks_like_a_tip(text: str) -> bool:
    """ "Een korte wandeling maken": a phrase ending in an infinitive, the Dutch way to write a tip."""
    words = _WORD.findall(text)
    return bool(words) and words[-1].lower().endswith("en") and not text.rstrip().endswith("?")


@dataclass(frozen=True)
class LeftOut:
    """A list item that would not load as a step: commented out in its script, at its place."""

    number: int
    """Its number in the list (1 for the first item)."""
    text: str
    reason: str
    """The script loader's own message ("'(pauze vier s)' is not an inline pause; ...")."""
    position: int = 0
    """How many of the exercise's steps come before it."""


@dataclass(frozen=True)
class Exercise:
    """One exercise found in an article: what the script will hold."""

    title: str
    steps: tuple[str, ...]
    description: str | None = None
    left_out: tuple[LeftOut, ...] = ()
    """Items that would not load, with why; the script has them as comments."""


@dataclass(frozen=True)
class PassedOver:
    """A list that is not an exercise, and why."""

    kind: Kind
    items: int
    heading: str | None = None

    def message(self) -> str:
        what = {
            "tips": f"{self.items} tips, not an exercise",
            "links": f"{self.items} links, not an exercise",
            "short": f"{self.items} items of one or two words, not an exercise",
            "bullets": f"{self.items} bullet points, not a numbered list",
            "other": f"{self.items} items that are not instructions, not an exercise",
        }[self.kind]
        return f"{what} (under “{self.heading}”)" if self.heading else what


@dataclass(frozen=True)
class Findings:
    exercises: tuple[Exercise, ...]
    passed_over: tuple[PassedOver, ...]


def find_exercises(article: Article) -> Findings:
    """Every exercise in an article, in reading order, and the lists that were passed over."""
    blocks = _promote_numbered_headings(_renumber_lazy_lists(list(article.blocks)))
    exercises: list[Exercise] = []
    passed: list[PassedOver] = []
    section: str | None = None
    recent: list[Block] = []  # paragraphs since the last heading or list
    for entry in _lists_and_blocks(blocks):
        if isinstance(entry, Block):
            if entry.kind == "heading":
                section, recent = clean_title(entry.text), []
            else:
                recent.append(entry)
            continue
        items = entry
        local_title, description = _title_and_description(recent)
        title = local_title or section or _fallback_title(article)
        recent = []
        verdict = _classify(items, title if (local_title or section) else None)
        if isinstance(verdict, PassedOver):
            if verdict.items >= 2:
                passed.append(verdict)
            continue
        steps = tuple(step for step in (_step_text(item) for item in items) if step)
        if not steps:
            continue
        exercises.append(Exercise(title=title, steps=steps, description=description))
    return Findings(_distinct_titles(exercises), tuple(passed))


def _renumber_lazy_lists(blocks: list[Block]) -> list[Block]:
    """Markdown lets every item be "1."; such a list counts 1, 2, 3 like any other."""
    by_list: dict[int, list[int]] = {}
    for index, block in enumerate(blocks):
        if block.kind == "item" and block.number is not None:
            by_list.setdefault(block.list_id, []).append(index)
    for indexes in by_list.values():
        numbers = {blocks[i].number for i in indexes}
        if len(indexes) > 1 and len(numbers) == 1:
            start = blocks[indexes[0]].number or 1
            for offset, i in enumerate(indexes):
                blocks[i] = replace(blocks[i], number=start + offset)
    return blocks


def _promote_numbered_headings(blocks: list[Block]) -> list[Block]:
    """ "1. Bodyscan" followed by steps numbered from 1 again is a heading, not a step.

    In copied text (and sometimes in Markdown) a numbered heading looks like a list item. It is a
    heading when it reads like one, does not continue the numbering of the item before it, and the
    next numbered item starts again at 1 (or no numbered item follows).
    """
    numbered = [i for i, block in enumerate(blocks) if block.kind == "item" and block.number]
    promoted = set()
    for position, index in enumerate(numbered):
        block = blocks[index]
        previous = blocks[numbered[position - 1]] if position else None
        following = blocks[numbered[position + 1]] if position + 1 < len(numbered) else None
        as_paragraph = replace(block, kind="paragraph", number=None)
        if not reads_as_heading(as_paragraph) or is_instruction(block.text):
            continue
        continues = (
            previous is not None
            and previous.list_id == block.list_id
            and previous.number is not None
            and block.number == previous.number + 1
        )
        if continues:
            continue
        if following is None or following.number == 1:
            promoted.add(index)
    return [
        replace(block, kind="heading", text=f"{block.number}. {block.text}", level=2, number=None)
        if index in promoted
        else block
        for index, block in enumerate(blocks)
    ]


def _lists_and_blocks(blocks: list[Block]) -> Iterator[Block | list[Block]]:
    """Headings and paragraphs one by one; the items of each list together.

    A list ends where another block or another list begins, or where the numbering starts again at
    1. A nested item (a sub-list) is folded into the item above it: it elaborates that step.
    """
    current: list[Block] = []
    for block in blocks:
        if block.kind != "item":
            if current:
                yield current
                current = []
            yield block
            continue
        other_list = block.list_id != current[0].list_id if current else False
        restart = block.number == 1 and bool(current) and current[-1].number is not None
        if current and block.level <= current[0].level and (other_list or restart):
            yield current
            current = []
        if current and block.level > current[0].level:
            parent = current[-1]
            current[-1] = replace(parent, text=f"{parent.text} {block.text}")
            continue
        current.append(block)
    if current:
        yield current


def _title_and_description(recent: list[Block]) -> tuple[str | None, str | None]:
    """The heading-like line right above a list (within a few paragraphs) and the paragraph after it."""
    title = description = None
    window = recent[-TITLE_LOOK_BACK:]
    for offset in range(len(window) - 1, -1, -1):
        if reads_as_heading(window[offset]):
            title = clean_title(window[offset].text)
            break
    last = recent[-1] if recent else None
    if last and not reads_as_heading(last) and last.link_share < 0.5:
        text = clean_text(last.text)
        description = text if len(text.split()) >= DESCRIPTION_MIN_WORDS else None
    return title, description


def _fallback_title(article: Article) -> str:
    if article.title:
        return clean_title(article.title)
    stem = Path(article.source).stem if article.source != "standard input" else ""
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else "Oefening"


def _classify(items: list[Block], heading: str | None) -> Exercise | PassedOver | None:
    texts = [clean_text(item.text) for item in items]
    count = len(texts)
    if count < 2:
        return PassedOver("other", count, heading)
    if sum(item.link_share for item in items) / count >= 0.5 or (
        heading and _LINKS_HEADING.match(heading)
    ):
        return PassedOver("links", count, heading)
    if all(len(text.split()) <= 2 for text in texts):
        return PassedOver("short", count, heading)
    if heading and _TIPS_HEADING.search(heading):
        return PassedOver("tips", count, heading)
    if any(item.number is None for item in items):
        return PassedOver("bullets", count, heading)
    instructions = sum(is_instruction(text) for text in texts)
    if instructions < INSTRUCTION_SHARE * count:
        tips = sum(_looks_like_a_tip(text) for text in texts)
        return PassedOver("tips" if tips * 2 >= count else "other", count, heading)
    return None


def _step_text(item: Block) -> str:
    text = _LIST_NUMBER.sub("", clean_text(item.text), count=1)
    return text if any(character.isalnum() for character in text) else ""


def _distinct_titles(exercises: list[Exercise]) -> tuple[Exercise, ...]:
    """Two exercises under one heading get "Ademhaling" and "Ademhaling (2)"."""
    seen: dict[str, int] = {}
    distinct = []
    for exercise in exercises:
        seen[exercise.title] = seen.get(exercise.title, 0) + 1
        if seen[exercise.title] > 1:
            exercise = replace(exercise, title=f"{exercise.title} ({seen[exercise.title]})")
        distinct.append(exercise)
    return tuple(distinct)


# --------------------------------------------------------------------------- writing scripts


def quoted(text: str) -> str:
    """A YAML double-quoted scalar: YAML 1.1 never reads it as a number, a time or a boolean."""
    dumped = yaml.dump(
        text, Dumper=yaml.SafeDumper, default_style='"', allow_unicode=True, width=2**31
    )
    return dumped.removesuffix("\n...\n").strip()


def script_text(
    exercise: Exercise, *, source: str, url: str | None = None, explicit_pauses: bool = False
) -> str:
    """The YAML of one script: a comment naming the source, then title, description and steps.

    Without `explicit_pauses`, steps are plain text and the timing rules decide each pause at
    build time; with it, each step carries the pause those rules infer now, with the rule as a
    comment, as a starting point for the editor.
    """
    origin = " ".join(f"{source} ({url})".split()) if url else " ".join(source.split())
    lines = [
        f"# Imported from {origin} by `rustpunt import`; read the steps before building.",
        f"title: {quoted(exercise.title)}",
    ]
    if exercise.description:
        lines.append(f"description: {quoted(exercise.description)}")
    lines.append("steps:")
    left_out = {item.position: item for item in exercise.left_out}
    for index, step in enumerate((*exercise.steps, None)):
        if index in left_out:
            item = left_out[index]
            lines.append(
                f"  # left out by rustpunt import, item {item.number}: {quoted(item.text)}"
            )
            lines.append(f"  # (it would not load: {' '.join(item.reason.split())})")
        if step is None:
            break
        if not explicit_pauses:
            lines.append(f"  - {quoted(step)}")
            continue
        decision = infer_pause(step, default_ms=DEFAULT_PAUSE_MS, cycle_ms=DEFAULT_CYCLE_MS)
        seconds = decision.ms // 1000 if decision.ms % 1000 == 0 else decision.ms / 1000
        lines.append(f"  - text: {quoted(step)}")
        lines.append(
            f"    pause: {seconds}  # {decision.rule}: {' '.join(decision.reason.split())}"
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Written:
    exercise: Exercise
    path: Path
    status: Status
    """"written", "overwritten" (with force), or "exists" (left alone)."""


@dataclass(frozen=True)
class NotWritten:
    """An exercise found but not written, and why (its file is a folder, the disk refused)."""

    exercise: Exercise
    path: Path
    reason: str


@dataclass(frozen=True)
class SourceReport:
    """What one source gave: the scripts written or left alone, the lists passed over, or an error."""

    source: str
    format: Format | None = None
    title: str | None = None
    url: str | None = None
    written: tuple[Written, ...] = ()
    passed_over: tuple[PassedOver, ...] = ()
    error: str | None = None
    not_written: tuple[NotWritten, ...] = ()

    def document(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "title": self.title,
            "url": self.url,
            "exercises": [
                {
                    "title": w.exercise.title,
                    "steps": len(w.exercise.steps),
                    "description": w.exercise.description,
                    "file": str(w.path),
                    "status": w.status,
                    "left_out": [
                        {"item": item.number, "text": item.text, "reason": item.reason}
                        for item in w.exercise.left_out
                    ],
                }
                for w in self.written
            ],
            "not_written": [
                {"title": n.exercise.title, "file": str(n.path), "reason": n.reason}
                for n in self.not_written
            ],
            "passed_over": [
                {"kind": p.kind, "items": p.items, "heading": p.heading, "message": p.message()}
                for p in self.passed_over
            ],
            "error": self.error,
        }


def import_article(
    article: Article,
    *,
    output_dir: Path,
    force: bool = False,
    explicit_pauses: bool = False,
    taken: set[str] | None = None,
) -> SourceReport:
    """Write one script per exercise of `article` into `output_dir`; an existing file is left alone
    unless `force`. `taken` holds the names already given in this run (two sources with a
    "Bodyscan" give bodyscan.yaml and bodyscan-2.yaml). Raises ArticleError if there is no exercise.
    """
    findings = find_exercises(article)
    if not findings.exercises:
        passed = "; ".join(p.message() for p in findings.passed_over)
        raise ArticleError(
            f"{article.source}: no exercise found"
            + (f" (passed over: {passed})" if passed else "")
            + "; an exercise is a heading followed by a numbered list of instructions"
            " such as “1. Ga rechtop zitten.”"
        )
    taken = set() if taken is None else taken
    written = []
    not_written = []
    for exercise in findings.exercises:
        exercise = _without_unloadable_steps(exercise)
        path = output_dir / f"{_free_name(slug(exercise.title), taken)}.yaml"
        try:
            written.append(_write_exercise(exercise, path, article, force, explicit_pauses))
        except ArticleError as error:  # this exercise only: the others are still written
            not_written.append(NotWritten(exercise, path, str(error)))
    return SourceReport(
        source=article.source,
        format=article.format,
        title=article.title,
        url=article.url,
        written=tuple(written),
        passed_over=findings.passed_over,
        not_written=tuple(not_written),
    )


def _write_exercise(
    exercise: Exercise, path: Path, article: Article, force: bool, explicit_pauses: bool
) -> Written:
    if not exercise.steps:
        raise ArticleError(
            f"{path}: none of the {len(exercise.left_out)} items would load as a step"
        )
    text = script_text(
        exercise, source=article.source, url=article.url, explicit_pauses=explicit_pauses
    )
    _check_script(text, path, exercise)
    if path.is_dir():
        raise ArticleError(
            f"{path}: is a folder, not a script; move it away, or import into another folder with -o"
        )
    if path.exists() and not force:
        return Written(exercise, path, "exists")
    status: Status = "overwritten" if path.exists() else "written"
    try:
        write_text_atomic(path, text)
    except OSError as error:
        raise ArticleError(
            f"{path}: cannot be written ({error.strerror or error}); "
            "choose another folder with -o or fix its permissions"
        ) from None
    log.info("wrote %s (%d steps) from %s", path, len(exercise.steps), article.source)
    return Written(exercise, path, status)


def _without_unloadable_steps(exercise: Exercise) -> Exercise:
    """The exercise without the items rustpunt's loader refuses as steps ("Adem in (pauze vier s)
    en uit.": not an inline pause), each kept as a LeftOut with the loader's reason."""
    from rustpunt.errors import ScriptError
    from rustpunt.script.load import parse_script

    steps: list[str] = []
    left_out: list[LeftOut] = []
    for number, step in enumerate(exercise.steps, start=1):
        try:
            parse_script(f"title: t\nsteps:\n  - {quoted(step)}\n".encode(), Path("step.yaml"))
        except ScriptError as error:
            reason = re.sub(r"^step \d+: ", "", error.reason)
            left_out.append(LeftOut(number, step, reason, position=len(steps)))
            continue
        steps.append(step)
    if not left_out:
        return exercise
    return replace(exercise, steps=tuple(steps), left_out=tuple(left_out))


def import_sources(
    sources: Iterable[str | Path],
    *,
    output_dir: Path,
    force: bool = False,
    explicit_pauses: bool = False,
    format: Format | None = None,
    stdin: Any = None,
) -> list[SourceReport]:
    """Import every source; a source that fails is reported and the others are still imported."""
    taken: set[str] = set()
    reports = []
    for source in sources:
        try:
            article = read_article(source, format=format, stdin=stdin)
            reports.append(
                import_article(
                    article,
                    output_dir=output_dir,
                    force=force,
                    explicit_pauses=explicit_pauses,
                    taken=taken,
                )
            )
        except ArticleError as error:
            name = "standard input" if str(source) == "-" else str(source)
            reports.append(SourceReport(source=name, error=str(error)))
    return reports


def _free_name(stem: str, taken: set[str]) -> str:
    name, number = stem, 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}"
    taken.add(name)
    return name


def _check_script(text: str, path: Path, exercise: Exercise) -> None:
    """Read the script back with rustpunt's own loader before writing it: what import writes, build takes."""
    from rustpunt.script.load import parse_script

    try:
        script = parse_script(text.encode("utf-8"), path)
    except Exception as problem:  # a bug here, not the user's: say so plainly
        raise ArticleError(
            f"{path}: the imported script would not load ({problem}); please report this"
        ) from None
    if [step.text for step in script.steps] != list(exercise.steps):
        raise ArticleError(
            f"{path}: the imported steps do not read back as written; please report this"
        )
