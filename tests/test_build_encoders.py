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
from rustpunt.audio.pcm import SAMPLE_RATE

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
def test_a_pause_or_sentence_edit_re_encodes_only_what_changed(
    tmp_path: Path, hermetic: Path
) -> None:
    """Speech starts on an MP3 frame, so a clip's encoded speech fits wherever a changed pause
    moves it: a pause-only edit is pure assembly, and an edited sentence encodes that step only."""
    script = write_script(tmp_path / "in", "kort.yaml", SCRIPT.format(pause=3))
    first = build(tmp_path / "in", tmp_path / "out")

    def parts() -> set[Path]:
        return set((hermetic / "mp3parts").glob("*/*.mp3part"))

    before = parts()
    assert first["built"] == 1 and len(before) == 5  # intro, three steps, outro
    for pause, asked_ms in (
        ("4.28", 4280),
        ('"3,337"', 3337),
        ("0.6", 600),
    ):  # closer clips share one encoded part
        script.write_text(SCRIPT.format(pause=pause), encoding="utf-8")
        edited = build(tmp_path / "in", tmp_path / "out")
        assert edited["built"] == 1 and edited["scripts"][0]["synthesized"] == 0
        assert parts() == before, pause  # pure assembly: nothing encoded
        sidecar = json.loads((tmp_path / "out" / "kort.json").read_text(encoding="utf-8"))
        measured = sidecar["steps"][0]["pause"]
        length = measured["end_ms"] - measured["start_ms"]
        assert asked_ms <= length <= asked_ms + 27, (pause, length)
        mp3 = tmp_path / "out" / "kort.mp3"
        assert audiotools.duration_ms(mp3) == edited["scripts"][0]["duration_ms"]
    assert_pauses_decode_to_zero(mp3, sidecar)
    script.write_text(
        SCRIPT.format(pause=3).replace("Houd dit drie", "Houd dit vier"), encoding="utf-8"
    )
    edited = build(tmp_path / "in", tmp_path / "out")
    assert edited["scripts"][0]["synthesized"] == 1
    assert len(parts() - before) == 1  # only the edited step's speech was encoded


def assert_pauses_decode_to_zero(mp3: Path, sidecar: dict) -> None:
    decoded = audiotools.decode(mp3)
    for step in sidecar["steps"]:
        pause = step.get("pause")
        if pause and pause["end_ms"] - pause["start_ms"] > 200:
            quiet = decoded[
                round(pause["start_ms"] * 44.1) + 2400 : round(pause["end_ms"] * 44.1) - 2400
            ]
            assert not quiet.any(), step["text"]


def test_a_pause_only_edit_reads_no_speech(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lengths and loudness come from the clips' cache headers and the encoded speech from the
    part cache: rebuilding after a pause edit never reads a clip's samples."""
    from rustpunt.voice.clipcache import ClipCache

    script = write_script(tmp_path / "in", "kort.yaml", SCRIPT.format(pause=3))
    first = build(tmp_path / "in", tmp_path / "out")

    def no_reading(self: ClipCache, key: str) -> None:
        raise AssertionError(f"read the samples of clip {key}")

    monkeypatch.setattr(ClipCache, "get", no_reading)
    script.write_text(SCRIPT.format(pause='"3,3"'), encoding="utf-8")
    edited = build(tmp_path / "in", tmp_path / "out")
    assert edited["built"] == 1
    assert edited["scripts"][0]["duration_ms"] - first["scripts"][0]["duration_ms"] in range(
        300, 327
    )


def test_a_clip_gone_from_the_cache_while_encoding_is_spoken_again(
    tmp_path: Path, hermetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build reads its clips back from the cache when the encoder takes them; one that is
    gone by then (`rustpunt cache --clear` in another terminal) is spoken again at once, the
    build says so in one line, and nothing is left half-written."""
    import shutil

    from rustpunt.voice.clipcache import ClipCache

    write_script(tmp_path / "in", "kort.yaml", SCRIPT.format(pause=3))
    build(tmp_path / "in", tmp_path / "out")
    before = (tmp_path / "out" / "kort.mp3").read_bytes()
    shutil.rmtree(hermetic / "mp3parts")  # the speech must be encoded again, so read again
    monkeypatch.setattr(ClipCache, "get", lambda self, key: None)
    result = run_main(
        "build", tmp_path / "in", "-o", tmp_path / "out", "--voice", "nl-espeak", "--force"
    )
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "kort.yaml" in line]
    assert "spoken again" in line and "Traceback" not in result.stderr
    assert (tmp_path / "out" / "kort.mp3").read_bytes() == before
    assert not list((tmp_path / "out").glob(".*.part"))


def _ffmpeg_that_leaves_a_mark(folder: Path) -> tuple[str, Path]:
    """An "ffmpeg" that cannot encode and leaves a file behind when it is run at all."""
    import sys

    mark = folder / "ffmpeg-ran"
    exe = folder / "fake-ffmpeg"
    exe.write_text(
        f"#!{sys.executable}\nimport sys\nopen({str(mark)!r}, 'a').write('ran\\n')\n"
        "sys.stderr.write(\"Unknown encoder 'libmp3lame'\\n\")\nsys.exit(8)\n"
    )
    exe.chmod(0o755)
    return str(exe), mark


def test_a_pause_only_rebuild_starts_no_ffmpeg(tmp_path: Path) -> None:
    """Nothing is spoken and every encoded part is in the cache: a fresh process rebuilds the
    edited script without starting any program (trying the encoder, or asking its version for
    the parts' keys, cost a command 150 ms)."""
    import subprocess
    import sys

    script = write_script(tmp_path / "in", "kort.yaml", SCRIPT.format(pause=3))
    first = build(tmp_path / "in", tmp_path / "out")
    script.write_text(SCRIPT.format(pause=4), encoding="utf-8")
    watched = (
        "import subprocess, sys\n"
        "started = []\n"
        "class Recorded(subprocess.Popen):\n"
        "    def __init__(self, args, *rest, **options):\n"
        "        started.append(args)\n"
        "        super().__init__(args, *rest, **options)\n"
        "subprocess.Popen = Recorded\n"
        "from rustpunt.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('STARTED', len(started), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    arguments = [tmp_path / "in", "-o", tmp_path / "out", "--voice", "nl-espeak", "--json"]
    result = subprocess.run(
        [sys.executable, "-c", watched, "build", *map(str, arguments)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "STARTED 0" in result.stderr
    edited = json.loads(result.stdout)
    assert edited["built"] == 1 and edited["scripts"][0]["synthesized"] == 0
    moved = edited["scripts"][0]["duration_ms"] - first["scripts"][0]["duration_ms"]
    assert moved in range(1000 - 27, 1000 + 27)  # each pause ends on a frame edge (26 ms)


def test_a_broken_encoder_fails_the_build_before_any_speech(
    tmp_path: Path, hermetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With speech to make, the encoder is tried first: an ffmpeg without MP3 fails the script
    in one line before a single sentence is spoken."""
    from rustpunt.mp3 import export

    exe, mark = _ffmpeg_that_leaves_a_mark(tmp_path)
    monkeypatch.setattr(export, "ffmpeg_exe", lambda: exe)
    write_script(tmp_path / "in", "kort.yaml", SCRIPT.format(pause=3))
    result = run_main("build", tmp_path / "in", "-o", tmp_path / "out", "--voice", "nl-espeak")
    assert result.returncode == 1 and mark.exists()
    assert "no libmp3lame" in result.stderr and "Traceback" not in result.stderr
    assert not list(hermetic.glob("clips/*/*.clip"))  # nothing was spoken
