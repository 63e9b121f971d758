"""The build's two MP3 writers on real sessions: the spliced file (speech encoded, pauses as ready
silent frames) against the one-pass reference, and a pause-only edit that re-encodes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mutagen.mp3 import MP3

import audiotools
from conftest import run_main, write_script
from rustpunt.audio import SAMPLE_RATE

SCRIPT = """\
title: Kort
intro: Welkom. Ga rustig zitten.
steps:
  - text: Adem rustig in door je neus.
    pause: {pause}
  - Houd dit drie seconden vast.
  - text: Laat los, en adem langzaam uit.
    pause: 2
outro: Dat was het.
"""


def build(folder: Path, out: Path, *extra: str) -> dict:
    result = run_main("build", folder, "-o", out, "--voice", "nl-espeak", "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_the_spliced_mp3_matches_the_one_pass_reference(tmp_path: Path) -> None:
    write_script(tmp_path / "in", "kort.yaml", SCRIPT.format(pause=3))
    build(tmp_path / "in", tmp_path / "splice")
    build(tmp_path / "in", tmp_path / "whole", "--encoder", "whole")
    spliced, whole = tmp_path / "splice" / "kort.mp3", tmp_path / "whole" / "kort.mp3"
    sidecar = json.loads((tmp_path / "splice" / "kort.json").read_text(encoding="utf-8"))
    a, b = audiotools.decode(spliced), audiotools.decode(whole)
    assert a.size == b.size  # the same length, to the sample
    assert abs(a.size * 1000 / SAMPLE_RATE - sidecar["duration_ms"]) <= 0.5
    for path in (spliced, whole):  # every reader gets the length right (LAME tag, not Lavc's)
        assert abs(MP3(path).info.length * 1000 - sidecar["duration_ms"]) <= 1
    assert audiotools.chapters(spliced) == audiotools.chapters(whole)
    difference = a.astype(np.float64) - b.astype(np.float64)
    signal = float(np.sqrt(np.mean(b.astype(np.float64) ** 2)))
    error_db = 20 * np.log10(float(np.sqrt(np.mean(difference**2))) / signal)
    assert error_db < -20, error_db  # two encodes of the same audio, not two different sessions
    for step in sidecar["steps"]:  # the speech sits where the one-pass file has it
        start = round(step["start_ms"] * SAMPLE_RATE / 1000)
        window = slice(start, start + SAMPLE_RATE // 2)
        correlation = np.corrcoef(a[window].astype(float), b[window].astype(float))[0, 1]
        assert correlation > 0.9, (step["text"], correlation)
    pause = sidecar["steps"][0]["pause"]
    quiet = a[round(pause["start_ms"] * 44.1) + 2400 : round(pause["end_ms"] * 44.1) - 2400]
    assert quiet.size and not quiet.any()  # a pause decodes to digital zero


@pytest.mark.slow
def test_a_pause_only_edit_re_encodes_only_the_speech_that_moved_off_its_frames(
    tmp_path: Path, hermetic: Path
) -> None:
    """Speech stays exact to the sample. Moved by whole MP3 frames (1152 samples; 1.28 s is 49
    frames) a segment is reused as encoded; moved by anything else it is encoded again."""
    script = write_script(tmp_path / "in", "kort.yaml", SCRIPT.format(pause=3))
    first = build(tmp_path / "in", tmp_path / "out")

    def parts() -> set[Path]:
        return set((hermetic / "mp3parts").glob("*/*.mp3part"))

    before = parts()
    assert first["built"] == 1 and len(before) == 5  # intro, three steps, outro
    script.write_text(SCRIPT.format(pause=4.28), encoding="utf-8")
    second = build(tmp_path / "in", tmp_path / "out")
    assert second["built"] == 1 and second["scripts"][0]["synthesized"] == 0
    assert parts() == before  # pure assembly: nothing encoded
    assert second["scripts"][0]["duration_ms"] == first["scripts"][0]["duration_ms"] + 1280
    assert (
        audiotools.duration_ms(tmp_path / "out" / "kort.mp3") == second["scripts"][0]["duration_ms"]
    )
    script.write_text(SCRIPT.format(pause=5), encoding="utf-8")
    build(tmp_path / "in", tmp_path / "out")
    assert len(parts() - before) == 3  # the two steps and the outro after the edited pause
