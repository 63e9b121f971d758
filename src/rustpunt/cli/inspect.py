"""Commands that read scripts and make no audio: `check`, `plan` and `schema`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rustpunt.cli.options import (
    EXIT_CODES,
    _existing,
    _json_option,
    _no_scripts,
    _voices_dirs_option,
)
from rustpunt.cli.output import _emit_json, _fit, _terminal_width
from rustpunt.errors import ExitStatus, shown


@click.command(epilog=EXIT_CODES)
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
    from rustpunt.build.check import check_scripts

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


@click.command(epilog=EXIT_CODES)
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
    from rustpunt.build.options import is_episode_file, output_paths
    from rustpunt.script.load import load_script
    from rustpunt.script.plan import Pause
    from rustpunt.script.plan import plan as make_plan
    from rustpunt.voice.spokentext import plan_document, script_lexicon, speech_pieces

    if is_episode_file(script):
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


@click.command(epilog=EXIT_CODES)
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
