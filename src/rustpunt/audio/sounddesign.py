"""A session's sound design: which bed, bells, chimes and breathing tones go where, and how loud.

The settings come from three places, each key on its own, the later winning: a `sound.yaml`
beside the scripts (the folder's settings), the script's own `sound:` mapping, and the command
line (`rustpunt build --bed rain`). A step asks for paced breathing with `breathing:`.

    sound:
      bed: rain            # pink, brown, rain, an audio file (relative to the script), or none
      bed_level: -44       # dBFS RMS of the bed in the pauses (speech sits near -22 dBFS RMS)
      duck: 10             # dB the bed goes down under speech
      bell: both           # a singing bowl at the start, the end, both, or none
      bell_level: -12      # dBFS peak
      chime: 20            # a soft chime before speech resumes after a pause of 20 s or more
      chime_level: -24     # dBFS peak
      breathing_level: -40 # dBFS peak of the paced-breathing tones
    steps:
      - text: Adem vijf keer rustig in en uit.
        breathing: {in: 4, out: 6}   # also hold_in, hold_out (s) and cycles

The design changes the timeline only where the sounds need room, and only when asked: with a bed
the lead-in and the tail grow so the bed fades in before the first word and out after the last;
a start bell gets a few seconds to ring before the first word, an end bell rings out after the
outro. Every pause of the script keeps its exact length: bells, chimes and breathing tones lie
inside the quiet, under nothing. A script without any of these keys has the timeline of before.

Loudness: the layer's levels are relative to the speech at the target loudness. The speech gain
is decided from the speech as before; then (with a layer) speech and layer are measured together,
block by block, and one correction moves both to the target, so the bed keeps its distance to
the voice. LAME's constant-bitrate encode takes `ENCODER_LOSS_DB` off; it is added back.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rustpunt.audio.loudness import integrated_loudness, segment_energies
from rustpunt.audio.mix import TARGET_LUFS, Mix, render
from rustpunt.audio.pcm import ms_to_samples
from rustpunt.audio.sounds import (
    FADE_IN_MS,
    FADE_OUT_MS,
    SINGING_BOWL,
    SOFT_CHIME,
    Bed,
    Breathing,
    PlacedSound,
    SoundLayer,
    bell,
    breathing_cues,
    ducking,
    file_bed,
    generated_bed,
    ring_ms,
    to_pcm16,
)
from rustpunt.errors import ScriptError, SoundError
from rustpunt.inputs import Inputs
from rustpunt.script.load import Script
from rustpunt.script.plan import Pause, Speech, Timeline
from rustpunt.script.soundsettings import (
    SoundDesign,
    SoundSettings,
    StepBreathing,
    design_for,
)

log = logging.getLogger(__name__)

START_BELL_MS = 500
"""The start bell strikes half a second in (players swallow the very first moment)..."""
START_BELL_RING_MS = 4_000
"""...and rings this long before the first word (it goes on ringing, softly, under the voice)."""
END_BELL_AFTER_MS = 1_000
"""The end bell strikes a second after the last words and rings out (`sounds.ring_ms`): the file
ends when it has."""
CHIME_LEAD_MS = 2_000
"""A chime strikes two seconds before speech resumes: it has decayed by 17 dB when words come."""
BED_LEAD_IN_MS = FADE_IN_MS
"""With a bed, the first word comes when the bed has faded in."""
BED_TAIL_MS = FADE_OUT_MS + 1_000
"""With a bed, the tail holds its whole fade-out after the last words."""

ENCODER_LOSS_DB = 0.45
"""LAME at 64 kbit/s CBR lowers the integrated loudness of speech by this much (measured on the
example sessions; none at 320k): the mixer adds it, so the MP3 measures the target."""


# --------------------------------------------------------------------------- the timeline


@dataclass(frozen=True)
class BreathingRun:
    """Breathing tones in the pause after a step: `cycles` of `pattern` from the pause's start."""

    step: int
    pattern: Breathing
    cycles: int
    item: int
    """The index of the step's pause in the timeline's items."""
    fills: bool = False
    """No `cycles:` was asked: as many cycles as fit the pause (a stretched pause holds more)."""


