"""Build one script into its MP3 and sidecars: load, plan, speak, mix, export.

A script whose outputs are up to date (same script bytes, voice profile, tool version and output
settings, recorded as `build_key` in the JSON sidecar) is not built again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rustpunt import __version__
from rustpunt.audio.mix import (
    GAIN_STEP_DB,
    SPEECH_GRID,
    TARGET_LUFS,
    TRUE_PEAK_DBTP,
    Mix,
    Placement,
    place,
    render,
    speech_segments,
)
from rustpunt.audio.pcm import samples_to_ms
from rustpunt.audio.sounddesign import (
    ENCODER_LOSS_DB,
    Designed,
    Layered,
    check_design,
    design_session,
    layer_for,
    level,
    render_layered,
    sound_document,
)
from rustpunt.build.length import fit_spoken, length_record
from rustpunt.build.options import (  # defined apart so that a no-op rebuild imports no audio modules
    BuildOptions,
    BuildResult,
    BuildStatus,
    OutputPaths,
    output_paths,
)
from rustpunt.build.workspace import Workspace
from rustpunt.files import atomic_paths, read_json_object
from rustpunt.inputs import Inputs
from rustpunt.memo import MEMOS
from rustpunt.mp3.export import (
    Encoder,
    write_mp3_into,
    write_sidecar_into,
    write_spliced_into,
)
from rustpunt.mp3.id3 import Chapter, Metadata
from rustpunt.mp3.partcache import PartCache
from rustpunt.mp3.sidecars import Cue, json_text, vtt_text
from rustpunt.script.load import Script, load_script
from rustpunt.script.plan import Pause, Speech, Timeline, plan
from rustpunt.script.sentences import caption_cues, split_span
from rustpunt.voice.clipcache import pipeline
from rustpunt.voice.joining import PhraseSpan, engine_identity, lexicon_digest
from rustpunt.voice.profiles import VoiceRegistry, chosen_voice, voices_for
from rustpunt.voice.speak import SpokenSession, Voices, engine_label

PLACEMENT = {"speech_grid": SPEECH_GRID, "gain_step_db": GAIN_STEP_DB}
"""How clips are placed and levelled (rustpunt.audio.mix): part of the build key."""

BITRATE_KBPS = 64
"""Constant bitrate, mono: plenty for speech, and what pre-encoded silent frames will need later."""


def build_key(
    script: Script,
    registry: VoiceRegistry,
    voice: str,
    options: BuildOptions,
    designed: Designed | None = None,
    inputs: Inputs | None = None,
) -> str:
    document = {
        "tool": __version__,
        "script": script.digest,
        "voices": [(p.name, p.fingerprint()) for p in registry.chain(voice)],
        **voice_identity(script, registry, voice, inputs),
        "pipeline": pipeline(),
        "loudness": [TARGET_LUFS, TRUE_PEAK_DBTP],
        "bitrate": BITRATE_KBPS,
        "tags": [options.artist, options.album],
        "encoder": options.encoder,
        "encoder_loss_db": ENCODER_LOSS_DB,
        "chapters": CHAPTERS_VERSION,
        "placement": PLACEMENT,
    }
    if designed is not None and designed.has_layer:
        document["sound"] = sound_document(designed, inputs)
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def voice_identity(
    script: Script, registry: VoiceRegistry, voice: str, inputs: Inputs | None = None
) -> dict[str, Any]:
    """For the build key: each voice's engine identity and the lexicon digest it would speak
    with, so a replaced Piper model or a changed lexicon.yaml rebuilds the script."""
    chain = registry.chain(voice)
    folders = (script.path.parent,)
    return {
        "engines": [engine_identity(profile, inputs) for profile in chain],
        "lexicons": [lexicon_digest(folders, profile, inputs) for profile in chain],
    }


def recorded_build(json_path: Path) -> dict[str, Any] | None:
    """The sidecar of the last build, if there is a readable one."""
    return read_json_object(json_path)


SIZED_OUTPUTS = ("mp3", "vtt")
"""The outputs whose size the JSON sidecar records, under "output_bytes"."""


def outputs_intact(previous: dict[str, Any], paths: OutputPaths) -> bool:
    """The MP3 and VTT are there at the sizes the JSON recorded: an empty or truncated file (a full
    disk, a copy cut short) is rebuilt, not trusted. A sidecar without sizes (older) rebuilds too."""
    recorded = previous.get("output_bytes")
    if not isinstance(recorded, dict):
        return False
    for suffix in SIZED_OUTPUTS:
        try:
            path = getattr(paths, suffix)
            size = path.stat().st_size
        except OSError:
            return False
        if not path.is_file() or recorded.get(suffix) != size:
            return False
    return True


@dataclass(frozen=True)
class Prepared:
    """A script read, voiced and planned, with where its outputs go: all that needs no audio."""

    script: Script
    registry: VoiceRegistry
    voice: str
    timeline: Timeline
    paths: OutputPaths
    key: str
    up_to_date: BuildResult | None
    """The result to report when nothing needs building, else None."""
    fell_back: bool = False
    """The outputs are up to date but were spoken by a fallback voice: worth rebuilding once the
    voice can be reached again (the batch asks that, once per voice)."""
    designed: Designed | None = None
    """The sound design and where its sounds go (the timeline above already makes room)."""


def up_to_date(
    script_path: Path, paths: OutputPaths, key: str, previous: dict[str, Any] | None
) -> BuildResult | None:
    """The outputs recorded for this build key, if they are all there; else None."""
    if previous is None or previous.get("build_key") != key or not outputs_intact(previous, paths):
        return None
    voice = previous.get("voice")
    return BuildResult(
        script=script_path,
        status=BuildStatus.UP_TO_DATE,
        mp3=paths.mp3,
        duration_ms=int(previous.get("duration_ms", 0)),
        voice=voice.get("used") if isinstance(voice, dict) else None,
    )


def prepare(
    script_path: Path, options: BuildOptions, workspace: Workspace | None = None
) -> Prepared:
    """Everything before synthesis, cheap enough to run for hundreds of scripts on a no-op
    rebuild; it never reaches the network. Every input is read through the workspace's Inputs
    (the up-to-date record lists what they noted)."""
    inputs = (workspace or Workspace.for_options(options)).inputs
    script = load_script(script_path, inputs)
    registry = voices_for(script_path, options.voices_dirs, inputs)
    voice = chosen_voice(script, registry, options.voice)
    designed = design_session(script, plan(script), options.sound, inputs)
    timeline = designed.timeline
    paths = output_paths(script_path, options.output_dir)
    key = build_key(script, registry, voice, options, designed, inputs)
    previous = recorded_build(paths.json) if not options.force else None
    current = up_to_date(script_path, paths, key, previous)
    recorded_voice = (previous or {}).get("voice")
    fell_back = isinstance(recorded_voice, dict) and bool(recorded_voice.get("fallback_reason"))
    return Prepared(
        script=script,
        registry=registry,
        voice=voice,
        timeline=timeline,
        paths=paths,
        key=key,
        up_to_date=current,
        fell_back=current is not None and fell_back,
        designed=designed,
    )


def build_script(
    script_path: Path,
    options: BuildOptions,
    voices: Voices,
    on_clip: Callable[[int, int], None] | None = None,
    workspace: Workspace | None = None,
) -> BuildResult:
    """Build one script unless it is up to date (and was not spoken by a fallback that its own
    voice can now replace); RustpuntErrors propagate for the batch to report."""
    workspace = workspace or Workspace.for_options(options)
    prepared = prepare(script_path, options, workspace)
    if prepared.up_to_date is not None and not (
        prepared.fell_back and voices.reachable_now(prepared.registry.get(prepared.voice))
    ):
        return prepared.up_to_date
    script, timeline, paths = prepared.script, prepared.timeline, prepared.paths
    if prepared.designed is not None:  # a bed file that is not audio fails before any speech
        check_design(prepared.designed.design, script_path)
    texts = [speech.text for speech in timeline.speeches()]
    spoken = voices.speak(
        texts,
        prepared.registry,
        prepared.voice,
        strict=options.strict,
        on_clip=on_clip,
        lexicon_folders=(script_path.parent,),
    )
    designed = prepared.designed
    if script.length_ms is not None and designed is not None:  # `length:`: the pauses give way
        designed = fit_spoken(
            designed, script.length_ms, spoken.clips, (script.path, script.length_line, "script")
        )
        timeline = designed.timeline
    mix = place(timeline, spoken.clips, keys=spoken.keys)
    layered = level(mix, layer_for(designed, mix) if designed else None)
    mix = layered.mix
    metadata = Metadata(
        title=script.title,
        artist=options.artist,
        album=options.album,
        voice=spoken.profile.name,
        engine=engine_label(spoken.identity, spoken.profile),
        comment=_comment(script, spoken, prepared.voice),
    )
    write_outputs(
        paths,
        source=script_path,
        mix=mix,
        metadata=metadata,
        document=sidecar(
            timeline,
            mix,
            spoken,
            prepared.voice,
            prepared.key,
            options.published_dir or paths.json.parent,
        )
        | _sound_record(designed, layered, options.published_dir or paths.json.parent),
        layered=layered,
        layouts=spoken.layouts,
        encoder=options.encoder,
        parts=workspace.parts,
    )
    return built_result(script_path, paths, mix, spoken)


def built_result(source: Path, paths: OutputPaths, mix: Mix, spoken: SpokenSession) -> BuildResult:
    """What a script or episode whose outputs were just written reports."""
    return BuildResult(
        script=source,
        status=BuildStatus.BUILT,
        mp3=paths.mp3,
        duration_ms=mix.duration_ms,
        voice=spoken.profile.name,
        fallback_reason=spoken.fallback_reason,
        synthesized=spoken.synthesized,
        respoken=len(spoken.respoken),
    )


def write_outputs(
    paths: OutputPaths,
    *,
    source: Path,
    mix: Mix,
    metadata: Metadata,
    document: dict[str, Any],
    layered: Layered | None = None,
    cover: tuple[bytes, str] | None = None,
    chapter_list: list[Chapter] | None = None,
    cue_list: list[Cue] | None = None,
    layouts: Mapping[str, tuple[PhraseSpan, ...]] | None = None,
    encoder: Encoder = "splice",
    parts: PartCache | None = None,
) -> None:
    """The MP3, its captions and its JSON as one set: all three are written to temporary files
    and renamed into place only when all are written, the JSON last (its presence marks the set
    done). A full disk leaves the previous set as it was and names the file it could not write.
    `source` is the script or episode file (its date is the content's, see key_since)."""
    since = key_since(paths.json, document.get("build_key"), source)
    with atomic_paths([paths.mp3, paths.vtt, paths.json]) as (mp3, vtt, json_file):
        marks = chapters(mix) if chapter_list is None else chapter_list
        picture = {"cover": cover[0], "cover_mime": cover[1]} if cover else {}
        if encoder == "splice" and (layered is None or layered.layer is None):
            write_spliced_into(
                mp3,
                speech_segments(mix),
                mix.total_samples,
                metadata,
                marks,
                bitrate_kbps=BITRATE_KBPS,
                shown=paths.mp3,
                parts=parts,
                **picture,  # type: ignore[arg-type]
            )
        else:  # the one-pass encode: also every session with a bed or bells under its speech
            write_mp3_into(
                mp3,
                render_layered(layered) if layered is not None else render(mix),
                metadata,
                marks,
                bitrate_kbps=BITRATE_KBPS,
                shown=paths.mp3,
                **picture,  # type: ignore[arg-type]
            )
        write_sidecar_into(
            vtt, vtt_text(cues(mix, layouts) if cue_list is None else cue_list), shown=paths.vtt
        )
        sizes = {"mp3": mp3.stat().st_size, "vtt": vtt.stat().st_size}
        document = {**document, "key_since": since, "output_bytes": sizes}  # outputs_intact()
        write_sidecar_into(json_file, json_text(document), shown=paths.json)


def key_since(json_path: Path, key: Any, source: Path) -> str:
    """When the outputs first got this build key (ISO 8601, UTC, to the second): kept from the
    previous sidecar while the key stays, so a --force rebuild of the same content keeps it and
    the feed's date of an episode without `date:` moves only when its content does. A new key
    takes SOURCE_DATE_EPOCH when set, else the source file's modification time (when its content
    was last saved): never the clock, so two builds of the same files into fresh folders give
    the same bytes."""
    previous = recorded_build(json_path)
    if previous is not None and previous.get("build_key") == key:
        since = previous.get("key_since")
        if isinstance(since, str):
            try:
                dt.datetime.fromisoformat(since)
                return since
            except ValueError:
                pass
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    seconds = int(epoch) if epoch.isdigit() else int(source.stat().st_mtime)
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat()


def _sound_record(designed: Designed | None, layered: Layered, folder: Path) -> dict[str, Any]:
    """The sidecar's "sound": the design, and the loudness measured before the one correction."""
    if designed is None or layered.layer is None:
        return {}
    return {
        "sound": {
            **published_sound(designed, folder),
            "measured_lufs": layered.measured_lufs,
            "layer_gain_db": layered.gain_db,
        }
    }


def published_path(path: Path, folder: Path) -> str:
    """`path` as a published sidecar may show it: relative to the output folder (the folder is
    copied to a web server; the build machine's own paths stay on it), with forward slashes."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return Path(path).name


def published_sound(designed: Designed, folder: Path) -> dict[str, Any]:
    """sound_document with a bed file's path relative to the output folder."""
    document = sound_document(designed)
    bed = designed.design.bed
    if bed is not None and bed.path is not None:
        document["bed"] = published_path(bed.path, folder)
    return document


def _comment(script: Script, spoken: SpokenSession, requested: str) -> str | None:
    parts = [script.description] if script.description else []
    if spoken.fallback_reason:
        parts.append(f"Spoken by {spoken.profile.name} because {requested} could not be reached.")
    return " ".join(parts) or None


def _speech_spans(mix: Mix) -> list[Placement]:
    return [p for p in mix.placements if isinstance(p.item, Speech)]


CHAPTERS_VERSION = 2
"""2: the intro and the outro are chapters of their own ("Intro", "Outro")."""

PART_CHAPTER_TITLES = {"intro": "Intro", "outro": "Outro"}


def chapters(mix: Mix) -> list[Chapter]:
    """One chapter per step, from its first word to the next chapter's, and one for the intro and
    the outro: skipping lands on a step.

    The first chapter starts at 0 (the lead-in belongs to it) and the last runs to the end, so
    the chapters cover the whole file, as players expect.
    """
    marks: list[tuple[int, str]] = []
    seen: set[tuple[str, int | None]] = set()
    for placement in _speech_spans(mix):
        item = placement.item
        assert isinstance(item, Speech)
        if (item.part, item.step) in seen:
            continue  # a part spoken in several clips (sentence by sentence) is one chapter
        seen.add((item.part, item.step))
        if item.part == "step":
            marks.append((placement.start_ms, item.text))
        else:
            marks.append((placement.start_ms, PART_CHAPTER_TITLES.get(item.part, item.part)))
    result = []
    for index, (start, title) in enumerate(marks):
        begin = 0 if index == 0 else start
        end = marks[index + 1][0] if index + 1 < len(marks) else mix.duration_ms
        result.append(Chapter(begin, end, title))
    return result


def cues(mix: Mix, layouts: Mapping[str, tuple[PhraseSpan, ...]] | None = None) -> list[Cue]:
    """One cue per sentence (a long one split into cues of at most two lines of 42 characters),
    from where each sentence lies in its part; a text without a layout is one cue."""
    found: list[Cue] = []
    for placement in _speech_spans(mix):
        text = placement.item.text  # type: ignore[union-attr]
        spans = (layouts or {}).get(text)
        if not spans:
            found.append(Cue(placement.start_ms, placement.end_ms, text))
            continue
        for sentence in sentence_spans(placement, spans):
            found.extend(sentence_cues(sentence))
    return found


def sentence_spans(placement: Placement, spans: tuple[PhraseSpan, ...]) -> list[dict[str, Any]]:
    """The sentences of a placed part, in session time: text as written, start and end in ms."""
    sentences: list[dict[str, Any]] = []
    origin = placement.start
    current: int | None = None  # the sentence index of sentences[-1]
    for span in spans:
        end = samples_to_ms(origin + span.end)
        if sentences and span.sentence == current:
            sentences[-1]["text"] += f" {span.text}"
            sentences[-1]["end_ms"] = end
        else:
            start = samples_to_ms(origin + span.start)
            sentences.append({"text": span.text, "start_ms": start, "end_ms": end})
            current = span.sentence
    return sentences


def sentence_cues(sentence: Mapping[str, Any]) -> list[Cue]:
    """A sentence's caption cues: one when it fits two lines of 42 characters, else several,
    its time shared in proportion to their length."""
    texts = _caption_texts(sentence["text"])
    times = split_span(sentence["start_ms"], sentence["end_ms"], texts)
    return [Cue(start, end, text) for text, (start, end) in zip(texts, times)]


@MEMOS.remember(maxsize=8192)
def _caption_texts(sentence: str) -> tuple[str, ...]:
    """caption_cues, remembered: a pure function of the sentence, and a rebuild captions the same
    sentences again. A tuple, so that no caller can change what the next one gets."""
    return tuple(caption_cues(sentence))


def sidecar(
    timeline: Timeline, mix: Mix, spoken: SpokenSession, requested: str, key: str, folder: Path
) -> dict[str, Any]:
    """What was built and how: the voice actually used, and where every step and pause lies;
    the script's path relative to the output `folder`."""
    parts: dict[str, Any] = {}
    steps: list[dict[str, Any]] = []
    for placement in mix.placements:
        item = placement.item
        if isinstance(item, Speech):
            entry = {"text": item.text, "start_ms": placement.start_ms, "end_ms": placement.end_ms}
            spans = spoken.layouts.get(item.text)
            if spans:
                entry["sentences"] = sentence_spans(placement, spans)
            if item.part == "step":
                steps.append(
                    {
                        "step": item.step,
                        "line": item.line,
                        **entry,
                        "speech_end_ms": placement.end_ms,
                    }
                )
            else:
                parts[item.part] = entry
        elif isinstance(item, Pause) and item.step is not None:
            step = steps[-1]
            step["end_ms"] = placement.end_ms
            step["pause"] = {
                "ms": item.ms,
                **({"planned_ms": item.planned_ms} if item.planned_ms is not None else {}),
                "rule": item.rule,
                "reason": item.reason,
                "start_ms": placement.start_ms,
                "end_ms": placement.end_ms,
            }
    return {
        "rustpunt": __version__,
        "script": published_path(timeline.script.path, folder),
        "title": timeline.script.title,
        "build_key": key,
        "duration_ms": mix.duration_ms,
        "voice": {
            "requested": requested,
            "used": spoken.profile.name,
            "engine": dict(spoken.identity),
            "tempo": spoken.profile.tempo,
            "fallback_reason": spoken.fallback_reason,
        },
        **parts,
        "steps": steps,
        **(
            {"length": length_record(timeline, timeline.script.length_ms)}
            if timeline.script.length_ms is not None
            else {}
        ),
        "clips": clips_record(spoken),
    }


def clips_record(spoken: SpokenSession) -> dict[str, int]:
    """The sidecar's `clips`: two different counts, each named for what it counts. A text (a
    step, the intro) is one clip of the mix; it is spoken as phrases (sentences, or clauses),
    each its own cache entry. How many were spoken in this build is not here: that depends on
    the cache, and a sidecar is the same bytes whatever the cache held (the build's --json
    report says it)."""
    phrases = len({span.spoken for spans in spoken.layouts.values() for span in spans})
    return {
        "texts": len(spoken.clips),
        "phrases": phrases,
    }
