"""Sound design: the keys (script, sound.yaml, command line), the timeline made room for the sounds,
the layer streamed under the speech, and real MP3s measured: bed levels, ducking, fades, bells,
breathing tones, pause lengths, loudness and true peak."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

import audiotools
from conftest import EXAMPLES, run_cli, run_main, write_script
from rustpunt.audio.loudness import block_energies, integrated_loudness
from rustpunt.audio.mix import CHUNK_SAMPLES, TARGET_LUFS, place, render
from rustpunt.audio.pcm import SAMPLE_RATE, ms_to_samples
from rustpunt.audio.sounddesign import (
    CHIME_LEAD_MS,
    ENCODER_LOSS_DB,
    END_BELL_AFTER_MS,
    MAX_LAYER_BOOST_DB,
    START_BELL_MS,
    START_BELL_RING_MS,
    design_session,
    layer_for,
    level,
    measure,
    render_layered,
)
from rustpunt.audio.sounds import SINGING_BOWL, SoundLayer, ring_ms
from rustpunt.build.jobs import find_scripts
from rustpunt.errors import ScriptError
from rustpunt.script.load import load_script
from rustpunt.script.plan import Pause, Speech, plan
from rustpunt.script.soundsettings import BED_LEVEL_DBFS, command_line_settings

HEAD = "title: Rust\n"


# --------------------------------------------------------------------------- the keys


def test_sound_and_breathing_keys_are_read(tmp_path: Path) -> None:
    script = load_script(
        write_script(
            tmp_path,
            "s.yaml",
            HEAD
            + "sound: {bed: rain, bed_level: -40, duck: 12, bell: both, chime: 20}\n"
            + "steps:\n  - text: Adem vijf keer rustig in en uit.\n"
            + "    breathing: {in: 4, out: 6, hold_in: 1}\n",
        )
    )
    assert script.sound is not None
    assert script.sound.bed is not None and script.sound.bed != "none"
    assert script.sound.bed.kind == "rain"  # type: ignore[union-attr]
    assert (script.sound.bed_level, script.sound.duck) == (-40, 12)
    assert script.sound.bell == ("start", "end") and script.sound.chime_ms == 20_000
    breathing = script.steps[0].breathing
    assert breathing is not None
    assert (breathing.pattern.inhale_ms, breathing.pattern.exhale_ms) == (4000, 6000)
    assert breathing.pattern.hold_in_ms == 1000 and breathing.cycles is None


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "sound: {bedd: rain}\nsteps: [a]\n",
            2,
            "unknown key `bedd` in sound; did you mean `bed`?",
        ),
        ("sound:\n  bell: sometimes\nsteps: [a]\n", 3, "`bell` is start, end, both or none"),
        ("sound:\n  bed: pink\n  bed_level: -3\nsteps: [a]\n", 4, "-70 to -6"),
        ("sound:\n  chime: 2\nsteps: [a]\n", 3, "at least 5"),
        ("sound: rain\nsteps: [a]\n", 2, "`sound` must be a mapping"),
        ("steps:\n  - text: a\n    breathing: {in: 4}\n", 4, "needs `out:`"),
        ("steps:\n  - text: a\n    breathing:\n      in: 40\n      out: 6\n", 5, "1 to 20 s"),
    ],
)
def test_bad_sound_keys_name_the_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write_script(tmp_path, "s.yaml", HEAD + text)
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert words in str(caught.value)


def test_sound_yaml_then_the_script_then_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "sound.yaml").write_text("bed: pink\nbell: start\nduck: 6\n", encoding="utf-8")
    path = write_script(tmp_path, "s.yaml", HEAD + "sound: {bell: end}\nsteps: [Sluit je ogen.]\n")
    script = load_script(path)
    design = design_session(script, plan(script)).design
    assert design.bed is not None and design.bed.kind == "pink"  # from the folder
    assert design.bell == ("end",) and design.duck == 6  # the script's bell wins
    assert design.bed_level == BED_LEVEL_DBFS
    overridden = design_session(script, plan(script), command_line_settings(bed="none")).design
    assert overridden.bed is None  # --bed none silences the folder's bed
    assert [p.name for p, _ in find_scripts([tmp_path])] == ["s.yaml"]  # sound.yaml: no script


def test_a_bad_sound_yaml_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "sound.yaml").write_text("bed: pink\nbel: start\n", encoding="utf-8")
    path = write_script(tmp_path, "s.yaml", HEAD + "steps: [Sluit je ogen.]\n")
    result = run_main("check", tmp_path)
    assert result.returncode == 1
    assert f"{tmp_path / 'sound.yaml'}:2: unknown key `bel`" in result.stderr
    assert path.name in result.stderr or "sound.yaml" in result.stderr


@pytest.mark.skipif(not EXAMPLES, reason="no example scripts")
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_without_sound_keys_the_timeline_is_as_before(example: Path) -> None:
    script = load_script(example)
    designed = design_session(script, plan(script))
    assert designed.timeline == plan(script)
    assert not designed.has_layer


def test_room_is_made_for_bells_and_the_bed_and_step_pauses_keep_their_length(
    tmp_path: Path,
) -> None:
    path = write_script(
        tmp_path,
        "s.yaml",
        HEAD + "sound: {bell: both, bed: brown}\nsteps:\n  - text: Sluit je ogen.\n    pause: 7\n",
    )
    script = load_script(path)
    before = plan(script).items
    after = design_session(script, plan(script)).timeline.items
    assert [type(item) for item in before] == [type(item) for item in after]
    pauses = {item.rule: item.ms for item in after if isinstance(item, Pause)}
    # the end bell strikes 1 s after the words and rings out: in the step's 7 s, then the tail
    tail = END_BELL_AFTER_MS + ring_ms(SINGING_BOWL) - 7_000
    assert pauses == {"lead-in": 4_500, "explicit": 7_000, "tail": tail}


def test_breathing_fills_the_pause_with_its_own_cycles(tmp_path: Path) -> None:
    path = write_script(
        tmp_path,
        "s.yaml",
        HEAD + "steps:\n  - text: Adem vijf keer rustig in en uit.\n"
        "    breathing: {in: 3, out: 5}\n  - Laat los.\n",
    )
    script = load_script(path)
    designed = design_session(script, plan(script))
    (run,) = designed.breathing
    pause = designed.timeline.items[run.item]
    assert isinstance(pause, Pause) and pause.step == 1
    assert run.cycles == 5 and run.pattern.cycle_ms == 8_000
    assert 40_000 <= pause.ms < 48_000  # five breaths of 8 s, not five of the default 10 s


def test_breathing_that_does_not_fit_its_pause_names_the_step(tmp_path: Path) -> None:
    path = write_script(
        tmp_path,
        "s.yaml",
        HEAD + "steps:\n  - Sluit je ogen.\n  - text: Adem rustig.\n    pause: 3\n"
        "    breathing: {in: 4, out: 6}\n",
    )
    result = run_main("check", path)
    assert result.returncode == 1
    assert f"{path}:4: step 2: 1 breathing cycle(s) of 10 s do not fit its pause of 3 s" in (
        result.stderr
    )


def test_check_catches_a_missing_or_non_audio_bed_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("dit is geen geluid\n", encoding="utf-8")
    missing = write_script(tmp_path, "a.yaml", HEAD + "sound:\n  bed: zee.ogg\nsteps: [Zit.]\n")
    text = write_script(tmp_path, "b.yaml", HEAD + "sound:\n  bed: notes.txt\nsteps: [Zit.]\n")
    result = run_main("check", tmp_path)
    assert result.returncode == 1
    assert f"{missing}:3: " in result.stderr and "no such audio file" in result.stderr
    assert f"{text}:3: " in result.stderr and "not an audio file" in result.stderr


def test_plan_shows_the_sound_and_the_breathing(tmp_path: Path) -> None:
    path = write_script(
        tmp_path,
        "s.yaml",
        HEAD + "sound: {bed: rain, bell: start}\nsteps:\n  - text: Adem drie keer.\n"
        "    breathing: {in: 4, out: 6}\n",
    )
    result = run_main("plan", path)
    assert result.returncode == 0, result.stderr
    assert (
        "sound: bed rain at -44 dBFS, 10 dB down under speech; bell at the start" in result.stdout
    )
    assert "step  1  breathing tones: 3 x (in 4 s, out 6 s)" in result.stdout
    document = json.loads(run_main("plan", path, "--json").stdout)
    assert document["sound"]["breathing"][0]["cycles"] == 3
    assert document["sound"]["bed"] == "rain"


# --------------------------------------------------------------------------- the layer


def _tone_clip(seconds: float, amplitude: float = 0.3, hz: float = 330.0) -> np.ndarray:
    time = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wobble = 1 + 0.5 * np.sin(2 * np.pi * 3 * time)  # a syllable rhythm, so it is not flat
    return (amplitude * wobble / 1.5 * np.sin(2 * np.pi * hz * time) * 32767).astype("<i2")


def _designed_mix(tmp_path: Path, sound: str) -> tuple:  # type: ignore[type-arg]
    path = write_script(
        tmp_path,
        "s.yaml",
        HEAD + f"sound: {sound}\nintro: Welkom.\nsteps:\n  - text: Adem drie keer.\n"
        "    breathing: {in: 4, out: 6}\n  - text: Zit.\n    pause: 12\noutro: Klaar.\n",
    )
    script = load_script(path)
    designed = design_session(script, plan(script))
    clips = {s.text: _tone_clip(1.5 + 0.1 * i) for i, s in enumerate(designed.timeline.speeches())}
    return designed, place(designed.timeline, clips)


def test_the_layer_is_streamed_in_chunks_and_matches_the_whole(tmp_path: Path) -> None:
    designed, mix = _designed_mix(tmp_path, "{bed: pink, bell: both, chime: 10}")
    layered = level(mix, layer_for(designed, mix))
    assert layered.layer is not None
    chunks = list(render_layered(layered))
    assert max(chunk.size for chunk in chunks) <= CHUNK_SAMPLES
    streamed = np.concatenate(chunks)
    assert streamed.size == mix.total_samples
    speech = np.concatenate(list(render(layered.mix))).astype(np.float64) / 32767
    whole = speech + layered.layer.chunk(0, mix.total_samples) * layered.layer_gain
    expected = np.clip(np.round(whole * 32767), -32768, 32767)
    difference = np.abs(streamed.astype(np.int32) - expected.astype(np.int32))
    assert difference.max() <= 1  # float32 in the stream, float64 here: one step of rounding


def test_bells_chimes_and_breaths_are_placed_where_the_timeline_says(tmp_path: Path) -> None:
    designed, mix = _designed_mix(tmp_path, "{bell: both, chime: 10}")
    layer = layer_for(designed, mix)
    assert layer is not None and layer.bed is None
    starts = sorted(sound.start for sound in layer.sounds)
    speech = [p for p in mix.placements if isinstance(p.item, Speech)]
    breath_pause = mix.placements[designed.breathing[0].item]
    after_long_pause = next(
        p
        for p, before in zip(mix.placements[1:], mix.placements)
        if isinstance(before.item, Pause) and before.item.ms == 12_000
    )
    assert starts == sorted(
        [
            ms_to_samples(START_BELL_MS),
            breath_pause.start,  # the breathing tones start with the step's pause
            breath_pause.end - ms_to_samples(CHIME_LEAD_MS),  # 30 s of breaths: a chime
            after_long_pause.start - ms_to_samples(CHIME_LEAD_MS),
            speech[-1].end + ms_to_samples(END_BELL_AFTER_MS),
        ]
    )


def test_one_gain_brings_speech_and_layer_to_the_target(tmp_path: Path) -> None:
    steps = "".join(f"  - text: Stap {n}.\n    pause: 1.5\n" for n in range(8))
    path = write_script(
        tmp_path, "s.yaml", HEAD + "sound: {bed: pink, bed_level: -26}\nsteps:\n" + steps
    )
    script = load_script(path)  # speech in most of the session: the bed costs 1 to 3 LU
    designed = design_session(script, plan(script))
    mix = place(designed.timeline, {s.text: _tone_clip(1.5) for s in designed.timeline.speeches()})
    layer = layer_for(designed, mix)
    assert layer is not None
    before = measure(mix, layer, 1.0)
    layered = level(mix, layer)
    after = measure(layered.mix, layer, layered.layer_gain)
    assert before < TARGET_LUFS - 0.5  # the bed counted in the loudness...
    assert abs(after - (TARGET_LUFS + ENCODER_LOSS_DB)) < 0.15  # ...and is made up for
    assert math.isclose(layered.mix.gain / mix.gain, layered.layer_gain)  # one gain for both


def test_a_bed_too_loud_to_make_up_for_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    designed, mix = _designed_mix(tmp_path, "{bed: pink, bed_level: -30}")
    layered = level(mix, layer_for(designed, mix))
    assert math.isclose(20 * math.log10(layered.layer_gain), MAX_LAYER_BOOST_DB)
    assert "the file measures about" in caplog.text and "bed_level" in caplog.text


def test_without_a_layer_only_the_encoder_loss_is_added(tmp_path: Path) -> None:
    path = write_script(tmp_path, "s.yaml", HEAD + "intro: Welkom.\nsteps: [Zit., Sta.]\n")
    script = load_script(path)
    designed = design_session(script, plan(script))
    mix = place(designed.timeline, {s.text: _tone_clip(1.5) for s in designed.timeline.speeches()})
    assert layer_for(designed, mix) is None
    layered = level(mix, None)
    assert math.isclose(20 * math.log10(layered.mix.gain / mix.gain), ENCODER_LOSS_DB)
    clips = [np.asarray(c) for c in mix.clips.values()]
    speech = integrated_loudness(block_energies(c) for c in clips)
    assert abs(speech + 20 * math.log10(mix.gain) - TARGET_LUFS) < 0.1
    assert measure(mix, SoundLayer(), 1.0) == pytest.approx(TARGET_LUFS, abs=0.3)


# --------------------------------------------------------------------------- real MP3s


def rms_db(samples: np.ndarray) -> float:
    values = samples.astype(np.float64) / 32768
    power = float(np.mean(values * values)) if values.size else 0.0
    return 10 * math.log10(power) if power > 0 else -math.inf


def window(samples: np.ndarray, start_ms: int, end_ms: int) -> np.ndarray:
    return samples[ms_to_samples(start_ms) : ms_to_samples(end_ms)]


SESSION = """\
title: Rust met geluid
intro: Welkom bij deze oefening. Ga rustig zitten en sluit je ogen.
sound: {SOUND}
steps:
  - text: Sluit je ogen en adem rustig.
    pause: 10
  - text: Adem vijf keer rustig in en uit.
    breathing: {in: 4, out: 6}
  - text: Laat je schouders zakken.
    pause: 3
