"""What the commands share on their command line: option groups as decorators, the PATHS
argument's default, and the exit codes every command's help lists."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from rustpunt.cli.output import _run_state
from rustpunt.errors import ExitStatus, RustpuntError, shown

EXIT_MEANINGS = {
    ExitStatus.OK: "done",
    ExitStatus.ERROR: "an invalid script, a failed build, or another error (one line on stderr)",
    ExitStatus.USAGE: "wrong command line (unknown option, missing argument or path)",
    ExitStatus.INTERRUPTED: "interrupted (Ctrl-C or SIGTERM)",
}
EXIT_CODES = "\b\nExit codes:\n" + "\n".join(
    f"  {status.value:<4} {meaning}" for status, meaning in EXIT_MEANINGS.items()
)


def _voices_dirs_option(function: Any) -> Any:
    return click.option(
        "--voices-dir",
        "voices_dirs",
        multiple=True,
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="A folder of extra voice profiles (YAML); may be given more than once.",
    )(function)


def _remember_json(context: click.Context, _param: click.Parameter, value: bool) -> bool:
    """Tell main() that a JSON document is owed, even if the command fails before printing one."""
    if value:
        _run_state()["json"] = True
    return value


def _cache_dir_or_environment(
    _context: click.Context, _param: click.Parameter, value: Path | None
) -> Path | None:
    """--cache-dir as given, else $RUSTPUNT_CACHE held to the same rule: a file is refused as a
    wrong command line (exit 2) either way, never read as an empty cache."""
    from rustpunt.voice.clipcache import CACHE_ENV

    if value is not None or not os.environ.get(CACHE_ENV):
        return value
    folder = Path(os.environ[CACHE_ENV])
    if folder.exists() and not folder.is_dir():
        raise click.BadParameter(
            f"{shown(folder)} is a file, not a folder; set it to a folder, or give --cache-dir",
            param_hint=f"${CACHE_ENV}",
        )
    return folder


def _output_dir_option(default: str, help_text: str) -> Any:
    """-o/--output: the folder a command writes into (`default` when not given)."""
    return click.option(
        "-o",
        "--output",
        "output_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(default),
        show_default=True,
        help=help_text,
    )


def _cache_dir_option(function: Any) -> Any:
    return click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        callback=_cache_dir_or_environment,
        help="Clip cache folder. [default: $RUSTPUNT_CACHE, else the user cache folder]",
    )(function)


def _json_option(function: Any) -> Any:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        is_eager=True,  # read before the other options, so a bad one still gets a JSON answer
        callback=_remember_json,
        help="Print a JSON document for programs (on failure too: its error and exit code).",
    )(function)


def _existing(paths: tuple[Path, ...], default: Path) -> tuple[Path, ...]:
    """The paths given, else the default folder; one that does not exist is a usage error."""
    if not paths:
        if not default.exists():
            raise click.UsageError(
                f"no {default}/ folder here; give script files or folders of scripts"
            )
        return (default,)
    return paths


def _no_scripts(paths: tuple[Path, ...]) -> RustpuntError:
    return RustpuntError(
        f"no scripts (*.yaml, *.yml) found in {', '.join(map(shown, paths))}; "
        "give script files or folders that hold them"
    )
