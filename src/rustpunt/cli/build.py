"""`rustpunt build` (and its --watch): the build, its progress bar and its report."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rustpunt.build.options import BuildStatus
from rustpunt.build.workspace import Workspace
from rustpunt.cli.options import (
    EXIT_CODES,
    _cache_dir_option,
    _existing,
    _json_option,
    _no_scripts,
    _output_dir_option,
    _voices_dirs_option,
)
from rustpunt.cli.output import _emit_json, _fit, _run_state, _terminal_width
from rustpunt.errors import ExitStatus, RustpuntError, shown

if TYPE_CHECKING:
    from rustpunt.build.batch import Report
    from rustpunt.build.jobs import Job
    from rustpunt.build.options import BuildOptions, BuildResult
    from rustpunt.build.watch import Rebuilt, Round
    from rustpunt.mp3.export import Encoder
    from rustpunt.voice.speak import Voices

MIN_CHIME_SECONDS = 5
"""rustpunt.script.soundsettings.MIN_CHIME_MS in seconds (a test keeps them equal): importing soundkeys
would import numpy for every command."""


@click.command(epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@_output_dir_option("output", "Folder for the MP3s and their sidecars.")
@click.option("--voice", help="Voice profile for every script, overriding the scripts' `voice:`.")
@click.option(
    "--strict", is_flag=True, help="Fail instead of falling back when a voice cannot be reached."
)
@click.option(
    "--force", is_flag=True, help="Rebuild even the scripts whose outputs are up to date."
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Scripts built at once. [default: the number of CPUs]",
)
@_cache_dir_option
@click.option(
    "--cache-url",
    metavar="URL",
    help="A shared cache behind the local one: s3://bucket/prefix, gs://..., file:///share/... "
    "(pip install 'rustpunt[remote]'). [default: $RUSTPUNT_CACHE_URL]",
)
@click.option(
    "--cluster",
    metavar="tcp://HOST:8786",
    help="Build on this Dask scheduler's workers, one task per script "
    "(pip install 'rustpunt[cluster]').",
)
@_voices_dirs_option
@click.option("--artist", default="rustpunt", show_default=True, help="Artist tag of the MP3s.")
@click.option("--album", default="rustpunt", show_default=True, help="Album tag of the MP3s.")
@click.option(
    "--encoder",
    type=click.Choice(["splice", "whole"]),
    default="splice",
    show_default=True,
    help="splice: encode only the speech and fill the pauses with ready silent frames (fast; a "
    "pause-only edit re-encodes nothing). whole: encode the finished session in one pass.",
)
@click.option("--bed", help="A bed under every session: pink, brown, rain, an audio file, or none.")
@click.option("--bell", type=click.Choice(["start", "end", "both", "none"]), help="A singing bowl.")
@click.option(
    "--chime",
    type=click.FloatRange(min=MIN_CHIME_SECONDS),
    metavar="SECONDS",
    help="A soft chime before speech after pauses of at least this many seconds.",
)
@click.option(
    "--review",
    is_flag=True,
    help="After every build (and every rebuild of --watch), refresh DIR/index.html, the review "
    "page (see `rustpunt review`).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="After the build, keep running: rebuild a script as soon as it (or its sound.yaml, "
    "lexicon or voices) is saved, one line each; with --json one JSON document per line. "
    "Ctrl-C stops.",
)
@_json_option
def build(
    paths: tuple[Path, ...],
    output_dir: Path,
    voice: str | None,
    strict: bool,
    force: bool,
    jobs: int | None,
    cache_dir: Path | None,
    cache_url: str | None,
    cluster: str | None,
    voices_dirs: tuple[Path, ...],
    artist: str,
    album: str,
    encoder: Encoder,
    bed: str | None,
    bell: str | None,
    chime: float | None,
    review: bool,
    watch: bool,
    as_json: bool,
) -> ExitStatus:
    """Build scripts into MP3s with chapters, tags and sidecars (NAME.json, NAME.vtt).

    PATHS are script files or folders searched for *.yaml (default: scripts/). A script in a
    subfolder keeps that subfolder under the output folder. Scripts whose outputs are up to date
    are skipped; a bad script is reported and the others are still built.

    When Google's voice cannot be reached, each session is spoken entirely by the voice's fallback
    (nl-espeak, offline), and the console, the tags and NAME.json say so.

    \b
    Example:
      rustpunt build                          # scripts/ into output/
      rustpunt build scripts/ademhaling.yaml --voice nl-espeak -o ~/Music
      rustpunt build scripts/ --jobs 4 --json > report.json
      rustpunt build scripts/ --bed rain --bell both   # sound design for every session
      rustpunt build scripts/ --watch         # rebuild each script when it is saved
      rustpunt build scripts/ --review        # and refresh output/index.html
    """
    from rustpunt.build.jobs import jobs_for
    from rustpunt.build.options import BuildOptions

    if watch and as_json:
        _run_state()["json_lines"] = True  # a failure is one more line, even after the rounds
    paths = _existing(paths, Path("scripts"))
    job_list = jobs_for(paths, output_dir)
    if not job_list:
        raise _no_scripts(paths)
    sound = None
    if (bed, bell, chime) != (None, None, None):
        sound = _command_line_sound(bed, bell, chime)
    options = BuildOptions(
        output_dir=output_dir,
        cache_dir=cache_dir,
        cache_url=_cache_url(cache_url),
        voices_dirs=voices_dirs,
        voice=voice,
        strict=strict,
        force=force,
        artist=artist,
        album=album,
        encoder=encoder,
        sound=sound,
    )
    if cluster and watch:
        raise click.UsageError("--cluster builds once; --watch rebuilds on this machine")
    voices = None
    # one for the build and, with --watch, every rebuild after it: the caches live in it
    workspace = Workspace.for_options(options)
    if watch:
        from rustpunt.build.batch import new_voices

        voices = new_voices(workspace)  # kept for the rebuilds, with its engines
    try:
        status = _build_once(
            job_list,
            options,
            jobs,
            as_json=as_json,
            watch=watch,
            voices=voices,
            review=review,
            cluster=cluster,
            workspace=workspace,
        )
        if not watch:
            return status
        from rustpunt.build.watch import watch as watch_scripts

        def on_round(done: Round) -> None:
            (_print_round_json if as_json else _print_removed)(done)
            _record_round(done, paths, options, review=review)

        watch_scripts(
            paths,
            options,
            voices=voices,
            workspace=workspace,
            on_watching=lambda count: click.echo(
                f"Watching {count} script(s) for changes; Ctrl-C stops.", err=True
            ),
            on_rebuilt=None if as_json else _print_rebuilt,
            on_round=on_round,
        )
    except KeyboardInterrupt:
        if not watch:
            raise
        click.echo("Stopped watching.", err=True)
    return ExitStatus.OK


def _command_line_sound(bed: str | None, bell: str | None, chime: float | None) -> Any:
    """--bed, --bell, --chime as sound settings; a wrong one is a wrong command line (exit 2),
    found before any script is read. A --bed file is relative to the current folder."""
    from rustpunt.audio.sounds import SoundError
    from rustpunt.script.soundsettings import command_line_settings

    try:
        sound = command_line_settings(bed=bed, bell=bell, chime=chime)
    except SoundError as error:
        raise click.UsageError(str(error).removeprefix("command line: ")) from None
    path = getattr(sound.bed, "path", None)
    if path is not None and not path.exists():
        raise click.BadParameter(
            f"no such audio file {shown(path)} (a --bed file is relative to the current folder)",
            param_hint="'--bed'",
        )
    return sound


def _cache_url(url: str | None) -> str | None:
    """--cache-url, else $RUSTPUNT_CACHE_URL, else None: the remote cache behind the local one
    (resolved here, so a cluster worker uses the client's, whatever its own environment says)."""
    import os

    return url or os.environ.get("RUSTPUNT_CACHE_URL") or None


def _build_once(
    job_list: list[Job],
    options: BuildOptions,
    jobs: int | None,
    *,
    as_json: bool,
    watch: bool,
    voices: Voices | None,
    review: bool = False,
    cluster: str | None = None,
    workspace: Workspace,
) -> ExitStatus:
    """The build: a progress bar on stderr, then the report (JSON Lines for --watch --json); the
    build record for the review page, and the page itself with --review."""
    from rustpunt.build.batch import preflight, terminate_as_interrupt, timed_build

    with terminate_as_interrupt():  # SIGTERM here stops as Ctrl-C does: no probe file left
        preflight(job_list, options, workspace)
    with click.progressbar(
        length=len(job_list),
        label="Building",
        file=sys.stderr,
        show_pos=True,
        item_show_func=lambda item: item,
    ) as bar:
        report = timed_build(
            job_list,
            options,
            workers=jobs,
            on_done=lambda result: bar.update(1, result.script.name),
            on_clip=lambda script, done, total: bar.update(
                0, f"{script.name}: speaking {done}/{total}"
            ),
            checked=True,
            shared_voices=voices,
            cluster=cluster,
            workspace=workspace,
        )
    from rustpunt.studio.review import record_build

    record_build(options.output_dir, report.results, job_list, cache_dir=options.cache_dir)
    if review:
        _refresh_review(options)
    if as_json and watch:
        from rustpunt.build.watch import json_line

        click.echo(json_line({"round": 0, **report.document()}))
    elif as_json:
        _emit_json(report.document())
    else:
        _print_report(report)
    return ExitStatus.ERROR if report.count(BuildStatus.FAILED) else ExitStatus.OK


def _record_round(
    done: Round, paths: tuple[Path, ...], options: BuildOptions, *, review: bool
) -> None:
    """A rebuild round of the watch goes into the build record (and the page, with --review)."""
    from rustpunt.build.jobs import jobs_for
    from rustpunt.studio.review import record_build

    results = [item.result for item in done.rebuilt]
    jobs = jobs_for(paths, options.output_dir)
    record_build(options.output_dir, results, jobs, partial=True, cache_dir=options.cache_dir)
    if review:
        _refresh_review(options)


def _refresh_review(options: BuildOptions) -> None:
    """The review page after a build; a page that cannot be written is a warning, not a failed
    build."""
    from rustpunt.studio.review import write_page

    try:
        write_page(options.output_dir, cache_dir=options.cache_dir)
    except RustpuntError as error:
        click.echo(f"Warning: no review page: {error}", err=True)


def _print_rebuilt(item: Rebuilt) -> None:
    """A script the watch built again: the build's line for it, and how long it took."""
    from rustpunt.script.durations import clock

    result = item.result
    if result.status == BuildStatus.FAILED:
        click.echo(f"failed  {result.error}  ({item.milliseconds} ms)", err=True)
    elif result.status == BuildStatus.BUILT:
        line = f"built   {result.mp3}  {clock(result.duration_ms)}  {result.voice}"
        click.echo(_fit(f"{line}  {item.milliseconds} ms", _terminal_width()))
        if result.respoken:
            click.echo(_respoken_note(result.respoken, [result]), err=True)
    else:
        click.echo(f"up to date  {result.mp3}  {item.milliseconds} ms")


def _print_removed(done: Round) -> None:
    for script in done.removed:
        click.echo(f"removed {shown(script)} (its outputs are kept)")


def _print_round_json(done: Round) -> None:
    from rustpunt.build.watch import json_line

    click.echo(json_line(done.document()))


def _respoken_note(count: int, results: Sequence[BuildResult]) -> str:
    """The cache healed itself while building: say so (a damaged disk may be worth a look)."""
    entries = "entry was" if count == 1 else "entries were"
    where = ", ".join(shown(r.script) for r in results)
    return f"Note: {count} damaged clip cache {entries} discarded and spoken again ({where})"


def _print_report(report: Report) -> None:
    from rustpunt.script.durations import clock

    width = _terminal_width()
    for result in report.results:
        if result.status == BuildStatus.FAILED:
            click.echo(f"failed  {result.error}", err=True)  # never cut: it says what to do
        elif result.status == BuildStatus.BUILT:
            click.echo(
                _fit(f"built   {result.mp3}  {clock(result.duration_ms)}  {result.voice}", width)
            )
    fallbacks = [r for r in report.results if r.fallback_reason]
    if fallbacks:  # once per build, one line: the tags and NAME.json hold the whole reason
        reason = (fallbacks[0].fallback_reason or "").split(";")[0]
        click.echo(
            f"Note: {len(fallbacks)} session(s) spoken by {fallbacks[0].voice} ({reason});"
            " --strict fails instead",
            err=True,
        )
    healed = [r for r in report.results if r.respoken]
    if healed:
        click.echo(_respoken_note(sum(r.respoken for r in healed), healed), err=True)
    if report.remote_problem:  # once per build, however many workers found it
        click.echo(
            f"Note: remote cache {report.remote_problem}; built with the local cache only "
            "(--strict fails instead)",
            err=True,
        )
    header = ("built", "up to date", "failed", "audio", "wall time")
    values = (
        str(report.count(BuildStatus.BUILT)),
        str(report.count(BuildStatus.UP_TO_DATE)),
        str(report.count(BuildStatus.FAILED)),
        f"{report.audio_minutes:.1f} min",
        f"{report.wall_seconds:.1f} s",
    )
    widths = [max(len(h), len(v)) for h, v in zip(header, values)]
    click.echo("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    click.echo("  ".join(v.rjust(w) for v, w in zip(values, widths)))
