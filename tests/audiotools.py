"""Measure real MP3s in tests with the ffmpeg that pip installs (imageio-ffmpeg): never ffprobe.

decode(path)        int16 mono 44.1 kHz samples
duration_ms(path)   length of the decoded audio
silences(path)      [(start_ms, end_ms)] from ffmpeg's silencedetect, a trailing one included
chapters(path)      [(start_ms, end_ms, title)] as `ffmpeg -i` lists them, in its order
ffmpeg_tags(path)   the global metadata `ffmpeg -i` lists
loudness(path)      (integrated LUFS, true peak dBTP) from ffmpeg's ebur128 filter
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe


def _ffmpeg(*arguments: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", *arguments],
        capture_output=True,
        timeout=600,
        check=False,
    )


def _run(*arguments: str) -> subprocess.CompletedProcess[bytes]:
    result = _ffmpeg(*arguments)
    if result.returncode != 0:
        raise AssertionError(
            f"ffmpeg {' '.join(arguments)} failed:\n{result.stderr.decode('utf-8', 'replace')}"
        )
    return result


def decode(path: Path | str) -> np.ndarray:
    """The file's audio as int16 mono at 44.1 kHz (ffmpeg trims the encoder delay and padding)."""
    result = _run(
        "-loglevel", "error", "-i", str(path),
        "-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1",
    )  # fmt: skip
    return np.frombuffer(result.stdout, dtype="<i2")


def duration_ms(path: Path | str) -> int:
    return round(decode(path).size * 1000 / SAMPLE_RATE)


_SILENCE_START = re.compile(r"silence_start:\s*(-?[\d.]+)")
_SILENCE_END = re.compile(r"silence_end:\s*(-?[\d.]+)")


def silences(path: Path | str, noise_db: float = -50, min_ms: int = 300) -> list[tuple[int, int]]:
    """Stretches quieter than `noise_db` for at least `min_ms`, as (start_ms, end_ms).

    A silence that runs to the end of the file is closed at the decoded duration.
    """
    result = _run(
        "-i", str(path),
        "-af", f"silencedetect=noise={noise_db}dB:d={min_ms / 1000}",
        "-f", "null", "-",
    )  # fmt: skip
    found: list[tuple[int, int]] = []
    start: float | None = None
    for line in result.stderr.decode("utf-8", "replace").splitlines():
        if match := _SILENCE_START.search(line):
            start = max(0.0, float(match.group(1)))
        elif (match := _SILENCE_END.search(line)) and start is not None:
            found.append((round(start * 1000), round(float(match.group(1)) * 1000)))
            start = None
    if start is not None:
        found.append((round(start * 1000), duration_ms(path)))
    return found


def _probe(path: Path | str) -> list[str]:
    """The lines `ffmpeg -i FILE` prints about the file (it exits non-zero: no output given)."""
    result = _ffmpeg("-i", str(path))
    text = result.stderr.decode("utf-8", "replace")
    if "Input #0" not in text:
        raise AssertionError(f"ffmpeg cannot read {path}:\n{text}")
    return text.splitlines()


_CHAPTER = re.compile(r"^\s*Chapter #\d+:\d+: start (-?[\d.]+), end (-?[\d.]+)")
_ENTRY = re.compile(r"^(?P<indent> *)(?P<key>\S[^:]*?) *: (?P<value>.*)$")
_CONTINUED = re.compile(r"^ +: (?P<value>.*)$")  # a multi-line value goes on like this


def chapters(path: Path | str) -> list[tuple[int, int, str]]:
    """(start_ms, end_ms, title) of every chapter `ffmpeg -i` lists, in the order it lists them."""
    found: list[tuple[int, int, str]] = []
    for line in _probe(path):
        if match := _CHAPTER.match(line):
            start, end = (round(float(value) * 1000) for value in match.groups())
            found.append((start, end, ""))
        elif (
            found
            and (entry := _ENTRY.match(line))
            and entry["key"] == "title"
            and len(entry["indent"]) > 6  # the chapter's own metadata, not the file's
            and found[-1][2] == ""
        ):
            found[-1] = (*found[-1][:2], entry["value"])
    return found


def ffmpeg_tags(path: Path | str) -> dict[str, str]:
    """The file's global metadata as `ffmpeg -i` lists it (keys as ffmpeg names them)."""
    tags: dict[str, str] = {}
    inside = False
    key = ""
    for line in _probe(path):
        if line == "  Metadata:":
            inside = True
        elif inside and (more := _CONTINUED.match(line)) and key:
            tags[key] += "\n" + more["value"]
        elif inside and (entry := _ENTRY.match(line)) and len(entry["indent"]) == 4:
            key = entry["key"]
            tags[key] = entry["value"]
        else:
            inside = False
    return tags


def loudness(path: Path | str) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) from ffmpeg's ebur128 filter."""
    result = _run("-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-")
    summary = result.stderr.decode("utf-8", "replace").rsplit("Summary:", 1)[-1]
    integrated = re.search(r"I:\s*(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s*(-?[\d.]+|-inf) dBFS", summary)
    if not integrated or not peak:
        raise AssertionError(f"no ebur128 summary for {path}:\n{summary}")
    return float(integrated.group(1)), float(peak.group(1))
