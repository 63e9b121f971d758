"""A stand-in for Google Translate's speech endpoint on 127.0.0.1, so gTTS runs unmodified in tests.

gTTS sends its requests through the proxy named by HTTPS_PROXY/https_proxy and with verify=False.
This fake is such a proxy: it answers CONNECT for translate.google.*:443, terminates TLS itself with
a throwaway certificate (trustme), reads the inner POST to /_/TranslateWebserverUi/data/batchexecute
and answers in the format gTTS 2.5 parses, with real MP3 audio made by the ffmpeg that pip installs.
The whole real path (gTTS, requests, urllib3, proxy tunnel, TLS, HTTP) is exercised; nothing is
patched.

Usage (the fixture is registered in tests/conftest.py)::

    def test_something(fake_google):
        fake_google.mode = "429"           # every request answers HTTP 429
        fake_google.fail_first(2, "500")   # the next 2 requests fail with 500, then `mode` again
        ...
        assert fake_google.count == 3
        assert fake_google.texts == ["Adem in.", "Adem in.", "Adem in."]

Modes:
    "ok"        200 with real MP3 audio; the tone lasts 60 ms per character (capped), so different
                texts give different audio.
    "429"       HTTP 429 Too Many Requests (with a Retry-After header when `retry_after` is set).
    "500"       HTTP 500 Internal Server Error.
    "hang"      reads the request, then says nothing for `hang_seconds` (at most 5 s), then closes.
    "empty"     200 whose body has no audio line at all: gTTS 2.5 writes nothing and raises nothing.
    "nullaudio" 200 whose audio line carries no audio: gTTS raises gTTSError (status 200).
    "junk"      200 with an audio line whose base64 is not MP3.
    "refuse"    closes the connection right after the CONNECT line, without answering.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import functools
import json
import re
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

MODES = ("ok", "429", "500", "hang", "empty", "nullaudio", "junk", "refuse")

MAX_HANG_SECONDS = 5.0
"""A hanging answer never outlives this, so a test can never wait forever on the fake."""

IO_TIMEOUT = 5.0
"""Every socket read and write of the fake gives up after this long."""

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024

MP3_RATE = 24_000
"""Google's speech comes as mono MP3 at 24 kHz, 32 kbit/s, without an ID3 tag."""

MS_PER_CHAR = 60
MAX_TONE_MS = 3_000
MIN_TONE_MS = 100
PAD_MS = 200
"""Silence before and after the tone, like the breath Google leaves around its speech."""

_HOST = re.compile(r"translate\.google\.[a-z]{2,3}(\.[a-z]{2})?")


def tone_ms_for(text: str) -> int:
    """The tone length the fake speaks for `text`: 60 ms a character, 0.1 s to 3 s."""
    return max(MIN_TONE_MS, min(MAX_TONE_MS, MS_PER_CHAR * len(text)))


def expected_duration_ms(text: str) -> int:
    """What the fake's audio for `text` lasts (before MP3 encoder padding)."""
    return tone_ms_for(text) + 2 * PAD_MS


