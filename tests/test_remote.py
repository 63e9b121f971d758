"""The shared clip cache (--cache-url): a moto server on 127.0.0.1 stands in for S3, reached
through the real s3fs and botocore; a tiny local server stands in for an S3 that answers 500 or
never answers."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import run_main, write_script

SCRIPT = "title: Gedeeld\nsteps: [Adem rustig in., Adem langzaam uit., Ontspan je schouders.]\n"
SECRET = "s3cr3t-never-shown"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """`moto_server` on a free port of 127.0.0.1, for the whole session."""
    port = _free_port()
    server = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        else:
            pytest.fail("moto_server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _aws_env(monkeypatch: pytest.MonkeyPatch, endpoint: str, tmp_path: Path) -> None:
    """Dummy credentials where botocore looks for them, and nothing of the developer's own."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "RUSTPUNT_CACHE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy"):  # the hermetic dead proxy is for Google only
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.fixture
def bucket(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: Any
) -> str:
    """A fresh bucket on the moto server; its URL with a prefix, as a team would give it."""
    import s3fs

    _aws_env(monkeypatch, moto_endpoint, tmp_path)
    name = f"team-{request.node.name.replace('_', '-')[:40].lower()}-{os.getpid()}"
    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(name)
    return f"s3://{name}/rustpunt"


def _build(machine: Path, script: Path, *extra: str) -> tuple[int, dict, str]:
    """One "machine": its own local cache and output folder."""
    done = run_main(
        "build", script, "-o", machine / "out", "--cache-dir", machine / "cache",
        "--voice", "nl-espeak", "-j", "1", "--json", *extra,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout) if done.stdout else {}, done.stderr


def _s3() -> object:
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True)


