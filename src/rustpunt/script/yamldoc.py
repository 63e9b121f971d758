"""YAML read as the editor wrote it: mappings and sequences that remember the line of every key
and item, and each plain scalar as typed (YAML 1.1 reads `1:30` as 90 and `Null` as nothing).

Only YAML's safe loader is used, so a tag that tries to build a Python object is a Problem at its
line. Scripts and episodes are both read through here.
"""

from __future__ import annotations

from typing import Any

import yaml

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineMapping(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line of the mapping and of each key, and each plain
    scalar value as it was written (YAML 1.1 reads `1:30` as 90 and `Null` as nothing)."""

    line: int = 0
    key_lines: dict[Any, int]
    written: dict[Any, str]


class LineSequence(list):  # type: ignore[type-arg]
    """A YAML sequence that remembers the line of the sequence and of each item, and each plain
    scalar item as it was written."""

    line: int = 0
    item_lines: list[int]
    written: dict[int, str]


def _as_written(node: yaml.Node) -> str | None:
    """The text of a plain scalar that YAML 1.1 would turn into something else (a number, a
    date, true/false, nothing), so a text field can say what the editor typed."""
    if (
        isinstance(node, yaml.ScalarNode)
        and not node.style  # plain: None from PyYAML, '' from libyaml
        and node.tag != "tag:yaml.org,2002:str"
    ):
        return str(node.value)
    return None


class _LineLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader (libyaml when present), with mappings and sequences that keep their lines."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's constructors fail in odd ways on odd values (`!!int ''`, a 5,000-digit number):
        every such failure becomes a problem at the value's line."""
        try:
            return super().construct_object(node, deep=deep)
        except (Problem, yaml.YAMLError, RecursionError):
            raise
        except (ValueError, TypeError, IndexError, AttributeError, OverflowError, KeyError):
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise Problem(
                node.start_mark.line + 1, f"YAML error: this {tag} value cannot be read"
            ) from None


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineMapping:
    # A merge key (`<<: *defaults`) brings in keys that the mapping's own keys may override:
    # only a key written twice in the mapping itself is a mistake.
    own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged = len(node.value) - own
    mapping = LineMapping()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    mapping.written = {}
    own_keys: set[Any] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        key_line = key_node.start_mark.line + 1
        try:
            duplicate = key in own_keys
        except TypeError:
            raise Problem(key_line, "a key must be a plain word, not a list or mapping") from None
        if duplicate:
            raise Problem(key_line, f"key {key!r} appears twice; keep one")
        if index >= merged:
            own_keys.add(key)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_line
        written = _as_written(value_node)
        if written is None:
            mapping.written.pop(key, None)
        else:
            mapping.written[key] = written
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineSequence:
    sequence = LineSequence(loader.construct_object(child, deep=True) for child in node.value)
    sequence.line = node.start_mark.line + 1
    sequence.item_lines = [child.start_mark.line + 1 for child in node.value]
    sequence.written = {
        index: written
        for index, child in enumerate(node.value)
        if (written := _as_written(child)) is not None
    }
    return sequence


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


class Problem(Exception):
    """A validation problem at a line; load_script turns it into a ScriptError with the path."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class Problems(Problem):
    """Every problem found in one document, in the order of their lines; reads as the first."""

    def __init__(self, found: list[Problem]) -> None:
        self.found = sorted(found, key=lambda problem: problem.line or 0)
        super().__init__(self.found[0].line, self.found[0].message)


def _tab_at(text: str, line: int, column: int) -> bool:
    """Whether a YAML error points at a tab, or at a line indented with one (libyaml's message
    says only "found character that cannot start any token")."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return False
    here = lines[line]
    indent = here[: len(here) - len(here.lstrip(" \t"))]
    return "\t" in indent or here[column : column + 1] == "\t"


def _utf16(data: bytes) -> bool:
    """Whether the bytes look like UTF-16 text (Windows Notepad's "Unicode", PowerShell's `>`):
    a byte-order mark, or a NUL beside every ASCII character."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    head = data[:200]
    for encoding, nuls in (("utf-16-le", head[1::2]), ("utf-16-be", head[0::2])):
        if len(head) >= 4 and nuls.count(0) > len(head) // 4:  # an image has NULs too: read it
            text = head[: len(head) // 2 * 2].decode(encoding, "replace")
            if all(character.isprintable() or character in "\t\r\n" for character in text):
                return True
    return False


def decode_text(data: bytes) -> str:
    """The file's text: UTF-8 (a BOM allowed); an empty or binary file is a Problem at a line."""
    if not data.strip():
        raise Problem(1, "the file is empty; a script needs `title:` and `steps:`")
    if _utf16(data):
        raise Problem(
            1,
            "the file is UTF-16 text, not UTF-8; save it as UTF-8 (an editor's "
            '"Save with Encoding", or `iconv -f UTF-16 -t UTF-8 OLD.yaml > NEW.yaml`)',
        )
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise Problem(line, "this is a binary file (a NUL byte here), not a YAML script")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise Problem(line, "the file is not UTF-8 text; save it as UTF-8") from None


def parse_document(text: str) -> Any:
    """The YAML document with LineMapping and LineSequence for its mappings and lists."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        what = error.problem or error.context or "unreadable YAML"
        if mark is not None and _tab_at(text, mark.line, mark.column):
            what = "tabs are not allowed for indentation; indent with spaces"
        elif "could not determine a constructor" in str(error):
            tag = (error.problem or "").split("'")[1:2] or ["?"]
            shown = tag[0].replace("tag:yaml.org,2002:", "!!")
            what = f"the tag {shown} is not allowed; scripts hold only text, numbers, lists and mappings"
        raise Problem(line, f"YAML error: {what}") from None
    except yaml.YAMLError as error:
        raise Problem(None, f"YAML error: {error}") from None
    except RecursionError:
        raise Problem(1, "YAML is nested too deeply to be a script") from None