@dataclass(frozen=True)
class Designed:
    """A timeline made room for its sounds, and what goes where."""

    timeline: Timeline
    design: SoundDesign
    breathing: tuple[BreathingRun, ...] = ()

    @property
    def has_layer(self) -> bool:
        d = self.design
        return bool(d.bed or d.bell or d.chime_ms is not None or self.breathing)


def arrange(
    timeline: Timeline,
    design: SoundDesign,
    breathing: Mapping[int, tuple[StepBreathing, int | None]] | None = None,
) -> Designed:
    """The timeline with room for the design's sounds; `breathing` maps a step number to its
    `breathing:` and the step's line. Raises ScriptError when a step's pause holds no breath."""
    breathing = breathing or {}
    items = list(timeline.items)
    runs: list[BreathingRun] = []
    if design.bed is not None or "start" in design.bell:
        lead = max(
            BED_LEAD_IN_MS if design.bed else 0,
            START_BELL_MS + START_BELL_RING_MS if "start" in design.bell else 0,
        )
        for index, item in enumerate(items):
            if isinstance(item, Pause) and item.rule == "lead-in":
                reason = "quiet before the first word, while the bed fades in and the bell rings"
                items[index] = replace(item, ms=max(item.ms, lead), reason=reason)
                break
    if design.bed is not None or "end" in design.bell:
        bell_ms = ring_ms(SINGING_BOWL, level_dbfs=design.bell_level)
        for index in range(len(items) - 1, -1, -1):
            item = items[index]
            if isinstance(item, Pause) and item.rule == "tail":
                # the end bell strikes after the last words, maybe in a step's pause before the
                # tail: the tail holds what is left of its ringing, so the file ends when it has
                quiet = 0
                for before in reversed(items[:index]):
                    if isinstance(before, Speech):
                        break
                    quiet += before.ms if isinstance(before, Pause) else 0
                tail = max(
                    BED_TAIL_MS if design.bed else 0,
                    END_BELL_AFTER_MS + bell_ms - quiet if "end" in design.bell else 0,
                )
                items[index] = replace(
                    item,
                    ms=max(item.ms, tail),
                    reason="quiet after the last words: the bed fades out, the bell rings out",
                )
                break
    last_pause = {  # a step's own pause is its last (pauses inside its text come before it)
        item.step: index
        for index, item in enumerate(items)
        if isinstance(item, Pause) and item.step is not None
    }
    for step, index in sorted(last_pause.items()):
        item = items[index]
        if step not in breathing or not isinstance(item, Pause):
            continue
        asked, line = breathing[step]
        pattern = replace(asked.pattern, level_dbfs=design.breathing_level)
        cycles = asked.cycles if asked.cycles is not None else item.ms // pattern.cycle_ms
        if cycles < 1 or cycles * pattern.cycle_ms > item.ms:
            raise ScriptError(
                timeline.script.path,
                line,
                f"step {step}: {max(cycles, 1)} breathing cycle(s) of {pattern.cycle_ms / 1000:g} s"
                f" do not fit its pause of {item.ms / 1000:g} s; give fewer `cycles`, a shorter"
                " breath, or a longer `pause:`",
            )
        runs.append(
            BreathingRun(
                step=step, pattern=pattern, cycles=cycles, item=index, fills=asked.cycles is None
            )
        )
    return Designed(replace(timeline, items=tuple(items)), design, tuple(runs))


def design_session(
    script: Script,
    timeline: Timeline,
    overrides: SoundSettings | None = None,
    inputs: Inputs | None = None,
) -> Designed:
    """The script's sound design (sound.yaml beside it, its `sound:`, the command line) and its
    timeline made room for it. Raises ScriptError for a step whose pause holds no breath."""
    design = design_for(script.path, script.sound, overrides, inputs)
    breathing = {s.number: (s.breathing, s.line) for s in script.steps if s.breathing is not None}
    return arrange(timeline, design, breathing)


def check_design(design: SoundDesign, script_path: Path) -> None:
    """A bed file that is missing or not audio: ScriptError at the line that names it."""
    if design.bed is None or design.bed.path is None:
        return
    try:
        file_bed(design.bed.path, max_seconds=2)
    except SoundError as error:
        line = design.bed.line or None
        raise ScriptError(design.bed.named_in or script_path, line, str(error)) from None


