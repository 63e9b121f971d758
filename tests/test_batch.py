"""Finding scripts and building many: the library side of `rustpunt build`."""

from __future__ import annotations

from pathlib import Path

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
