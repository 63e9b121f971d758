"""`rustpunt review DIR`: one static page to look at and listen to everything built in a folder.

The page (DIR/index.html) works from disk: its CSS, its JavaScript and the data of every session
are written into it (the templates ship in rustpunt/studio/page/), and each player's `src` is the
MP3's path relative to the page. Nothing is fetched from anywhere else.

What the page shows comes from what the build left in the folder: each NAME.json sidecar (steps,
sentences, pauses and why, the voices), NAME.vtt (the transcript), the MP3 itself (size, build
time; loudness and true peak measured on it by ffmpeg's ebur128 filter, remembered per file stamp,
so only a rebuilt MP3 is measured again) and the build record, which `rustpunt build` writes after
every build: which sessions the last build built and which failed, with their FILE:LINE error.
The record and the measurements are kept in the cache folder (see state_folder), never in the
output folder, which holds only what is published.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import re
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rustpunt.errors import RustpuntError, shown
from rustpunt.files import read_json_object, write_text_atomic

if TYPE_CHECKING:
    from rustpunt.build.jobs import Job
    from rustpunt.build.options import BuildResult

log = logging.getLogger(__name__)

BUILD_RECORD = "build.json"
LOUDNESS_RECORD = "loudness.json"
PAGE_NAME = "index.html"


class ReviewError(RustpuntError):
    """The review page cannot be made (no such folder, nothing built in it)."""


# --------------------------------------------------------------------------- the build record


def state_folder(output_dir: Path, cache_dir: Path | None = None) -> Path:
    """Where the review page's state of one output folder is kept: in the cache folder (the
    build's --cache-dir, else RUSTPUNT_CACHE, else the user's), under a digest of the output
    folder's absolute path. Not in the output folder: that is copied to a web server as it is,
    and a failed build writes nothing there."""
    from rustpunt.voice.clipcache import default_cache_dir

    where = os.path.abspath(output_dir).encode("utf-8", "surrogateescape")
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / "review" / hashlib.sha256(where).hexdigest()[:16]


def record_build(
    output_dir: Path,
    results: Sequence[BuildResult],
    jobs: Iterable[Job],
    *,
    partial: bool = False,
    cache_dir: Path | None = None,
) -> None:
    """Write what a build did into the output folder's build record, for the review page.

    Each session is keyed by its MP3's path inside the output folder (a failed script too: where
    its MP3 would go), with its status, its error and when. `partial` (a rebuild round of the
    watch) keeps the other sessions' entries; a whole build replaces the record. A record that
    cannot be written is logged, never an error: the build itself succeeded.
    """
    from rustpunt.build.options import output_paths

    where = {
        os.path.abspath(job.script): output_paths(job.script, job.output_dir).mp3 for job in jobs
    }
    path = state_folder(output_dir, cache_dir) / BUILD_RECORD
    previous = read_json_object(path) if partial else None
    sessions: dict[str, Any] = dict(previous.get("sessions", {})) if previous else {}
    now = time.time()
    for result in results:
        mp3 = result.mp3 or where.get(os.path.abspath(result.script))
        if mp3 is None:
            continue
        key = in_folder(Path(mp3), Path(output_dir))
        sessions[key] = {
            "script": shown(result.script),
            "status": str(result.status.value),
            "error": result.error,
            "at": now,
        }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(  # ASCII: a file name that is not UTF-8 (surrogates) is escaped
            path, json.dumps({"finished": now, "sessions": sessions})
        )
    except (OSError, RustpuntError) as error:
        log.warning("cannot write the build record %s: %s", shown(path), error)


def in_folder(path: Path, folder: Path) -> str:
    """`path` relative to `folder`, with forward slashes: how the page and the studio name an MP3."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(folder))).as_posix()


# --------------------------------------------------------------------------- loudness


_INTEGRATED = re.compile(r"I:\s*(-?[\d.]+|-inf) LUFS")
_PEAK = re.compile(r"Peak:\s*(-?[\d.]+|-inf) dBFS")


