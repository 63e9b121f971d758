"""The "gtts" engine: Google Translate's speech through gTTS. All knowledge of gTTS lives here.

gTTS wraps an undocumented Google endpoint that can change or refuse without notice, so this module
checks everything it gets back and turns every failure into a one-line SynthesisError or
VoiceUnavailable (the session may then fall back to an offline voice); no gTTS or requests
exception ever leaves it.

Proxies: gTTS passes `urllib.request.getproxies()` to requests, so it honours HTTPS_PROXY and
https_proxy (the lower-case one wins when both are set) but ignores NO_PROXY/no_proxy: a host
listed there is still reached through the proxy. It also sends verify=False (no certificate
check), which is what lets the test suite put a local stand-in for Google behind such a proxy.
"""

from __future__ import annotations

import email.utils
import io
import logging
import re
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Literal

import gtts
import requests
from gtts import gTTS, gTTSError
from gtts.lang import tts_langs

from rustpunt.errors import SynthesisError, VoiceError, VoiceUnavailable
from rustpunt.voice.engines.base import EngineAudio

try:
    from urllib3.exceptions import InsecureRequestWarning
except ImportError:  # pragma: no cover - urllib3 always comes with requests
    InsecureRequestWarning = Warning  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)

MAX_CONCURRENT_REQUESTS = 2
"""At most this many gTTS requests in flight in the whole process. Google rate-limits the
endpoint (HTTP 429, gTTS #259) and parallel requests make it refuse sooner."""

MIN_REQUEST_INTERVAL = 0.2
"""Seconds between the starts of two requests to Google, process-wide, for the same reason."""

MAX_RETRY_AFTER = 60.0
"""A Retry-After longer than this is not waited out: the engine gives up and says so."""

CHECK_TIMEOUT = 3.0
"""check() gives Google this many seconds for one tiny synthesis."""

GOOGLE_MAX_CHARS = 100
"""The endpoint takes at most this many characters; longer texts go as several requests."""

FALLBACK_HINT = "or use --voice nl-espeak"
"""How every 'Google is unavailable' message ends: the offline way out."""

PROCESS_REQUEST_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_REQUESTS)
"""The limit for engines in this process when the build passes no limit of its own; a parallel
build passes one semaphore shared by its worker processes. MIN_REQUEST_INTERVAL stays per process."""
_pace_lock = threading.Lock()
_last_request_start = float("-inf")
"""Module globals, as Google's pacing is per process: every engine in it asks from one address."""

_SENTENCE = re.compile(r"[^.!?…]+(?:[.!?…]+|$)")
"""A sentence with the marks that close it."""
_CLAUSE = re.compile(r"[^,;:]+(?:[,;:]+|$)")
"""A clause with the comma, semicolon or colon that closes it."""


def split_for_google(text: str, limit: int = GOOGLE_MAX_CHARS) -> list[str]:
    """Cut a long text into pieces Google accepts: between sentences, else between clauses.

    gTTS's own tokenizer cuts a long text at every comma and full stop and drops the marks, so
    Google reads it as a string of fragments with no pauses where the commas were. Here every mark
    stays, and neighbouring sentences or clauses share a request while they fit in `limit`.
    """
    units: list[str] = []
    for sentence in (match.strip() for match in _SENTENCE.findall(text)):
        if not sentence:
            continue
        if len(sentence) <= limit:
            units.append(sentence)
        else:
            units.extend(clause.strip() for clause in _CLAUSE.findall(sentence) if clause.strip())
    pieces: list[str] = []
    for unit in units:
        if pieces and len(pieces[-1]) + 1 + len(unit) <= limit:
            pieces[-1] = f"{pieces[-1]} {unit}"
        else:
            pieces.append(unit)
    return pieces


_TLD = re.compile(r"[a-z]{2,3}(\.[a-z]{2,3})?")
_RETRYABLE_STATUS = {408, 429}


