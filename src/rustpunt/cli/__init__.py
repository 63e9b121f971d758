"""The command line: parses options, calls the library, turns its errors into one line each.

`main(argv) -> int` returns an `ExitStatus`; nothing here reads sys.argv itself, so tests run the
program in-process.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rustpunt import __version__
from rustpunt.build.options import BuildStatus
from rustpunt.build.workspace import Workspace
from rustpunt.errors import ExitStatus, FileProblem, RustpuntError, shown

if TYPE_CHECKING:
    from rustpunt.build.batch import Job, Report
    from rustpunt.build.options import BuildOptions, BuildResult
    from rustpunt.build.watch import Rebuilt, Round
    from rustpunt.importing.article import Format
    from rustpunt.mp3.export import Encoder
    from rustpunt.voice.speak import Voices

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
EXIT_MEANINGS = {
    ExitStatus.OK: "done",
    ExitStatus.ERROR: "an invalid script, a failed build, or another error (one line on stderr)",
    ExitStatus.USAGE: "wrong command line (unknown option, missing argument or path)",
    ExitStatus.INTERRUPTED: "interrupted (Ctrl-C or SIGTERM)",
}
MIN_CHIME_SECONDS = 5
"""rustpunt.script.soundsettings.MIN_CHIME_MS in seconds (a test keeps them equal): importing soundkeys
would import numpy for every command."""
EXIT_CODES = "\b\nExit codes:\n" + "\n".join(
    f"  {status.value:<4} {meaning}" for status, meaning in EXIT_MEANINGS.items()
)


def _run_state() -> dict[str, Any]:
    """The state main() hands the command (a throwaway dict when a test invokes `cli` itself)."""
    context = click.get_current_context(silent=True)
    root = context.find_root() if context is not None else None
    return root.obj if root is not None and isinstance(root.obj, dict) else {}


def _emit_json(document: Any) -> None:
    _run_state()["emitted"] = True  # main() then adds no failure document of its own
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


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


def _json_option(function: Any) -> Any:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        is_eager=True,  # read before the other options, so a bad one still gets a JSON answer
        callback=_remember_json,
        help="Print a JSON document for programs (on failure too: its error and exit code).",
    )(function)


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


def _terminal_width() -> int | None:
    """The terminal's width, or None when output goes to a pipe or file: never cut that."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((100, 20)).columns


def _fit(line: str, width: int | None) -> str:
    if width is None or len(line) <= width:
        return line
    return line[: max(width - 1, 10)] + "…"


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


@cli.command(epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("output"),
    show_default=True,
    help="Folder for the MP3s and their sidecars.",
)
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
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    callback=_cache_dir_or_environment,
    help="Clip cache folder. [default: $RUSTPUNT_CACHE, else the user cache folder]",
)
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
    from rustpunt.build.batch import jobs_for
    from rustpunt.build.options import BuildOptions
    from rustpunt.voice.clipcache import ClipCache

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
        cache=ClipCache(cache_dir, _remote(cache_url, strict)),
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
    workspace = Workspace()  # one for the build and, with --watch, every rebuild after it
    if watch:
        from rustpunt.build.batch import new_voices

        voices = new_voices(options.cache)  # kept for the rebuilds, with its engines
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


def _remote(url: str | None, strict: bool) -> Any:
    """The remote cache of --cache-url or $RUSTPUNT_CACHE_URL, else None (nothing imported)."""
    import os

    if not (url or os.environ.get("RUSTPUNT_CACHE_URL")):
        return None
    from rustpunt.remote import remote_from

    return remote_from(url, strict=strict)


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
    workspace: Workspace | None = None,
) -> ExitStatus:
    """The build: a progress bar on stderr, then the report (JSON Lines for --watch --json); the
    build record for the review page, and the page itself with --review."""
    from rustpunt.build.batch import preflight, terminate_as_interrupt, timed_build

    with terminate_as_interrupt():  # SIGTERM here stops as Ctrl-C does: no probe file left
        preflight(job_list, options)
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

    record_build(options.output_dir, report.results, job_list)
    if review:
        _refresh_review(options.output_dir)
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
    from rustpunt.build.batch import jobs_for
    from rustpunt.studio.review import record_build

    results = [item.result for item in done.rebuilt]
    record_build(options.output_dir, results, jobs_for(paths, options.output_dir), partial=True)
    if review:
        _refresh_review(options.output_dir)


