"""`rustpunt voices`: list the voice profiles; `voices install` a Piper voice; `voices try` one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from rustpunt.cli.options import EXIT_CODES, _json_option, _voices_dirs_option
from rustpunt.cli.output import _emit_json, _fit, _terminal_width
from rustpunt.errors import ExitStatus, RustpuntError


@click.group(invoke_without_command=True, epilog=EXIT_CODES)
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
