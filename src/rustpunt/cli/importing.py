"""`rustpunt import`: articles into exercise scripts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from rustpunt.cli.options import EXIT_CODES, _json_option, _output_dir_option
from rustpunt.cli.output import _emit_json
from rustpunt.errors import ExitStatus

if TYPE_CHECKING:
    from rustpunt.importing.article import Format


@click.command("import", epilog=EXIT_CODES)
@click.argument("sources", nargs=-1, required=True)
@_output_dir_option("scripts", "Folder for the scripts.")
@click.option("--force", is_flag=True, help="Overwrite scripts that already exist.")
@click.option(
    "--explicit-pauses",
    is_flag=True,
    help="Write the pause the timing rules infer into each step, as a starting point to edit.",
)
@click.option(
    "--format",
    "source_format",
    type=click.Choice(["html", "markdown", "text"]),
    help="Read every SOURCE as this. [default: from the file extension, else from the content]",
)
@_json_option
def import_command(
    sources: tuple[str, ...],
    output_dir: Path,
    force: bool,
    explicit_pauses: bool,
    source_format: Format | None,
    as_json: bool,
) -> ExitStatus:
    """Turn articles into exercise scripts: one script per numbered list of instructions.

    SOURCE is a web page (.html), a Markdown file (.md), text copied from a browser (.txt), or -
    for standard input. Navigation, cookie texts, share buttons, lists of links and lists of tips
    are passed over; each exercise's title comes from its heading, its description from the
    sentence that introduces the list. An existing script is left alone unless --force; that, or a
    source without an exercise, gives exit code 1 after the rest is written. Web pages and Markdown
    need `pip install 'rustpunt[import]'`.

    \b
    Example:
      rustpunt import artikel.html              # scripts/bodyscan.yaml, ...
      rustpunt build scripts/bodyscan.yaml
      pbpaste | rustpunt import - -o concepten/ --explicit-pauses
    """
    from rustpunt.importing.exercises import import_sources

    reports = import_sources(
        sources,
        output_dir=output_dir,
        force=force,
        explicit_pauses=explicit_pauses,
        format=source_format,
        stdin=click.get_binary_stream("stdin"),  # type: ignore[arg-type]
    )
    written = [w for r in reports for w in r.written if w.status != "exists"]
    existing = [w for r in reports for w in r.written if w.status == "exists"]
    not_written = [n for r in reports for n in r.not_written]
    failed = [r for r in reports if r.error]
    if as_json:
        _emit_json(
            {
                "sources": [r.document() for r in reports],
                "written": len(written),
                "exists": len(existing),
                "not_written": len(not_written),
                "failed": len(failed),
            }
        )
    else:
        for report in reports:
            if report.error:
                click.echo(f"Error: {report.error}", err=True)
                continue
            title = f" “{report.title}”" if report.title else ""
            click.echo(f"{report.source}{title} ({report.format})")
            for entry in report.written:
                steps = f"“{entry.exercise.title}”, {len(entry.exercise.steps)} steps"
                if entry.status == "exists":
                    click.echo(f"  exists       {entry.path}  {steps}: left as it is")
                else:
                    click.echo(f"  {entry.status:<12} {entry.path}  {steps}")
                for item in entry.exercise.left_out:  # a warning: the script is written
                    click.echo(
                        f"  left out     item {item.number} “{item.text}” (a comment in"
                        f" {entry.path}): {item.reason}",
                        err=True,
                    )
            for missing in report.not_written:
                click.echo(f"  not written  “{missing.exercise.title}”: {missing.reason}", err=True)
            for passed in report.passed_over:
                click.echo(f"  passed over  {passed.message()}")
        summary = f"{len(written)} script(s) written"
        if existing:
            summary += f", {len(existing)} already there (--force overwrites)"
        if not_written:
            summary += f", {len(not_written)} not written"
        if failed:
            summary += f", {len(failed)} source(s) without an exercise or unreadable"
        click.echo(summary + (f"; build them: rustpunt build {output_dir}" if written else ""))
    return ExitStatus.ERROR if existing or not_written or failed else ExitStatus.OK
