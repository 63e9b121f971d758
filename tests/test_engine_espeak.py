"""The espeak engine with the real libespeak-ng from espeakng-loader: no mocks, and fast."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from rustpunt.audio.pcm import SAMPLE_RATE, to_session_pcm
from rustpunt.errors import SynthesisError, VoiceError
from rustpunt.voice.engines import create_engine
from rustpunt.voice.engines.base import EngineAudio
from rustpunt.voice.engines.espeak import EspeakEngine

SHORT = "Adem rustig in."
LONG = (
    "Adem rustig in door je neus, en voel hoe je buik langzaam omhoog komt. "
    "Houd je adem even vast, en laat hem dan heel rustig weer los."
)
SENTENCE = "Voel hoe je schouders zwaar worden en ontspannen."


def pcm(audio: EngineAudio) -> np.ndarray:
    assert audio.codec == "s16le"
    assert len(audio.data) % 2 == 0
    return np.frombuffer(audio.data, dtype="<i2")


def seconds(audio: EngineAudio) -> float:
    assert audio.sample_rate
    return len(audio.data) / 2 / audio.sample_rate


def median_f0(audio: EngineAudio) -> float:
    """Median fundamental frequency of the voiced frames, by autocorrelation (60 to 400 Hz)."""
    rate = audio.sample_rate or 0
    x = pcm(audio).astype(np.float64)
    frame, lowest_lag, highest_lag = int(0.04 * rate), rate // 400, rate // 60
    loud = 0.1 * np.abs(x).max()
    found = []
    for start in range(0, x.size - frame, frame // 2):
        chunk = x[start : start + frame] - x[start : start + frame].mean()
        if np.sqrt(np.mean(chunk**2)) < loud:
            continue
        correlation = np.correlate(chunk, chunk, "full")[frame - 1 :]
        lag = lowest_lag + int(np.argmax(correlation[lowest_lag:highest_lag]))
        if correlation[0] > 0 and correlation[lag] / correlation[0] > 0.5:
            found.append(rate / lag)
    assert found, "no voiced frames found"
    return float(np.median(found))


@pytest.fixture(scope="module")
def engine() -> EspeakEngine:
    return EspeakEngine()


def test_dutch_text_gives_int16_pcm_at_22050_hz_growing_with_the_text(engine: EspeakEngine) -> None:
    short, long = engine.synthesize(SHORT), engine.synthesize(LONG)
    for audio in (short, long):
        assert audio.codec == "s16le" and audio.sample_rate == 22050
        samples = pcm(audio)
        assert samples.size > 0.3 * 22050
        assert np.abs(samples.astype(np.int32)).max() > 3000  # speech, not near-silence
    assert seconds(long) > 3 * seconds(short)
    assert 0.5 < seconds(short) < 4 and 5 < seconds(long) < 20


def test_lower_rate_gives_longer_audio() -> None:
    slow = EspeakEngine(rate=100).synthesize(SENTENCE)
    fast = EspeakEngine(rate=250).synthesize(SENTENCE)
    assert seconds(slow) > 1.8 * seconds(fast)


def test_engines_with_different_settings_share_one_process() -> None:
    calm = EspeakEngine(rate=120, pitch=20)
    bright = EspeakEngine(voice="nl+f3", rate=250, pitch=90)
    first = calm.synthesize(SENTENCE)
    other = bright.synthesize(SENTENCE)
    again = calm.synthesize(SENTENCE)  # after `bright` changed the library's voice and parameters
    assert other.data != first.data
    assert seconds(other) < 0.7 * seconds(first)
    assert median_f0(other) > 1.3 * median_f0(first)
    # espeak is not bit-exact from call to call (a few samples of wave phase), but the voice is:
    assert seconds(again) == pytest.approx(seconds(first), rel=0.02)
    assert median_f0(again) == pytest.approx(median_f0(first), rel=0.05)


def test_volume_and_wordgap_are_applied() -> None:
    quiet = pcm(EspeakEngine(volume=30).synthesize(SENTENCE)).astype(np.float64)
    loud = pcm(EspeakEngine(volume=100).synthesize(SENTENCE)).astype(np.float64)
    assert np.sqrt(np.mean(loud**2)) > 2 * np.sqrt(np.mean(quiet**2))
    gaps = EspeakEngine(wordgap=20).synthesize(SENTENCE)  # 200 ms after each of 7 words
    assert seconds(gaps) > seconds(EspeakEngine().synthesize(SENTENCE)) + 0.8


def test_threads_with_different_engines_do_not_mix_their_settings() -> None:
    engines = {"slow": EspeakEngine(rate=100), "fast": EspeakEngine(rate=300)}
    expected = {name: seconds(e.synthesize(SENTENCE)) for name, e in engines.items()}
    results: dict[str, list[float]] = {name: [] for name in engines}

    def work(name: str) -> None:
        for _ in range(4):
            results[name].append(seconds(engines[name].synthesize(SENTENCE)))

    threads = [threading.Thread(target=work, args=(name,)) for name in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, durations in results.items():
        assert durations == pytest.approx([expected[name]] * 4, rel=0.02)


def test_identity_names_the_version_and_every_setting(engine: EspeakEngine) -> None:
    identity = dict(engine.identity())
    assert identity["engine"] == "espeak"
    assert identity["version"][:1].isdigit() and "." in identity["version"]
    assert identity["voice"] == "nl"
    assert {"rate", "pitch", "range", "volume", "wordgap"} <= identity.keys()
    assert dict(EspeakEngine().identity()) == identity
    for change in (
        {"rate": 140},
        {"pitch": 50},
        {"range": 30},
        {"volume": 90},
        {"wordgap": 1},
        {"voice": "nl+m3"},
    ):
        assert dict(EspeakEngine(**change).identity()) != identity, change


def test_calm_defaults(engine: EspeakEngine) -> None:
    assert engine.settings == {
        "voice": "nl",
        "rate": 150,
        "pitch": 45,
        "range": 40,
        "volume": 100,
        "wordgap": 0,
    }
    assert engine.name == "espeak"


def test_registry_builds_the_engine_from_profile_settings() -> None:
    built = create_engine("espeak", {"voice": "nl", "rate": 140})
    assert isinstance(built, EspeakEngine) and built.rate == 140


def test_unknown_setting_is_named_with_the_known_ones() -> None:
    with pytest.raises(
        VoiceError, match=r"'speed'.*known settings: pitch, range, rate, voice, volume, wordgap"
    ):
        EspeakEngine(speed=140)


@pytest.mark.parametrize(
    "setting",
    [
        {"rate": 79}, {"rate": 451}, {"rate": "slow"}, {"rate": 150.5}, {"rate": True},
        {"pitch": -1}, {"pitch": 101}, {"range": 101}, {"volume": 0}, {"volume": 201},
        {"wordgap": -1}, {"wordgap": 101}, {"voice": ""}, {"voice": 3},
    ],
)  # fmt: skip
def test_out_of_range_values_are_refused(setting: dict[str, object]) -> None:
    ((key, value),) = setting.items()
    with pytest.raises(VoiceError, match=rf"'{key}'.*{value!r}") as caught:
        EspeakEngine(**setting)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_unknown_voice_is_a_clear_voice_error() -> None:
    with pytest.raises(VoiceError, match=r"no voice 'xx-nergens'.*'nl'"):
        EspeakEngine(voice="xx-nergens").synthesize(SHORT)
    with pytest.raises(VoiceError, match=r"no voice variant 'f99'.*f3"):
        EspeakEngine(voice="nl+f99").synthesize(SHORT)  # espeak itself would silently ignore it


def test_check(engine: EspeakEngine) -> None:
    assert engine.check() is None
    assert EspeakEngine(voice="nl+f3").check() is None
    reason = EspeakEngine(voice="xx-nergens").check()
    assert reason and "xx-nergens" in reason and "\n" not in reason


def test_text_without_speech_is_a_synthesis_error(engine: EspeakEngine) -> None:
    for text in ("", "   \n", "..."):
        with pytest.raises(SynthesisError):
            engine.synthesize(text)


def test_audio_decodes_to_session_pcm_at_44100_hz(engine: EspeakEngine) -> None:
    audio = engine.synthesize(SHORT)
    session = to_session_pcm(audio)
    assert SAMPLE_RATE == 44_100 and session.dtype == np.dtype("<i2")
    assert session.size == pytest.approx(pcm(audio).size * 2, abs=64)
    assert np.abs(session.astype(np.int32)).max() > 3000


def _run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    """Python with PATH = the venv's bin folder only, no library path: nothing from the system."""
    env = {"PATH": os.path.dirname(sys.executable)}
    if "SYSTEMROOT" in os.environ:  # Windows cannot start Python without it
        env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_synthesis_needs_no_system_espeak() -> None:
    result = _run_isolated(
        """
        import os, espeakng_loader
        from rustpunt.voice.engines.espeak import EspeakEngine
        audio = EspeakEngine().synthesize("Adem rustig in en uit.")
        print(audio.sample_rate, len(audio.data))
        if os.path.exists("/proc/self/maps"):  # Linux: which espeak libraries are mapped in?
            ours = os.path.realpath(os.path.dirname(espeakng_loader.get_library_path()))
            with open("/proc/self/maps") as maps:
                for line in maps:
                    path = line.split()[-1]
                    if "espeak" in path and not os.path.realpath(path).startswith(ours):
                        print("FOREIGN", path)
        """
    )
    assert result.returncode == 0, result.stderr
    rate, size, *foreign = result.stdout.split()
    assert rate == "22050" and int(size) > 22050
    assert foreign == []


