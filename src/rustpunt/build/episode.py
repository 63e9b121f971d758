"""Episodes: a script of scripts. Spoken text, exercise scripts and audio files (a jingle), with
pauses between them, planned into one timeline and built with speak, mix and export as they are.

The MP3 has a chapter for every part (text, script, audio) and, inside a script, one for every
step (and its intro and outro), in time order. It is rebuilt when the episode file, a part, an
asset (audio, cover, bed), a voice or a setting changes: all of them go into its build key.

The file and its parts are read by rustpunt.build.episodefile.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rustpunt import __version__
from rustpunt.audio.loudness import block_energies, integrated_loudness
from rustpunt.audio.mix import TARGET_LUFS, TRUE_PEAK_DBTP, Mix, place, speech_gain, with_clips
from rustpunt.audio.pcm import SAMPLE_RATE
from rustpunt.audio.sounddesign import (
    ENCODER_LOSS_DB,
    BreathingRun,
    Designed,
    arrange,
    check_design,
    layer_for,
    level,
    sound_document,
    sound_lines,
)
from rustpunt.audio.sounds import SoundError, decode_audio
from rustpunt.build.episodefile import EpisodeFile, Part, load_episode, with_overrides
from rustpunt.build.length import check_length, fit_spoken, length_record
from rustpunt.build.session import (
    BITRATE_KBPS,
    PLACEMENT,
    BuildOptions,
    BuildResult,
    built_result,
    clips_record,
    cues,
    output_paths,
    published_path,
    published_sound,
    recorded_build,
    up_to_date,
    write_outputs,
)
from rustpunt.build.workspace import Workspace
from rustpunt.errors import FileProblem, ScriptError, VoiceError, shown
from rustpunt.inputs import Inputs, inputs_or_new
from rustpunt.mp3.id3 import Chapter, Metadata
from rustpunt.mp3.sidecars import Cue
from rustpunt.podcast.cover import CoverArt, CoverError, check_cover, draw_cover
from rustpunt.script.load import Script
from rustpunt.script.plan import (
    LEAD_IN_MS,
    MAX_SESSION_MS,
    TAIL_MS,
    Item,
    Pause,
    Speech,
    Timeline,
    plan,
)
from rustpunt.script.soundsettings import design_for
from rustpunt.voice.clipcache import pipeline
from rustpunt.voice.joining import PhraseSpan
from rustpunt.voice.profiles import DEFAULT_VOICE, VoiceRegistry, known_voice, voices_for
from rustpunt.voice.speak import Voices, engine_label

MAX_ASSET_SECONDS = 30 * 60
"""An audio part longer than half an hour is surely the wrong file (and would fill memory)."""

WELCOME_TITLE = "Welkom"
GOODBYE_TITLE = "Tot slot"
SCRIPT_PART_TITLES = {"outro": "afsluiting"}
"""Chapter titles of an episode's own words before its first script and after its last, and of
a script's outro ("Schouders: afsluiting"): Dutch like the words they mark, and none twice, where
a session's own chapters say "Intro" and "Outro"."""

AUDIO_KEY = "\x00audio:"
"""Audio parts ride through the mixer as clips under this key plus their path: mix.place and
render treat them as any clip; captions leave them out."""


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Mark:
    """Where a chapter starts: at the first sample of item `item`, titled `title`."""

    item: int
    title: str


@dataclass(frozen=True)
class EpisodePlan:
    designed: Designed
    marks: tuple[Mark, ...]
    audio: dict[str, Path]
    """Clip keys of audio parts and their files."""
    part_items: tuple[tuple[int, int], ...] = ()
    """(the first item of each part, the part's line): where a timeline position was written."""


