"""Samples, loudness and rendering: measured against ffmpeg and against what the plan asked."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rustpunt.audio.loudness import block_energies, integrated_loudness, limit
from rustpunt.audio.mix import (
    GAIN_STEP_DB,
    SPEECH_GRID,
    TARGET_LUFS,
    TRUE_PEAK_DBTP,
    on_grid,
    place,
    render,
    speech_gain,
)
from rustpunt.audio.pcm import (
    SAMPLE_RATE,
    ffmpeg_exe,
    ms_to_samples,
    prepare_clip,
    to_session_pcm,
    upsample,
)
from rustpunt.mp3.frames import SAMPLES_PER_FRAME
from rustpunt.script.load import Script, Step
from rustpunt.script.plan import Pause, Speech, Timeline
from rustpunt.voice.engines import create_engine
from rustpunt.voice.engines.base import EngineAudio


def sine(
    freq: float, rate: int, seconds: float, amplitude: float = 0.5, phase: float = 0.0
) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return np.round(np.sin(2 * np.pi * freq * t + phase) * amplitude * 32767).astype("<i2")


def ffmpeg_loudness(samples: np.ndarray) -> tuple[float, float]:
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostats", "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1",
         "-i", "pipe:0", "-af", "ebur128=peak=true", "-f", "null", "-"],
        input=samples.tobytes(), capture_output=True, check=True,
    )  # fmt: skip
    summary = result.stderr.decode().rsplit("Summary:", 1)[1]
    integrated = float(summary.split("I:", 1)[1].split("LUFS", 1)[0])
    peak = float(summary.split("Peak:", 1)[1].split("dBFS", 1)[0])
    return integrated, peak


@pytest.mark.parametrize("freq", [100, 1000, 5000, 9000])
def test_upsampling_by_two_is_accurate_and_keeps_time(freq: int) -> None:
    source = sine(freq, 22_050, 1.0)
    result = upsample(source, 2)
    assert result.size == 2 * source.size
    expected = sine(freq, 44_100, 1.0)
    middle = slice(500, -500)  # the edges see the silence beyond the clip
    error = result[middle].astype(float) - expected[middle]
    assert (
        20
        * math.log10(
            np.sqrt((error**2).mean()) / np.sqrt((expected[middle].astype(float) ** 2).mean())
        )
        < -60
    )


def test_upsampled_speech_matches_ffmpegs_own_resampler_within_16_bit_rounding() -> None:
    """Real espeak speech at 22,050 Hz against ffmpeg's swresample (its own sinc filter, not soxr).

    Below 9 kHz both filters are flat: the only difference left must be our rounding to 16 bits,
    whose white noise is sqrt(1/12 * 9/22.05) = 0.18 LSB RMS in that band (measured: 0.15; soxr's
    float output alone differs from ffmpeg's by 0.01). The bound is 0.25 LSB. Above, the two
    transition bands differ by design (soxr HQ rolls off from about 10 kHz, swr at 0.97 of Nyquist)
    and espeak puts about -43 dB of its energy there: the whole band is held to -40 dB (measured:
    -51 dB).
    """
    audio = create_engine("espeak", {"voice": "nl"}).synthesize(
        "Adem rustig in door je neus, en voel je buik. Houd dit vijf seconden vast."
    )
    assert audio.codec == "s16le" and audio.sample_rate == 22_050
    source = np.frombuffer(audio.data, dtype="<i2")
    ours = upsample(source, 2).astype(float)
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "s16le", "-ar", "22050",
         "-ac", "1", "-i", "pipe:0", "-af", "aresample=44100:resampler=swr",
         "-f", "f32le", "-ar", "44100", "pipe:1"],
        input=source.tobytes(), capture_output=True, check=True,
    )  # fmt: skip
    theirs = np.frombuffer(result.stdout, dtype="<f4") * 32768
    assert theirs.size == ours.size == 2 * source.size
    error = ours - theirs
    below_9_khz = np.fft.rfftfreq(error.size, 1 / SAMPLE_RATE) < 9_000
    in_band = np.fft.irfft(np.fft.rfft(error) * below_9_khz, error.size)
    assert np.sqrt((in_band**2).mean()) < 0.25
    assert 20 * math.log10(np.sqrt((error**2).mean()) / np.sqrt((ours**2).mean())) < -40


def test_a_clip_from_espeak_is_resampled_without_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_ffmpeg() -> str:
        raise AssertionError("ffmpeg started for a clip that numpy can resample")

    monkeypatch.setattr("rustpunt.audio.pcm.ffmpeg_exe", no_ffmpeg)
    audio = create_engine("espeak", {"voice": "nl"}).synthesize("Adem rustig in.")
    clip = prepare_clip(audio)
    assert abs(clip.size / SAMPLE_RATE - (len(audio.data) / 2) / audio.sample_rate) < 0.5


@pytest.mark.parametrize("scale", [0.05, 0.3, 1.0])
def test_loudness_agrees_with_ffmpeg_ebur128_on_speech(scale: float) -> None:
    engine = create_engine("espeak", {"voice": "nl", "rate": 140})
    texts = [
        "Adem rustig in door je neus, en voel je buik.",
        "Houd dit vijf seconden vast.",
        "Laat los.",
    ]
    clips = [np.round(prepare_clip(engine.synthesize(t)) * scale).astype("<i2") for t in texts]
    silence = np.zeros(SAMPLE_RATE, dtype="<i2")
    session = np.concatenate([part for clip in clips for part in (silence, clip)] + [silence])
    expected_lufs, _ = ffmpeg_loudness(session)
    assert integrated_loudness(block_energies(c) for c in clips) == pytest.approx(
        expected_lufs, abs=0.3
    )


def test_loudness_of_a_full_scale_sine_is_minus_three() -> None:
    # BS.1770's reference: a full-scale 997 Hz sine reads -3.01 LUFS (30 s: the edges hardly count)
    assert integrated_loudness(
        [block_energies(sine(997, SAMPLE_RATE, 30.0, amplitude=1.0))]
    ) == pytest.approx(-3.01, abs=0.1)
    assert integrated_loudness([block_energies(np.zeros(SAMPLE_RATE, "<i2"))]) == -math.inf


def timeline_of(items: list) -> Timeline:
    script = Script(path=Path("x.yaml"), title="x", steps=(Step(1, "a", None, 1),))
    return Timeline(script, tuple(items))


@pytest.mark.parametrize("chunk", [1, 7, 1000, SAMPLE_RATE * 5, 10**7])
def test_render_places_every_sample_whatever_the_chunk_size(chunk: int) -> None:
    clips = {"een": sine(440, SAMPLE_RATE, 0.3), "twee": sine(660, SAMPLE_RATE, 0.2)}
    items = [Pause(333, "lead-in", ""), Speech("een", "step", 1), Pause(1001, "explicit", "", 1),
             Speech("twee", "step", 2), Pause(0, "explicit", "", 2), Speech("een", "step", 3)]  # fmt: skip
    mix = place(timeline_of(items), clips, normalize=False)
    first_gap = on_grid(ms_to_samples(333))  # the pause before speech ends on the speech grid
    second_gap = on_grid(first_gap + clips["een"].size + ms_to_samples(1001)) - (
        first_gap + clips["een"].size
    )
    expected = np.concatenate([
        np.zeros(first_gap, "<i2"), clips["een"], np.zeros(second_gap, "<i2"),
        clips["twee"], clips["een"],
    ])  # fmt: skip
    rendered = np.concatenate(list(render(mix, chunk_samples=chunk)))
    assert mix.total_samples == expected.size
    np.testing.assert_array_equal(rendered, expected)


def test_speech_starts_on_an_mp3_frame_and_no_pause_is_shorter_than_asked() -> None:
    """The pause before speech ends on the next frame edge: at most 1151 samples (26 ms) more
    than asked, each pause on its own, so the error never adds up over a session."""
    clips = {f"zin {n}": sine(300 + n, SAMPLE_RATE, 0.1 + 0.0137 * n) for n in range(40)}
    asked = [137 * n + 1 for n in range(40)]
    items = []
    for n, ms in enumerate(asked):
        items += [Pause(ms, "explicit", ""), Speech(f"zin {n}", "step", n + 1)]
    items.append(Pause(777, "outro", ""))
    mix = place(timeline_of(items), clips, normalize=False)
    speeches = [p for p in mix.placements if isinstance(p.item, Speech)]
    pauses = [p for p in mix.placements if isinstance(p.item, Pause)]
    assert all(p.start % SPEECH_GRID == 0 for p in speeches)
    for placement, ms in zip(pauses, asked):
        extra = placement.end - placement.start - ms_to_samples(ms)
        assert 0 <= extra < SPEECH_GRID, (ms, extra)
    assert pauses[-1].end - pauses[-1].start == ms_to_samples(777)  # no speech after it: as asked
    assert on_grid(0) == 0 and on_grid(1) == SPEECH_GRID and on_grid(SPEECH_GRID) == SPEECH_GRID


def test_the_speech_grid_is_one_mp3_frame() -> None:
    """The mix keeps its own copy of the frame size (it may not import the mp3 layer); the spliced
    writer reuses a clip's encoded speech only when the clip starts on a frame edge."""
    assert SPEECH_GRID == SAMPLES_PER_FRAME


def test_the_session_gain_moves_in_steps_so_a_small_edit_keeps_it() -> None:
    """An edited sentence changes the measured loudness a little; the gain, a multiple of
    GAIN_STEP_DB, then stays as it was, and so does every other clip's encoded speech."""
    clips = {f"zin {n}": sine(200 + 10 * n, SAMPLE_RATE, 2.0, amplitude=0.1) for n in range(30)}
    gain = speech_gain(clips)
    gain_db = 20 * math.log10(gain)
    assert gain_db / GAIN_STEP_DB == pytest.approx(round(gain_db / GAIN_STEP_DB), abs=1e-9)
    lufs = integrated_loudness(block_energies(clip) for clip in clips.values())
    assert abs(lufs + gain_db - TARGET_LUFS) <= GAIN_STEP_DB / 2 + 1e-9
    edited = dict(clips, **{"zin 3": sine(230, SAMPLE_RATE, 2.0, amplitude=0.102)})
    assert speech_gain(edited) == gain


def test_the_limiter_holds_peaks_and_leaves_the_rest() -> None:
    wave = sine(200, SAMPLE_RATE, 1.0, amplitude=0.2)
    burst = slice(20_000, 20_441)  # 10 ms three times louder: a plosive
    wave[burst] *= 3
    shaped = limit(wave, 2.0, 0.5)
    assert np.abs(shaped).max() <= 0.5 * 32768 + 1
    far = np.r_[0:19_000, 21_500:SAMPLE_RATE]  # away from the burst the gain is simply applied
    np.testing.assert_allclose(shaped[far], np.round(wave[far] * 2.0), atol=1)
    loud = np.flatnonzero(np.abs(wave) > 2000)
    gain = shaped[loud] / (wave[loud] * 2.0)
    assert gain.min() < 0.5  # it did act
    per_sample = np.abs(np.diff(gain)) / np.diff(loud)
    assert per_sample.max() < 0.01  # and the gain glides over milliseconds: no click
    quiet = sine(200, SAMPLE_RATE, 0.5, amplitude=0.1)
    np.testing.assert_array_equal(limit(quiet, 1.0, 0.5), quiet)


def test_the_session_reaches_the_target_loudness_under_the_peak_ceiling() -> None:
    engine = create_engine("espeak", {"voice": "nl"})
    clips = {
        t: prepare_clip(engine.synthesize(t))
        for t in ("Adem in door je neus.", "En adem langzaam uit.")
    }
    quiet = {t: np.round(c * 0.1).astype("<i2") for t, c in clips.items()}
    items = [Pause(1000, "lead-in", "")]
    for number, text in enumerate(quiet, 1):
        items += [Speech(text, "step", number), Pause(1000, "explicit", "", number)]
    mix = place(timeline_of(items), quiet)
    rendered = np.concatenate(list(render(mix)))
    lufs, peak = ffmpeg_loudness(rendered)
    assert peak <= TRUE_PEAK_DBTP + 0.2
    assert lufs == pytest.approx(TARGET_LUFS, abs=0.3)


@pytest.mark.parametrize("tempo", [0.8, 0.88, 1.25])
def test_tempo_changes_the_pace_and_keeps_the_pitch(tempo: float) -> None:
    """A voice profile's tempo goes through ffmpeg's atempo: longer or shorter, same pitch."""
    tone = sine(440, 22_050, 2.0)
    result = to_session_pcm(EngineAudio(tone.tobytes(), "s16le", 22_050), tempo)
    assert result.size / SAMPLE_RATE == pytest.approx(2.0 / tempo, rel=0.02)
    spectrum = np.abs(np.fft.rfft(result.astype(float)))
    peak_hz = np.fft.rfftfreq(result.size, 1 / SAMPLE_RATE)[spectrum.argmax()]
    assert peak_hz == pytest.approx(440, abs=3)
