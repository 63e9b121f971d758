"""The gtts engine against a local stand-in for Google: real gTTS, real HTTP over loopback, real TLS.

The fixture `fake_google` (tests/fakegoogle.py, registered in tests/conftest.py) is an HTTPS proxy on
127.0.0.1 that plays translate.google.*; HTTPS_PROXY points at it while a test runs.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from rustpunt.audio.pcm import SAMPLE_RATE, samples_to_ms, to_session_pcm
from rustpunt.errors import SynthesisError, VoiceError, VoiceUnavailable
from rustpunt.voice.engines import create_engine, google
from rustpunt.voice.engines.base import EngineAudio
from rustpunt.voice.engines.google import GoogleEngine, split_for_google

TEXT = "Adem rustig in."


@pytest.fixture(autouse=True)
def no_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The polite 0.2 s between requests would only slow these tests; one test puts it back."""
    monkeypatch.setattr(google, "MIN_REQUEST_INTERVAL", 0.0)


def make_engine(**settings: object) -> tuple[GoogleEngine, list[float]]:
    """An engine whose backoff sleeps are recorded instead of slept."""
    sleeps: list[float] = []
    engine = GoogleEngine(**settings, sleep=sleeps.append)  # type: ignore[arg-type]
    return engine, sleeps


def duration_ms(audio: EngineAudio) -> int:
    return samples_to_ms(to_session_pcm(audio).size, SAMPLE_RATE)


def expected_ms(text: str) -> int:
    return min(3000, max(100, 60 * len(text))) + 400  # tone plus 0.2 s silence either side


# -- speaking ----------------------------------------------------------------------------------


def test_speaks_real_mp3_of_plausible_length(fake_google):
    engine, sleeps = make_engine()
    audio = engine.synthesize(TEXT)
    assert audio.codec == "mp3"
    assert audio.data[0] == 0xFF and audio.data[1] & 0xE0 == 0xE0  # an MPEG frame, as Google sends
    assert abs(duration_ms(audio) - expected_ms(TEXT)) < 150
    assert fake_google.texts == [TEXT]
    seen = fake_google.requests[0]
    assert (seen.host, seen.lang, seen.slow) == ("translate.google.com", "nl", False)
    assert sleeps == []


def test_different_texts_give_different_audio(fake_google):
    engine, _ = make_engine()
    short = engine.synthesize("In.")
    longer = engine.synthesize("Adem langzaam en diep in door je neus.")
    assert duration_ms(longer) - duration_ms(short) > 1000


def test_settings_reach_google(fake_google):
    engine, _ = make_engine(lang="nl", tld="nl", slow=True)
    engine.synthesize(TEXT)
    seen = fake_google.requests[0]
    assert (seen.host, seen.slow) == ("translate.google.nl", True)


def test_built_through_the_registry(fake_google):
    engine = create_engine("gtts", {"lang": "nl", "timeout": 2})
    assert engine.synthesize(TEXT).data
    assert fake_google.count == 1


def test_long_text_is_split_between_sentences_and_joined(fake_google, caplog):
    first = (
        "Ga rustig zitten, met je voeten plat op de grond en je handen ontspannen op je bovenbenen."
    )
    text = first + " Sluit nu je ogen en adem drie keer diep in en uit."
    assert len(text) > 100
    engine, _ = make_engine()
    with caplog.at_level(logging.WARNING, logger="rustpunt.voice.engines.google"):
        audio = engine.synthesize(text)
    # cut between the sentences, with every comma kept (gTTS alone would cut at every comma
    # and full stop and drop them, and Google would not pause where the commas were)
    parts = fake_google.texts
    assert parts == [first, "Sluit nu je ogen en adem drie keer diep in en uit."]
    assert abs(duration_ms(audio) - sum(expected_ms(part) for part in parts)) < 300
    assert not caplog.records


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("Kort.", ["Kort."]),
        ("Een. Twee! Drie? Vier…", ["Een. Twee! Drie? Vier…"]),
        ("A" * 60 + ". " + "B" * 60 + ".", ["A" * 60 + ".", "B" * 60 + "."]),
        ("Adem in, " * 15, ["Adem in, " * 10 + "Adem in,", "Adem in, " * 3 + "Adem in,"]),
        ("x" * 150, ["x" * 150]),  # nothing to cut at: gTTS cuts it at a space, with a warning
    ],
)
def test_split_for_google(text, pieces):
    assert split_for_google(text) == [piece.strip() for piece in pieces]


