#!/usr/bin/env python3
"""The review page and the studio, measured in Debian's chromium (Playwright):

    python benchmarks/review.py                 # 500 sessions rendered; save-to-event, save-to-play
    python benchmarks/review.py --quick         # 50 sessions, 3 edits

1. A page of 500 sessions (the four examples' page data repeated, each a real session's chapters,
   transcript and timeline) opened from disk: the time from navigation start to the end of the
   page's rendering script, and the script alone (median of 5 loads). Target: under 1 s. Then
   five chapter clicks in a session: the time to its audio at that chapter (under 0.1 s).
2. `rustpunt studio` on one 5-minute session (offline voice): a pause edited and saved, then the
   time from the save (the file's write) to the rebuild's event reaching the page through
   /events (target: median under 0.15 s), and to the reloaded audio playing there (under 0.3 s).
   The browser and this process share the machine's clock (Date.now() and time.time()).

It reports, it does not assert.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness import REPO, Figure, arguments, report

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--mute-audio"]  # fmt: skip
RUSTPUNT = [sys.executable, "-m", "rustpunt"]


def five_minutes() -> str:
    """A script of about five minutes: 20 steps with pauses."""
    steps = []
    for number in range(1, 21):
        steps.append(
            f"  - text: Adem rustig in door je neus en laat de adem vanzelf weer gaan, stap {number}.\n"
            f"    pause: {8 + number % 5}\n"
        )
    return "title: Vijf minuten\nintro: Welkom. Ga rustig zitten.\nsteps:\n" + "".join(steps)


def render_figures(browser, root: Path, count: int) -> dict[str, float]:
    from rustpunt.studio.review import page_data, page_html

    out = root / "examples"
    env = {**os.environ, "RUSTPUNT_CACHE": str(root / "cache")}
    subprocess.run([*RUSTPUNT, "build", str(REPO / "scripts"), "-o", str(out), "--voice", "nl-espeak"],
                   check=True, capture_output=True, env=env)  # fmt: skip
    data = page_data(out, out / "index.html", measure_loudness=False)
    real = data["sessions"]
    data["sessions"] = [
        {**real[i % len(real)], "key": f"{i}/{real[i % len(real)]['key']}",
         "title": f"{real[i % len(real)]['title']} {i}"}
        for i in range(count)
    ]  # fmt: skip
    page_path = out / "big.html"
    page_path.write_text(page_html(data), encoding="utf-8")
    totals, scripts = [], []
    for _ in range(5):
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(page_path.as_uri())
        page.wait_for_function("window.__review !== undefined")
        scripts.append(page.evaluate("window.__review.renderMs"))
        totals.append(
            page.evaluate(
                "performance.now() - window.__review.renderMs >= 0 ? "
                "performance.getEntriesByType('navigation')[0].domInteractive : 0"
            )
        )
        page.close()
    return {
        "sessions": count,
        "page_mb": round(page_path.stat().st_size / 2**20, 1),
        "render_script_ms": round(statistics.median(scripts)),
        "navigation_to_rendered_ms": round(statistics.median(totals)),
        "chapter_click_ms": chapter_clicks(browser, page_path),
    }


def chapter_clicks(browser, page_path: Path, clicks: int = 5) -> list[float]:
    """From a click on a chapter of the second session to its audio at that chapter (within
    0.1 s), not seeking and ready to play: one figure per chapter clicked."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(page_path.as_uri())
    page.wait_for_function("window.__review !== undefined")
    took = []
    for index in range(1, clicks + 1):
        took.append(
            page.evaluate(
                """(index) => new Promise((done) => {
                    const card = document.querySelector('#s1');
                    const audio = card.querySelector('audio');
                    const button = card.querySelectorAll('.chapters button')[index];
                    const target = Number(button.dataset.at) / 1000;
                    const started = performance.now();
                    button.click();
                    (function wait() {
                      if (audio.readyState >= 1 && !audio.seeking
                          && Math.abs(audio.currentTime - target) < 0.1) {
                        done(performance.now() - started);
                      } else requestAnimationFrame(wait);
                    })();
                })""",
                index,
            )
        )
    page.close()
    return [round(value, 1) for value in took]


