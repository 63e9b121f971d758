"""The suite's own isolation (conftest): the tests run side by side in xdist workers, so none may
write to the user's real cache or data folders, or reach a port another worker's server holds."""

from __future__ import annotations

import socket
import urllib.parse
from pathlib import Path

import pytest

from fakegoogle import FakeGoogle, dead_proxy_url
from rustpunt.voice.clipcache import default_cache_dir
from rustpunt.voice.models import models_dirs


def test_without_rustpunt_cache_the_default_cache_is_this_workers_own(
    worker_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUSTPUNT_CACHE")
    monkeypatch.delenv("RUSTPUNT_VOICE_MODELS")
    assert default_cache_dir().is_relative_to(worker_home)
    assert all(folder.is_relative_to(worker_home) for folder in models_dirs())


def test_a_wider_fixture_already_has_a_private_cache_and_no_google(
    worker_home: Path, built_before_any_test: dict[str, str]
) -> None:
    assert Path(built_before_any_test["RUSTPUNT_CACHE"]).is_relative_to(worker_home)
    assert built_before_any_test["https_proxy"] == dead_proxy_url()


@pytest.fixture(scope="module")
def built_before_any_test() -> dict[str, str]:
    """What a module-wide fixture sees: it runs before the per-test `hermetic` set-up."""
    import os

    return {name: os.environ.get(name, "") for name in ("RUSTPUNT_CACHE", "https_proxy")}


def test_the_dead_proxy_refuses_and_no_server_can_take_its_port() -> None:
    port = urllib.parse.urlsplit(dead_proxy_url()).port
    assert port is not None
    with socket.socket() as client, pytest.raises(ConnectionRefusedError):
        client.connect(("127.0.0.1", port))
    with socket.socket() as other, pytest.raises(OSError, match="in use"):
        other.bind(("127.0.0.1", port))
    with FakeGoogle() as fake:
        assert fake.port != port
