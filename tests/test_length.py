"""Sessions of an exact length (`length:`): real MP3s of several lengths, measured decoded; which
pauses give way and how; lengths out of reach named at the key's line by check and build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import audiotools
from conftest import run_main, write_script
from rustpunt.audio.pcm import SAMPLE_RATE
from rustpunt.audio.sounddesign import design_session
from rustpunt.build.length import Give, gives, shares
from rustpunt.script.load import MAX_LENGTH_MS, load_script
from rustpunt.script.plan import plan
from rustpunt.script.schema import script_schema

SCRIPT = """\
title: Precies
length: {length}
intro: Welkom. Ga rustig zitten.
steps:
  - text: Adem rustig in door je neus.
    pause: 3
  - Houd dit vier seconden vast.
  - Sluit je ogen (pauze 2 seconden) en ontspan.
  - Blijf twee minuten zo zitten.
  - text: Adem drie keer rustig in en uit.
    breathing: {{in: 2, out: 3}}
outro: Dat was het.
"""

NO_TONES = SCRIPT.replace("    breathing: {{in: 2, out: 3}}\n", "")
"""Without breathing tones: the spliced writer (tones under a pause take the one-pass encode)."""


def build(folder: Path, out: Path, *extra: str) -> dict:
    result = run_main("build", folder, "-o", out, "--voice", "nl-espeak", "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def sidecar(out: Path, name: str) -> dict:
    return json.loads((out / f"{name}.json").read_text(encoding="utf-8"))


def pauses(document: dict) -> dict[int, dict]:
    return {step["step"]: step["pause"] for step in document["steps"] if "pause" in step}


# --------------------------------------------------------------------------- the rule


def test_one_factor_for_every_pause_that_gives_way_within_its_bounds() -> None:
    flexible = [Give(0, 2_000, 1_000, 3_600_000), Give(1, 180_000, 1_000, 3_600_000)]
    grown = shares(flexible, 182_000 + 3_640)  # 2 % more
    assert sum(grown) == 185_640
    assert grown[0] == pytest.approx(2_040, abs=1) and grown[1] == pytest.approx(183_600, abs=1)
    shrunk = shares(flexible, 91_000)  # half: the short pause stops at its floor of a second...
    assert shrunk[0] == 1_000 and sum(shrunk) == 91_000  # ...and the long one takes the rest
    held = shares([Give(0, 5_000, 5_000, 3_600_000), Give(1, 5_000, 1_000, 3_600_000)], 7_000)
    assert held == [5_000, 2_000]  # a floor (breathing cycles) holds; the other gives way


def test_which_pauses_give_way(tmp_path: Path) -> None:
    script = load_script(write_script(tmp_path, "precies.yaml", SCRIPT.format(length="10m")))
    designed = design_session(script, plan(script))
    items = designed.timeline.items
    found = {items[g.index].rule: g for g in gives(designed)}  # type: ignore[union-attr]
    assert set(found) == {"after-intro", "default", "minutes", "repeat"}  # not explicit, seconds
    assert found["repeat"].low_ms == 5_000  # one breath of its tones (they fill the pause)
    assert found["default"].low_ms == 1_000 and found["minutes"].high_ms == 3_600_000


def test_the_schema_knows_length() -> None:
    length = script_schema()["properties"]["length"]
    assert length["maximum"] == MAX_LENGTH_MS / 1000
    assert length["pattern"] == script_schema()["$defs"]["pause"]["pattern"]


# --------------------------------------------------------------------------- real MP3s


@pytest.mark.slow
@pytest.mark.parametrize(("length", "asked_ms"), [('"1m30s"', 90_000), ('"4m"', 240_000)])
def test_the_mp3_is_the_asked_length_decoded(tmp_path: Path, length: str, asked_ms: int) -> None:
    write_script(tmp_path / "in", "precies.yaml", SCRIPT.format(length=length))
    write_script(tmp_path / "plain", "precies.yaml", SCRIPT.format(length="~"))
    built = build(tmp_path / "in", tmp_path / "out")
    build(tmp_path / "plain", tmp_path / "plain-out")
    mp3 = tmp_path / "out" / "precies.mp3"
    decoded = audiotools.decode(mp3)
    assert abs(decoded.size * 1000 / SAMPLE_RATE - asked_ms) <= 1  # to the ms, not the frame
    assert built["scripts"][0]["duration_ms"] == asked_ms
    document, plain = (
        sidecar(tmp_path / "out", "precies"),
        sidecar(tmp_path / "plain-out", "precies"),
    )
    assert document["length"]["asked_ms"] == asked_ms
    fitted, planned = pauses(document), pauses(plain)
    for step in (1, 2):  # `pause: 3` and "vier seconden" keep their length
        assert fitted[step]["ms"] == planned[step]["ms"] and "planned_ms" not in fitted[step]
    factors = {
        step: fitted[step]["ms"] / fitted[step]["planned_ms"] for step in (3, 4, 5)
    }  # the default, the minutes and the breathing rounds: one factor
    assert max(factors.values()) - min(factors.values()) < 0.01, factors
    assert (factors[3] > 1) == (asked_ms > plain["duration_ms"])
    for step in (3, 4, 5):  # the MP3 has them: placed pauses at least as long as the sidecar's
        span = fitted[step]["end_ms"] - fitted[step]["start_ms"]
        assert fitted[step]["ms"] <= span <= fitted[step]["ms"] + 27
    # the breathing tones fill their stretched pause: as many 5 s cycles as fit
    cycles = document["sound"]["breathing"][0]["cycles"]
    assert cycles == fitted[5]["ms"] // 5_000
    quiet = audiotools.silences(mp3, noise_db=-60, min_ms=5_000)
    tones_end = fitted[5]["start_ms"] + cycles * 5_000
    assert not any(start < tones_end - 500 and end > fitted[5]["start_ms"] + 500
                   for start, end in quiet)  # fmt: skip
    # chapters and captions follow the new times
    chapters = audiotools.chapters(mp3)
    starts = [step["start_ms"] for step in document["steps"]]
    assert [c[0] for c in chapters[2:-1]] == pytest.approx(starts[1:], abs=1)
    assert chapters[-1][1] == pytest.approx(asked_ms, abs=1)
    vtt = (tmp_path / "out" / "precies.vtt").read_text(encoding="utf-8")
    assert "Dat was het." in vtt
    assert document["outro"]["start_ms"] > fitted[5]["end_ms"] - 1


@pytest.mark.slow
def test_a_changed_length_is_a_pause_only_edit(tmp_path: Path, hermetic: Path) -> None:
    """Speech starts on an MP3 frame wherever the stretched pauses put it: nothing is spoken or
    encoded again, and the new length is exact."""
    script = write_script(tmp_path / "in", "precies.yaml", NO_TONES.format(length='"2m"'))
    build(tmp_path / "in", tmp_path / "out")
    parts = set((hermetic / "mp3parts").glob("*/*.mp3part"))
    assert parts
    for length, asked_ms in (('"2m30s"', 150_000), ("100", 100_000)):
        script.write_text(NO_TONES.format(length=length), encoding="utf-8")
        edited = build(tmp_path / "in", tmp_path / "out")
        assert edited["built"] == 1 and edited["scripts"][0]["synthesized"] == 0
        assert set((hermetic / "mp3parts").glob("*/*.mp3part")) == parts, length
        decoded = audiotools.decode(tmp_path / "out" / "precies.mp3")
        assert abs(decoded.size * 1000 / SAMPLE_RATE - asked_ms) <= 1


# --------------------------------------------------------------------------- out of reach


def test_check_names_the_shortest_and_longest_length_at_the_keys_line(tmp_path: Path) -> None:
    path = write_script(tmp_path, "precies.yaml", SCRIPT.format(length='"20s"'))
    result = run_main("check", path)
    assert result.returncode == 1
    assert "precies.yaml:2: `length` 0:20 is too short: this script is at least about" in (
        result.stderr
    )
    assert "estimated at 115 words a minute" in result.stderr
    path.write_text(SCRIPT.format(length='"10h"'), encoding="utf-8")
    result = run_main("check", path)
    assert "precies.yaml:2: `length` 10:00:00 is too long: this script is at most about 4:" in (
        result.stderr
    )  # four pauses give way, each to an hour
    path.write_text(SCRIPT.format(length='"5m"'), encoding="utf-8")
    assert run_main("check", path).returncode == 0


def test_a_script_whose_pauses_all_keep_their_length(tmp_path: Path) -> None:
    text = "title: Vast\nlength: 3m\nsteps:\n  - text: Houd vijf seconden vast.\n"
    result = run_main("check", write_script(tmp_path, "vast.yaml", text))
    assert "vast.yaml:2: `length` 3:00 is too long: this script is at most about 0:" in (
        result.stderr
    )


@pytest.mark.slow
def test_build_refuses_a_length_the_spoken_script_cannot_have(tmp_path: Path) -> None:
    write_script(tmp_path / "in", "precies.yaml", SCRIPT.format(length='"25s"'))
    result = run_main("build", tmp_path / "in", "-o", tmp_path / "out", "--voice", "nl-espeak")
    assert result.returncode == 1
    assert "precies.yaml:2: `length` 0:25 is too short: this script is at least" in result.stderr
    assert "about" not in result.stderr  # the build measured the speech
    assert not (tmp_path / "out" / "precies.mp3").exists()


def test_length_must_be_a_duration(tmp_path: Path) -> None:
    for value, said in (('"tien minuten"', "is not a duration"), ("0", "is zero"),
                        ('"11h"', "is over 10 hours")):  # fmt: skip
        path = write_script(tmp_path, "fout.yaml", SCRIPT.format(length=value))
        result = run_main("check", path)
        assert "fout.yaml:2: `length`" in result.stderr and said in result.stderr, result.stderr


# --------------------------------------------------------------------------- plan


def test_plan_shows_each_pause_before_and_after_and_why(tmp_path: Path) -> None:
    path = write_script(tmp_path, "precies.yaml", SCRIPT.format(length='"5m"'))
    result = run_main("plan", path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    default = next(line for line in lines if "[default]" in line)
    assert "5.0 s ->" in default and "with the other pauses that give way" in default
    assert "for a length of 5:00" in default
    assert any("[explicit]" in line and "kept: written by the author" in line for line in lines)
    assert any("[seconds]" in line and "kept: a cue fixes it" in line for line in lines)
    document = json.loads(run_main("plan", path, "--json").stdout)
    assert document["length"]["asked_ms"] == 300_000
    total = sum(item["ms"] for item in document["items"] if item["type"] == "pause")
    assert total > 200_000  # the pauses make up what the speech leaves of five minutes


# --------------------------------------------------------------------------- episodes


@pytest.mark.slow
def test_an_episode_of_an_exact_length(tmp_path: Path) -> None:
    folder = tmp_path / "show"
    write_script(folder, "precies.yaml", SCRIPT.format(length='"9m"'))  # its own length: alone
    episode = "title: Aflevering\nlength: 2m30s\nparts:\n  - text: Welkom.\n  - pause: 2\n" \
              "  - script: precies.yaml\n  - text: Tot ziens.\n"  # fmt: skip
    write_script(folder, "aflevering.yaml", episode)
    assert run_main("check", folder / "aflevering.yaml").returncode == 0
    build(folder / "aflevering.yaml", tmp_path / "out")
    decoded = audiotools.decode(tmp_path / "out" / "aflevering.mp3")
    assert abs(decoded.size * 1000 / SAMPLE_RATE - 150_000) <= 1
    document = sidecar(tmp_path / "out", "aflevering")
    assert document["length"]["asked_ms"] == 150_000
    assert {p["rule"] for p in document["length"]["pauses"]} >= {"default", "minutes", "repeat"}
    write_script(folder, "aflevering.yaml", episode.replace("2m30s", "30s"))
    result = run_main("check", folder / "aflevering.yaml")
    assert "aflevering.yaml:2: `length` 0:30 is too short: this episode is at least about" in (
        result.stderr
    )


def test_chimes_follow_the_stretched_pauses(tmp_path: Path) -> None:
    """A chime strikes 2 s before speech resumes after a long pause, wherever `length:` puts it:
    a default pause stretched past the chime's threshold gets one."""
    import numpy as np

    from rustpunt.audio.mix import place
    from rustpunt.audio.sounddesign import CHIME_LEAD_MS, layer_for
    from rustpunt.build.length import fit_spoken
    from rustpunt.script.plan import Pause

    text = SCRIPT.format(length='"6m"').replace(
        "title: Precies", "title: Precies\nsound: {chime: 12}"
    )
    script = load_script(write_script(tmp_path, "precies.yaml", text))
    designed = design_session(script, plan(script))
    clips = {s.text: np.zeros(SAMPLE_RATE, dtype="<i2") for s in designed.timeline.speeches()}
    fitted = fit_spoken(designed, 360_000, clips, (script.path, 2, "script"))
    lead = round(CHIME_LEAD_MS * SAMPLE_RATE / 1000)
    found = []
    for session in (designed, fitted):
        mix = place(session.timeline, clips)
        layer = layer_for(session, mix)
        assert layer is not None
        expected, quiet = [], 0
        for placement in mix.placements:  # speech after 12 s of quiet or more, 2 s before it
            if isinstance(placement.item, Pause):
                quiet += placement.end - placement.start
                continue
            if placement.start > mix.placements[1].start and quiet >= 12 * SAMPLE_RATE:
                expected.append(placement.start - lead)
            quiet = 0
        chime = layer.sounds[0].samples.size  # no bells: the first sound is a chime
        assert [s.start for s in layer.sounds if s.samples.size == chime] == expected
        found.append(len(expected))
    assert found[1] > found[0]  # the stretched default pauses passed 12 s: chimes before them
    total = place(fitted.timeline, clips).total_samples  # the tail in whole ms: within half a ms
    assert abs(total - 360_000 * SAMPLE_RATE // 1000) <= SAMPLE_RATE // 2000 + 1