def test_a_second_machine_builds_from_the_shared_cache_without_speaking(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = write_script(tmp_path / "scripts", "gedeeld.yaml", SCRIPT)
    code, first, _ = _build(tmp_path / "laptop", script, "--cache-url", bucket)
    assert code == 0 and first["clips"] == {"spoken": 3, "local_hits": 0, "remote_hits": 0}
    stored = _s3().find(bucket.removeprefix("s3://"))  # type: ignore[attr-defined]
    assert sum(p.endswith(".clip") for p in stored) == 3
    assert any(p.endswith(".mp3part") for p in stored)

    monkeypatch.setenv("RUSTPUNT_CACHE_URL", bucket)  # the environment's URL, this time
    code, second, _ = _build(tmp_path / "ci-runner", script)
    assert code == 0
    entry = second["scripts"][0]
    assert (entry["synthesized"], entry["from_cache"], entry["from_remote"]) == (0, 0, 3)
    for suffix in (".mp3", ".vtt"):
        name = f"gedeeld{suffix}"
        made = (tmp_path / "ci-runner" / "out" / name).read_bytes()
        assert made == (tmp_path / "laptop" / "out" / name).read_bytes()
    stats = run_main("cache", "--stats", "--json", "--cache-dir", tmp_path / "ci-runner" / "cache")
    assert json.loads(stats.stdout)["stats"] == {"spoken": 0, "local_hits": 0, "remote_hits": 3}

    # up to date: the local cache answers, and no remote call is made (a dead one, --strict)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    code, again, err = _build(tmp_path / "ci-runner", script, "--strict")
    assert code == 0, err
    assert again["up_to_date"] == 1
    for found in (tmp_path / "ci-runner").rglob("*"):  # credentials are never written down
        assert not found.is_file() or SECRET.encode() not in found.read_bytes()


def test_a_damaged_remote_entry_is_spoken_again_and_replaced(tmp_path: Path, bucket: str) -> None:
    script = write_script(tmp_path / "scripts", "gedeeld.yaml", SCRIPT)
    assert _build(tmp_path / "laptop", script, "--cache-url", bucket)[0] == 0
    fs = _s3()
    clips = sorted(p for p in fs.find(bucket.removeprefix("s3://")) if p.endswith(".clip"))  # type: ignore[attr-defined]
    good = fs.cat_file(clips[0])  # type: ignore[attr-defined]
    fs.pipe_file(clips[0], good[:-100] + bytes(100 - 1) + b"\x01")  # type: ignore[attr-defined]

    code, second, _ = _build(tmp_path / "ci-runner", script, "--cache-url", bucket)
    assert code == 0
    entry = second["scripts"][0]
    assert (entry["synthesized"], entry["from_remote"]) == (1, 2)
    healed = fs.cat_file(clips[0])  # type: ignore[attr-defined]
    assert healed != good[:-100] + bytes(99) + b"\x01"  # written again, whole
    from rustpunt.voice.clipcache import _decode

    assert _decode(healed) is not None


def test_a_shared_folder_works_as_the_remote_cache(tmp_path: Path) -> None:
    """file:// on a network share: entries written under a temporary name and moved."""
    script = write_script(tmp_path / "scripts", "gedeeld.yaml", SCRIPT)
    share = f"file://{tmp_path / 'share'}"
    assert _build(tmp_path / "one", script, "--cache-url", share)[0] == 0
    assert not list((tmp_path / "share").rglob(".*.part"))
    code, second, _ = _build(tmp_path / "two", script, "--cache-url", share)
    assert code == 0 and second["clips"]["spoken"] == 0 and second["clips"]["remote_hits"] == 3


class _Refusing(http.server.BaseHTTPRequestHandler):
    """Every request answered 500, as an S3 having a bad day."""

    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"<Error><Code>InternalError</Code><Message>no</Message></Error>"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _refuse

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def _silent() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["refuses", "hangs"])
def test_a_remote_that_fails_leaves_the_build_to_the_local_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import rustpunt.remote as remote

    monkeypatch.setattr(remote, "TIMEOUT_SECONDS", 1.0)
    monkeypatch.setattr(remote, "READ_TIMEOUT_SECONDS", 0.5)
    script = write_script(tmp_path / "scripts", "gedeeld.yaml", SCRIPT)
    url = "s3://bucket/rustpunt"
    with _server(_Refusing) if kind == "refuses" else _silent() as endpoint:
        _aws_env(monkeypatch, endpoint, tmp_path)
        started = time.monotonic()
        code, report, err = _build(tmp_path / "laptop", script, "--cache-url", url)
        took = time.monotonic() - started
        assert code == 0, err
        assert report["built"] == 1 and report["clips"]["spoken"] == 3
        assert took < 15
        assert report["remote_cache_problem"].startswith("s3://bucket/rustpunt: ")
        strict = run_main(
            "build", script, "-o", tmp_path / "strict", "--cache-dir", tmp_path / "strict-cache",
            "--voice", "nl-espeak", "-j", "1", "--cache-url", url, "--strict",
        )  # fmt: skip
        plain = run_main(
            "build", script, "-o", tmp_path / "plain", "--cache-dir", tmp_path / "plain-cache",
            "--voice", "nl-espeak", "-j", "1", "--cache-url", url,
        )  # fmt: skip
    assert strict.returncode == 1 and "--strict forbids building without it" in strict.stderr
    assert plain.returncode == 0 and plain.stderr.count("Note: remote cache") == 1
    assert (tmp_path / "laptop" / "out" / "gedeeld.mp3").stat().st_size > 0


def test_urls_are_shown_without_their_secrets() -> None:
    from rustpunt.remote import redact

    assert redact("s3://key:secret@bucket/p") == "s3://***@bucket/p"
    assert redact("webdav://user:pw@host/dav?token=abc") == "webdav://***@host/dav?***"
    assert redact("file:///mnt/share/cache") == "file:///mnt/share/cache"


def test_a_urls_secret_stays_out_of_what_the_remote_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rustpunt.remote import RemoteCache, RemoteCacheError

    _aws_env(monkeypatch, f"http://127.0.0.1:{_free_port()}", tmp_path)
    url = f"s3://testing:{SECRET}@bucket/rustpunt"  # s3fs takes this for a bucket name: refused
    remote = RemoteCache(url)
    assert remote.fetch("clips", "ab" * 32, ".clip", lambda data: True) is None
    assert remote.problem is not None and SECRET not in remote.problem
    assert remote.problem.startswith("s3://***@bucket/rustpunt: ")
    with pytest.raises(RemoteCacheError) as refused:
        RemoteCache(url, strict=True).fetch("clips", "ab" * 32, ".clip", lambda data: True)
    assert SECRET not in str(refused.value)