def measure(mp3: Path) -> tuple[float | None, float | None]:
    """(integrated loudness in LUFS, true peak in dBTP) of the file, by ffmpeg's ebur128 filter:
    what a listener's player decodes, not what the build aimed at. (None, None) if unreadable."""
    from imageio_ffmpeg import get_ffmpeg_exe

    command = [get_ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(mp3)]
    command += ["-af", "ebur128=peak=true", "-f", "null", "-"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    summary = done.stderr.decode("utf-8", "replace").rsplit("Summary:", 1)[-1]
    integrated, peak = _INTEGRATED.search(summary), _PEAK.search(summary)
    if done.returncode != 0 or not integrated or not peak:
        return None, None
    return float(integrated.group(1)), float(peak.group(1))


def measured(
    folder: Path,
    mp3s: Sequence[Path],
    *,
    workers: int | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Loudness and true peak of each MP3 (keyed by its path in `folder`), measured only when
    its size or modification time differ from the last measurement kept for the folder."""
    path = state_folder(folder, cache_dir) / LOUDNESS_RECORD
    kept = (read_json_object(path) or {}).get("files", {})
    found: dict[str, Any] = {}
    todo: list[tuple[str, Path, list[int]]] = []
    for mp3 in mp3s:
        key = in_folder(mp3, folder)
        try:
            info = mp3.stat()
        except OSError:
            continue
        stamp = [info.st_size, info.st_mtime_ns]
        entry = kept.get(key)
        if isinstance(entry, dict) and entry.get("stamp") == stamp:
            found[key] = entry
        else:
            todo.append((key, mp3, stamp))
    if todo:
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            values = list(pool.map(lambda item: measure(item[1]), todo))
        for (key, _mp3, stamp), (lufs, peak) in zip(todo, values):
            found[key] = {"stamp": stamp, "lufs": lufs, "true_peak": peak}
        with contextlib.suppress(OSError, RustpuntError):
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps({"files": found}))
    return found


# --------------------------------------------------------------------------- the page's data


def sidecars(folder: Path) -> list[Path]:
    """Every session's and episode's JSON sidecar in the folder (NAME.json beside NAME.mp3),
    hidden folders and the feed's NAME.chapters.json left out."""
    found = []
    for root, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(files):
            if name.endswith(".json") and not name.startswith(".") and name.count(".") == 1:
                mp3 = Path(root, name[: -len(".json")] + ".mp3")
                if mp3.exists():
                    found.append(Path(root, name))
    return found


def read_vtt(path: Path) -> list[list[Any]]:
    """[start_ms, end_ms, text] of each cue of a WebVTT file we wrote (one line of text per
    cue line, joined by a space)."""
    cues: list[list[Any]] = []
    try:
        blocks = path.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n\n")
    except OSError:
        return cues
    for block in blocks:
        lines = block.strip().split("\n")
        for index, line in enumerate(lines):
            if "-->" in line:
                start, end = (_vtt_ms(part.strip().split(" ")[0]) for part in line.split("-->"))
                cues.append([start, end, " ".join(lines[index + 1 :])])
                break
    return cues


def _vtt_ms(text: str) -> int:
    *rest, seconds = text.split(":")
    total = float(seconds)
    for part, scale in zip(reversed(rest), (60, 3600)):
        total += int(part) * scale
    return round(total * 1000)


def session_data(
    sidecar: Path,
    page_folder: Path,
    output_dir: Path,
    *,
    loudness: Mapping[str, Any],
    record: Mapping[str, Any],
    last_build: float | None,
) -> dict[str, Any] | None:
    """What the page shows of one session or episode; None if its sidecar is not ours."""
    document = read_json_object(sidecar)
    if not document or "duration_ms" not in document or "voice" not in document:
        return None
    mp3 = sidecar.with_suffix(".mp3")
    key = in_folder(mp3, output_dir)
    try:
        info = mp3.stat()
    except OSError:
        return None
    voice = document.get("voice") or {}
    measured_now = loudness.get(key, {})
    built = record.get(key, {})
    data: dict[str, Any] = {
        "key": key,
        "title": document.get("title") or mp3.stem,
        "kind": document.get("kind", "session"),
        "script": document.get("script") or document.get("episode_file") or "",
        "src": _url(mp3, page_folder),
        "duration_ms": document["duration_ms"],
        "bytes": info.st_size,
        "built_at": info.st_mtime,
        "voice_requested": voice.get("requested"),
        "voice_used": voice.get("used"),
        "fallback": voice.get("fallback_reason"),
        "lufs": measured_now.get("lufs"),
        "true_peak": measured_now.get("true_peak"),
        "status": built.get("status"),
        "error": built.get("error"),
        "rebuilt": bool(built) and built.get("at") == last_build and built.get("status") == "built",
        "cues": read_vtt(sidecar.with_suffix(".vtt")),
    }
    data.update(timeline_data(document))
    return data


def _url(path: Path, folder: Path) -> str:
    return quote(in_folder(path, folder))


def timeline_data(document: Mapping[str, Any]) -> dict[str, Any]:
    """Chapters, and the timeline's pieces (speech, pauses and why, inline pauses, sounds) in
    milliseconds, from a session's or an episode's sidecar."""
    duration = int(document["duration_ms"])
    chapters: list[list[Any]] = []
    spans: list[list[Any]] = []  # [kind, start_ms, end_ms, label, reason, step]
    marks: list[list[Any]] = []  # [kind, at_ms, label]
    if document.get("kind") == "episode":
        for chapter in document.get("chapters", []):
            chapters.append([chapter["start_ms"], chapter["title"]])
            spans.append(
                ["part", chapter["start_ms"], chapter["end_ms"], chapter["title"], "", None]
            )
        return {"chapters": chapters, "spans": spans, "marks": marks, "bed": None}
    for name, label in (("intro", "Intro"), ("outro", "Outro")):
        part = document.get(name)
        if part:
            _speech(spans, part, label, None)
    for step in document.get("steps", []):
        _speech(spans, step, step["text"], step["step"])
        pause = step.get("pause")
        if pause:
            spans.append(
                ["pause", pause["start_ms"], pause["end_ms"], _seconds(pause["ms"]),
                 f"{pause['rule']}: {pause['reason']}", step["step"]]
            )  # fmt: skip
    spans.sort(key=lambda span: span[1])
    for index, span in enumerate(s for s in spans if s[0] == "speech" and s[3] != ""):
        chapters.append([0 if index == 0 else span[1], span[3]])
    sound = document.get("sound") or {}
    if sound:
        _sound_marks(marks, spans, sound, document, duration)
    return {"chapters": chapters, "spans": spans, "marks": marks, "bed": sound.get("bed")}


def _speech(spans: list[list[Any]], part: Mapping[str, Any], label: str, step: int | None) -> None:
    """A part's speech; the silences between its sentences that are longer than the voice's own
    gaps are the inline pauses the text asks for, `(pauze 4 s)`."""
    from rustpunt.script.sentences import InlinePause, split_inline

    end = part.get("speech_end_ms", part["end_ms"])
    spans.append(["speech", part["start_ms"], end, label, "", step])
    try:
        asked = [item.ms for item in split_inline(part["text"]) if isinstance(item, InlinePause)]
    except ValueError:
        asked = []
    sentences = part.get("sentences") or []
    for before, after in itertools.pairwise(sentences):
        gap = after["start_ms"] - before["end_ms"]
        if asked and gap >= asked[0]:
            spans.append(
                ["inline", before["end_ms"], after["start_ms"], _seconds(gap),
                 f"inline pause in the text: {_seconds(asked.pop(0))}", step]
            )  # fmt: skip


def _sound_marks(
    marks: list[list[Any]],
    spans: list[list[Any]],
    sound: Mapping[str, Any],
    document: Mapping[str, Any],
    duration: int,
) -> None:
    """Bells at the start and end, chimes before speech after a long pause, breathing tones on
    the pauses of the steps they pace: where rustpunt.audio.sounddesign lays them."""
    bells = sound.get("bell") or []
    if "start" in bells:
        marks.append(["bell", 0, "singing bowl"])
    if "end" in bells:
        marks.append(["bell", duration, "singing bowl"])
    chime = sound.get("chime_ms")
    if chime:
        for pause, after in itertools.pairwise(spans):
            if pause[0] == "pause" and pause[2] - pause[1] >= chime and after[0] == "speech":
                marks.append(["chime", after[1], "chime"])
    for run in sound.get("breathing") or []:
        for step in document.get("steps", []):
            if step["step"] == run.get("step") and step.get("pause"):
                pause = step["pause"]
                label = f"breathing tones: {run.get('cycles')} cycles"
                spans.append(
                    ["breath", pause["start_ms"], pause["end_ms"], label, label, step["step"]]
                )


def _seconds(ms: int) -> str:
    seconds = ms / 1000
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes}m{rest:02d}s"
    return f"{seconds:.1f} s".replace(".0 s", " s")


def page_data(
    output_dir: Path,
    page: Path,
    *,
    measure_loudness: bool = True,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Every session and episode built in the folder, as the page's script reads them, plus the
    failed scripts that have no outputs yet."""
    output_dir = Path(output_dir)
    found = sidecars(output_dir)
    record_document = read_json_object(state_folder(output_dir, cache_dir) / BUILD_RECORD) or {}
    record = record_document.get("sessions", {})
    last_build = record_document.get("finished")
    loudness = (
        measured(output_dir, [path.with_suffix(".mp3") for path in found], cache_dir=cache_dir)
        if measure_loudness
        else {}
    )
    sessions = []
    for sidecar in found:
        data = session_data(
            sidecar,
            page.parent,
            output_dir,
            loudness=loudness,
            record=record,
            last_build=last_build,
        )
        if data is not None:
            sessions.append(data)
    known = {session["key"] for session in sessions}
    for key, entry in sorted(record.items()):
        if key not in known and entry.get("status") == "failed":
            sessions.append(
                {"key": key, "title": Path(key).stem, "kind": "session", "script": entry["script"],
                 "status": "failed", "error": entry.get("error"), "rebuilt": False, "src": None,
                 "duration_ms": 0, "cues": [], "chapters": [], "spans": [], "marks": [], "bed": None}
            )  # fmt: skip
    return {"folder": shown(output_dir), "generated": time.time(), "sessions": sessions}


def asset(name: str) -> str:
    """A file of the page's template, shipped inside the package."""
    return resources.files("rustpunt.studio").joinpath("page", name).read_text(encoding="utf-8")


def page_html(data: Mapping[str, Any], *, live: bool = False) -> str:
    """The whole page: template, CSS, script and data in one file. `live`: the studio's page,
    which listens to /events."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    payload = payload.replace("</", "<\\/")  # never ends the <script> element early
    return (
        asset("page.html")
        .replace("/*CSS*/", asset("review.css"))
        .replace("/*JS*/", asset("review.js"))
        .replace("/*DATA*/", payload)
        .replace("/*LIVE*/", "true" if live else "false")
    )


def write_page(
    output_dir: Path,
    page: Path | None = None,
    *,
    live: bool = False,
    measure_loudness: bool = True,
    cache_dir: Path | None = None,
) -> Path:
    """Write the review page of `output_dir` (default OUTPUT/index.html), from the state kept
    in `cache_dir` (see state_folder); returns its path."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        raise ReviewError(f"{shown(output_dir)}: no such folder; build into it first")
    page = Path(page) if page is not None else output_dir / PAGE_NAME
    data = page_data(output_dir, page, measure_loudness=measure_loudness, cache_dir=cache_dir)
    if not data["sessions"]:
        raise ReviewError(
            f"{shown(output_dir)}: nothing built here (no NAME.mp3 with its NAME.json); "
            f"run `rustpunt build SCRIPTS -o {shown(output_dir)}` first"
        )
    write_text_atomic(page, page_html(data, live=live))
    return page
