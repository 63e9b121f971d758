"""Where the review page's state (the last build's record, the loudness measured) is kept: the
cache folder the build was given, never the output folder, never another cache."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import run_main, write_script

GOOD = """\
title: Kort
steps:
  - text: Adem rustig in.
    pause: 2
"""

BAD = """\
title: Kapot
steps:
  - text: Adem in.
    pause: zeven
"""


def test_a_build_with_a_cache_dir_keeps_the_page_state_there(
    hermetic: Path, tmp_path: Path
) -> None:
    """`--cache-dir` names the cache a build uses for everything: the page's state went to
    $RUSTPUNT_CACHE (or the user's cache) all the same, and `review` had no --cache-dir."""
    scripts = tmp_path / "scripts"
    write_script(scripts, "kort.yaml", GOOD)
    write_script(scripts, "kapot.yaml", BAD)
    out, team = tmp_path / "out", tmp_path / "team-cache"
    built = run_main("build", scripts, "-o", out, "--cache-dir", team, "--voice", "nl-espeak")
    assert built.returncode == 1, built.stderr  # the bad script fails, the other is built
    assert (team / "review").is_dir()
    assert not (hermetic / "review").exists()

    reviewed = run_main("review", out, "--cache-dir", team)
    assert reviewed.returncode == 0, reviewed.stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "kapot.yaml:4" in page  # the last build's failure, from its record
    assert not (hermetic / "review").exists()
    assert sorted(os.listdir(out)) == ["index.html", "kort.json", "kort.mp3", "kort.vtt"]
