"""A second cache level on object storage or a network share: what one machine spoke or encoded,
another one reads instead of speaking it again (`--cache-url`, `RUSTPUNT_CACHE_URL`).

The local cache stays the first level: the remote one is asked only when an entry is absent
locally (a no-op rebuild makes no remote call, and does not even import fsspec), and what it
gives is checked (the entry's own checksum) and kept locally. What this machine speaks or
encodes is written there too, by background threads while the build goes on; every job waits
for its uploads before it counts as done (`flush`), so nothing is lost when the process ends.

Entries are content-addressed and never change meaning, so two machines writing one key at
once is harmless: each writes a whole, valid entry. A reader never sees half an entry: object
stores (S3, GCS, Azure) make a PUT visible whole or not at all; elsewhere (a `file://` share,
WebDAV) an entry is written under a temporary name and moved into place; and every entry is
verified when read, so even a damaged one is only a miss.

A remote that cannot be reached or refuses (credentials, 5xx, a timeout) is given up for the
rest of the process after one failure: the build goes on with the local cache, and the report
says so once. With --strict that failure is an error instead.

Credentials come from the backend's usual places (AWS_* variables, ~/.aws, GOOGLE_APPLICATION_
CREDENTIALS...); a URL's user:password is never shown (`redact`), and nothing of it is written
into the cache or a sidecar.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rustpunt.errors import RustpuntError

log = logging.getLogger(__name__)

REMOTE_ENV = "RUSTPUNT_CACHE_URL"
TIMEOUT_SECONDS = 8.0
"""The longest one remote call may take, whatever the backend (a hung share, a silent server)."""
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 5.0
ATTEMPTS = 2
"""Tries of one S3 request (botocore retries 5xx and throttling itself, with backoff)."""
THREADS = 4
"""Background uploads at once per process."""
ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})
"""Backends whose single PUT appears whole or not at all: written in place, no temporary key."""


class RemoteCacheError(RustpuntError):
    """The remote cache cannot be used and --strict forbids going on without it."""


def redact(url: str) -> str:
    """The URL without a password or token: `s3://key:secret@bucket` -> `s3://***@bucket`, and
    a query string (signatures, SAS tokens) -> `?***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a cache URL that cannot be parsed)"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class RemoteCache:
    """One remote cache URL, opened lazily in each process that uses it (a forked or unpickled
    copy opens its own connection and threads)."""

    def __init__(
        self, url: str, *, strict: bool = False, storage_options: dict[str, Any] | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.shown = redact(self.url)
        self.strict = strict
        self.storage_options = dict(storage_options or {})
        self.problem: str | None = None
        """Why this process stopped using the remote cache, once it did."""
        self.counts: Counter[str] = Counter()
        """"clips"/"mp3parts" read from the remote, "damaged" entries refused, "stored"."""
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._fs: Any = None
        self._root = ""
        self._queue: queue.Queue[Any] | None = None
        self._pending: list[Future[Any]] = []
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "shown": self.shown,
            "strict": self.strict,
            "storage_options": self.storage_options,
            "problem": self.problem,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.counts = Counter()
        self._reset()

    def __repr__(self) -> str:
        return f"RemoteCache({self.shown!r})"

    # ------------------------------------------------------------------ the connection

    def _filesystem(self) -> tuple[Any, str]:
        if self._pid != os.getpid():  # a forked worker: the parent's threads are not here
            self._reset()
        if self._fs is None:
            try:
                import fsspec
            except ImportError:
                raise RemoteCacheError(
                    f"--cache-url {self.shown}: fsspec is not installed; "
                    "pip install 'rustpunt[remote]'"
                ) from None
            protocol = urlsplit(self.url).scheme or "file"
            options = {**_backend_defaults(protocol), **self.storage_options}
            fs, root = fsspec.core.url_to_fs(self.url, **options)
            if hasattr(fs, "retries"):  # s3fs: its own retry loop on top of botocore's
                fs.retries = ATTEMPTS
            self._fs, self._root = fs, root.rstrip("/")
        return self._fs, self._root

    def _run(self, call: Callable[[], Any]) -> Future[Any]:
        """`call` on a background thread (daemon: a hung call never holds the process)."""
        if self._pid != os.getpid():
            self._reset()
        with self._lock:
            if self._queue is None:
                self._queue = queue.Queue()
                for number in range(THREADS):
                    threading.Thread(
                        target=_serve, args=(self._queue,), name=f"rustpunt-remote-{number}",
                        daemon=True,
                    ).start()  # fmt: skip
        future: Future[Any] = Future()
        self._queue.put((future, call))
        return future

    def _give_up(self, error: BaseException | str) -> None:
        """Stop using the remote for this process (or fail, with --strict)."""
        reason = error if isinstance(error, str) else _short(error)
        if isinstance(error, FutureTimeout):
            reason = f"no answer within {TIMEOUT_SECONDS:g} s"
        reason = self._scrub(reason)
        message = f"remote cache {self.shown} cannot be used ({reason})"
        if self.strict:
            raise RemoteCacheError(f"{message}; --strict forbids building without it")
        if self.problem is None:
            self.problem = f"{self.shown}: {reason}"
            log.debug("%s; building with the local cache only", message)

    def _scrub(self, text: str) -> str:
        """A backend's message without the URL's secrets (some quote the URL they were given)."""
        parts = urlsplit(self.url)
        secrets = [parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else "", parts.query]
        secrets += [parts.password or ""]
        for secret in sorted(filter(None, secrets), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def _path(self, kind: str, key: str, suffix: str) -> str:
        return f"{self._root}/{kind}/{key[:2]}/{key}{suffix}"

    # ------------------------------------------------------------------ reading and writing

    def fetch(
        self, kind: str, key: str, suffix: str, valid: Callable[[bytes], bool]
    ) -> bytes | None:
        """The remote entry's bytes when there is one and `valid` accepts it, else None (absent,
        damaged, or the remote unusable)."""
        if self.problem is not None:
            return None
        try:
            fs, _ = self._filesystem()
            path = self._path(kind, key, suffix)
            data = self._run(lambda: fs.cat_file(path)).result(timeout=TIMEOUT_SECONDS)
        except FileNotFoundError:
            return None
        except RemoteCacheError:
            raise
        except Exception as error:  # unreachable, refused, timed out: the local cache goes on
            self._give_up(error)
            return None
        if not valid(data):
            self.counts["damaged"] += 1
            log.info("remote cache entry %s/%s is damaged: made again", kind, key)
            return None
        self.counts[kind] += 1
        return bytes(data)

    def store(self, kind: str, key: str, suffix: str, data: bytes) -> None:
        """Write an entry in the background; `flush` waits for it."""
        if self.problem is not None:
            return
        try:
            fs, _ = self._filesystem()
        except RemoteCacheError:
            raise
        except Exception as error:
            self._give_up(error)
            return
        path = self._path(kind, key, suffix)
        atomic = urlsplit(self.url).scheme in ATOMIC_PUT
        self._pending.append(self._run(lambda: _write(fs, path, data, atomic)))
        self.counts["stored"] += 1

    def store_file(self, kind: str, key: str, suffix: str, local: Path) -> None:
        """store() of an entry just written locally."""
        if self.problem is not None:
            return
        try:
            data = local.read_bytes()
        except OSError:
            return
        self.store(kind, key, suffix, data)

    def flush(self) -> None:
        """Wait for every write begun in this process (a job is done only when its speech is
        in the shared cache too: a worker may be stopped as soon as it reports)."""
        if self._pid != os.getpid():
            self._reset()
        pending, self._pending = self._pending, []
        for future in pending:
            if self.problem is not None and not self.strict:
                future.cancel()
                continue
            try:
                future.result(timeout=TIMEOUT_SECONDS)
            except Exception as error:
                self._give_up(error)

    def probe(self) -> None:
        """One call, to find an unusable remote before the work starts (the cluster's client)."""
        if self.problem is not None:
            return
        try:
            fs, root = self._filesystem()
            self._run(lambda: fs.exists(f"{root}/clips")).result(timeout=TIMEOUT_SECONDS)
        except RemoteCacheError:
            raise
        except Exception as error:
            self._give_up(error)


def _serve(work: queue.Queue[Any]) -> None:
    while True:
        future, call = work.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(call())
        except BaseException as error:
            future.set_exception(error)


def _write(fs: Any, path: str, data: bytes, atomic: bool) -> None:
    """One entry, seen whole or not at all by readers."""
    if atomic:
        fs.pipe_file(path, data)
        return
    folder = path.rsplit("/", 1)[0]
    with suppress(Exception):
        fs.makedirs(folder, exist_ok=True)
    temporary = f"{folder}/.{uuid.uuid4().hex}.part"
    fs.pipe_file(temporary, data)
    try:
        fs.mv(temporary, path)
    except Exception:
        with suppress(Exception):
            fs.rm_file(temporary)
        raise


def _backend_defaults(protocol: str) -> dict[str, Any]:
    """Short timeouts and bounded retries where the backend lets us set them; credentials are
    left to the backend's own places (environment, config files, instance roles)."""
    if protocol in ("s3", "s3a"):
        options: dict[str, Any] = {
            "config_kwargs": {
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "read_timeout": READ_TIMEOUT_SECONDS,
                "retries": {"max_attempts": ATTEMPTS, "mode": "standard"},
            },
            "skip_instance_cache": True,
        }
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:  # botocore reads it too; s3fs's own session may not, in older releases
            options["endpoint_url"] = endpoint
        return options
    return {"skip_instance_cache": True}


def remote_from(url: str | None, *, strict: bool = False) -> RemoteCache | None:
    """--cache-url, else $RUSTPUNT_CACHE_URL, else no remote cache."""
    url = url or os.environ.get(REMOTE_ENV) or None
    return RemoteCache(url, strict=strict) if url else None


# ---------------------------------------------------------------------- what a build counts


STATS_FILE = "stats.json"


def read_stats(root: Path) -> dict[str, int]:
    """What builds with this local cache have counted: clips spoken, read locally, read remotely."""
    try:
        document = json.loads((root / STATS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: int(v) for k, v in document.items() if isinstance(v, int)}


def add_stats(root: Path, counts: dict[str, int]) -> None:
    """Add a build's counts to the cache folder's totals (best effort: a lost count costs nothing)."""
    if not any(counts.values()):
        return
    from rustpunt.files import write_bytes_atomic

    totals = Counter(read_stats(root))
    totals.update(counts)
    with suppress(OSError):
        write_bytes_atomic(root / STATS_FILE, json.dumps(dict(totals), indent=1).encode())
