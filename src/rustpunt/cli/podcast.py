"""`rustpunt feed`: a podcast feed for the episodes built in a folder."""

from __future__ import annotations

from pathlib import Path

import click

from rustpunt.cli.options import EXIT_CODES, _json_option
from rustpunt.cli.output import _emit_json
from rustpunt.errors import ExitStatus


@click.command("feed", epilog=EXIT_CODES)
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--base-url",
    required=True,
    metavar="URL",
    help="Where FOLDER is published on the web (the MP3s, sidecars and feed are under it).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The feed file.  [default: FOLDER/feed.xml]",
)
@click.option("--title", help="The show's title (overrides podcast.yaml).")
@click.option("--owner-name", help="The owner's name for itunes:owner (overrides podcast.yaml).")
@click.option(
    "--owner-email",
    help="The owner's e-mail for itunes:owner and podcast:locked (overrides podcast.yaml).",
)
@_json_option
def feed_command(
    folder: Path,
    base_url: str,
    output: Path | None,
    title: str | None,
    owner_name: str | None,
    owner_email: str | None,
    as_json: bool,
) -> ExitStatus:
    """Write a podcast RSS feed for the episodes built in FOLDER.

    Every NAME.mp3 with its NAME.json is an episode. The show's settings (title, description,
    language, author, owner, category, explicit, image, ...) come from FOLDER/podcast.yaml; a
    chapters file NAME.chapters.json per episode and a cover image are written beside the feed.

    \b
    Example:
      rustpunt build scripts/ -o output/
      rustpunt feed output/ --base-url https://example.org/rustpunt --title Rustpunt
    """
    from rustpunt.podcast.feed import write_feed
    from rustpunt.script.durations import clock

    result = write_feed(
        folder,
        base_url,
        output=output,
        title=title,
        owner_name=owner_name,
        owner_email=owner_email,
    )
    if as_json:
        _emit_json(result.as_json())
        return ExitStatus.OK
    for episode in result.episodes:
        shown_time = clock(episode.duration_ms)
        click.echo(f"{episode.published:%Y-%m-%d}  {shown_time:>6}  {episode.title}")
    state = "written" if result.changed else "unchanged"
    count = len(result.episodes)
    click.echo(f"{result.feed} {state}: {count} episode{'' if count == 1 else 's'}, {result.url}")
    return ExitStatus.OK