def test_long_text_without_punctuation_warns_about_the_cut(fake_google, caplog):
    text = " ".join(["adem in en adem uit"] * 8)
    engine, _ = make_engine()
    with caplog.at_level(logging.WARNING, logger="rustpunt.voice.engines.google"):
        engine.synthesize(text)
    assert fake_google.count == 2
    assert any("mid-sentence" in record.getMessage() for record in caplog.records)


# -- failures and retries ----------------------------------------------------------------------


def test_429_then_success_is_retried_with_exponential_backoff(fake_google):
    fake_google.fail_first(2, "429")
    engine, sleeps = make_engine(retries=3, backoff=1.0)
    audio = engine.synthesize(TEXT)
    assert duration_ms(audio) > 500
    assert fake_google.count == 3
    assert sleeps == [1.0, 2.0]


def test_retry_after_is_honoured(fake_google):
    fake_google.fail_first(1, "429")
    fake_google.retry_after = "3"
    engine, sleeps = make_engine(backoff=0.1)
    engine.synthesize(TEXT)
    assert sleeps == [3.0]


def test_a_very_long_retry_after_gives_up_at_once(fake_google):
    fake_google.mode = "429"
    fake_google.retry_after = "3600"
    engine, sleeps = make_engine()
    with pytest.raises(VoiceUnavailable, match="3600"):
        engine.synthesize(TEXT)
    assert (fake_google.count, sleeps) == (1, [])


def test_persistent_429_becomes_voice_unavailable(fake_google):
    fake_google.mode = "429"
    engine, sleeps = make_engine(retries=2, backoff=0.5)
    with pytest.raises(VoiceUnavailable) as caught:
        engine.synthesize(TEXT)
    message = str(caught.value)
    assert "429" in message and "rate limited" in message and "after 3 tries" in message
    assert "nl-espeak" in message and "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert fake_google.count == 3
    assert sleeps == [0.5, 1.0]


def test_500_is_retried_then_voice_unavailable(fake_google):
    fake_google.mode = "500"
    engine, sleeps = make_engine(retries=1)
    with pytest.raises(VoiceUnavailable, match="500"):
        engine.synthesize(TEXT)
    assert fake_google.count == 2
    assert sleeps == [1.0]


def test_500_then_success(fake_google):
    fake_google.fail_first(1, "500")
    engine, _ = make_engine()
    assert engine.synthesize(TEXT).data
    assert fake_google.count == 2


def test_hang_times_out_within_bounds(fake_google):
    fake_google.mode = "hang"
    engine, sleeps = make_engine(timeout=0.5, retries=1)
    started = time.monotonic()
    with pytest.raises(VoiceUnavailable, match="did not answer within 0.5 s"):
        engine.synthesize(TEXT)
    assert time.monotonic() - started < 3.0
    assert sleeps == [1.0]  # two attempts, one pause between them
    # under heavy load a timed-out attempt may also leave a connection that never sent its text
    assert fake_google.count >= 2 and sum(t is not None for t in fake_google.texts) <= 2


@pytest.mark.parametrize(
    ("mode", "words"),
    [("empty", "no audio"), ("nullaudio", "no audio"), ("junk", "not MP3")],
)
def test_an_answer_without_audio_is_a_failure(fake_google, mode, words):
    fake_google.mode = mode
    engine, sleeps = make_engine(retries=1)
    with pytest.raises(VoiceUnavailable, match=words):
        engine.synthesize(TEXT)
    assert fake_google.count == 2
    assert len(sleeps) == 1


def test_empty_answer_once_then_audio(fake_google):
    fake_google.fail_first(1, "empty")
    engine, _ = make_engine()
    assert engine.synthesize(TEXT).data
    assert fake_google.count == 2


def test_a_missing_part_of_a_long_text_is_caught(fake_google):
    text = "Ga rustig zitten, met je voeten plat op de grond en je handen ontspannen. " * 2
    fake_google.mode = "empty"
    fake_google.fail_first(1, "ok")  # two parts, one a sentence: the last comes back without audio
    engine, _ = make_engine(retries=0)
    with pytest.raises(VoiceUnavailable, match="no audio"):
        engine.synthesize(text)
    assert fake_google.count == 2


def test_refused_connection_is_unavailable_at_once(fake_google):
    fake_google.mode = "refuse"
    engine, sleeps = make_engine()
    with pytest.raises(VoiceUnavailable, match="cannot reach Google"):
        engine.synthesize(TEXT)
    assert (fake_google.count, sleeps) == (1, [])


