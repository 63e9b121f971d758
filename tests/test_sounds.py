"""Sound design, measured: spectral slopes, loop seams, ducking depth, bell partials, breath tones."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import audiotools
from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe
from rustpunt.audio.sounds import (
    BED_KINDS,
    RING_OUT_DBFS,
    SINGING_BOWL,
    SOFT_CHIME,
    Bed,
    Breathing,
    PlacedSound,
    SoundError,
    SoundLayer,
    bed_chunk,
    bell,
    breath_onsets,
    breathing_cues,
    crossfade_loop,
    dbfs_rms,
    ducking,
    file_bed,
    generated_bed,
    overlay,
    ring_ms,
    to_pcm16,
)
from rustpunt.memo import MEMOS
from rustpunt.mp3.export import write_mp3
from rustpunt.mp3.id3 import Metadata

# --------------------------------------------------------------------------- measuring tools


def octave_slope(samples: np.ndarray) -> float:
    """dB per octave of the power spectral density, fitted over the octaves 63 Hz to 8 kHz.

    The PSD is averaged over 1-second Hann-windowed segments (Welch), then averaged within each
    octave band; a straight line through (octave number, dB) gives the slope.
    """
    size = SAMPLE_RATE
    window = np.hanning(size)
    segments = [samples[i : i + size] for i in range(0, samples.size - size + 1, size // 2)]
    power = np.mean([np.abs(np.fft.rfft(s * window)) ** 2 for s in segments], axis=0)
    freqs = np.fft.rfftfreq(size, 1 / SAMPLE_RATE)
    centres = 62.5 * 2.0 ** np.arange(8)  # 62.5 Hz ... 8 kHz
    levels = []
    for centre in centres:
        band = (freqs >= centre / np.sqrt(2)) & (freqs < centre * np.sqrt(2))
        levels.append(10 * np.log10(np.mean(power[band])))
    slope, _ = np.polyfit(np.log2(centres), levels, 1)
    return float(slope)


def seam_ratio(loop: np.ndarray, seam: int) -> float:
    """The step across `seam` (x[seam] - x[seam - 1]) over the 99.9th percentile of all steps.

    A seamless join is just another sample step (ratio well under 1); a cut lands far above.
    """
    steps = np.abs(np.diff(loop.astype(np.float64)))
    return float(abs(float(loop[seam]) - float(loop[seam - 1])) / np.percentile(steps, 99.9))


def tiled(loop: np.ndarray) -> np.ndarray:
    return np.concatenate([loop, loop])


def analytic(signal: np.ndarray) -> np.ndarray:
    """The analytic signal (Hilbert transform by FFT): its angle is the instantaneous phase."""
    spectrum = np.fft.fft(signal)
    weights = np.zeros(signal.size)
    weights[0] = 1
    weights[1 : (signal.size + 1) // 2] = 2
    if signal.size % 2 == 0:
        weights[signal.size // 2] = 1
    return np.fft.ifft(spectrum * weights)


def band(signal: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """An ideal band-pass in the FFT (fine for measuring long, steady tones)."""
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(signal.size, 1 / SAMPLE_RATE)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
    return np.fft.irfft(spectrum, signal.size)


def peak_frequencies(signal: np.ndarray, count: int) -> list[float]:
    """The `count` strongest spectral peaks (local maxima), lowest frequency first."""
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size), 8 * signal.size))
    freqs = np.fft.rfftfreq(8 * signal.size, 1 / SAMPLE_RATE)
    local = np.flatnonzero((spectrum[1:-1] > spectrum[:-2]) & (spectrum[1:-1] >= spectrum[2:])) + 1
    strongest = local[np.argsort(spectrum[local])[::-1][:count]]
    return sorted(float(freqs[i]) for i in strongest)


def ffmpeg_make(destination: Path, source: str, seconds: float) -> Path:
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi",
         "-i", source, "-t", str(seconds), "-y", str(destination)],
        check=True, capture_output=True,
    )  # fmt: skip
    return destination


# --------------------------------------------------------------------------- beds


@pytest.mark.parametrize(("kind", "expected"), [("pink", -3.0), ("brown", -6.0)])
def test_noise_bed_falls_by_the_right_dB_per_octave(kind: str, expected: float) -> None:
    loop = generated_bed(kind, loop_seconds=20).loop  # type: ignore[arg-type]
    assert octave_slope(loop) == pytest.approx(expected, abs=0.4)


def test_the_slope_measurement_tells_white_from_pink() -> None:
    white = np.random.default_rng(1).standard_normal(SAMPLE_RATE * 20)
    assert octave_slope(white) == pytest.approx(0.0, abs=0.4)


@pytest.mark.parametrize("kind", BED_KINDS)
def test_generated_bed_has_its_level_and_loops_without_a_seam(kind: str) -> None:
    bed = generated_bed(kind, level_dbfs=-30.0, loop_seconds=10)  # type: ignore[arg-type]
    assert bed.loop.dtype == np.float32
    assert bed.loop.size == 10 * SAMPLE_RATE
    assert dbfs_rms(bed.loop) == pytest.approx(-30.0, abs=0.01)
    assert np.max(np.abs(bed.loop)) < 1.0
    assert seam_ratio(tiled(bed.loop), bed.loop.size) < 0.8


def test_the_seam_measurement_finds_a_cut() -> None:
    """Two unrelated brown-noise loops joined end to start: the step at the join stands out."""
    first = generated_bed("brown", seed=1, loop_seconds=5).loop
    second = generated_bed("brown", seed=2, loop_seconds=5).loop
    joined = np.concatenate([first[: first.size // 2], second[second.size // 3 :]])
    assert seam_ratio(joined, first.size // 2) > 3


def test_generated_bed_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    with MEMOS.off():  # synthesised afresh each time, not from the memo
        same = generated_bed("rain", seed=7, loop_seconds=3).loop
        again = generated_bed("rain", seed=7, loop_seconds=3).loop
        other = generated_bed("rain", seed=8, loop_seconds=3).loop
    assert np.array_equal(same, again)
    assert not np.allclose(same, other)
    assert generated_bed("rain", seed=7, loop_seconds=3) is generated_bed(
        "rain", seed=7, loop_seconds=3
    )
    with pytest.raises(ValueError, match="read-only"):
        generated_bed("rain", seed=7, loop_seconds=3).loop[0] = 1.0


def test_rain_is_a_soft_hiss_with_drops() -> None:
    """Rain: little below 200 Hz, most energy between 500 Hz and 8 kHz, and peaky drops."""
    loop = generated_bed("rain", loop_seconds=10).loop.astype(np.float64)
    power = np.abs(np.fft.rfft(loop)) ** 2
    freqs = np.fft.rfftfreq(loop.size, 1 / SAMPLE_RATE)
    assert power[freqs < 200].sum() / power.sum() < 0.02
    assert power[(freqs > 500) & (freqs < 8000)].sum() / power.sum() > 0.7
    crest_db = 20 * np.log10(np.max(np.abs(loop)) / np.sqrt(np.mean(loop**2)))
    assert crest_db > 14  # Gaussian noise of this length peaks about 14 dB over its RMS


def test_bed_chunks_read_the_loop_over_and_over() -> None:
    bed = Bed(np.arange(10, dtype=np.float32), "ramp")
    assert bed.chunk(7, 6).tolist() == [7, 8, 9, 0, 1, 2]
    assert bed.chunk(23, 25).tolist() == [3, 4, 5, 6, 7, 8, 9, *range(10), *range(8)]
    long = generated_bed("pink", loop_seconds=2)
    pieces = [long.chunk(start, 30_000) for start in range(0, 300_000, 30_000)]
    assert np.array_equal(np.concatenate(pieces), long.chunk(0, 300_000))


def test_unknown_bed_kind_is_an_error() -> None:
    with pytest.raises(SoundError, match="unknown bed 'ocean'; choose one of pink, brown, rain"):
        generated_bed("ocean")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- beds from files


def test_a_bed_file_that_is_not_audio_is_an_error_naming_it(tmp_path: Path) -> None:
    fake = tmp_path / "regen.mp3"
    fake.write_text("dit is geen geluid\n", encoding="utf-8")
    with pytest.raises(SoundError, match=r"regen\.mp3: not an audio file ffmpeg can read"):
        file_bed(fake)


def test_a_missing_bed_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SoundError, match=r"weg\.wav: no such audio file"):
        file_bed(tmp_path / "weg.wav")


def test_an_image_or_a_too_short_file_is_an_error_naming_it(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "plaatje.png")
    with pytest.raises(SoundError, match=r"plaatje\.png: not an audio file ffmpeg can read"):
        file_bed(tmp_path / "plaatje.png")
    short = ffmpeg_make(tmp_path / "kort.wav", "sine=frequency=300:sample_rate=44100", 0.3)
    with pytest.raises(SoundError, match=r"kort\.wav: 0\.30 s is too short to loop as a bed"):
        file_bed(short)


def test_a_sine_file_loops_seamlessly_where_a_plain_repeat_clicks(tmp_path: Path) -> None:
    """A 3 s, 441.3 Hz sine does not end where it starts: repeated as is, it steps at the join."""
    path = ffmpeg_make(tmp_path / "toon.wav", "sine=frequency=441.3:sample_rate=44100", 3)
    bed = file_bed(path, level_dbfs=-20.0, crossfade_ms=500)
    assert bed.loop.size == 3 * SAMPLE_RATE - SAMPLE_RATE // 2
    assert dbfs_rms(bed.loop) == pytest.approx(-20.0, abs=0.05)
    assert seam_ratio(tiled(bed.loop), bed.loop.size) < 1.0
    plain = to_pcm16(np.sin(2 * np.pi * 441.3 * np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE))
    assert seam_ratio(tiled(plain), plain.size) > 3


def test_a_noise_file_loops_seamlessly_at_its_level(tmp_path: Path) -> None:
    path = ffmpeg_make(tmp_path / "ruis.flac", "anoisesrc=color=brown:seed=3:sample_rate=44100", 4)
    bed = file_bed(path, level_dbfs=-35.0)
    assert bed.loop.size == 4 * SAMPLE_RATE - SAMPLE_RATE  # 1 s: a quarter of a short file
    assert dbfs_rms(bed.loop) == pytest.approx(-35.0, abs=0.05)
    assert seam_ratio(tiled(bed.loop), bed.loop.size) < 0.8
    # the level holds through the crossfade (equal power): 250 ms windows within 3 dB
    windows = bed.loop[: bed.loop.size // 11025 * 11025].reshape(-1, 11025)
    levels = [dbfs_rms(window) for window in windows]
    assert max(levels) - min(levels) < 6


def test_crossfade_loop_starts_where_the_tail_goes_on() -> None:
    ramp = np.arange(100, dtype=np.float32)
    looped = crossfade_loop(ramp, 20)
    assert looped.size == 80
    assert looped[0] == pytest.approx(80, abs=0.1)  # the sample after looped[-1] == 79
    assert looped[20] == 20  # after the crossfade: the head as it was
    assert looped[-1] == 79
    angle = 19.5 / 20 * np.pi / 2  # equal power: sin and cos weights, squares summing to 1
    assert looped[19] == pytest.approx(19 * np.sin(angle) + 99 * np.cos(angle), rel=1e-5)


# --------------------------------------------------------------------------- ducking


def db(gain: np.ndarray) -> np.ndarray:
    return 20 * np.log10(np.maximum(gain, 1e-12))


S = SAMPLE_RATE


def test_ducking_lowers_the_bed_under_speech_by_its_depth_and_comes_back() -> None:
    envelope = ducking([(10 * S, 14 * S), (30 * S, 33 * S)], 60 * S, duck_db=12.0)
    gain = db(envelope.gain(0, 60 * S))
    assert gain[10 * S : 14 * S].max() == pytest.approx(-12.0, abs=1e-3)  # all of the speech
    assert gain[30 * S : 33 * S].max() == pytest.approx(-12.0, abs=1e-3)
    assert gain[5 * S : 9 * S].min() == pytest.approx(0.0, abs=1e-3)  # the pause level
    assert gain[15 * S : 29 * S].min() == pytest.approx(0.0, abs=1e-3)
    # the ramps: down over the 300 ms before speech, up over the 800 ms after it
    attack, release = int(0.3 * S), int(0.8 * S)
    assert gain[10 * S - attack - 1] == pytest.approx(0.0, abs=1e-6)
    assert gain[10 * S - attack // 2] == pytest.approx(-6.0, abs=0.01)
    assert gain[14 * S + release // 2] == pytest.approx(-6.0, abs=0.01)
    assert gain[14 * S + release + 1] == pytest.approx(0.0, abs=1e-6)
    # smooth: no step anywhere between the fades bigger than a raised cosine's steepest slope
    steepest = 12.0 * np.pi / 2 / attack
    assert np.max(np.abs(np.diff(gain[4 * S : 50 * S]))) <= steepest * 1.01


def test_ducking_fades_in_at_the_start_and_out_at_the_end() -> None:
    envelope = ducking([], 20 * S, fade_in_ms=3000, fade_out_ms=5000)
    gain = envelope.gain(0, 21 * S)
    assert gain[0] == 0
    assert db(gain[int(1.5 * S) : int(1.5 * S) + 1])[0] == pytest.approx(-6.02, abs=0.01)
    assert gain[3 * S : 15 * S].min() == pytest.approx(1.0)
    assert db(gain[int(17.5 * S) : int(17.5 * S) + 1])[0] == pytest.approx(-6.02, abs=0.01)
    assert gain[20 * S - 1] < 1e-6
    assert not gain[20 * S :].any()
    assert np.all(np.diff(gain[: 3 * S]) >= 0)
    assert np.all(np.diff(gain[15 * S : 20 * S]) <= 0)


def test_close_speech_stays_ducked_between_the_sentences() -> None:
    """A 500 ms gap is shorter than release + attack: the bed does not bob up in it."""
    envelope = ducking([(10 * S, 12 * S), (int(12.5 * S), 14 * S)], 30 * S, duck_db=10.0)
    gain = db(envelope.gain(12 * S, S // 2))
    assert gain.max() < -5  # it only comes up half way before going down again


def test_ducking_streams_chunk_by_chunk_to_the_same_envelope() -> None:
    spans = [(3 * S, 4 * S), (int(4.2 * S), 6 * S), (9 * S, 9 * S + 10)]
    envelope = ducking(spans, 12 * S)
    whole = envelope.gain(0, 12 * S)
    pieces = np.concatenate([envelope.gain(start, 12_345) for start in range(0, 12 * S, 12_345)])
    assert np.array_equal(whole, pieces[: whole.size])


def test_bed_chunk_is_the_looped_bed_times_the_envelope() -> None:
    bed = generated_bed("pink", level_dbfs=-20.0, loop_seconds=2)
    envelope = ducking([(3 * S, 5 * S)], 20 * S, duck_db=10.0)
    heard = bed_chunk(bed, envelope, 3 * S, S)  # under speech, after the fade-in
    assert dbfs_rms(heard) == pytest.approx(-30.0, abs=0.3)
    pause = bed_chunk(bed, envelope, 7 * S, S)
    assert dbfs_rms(pause) == pytest.approx(-20.0, abs=0.5)


# --------------------------------------------------------------------------- bells


def test_singing_bowl_partials_sit_near_1_271_524_858() -> None:
    sound = bell(SINGING_BOWL).astype(np.float64)[: 2 * S]
    spectrum = np.abs(np.fft.rfft(sound * np.hanning(sound.size), 8 * sound.size))
    freqs = np.fft.rfftfreq(8 * sound.size, 1 / SAMPLE_RATE)
    strongest = spectrum.max()
    for ratio in (1.0, 2.71, 5.24, 8.58):
        want = 220.0 * ratio
        near = (freqs > want * 0.95) & (freqs < want * 1.05)
        assert freqs[near][np.argmax(spectrum[near])] == pytest.approx(want, abs=2.0)
        assert spectrum[near].max() > strongest / 100  # a real partial, within 40 dB of the top
    # inharmonic: nothing at the harmonics 2f and 3f of a plain tone
    for harmonic in (440.0, 660.0):
        near = (freqs > harmonic - 10) & (freqs < harmonic + 10)
        assert spectrum[near].max() < strongest / 1000


def test_higher_bowl_partials_decay_faster() -> None:
    """The decay rate of each partial: a line fitted to its log envelope over three seconds."""
    sound = bell(SINGING_BOWL).astype(np.float64)
    rates = []
    for ratio in (1.0, 2.71, 5.24, 8.58):
        centre = 220.0 * ratio
        level = np.abs(analytic(band(sound, centre - 20, centre + 20)))[S // 10 : 3 * S]
        slope, _ = np.polyfit(np.arange(level.size) / S, 20 * np.log10(level), 1)
        rates.append(-slope)  # dB per second
    assert rates == sorted(rates)
    assert rates[0] > 1 and rates[-1] > 3 * rates[0]


def test_bowl_partials_beat_slowly() -> None:
    """The fundamental's envelope, with its decay taken out, swells at the detuning (0.5 Hz)."""
    sound = bell(SINGING_BOWL).astype(np.float64)
    level = np.abs(analytic(band(sound, 200, 240)))[S // 10 : 8 * S]
    residual = np.log(level) - np.polyval(
        np.polyfit(np.arange(level.size), np.log(level), 1), np.arange(level.size)
    )
    spectrum = np.abs(np.fft.rfft(residual * np.hanning(residual.size), 16 * residual.size))
    freqs = np.fft.rfftfreq(16 * residual.size, 1 / SAMPLE_RATE)
    slow = (freqs > 0.1) & (freqs < 5)
    assert freqs[slow][np.argmax(spectrum[slow])] == pytest.approx(
        SINGING_BOWL.beat_hz[0], abs=0.05
    )
    assert residual.max() - residual.min() > 1.0  # a real swell: more than a factor e in level


def test_bells_start_softly_end_silent_and_have_their_peak_level() -> None:
    for spec in (SINGING_BOWL, SOFT_CHIME):
        sound = bell(spec)
        assert sound.size == ring_ms(spec) * S // 1000
        assert 20 * np.log10(np.max(np.abs(sound))) == pytest.approx(spec.level_dbfs, abs=0.01)
        assert abs(sound[0]) < 1e-6 and abs(sound[-1]) < 1e-6
        onset = np.flatnonzero(np.abs(sound) > 0.1 * np.max(np.abs(sound)))[0]
        assert onset < S // 100  # struck: loud within 10 ms


def test_bells_ring_out_with_a_natural_decay_at_any_level() -> None:
    """A bowl cut off at -45 dBFS is heard as a click of silence: every bell decays on its own
    to below RING_OUT_DBFS (no 10 ms window falls more than 6 dB below the one before while above
    -65 dBFS, the finished file's bound less the session's gain of up to 5 dB), then ends."""
    size = S // 100
    for spec in (SINGING_BOWL, SOFT_CHIME):
        for level_dbfs in (-6.0, -12.0, -30.0, -70.0):
            sound = bell(spec, level_dbfs=level_dbfs).astype(np.float64)
            frames = sound[: sound.size // size * size].reshape(-1, size)
            levels = 10 * np.log10(np.maximum(np.mean(frames * frames, axis=1), 1e-30))
            drops = levels[:-1] - levels[1:]
            assert drops[levels[:-1] > -70].max(initial=0) <= 6, (spec, level_dbfs)
            assert 20 * np.log10(np.abs(sound[-size * 6 :]).max()) < RING_OUT_DBFS
            assert levels[-3:].max() < RING_OUT_DBFS
    louder, softer = ring_ms(SINGING_BOWL, level_dbfs=-6), ring_ms(SINGING_BOWL, level_dbfs=-12)
    assert louder > softer > 20_000  # a bowl rings for tens of seconds, longer when struck harder


def test_the_chime_is_higher_shorter_and_quieter_than_the_bowl() -> None:
    chime, bowl = bell(SOFT_CHIME), bell(SINGING_BOWL)
    assert peak_frequencies(chime[: S // 2].astype(np.float64), 1)[0] == pytest.approx(660, abs=5)
    assert chime.size < bowl.size
    assert np.max(np.abs(chime)) < np.max(np.abs(bowl))


# --------------------------------------------------------------------------- breathing


def instantaneous_hz(tone: np.ndarray) -> np.ndarray:
    phase = np.unwrap(np.angle(analytic(tone.astype(np.float64))))
    return np.diff(phase) * SAMPLE_RATE / (2 * np.pi)


def test_breathing_tones_rise_in_and_fall_out_at_their_times() -> None:
    pattern = Breathing(inhale_ms=4000, exhale_ms=6000)
    cues = breathing_cues(pattern, cycles=3)
    assert cues.size == 30 * S
    onsets = breath_onsets(pattern, 3)
    assert onsets == [(0, 4 * S), (10 * S, 14 * S), (20 * S, 24 * S)]
    for inhale_at, exhale_at in onsets:
        inhale = cues[inhale_at : inhale_at + 4 * S]
        exhale = cues[exhale_at : exhale_at + 6 * S]
        rising = instantaneous_hz(inhale)[int(0.2 * 4 * S) : int(0.8 * 4 * S)]
        falling = instantaneous_hz(exhale)[int(0.2 * 6 * S) : int(0.8 * 6 * S)]
        smooth_rise = np.convolve(rising, np.ones(441) / 441, mode="valid")
        smooth_fall = np.convolve(falling, np.ones(441) / 441, mode="valid")
        assert np.all(np.diff(smooth_rise[::441]) > 0)
        assert np.all(np.diff(smooth_fall[::441]) < 0)
        # half way through, the glide (even in pitch) is at the geometric mean of its ends
        middle = np.sqrt(pattern.low_hz * pattern.high_hz)
        assert np.median(instantaneous_hz(inhale)[2 * S - 2000 : 2 * S + 2000]) == pytest.approx(
            middle, rel=0.01
        )
        assert np.median(instantaneous_hz(exhale)[3 * S - 2000 : 3 * S + 2000]) == pytest.approx(
            middle, rel=0.01
        )
        # quiet and smooth: the tone starts and ends at zero and peaks at its level
        assert abs(inhale[0]) < 1e-6 and abs(exhale[-1]) < 1e-4
    assert 20 * np.log10(np.max(np.abs(cues))) == pytest.approx(pattern.level_dbfs, abs=0.1)


def test_breathing_holds_are_silent() -> None:
    pattern = Breathing(inhale_ms=4000, hold_in_ms=7000, exhale_ms=8000, hold_out_ms=1000)
    cues = breathing_cues(pattern, cycles=2)
    assert pattern.cycle_ms == 20_000
    assert cues.size == 40 * S
    assert not cues[4 * S : 11 * S].any()  # held breath
    assert not cues[19 * S : 20 * S].any()
    assert np.abs(cues[11 * S : 19 * S]).max() > 0.01


def test_impossible_breathing_is_an_error() -> None:
    with pytest.raises(SoundError, match="positive in and out"):
        breathing_cues(Breathing(inhale_ms=0), cycles=2)


# --------------------------------------------------------------------------- the layer


def test_the_layer_streams_chunk_by_chunk_to_the_same_sound() -> None:
    bed = generated_bed("rain", loop_seconds=3)
    layer = SoundLayer(
        bed=bed,
        envelope=ducking([(4 * S, 6 * S)], 14 * S),
        sounds=(  # given out of order, overlapping each other and the chunk edges
            PlacedSound(9 * S, bell(SOFT_CHIME)),
            PlacedSound(1 * S, bell(SINGING_BOWL)),
            PlacedSound(7 * S, breathing_cues(Breathing(inhale_ms=1000, exhale_ms=1500), 2)),
        ),
    )
    whole = layer.chunk(0, 14 * S)
    pieces = np.concatenate([layer.chunk(start, 10_007) for start in range(0, 14 * S, 10_007)])
    assert np.array_equal(whole, pieces[: whole.size])
    by_hand = bed_chunk(bed, layer.envelope, 0, 14 * S)  # type: ignore[arg-type]
    by_hand[1 * S :] += bell(SINGING_BOWL)[: 13 * S]  # rings on past the end of the session
    by_hand[7 * S : 12 * S] += breathing_cues(Breathing(inhale_ms=1000, exhale_ms=1500), 2)
    by_hand[9 * S :] += bell(SOFT_CHIME)[: 5 * S]
    np.testing.assert_allclose(whole, by_hand, atol=1e-6)


def test_a_layer_without_a_bed_is_silence_around_its_sounds() -> None:
    layer = SoundLayer(sounds=(PlacedSound(S, bell(SOFT_CHIME)),))
    assert not layer.chunk(0, S).any()
    assert layer.chunk(S, S).any()
    after = S + ring_ms(SOFT_CHIME) * S // 1000
    assert layer.chunk(after - S, S).any() and not layer.chunk(after, S).any()
    with pytest.raises(SoundError, match="a bed needs its ducking envelope"):
        SoundLayer(bed=generated_bed("pink", loop_seconds=1))


def test_bed_ducking_fade_and_bell_survive_the_mp3_encode(tmp_path: Path) -> None:
    """Measured on a real 64 kbit/s MP3: the bed at its level in the pauses, 10 dB down where
    speech goes, faded out at the end, and the chime starting where it was placed."""
    layer = SoundLayer(
        bed=generated_bed("pink", level_dbfs=-38.0, loop_seconds=10),
        envelope=ducking([(6 * S, 10 * S)], 20 * S, duck_db=10.0),
        sounds=(PlacedSound(12 * S, bell(SOFT_CHIME)),),
    )
    mp3 = tmp_path / "laag.mp3"
    chunks = (to_pcm16(layer.chunk(start, 5 * S)) for start in range(0, 20 * S, 5 * S))
    write_mp3(mp3, chunks, Metadata("laag", "rustpunt", "rustpunt", "-", "-"), [])
    decoded = audiotools.decode(mp3).astype(np.float64) / 32768
    assert decoded.size == 20 * S

    def level(from_s: float, to_s: float) -> float:
        return dbfs_rms(decoded[int(from_s * S) : int(to_s * S)])

    assert level(3.5, 5.5) == pytest.approx(-38.0, abs=1.0)  # the pause level
    assert level(6.0, 10.0) == pytest.approx(-48.0, abs=1.0)  # ducked under the speech
    assert level(0.0, 0.3) < -55  # fading in
    assert level(19.7, 20.0) < -60  # faded out: an ending, not a cut
    chime = np.abs(analytic(band(decoded, 620, 700)))
    onset = np.flatnonzero(chime > 0.25 * chime.max())[0] / S
    assert onset == pytest.approx(12.0, abs=0.02)


# --------------------------------------------------------------------------- helpers


def test_overlay_cuts_what_falls_outside_the_chunk() -> None:
    chunk = np.zeros(5, dtype=np.float32)
    overlay(chunk, np.ones(4, dtype=np.float32), at=-2)
    overlay(chunk, np.full(4, 2, dtype=np.float32), at=3)
    assert chunk.tolist() == [1, 1, 0, 2, 2]


def test_to_pcm16_rounds_and_clips() -> None:
    assert to_pcm16(np.array([0.0, 0.5, -1.2, 1.5])).tolist() == [0, 16384, -32768, 32767]