def check_sound(script: Script, timeline: Timeline, inputs: Inputs | None = None) -> Designed:
    """What `rustpunt check` asks of the sound: valid settings, breaths that fit, a bed file that
    is there and is audio. Raises ScriptError naming the file and line."""
    designed = design_session(script, timeline, inputs=inputs)
    check_design(designed.design, script.path)
    return designed


# --------------------------------------------------------------------------- the layer


def _bed(design: SoundDesign) -> Bed | None:
    if design.bed is None:
        return None
    if design.bed.path is not None:
        return file_bed(design.bed.path, level_dbfs=design.bed_level)
    return generated_bed(design.bed.kind, level_dbfs=design.bed_level)  # type: ignore[arg-type]


def layer_for(designed: Designed, mix: Mix) -> SoundLayer | None:
    """The sounds under the speech of `mix` (placed from `designed`), or None when there are none."""
    if not designed.has_layer:
        return None
    design = designed.design
    placements = mix.placements
    speech = [(p.start, p.end) for p in placements if isinstance(p.item, Speech)]
    sounds: list[PlacedSound] = []
    if "start" in design.bell:
        sounds.append(
            PlacedSound(
                ms_to_samples(START_BELL_MS), bell(SINGING_BOWL, level_dbfs=design.bell_level)
            )
        )
    if "end" in design.bell and speech:
        sounds.append(
            PlacedSound(
                speech[-1][1] + ms_to_samples(END_BELL_AFTER_MS),
                bell(SINGING_BOWL, level_dbfs=design.bell_level),
            )
        )
    if design.chime_ms is not None:
        chime = bell(SOFT_CHIME, level_dbfs=design.chime_level)
        quiet, spoken = 0, False
        for placement in placements:
            if isinstance(placement.item, Pause):
                quiet += placement.end - placement.start
                continue
            if spoken and quiet >= ms_to_samples(design.chime_ms):
                sounds.append(PlacedSound(placement.start - ms_to_samples(CHIME_LEAD_MS), chime))
            quiet, spoken = 0, True
    runs = {run.item: run for run in designed.breathing}
    for index, placement in enumerate(placements):
        if index in runs:
            run = runs[index]
            sounds.append(PlacedSound(placement.start, breathing_cues(run.pattern, run.cycles)))
    bed = _bed(design)
    envelope = ducking(speech, mix.total_samples, duck_db=design.duck) if bed is not None else None
    return SoundLayer(bed=bed, envelope=envelope, sounds=tuple(sounds))


@dataclass(frozen=True, eq=False)
class Layered:
    """A mix at its final gain, with the layer under it and the layer's own gain."""

    mix: Mix
    layer: SoundLayer | None = None
    layer_gain: float = 1.0
    measured_lufs: float | None = None
    """The loudness measured before the correction (with a layer), for the log and sidecar."""

    @property
    def gain_db(self) -> float:
        """The layer's gain in dB: what its levels were raised by, with the speech."""
        return round(20 * math.log10(self.layer_gain), 2) if self.layer_gain > 0 else -math.inf


MAX_LAYER_BOOST_DB = 5.0
"""With a layer, speech and layer together are raised at most this much over the speech's own
gain. Quiet sounds that pass the loudness gate make their seconds count: bells and breathing
tones in a 90 s session lowered it by 2 LU, and a bed at -38 dBFS in a session that is 80 % pause
by 7 LU (10 log 0.2). Speech at -19 LUFS already reaches the limiter's ceiling (espeak: +3 dB of
gain gave +1.9 LU, +8 dB only +3.4 LU), so the voice is raised at most 5 dB, a few dB of peak
limiting as broadcast speech has; the default bed (-44 dBFS) and breathing tones (-40) stay under
the gate and cost nothing."""

LEVEL_PASSES = 3
"""Measurements of speech and layer together: the limiter makes the gain not quite linear, so
the correction is measured again at the new gain (two passes settle it within 0.1 LU)."""


def measure(mix: Mix, layer: SoundLayer, layer_gain: float) -> float:
    """Integrated loudness (LUFS) of the session as rendered: speech (limited, at mix.gain) plus
    the layer, read chunk by chunk like the render (no buffer the length of the session)."""
    segments = np.concatenate(
        [
            segment_energies(chunk * np.float32(32768))
            for chunk in _layered(mix, layer, layer_gain, as_float=True)
        ]
        or [np.zeros(0)]
    )
    padded = np.concatenate([np.zeros(3), segments, np.zeros(3)])
    return integrated_loudness([np.convolve(padded, np.full(4, 0.25), mode="valid")])