@pytest.mark.skipif(os.name == "nt", reason="the short alias is a POSIX symlink")
def test_a_data_path_too_long_for_espeak_still_works(tmp_path) -> None:
    # espeak-ng 1.52 truncates a data path beyond 159 bytes: a venv deep in a home folder hits it.
    result = _run_isolated(
        f"""
        import os, espeakng_loader
        deep = os.path.join({str(tmp_path)!r}, *["diep-geneste-map"] * 12)
        os.makedirs(deep)
        long_path = os.path.join(deep, "espeak-ng-data")
        os.symlink(espeakng_loader.get_data_path(), long_path)
        assert len(long_path) > 200
        espeakng_loader.get_data_path = lambda: long_path
        from rustpunt.voice.engines.espeak import EspeakEngine
        print(len(EspeakEngine().synthesize("Adem rustig in.").data))
        """
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 22050


def test_ctrl_c_during_synthesis_is_not_lost(tmp_path):
    """Python delivers the signal inside espeak's callback, where ctypes would print and drop it."""
    code = (
        "import os, signal, threading\n"
        "from rustpunt.voice.engines.espeak import EspeakEngine\n"
        "engine = EspeakEngine()\n"
        "engine.synthesize('Adem in.')\n"
        "threading.Timer(0.02, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        "try:\n"
        "    engine.synthesize('Adem rustig in door je neus en weer uit door je mond. ' * 60)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
        "else:\n"
        "    print('went on')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "interrupted"
    assert "Exception ignored" not in result.stderr and "Traceback" not in result.stderr


_ORDERS = [[0, 1, 2, 0, 0], [2, 0, 1, 0, 2], [1, 1, 2, 2, 0]]
_SPOKEN = [SHORT, SENTENCE, LONG]


def _digests(order: list[int], voice: str = "nl") -> list[str]:
    import hashlib

    speaker = EspeakEngine(voice=voice)
    return [hashlib.sha256(speaker.synthesize(_SPOKEN[i]).data).hexdigest() for i in order]


@pytest.mark.parametrize("voice", ["nl", "nl+f3", "nl+whisper"])
def test_a_clip_is_the_same_whatever_was_spoken_before(voice: str) -> None:
    """espeak-ng keeps the phase of its pitch flutter and its gain control from one synthesis to
    the next: the same sentence came out a few samples longer or shorter after other speech."""
    by_text: dict[int, set[str]] = {}
    for order in _ORDERS:
        for i, digest in zip(order, _digests(order, voice)):
            by_text.setdefault(i, set()).add(digest)
    assert all(len(digests) == 1 for digests in by_text.values()), by_text


def test_a_clip_is_the_same_in_another_process() -> None:
    """A fresh process (a worker of `-j 2`, or a later build) speaks the same samples."""
    code = (
        "import hashlib\n"
        "from rustpunt.voice.engines.espeak import EspeakEngine\n"
        f"texts = {_SPOKEN!r}\n"
        "speaker = EspeakEngine()\n"
        "for i in (1, 2, 0):\n"
        "    print(i, hashlib.sha256(speaker.synthesize(texts[i]).data).hexdigest())\n"
    )
    here = dict(zip([0, 1, 2, 0], _digests([0, 1, 2, 0])))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    there = {int(i): digest for i, digest in (line.split() for line in result.stdout.splitlines())}
    assert there == here
