"""The command line: parses options, calls the library, turns its errors into one line each.

`main(argv) -> int` returns an `ExitStatus`; nothing here reads sys.argv itself, so tests run the
program in-process. Here: the group, `main` and its one handler of errors and exit codes. Each
command group is a module beside it (build, inspect: check/plan/schema, cache, studio: review and
studio, podcast: feed, importing: import, voices); the option groups they share are decorators
in `options`, and what they print is shaped in `output` (JSON documents, lines fitted to the
terminal). Every command imports the library inside its function, so `--help` loads no audio code.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

import click

from rustpunt import __version__
from rustpunt.cli import build, cache, importing, inspect, podcast, studio, voices
from rustpunt.cli.options import EXIT_CODES
from rustpunt.errors import ExitStatus, FileProblem, RustpuntError, shown

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT, epilog=EXIT_CODES)
@click.version_option(__version__, "-V", "--version", prog_name="rustpunt")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.pass_context
def cli(context: click.Context, debug: bool) -> None:
    """Turn Dutch exercise scripts (YAML) into guided-audio MP3s, with a pause after each step
    timed to what the step asks.

    \b
    Example:
      rustpunt build scripts/ -o output/
      rustpunt plan scripts/ademhaling.yaml
    """
    if isinstance(context.obj, dict):
        context.obj["debug"] = debug  # main() shows the traceback of an error then
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s: %(message)s"
    )


for command in (
    build.build,
    inspect.check,
    inspect.plan,
    inspect.schema,
    cache.cache,
    studio.review,
    studio.studio,
    podcast.feed_command,
    importing.import_command,
    voices.voices,
):
    cli.add_command(command)
del command


def _wants_json(error: click.ClickException, args: list[str]) -> bool:
    """A wrong command line the parser refused before --json was read (an unknown option, say):
    still owed a JSON document if the command takes --json and it was given."""
    context = getattr(error, "ctx", None)
    if context is None or "--json" not in args:
        return False
    return any(param.name == "as_json" for param in context.command.params)


def _json_failure(state: dict[str, Any], error: BaseException | str, code: int) -> int:
    """The one place that keeps `--json`'s promise: a command that failed before printing its
    document prints one now, with the error and the exit code it exits with."""
    if state.get("json_lines"):  # `build --watch --json`: JSON Lines, the failure one more line
        state["emitted"] = False
    if state.get("json") and not state.get("emitted"):
        document: dict[str, Any] = {"error": str(error), "exit_code": int(code)}
        if isinstance(error, FileProblem):
            document |= {"file": shown(error.path), "line": error.line, "message": error.reason}
        state["emitted"] = True
        indent = None if state.get("json_lines") else 2
        click.echo(json.dumps(document, indent=indent, ensure_ascii=False))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program with `argv` (default: the command line); return its ExitStatus.

    Every expected error is one line on stderr; a traceback only with --debug. With --json, a
    failure is also a JSON document on stdout (`error`, `exit_code`; `file`, `line` for a file).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    state: dict[str, Any] = {"debug": False, "json": False, "emitted": False}
    try:
        result = cli.main(args=args, prog_name="rustpunt", standalone_mode=False, obj=state)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        if _wants_json(error, args):
            state["json"] = True
        return _json_failure(state, error.format_message(), error.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        return _json_failure(state, "interrupted", ExitStatus.INTERRUPTED)
    except RustpuntError as error:
        if state["debug"]:
            raise
        click.echo(f"Error: {error}", err=True)
        return _json_failure(state, error, error.exit_code)
    except OSError as error:
        if state["debug"]:
            raise
        click.echo(f"Error: {error}", err=True)
        return _json_failure(state, error, ExitStatus.ERROR)
    return int(result) if isinstance(result, int) else ExitStatus.OK