def _wait_for_turn() -> None:
    """Keep MIN_REQUEST_INTERVAL between request starts across every thread of the process."""
    global _last_request_start
    with _pace_lock:
        wait = _last_request_start + MIN_REQUEST_INTERVAL - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        _last_request_start = time.monotonic()


FailureKind = Literal["rate", "server", "noaudio", "timeout", "status", "connect"]
"""How one try failed: the first four may pass if tried again, the others will not."""

RETRYABLE: frozenset[FailureKind] = frozenset({"rate", "server", "noaudio", "timeout"})


class _Failure(Exception):
    """One failed try, classified: `kind` says whether another try can help."""

    def __init__(
        self,
        kind: FailureKind,
        detail: str,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


class GoogleEngine:
    """Dutch (or any gTTS language) speech from Google Translate, as MP3."""

    name = "gtts"
    remote = True
    """It asks a service over the network: a build shares one limit on requests between its
    processes (see create_engine's request_slots)."""

    def __init__(
        self,
        lang: str = "nl",
        tld: str = "com",
        slow: bool = False,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 1.0,
        *,
        sleep: Callable[[float], None] = time.sleep,
        request_slots: AbstractContextManager[Any] | None = None,
        **unknown: Any,
    ) -> None:
        """`lang` ... `backoff` are the profile's settings; `sleep` waits between tries (tests
        pass one that records instead), `request_slots` limits requests in flight."""
        if unknown:
            known = "lang, tld, slow, timeout, retries, backoff"
            names = ", ".join(repr(name) for name in sorted(unknown))
            raise VoiceError(
                f"unknown setting {names} for engine gtts; known settings: {known}",
                key=f"settings.{min(unknown)}",
            )
        if not isinstance(lang, str) or lang not in tts_langs():
            raise VoiceError(
                f"gtts does not speak language {lang!r}; use a code such as 'nl' (see `gtts-cli --all`)",
                key="settings.lang",
            )
        if not isinstance(tld, str) or not _TLD.fullmatch(tld):
            raise VoiceError(
                f"gtts setting tld must be a Google domain ending such as 'com' or 'nl', not {tld!r}",
                key="settings.tld",
            )
        if not isinstance(slow, bool):
            raise VoiceError(
                f"gtts setting slow must be true or false, not {slow!r}", key="settings.slow"
            )
        if not _is_number(timeout) or timeout <= 0:
            raise VoiceError(
                f"gtts setting timeout must be a positive number of seconds, not {timeout!r}",
                key="settings.timeout",
            )
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise VoiceError(
                f"gtts setting retries must be a whole number, 0 or more, not {retries!r}",
                key="settings.retries",
            )
        if not _is_number(backoff) or backoff < 0:
            raise VoiceError(
                f"gtts setting backoff must be a number of seconds, 0 or more, not {backoff!r}",
                key="settings.backoff",
            )
        self.lang = lang
        self.tld = tld
        self.slow = slow
        self.timeout = float(timeout)
        self.retries = retries
        """Extra tries after the first one (0: a single try)."""
        self.backoff = float(backoff)
        self.sleep = sleep
        self.request_slots = request_slots if request_slots is not None else PROCESS_REQUEST_SLOTS

    def identity(self) -> Mapping[str, Any]:
        return {
            "engine": "gtts",
            "version": gtts.__version__,
            "lang": self.lang,
            "tld": self.tld,
            "slow": self.slow,
        }

    def synthesize(self, text: str) -> EngineAudio:
        if not isinstance(text, str) or not text.strip():
            raise SynthesisError(f"nothing to speak in {text!r}")
        tries = self.retries + 1
        for attempt in range(tries):
            try:
                audio = EngineAudio(data=self._try_once(text), codec="mp3")
                self._warn_about_cuts(text)  # only once Google has spoken it, never for a fallback
                return audio
            except _Failure as failure:
                if not failure.retryable:
                    raise VoiceUnavailable(self._give_up_message(failure, attempt + 1)) from None
                if failure.retry_after is not None and failure.retry_after > MAX_RETRY_AFTER:
                    raise VoiceUnavailable(
                        f"Google asks to wait {failure.retry_after:.0f} s before trying again "
                        f"({failure.detail}); wait a while, {FALLBACK_HINT}"
                    ) from None
                if attempt + 1 == tries:
                    raise VoiceUnavailable(self._give_up_message(failure, tries)) from None
                delay = self.backoff * 2**attempt
                if failure.retry_after is not None:
                    delay = max(delay, failure.retry_after)
                log.info(
                    "Google speech failed (%s); try %d of %d in %.1f s",
                    failure.detail,
                    attempt + 2,
                    tries,
                    delay,
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def check(self) -> str | None:
        """One tiny real synthesis with a short timeout and no retries: None if Google speaks."""
        probe = GoogleEngine(
            lang=self.lang,
            tld=self.tld,
            slow=self.slow,
            timeout=min(self.timeout, CHECK_TIMEOUT),
            retries=0,
            sleep=self.sleep,
            request_slots=self.request_slots,
        )
        try:
            probe.synthesize("test")
        except SynthesisError as error:
            return str(error)
        return None

    # -- one try -------------------------------------------------------------------------------

    def _try_once(self, text: str) -> bytes:
        """One synthesis of the whole text (every part gTTS splits it into); raises _Failure."""
        try:
            tts = gTTS(
                text, lang=self.lang, tld=self.tld, slow=self.slow, lang_check=False, timeout=self.timeout,
                tokenizer_func=split_for_google,
            )  # fmt: skip
            parts = len(tts.get_bodies())
        except AssertionError:  # gTTS asserts when nothing speakable is left after cleaning
            parts = 0
        except Exception as error:
            raise SynthesisError(
                f"gTTS could not prepare {_short(text)}: {_one_line(error)}"
            ) from None
        if parts == 0:
            raise SynthesisError(f"nothing to speak in {_short(text)} (only punctuation or spaces)")

        buffer = io.BytesIO()
        chunks = 0
        with self.request_slots, warnings.catch_warnings():
            # gTTS sends verify=False; urllib3 would warn on every request. gTTS also silences that
            # warning process-wide by itself; catch_warnings keeps that change from leaking out.
            warnings.simplefilter("ignore", InsecureRequestWarning)
            stream = tts.stream()
            try:
                while True:
                    if chunks < parts:
                        _wait_for_turn()  # each next() of the stream sends the next part's request
                    try:
                        chunk = next(stream)
                    except StopIteration:
                        break
                    if not _looks_like_mp3(chunk):
                        raise _Failure(
                            "noaudio", "Google answered with something that is not MP3 audio"
                        )
                    buffer.write(chunk)
                    chunks += 1
            except _Failure:
                raise
            except gTTSError as error:
                raise _classify(error, self.tld) from None
            except Exception as error:  # a changed endpoint or a gTTS bug: never a traceback
                raise SynthesisError(f"gTTS failed on {_short(text)}: {_one_line(error)}") from None
            finally:
                stream.close()
        if chunks < parts:  # gTTS 2.5 on a 200 answer without audio yields nothing, raises nothing
            raise _Failure("noaudio", "Google answered without audio (no audio in the answer)")
        return buffer.getvalue()

    def _give_up_message(self, failure: _Failure, tries: int) -> str:
        after = f"after {tries} {'try' if tries == 1 else 'tries'}"
        if failure.kind == "rate":
            return (
                f"Google keeps refusing ({failure.detail}) {after}; wait a while, {FALLBACK_HINT}"
            )
        if failure.kind == "server":
            return f"Google's speech service keeps failing ({failure.detail}) {after}; try again later, {FALLBACK_HINT}"
        if failure.kind == "noaudio":
            return (
                f"{failure.detail} {after}; the unofficial endpoint gTTS uses may have changed "
                f"(try `pip install -U gTTS`), {FALLBACK_HINT}"
            )
        if failure.kind == "timeout":
            return (
                f"Google did not answer within {self.timeout:g} s {after}; the network is slow or "
                f"blocked, raise the voice's timeout, {FALLBACK_HINT}"
            )
        if failure.kind == "status":
            return f"Google rejected the request ({failure.detail}); try `pip install -U gTTS`, {FALLBACK_HINT}"
        return f"cannot reach Google Translate ({failure.detail}); check the internet connection and proxy, {FALLBACK_HINT}"

    def _warn_about_cuts(self, text: str) -> None:
        """gTTS cuts a stretch of more than 100 characters without punctuation at a space."""
        if len(text) <= GOOGLE_MAX_CHARS:
            return
        for piece in split_for_google(text):
            if len(piece) > GOOGLE_MAX_CHARS:
                log.warning(
                    "Google speaks at most %d characters at a time and %r has no punctuation to split "
                    "at, so it is cut mid-sentence; add a comma or full stop",
                    GOOGLE_MAX_CHARS,
                    _short(piece, 60),
                )
                return


def _classify(error: gTTSError, tld: str) -> _Failure:
    """What went wrong in gTTS: the HTTP answer it kept, else the requests error it raised from."""
    response = getattr(error, "rsp", None)
    if response is not None:
        status = int(response.status_code)
        retry_after = _retry_after(response.headers.get("Retry-After"))
        reason = response.reason or ""
        if status == 200:
            return _Failure("noaudio", "Google answered without audio (HTTP 200, no audio stream)")
        if status == 429:
            return _Failure("rate", "HTTP 429, rate limited", status, retry_after)
        if status >= 500:
            return _Failure("server", f"HTTP {status}, server error", status, retry_after)
        if status in _RETRYABLE_STATUS:
            return _Failure("timeout", f"HTTP {status}, request timeout", status, retry_after)
        cause = {
            403: "bad token or upstream API change",
            404: "unknown address or unsupported tld",
        }.get(status, reason)
        return _Failure("status", f"HTTP {status}, {cause}", status)

    cause = error.__context__  # gTTS raises gTTSError inside `except RequestException`
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return _Failure("connect", "connecting timed out")
    if isinstance(cause, requests.exceptions.Timeout):
        return _Failure("timeout", "timed out")
    text = str(cause) if cause is not None else ""
    proxy = urllib.request.getproxies().get("https")
    via = f" via proxy {proxy}" if proxy else ""
    if isinstance(cause, requests.exceptions.ProxyError) and proxy:
        if "refused" in text.lower() or "Failed to establish" in text:
            return _Failure("connect", f"the proxy {proxy} refuses connections")
        return _Failure("connect", f"the proxy {proxy} failed: {_one_line(cause, 80)}")
    if (
        "NameResolutionError" in text
        or "Name or service not known" in text
        or "getaddrinfo" in text
    ):
        return _Failure("connect", f"DNS lookup of translate.google.{tld} failed: no network?")
    if "refused" in text.lower():
        return _Failure("connect", f"connection refused{via}")
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return _Failure("connect", f"the connection was closed without an answer{via}")
    if "reset" in text.lower():
        return _Failure("connect", f"the connection was reset{via}")
    if isinstance(cause, requests.exceptions.ConnectionError):
        return _Failure("connect", f"connection failed{via}: {_one_line(cause, 80)}")
    if cause is not None:
        return _Failure("connect", _one_line(cause, 120))
    return _Failure("connect", _one_line(error, 120))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date), None when absent or odd."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _looks_like_mp3(data: bytes) -> bool:
    """Non-empty and starting with an ID3 tag or an MPEG audio frame sync (0xFFE)."""
    return len(data) >= 4 and (data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _one_line(error: object, limit: int = 160) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
