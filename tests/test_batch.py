"""Finding scripts and building many: the library side of `rustpunt build`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from conftest import write_script
from rustpunt.build.batch import build_all
from rustpunt.build.jobs import find_scripts, jobs_for
from rustpunt.build.session import BuildOptions

SCRIPT = "title: t\nsteps: [Adem in., Adem uit., Adem in.]\noutro: Klaar.\n"


def test_folders_are_searched_for_scripts_but_not_voices_or_hidden_folders(tmp_path: Path) -> None:
    write_script(tmp_path, "a.yaml", SCRIPT)
    write_script(tmp_path, "deel/b.yml", SCRIPT)
    write_script(tmp_path, "voices/nl-eigen.yaml", "engine: espeak\n")
    write_script(tmp_path, ".git/c.yaml", SCRIPT)
    write_script(tmp_path, ".d.yaml", SCRIPT)
    write_script(tmp_path, "notities.txt", "geen script")
    found = find_scripts([tmp_path])
    assert found == [(tmp_path / "a.yaml", Path()), (tmp_path / "deel" / "b.yml", Path("deel"))]
    jobs = jobs_for([tmp_path], tmp_path / "out")
    assert [job.output_dir for job in jobs] == [tmp_path / "out", tmp_path / "out" / "deel"]


def test_a_single_build_tells_of_every_clip_it_speaks(tmp_path: Path, hermetic: Path) -> None:
    script = write_script(tmp_path, "a.yaml", SCRIPT)
    options = BuildOptions(output_dir=tmp_path / "out", cache_dir=hermetic, voice="nl-espeak")
    told: list[tuple[Path, int, int]] = []
    finished = []
    results = build_all(
        jobs_for([script], options.output_dir), options, workers=1,
        on_done=finished.append, on_clip=lambda *args: told.append(args),
    )  # fmt: skip
    assert [r.status for r in results] == ["built"] and finished == results
    assert told == [(script, 1, 3), (script, 2, 3), (script, 3, 3)]  # three distinct texts
    told.clear()
    again = build_all(
        jobs_for([script], options.output_dir),
        options,
        workers=1,
        on_clip=lambda *a: told.append(a),
    )
    assert [r.status for r in again] == ["up to date"] and told == []


def test_a_folders_lexicon_and_podcast_settings_are_not_scripts(tmp_path: Path) -> None:
    write_script(tmp_path, "a.yaml", SCRIPT)
    write_script(tmp_path, "lexicon.yaml", "ggz: gee-gee-zet\n")
    write_script(tmp_path, "podcast.yaml", "title: Rustpunt\n")
    assert find_scripts([tmp_path]) == [(tmp_path / "a.yaml", Path())]


def test_the_build_s_caches_are_its_workspace_s_made_from_plain_options(
    tmp_path: Path, hermetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BuildOptions carries the cache folder and URL as plain values; the Workspace made from
    them owns the clip cache (with its remote level) and the part cache beside it, and a worker
    is handed the folder as this process resolved it."""
    import pickle

    from rustpunt.build.workspace import Workspace
    from rustpunt.mp3.partcache import DirectoryPartCache, MemoryPartCache

    options = BuildOptions(output_dir=tmp_path / "out", cache_url=(tmp_path / "team").as_uri())
    assert "ClipCache" not in repr(pickle.loads(pickle.dumps(options)))
    monkeypatch.setenv("RUSTPUNT_CACHE", str(hermetic))
    workspace = Workspace.for_options(options)
    assert workspace.clips.root == hermetic
    assert workspace.clips.remote is not None
    assert workspace.clips.remote.url == (tmp_path / "team").as_uri()
    parts = workspace.parts
    assert isinstance(parts, DirectoryPartCache) and parts.root == hermetic / "mp3parts"
    assert parts.remote is workspace.clips.remote and workspace.parts is parts  # made once
    workspace.keep_parts(1 << 20)
    assert isinstance(workspace.parts, MemoryPartCache) and workspace.parts.behind is parts
    monkeypatch.setenv("RUSTPUNT_CACHE", str(tmp_path / "elsewhere"))  # a worker's environment
    passed = workspace.passed_on(options)
    assert (passed.cache_dir, passed.cache_url) == (hermetic, options.cache_url)
    assert Workspace.for_options(passed).clips.root == hermetic


def test_a_build_counts_the_clips_its_workspace_s_cache_found(
    tmp_path: Path, hermetic: Path
) -> None:
    from rustpunt.build.workspace import Workspace

    script = write_script(tmp_path, "a.yaml", SCRIPT)
    options = BuildOptions(output_dir=tmp_path / "out", cache_dir=hermetic, voice="nl-espeak")
    jobs = jobs_for([script], options.output_dir)
    [first] = build_all(jobs, options, workers=1)
    assert first.synthesized == 3
    workspace = Workspace.for_options(replace(options, force=True))
    [again] = build_all(jobs, replace(options, force=True), workers=1, workspace=workspace)
    assert (again.synthesized, again.from_cache) == (0, 3)
    assert workspace.clips.found["local"] == 3