def studio_figures(browser, root: Path, edits: int) -> dict[str, object]:
    scripts = root / "studio"
    scripts.mkdir()
    script = scripts / "vijf.yaml"
    text = five_minutes()
    script.write_text(text, encoding="utf-8")
    env = {**os.environ, "RUSTPUNT_CACHE": str(root / "cache")}
    process = subprocess.Popen(
        [*RUSTPUNT, "studio", str(scripts), "-o", str(root / "studio-out"), "--voice", "nl-espeak", "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stderr:
            lines.append(line)
            if "Watching" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(120)
    url = re.search(r"Serving (\S+)", "".join(lines))[1]
    page = browser.new_page()
    page.goto(url)
    page.wait_for_function("document.documentElement.dataset.live === 'open'")
    page.evaluate("document.querySelector('#s0 audio').play()")
    page.wait_for_function("!document.querySelector('#s0 audio').paused")
    to_event, to_play = [], []
    duration = json.loads((root / "studio-out" / "vijf.json").read_text())["duration_ms"]
    try:
        for edit in range(edits):
            time.sleep(1.0)  # the previous round's page refresh (loudness) is done
            page.evaluate("window.__lastRebuild = undefined")
            text = text.replace(
                f"pause: {8 + (edit + 3) % 5}\n", f"pause: {8 + (edit + 3) % 5}.{edit + 1}\n", 1
            )
            saved = time.time() * 1000
            script.write_text(text, encoding="utf-8")
            page.wait_for_function(
                "window.__lastRebuild && window.__lastRebuild.playing", timeout=10_000
            )
            note = page.evaluate("window.__lastRebuild")
            to_event.append(note["received"] - saved)
            to_play.append(note["playing"] - saved)
    finally:
        process.terminate()
        process.wait(10)
    return {
        "session_minutes": round(duration / 60000, 1),
        "edits": edits,
        "save_to_event_ms": [round(x) for x in to_event],
        "save_to_event_median_ms": round(statistics.median(to_event)),
        "save_to_playing_ms": [round(x) for x in to_play],
        "save_to_playing_median_ms": round(statistics.median(to_play)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__, repeat=1, settle=0.0)
    parser.add_argument("--sessions", type=int, help="sessions on the page (500, --quick 50)")
    parser.add_argument("--edits", type=int, help="studio edits (7, --quick 3)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    count = args.sessions or (50 if args.quick else 500)
    edits = args.edits or (3 if args.quick else 7)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("RUSTPUNT_CHROMIUM", "/usr/bin/chromium"), args=FLAGS
        )
        figures = {"render": render_figures(browser, Path(folder), count),
                   "studio": studio_figures(browser, Path(folder), edits)}  # fmt: skip
        browser.close()
    render, studio = figures["render"], figures["studio"]
    table = [
        Figure(f"{count} sessions' page ({render['page_mb']:g} MB) opened from disk: the "
               "page's script (median of 5)", render["render_script_ms"], "ms",
               target=("<", 1000), key="render_script_ms"),
        Figure("  navigation to rendered (median of 5)", render["navigation_to_rendered_ms"],
               "ms", target=("<", 1000), key="navigation_to_rendered_ms"),
        Figure("  a chapter click to its audio there, ready (median of 5 chapters)",
               statistics.median(render["chapter_click_ms"]), "ms", target=("<", 100),
               key="chapter_click_ms"),
        Figure(f"studio, a pause edited in a {studio['session_minutes']:g}-minute session: save "
               f"to its event in the page (median of {edits})",
               studio["save_to_event_median_ms"], "ms", target=("<", 150), key="save_to_event_ms"),
        Figure(f"  save to the new audio playing in the page (median of {edits})",
               studio["save_to_playing_median_ms"], "ms", target=("<", 300),
               key="save_to_playing_ms"),
    ]  # fmt: skip
    report("review", args, table, figures, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
