"""`rustpunt studio`: what changed in a rebuild, the server's files and ranges, and the real
program with the page in chromium: a saved edit reloads the session and plays it from the step
that changed; a bad edit shows its error in place; SIGTERM stops it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser import browser  # noqa: F401 (a fixture)
from conftest import run_main, write_script
from rustpunt.studio.server import Studio, byte_range, first_change, serve

SCRIPT = """\
title: Kort moment
intro: Welkom.
steps:
  - text: Laat je schouders zakken.
    pause: 3
  - text: Adem rustig uit.
    pause: 2
  - Open je ogen.
"""


def step(number: int, start: int, speech_end: int, pause_ms: int, text: str = "x") -> dict:
    return {
        "step": number, "text": text, "start_ms": start, "speech_end_ms": speech_end,
        "end_ms": speech_end + pause_ms,
        "pause": {"ms": pause_ms, "start_ms": speech_end, "end_ms": speech_end + pause_ms},
    }  # fmt: skip


def test_a_pause_edit_plays_the_end_of_the_pause_into_the_next_step() -> None:
    old = {"duration_ms": 30_000, "steps": [step(1, 1000, 3000, 5000), step(2, 8000, 9000, 4000)]}
    new = {
        "duration_ms": 32_000,
        "steps": [step(1, 1000, 3000, 7000), step(2, 10_000, 11_000, 4000)],
    }
    assert first_change(old, new) == (1, 10_000 - 2000)
    short = {"duration_ms": 26_000, "steps": [step(1, 1000, 3000, 1000), step(2, 4000, 5000, 4000)]}
    assert first_change(old, short) == (1, 3000)  # never before the pause starts


def test_a_changed_sentence_plays_from_just_before_its_step() -> None:
    old = {"duration_ms": 30_000, "steps": [step(1, 1000, 3000, 5000), step(2, 8000, 9000, 4000)]}
    new = {
        "duration_ms": 30_000,
        "steps": [step(1, 1000, 3000, 5000), step(2, 8000, 9500, 4000, "y")],
    }
    assert first_change(old, new) == (2, 7000)
    assert first_change(old, old) == (None, None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-10", (990, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=1000-", False),
        ("bytes=5-2", False),
        ("bytes=0-1,5-9", None),  # several ranges: the whole file
    ],
)
def test_byte_ranges(header: str | None, expected: object) -> None:
    assert byte_range(header, 1000) == expected


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("studio")
    scripts = root / "scripts"
    write_script(scripts, "kort.yaml", SCRIPT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUSTPUNT_CACHE", str(root / "cache"))
        done = run_main("build", scripts, "-o", root / "out", "--voice", "nl-espeak")
    assert done.returncode == 0, done.stderr
    return scripts, root / "out"


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_serves_only_the_files_of_its_folder_with_types_and_ranges(built, tmp_path: Path) -> None:
    _scripts, out = built
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the page")
    link = out / "link.txt"
    link.unlink(missing_ok=True)
    link.symlink_to(secret)
    studio = Studio(out, measure_loudness=False)
    server, _thread = serve(studio, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        status, headers, body = get(base + "/")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert b"new EventSource" in body or b"EventSource" in body
        size = (out / "kort.mp3").stat().st_size
        status, headers, body = get(base + "/kort.mp3", Range="bytes=100-199")
        assert (status, headers["Content-Type"], len(body)) == (206, "audio/mpeg", 100)
        assert headers["Content-Range"] == f"bytes 100-199/{size}"
        assert body == (out / "kort.mp3").read_bytes()[100:200]
        assert get(base + "/kort.mp3", Range=f"bytes={size}-")[0] == 416
        assert get(base + "/kort.vtt")[1]["Content-Type"].startswith("text/vtt")
        for path in (
            "/link.txt",
            "/%2e%2e/secret.txt",
            "/..%2fsecret.txt",
            "/.rustpunt/build.json",
        ):
            assert get(base + path)[0] == 404, path
    finally:
        studio.close()
        server.shutdown()
        server.server_close()
        link.unlink()


@pytest.fixture
def studio_process(built) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    scripts, out = built
    process = subprocess.Popen(
        [sys.executable, "-m", "rustpunt", "studio", str(scripts), "-o", str(out),
         "--voice", "nl-espeak", "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
        env={**os.environ, "RUSTPUNT_CACHE": str(out.parent / "cache")},
    )  # fmt: skip
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if "Watching" in line:
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert found.wait(60), "".join(lines)
    url = re.search(r"Serving (\S+)", "".join(lines))[1]  # type: ignore[index]
    try:
        yield process, url, scripts / "kort.yaml"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        reader.join(timeout=5)
        process.stderr.close()  # type: ignore[union-attr]


def test_a_saved_edit_reloads_the_session_and_plays_the_changed_step(
    browser,  # noqa: F811
    studio_process,
) -> None:
    process, url, script = studio_process
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url)
    page.wait_for_function("document.documentElement.dataset.live === 'open'")
    page.evaluate("document.querySelector('#s0 audio').play()")
    page.wait_for_function("!document.querySelector('#s0 audio').paused")

    script.write_text(SCRIPT.replace("pause: 2", "pause: 6"), encoding="utf-8")
    page.wait_for_function("window.__lastRebuild !== undefined", timeout=10_000)
    start_ms = page.evaluate("window.__lastRebuild.start_ms")
    sidecar = (script.parent.parent / "out" / "kort.json").read_text(encoding="utf-8")
    second = json.loads(sidecar)["steps"][1]["pause"]
    assert start_ms == second["end_ms"] - 2000  # the end of the edited pause, into step 3
    page.wait_for_function(
        "() => { const a = document.querySelector('#s0 audio');"
        " return a.src.includes('?v=') && !a.paused && window.__lastRebuild.playing !== null; }",
        timeout=10_000,
    )  # where it started to play, not where it is by now (a loaded machine polls late)
    assert abs(page.evaluate("window.__lastRebuild.playing_at_ms") - start_ms) < 600

    script.write_text(SCRIPT.replace("pause: 2", "pause: zeven"), encoding="utf-8")
    error = page.locator("#s0 .error")
    error.wait_for(state="visible", timeout=10_000)
    assert re.search(r"kort\.yaml:\d+:", error.text_content() or "")
    assert problems == []

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
