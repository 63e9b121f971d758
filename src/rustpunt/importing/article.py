"""Read an article (a web page, Markdown, or text copied from a browser) into a flat list of blocks.

Every format ends up as the same thing: headings, paragraphs and list items in reading order, with
each item's number and the list it belongs to. Finding the exercises in them is `importer`'s job.
A web page goes through trafilatura first, which keeps the main text with its headings and lists
and drops navigation, cookie banners, share buttons and footers; its Markdown output is then read
like any Markdown file, by markdown-it-py.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from rustpunt.errors import RustpuntError

log = logging.getLogger(__name__)

Format = Literal["html", "markdown", "text"]
FORMATS: tuple[Format, ...] = ("html", "markdown", "text")
STDIN = "-"
INSTALL_HINT = "pip install 'rustpunt[import]'"

_EXTENSIONS: dict[str, Format] = {
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
}


class ArticleError(RustpuntError):
    """An article cannot be read, or holds no exercise."""


@dataclass(frozen=True)
class Block:
    """One heading, paragraph or list item of an article, in reading order."""

    kind: Literal["heading", "paragraph", "item"]
    text: str
    """As the article has it, whitespace collapsed; cleaning for speech comes later."""
    level: int = 0
    """A heading's level (1 for the title), or a list item's depth (0 for a top-level list)."""
    number: int | None = None
    """A numbered list item's number; None for a bullet, a heading or a paragraph."""
    list_id: int = 0
    """Items of one list share it; every list has its own."""
    emphasised: bool = False
    """A paragraph that is bold or italic as a whole: a web page's way to write a small heading."""
    link_share: float = 0.0
    """How much of the text is the text of links (0 to 1): menus and "read also" lists are links."""


@dataclass(frozen=True)
class Article:
    source: str
    """The file as given, or "standard input"."""
    format: Format
    blocks: tuple[Block, ...]
    title: str | None = None
    """The page's own title (HTML metadata, or a Markdown file's first level-1 heading)."""
    url: str | None = None
    """The page's canonical address, when the HTML names it."""


def read_article(source: str | Path, *, format: Format | None = None, stdin: Any = None) -> Article:
    """Read one source (a file, or "-" for `stdin`, a binary stream) into blocks.

    The format is `format`, else the file extension's, else guessed from the content.
    """
    if str(source) == STDIN:
        name = "standard input"
        data = stdin.read() if stdin is not None else b""
    else:
        name = str(source)
        if re.match(r"https?://", name):
            raise ArticleError(
                f"{name}: rustpunt does not download pages; save the page as HTML"
                " (or copy its text) and import that file"
            )
        try:
            data = Path(source).read_bytes()
        except IsADirectoryError:
            raise ArticleError(
                f"{name}: is a folder; give article files (HTML, Markdown or text)"
            ) from None
        except OSError as error:
            raise ArticleError(f"{name}: cannot be read: {error.strerror or error}") from None
    if not data.strip():
        raise ArticleError(f"{name}: is empty; give an article with a numbered list of steps")
    chosen = format or _EXTENSIONS.get(Path(str(source)).suffix.lower()) or guess_format(data)
    if chosen == "html":
        return _read_html(data, name)
    if chosen == "markdown":
        return _read_markdown(decode_text(data, name), name)
    return Article(source=name, format="text", blocks=tuple(text_blocks(decode_text(data, name))))


def guess_format(data: bytes) -> Format:
    """HTML if it opens with markup, Markdown if it has Markdown headings or links, else text."""
    head = data[:4096].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")) or re.search(
        rb"<(body|div|p|article|h[1-6]|ol|ul)[\s>]", head
    ):
        return "html"
    text = data.decode("utf-8", errors="replace")
    if re.search(r"(?m)^#{1,6} \S|\]\([^)\s]+\)|^\*\*[^*]+\*\*\s*$", text):
        return "markdown"
    return "text"


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM); text that is not UTF-8 is read as Windows-1252, the usual other."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("%s is not UTF-8; reading it as Windows-1252", name)
        return data.decode("cp1252", errors="replace")