def _refresh_review(output_dir: Path) -> None:
    """The review page after a build; a page that cannot be written is a warning, not a failed
    build."""
    from rustpunt.studio.review import write_page

    try:
        write_page(output_dir)
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


@cli.command(epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@_voices_dirs_option
@_json_option
def check(paths: tuple[Path, ...], voices_dirs: tuple[Path, ...], as_json: bool) -> ExitStatus:
    """Validate scripts without making audio: each problem as FILE:LINE: message.

    Fast enough for a pre-commit hook over hundreds of scripts. A file named on its own is
    checked as what it is (script, episode, lexicon.yaml, sound.yaml, voice profile,
    podcast.yaml); other YAML (docker-compose.yml, ...) is passed over, saying so.

    \b
    Example:
      rustpunt check scripts/
    """
    from rustpunt.build.batch import check_scripts

    paths = _existing(paths, Path("scripts"))
    report = check_scripts(paths, voices_dirs)
    if not report.results:
        raise _no_scripts(paths)
    checked = [r for r in report.results if r.passed_over is None]
    passed_over = [r for r in report.results if r.passed_over is not None]
    failed = [r for r in checked if r.error is not None]
    problems = list(
        {str(problem): problem for r in failed if r.error for problem in r.error.problems}.values()
    )  # each on its line, and once
    warnings = [warning for r in checked for warning in r.warnings] + report.warnings
    if as_json:
        _emit_json(
            {
                "checked": len(checked),
                "problems": [
                    {"file": shown(e.path), "line": e.line, "message": e.reason} for e in problems
                ],
                "warnings": warnings,
                "files": [
                    {"file": shown(r.path), "kind": r.kind, "ok": r.error is None} for r in checked
                ],
                "passed_over": [
                    {"file": shown(r.path), "reason": r.passed_over} for r in passed_over
                ],
            }
        )
    else:
        for result in passed_over:
            click.echo(f"passed over  {shown(result.path)}: {result.passed_over}")
        for warning in warnings:  # words the lexicon would likely need: the scripts stay valid
            click.echo(warning, err=True)
        for error in problems:
            click.echo(str(error), err=True)
        click.echo(_check_summary(checked, len(failed), len(passed_over)), err=bool(problems))
    return ExitStatus.ERROR if problems else ExitStatus.OK


def _check_summary(checked: list[Any], failed: int, passed_over: int) -> str:
    """`3 script(s) checked, 1 with problems`; other kinds of file named, by kind."""
    kinds: dict[str, int] = {}
    for result in checked:
        kind = "script" if result.kind == "episode" else result.kind
        kinds[kind] = kinds.get(kind, 0) + 1
    if set(kinds) <= {"script"}:
        line = f"{len(checked)} script(s) checked, {failed} with problems"
    else:
        counted = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
        line = f"{len(checked)} file(s) checked ({counted}), {failed} with problems"
    if passed_over:
        line += f"; {passed_over} passed over (not read by rustpunt)"
    return line


@cli.command(epilog=EXIT_CODES)
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_json_option
def plan(script: Path, as_json: bool) -> None:
    """Show the timeline of a script: each step, its pause, and the rule that set the pause.

    Nothing is synthesised: this is what a build will do. For an episode file: its parts, in
    order, and where each chapter starts.

    \b
    Example:
      rustpunt plan scripts/spierontspanning.yaml
      rustpunt plan podcast/aflevering-1.yaml
    """
    from rustpunt.audio.sounddesign import design_session, sound_document, sound_lines
    from rustpunt.build import (
        episode,  # an episode file: its parts; `length:`
        length,
    )
    from rustpunt.build.options import output_paths
    from rustpunt.script.load import load_script
    from rustpunt.script.plan import Pause
    from rustpunt.script.plan import plan as make_plan
    from rustpunt.voice.spokentext import plan_document, script_lexicon, speech_pieces

    if episode.is_episode_file(script):
        loaded_episode = episode.load_episode(script)
        planned = episode.fitted(loaded_episode, episode.plan_episode(loaded_episode))
        if as_json:
            _emit_json(episode.plan_document(planned))
        else:
            for line in episode.plan_lines(planned):
                click.echo(_fit(line, _terminal_width()))
        return
    loaded = load_script(script)
    designed = design_session(loaded, make_plan(loaded))  # room for a bed, bells, breathing
    basis = None
    if loaded.length_ms is not None:  # `length:`: the pauses that give way, fitted to an estimate
        known = length.known_speech(output_paths(script, Path("output")).json)
        where = (script, loaded.length_line, "script")
        designed = length.check_length(designed, loaded.length_ms, where, known)
        basis = length.speech_basis(designed.timeline, known)
    timeline = designed.timeline
    lexicon = script_lexicon(loaded)
    if as_json:
        document = plan_document(timeline, lexicon) | {"sound": sound_document(designed)}
        if loaded.length_ms is not None:
            document["length"] = length.length_record(timeline, loaded.length_ms)
            document["length"]["speech"] = basis
        _emit_json(document)
        return
    width = _terminal_width()
    click.echo(f"{timeline.script.title}  ({script})")
    for item in timeline.items:
        if isinstance(item, Pause):
            click.echo(_fit(length.pause_line(item, loaded.length_ms is not None), width))
            continue
        label = f"step {item.step:>2}" if item.part == "step" else f"{item.part:>7}"
        for piece in speech_pieces(item.text, lexicon):  # inline pauses on their own lines
            if piece.pause_ms is not None:
                reason = f"{piece.text} in the text"
                click.echo(
                    _fit(f"        pause {piece.pause_ms / 1000:6.1f} s  [inline] {reason}", width)
                )
                continue
            click.echo(_fit(f"{label}  {piece.text}", width))
            if piece.spoken is not None:
                click.echo(_fit(f"{'':7}  (says: {piece.spoken})", width))
            label = " " * 7
    for line in sound_lines(designed):
        click.echo(_fit(line, width))
    click.echo(
        f"{len(timeline.speeches())} spoken parts, {timeline.pause_ms() / 1000:.1f} s of pauses;"
        f" about {timeline.estimated_ms() / 60_000:.1f} min in all"
        if loaded.length_ms is None
        else f"{len(timeline.speeches())} spoken parts; length {length.clock(loaded.length_ms)}"
        f" asked, pauses fitted to {basis} (the build fits them to the spoken speech)"
    )


@cli.command(epilog=EXIT_CODES)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    callback=_cache_dir_or_environment,
    help="Clip cache folder. [default: $RUSTPUNT_CACHE, else the user cache folder]",
)
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


