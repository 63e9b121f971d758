"""The clip cache: content-addressed, checked on every read, cleared by age."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from rustpunt.cache import CACHE_ENV, ClipCache, clip_key, default_cache_dir

IDENTITY = {"engine": "espeak", "version": "1.52.0", "voice": "nl", "rate": 140}


def test_the_key_covers_engine_version_settings_tempo_and_text() -> None:
    key = clip_key(IDENTITY, 1.0, "Adem in.")
    assert key == clip_key(
        dict(reversed(IDENTITY.items())), 1.0, "Adem in."
    )  # order does not matter
    assert len({
        key,
        clip_key({**IDENTITY, "version": "1.53.0"}, 1.0, "Adem in."),
        clip_key({**IDENTITY, "rate": 150}, 1.0, "Adem in."),
        clip_key({**IDENTITY, "engine": "gtts"}, 1.0, "Adem in."),
        clip_key(IDENTITY, 0.9, "Adem in."),
        clip_key(IDENTITY, 1.0, "Adem in"),
    }) == 6  # fmt: skip


def test_round_trip_and_damage(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    samples = (np.sin(np.arange(5000) / 7) * 9000).astype("<i2")
    key = clip_key(IDENTITY, 1.0, "Knieën.")
    assert cache.get(key) is None
    cache.put(key, samples, "Knieën.", "espeak")
    np.testing.assert_array_equal(cache.get(key), samples)
    [entry] = list(cache.entries())
    assert (entry.text, entry.engine) == ("Knieën.", "espeak")
    good = entry.path.read_bytes()
    for damaged in (good[:-1], good[:40], b"", b"nonsense" + good, good[:-2] + b"\x00\x01",
                    good.replace(b'"samples": 5000', b'"samples": 4000')):  # fmt: skip
        entry.path.write_bytes(damaged)
        assert cache.get(key) is None, damaged[:60]
        assert not entry.path.exists()  # discarded, so it is spoken again
        entry.path.write_bytes(good)
    assert not list(tmp_path.rglob("*.part"))


def test_clear_by_age(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    for text in ("een", "twee", "drie"):
        cache.put(clip_key(IDENTITY, 1.0, text), np.ones(10, "<i2"), text, "espeak")
    old = sorted(cache.entries(), key=lambda e: e.text)[0]  # "drie"
    long_ago = time.time() - 10 * 86_400
    os.utime(old.path, (long_ago, long_ago))
    assert cache.clear(older_than_days=5)[0] == 1
    assert sorted(e.text for e in cache.entries()) == ["een", "twee"]
    two_days_ago = time.time() - 2 * 86_400
    for entry in cache.entries():
        os.utime(entry.path, (two_days_ago, two_days_ago))
    cache.get(clip_key(IDENTITY, 1.0, "een"))  # a read counts as use
    assert cache.clear(older_than_days=1)[0] == 1  # "twee", unread
    assert [e.text for e in cache.entries()] == ["een"]
    assert cache.clear()[0] == 1
    assert list(cache.entries()) == []


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "hier"))
    assert default_cache_dir() == tmp_path / "hier"
    assert ClipCache().root == tmp_path / "hier"
    assert ClipCache(tmp_path / "daar").root == tmp_path / "daar"
    monkeypatch.delenv(CACHE_ENV)
    assert default_cache_dir().name == "rustpunt"  # the platform's user cache folder


def test_an_entry_never_changes_once_written(tmp_path: Path) -> None:
    """Two workers that speak the same sentence may get other samples (espeak does not always
    give the same twice); the first entry stays, since a build reads its clips again to mix."""
    cache = ClipCache(tmp_path)
    first = np.arange(100, dtype="<i2")
    second = np.arange(90, dtype="<i2")
    assert cache.put("ab" * 32, first, "Adem in.", "espeak") is True
    assert cache.put("ab" * 32, second, "Adem in.", "espeak") is False
    np.testing.assert_array_equal(cache.get("ab" * 32), first)
    assert not list(cache.clips.glob("*/.*.part"))  # the loser's temporary file is gone
    (cache.clips / "ab" / f"{'ab' * 32}.clip").write_bytes(b"damaged")
    assert cache.get("ab" * 32) is None  # a damaged entry is removed, so it can be made again
    assert cache.put("ab" * 32, second, "Adem in.", "espeak") is True
    np.testing.assert_array_equal(cache.get("ab" * 32), second)