def plan_episode(episode: EpisodeFile) -> EpisodePlan:
    """All parts in one timeline, chapter marks, and the sounds under it (the episode's design;
    each script's breathing steps)."""
    episode_script = Script(path=episode.path, title=episode.title, steps=())
    items: list[Item] = [Pause(LEAD_IN_MS, "lead-in", "quiet before the episode begins")]
    marks: list[Mark] = []
    runs: list[BreathingRun] = []
    audio: dict[str, Path] = {}
    part_items: list[tuple[int, int]] = []
    estimated_ms = 0  # as a session estimates itself, part by part: the limit names the part
    scripts = [index for index, part in enumerate(episode.parts) if part.kind == "script"]
    first_script = scripts[0] if scripts else len(episode.parts)
    last_script = scripts[-1] if scripts else -1
    for index, part in enumerate(episode.parts):
        first = len(items)
        part_items.append((first, part.line))
        if part.kind == "pause":
            items.append(Pause(part.ms, "explicit", f"`pause:` in the episode (line {part.line})"))
        elif part.kind == "text":
            assert part.text is not None
            default = (
                WELCOME_TITLE
                if index < first_script
                else GOODBYE_TITLE
                if index > last_script
                else _short(part.text)
            )
            marks.append(Mark(len(items), part.title or default))
            items.append(Speech(part.text, "intro"))
        elif part.kind == "audio":
            assert part.path is not None
            key = f"{AUDIO_KEY}{part.path}"
            audio[key] = part.path
            marks.append(Mark(len(items), part.title or part.path.stem))
            items.append(Speech(key, "step"))
        else:
            assert part.script is not None
            script = part.script
            try:
                timeline = plan(script)
                breathing = {s.number: (s.breathing, s.line) for s in script.steps if s.breathing}
                only_breath = replace(episode.design, bed=None, bell=(), chime_ms=None)
                own = arrange(timeline, only_breath, breathing)
            except FileProblem as error:
                raise ScriptError(
                    episode.path, part.line, f"part {shown(script.path)}: {error}"
                ) from None
            offset = len(items)
            marks.append(Mark(offset, part.title or script.title))
            for position, item in enumerate(own.timeline.items):
                if isinstance(item, Speech) and item.part != "intro":  # the part's chapter holds it
                    title = (
                        item.text
                        if item.part == "step"
                        else f"{part.title or script.title}: {SCRIPT_PART_TITLES[item.part]}"
                    )
                    marks.append(Mark(offset + position, title))
            runs.extend(replace(run, item=run.item + offset) for run in own.breathing)
            items.extend(own.timeline.items)
        estimated_ms += Timeline(episode_script, tuple(items[first:])).estimated_ms()
        if estimated_ms > MAX_SESSION_MS:
            _too_long(episode, part.line, estimated_ms, "would last about")
    items.append(Pause(TAIL_MS, "tail", "quiet after the episode"))
    designed = replace(
        arrange(Timeline(episode_script, tuple(items)), episode.design), breathing=tuple(runs)
    )
    return EpisodePlan(designed, _numbered(marks), audio, tuple(part_items))


def _too_long(episode: EpisodeFile, line: int, ms: int, verb: str) -> None:
    """The limit of a session, for an episode, at the part that passes it: the same ten hours
    (an MP3 longer than that is a mistake, and ID3 chapter times are 32-bit milliseconds)."""
    raise ScriptError(
        episode.path,
        line,
        f"with this part the episode {verb} {ms / 3_600_000:.1f} hours; at most"
        f" {MAX_SESSION_MS // 3_600_000} hours make one MP3: split it into several episodes",
    )


def check_hours(episode: EpisodeFile, planned: EpisodePlan, mix: Mix) -> None:
    """The limit again once audio parts have their real length: at the part where it is passed."""
    if mix.duration_ms <= MAX_SESSION_MS:
        return
    crossing = next(index for index, p in enumerate(mix.placements) if p.end_ms > MAX_SESSION_MS)
    line = max((start, line) for start, line in planned.part_items if start <= crossing)[1]
    _too_long(episode, line, mix.duration_ms, "lasts")


def _numbered(marks: list[Mark]) -> tuple[Mark, ...]:
    """Every chapter title once: a title seen before gets its count, "Jingle (2)", so a listener
    skipping by chapter knows where they land."""
    seen: dict[str, int] = {}
    result = []
    for mark in marks:
        seen[mark.title] = seen.get(mark.title, 0) + 1
        count = seen[mark.title]
        result.append(mark if count == 1 else replace(mark, title=f"{mark.title} ({count})"))
    return tuple(result)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------- checking


def check_episode(path: Path, voices_dirs: tuple[Path, ...] = ()) -> EpisodeFile:
    """Everything a build would refuse, without speaking: the file, its parts, audio assets that
    are not audio, the cover, the bed, the voice. ScriptError naming the episode file and line."""
    episode = load_episode(path)
    fitted(episode, plan_episode(episode))
    for part in episode.parts:
        if part.kind == "audio":
            assert part.path is not None
            _asset(episode, part, max_seconds=1)
    _cover(episode)
    check_design(episode.design, episode.path)
    registry = voices_for(path, voices_dirs)
    chosen_voice(episode, registry, None)
    return episode


