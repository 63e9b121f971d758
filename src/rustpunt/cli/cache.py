"""`rustpunt cache`: the clip cache's size and entries, or clearing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rustpunt.cli.options import EXIT_CODES, _cache_dir_option, _json_option
from rustpunt.cli.output import _emit_json, _fit, _terminal_width


@click.command(epilog=EXIT_CODES)
@_cache_dir_option
@click.option(
    "--list", "list_entries", is_flag=True, help="List every entry: its size, engine and text."
)
@click.option("--clear", is_flag=True, help="Remove entries (all, or with --older-than).")
@click.option(
    "--stats",
    is_flag=True,
    help="Clips spoken, and read from the local and the remote cache (--cache-url), by the "
    "builds that used this cache folder.",
)
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    metavar="DAYS",
    help="With --clear: only entries unused for this many days.",
)
@_json_option
def cache(
    cache_dir: Path | None,
    list_entries: bool,
    clear: bool,
    stats: bool,
    older_than: float | None,
    as_json: bool,
) -> None:
    """Show the clip cache (size, entries) or clear it.

    Every spoken sentence is kept here, keyed on the engine, its version, the voice settings and
    the exact text, so a rebuild asks the engine only for sentences that changed.

    \b
    Example:
      rustpunt cache --list
      rustpunt cache --clear --older-than 30
      rustpunt cache --stats
    """
    from rustpunt.voice.clipcache import ClipCache

    if older_than is not None and not clear:
        raise click.UsageError("--older-than goes with --clear")
    clips = ClipCache(cache_dir)
    if clear:
        cleared = clips.clear(older_than)
        document: dict[str, Any] = {
            "folder": str(clips.root),
            "removed": cleared.clips,
            "removed_parts": cleared.parts,
            "freed_bytes": cleared.freed_bytes,
        }
        message = (
            f"removed {cleared.clips} clips and {cleared.parts} encoded speech parts"
            f" ({cleared.freed_bytes / 1e6:.1f} MB) from {clips.root}"
        )
    else:
        entries = list(clips.entries())
        parts = list(clips.speech_parts())
        size = sum(e.size for e in entries) + sum(part[1] for part in parts)
        document = {
            "folder": str(clips.root),
            "entries": len(entries),
            "parts": len(parts),
            "bytes": size,
        }
        message = (
            f"{clips.root}: {len(entries)} clips and {len(parts)} encoded speech parts,"
            f" {size / 1e6:.1f} MB"
        )
        if stats:
            from rustpunt.remote import read_stats

            counts = {"spoken": 0, "local_hits": 0, "remote_hits": 0, **read_stats(clips.root)}
            document["stats"] = counts
            message += (
                f"\nclips spoken {counts['spoken']}, read from the local cache "
                f"{counts['local_hits']}, from the remote cache {counts['remote_hits']}"
            )
        if list_entries:
            document["list"] = [
                {"text": e.text, "engine": e.engine, "bytes": e.size, "last_used": e.last_used}
                for e in entries
            ]
            width = _terminal_width()
            lines = [
                _fit(f"{e.size / 1e3:8.0f} kB  {e.engine:<7} {e.text}", width) for e in entries
            ]
            message = "\n".join([*lines, message])
    if as_json:
        _emit_json(document)
    else:
        click.echo(message)