@cli.command(epilog=EXIT_CODES)
def schema() -> None:
    """Print the JSON Schema of the script format, for completion and checks in your editor.

    \b
    Example:
      rustpunt schema > rustpunt-script.schema.json
    and as the first line of a script (path relative to the script):
      # yaml-language-server: $schema=./rustpunt-script.schema.json
    """
    from rustpunt.script.schema import script_schema

    _emit_json(script_schema())


# --------------------------------------------------------------------------- feed


@cli.command(epilog=EXIT_CODES)
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "page",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the page. [default: FOLDER/index.html]",
)
def review(folder: Path, page: Path | None) -> ExitStatus:
    """Write a review page of everything built in FOLDER: a player, chapters, transcript and
    timeline (every pause and why) per session, voices, loudness and the last build's failures.

    The page is one HTML file that works from disk (no server, no internet); open it in a
    browser. Loudness and true peak are measured on each MP3 (the first time only: they are kept
    in the cache folder).

    \b
    Example:
      rustpunt build scripts/ -o output/ && rustpunt review output/
      rustpunt build scripts/ --review        # the same page after every build
    """
    from rustpunt.studio.review import write_page

    written = write_page(folder, page)
    click.echo(f"Wrote {shown(written)}; open it in a browser.")
    return ExitStatus.OK