def fitted(episode: EpisodeFile, planned: EpisodePlan) -> EpisodePlan:
    """The plan with its pauses fitted to `length:` (if asked) by an estimate of the speech and
    the audio parts' own lengths: for `check` and `plan`, which speak nothing."""
    if episode.length_ms is None:
        return planned
    known = {
        f"{AUDIO_KEY}{part.path}": _asset(episode, part).size * 1000 / SAMPLE_RATE
        for part in episode.parts
        if part.kind == "audio"
    }
    where = (episode.path, episode.length_line, "episode")
    return replace(
        planned, designed=check_length(planned.designed, episode.length_ms, where, known)
    )


def _asset(episode: EpisodeFile, part: Part, max_seconds: float | None = None) -> np.ndarray:
    assert part.path is not None
    try:
        samples = decode_audio(part.path, max_seconds=max_seconds or MAX_ASSET_SECONDS)
    except SoundError as error:
        raise ScriptError(episode.path, part.line, str(error)) from None
    return samples


def _cover(episode: EpisodeFile) -> CoverArt:
    if episode.cover is None:
        return draw_cover(episode.title, episode.show)
    try:
        return check_cover(episode.cover)
    except CoverError as error:
        raise ScriptError(episode.path, episode.cover_line, str(error)) from None


def chosen_voice(episode: EpisodeFile, registry: VoiceRegistry, override: str | None) -> str:
    """--voice, else the episode's `voice:`, else its first script's, else the default."""
    if override:
        registry.get(override)
        return override
    if episode.voice:
        return known_voice(registry, episode.voice, episode.path, episode.voice_line)
    for part in episode.parts:
        if part.script is not None and part.script.voice:
            try:
                registry.get(part.script.voice)
            except VoiceError as error:
                raise ScriptError(episode.path, part.line, str(error)) from None
            return part.script.voice
    return DEFAULT_VOICE


# --------------------------------------------------------------------------- building


def _digest(path: Path, inputs: Inputs) -> str:
    try:
        return inputs.digest(path)
    except OSError:
        return "missing"