outro: Open langzaam je ogen.
"""


def build(tmp_path: Path, name: str, sound: str) -> tuple[Path, dict]:  # type: ignore[type-arg]
    script = write_script(tmp_path / "scripts", f"{name}.yaml", SESSION.replace("{SOUND}", sound))
    out = tmp_path / "out"
    result = run_main("build", script, "-o", out, "--voice", "nl-espeak")
    assert result.returncode == 0, result.stderr
    return out / f"{name}.mp3", json.loads((out / f"{name}.json").read_text(encoding="utf-8"))


def speech_pauses(mp3: Path) -> list[int]:
    """Lengths of the quiet stretches between words, seen above 1 kHz (where a brown bed at -44
    dBFS stays under -45 dB and speech has its consonants and formants), by silencedetect."""
    result = audiotools._run(
        "-i", str(mp3), "-af", "highpass=f=1000,highpass=f=1000,silencedetect=noise=-45dB:d=0.9",
        "-f", "null", "-",
    )  # fmt: skip
    text = result.stderr.decode("utf-8", "replace")
    starts = [float(v) for v in audiotools._SILENCE_START.findall(text)]
    ends = [float(v) for v in audiotools._SILENCE_END.findall(text)]
    return [round((end - start) * 1000) for start, end in zip(starts, ends)]


@pytest.mark.slow
def test_a_brown_bed_keeps_every_pause_and_fades_in_and_out(tmp_path: Path) -> None:
    plain, _ = build(tmp_path, "plain", "{}")
    bedded, sidecar = build(tmp_path, "bed", "{bed: brown}")
    # every pause, found the same way in both files, is as long as planned, to 50 ms; with the
    # bed the lead-in (3 s: the bed fades in) and the tail (6 s: it fades out) are longer
    planned = [2_000, *(step["pause"]["ms"] for step in sidecar["steps"])]
    assert planned == [2_000, 10_000, 50_000, 3_000]
    for found, wanted in ((speech_pauses(plain), [*planned, 2_000]),
                          (speech_pauses(bedded), [3_000, *planned, 6_000])):  # fmt: skip
        assert len(found) == len(wanted), (found, wanted)
        assert all(abs(a - b) <= 50 for a, b in zip(found, wanted)), (found, wanted)
    samples = audiotools.decode(bedded)
    total = samples.size * 1000 // SAMPLE_RATE
    assert abs(total - sidecar["duration_ms"]) <= 5
    full = rms_db(window(samples, 2_600, 2_950))  # faded in: the first word comes at 3 s
    assert rms_db(window(samples, 0, 300)) < full - 15
    assert rms_db(window(samples, total - 300, total)) < full - 15  # faded out, not cut
    assert np.abs(samples[-ms_to_samples(20) :]).max() < 40  # the very end is silence
    # the bed fades out over the last 5 s (raised cosine: 6 dB down half way, 2.5 s before the
    # end; a 6 s fade would be 4 dB down there, 3.5 dB at 3 s, 1.2 dB at 5 s)
    step = sidecar["steps"][0]  # 10 s of quiet: the bed at full level
    full = rms_db(window(samples, step["pause"]["start_ms"] + 1500, step["end_ms"] - 1500))
    fading = [rms_db(window(samples, total - ms - 250, total - ms + 250)) for ms in (4_500, 2_500)]
    assert full - 6 - 1.5 <= fading[1] <= full - 6 + 1.5, (full, fading)
    assert fading[0] - fading[1] >= 3, (full, fading)
    lufs, peak = audiotools.loudness(bedded)
    assert abs(lufs - TARGET_LUFS) <= 0.3 and peak <= -1.0, (lufs, peak)
    lufs, peak = audiotools.loudness(plain)
    assert abs(lufs - TARGET_LUFS) <= 0.3 and peak <= -1.0, (lufs, peak)  # LAME's loss made up


@pytest.mark.slow
def test_a_pink_bed_sits_at_its_level_in_pauses_and_ducks_under_speech(tmp_path: Path) -> None:
    mp3, sidecar = build(tmp_path, "pink", "{bed: pink, bed_level: -44, duck: 10}")
    samples = audiotools.decode(mp3)
    gain_db = sidecar["sound"]["layer_gain_db"]
    step = sidecar["steps"][0]  # a 10 s pause with nothing else in it
    pause = rms_db(window(samples, step["pause"]["start_ms"] + 1500, step["end_ms"] - 1500))
    assert abs(pause - (-44 + gain_db)) <= 1.0, (pause, gain_db)
    intro = sidecar["intro"]  # two sentences: the gap between them shows the bed under speech
    spoken = window(samples, intro["start_ms"], intro["end_ms"])
    frames = spoken[: spoken.size // 882 * 882].reshape(-1, 882)  # 20 ms
    levels = sorted(rms_db(frame) for frame in frames)
    under_speech = float(np.median(levels[:5]))  # the quietest moments: bed alone, ducked
    speech = rms_db(spoken)
    assert under_speech <= pause - 7, (under_speech, pause)  # ducked by about 10 dB
    assert under_speech >= pause - 14  # but there: no digital silence under the voice
    assert speech - under_speech >= 15 + 10, (speech, under_speech)
    assert speech - pause >= 15
    lufs, peak = audiotools.loudness(mp3)
    assert abs(lufs - TARGET_LUFS) <= 0.3 and peak <= -1.0, (lufs, peak)


def zero_crossing_hz(samples: np.ndarray) -> float:
    signs = np.signbit(samples.astype(np.int32))
    return float(np.count_nonzero(signs[1:] != signs[:-1])) * SAMPLE_RATE / (2 * samples.size)


@pytest.mark.slow
def test_bells_chime_and_breathing_tones_sound_at_their_times(tmp_path: Path) -> None:
    mp3, sidecar = build(tmp_path, "bells", "{bell: both, chime: 8}")
    samples = audiotools.decode(mp3)
    loud = np.abs(samples.astype(np.int32)) > 32768 * 10 ** (-50 / 20)

    def onset_after(ms: int) -> int:
        return (ms_to_samples(ms) + int(np.argmax(loud[ms_to_samples(ms) :]))) * 1000 // SAMPLE_RATE

    assert abs(onset_after(0) - START_BELL_MS) <= 20  # the bowl, half a second in
    # ...and rings 4 s before the first word (which starts on the next frame edge: <= 26 ms more)
    assert 0 <= sidecar["intro"]["start_ms"] - onset_after(0) - START_BELL_RING_MS <= 26 + 20
    outro_end = sidecar["outro"]["end_ms"]
    assert abs(onset_after(outro_end + 100) - (outro_end + END_BELL_AFTER_MS)) <= 20
    first = sidecar["steps"][0]  # 10 s of quiet, then a chime 2 s before the next words
    assert abs(onset_after(first["speech_end_ms"] + 300) - (first["end_ms"] - CHIME_LEAD_MS)) <= 20
    breath = sidecar["steps"][1]["pause"]
    assert breath["ms"] == 50_000
    start = breath["start_ms"]
    for cycle in range(5):
        begin = start + cycle * 10_000
        inhale = window(samples, begin + 1_500, begin + 2_500)
        exhale = window(samples, begin + 6_500, begin + 7_500)
        edge = window(samples, begin + 3_960, begin + 4_040)  # in gives way to out: no tone
        assert rms_db(inhale) > rms_db(edge) + 15 and rms_db(exhale) > rms_db(edge) + 15
        assert -50 < rms_db(inhale) < -38  # quiet, under everything (-40 dBFS peak)
        rising = [
            zero_crossing_hz(window(samples, begin + a, begin + a + 500)) for a in (800, 2700)
        ]
        falling = [
            zero_crossing_hz(window(samples, begin + a, begin + a + 500)) for a in (4800, 7000)
        ]
        assert rising[0] < rising[1] - 20 and falling[0] > falling[1] + 20, (rising, falling)
    lufs, peak = audiotools.loudness(mp3)
    assert abs(lufs - TARGET_LUFS) <= 0.3 and peak <= -1.0, (lufs, peak)
    titles = [title for _, _, title in audiotools.chapters(mp3)]
    assert titles == ["Intro", *[s["text"] for s in sidecar["steps"]], "Outro"]
    starts = [start for start, _, _ in audiotools.chapters(mp3)]
    assert starts[0] == 0 and starts[1:] == [s["start_ms"] for s in sidecar["steps"]] + [
        sidecar["outro"]["start_ms"]
    ]


def test_a_bed_file_from_the_command_line_that_is_not_audio_fails_before_speaking(
    tmp_path: Path,
) -> None:
    (tmp_path / "notes.txt").write_text("geen geluid\n", encoding="utf-8")
    script = write_script(tmp_path / "scripts", "s.yaml", HEAD + "steps: [Zit.]\n")
    result = run_main(
        "build", script, "-o", tmp_path / "out", "--voice", "nl-espeak", "--bed",
        tmp_path / "notes.txt", "--json",
    )  # fmt: skip
    assert result.returncode == 1
    (entry,) = json.loads(result.stdout)["scripts"]
    assert "not an audio file" in entry["error"] and entry["synthesized"] == 0
    assert not (tmp_path / "out" / "s.mp3").exists()


def windows_dbfs(samples: np.ndarray, ms: int = 10) -> np.ndarray:
    """RMS level (dBFS) of each whole `ms` window of int16 samples."""
    size = ms_to_samples(ms)
    frames = samples[: samples.size // size * size].astype(np.float64).reshape(-1, size) / 32768
    power = np.mean(frames * frames, axis=1)
    return 10 * np.log10(np.maximum(power, 1e-20))


@pytest.mark.slow
def test_the_end_bell_rings_out_naturally_and_the_session_ends_when_it_has(
    tmp_path: Path,
) -> None:
    """No bed: after the end bowl comes digital silence, where a cut is heard. Measured on the
    decoded MP3 from the bowl's strike to the end of the file, in 10 ms windows."""
    script = write_script(
        tmp_path / "scripts", "bowl.yaml", HEAD + "sound: {bell: end}\nsteps: [Sluit je ogen.]\n"
    )
    out = tmp_path / "out"
    result = run_main("build", script, "-o", out, "--voice", "nl-espeak")
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((out / "bowl.json").read_text(encoding="utf-8"))
    samples = audiotools.decode(out / "bowl.mp3")
    strike = ms_to_samples(sidecar["steps"][-1]["speech_end_ms"] + END_BELL_AFTER_MS)
    levels = windows_dbfs(samples[strike:])
    assert levels[:10].max() > -30  # the bowl is there
    drops = levels[:-1] - levels[1:]
    audible = levels[:-1] > -65
    assert drops[audible].max() <= 6, (drops[audible].max(), np.argmax(drops * audible) * 10)
    below_60 = (levels.size - int(np.flatnonzero(levels > -60)[-1])) * 10
    below_65 = (levels.size - int(np.flatnonzero(levels > -65)[-1])) * 10
    assert below_60 >= 1_000  # it rings out to below -60 dBFS before the file ends...
    assert below_65 <= 4_000, below_65  # ...and the file ends soon after: no quiet left over


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.slow
def test_a_bed_that_is_a_fifo_or_a_device_is_refused_not_read(tmp_path: Path) -> None:
    """open() of a FIFO waits for a writer and /dev/zero never ends: both hung the build."""
    os.mkfifo(tmp_path / "fifo.wav")
    script = tmp_path / "s.yaml"
    script.write_text("title: t\nsound:\n  bed: fifo.wav\nsteps: [Adem uit.]\n", encoding="utf-8")
    for command in (["check", script], ["build", script, "--voice", "nl-espeak", "-o", tmp_path]):
        result = run_cli(*command, timeout=60)
        assert result.returncode == 1
        assert "s.yaml:3: " in result.stderr, result.stderr
        assert "fifo.wav: not a regular file" in result.stderr, result.stderr
    plain = tmp_path / "t.yaml"
    plain.write_text("title: t\nsteps: [Adem uit.]\n", encoding="utf-8")
    result = run_cli("build", plain, "--bed", "/dev/zero", "-o", tmp_path / "out", timeout=60)
    assert result.returncode == 1 and "/dev/zero: not a regular file" in result.stderr