@cli.command(epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("output"),
    show_default=True,
    help="Folder for the MP3s and their sidecars; its review page is served.",
)
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
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Clip cache folder. [default: $RUSTPUNT_CACHE, else the user cache folder]",
)
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
    import os
    import webbrowser

    from rustpunt.build.batch import jobs_for, new_voices
    from rustpunt.build.changes import EVENT_SETTLE_SECONDS, FileEvents
    from rustpunt.build.options import BuildOptions, output_paths
    from rustpunt.build.watch import SETTLE_SECONDS
    from rustpunt.build.watch import watch as watch_scripts
    from rustpunt.studio.review import write_page
    from rustpunt.studio.server import Studio, is_loopback, serve
    from rustpunt.voice.clipcache import ClipCache

    paths = _existing(paths, Path("scripts"))
    job_list = jobs_for(paths, output_dir)
    if not job_list:
        raise _no_scripts(paths)
    options = BuildOptions(
        output_dir=output_dir, cache=ClipCache(cache_dir), voices_dirs=voices_dirs, voice=voice
    )
    voices = new_voices(options.cache)
    workspace = Workspace()  # the studio's, for its first build and every rebuild
    _build_once(
        job_list, options, None, as_json=False, watch=True, voices=voices, workspace=workspace
    )
    write_page(output_dir)
    served = Studio(output_dir)
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


@cli.command("feed", epilog=EXIT_CODES)
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


@cli.command("import", epilog=EXIT_CODES)
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("scripts"),
    show_default=True,
    help="Folder for the scripts.",
)
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


# --- voices: list, install, try ----------------------------------------------------------------


@cli.group(invoke_without_command=True, epilog=EXIT_CODES)
@_voices_dirs_option
@click.option("--no-check", is_flag=True, help="Do not try whether each voice can speak right now.")
@_json_option
@click.pass_context
def voices(
    context: click.Context, voices_dirs: tuple[Path, ...], no_check: bool, as_json: bool
) -> ExitStatus:
    """List the voice profiles, their engine, and whether each can speak right now; install a
    Piper voice; try a voice on a text.

    \b
    Example:
      rustpunt voices --voices-dir my-voices/
      rustpunt voices install nl_BE-nathalie-medium
      rustpunt voices try nl-piper-nathalie "Adem 4-7-8, bijv. 2x." -o proef.mp3
    """
    if context.invoked_subcommand is not None:
        context.obj = {"voices_dirs": voices_dirs}  # `rustpunt voices --voices-dir D try ...`
        return ExitStatus.OK
    from rustpunt.voice.clipcache import ClipCache
    from rustpunt.voice.models import find_model, install_command, installed_models, models_dirs
    from rustpunt.voice.profiles import DEFAULT_VOICE, VoiceRegistry
    from rustpunt.voice.speak import Voices

    registry = VoiceRegistry(voices_dirs)
    engines = Voices(ClipCache())
    rows: list[dict[str, Any]] = []
    for name in registry.names():
        profile = registry.get(name)
        status: str | None = None
        if not no_check:
            try:
                problem = engines.engine_for(profile).check()
            except RustpuntError as error:
                problem = str(error)
            status = "ready" if problem is None else f"unavailable: {problem}"
        row: dict[str, Any] = {
            "name": name,
            "engine": profile.engine,
            "tempo": profile.tempo,
            "fallback": profile.fallback,
            "default": name == DEFAULT_VOICE,
            "description": profile.description,
            "status": status,
            "path": str(profile.path),
        }
        voice_id = profile.settings.get("voice") if profile.engine == "piper" else None
        if isinstance(voice_id, str):
            found = find_model(voice_id)
            row["model"] = {
                "voice_id": voice_id,
                "installed": found is not None,
                "path": str(found.model) if found else None,
                "install": install_command(voice_id),
            }
        rows.append(row)
    outcome = ExitStatus.ERROR if registry.broken else ExitStatus.OK
    if as_json:
        _emit_json(rows)
        return outcome
    width = _terminal_width()
    name_width = max(12, *(len(row["name"]) for row in rows))
    for row in rows:
        mark = "*" if row["default"] else " "
        state = row["status"] or ""
        model = row.get("model")
        if model and not model["installed"]:  # the one thing to do, short enough to be seen
            state = f"not installed: {model['install']}"
        elif model and not row["status"]:
            state = "model installed"
        click.echo(_fit(f"{mark} {row['name']:<{name_width}} {row['engine']:<7} {state}", width))
        click.echo(_fit(f"    {row['description']}", width))
    click.echo("* the default voice")
    models = installed_models()
    folders = ", ".join(str(folder) for folder in models_dirs())
    click.echo(f"Piper models in {folders}:{'' if models else ' none'}")
    for model in models:
        click.echo(f"  {model.voice_id}")
    for broken in registry.broken.values():
        click.echo(f"broken  {broken}", err=True)
    return outcome


