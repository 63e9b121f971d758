"""`rustpunt voices install` against a real HTTP server on 127.0.0.1 serving a tiny Piper voice
and a catalogue: good, corrupt, truncated, missing and hanging downloads, and resuming."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import run_cli
from rustpunt.cli import cli
from rustpunt.voice.engines.piper import PiperEngine
from rustpunt.voice.models import (
    VoiceInstallError,
    find_model,
    install_voice,
    installed_models,
)
from tinypiper import catalogue_entry, config_document, model_bytes

VOICE = "nl_BE-tiny-medium"
FOLDER = "nl/nl_BE/tiny/medium"
MODEL = model_bytes()
CONFIG = json.dumps(config_document()).encode()


@dataclass
class Repository:
    """What the stand-in for the Piper voices repository serves, and how it misbehaves."""

    files: dict[str, bytes] = field(default_factory=dict)
    mode: dict[str, str] = field(default_factory=dict)
    """Per path: "ok", "404", "truncate" (closes halfway), "hang", "norange" (ignores Range)."""
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    """(path, Range header) of every request."""
    release: threading.Event = field(default_factory=threading.Event)


def make_handler(repository: Repository) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.lstrip("/")
            repository.requests.append((path, self.headers.get("Range")))
            mode = repository.mode.get(path, "ok")
            if path not in repository.files or mode == "404":
                self.send_error(404)
                return
            if mode == "hang":
                repository.release.wait(10)
                return
            data = repository.files[path]
            start = 0
            wanted = self.headers.get("Range")
            if wanted and mode != "norange":
                start = int(wanted.removeprefix("bytes=").split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode == "truncate":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def repository(monkeypatch: pytest.MonkeyPatch) -> Iterator[Repository]:
    repository = Repository()
    repository.files = {
        f"{FOLDER}/{VOICE}.onnx": MODEL,
        f"{FOLDER}/{VOICE}.onnx.json": CONFIG,
    }
    catalogue = {
        VOICE: catalogue_entry(VOICE, {f"{VOICE}.onnx": MODEL, f"{VOICE}.onnx.json": CONFIG}),
        "nl_BE-other-low": catalogue_entry("nl_BE-other-low", {"nl_BE-other-low.onnx": b"x"}),
    }
    repository.files["voices.json"] = json.dumps(catalogue).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(repository))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    monkeypatch.setenv("RUSTPUNT_PIPER_URL", f"http://127.0.0.1:{server.server_port}")
    try:
        yield repository
    finally:
        repository.release.set()
        server.shutdown()
        server.server_close()


def set_catalogue(repository: Repository, **facts: object) -> None:
    catalogue = json.loads(repository.files["voices.json"])
    catalogue[VOICE]["files"][f"{FOLDER}/{VOICE}.onnx"].update(facts)
    repository.files["voices.json"] = json.dumps(catalogue).encode()


def nothing_installed(folder: Path) -> None:
    assert find_model(VOICE, [folder]) is None
    assert installed_models([folder]) == []
    assert not (folder / f"{VOICE}.onnx").exists()


def test_a_good_download_is_installed_and_speaks(repository: Repository, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    seen: list[tuple[int, int]] = []
    files = install_voice(
        VOICE, folder=tmp_path, progress=lambda done, total: seen.append((done, total))
    )
    assert files.model.read_bytes() == MODEL
    assert files.config.read_bytes() == CONFIG
    assert find_model(VOICE, [tmp_path]) == files
    assert seen[-1] == (len(MODEL) + len(CONFIG),) * 2
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{VOICE}.onnx", f"{VOICE}.onnx.json"]
    monkeypatch.setenv("RUSTPUNT_VOICE_MODELS", str(tmp_path))
    assert PiperEngine(voice=VOICE).synthesize("Adem in.").sample_rate == 22050


def test_a_wrong_checksum_leaves_nothing(repository: Repository, tmp_path: Path) -> None:
    set_catalogue(repository, md5_digest=hashlib.md5(b"another model").hexdigest())
    with pytest.raises(VoiceInstallError, match="MD5 checksum does not match"):
        install_voice(VOICE, folder=tmp_path)
    nothing_installed(tmp_path)
    assert not (tmp_path / f".{VOICE}.onnx.partial").exists()  # the bad download is gone


def test_a_file_of_the_wrong_size_leaves_nothing(repository: Repository, tmp_path: Path) -> None:
    set_catalogue(repository, size_bytes=len(MODEL) - 10)
    with pytest.raises(VoiceInstallError, match=f"where the catalogue says {len(MODEL) - 10}"):
        install_voice(VOICE, folder=tmp_path)
    nothing_installed(tmp_path)
    assert not (tmp_path / f".{VOICE}.onnx.partial").exists()  # the bad download is gone


def test_a_truncated_download_resumes_on_the_next_run(
    repository: Repository, tmp_path: Path
) -> None:
    repository.mode[f"{FOLDER}/{VOICE}.onnx"] = "truncate"
    with pytest.raises(VoiceInstallError, match="run the same command again to resume"):
        install_voice(VOICE, folder=tmp_path)
    nothing_installed(tmp_path)
    partial = tmp_path / f".{VOICE}.onnx.partial"
    assert 0 < partial.stat().st_size < len(MODEL)
    half = partial.stat().st_size

    repository.mode.clear()
    repository.requests.clear()
    files = install_voice(VOICE, folder=tmp_path)
    assert files.model.read_bytes() == MODEL
    assert (f"{FOLDER}/{VOICE}.onnx", f"bytes={half}-") in repository.requests
    assert not partial.exists()


def test_a_server_that_ignores_ranges_restarts_the_download(
    repository: Repository, tmp_path: Path
) -> None:
    partial = tmp_path / f".{VOICE}.onnx.partial"
    partial.write_bytes(b"garbage from an older run")
    repository.mode[f"{FOLDER}/{VOICE}.onnx"] = "norange"
    files = install_voice(VOICE, folder=tmp_path)
    assert files.model.read_bytes() == MODEL


def test_a_corrupt_partial_file_is_thrown_away(repository: Repository, tmp_path: Path) -> None:
    partial = tmp_path / f".{VOICE}.onnx.partial"
    partial.write_bytes(b"\0" * 100)  # resumed from, but the whole then fails the checksum
    with pytest.raises(VoiceInstallError, match="MD5"):
        install_voice(VOICE, folder=tmp_path)
    nothing_installed(tmp_path)
    assert not partial.exists()
    assert install_voice(VOICE, folder=tmp_path).model.read_bytes() == MODEL  # the rerun works


def test_a_404_leaves_nothing(repository: Repository, tmp_path: Path) -> None:
    repository.mode[f"{FOLDER}/{VOICE}.onnx"] = "404"
    with pytest.raises(VoiceInstallError, match=r"not found \(HTTP 404\)"):
        install_voice(VOICE, folder=tmp_path)
    nothing_installed(tmp_path)


def test_a_hanging_server_times_out(repository: Repository, tmp_path: Path) -> None:
    repository.mode[f"{FOLDER}/{VOICE}.onnx"] = "hang"
    started = time.monotonic()
    with pytest.raises(VoiceInstallError, match=r"no answer within 0.5 s"):
        install_voice(VOICE, folder=tmp_path, timeout=0.5)
    assert time.monotonic() - started < 5
    nothing_installed(tmp_path)


def test_a_hanging_catalogue_times_out(repository: Repository, tmp_path: Path) -> None:
    repository.mode["voices.json"] = "hang"
    with pytest.raises(VoiceInstallError, match=r"no answer within 0.5 s"):
        install_voice(VOICE, folder=tmp_path, timeout=0.5)
    nothing_installed(tmp_path)


def test_an_interrupted_install_is_not_installed_and_reruns(
    repository: Repository, tmp_path: Path
) -> None:
    def interrupt(done: int, total: int) -> None:
        if done > len(CONFIG) + 1000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        install_voice(VOICE, folder=tmp_path, progress=interrupt)
    nothing_installed(tmp_path)
    assert install_voice(VOICE, folder=tmp_path).model.read_bytes() == MODEL


def test_an_installed_voice_is_not_downloaded_again(repository: Repository, tmp_path: Path) -> None:
    install_voice(VOICE, folder=tmp_path)
    repository.requests.clear()
    install_voice(VOICE, folder=tmp_path)
    assert [path for path, _ in repository.requests] == ["voices.json"]


def test_an_unknown_voice_names_those_in_its_language(
    repository: Repository, tmp_path: Path
) -> None:
    with pytest.raises(
        VoiceInstallError,
        match="no voice 'nl_BE-absent-medium'; voices in that language: nl_BE-other-low, nl_BE-tiny-medium",
    ):
        install_voice("nl_BE-absent-medium", folder=tmp_path)
    with pytest.raises(VoiceInstallError, match="not a Piper voice id"):
        install_voice("nathalie", folder=tmp_path)


def test_the_command_installs_with_a_progress_bar(repository: Repository, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["voices", "install", VOICE, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"installed {VOICE} in {tmp_path}" in result.output
    assert f"set RUSTPUNT_VOICE_MODELS={tmp_path}" in result.output  # profiles would not look there
    assert find_model(VOICE, [tmp_path]) is not None


def test_the_command_installs_into_the_models_folder(repository: Repository, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    models = tmp_path / "models"
    monkeypatch.setenv("RUSTPUNT_VOICE_MODELS", str(models))
    listed = CliRunner().invoke(cli, ["voices", "--no-check"])
    assert "not installed: rustpunt voices install nl_BE-nathalie-medium" in listed.output
    assert f"Piper models in {models}: none" in listed.output

    result = CliRunner(mix_stderr=False).invoke(cli, ["voices", "install", VOICE, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["model"] == str(models / f"{VOICE}.onnx")
    listed = CliRunner().invoke(cli, ["voices", "--no-check"])
    assert f"Piper models in {models}:\n  {VOICE}\n" in listed.output
    rows = json.loads(CliRunner().invoke(cli, ["voices", "--json", "--no-check"]).output)
    nathalie = next(row for row in rows if row["name"] == "nl-piper-nathalie")
    assert nathalie["model"] == {
        "voice_id": "nl_BE-nathalie-medium",
        "installed": False,
        "path": None,
        "install": "rustpunt voices install nl_BE-nathalie-medium",
    }


def test_the_command_fails_in_one_line(repository: Repository, tmp_path: Path) -> None:
    repository.mode[f"{FOLDER}/{VOICE}.onnx"] = "404"
    result = run_cli("voices", "install", VOICE, "--dir", tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: http://127.0.0.1:")
    assert "not found (HTTP 404)" in result.stderr
    assert "Traceback" not in result.stderr
    nothing_installed(tmp_path)
