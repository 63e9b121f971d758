"""Shared pytest set-up: every test is hermetic (its own clip cache, no way out to the real Google)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["fakegoogle"]  # the fake_google fixture: a local stand-in for Google (gTTS)

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "scripts").glob("*.yaml"))


@pytest.fixture(scope="session", autouse=True)
def worker_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """For the whole test process (one per xdist worker), before any module's fixture runs: the
    user's cache and data folders, the clip cache and the voice models in this worker's own
    temporary folder, and Google behind a dead proxy. A fixture wider than one test (which
    `hermetic` does not reach) or a program started with a copy of the environment then writes
    nothing to the real user cache and shares no file with another worker."""
    from fakegoogle import dead_proxy_url

    home = tmp_path_factory.mktemp("worker-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home / "cache"))  # platformdirs' user_cache_dir
        patch.setenv("XDG_DATA_HOME", str(home / "data"))  # and user_data_dir (voice models)
        patch.setenv("RUSTPUNT_CACHE", str(home / "cache" / "rustpunt"))
        patch.setenv("RUSTPUNT_VOICE_MODELS", str(home / "voice-models"))
        for name in ("HTTPS_PROXY", "https_proxy"):
            patch.setenv(name, dead_proxy_url())
        patch.delenv("ALL_PROXY", raising=False)
        patch.delenv("all_proxy", raising=False)
        yield home


@pytest.fixture(autouse=True)
def hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh clip cache per test, and Google behind a dead proxy unless a test starts the fake."""
    from fakegoogle import dead_proxy_url

    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("RUSTPUNT_CACHE", str(cache))
    # no Piper model a developer installed may change what a test hears
    monkeypatch.setenv("RUSTPUNT_VOICE_MODELS", str(tmp_path_factory.mktemp("voice-models")))
    proxy = dead_proxy_url()
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("ALL_PROXY", raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    return cache


def run_cli(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run the real program, `python -m rustpunt`, as a user would, and capture what it prints."""
    return subprocess.run(
        [sys.executable, "-m", "rustpunt", *map(str, args)],
        cwd=cwd, env=env if env is not None else dict(os.environ), capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def run_main(
    *args: str | Path, cwd: Path | None = None, input: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the program in this process, `rustpunt.cli.main(argv)`, capturing what it prints:
    as run_cli, without the cost of a new interpreter."""
    from click.testing import CliRunner

    from rustpunt.cli import main

    runner = CliRunner(mix_stderr=False)
    previous = Path.cwd()
    with runner.isolation(input=input) as (out, err):
        try:
            if cwd is not None:
                os.chdir(cwd)
            code = main([str(arg) for arg in args])
        finally:
            os.chdir(previous)
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return subprocess.CompletedProcess(list(map(str, args)), int(code), stdout, stderr)


def write_script(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
