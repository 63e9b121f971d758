"""session: the up-to-date rule, on its own (no audio)."""

from __future__ import annotations

from pathlib import Path

from rustpunt.session import BuildStatus, output_paths, up_to_date


def outputs(tmp_path: Path, mp3: bytes = b"ID3 mp3", vtt: bytes = b"WEBVTT\n") -> dict:
    paths = output_paths(tmp_path / "adem.yaml", tmp_path / "out")
    paths.mp3.parent.mkdir(parents=True, exist_ok=True)
    paths.mp3.write_bytes(mp3)
    paths.vtt.write_bytes(vtt)
    return {
        "build_key": "k1",
        "duration_ms": 1234,
        "voice": {"used": "nl-espeak", "fallback_reason": None},
        "output_bytes": {"mp3": len(mp3), "vtt": len(vtt)},
    }


def test_recorded_outputs_of_the_same_key_are_up_to_date(tmp_path: Path) -> None:
    previous = outputs(tmp_path)
    paths = output_paths(tmp_path / "adem.yaml", tmp_path / "out")
    result = up_to_date(tmp_path / "adem.yaml", paths, "k1", previous)
    assert result is not None and result.status is BuildStatus.UP_TO_DATE
    assert (result.mp3, result.duration_ms, result.voice) == (paths.mp3, 1234, "nl-espeak")


def test_another_key_no_record_or_a_damaged_output_means_a_rebuild(tmp_path: Path) -> None:
    previous = outputs(tmp_path)
    paths = output_paths(tmp_path / "adem.yaml", tmp_path / "out")
    assert up_to_date(tmp_path / "adem.yaml", paths, "k2", previous) is None
    assert up_to_date(tmp_path / "adem.yaml", paths, "k1", None) is None
    older = {key: value for key, value in previous.items() if key != "output_bytes"}
    assert up_to_date(tmp_path / "adem.yaml", paths, "k1", older) is None  # sizes unknown
    paths.mp3.write_bytes(b"ID3")  # truncated
    assert up_to_date(tmp_path / "adem.yaml", paths, "k1", previous) is None
    paths.mp3.unlink()
    assert up_to_date(tmp_path / "adem.yaml", paths, "k1", previous) is None
