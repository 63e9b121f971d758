"""Debian's chromium, headless, driven by Playwright (it cannot download its own browsers here).

.ci/chromium installs it when missing; RUSTPUNT_CHROMIUM names another executable. The tests that
use it are never skipped: a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTEFACTS = Path(os.environ.get("RUSTPUNT_ARTEFACTS", REPO / "build" / "test-artefacts"))
CHROMIUM = os.environ.get("RUSTPUNT_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",  # the tests play audio without a user's click
    "--mute-audio",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run .ci/chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()