@voices.command("install", epilog=EXIT_CODES)
@click.argument("voice_id")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to store the voice in. [default: $RUSTPUNT_VOICE_MODELS, else the user data folder]",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the server before giving up.",
)
@_json_option
def voices_install(voice_id: str, folder: Path | None, timeout: float, as_json: bool) -> ExitStatus:
    """Download a Piper voice (ID.onnx and ID.onnx.json), check its size and MD5 against the
    catalogue of the Piper voices repository, and store it where the voice profiles find it.
    Interrupted? Run it again: it resumes. Needs the internet once; speaks offline after.

    \b
    Example:
      rustpunt voices install nl_BE-nathalie-medium
      rustpunt voices install nl_NL-pim-medium --dir ~/piper-voices
    """
    from rustpunt.voice.models import MODELS_ENV, default_models_dir, install_voice, models_dirs

    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            label = f"{voice_id} ({total / 1_000_000:.1f} MB)"
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        files = install_voice(voice_id, folder=folder, timeout=timeout, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        _emit_json({"voice_id": voice_id, "model": str(files.model), "config": str(files.config)})
        return ExitStatus.OK
    click.echo(f"installed {voice_id} in {folder or default_models_dir()}")
    if folder is not None and folder.resolve() not in [d.resolve() for d in models_dirs()]:
        click.echo(
            f"profiles with `voice: {voice_id}` look in {', '.join(map(str, models_dirs()))}: "
            f"set {MODELS_ENV}={folder} or name the model with `model: {files.model}`"
        )
    return ExitStatus.OK


def _audio_file_name(value: Path | None) -> Path | None:
    """voices try -o: a suffix that names neither MP3 nor WAV is a wrong command line."""
    from rustpunt.build.preview import check_destination

    if value is not None:
        try:
            check_destination(value)
        except RustpuntError as error:
            raise click.BadParameter(str(error)) from None
    return value


@voices.command("try", epilog=EXIT_CODES)
@click.argument("name")
@click.argument("text")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=lambda _context, _param, value: _audio_file_name(value),
    help="The file to write: NAME.mp3, or NAME.wav for plain PCM. [default: try-NAME.mp3]",
)
@click.option(
    "--lexicon-dir",
    "lexicon_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder whose lexicon.yaml applies (e.g. the scripts' folder); may be repeated.",
)
@_voices_dirs_option
@_json_option
def voices_try(
    name: str,
    text: str,
    output: Path | None,
    lexicon_dirs: tuple[Path, ...],
    voices_dirs: tuple[Path, ...],
    as_json: bool,
) -> ExitStatus:
    """Speak TEXT with voice NAME into a short MP3, to compare voices and lexicon entries.
    The voice never falls back: if it cannot speak, this says why.

    \b
    Example:
      rustpunt voices try nl-espeak "De GGZ adviseert 2x per dag 5 min." -o espeak.mp3
      rustpunt voices try nl-piper-nathalie "Om 10:30 begin je." --lexicon-dir scripts/
    """
    from rustpunt.build.preview import audition
    from rustpunt.voice.profiles import VoiceRegistry

    destination = output or Path(f"try-{name}.mp3")
    given_to_group = (click.get_current_context().obj or {}).get("voices_dirs", ())
    registry = VoiceRegistry((*given_to_group, *voices_dirs))
    result = audition(registry, name, text, destination, lexicon_folders=lexicon_dirs)
    if as_json:
        _emit_json(
            {
                "path": str(result.path),
                "voice": result.voice,
                "engine": result.engine,
                "text": result.text,
                "spoken": result.spoken,
                "duration_ms": result.duration_ms,
            }
        )
        return ExitStatus.OK
    click.echo(
        f"wrote {result.path} ({result.duration_ms / 1000:.1f} s, {result.voice}, {result.engine})"
    )
    if result.spoken != result.text:
        click.echo(f"spoken as: {result.spoken}")
    return ExitStatus.OK


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
