"""The clip cache: content-addressed, checked on every read, cleared by age."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rustpunt.files import write_bytes_atomic
from rustpunt.voice.clipcache import (
    CACHE_ENV,
    ClipCache,
    clip_key,
    clip_keys,
    default_cache_dir,
    pipeline,
)

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


def whole_document_key(identity: dict[str, object], tempo: float, text: str) -> str:
    """The clip key as it was first written: the whole document dumped and hashed per text."""
    document = {"engine": identity, "tempo": round(tempo, 4), "pipeline": pipeline(), "text": text}
    return hashlib.sha256(
        json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


AWKWARD_TEXTS = [
    "Adem in.",
    "",
    'Zeg "ja", \\ of \\n niet.',
    "Knieën, één\tmoment\nverder\r.",
    "\x00text\x00",  # the stand-in clip_keys() puts where the text goes
    '"text": ""}',
    "\u2028\u2029 \U0001f9d8 \u00a0",
]


@pytest.mark.parametrize(
    "identity",
    [
        IDENTITY,
        {"engine": "piper", "model": "nl_BE-rdh-medium", "sha256": "ab" * 32, "scale": 0.667},
        {"engine": "gtts", "nested": {"tld": "nl", "slow": False, "list": [1, 2.5, None, "é"]}},
        {**IDENTITY, "voice": "\x00text\x00"},  # holds the stand-in: keyed one by one
        {},
    ],
)
def test_clip_keys_of_many_texts_equal_each_whole_document_hashed(
    identity: dict[str, object],
) -> None:
    for tempo in (1.0, 0.85, 0.123456):
        keys = clip_keys(identity, tempo, AWKWARD_TEXTS)
        assert keys == {text: whole_document_key(identity, tempo, text) for text in AWKWARD_TEXTS}
        assert all(clip_key(identity, tempo, text) == keys[text] for text in AWKWARD_TEXTS)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_clip_keys_of_any_text_equal_the_whole_document_hashed(text: str) -> None:
    try:
        expected = whole_document_key(IDENTITY, 0.9, text)
    except UnicodeEncodeError:  # a lone surrogate: neither way can key it
        with pytest.raises(UnicodeEncodeError):
            clip_keys(IDENTITY, 0.9, [text])
        return
    assert clip_keys(IDENTITY, 0.9, [text]) == {text: expected}


def test_a_kept_header_follows_its_entry_removed_replaced_or_annotated(tmp_path: Path) -> None:
    """header() keeps what it read while the entry's file stays the same; `cache --clear`,
    another process replacing it, or annotate() give another file, and it reads that one."""
    cache = ClipCache(tmp_path)
    key = clip_key(IDENTITY, 1.0, "Adem in.")
    path = cache.clips / key[:2] / f"{key}.clip"
    assert cache.header(key) is None
    cache.put(key, np.arange(100, dtype="<i2"), "Adem in.", "espeak", blocks=[1.0, 2.0])
    first = cache.header(key)
    assert first is not None and (first["samples"], first["blocks"]) == (100, [1.0, 2.0])
    first["samples"] = 7  # the caller's copy: what is kept stays as read
    assert cache.header(key) == {**first, "samples": 100}
    assert ClipCache(tmp_path).header(key) == cache.header(key)  # as a fresh process reads it

    assert cache.clear()[0] == 1  # `rustpunt cache --clear`
    assert cache.header(key) is None

    cache.put(key, np.arange(90, dtype="<i2"), "Adem in.", "espeak", blocks=[3.0])
    assert cache.header(key) == ClipCache(tmp_path).header(key)
    assert cache.header(key)["samples"] == 90  # type: ignore[index]

    keep_alive = tmp_path / "old.clip"  # the old file lives on: the new one has another inode
    os.link(path, keep_alive)
    other = ClipCache(tmp_path / "elsewhere")
    other.put(key, np.arange(90, 180, dtype="<i2"), "Adem in.", "espeak", blocks=[4.0])
    replacement = (other.clips / key[:2] / f"{key}.clip").read_bytes()
    assert len(replacement) == path.stat().st_size  # the same size: only the inode differs
    write_bytes_atomic(path, replacement)  # replaced by another process
    assert cache.header(key)["blocks"] == [4.0]  # type: ignore[index]

    cache.annotate(key, np.arange(90, 180, dtype="<i2"), loud=True)
    annotated = cache.header(key)
    assert annotated is not None and annotated["loud"] is True
    assert annotated == ClipCache(tmp_path).header(key)

    path.write_bytes(path.read_bytes()[:-10])  # truncated: counts as absent, and is not kept
    assert cache.header(key) is None
