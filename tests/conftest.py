"""Shared pytest set-up: every test is hermetic (its own clip cache, no way out to the real Google)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["fakegoogle"]  # the fake_google fixture: a local stand-in for Google (gTTS)

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "scripts").glob("*.yaml"))


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