def level(mix: Mix, layer: SoundLayer | None) -> Layered:
    """One gain for speech and layer: the speech's own gain, corrected so that speech and layer
    together (and after LAME) measure the target; the layer keeps its distance to the speech."""
    compensation = 10 ** (ENCODER_LOSS_DB / 20)
    if layer is None:
        return Layered(replace(mix, gain=mix.gain * compensation))
    aim = TARGET_LUFS + ENCODER_LOSS_DB
    correction_db = ENCODER_LOSS_DB
    first: float | None = None
    predicted = aim
    for _ in range(LEVEL_PASSES):
        gain = 10 ** (correction_db / 20)
        measured = measure(replace(mix, gain=mix.gain * gain), layer, gain)
        if not math.isfinite(measured):
            break
        first = measured - correction_db if first is None else first
        if abs(aim - measured) < 0.05:
            predicted = measured
            break
        raised = min(correction_db + aim - measured, MAX_LAYER_BOOST_DB)
        predicted = measured + raised - correction_db  # as if the gain were linear
        correction_db = raised
    if first is not None and predicted < aim - 0.3:
        log.warning(
            "the sounds under the voice lower the loudness by %.1f LU and the voice can be raised"
            " by %.0f dB at most: the file measures about %.1f LUFS; quieter sounds (bed_level,"
            " breathing_level) keep it at %.0f",
            TARGET_LUFS - first,
            MAX_LAYER_BOOST_DB,
            predicted - ENCODER_LOSS_DB,
            TARGET_LUFS,
        )
    gain = 10 ** (correction_db / 20)
    return Layered(replace(mix, gain=mix.gain * gain), layer, gain, first)


def render_layered(layered: Layered) -> Iterator[np.ndarray]:
    """int16 chunks of the session: the speech as mix.render gives it, the layer added under it."""
    if layered.layer is None:
        return render(layered.mix)
    return _layered(layered.mix, layered.layer, layered.layer_gain, as_float=False)


def _layered(mix: Mix, layer: SoundLayer, gain: float, *, as_float: bool) -> Iterator[np.ndarray]:
    position = 0
    scale = np.float32(1 / 32767)
    for chunk in render(mix):
        total = chunk.astype(np.float32) * scale + layer.chunk(position, chunk.size) * np.float32(
            gain
        )
        position += chunk.size
        yield total if as_float else to_pcm16(total)


def sound_lines(designed: Designed) -> list[str]:
    """What `rustpunt plan` says about the sound, besides the timeline."""
    lines = []
    described = designed.design.describe()
    if described:
        lines.append(f"sound: {described}")
    for run in designed.breathing:
        p = run.pattern
        holds = "".join(f", hold {ms / 1000:g} s" for ms in (p.hold_in_ms, p.hold_out_ms) if ms)
        lines.append(
            f"step {run.step:>2}  breathing tones: {run.cycles} x (in {p.inhale_ms / 1000:g} s,"
            f" out {p.exhale_ms / 1000:g} s{holds})"
        )
    return lines


def sound_document(designed: Designed, inputs: Inputs | None = None) -> dict[str, Any]:
    """The design as plain data, for `rustpunt plan --json` and the sidecar."""
    return {
        **designed.design.fingerprint(inputs),
        "bed": None if designed.design.bed is None else (str(designed.design.bed.path) if designed.design.bed.path else designed.design.bed.kind),
        "breathing": [
            {"step": r.step, "cycles": r.cycles, "in_ms": r.pattern.inhale_ms, "out_ms": r.pattern.exhale_ms,
             "hold_in_ms": r.pattern.hold_in_ms, "hold_out_ms": r.pattern.hold_out_ms}
            for r in designed.breathing
        ],
    }  # fmt: skip


__all__ = [
    "ENCODER_LOSS_DB",
    "BreathingRun",
    "Designed",
    "Layered",
    "arrange",
    "check_sound",
    "design_session",
    "layer_for",
    "level",
    "render_layered",
    "sound_document",
    "sound_lines",
]