# --------------------------------------------------------------------------- HTML


def _read_html(data: bytes, name: str) -> Article:
    try:
        from trafilatura.metadata import extract_metadata
        from trafilatura.utils import load_html
    except ImportError:
        raise ArticleError(f"{name}: reading web pages needs trafilatura; {INSTALL_HINT}") from None
    _quiet_trafilatura()
    tree = load_html(data)  # decodes as the page declares (<meta charset>), else by detection
    if tree is None:
        raise ArticleError(f"{name}: is not a readable web page")
    markdown = html_to_markdown(data)
    if markdown is not None and not _HEADING.search(markdown):
        wrapped = _body_in_main(tree)
        again = html_to_markdown(wrapped) if wrapped is not None else None
        if again is not None and _HEADING.search(again):
            markdown = again
    metadata = extract_metadata(tree)
    article = _read_markdown(markdown or "", name)
    return Article(
        source=name,
        format="html",
        blocks=article.blocks,
        title=(metadata.title if metadata else None) or article.title,
        url=metadata.url if metadata else None,
    )


_HEADING = re.compile(r"(?m)^#{1,6} \S")
_LIBRARY_LOGGERS = ("trafilatura", "htmldate", "courlan", "justext")


def _quiet_trafilatura() -> None:
    """trafilatura logs "discarding data: None" and the like as warnings and errors: its reasons,
    not the user's; what counts reaches the user as rustpunt's own line ("no exercise found").
    They stay visible with --debug (the root logger at DEBUG)."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        return
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _body_in_main(tree: Any) -> bytes | None:
    """The page again with its body's content inside <main>, when the body holds its headings
    directly: trafilatura finds no content container then, and its fallback keeps the lists but
    drops every heading (two exercises become "Oefeningen" and "Oefeningen (2)")."""
    from lxml import etree, html

    body = tree.find(".//body")
    if body is None or tree.xpath("//main|//article") or not body.xpath("./h1|./h2|./h3|./h4"):
        return None
    main = etree.Element("main")
    main.text, body.text = body.text, None
    for child in list(body):
        main.append(child)
    body.append(main)
    return html.tostring(tree, encoding="utf-8")


def html_to_markdown(data: bytes | str) -> str | None:
    """The main text of a web page as Markdown, headings and numbered lists kept.

    `favor_recall` keeps short list items and small headings that the default precision mode may
    drop; links are kept so a list of links can be recognised as one (and never becomes steps).
    trafilatura replaces a main text under 250 characters (a short exercise page) with a "baseline"
    extraction that loses every heading and list marker; the limit is lowered so it does not.
    """
    import trafilatura
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    return trafilatura.extract(
        data,
        output_format="markdown",
        include_formatting=True,
        include_links=True,
        include_images=False,
        include_tables=False,
        include_comments=False,
        favor_recall=True,
        deduplicate=False,
        config=config,
    )


# --------------------------------------------------------------------------- Markdown


def _read_markdown(text: str, name: str) -> Article:
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        raise ArticleError(
            f"{name}: reading Markdown needs markdown-it-py; {INSTALL_HINT}"
        ) from None
    text, front_title = _front_matter(text)
    tokens = MarkdownIt("commonmark").parse(text)
    blocks = list(_markdown_blocks(tokens))
    title = front_title or next(
        (b.text for b in blocks if b.kind == "heading" and b.level == 1), None
    )
    return Article(source=name, format="markdown", blocks=tuple(blocks), title=title)


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def _front_matter(text: str) -> tuple[str, str | None]:
    """A static-site generator's YAML header (`---`, `title: ...`, `---`): not text, but its title."""
    found = _FRONT_MATTER.match(text)
    if not found:
        return text, None
    try:
        header = yaml.safe_load(found.group(1))
    except yaml.YAMLError:
        header = None
    title = header.get("title") if isinstance(header, dict) else None
    return text[found.end() :], title if isinstance(title, str) and title.strip() else None


