"""`rustpunt studio`: the watch (rustpunt.build.watch) and the review page (rustpunt.studio.review), served on
loopback, with every rebuild announced to the page as it happens.

- GET / is the review page in its live form: it listens to /events.
- GET /events is a Server-Sent Events stream: one JSON object per rebuilt script,
  {"script", "status", "changed_step", "start_ms", "error", "mp3"}, sent the moment the rebuild
  is done; the page reloads that session's audio and plays it from start_ms. Then, once the
  session's page data is made again (its loudness measured on the new file), an event named
  "session" carries it, and OUT/index.html is written again.
- Any other path is a file inside OUT: never outside it (no `..`, no hidden files, no symlink
  that leads out), with its content type and HTTP range requests (a player seeks by them).

The server answers in threads of its own; the watch runs in the main thread, where Ctrl-C and
SIGTERM stop it (rustpunt.build.pool.terminate_as_interrupt), and then the server is shut down.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import mimetypes
import os
import queue
import re
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from rustpunt.build.options import BuildStatus
from rustpunt.errors import shown
from rustpunt.files import read_json_object
from rustpunt.studio.review import in_folder, page_data, page_html, write_page

log = logging.getLogger(__name__)

LEAD_MS = 1000
"""A changed step is played from this long before it starts."""
PAUSE_TAIL_MS = 2000
"""A changed pause is played from this long before its end, into the next step."""
KEEPALIVE_SECONDS = 15.0
CONTENT_TYPES = {
    ".mp3": "audio/mpeg",
    ".vtt": "text/vtt; charset=utf-8",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/rss+xml",
    ".jpg": "image/jpeg",
    ".png": "image/png",
}


def first_change(
    old: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> tuple[int | None, int | None]:
    """(the first step that changed, where to play from) between two sidecars of a session.

    A changed text or spoken length plays from just before that step; a changed pause plays its
    last PAUSE_TAIL_MS into the next step. A changed intro plays from the start; nothing found
    (a tag, say): (None, None), the player stays where it is."""
    if old is None:
        return None, 0
    if _spoken(old.get("intro")) != _spoken(new.get("intro")):
        return None, 0
    old_steps, new_steps = old.get("steps") or [], new.get("steps") or []
    for before, after in zip(old_steps, new_steps):
        if _spoken(before) != _spoken(after):
            return after["step"], max(0, after["start_ms"] - LEAD_MS)
        pause_before, pause_after = before.get("pause") or {}, after.get("pause") or {}
        if pause_before.get("ms") != pause_after.get("ms") and pause_after:
            tail = max(pause_after["start_ms"], pause_after["end_ms"] - PAUSE_TAIL_MS)
            return after["step"], tail
    if len(new_steps) > len(old_steps):
        added = new_steps[len(old_steps)]
        return added["step"], max(0, added["start_ms"] - LEAD_MS)
    if len(new_steps) < len(old_steps) or _spoken(old.get("outro")) != _spoken(new.get("outro")):
        outro = new.get("outro")
        at = outro["start_ms"] if outro else new["duration_ms"]
        return None, max(0, at - LEAD_MS)
    return None, None


def _spoken(part: Mapping[str, Any] | None) -> Any:
    """What of a part tells its speech changed: its text and how long it is spoken."""
    if not part:
        return None
    return part.get("text"), part.get("speech_end_ms", part.get("end_ms", 0)) - part["start_ms"]


class Studio:
    """The output folder served, the pages' listeners, and what each session was last built as."""

    def __init__(
        self, output_dir: Path, *, measure_loudness: bool = True, cache_dir: Path | None = None
    ) -> None:
        self.output_dir = Path(output_dir)
        self.cache_dir = cache_dir  # where the build keeps the page's state (review.state_folder)
        self.root = os.path.realpath(self.output_dir)
        self.measure_loudness = measure_loudness
        self.listeners: list[queue.Queue[str | None]] = []
        self.lock = threading.Lock()
        self.sidecars: dict[str, dict[str, Any] | None] = {}
        self.page = page_html(self._data(), live=True)
        self.work: queue.Queue[str | None] = queue.Queue()
        self.worker = threading.Thread(target=self._refresh, daemon=True, name="review page")
        self.worker.start()
        self.events_sent = 0

    def _data(self) -> dict[str, Any]:
        page = self.output_dir / "index.html"
        return page_data(
            self.output_dir, page, measure_loudness=self.measure_loudness, cache_dir=self.cache_dir
        )

    def key(self, mp3: Path) -> str:
        """The session's key on the page: its MP3's path in the output folder."""
        return in_folder(mp3, self.output_dir)

    def remember(self, mp3_key: str) -> None:
        """Keep a session's sidecar as built, to tell what its next rebuild changed."""
        self.sidecars[mp3_key] = read_json_object((self.output_dir / mp3_key).with_suffix(".json"))

    def remember_all(self) -> None:
        from rustpunt.studio.review import sidecars

        for sidecar in sidecars(self.output_dir):
            self.remember(self.key(sidecar.with_suffix(".mp3")))

    # ----------------------------------------------------------------- events

    def rebuilt(
        self, script: Path, mp3: Path, status: BuildStatus, error: str | None
    ) -> dict[str, Any]:
        """Announce one rebuild to every page now; refresh the page's data after."""
        key = self.key(mp3)
        changed_step, start_ms = None, None
        if status == BuildStatus.BUILT:
            new = read_json_object(mp3.with_suffix(".json"))
            if new is not None:
                changed_step, start_ms = first_change(self.sidecars.get(key), new)
                self.sidecars[key] = new
        event = {
            "script": shown(script),
            "status": status.value,
            "changed_step": changed_step,
            "start_ms": start_ms,
            "error": error,
            "mp3": key,
        }
        self.send(json.dumps(event, ensure_ascii=False))
        return event

    def refresh(self, keys: list[str]) -> None:
        """Make the page data of these sessions again, in the background (after the build
        record of their round is written)."""
        for key in keys:
            self.work.put(key)

    def send(self, message: str, name: str | None = None) -> None:
        text = (f"event: {name}\n" if name else "") + "".join(
            f"data: {line}\n" for line in message.split("\n")
        )
        with self.lock:
            for listener in self.listeners:
                listener.put(text + "\n")
            self.events_sent += 1

    def _refresh(self) -> None:
        """The page data of rebuilt sessions (loudness measured on the new file), sent as a
        "session" event, and the pages (the live one and OUT/index.html) written again."""
        while True:
            key = self.work.get()
            if key is None:
                return
            keys = {key}
            with contextlib.suppress(queue.Empty):
                while True:  # several rebuilds in a row: one refresh
                    more = self.work.get_nowait()
                    if more is None:
                        return
                    keys.add(more)
            try:
                data = self._data()
                self.page = page_html(data, live=True)
                for session in data["sessions"]:
                    if session["key"] in keys:
                        self.send(json.dumps(session, ensure_ascii=False), name="session")
                write_page(
                    self.output_dir,
                    measure_loudness=self.measure_loudness,
                    cache_dir=self.cache_dir,
                )
            except Exception:  # the page lags behind; the next rebuild tries again
                log.warning("cannot refresh the review page", exc_info=True)

    def listen(self) -> queue.Queue[str | None]:
        listener: queue.Queue[str | None] = queue.Queue()
        with self.lock:
            self.listeners.append(listener)
        return listener

    def forget(self, listener: queue.Queue[str | None]) -> None:
        with self.lock:
            if listener in self.listeners:
                self.listeners.remove(listener)

    def close(self) -> None:
        with self.lock:
            for listener in self.listeners:
                listener.put(None)
        self.work.put(None)

    # ----------------------------------------------------------------- files

    def file_for(self, url_path: str) -> Path | None:
        """The file inside OUT that a URL path names, or None: nothing outside OUT, no hidden
        file or folder (the build's own state), no folder."""
        parts = [part for part in unquote(url_path).split("/") if part]
        if any(part in ("..", ".") or part.startswith(".") or "\\" in part for part in parts):
            return None
        if not parts:
            return None
        candidate = os.path.realpath(os.path.join(self.root, *parts))
        if not candidate.startswith(self.root + os.sep) or not os.path.isfile(candidate):
            return None
        return Path(candidate)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """(first, last) byte of a single `Range: bytes=...` request; None: the whole file (no
    header, or several ranges); False: not satisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return start, end


def handler_for(studio: Studio) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "rustpunt-studio"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def do_HEAD(self) -> None:
            self.do_GET(body=False)

        def do_GET(self, body: bool = True) -> None:
            path = urlsplit(self.path).path
            if path in ("/", "/index.html"):
                self._send_bytes(studio.page.encode("utf-8"), CONTENT_TYPES[".html"], body)
            elif path == "/events":
                self._events()
            else:
                found = studio.file_for(path)
                if found is None:
                    self._send_bytes(b"not found\n", "text/plain; charset=utf-8", body, 404)
                else:
                    self._send_file(found, body)

        def _send_bytes(self, data: bytes, kind: str, body: bool, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if body:
                self.wfile.write(data)

        def _send_file(self, path: Path, body: bool) -> None:
            kind = CONTENT_TYPES.get(path.suffix.lower()) or (
                mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            try:
                handle = open(path, "rb")  # noqa: SIM115 (closed below)
            except OSError:
                self._send_bytes(b"not found\n", "text/plain; charset=utf-8", body, 404)
                return
            with handle:
                size = os.fstat(handle.fileno()).st_size
                wanted = byte_range(self.headers.get("Range"), size)
                if wanted is False:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                first, last = wanted if isinstance(wanted, tuple) else (0, size - 1)
                self.send_response(206 if isinstance(wanted, tuple) else 200)
                self.send_header("Content-Type", kind)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(max(0, last - first + 1)))
                if isinstance(wanted, tuple):
                    self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if not body:
                    return
                handle.seek(first)
                left = last - first + 1
                with contextlib.suppress(ConnectionError):
                    while left > 0:
                        chunk = handle.read(min(left, 1 << 16))
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        left -= len(chunk)

        def _events(self) -> None:
            listener = studio.listen()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"retry: 1000\n: connected\n\n")
                self.wfile.flush()
                while True:
                    try:
                        message = listener.get(timeout=KEEPALIVE_SECONDS)
                    except queue.Empty:
                        message = ": keep-alive\n\n"
                    if message is None:
                        return
                    self.wfile.write(message.encode("utf-8"))
                    self.wfile.flush()
            except (ConnectionError, OSError):
                return
            finally:
                studio.forget(listener)
                self.close_connection = True

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Server6(Server):
    address_family = socket.AF_INET6


def serve(studio: Studio, host: str, port: int) -> tuple[Server, threading.Thread]:
    """Start answering on host:port in a thread; returns the server (its port: server_port)."""
    kind = Server6 if ":" in host else Server
    server = kind((host, port), handler_for(studio))
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="studio server")
    thread.start()
    return server, thread


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