def test_unreachable_proxy_is_unavailable_quickly(monkeypatch):
    from fakegoogle import dead_proxy_url

    proxy = dead_proxy_url()
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.setenv("https_proxy", proxy)
    engine, sleeps = make_engine(timeout=2.0)
    started = time.monotonic()
    with pytest.raises(VoiceUnavailable) as caught:
        engine.synthesize(TEXT)
    assert time.monotonic() - started < 2.0
    assert proxy in str(caught.value) and "cannot reach Google" in str(caught.value)
    assert sleeps == []


def test_nothing_to_speak_is_a_synthesis_error(fake_google):
    engine, _ = make_engine()
    for text in ("", "   ", "... !"):
        with pytest.raises(SynthesisError) as caught:
            engine.synthesize(text)
        assert not isinstance(caught.value, VoiceUnavailable)
    assert fake_google.count == 0


# -- politeness --------------------------------------------------------------------------------


def test_requests_are_spaced(fake_google, monkeypatch):
    """Measured where the requests leave (the server's clock would add TLS handshake jitter)."""
    monkeypatch.setattr(google, "MIN_REQUEST_INTERVAL", 0.2)
    sent: list[float] = []
    pace = google._wait_for_turn

    def recorded() -> None:
        pace()
        sent.append(time.monotonic())

    monkeypatch.setattr(google, "_wait_for_turn", recorded)
    engine, _ = make_engine()
    engine.synthesize("Een.")
    engine.synthesize("Twee.")
    assert fake_google.count == 2 and len(sent) == 2
    assert sent[1] - sent[0] >= 0.2


def test_at_most_two_requests_at_a_time(fake_google):
    fake_google.mode = "hang"
    fake_google.hang_seconds = 0.3  # then the fake closes without answering
    engine, _ = make_engine(timeout=2.0, retries=0)
    failures: list[BaseException] = []

    def speak() -> None:
        try:
            engine.synthesize(TEXT)
        except BaseException as error:  # collected: an exception in a thread would be lost
            failures.append(error)

    threads = [threading.Thread(target=speak) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(failures) == 4 and all(isinstance(error, VoiceUnavailable) for error in failures)
    seen = fake_google.requests
    assert len(seen) == 4
    most = max(
        sum(1 for other in seen if other.started <= one.started < other.answered) for one in seen
    )
    assert most == google.MAX_CONCURRENT_REQUESTS == 2


# -- identity, settings, check -----------------------------------------------------------------


def test_identity_covers_what_changes_the_sound():
    import gtts

    base = GoogleEngine().identity()
    assert base == {
        "engine": "gtts",
        "version": gtts.__version__,
        "lang": "nl",
        "tld": "com",
        "slow": False,
    }
    assert GoogleEngine(lang="en").identity() != base
    assert GoogleEngine(tld="nl").identity() != base
    assert GoogleEngine(slow=True).identity() != base
    assert GoogleEngine(timeout=1, retries=0, backoff=0).identity() == base


def test_unknown_setting_is_a_voice_error():
    with pytest.raises(VoiceError, match="'speed'"):
        GoogleEngine(speed=1.2)
    with pytest.raises(VoiceError, match="'voice'"):
        create_engine("gtts", {"lang": "nl", "voice": "female"})


@pytest.mark.parametrize(
    "settings",
    [
        {"lang": "xx"},
        {"tld": "http://x"},
        {"slow": "yes"},
        {"timeout": 0},
        {"retries": -1},
        {"backoff": "1"},
    ],
)
def test_bad_settings_are_voice_errors(settings):
    with pytest.raises(VoiceError):
        GoogleEngine(**settings)


def test_check_says_none_when_google_speaks(fake_google):
    engine, _ = make_engine()
    assert engine.check() is None
    assert fake_google.texts == ["test"]


def test_check_gives_one_line_reason_without_retrying(fake_google):
    fake_google.mode = "429"
    engine, sleeps = make_engine(retries=5)
    reason = engine.check()
    assert reason is not None and "429" in reason and "\n" not in reason
    assert (fake_google.count, sleeps) == (1, [])


def test_check_times_out_quickly(fake_google, monkeypatch):
    monkeypatch.setattr(google, "CHECK_TIMEOUT", 0.3)
    fake_google.mode = "hang"
    engine, _ = make_engine(timeout=10)
    started = time.monotonic()
    reason = engine.check()
    assert reason is not None and "did not answer" in reason
    assert time.monotonic() - started < 2.0