def episode_key(
    episode: EpisodeFile,
    registry: VoiceRegistry,
    voice: str,
    options: BuildOptions,
    inputs: Inputs | None = None,
) -> str:
    """Everything the episode's MP3 depends on: a change in any part, asset or setting rebuilds."""
    inputs = inputs_or_new(inputs)
    assets = sorted({str(p.path): _digest(p.path, inputs) for p in episode.parts if p.path}.items())
    sound = {
        str(p.path): design_for(p.path, p.script.sound, None, inputs).fingerprint(inputs)
        for p in episode.parts
        if p.script is not None and p.path is not None
    }
    document = {
        "tool": __version__,
        "kind": "episode",
        "episode": episode.digest,
        "assets": assets,
        "cover": _digest(episode.cover, inputs) if episode.cover else None,
        "sound": episode.design.fingerprint(inputs),
        "part_sound": sound,
        "voices": [(p.name, p.fingerprint()) for p in registry.chain(voice)],
        "pipeline": pipeline(),
        "placement": PLACEMENT,
        "loudness": [TARGET_LUFS, TRUE_PEAK_DBTP, ENCODER_LOSS_DB],
        "bitrate": BITRATE_KBPS,
        "tags": [options.artist, options.album],
        "encoder": options.encoder,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def settled(
    path: Path, options: BuildOptions, workspace: Workspace | None = None
) -> BuildResult | None:
    """The result when the episode's outputs are up to date, else None (errors propagate)."""
    inputs = (workspace or Workspace.for_options(options)).inputs
    episode = with_overrides(load_episode(path), options.sound)
    registry = voices_for(path, options.voices_dirs, inputs)
    voice = chosen_voice(episode, registry, options.voice)
    plan_episode(episode)
    paths = output_paths(path, options.output_dir)
    previous = recorded_build(paths.json) if not options.force else None
    return up_to_date(path, paths, episode_key(episode, registry, voice, options, inputs), previous)


def build_episode(
    path: Path,
    options: BuildOptions,
    voices: Voices,
    on_clip: Any = None,
    workspace: Workspace | None = None,
) -> BuildResult:
    """Build one episode file into NAME.mp3 (+ .vtt, .json) unless it is up to date."""
    workspace = workspace or Workspace.for_options(options)
    current = settled(path, options, workspace)
    if current is not None:
        return current
    episode = with_overrides(load_episode(path), options.sound)
    registry = voices_for(path, options.voices_dirs, workspace.inputs)
    voice = chosen_voice(episode, registry, options.voice)
    planned = plan_episode(episode)
    cover = _cover(episode)
    check_design(episode.design, episode.path)
    timeline = planned.designed.timeline
    texts = [s.text for s in timeline.speeches() if not s.text.startswith(AUDIO_KEY)]
    spoken = voices.speak(texts, registry, voice, strict=options.strict, on_clip=on_clip)
    gain = speech_gain(spoken.clips)
    assets: dict[str, np.ndarray] = {}
    for part in episode.parts:
        if part.kind == "audio" and part.path is not None:
            assets[f"{AUDIO_KEY}{part.path}"] = _at_speech_level(_asset(episode, part), gain)
    clips = with_clips(spoken.clips, assets)  # the spoken clips stay lazy: made when mixed
    if episode.length_ms is not None:  # `length:`: the pauses that give way take up the rest
        where = (episode.path, episode.length_line, "episode")
        designed = fit_spoken(planned.designed, episode.length_ms, clips, where)
        planned, timeline = replace(planned, designed=designed), designed.timeline
    mix = replace(place(timeline, clips, normalize=False, keys=spoken.keys), gain=gain)
    check_hours(episode, planned, mix)
    layered = level(mix, layer_for(planned.designed, mix))
    mix = layered.mix
    paths = output_paths(path, options.output_dir)
    key = episode_key(episode, registry, voice, options, workspace.inputs)
    metadata = Metadata(
        title=episode.title,
        artist=episode.author or options.artist,
        album=episode.show or options.album,
        voice=spoken.profile.name,
        engine=engine_label(spoken.identity, spoken.profile),
        comment=episode.description,
        year=episode.date[:4] if episode.date else None,
    )
    chapters = episode_chapters(mix, planned.marks)
    write_outputs(
        paths,
        source=path,
        mix=mix,
        metadata=metadata,
        document=sidecar(
            episode, mix, chapters, spoken, voice, key, options.published_dir or paths.json.parent
        )
        | _sound(planned, layered, options.published_dir or paths.json.parent)
        | (
            {"length": length_record(timeline, episode.length_ms)}
            if episode.length_ms is not None
            else {}
        ),
        layered=layered,
        cover=(cover.data, cover.mime),
        chapter_list=chapters,
        cue_list=episode_cues(mix, spoken.layouts),
        encoder=options.encoder,
        parts=workspace.parts,
    )
    return built_result(path, paths, mix, spoken)


def _sound(planned: EpisodePlan, layered: Any, folder: Path) -> dict[str, Any]:
    if layered.layer is None:
        return {}
    return {
        "sound": {
            **published_sound(planned.designed, folder),
            "measured_lufs": layered.measured_lufs,
            "layer_gain_db": layered.gain_db,
        }
    }


def _at_speech_level(samples: np.ndarray, gain: float) -> np.ndarray:
    """An audio part set to the loudness the speech has before its gain, so the one session gain
    brings both to the target; never louder than int16 holds."""
    lufs = integrated_loudness([block_energies(samples)])
    if not np.isfinite(lufs) or gain <= 0:
        return samples
    wanted = TARGET_LUFS - 20 * np.log10(gain)
    scale = 10 ** ((wanted - lufs) / 20)
    peak = float(np.max(np.abs(samples.astype(np.float32)))) or 1.0
    scale = min(scale, 32767 / peak)
    return np.round(samples.astype(np.float32) * scale).astype("<i2")


def episode_chapters(mix: Mix, marks: tuple[Mark, ...]) -> list[Chapter]:
    """A chapter from every mark to the next, the first from 0 and the last to the end."""
    starts = [(mix.placements[mark.item].start_ms, mark.title) for mark in marks]
    result = []
    for index, (start, title) in enumerate(starts):
        begin = 0 if index == 0 else start
        end = starts[index + 1][0] if index + 1 < len(starts) else mix.duration_ms
        if end > begin:
            result.append(Chapter(begin, end, title))
    return result


def episode_cues(mix: Mix, layouts: Mapping[str, tuple[PhraseSpan, ...]]) -> list[Cue]:
    """The captions of everything spoken, by the session's own rules and code (one cue per
    sentence, at most two lines of 42 characters); audio parts have none."""
    return [cue for cue in cues(mix, layouts) if not cue.text.startswith(AUDIO_KEY)]


def sidecar(
    episode: EpisodeFile,
    mix: Mix,
    chapters: list[Chapter],
    spoken: Any,
    requested: str,
    key: str,
    folder: Path,
) -> dict[str, Any]:
    """What `rustpunt feed` reads (title, description, date, episode, season, explicit, guid,
    show, "kind": "episode", "cover") and what was built: parts, chapters, the voice. Paths are
    relative to the output `folder`: the sidecar is published with the MP3."""
    show: dict[str, Any] = {}
    if episode.show:
        show["title"] = episode.show
    if episode.author:
        show["author"] = episode.author
    if episode.language:
        show["language"] = episode.language
    document: dict[str, Any] = {
        "rustpunt": __version__,
        "kind": "episode",
        "episode_file": published_path(episode.path, folder),
        "cover": "own" if episode.cover else "drawn",
        "title": episode.title,
        "description": episode.description,
        "date": episode.date,
        "episode": episode.number,
        "season": episode.season,
        "explicit": episode.explicit,
        "guid": episode.guid,
        "show": show or None,
        "build_key": key,
        "duration_ms": mix.duration_ms,
        "voice": {
            "requested": requested,
            "used": spoken.profile.name,
            "engine": dict(spoken.identity),
            "fallback_reason": spoken.fallback_reason,
        },
        "parts": [
            {
                "kind": p.kind,
                "line": p.line,
                **({"path": published_path(p.path, folder)} if p.path else {}),
                **({"ms": p.ms} if p.kind == "pause" else {}),
            }
            for p in episode.parts
        ],
        "chapters": [
            {"start_ms": c.start_ms, "end_ms": c.end_ms, "title": c.title} for c in chapters
        ],
        "clips": clips_record(spoken),
    }
    return {k: v for k, v in document.items() if v is not None}


# --------------------------------------------------------------------------- for `rustpunt plan`


def plan_document(planned: EpisodePlan) -> dict[str, Any]:
    """The episode's timeline as plain data: every item, with the chapter that starts at it."""
    chapter_at = {mark.item: mark.title for mark in planned.marks}
    items: list[dict[str, Any]] = []
    for index, item in enumerate(planned.designed.timeline.items):
        entry: dict[str, Any]
        if isinstance(item, Pause):
            entry = {"type": "pause", "ms": item.ms, "rule": item.rule, "reason": item.reason}
            if item.planned_ms is not None:
                entry |= {"planned_ms": item.planned_ms, "stretch": item.stretch}
        elif item.text.startswith(AUDIO_KEY):
            entry = {"type": "audio", "file": item.text[len(AUDIO_KEY) :]}
        else:
            entry = {"type": "speech", "part": item.part, "text": item.text}
        if index in chapter_at:
            entry["chapter"] = chapter_at[index]
        items.append(entry)
    timeline = planned.designed.timeline
    return {
        "episode": str(timeline.script.path),
        "title": timeline.script.title,
        "items": items,
        "chapters": [mark.title for mark in planned.marks],
        "sound": sound_document(planned.designed),
        "pause_ms": timeline.pause_ms(),
    }


def plan_lines(planned: EpisodePlan) -> list[str]:
    """What `rustpunt plan EPISODE` prints: each item, chapters marked with »."""
    document = plan_document(planned)
    lines = [f"{document['title']}  ({document['episode']})"]
    for entry in document["items"]:
        shown_text = entry.get("text") or entry.get("file") or ""
        chapter = entry.get("chapter")
        if chapter is not None and chapter != shown_text:
            lines.append(f"      » chapter: {chapter}")
        mark = "»" if chapter is not None and chapter == shown_text else " "
        if entry["type"] == "pause" and "planned_ms" in entry:  # `length:` moved it
            lines.append(
                f"        pause {entry['planned_ms'] / 1000:6.1f} s -> {entry['ms'] / 1000:.1f} s"
                f"  [{entry['rule']}] {entry['reason']}; {entry['stretch']}"
            )
        elif entry["type"] == "pause":
            lines.append(
                f"        pause {entry['ms'] / 1000:6.1f} s  [{entry['rule']}] {entry['reason']}"
            )
        else:
            label = "audio" if entry["type"] == "audio" else entry["part"]
            lines.append(f"{label:>7} {mark} {shown_text}")
    lines.extend(sound_lines(planned.designed))
    lines.append(f"{len(planned.marks)} chapters, {document['pause_ms'] / 1000:.1f} s of pauses")
    return lines
