"""`rustpunt review` (the review page of a folder) and `rustpunt studio` (that page served, with
the watch's rebuilds announced to it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rustpunt.cli.build import _build_once, _print_rebuilt, _print_removed, _record_round
from rustpunt.cli.options import (
    EXIT_CODES,
    _cache_dir_option,
    _existing,
    _no_scripts,
    _output_dir_option,
    _voices_dirs_option,
)
from rustpunt.errors import ExitStatus, RustpuntError, shown

if TYPE_CHECKING:
    from rustpunt.build.watch import Rebuilt, Round


@click.command(epilog=EXIT_CODES)
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "page",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the page. [default: FOLDER/index.html]",
)
@_cache_dir_option
def review(folder: Path, page: Path | None, cache_dir: Path | None) -> ExitStatus:
    """Write a review page of everything built in FOLDER: a player, chapters, transcript and
    timeline (every pause and why) per session, voices, loudness and the last build's failures.

    The page is one HTML file that works from disk (no server, no internet); open it in a
    browser. Loudness and true peak are measured on each MP3 (the first time only: they are kept
    in the cache folder, beside the last build's record; give the build's --cache-dir if it
    had one).

    \b
    Example:
      rustpunt build scripts/ -o output/ && rustpunt review output/
      rustpunt build scripts/ --review        # the same page after every build
    """
    from rustpunt.studio.review import write_page

    written = write_page(folder, page, cache_dir=cache_dir)
    click.echo(f"Wrote {shown(written)}; open it in a browser.")
    return ExitStatus.OK


@click.command(epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@_output_dir_option("output", "Folder for the MP3s and their sidecars; its review page is served.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8023,
    show_default=True,
    help="0: any free port.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to serve on. Anything but loopback lets others on the network listen in.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the web browser.")
@click.option(
    "--poll",
    is_flag=True,
    help="Look at the files four times a second instead of listening to file events: for "
    "scripts on a network share (NFS, SMB), where file events do not arrive.",
)
@click.option("--voice", help="Voice profile for every script, overriding the scripts' `voice:`.")
@_cache_dir_option
@_voices_dirs_option
def studio(
    paths: tuple[Path, ...],
    output_dir: Path,
    port: int,
    host: str,
    open_browser: bool,
    poll: bool,
    voice: str | None,
    cache_dir: Path | None,
    voices_dirs: tuple[Path, ...],
) -> ExitStatus:
    """Build, then serve the review page on http://127.0.0.1:PORT/ and rebuild each script as
    it is saved: the page plays a rebuilt session from just before the step that changed, and
    shows a failed rebuild's error in place.

    PATHS and the build are as for `rustpunt build --watch` (default: scripts/). Ctrl-C stops.

    \b
    Example:
      rustpunt studio scripts/ --open
      rustpunt studio scripts/ademhaling.yaml -o /tmp/preview --port 9000
    """
    import webbrowser

    from rustpunt.build.batch import new_voices
    from rustpunt.build.changes import EVENT_SETTLE_SECONDS, FileEvents
    from rustpunt.build.jobs import jobs_for
    from rustpunt.build.options import BuildOptions, output_paths
    from rustpunt.build.watch import SETTLE_SECONDS
    from rustpunt.build.watch import watch as watch_scripts
    from rustpunt.build.workspace import Workspace
    from rustpunt.studio.review import write_page
    from rustpunt.studio.server import Studio, is_loopback, serve

    paths = _existing(paths, Path("scripts"))
    job_list = jobs_for(paths, output_dir)
    if not job_list:
        raise _no_scripts(paths)
    options = BuildOptions(
        output_dir=output_dir, cache_dir=cache_dir, voices_dirs=voices_dirs, voice=voice
    )
    workspace = Workspace.for_options(options)  # the studio's: its first build and every rebuild
    voices = new_voices(workspace)
    _build_once(
        job_list, options, None, as_json=False, watch=True, voices=voices, workspace=workspace
    )
    write_page(output_dir, cache_dir=cache_dir)
    served = Studio(output_dir, cache_dir=cache_dir)
    served.remember_all()
    if not is_loopback(host):
        click.echo(
            f"Warning: serving on {host}: anyone who can reach this machine can open the page "
            f"and every file in {shown(output_dir)}.",
            err=True,
        )
    try:
        server, _thread = serve(served, host, port)
    except OSError as error:
        served.close()
        raise RustpuntError(
            f"cannot serve on {host}:{port} ({error.strerror or error}); "
            "choose another --port (0: any free one)"
        ) from error
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{server.server_port}/"
    click.echo(f"Serving {url} (the review page of {shown(output_dir)}); Ctrl-C stops.", err=True)
    if open_browser:
        webbrowser.open(url)
    changes = None if poll else FileEvents()
    where = {
        os.path.abspath(job.script): output_paths(job.script, job.output_dir).mp3
        for job in job_list
    }

    def on_rebuilt(item: Rebuilt) -> None:
        _print_rebuilt(item)
        result = item.result
        mp3 = result.mp3 or where.get(os.path.abspath(result.script))
        if mp3 is None:
            where.update(
                (os.path.abspath(job.script), output_paths(job.script, job.output_dir).mp3)
                for job in jobs_for(paths, output_dir)
            )
            mp3 = where.get(os.path.abspath(result.script))
        if mp3 is not None:
            served.rebuilt(result.script, mp3, result.status, result.error)

    def on_round(done: Round) -> None:
        _print_removed(done)
        _record_round(done, paths, options, review=False)
        served.refresh([served.key(r.result.mp3) for r in done.rebuilt if r.result.mp3])

    try:
        watch_scripts(
            paths,
            options,
            voices=voices,
            workspace=workspace,
            on_watching=lambda count: click.echo(
                f"Watching {count} script(s) for changes"
                + (" (polling)" if poll else "")
                + "; Ctrl-C stops.",
                err=True,
            ),
            on_rebuilt=on_rebuilt,
            on_round=on_round,
            changes=changes,
            settle_seconds=SETTLE_SECONDS if poll else EVENT_SETTLE_SECONDS,
        )
    except KeyboardInterrupt:
        pass
    finally:
        served.close()
        server.shutdown()
        server.server_close()
        if changes is not None:
            changes.close()
    click.echo("Stopped.", err=True)
    return ExitStatus.OK