@functools.cache
def tone_mp3(tone_ms: int) -> bytes:
    """A real MP3: PAD_MS silence, a 300 Hz sine of `tone_ms`, PAD_MS silence; mono 24 kHz."""
    from rustpunt.audio.pcm import ffmpeg_exe

    pad = np.zeros(PAD_MS * MP3_RATE // 1000, dtype=np.float64)
    t = np.arange(tone_ms * MP3_RATE // 1000) / MP3_RATE
    tone = 0.5 * np.sin(2 * np.pi * 300.0 * t)
    ramp = min(len(tone) // 2, 5 * MP3_RATE // 1000)  # 5 ms fades: no clicks
    if ramp:
        tone[:ramp] *= np.linspace(0.0, 1.0, ramp)
        tone[-ramp:] *= np.linspace(1.0, 0.0, ramp)
    pcm = (np.concatenate([pad, tone, pad]) * 32767).astype("<i2").tobytes()
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "s16le", "-ar", str(MP3_RATE), "-ac", "1", "-i", "pipe:0",
        "-c:a", "libmp3lame", "-b:a", "32k", "-ar", str(MP3_RATE), "-ac", "1",
        "-id3v2_version", "0", "-write_xing", "0", "-f", "mp3", "pipe:1",
    ]  # fmt: skip
    result = subprocess.run(command, input=pcm, capture_output=True, timeout=30, check=True)
    return result.stdout


def _batchexecute_body(line: str) -> bytes:
    """The framing Google wraps around a batchexecute answer: an XSSI guard, then sized chunks."""
    tail = f'[["e",4,null,null,{len(line) + 60}]]'
    return f")]}}'\n\n{len(line)}\n{line}\n{len(tail)}\n{tail}\n".encode()


def audio_answer(audio: bytes) -> bytes:
    """A 200 body that gTTS 2.5 decodes to `audio` (regex `jQ1olc","\\[\\\\"(.*)\\\\"]`)."""
    payload = json.dumps([base64.b64encode(audio).decode("ascii")])
    envelope = [
        ["wrb.fr", "jQ1olc", payload, None, None, None, "generic"],
        ["di", 38],
        ["af.httprm", 37, "-1", 11],
    ]
    return _batchexecute_body(json.dumps(envelope, separators=(",", ":")))


def null_audio_answer() -> bytes:
    """A 200 body whose jQ1olc line has no audio: gTTS raises gTTSError with the 200 response."""
    envelope = [
        ["wrb.fr", "jQ1olc", None, None, None, [3], "generic"],
        ["di", 12],
        ["af.httprm", 11, "-1", 7],
    ]
    return _batchexecute_body(json.dumps(envelope, separators=(",", ":")))


def empty_answer() -> bytes:
    """A 200 body without any jQ1olc line: gTTS 2.5 yields nothing and raises nothing."""
    envelope = [["di", 12], ["af.httprm", 11, "-1", 7]]
    return _batchexecute_body(json.dumps(envelope, separators=(",", ":")))


def parse_f_req(body: bytes) -> tuple[str | None, str | None, bool | None]:
    """Text, language and slowness from gTTS's form body `f.req=<quoted JSON>&`."""
    try:
        form = urllib.parse.parse_qs(body.decode("utf-8"))
        rpc = json.loads(form["f.req"][0])
        text, lang, speed = json.loads(rpc[0][0][1])[:3]
        return text, lang, bool(speed)
    except (KeyError, IndexError, TypeError, ValueError):
        return None, None, None


@dataclass
class SeenRequest:
    """One connection to the fake, as far as it got."""

    host: str
    port: int
    mode: str
    started: float
    """time.monotonic() when the CONNECT line arrived."""
    method: str | None = None
    path: str | None = None
    text: str | None = None
    lang: str | None = None
    slow: bool | None = None
    answered: float | None = None
    """time.monotonic() when the fake answered, or closed a "hang" without answering."""


@functools.lru_cache(maxsize=1)
def _server_context() -> ssl.SSLContext:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("translate.google.com", "translate.google.nl", "translate.google.be")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


class FakeGoogle:
    """The proxy-and-Google stand-in; start() it, point HTTPS_PROXY at `url`, stop() it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._mode = "ok"
        self._script: deque[str] = deque()
        self._requests: list[SeenRequest] = []
        self._handlers: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self.retry_after: str | None = None
        """Sent as Retry-After on 429 and 500 answers when set (seconds, as text)."""
        self.hang_seconds = MAX_HANG_SECONDS
        """How long "hang" keeps silent; capped at MAX_HANG_SECONDS."""
        self.answer_delay = 0.0
        """Seconds "ok" takes to answer, like a real server: lets tests see requests overlap."""
        self.errors: list[BaseException] = []
        """Unexpected failures inside the fake itself; the fixture fails the test when any."""
        self.port = 0

    # -- control -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._mode = _checked_mode(value)

    def fail_first(self, count: int, mode: str = "429") -> None:
        """The next `count` requests get `mode`; after them, `self.mode` applies again."""
        mode = _checked_mode(mode)
        with self._lock:
            self._script.extend([mode] * count)

    def reset(self) -> None:
        """Back to mode "ok", no scripted failures, nothing recorded."""
        with self._lock:
            self._mode = "ok"
            self._script.clear()
            self._requests.clear()
            self.retry_after = None
            self.hang_seconds = MAX_HANG_SECONDS

    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def texts(self) -> list[str | None]:
        """The text of every request, in order (None where a request never got that far)."""
        return [seen.text for seen in self.requests]

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> FakeGoogle:
        _server_context()  # make the certificate before the first client arrives
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.05)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="fakegoogle-accept", daemon=True
        )
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut open connections, wait (bounded) for every thread to end."""
        self._stopping.set()
        if self._acceptor is not None:
            self._acceptor.join(IO_TIMEOUT)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            still_open = list(self._open)
            handlers = list(self._handlers)
        for sock in still_open:
            # the plain socket call: SSLSocket.shutdown would race with the handler's reads
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        deadline = time.monotonic() + IO_TIMEOUT + 1
        for handler in handlers:
            handler.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            handler = threading.Thread(
                target=self._serve, args=(conn,), name="fakegoogle-conn", daemon=True
            )
            with self._lock:
                self._handlers.append(handler)
            handler.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(IO_TIMEOUT)
                self._track(conn)
                try:
                    self._handle(conn)
                finally:
                    self._untrack(conn)
        except OSError:
            pass  # the client went away (timeouts, aborted TLS): normal in these tests
        except Exception as error:  # a bug in the fake: recorded, reported by the fixture
            self.errors.append(error)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)
        if self._stopping.is_set():
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def _next_mode(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else self._mode

    def _handle(self, conn: socket.socket) -> None:
        head, _ = _read_head(conn, b"")
        if head is None:
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            conn.sendall(
                b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        host, _, port_text = parts[1].rpartition(":")
        mode = self._next_mode()
        seen = SeenRequest(host=host, port=int(port_text or 0), mode=mode, started=time.monotonic())
        with self._lock:
            self._requests.append(seen)
        if not _HOST.fullmatch(host) or port_text != "443":
            conn.sendall(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        if mode == "refuse":
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with _server_context().wrap_socket(conn, server_side=True) as tls:
            self._track(tls)
            try:
                self._answer(tls, seen)
            finally:
                self._untrack(tls)

    def _answer(self, tls: ssl.SSLSocket, seen: SeenRequest) -> None:
        head, rest = _read_head(tls, b"")
        if head is None:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = [*lines[0].split(" ", 2), "", ""][:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = min(int(headers.get("content-length", "0") or 0), MAX_BODY_BYTES)
        body = rest
        while len(body) < length:
            chunk = tls.recv(length - len(body))
            if not chunk:
                break
            body += chunk
        seen.method, seen.path = method, path
        seen.text, seen.lang, seen.slow = parse_f_req(body[:length])

        mode = seen.mode
        try:
            self._respond_in_mode(tls, seen, mode, method, path)
        finally:
            seen.answered = time.monotonic()

    def _respond_in_mode(
        self, tls: ssl.SSLSocket, seen: SeenRequest, mode: str, method: str, path: str
    ) -> None:
        if method != "POST" or not path.startswith("/_/TranslateWebserverUi/data/batchexecute"):
            _respond(tls, 404, b"Not Found")
        elif mode == "hang":
            self._stopping.wait(min(self.hang_seconds, MAX_HANG_SECONDS))
        elif mode == "429":
            _respond(tls, 429, b"Too Many Requests", self._retry_headers())
        elif mode == "500":
            _respond(tls, 500, b"Internal Server Error", self._retry_headers())
        elif mode == "empty":
            _respond(tls, 200, empty_answer())
        elif mode == "nullaudio":
            _respond(tls, 200, null_audio_answer())
        elif mode == "junk":
            _respond(tls, 200, audio_answer(b"<html>this is not audio</html>"))
        else:
            self._stopping.wait(min(self.answer_delay, MAX_HANG_SECONDS))
            _respond(tls, 200, audio_answer(tone_mp3(tone_ms_for(seen.text or ""))))

    def _retry_headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after} if self.retry_after is not None else {}


_REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}


def _respond(
    sock: socket.socket, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    fields = {
        "Content-Type": "application/json; charset=utf-8" if status == 200 else "text/plain",
        "Content-Length": str(len(body)),
        "Connection": "close",
        **(headers or {}),
    }
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in fields.items()) + "\r\n"
    sock.sendall(head.encode("latin-1") + body)


def _read_head(sock: socket.socket, data: bytes) -> tuple[bytes | None, bytes]:
    """Read up to the blank line ending an HTTP head; (None, b"") if the peer leaves early."""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            return None, b""
        chunk = sock.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _checked_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown fake Google mode {mode!r}; modes: {', '.join(MODES)}")
    return mode


@functools.cache
def _dead_port() -> socket.socket:
    """A port this process keeps bound and never listens on: connecting is refused at once.
    Kept bound (not bound and released) so that no other test worker's server, such as its
    FakeGoogle, can be given the same port and answer where a test expects nobody."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    atexit.register(probe.close)  # held for the whole session, closed at its end
    return probe


def dead_proxy_url() -> str:
    """An http:// URL on 127.0.0.1 where nothing listens (a port held bound, never listening)."""
    return f"http://127.0.0.1:{_dead_port().getsockname()[1]}"


@pytest.fixture
def fake_google(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    """A running FakeGoogle; HTTPS_PROXY and https_proxy point at it for the test's duration."""
    fake = FakeGoogle().start()
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, fake.url)
    for name in ("ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield fake
    finally:
        fake.stop()
    if fake.errors:
        raise AssertionError(f"the fake Google failed inside: {fake.errors[0]!r}")
