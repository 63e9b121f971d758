"""Output formatting shared by the commands: JSON documents for --json, and lines fitted to the
terminal's width (never cut when the output goes to a pipe or a file)."""

from __future__ import annotations

import json
import shutil
import sys
from typing import Any

import click


def _run_state() -> dict[str, Any]:
    """The state main() hands the command (a throwaway dict when a test invokes `cli` itself)."""
    context = click.get_current_context(silent=True)
    root = context.find_root() if context is not None else None
    return root.obj if root is not None and isinstance(root.obj, dict) else {}


def _emit_json(document: Any) -> None:
    _run_state()["emitted"] = True  # main() then adds no failure document of its own
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def _terminal_width() -> int | None:
    """The terminal's width, or None when output goes to a pipe or file: never cut that."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((100, 20)).columns


def _fit(line: str, width: int | None) -> str:
    if width is None or len(line) <= width:
        return line
    return line[: max(width - 1, 10)] + "…"