def _markdown_blocks(tokens: list[Any]) -> Any:
    lists: list[int] = []  # the list_id of each open list, innermost last
    numbers: list[int | None] = []  # the number of the item open at each depth
    next_list = 0
    heading_level = 0
    item_text: list[list[tuple[str, float, bool]]] = []  # inline parts of each open item
    for token in tokens:
        if token.type in ("ordered_list_open", "bullet_list_open"):
            next_list += 1
            lists.append(next_list)
        elif token.type in ("ordered_list_close", "bullet_list_close"):
            lists.pop()
        elif token.type == "list_item_open":
            numbers.append(int(token.info) if token.info.isdigit() else None)
            item_text.append([])
        elif token.type == "list_item_close":
            parts = item_text.pop()
            number = numbers.pop()
            text = " ".join(part for part, _, _ in parts)
            if text.strip():
                yield Block(
                    kind="item",
                    text=" ".join(text.split()),
                    level=len(lists) - 1,
                    number=number,
                    list_id=lists[-1],
                    link_share=_mean_share(parts),
                )
        elif token.type == "heading_open":
            heading_level = int(token.tag[1])
        elif token.type == "heading_close":
            heading_level = 0
        elif token.type == "inline":
            text, link_share, emphasised = _inline(token.children or [])
            if item_text:
                item_text[-1].append((text, link_share, emphasised))
            elif heading_level and text.strip():
                yield Block(kind="heading", text=" ".join(text.split()), level=heading_level)
            elif text.strip():
                yield Block(
                    kind="paragraph",
                    text=" ".join(text.split()),
                    emphasised=emphasised,
                    link_share=link_share,
                )


def _mean_share(parts: list[tuple[str, float, bool]]) -> float:
    total = sum(len(text) for text, _, _ in parts)
    return sum(len(text) * share for text, share, _ in parts) / total if total else 0.0


def _inline(children: list[Any]) -> tuple[str, float, bool]:
    """The text of an inline token, the share of it inside links, and whether it is all emphasis."""
    pieces: list[str] = []
    linked = emphasised_chars = 0
    in_link = in_emphasis = 0
    for child in children:
        if child.type in ("text", "code_inline"):
            pieces.append(child.content)
            visible = len(child.content.strip())
            linked += visible if in_link else 0
            emphasised_chars += visible if in_emphasis else 0
        elif child.type in ("softbreak", "hardbreak"):
            pieces.append(" ")
        elif child.type == "link_open":
            in_link += 1
        elif child.type == "link_close":
            in_link -= 1
        elif child.type in ("strong_open", "em_open"):
            in_emphasis += 1
        elif child.type in ("strong_close", "em_close"):
            in_emphasis -= 1
        # images and inline HTML are not text to speak
    text = "".join(pieces)
    visible = len("".join(text.split()))
    if not visible:
        return text, 0.0, False
    return text, min(linked / visible, 1.0), emphasised_chars >= visible


# --------------------------------------------------------------------------- plain text

_NUMBERED = re.compile(r"^\s*(\d{1,3})\s*[.)]\s+(\S.*)$")
_BULLET = re.compile(r"^\s*[-*\u2022\u00b7\u25aa\u25e6\u2013\u2014]\s+(\S.*)$")


def text_blocks(text: str) -> list[Block]:
    """Blocks of text copied from a browser: every line is a paragraph or a list item.

    Items ("  1. Ga rechtop zitten.", "• ...") that follow each other, blank lines allowed between
    them, form one list; any other line ends it. Which lines read as headings is decided later.
    """
    blocks: list[Block] = []
    list_id = 0
    in_list = False
    for line in text.splitlines():
        if not line.strip():
            continue
        numbered = _NUMBERED.match(line)
        bullet = None if numbered else _BULLET.match(line)
        if numbered or bullet:
            if not in_list:
                list_id += 1
                in_list = True
            content = numbered.group(2) if numbered else bullet.group(1)  # type: ignore[union-attr]
            number = int(numbered.group(1)) if numbered else None
            blocks.append(
                Block(kind="item", text=" ".join(content.split()), number=number, list_id=list_id)
            )
        else:
            in_list = False
            blocks.append(Block(kind="paragraph", text=" ".join(line.split())))
    return blocks
