"""`rustpunt build` end to end: real scripts, real speech, real MP3s measured with the ffmpeg pip brings."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from mutagen.id3 import ID3

import audiotools
from conftest import EXAMPLES, REPO, run_cli, run_main, write_script

pytestmark = pytest.mark.slow

SMALL = """\
title: Kort moment
intro: Welkom bij dit korte moment.
steps:
  - Ga rustig zitten.
  - text: Houd dit vijf seconden vast.
  - text: Laat los.
    pause: 2.5
  - text: Adem uit.
    pause: "1.2s"
outro: Dat was het.
"""

FAST_GOOGLE = """\
description: "nl-google for tests, with no waiting between retries"
engine: gtts
settings: {lang: nl, timeout: 10, retries: 1, backoff: 0.01}
tempo: 0.88
fallback: nl-espeak
"""


def planned_silences(script: Path) -> list[int]:
    """The silences the plan asks for, from `rustpunt plan --json` (independent of the build);
    pauses that follow each other (a last step's pause and the tail) make one silence."""
    result = run_main("plan", script, "--json")
    assert result.returncode == 0, result.stderr
    silences: list[int] = []
    previous = None
    for item in json.loads(result.stdout)["items"]:
        if item["type"] == "pause":
            if previous == "pause":
                silences[-1] += item["ms"]
            else:
                silences.append(item["ms"])
        previous = item["type"]
    return silences


def assert_pauses_measured(mp3: Path, script: Path) -> None:
    """Every planned pause of a second or more is found as real silence in the MP3, in order,
    within 50 ms of the plan; no other long silence is there."""
    planned = [ms for ms in planned_silences(script) if ms >= 1000]
    measured = audiotools.silences(mp3, noise_db=-50, min_ms=900)
    assert len(measured) == len(planned), (planned, measured)
    for ms, (start, end) in zip(planned, measured):
        assert abs((end - start) - ms) <= 50, (ms, start, end)


def chapter_titles(mp3: Path) -> list[str]:
    return [title for _, _, title in audiotools.chapters(mp3)]


@pytest.mark.skipif(not EXAMPLES, reason="no example scripts")
def test_examples_build_offline_with_the_fallback_voice(tmp_path: Path) -> None:
    out = tmp_path / "output"
    result = run_cli("build", REPO / "scripts", "-o", out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "nl-espeak" in result.stderr and "--strict" in result.stderr  # the console says so
    assert len(EXAMPLES) == 4
    for script in EXAMPLES:
        mp3 = out / f"{script.stem}.mp3"
        sidecar = json.loads((out / f"{script.stem}.json").read_text(encoding="utf-8"))
        assert sidecar["voice"]["requested"] == "nl-google"
        assert sidecar["voice"]["used"] == "nl-espeak"
        assert "Google" in sidecar["voice"]["fallback_reason"]
        tags = ID3(mp3)
        assert tags["TXXX:voice"].text == ["nl-espeak"]
        assert tags["TIT2"].text == [sidecar["title"]]
        steps = [step["text"] for step in sidecar["steps"]]
        assert chapter_titles(mp3) == ["Intro", *steps, "Outro"]  # the examples have both
        starts = [start for start, _, _ in audiotools.chapters(mp3)]
        assert starts == sorted(starts)
        assert (out / f"{script.stem}.vtt").read_text(encoding="utf-8").startswith("WEBVTT")
        assert abs(audiotools.duration_ms(mp3) - sidecar["duration_ms"]) <= 5
        assert_pauses_measured(mp3, script)
        lufs, true_peak = audiotools.loudness(mp3)
        assert true_peak <= -1.0, (mp3, true_peak)  # podcast platforms' ceiling
        assert abs(lufs - -19.0) <= 0.25, (mp3, lufs)  # -19 LUFS mono within 0.25 LU (README)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{s.stem}.{ext}" for s in EXAMPLES for ext in ("mp3", "json", "vtt")
    )  # nothing half-written left behind


def test_inferred_pauses_last_at_least_what_the_step_asks(tmp_path: Path) -> None:
    script = write_script(tmp_path, "cues.yaml", """\
title: Signalen
cycle: 4
steps:
  - Houd dit vijf seconden vast.
  - Herhaal dit drie keer.
  - Blijf hier een minuut.
  - Span je vuisten aan, twaalf seconden lang.
""")  # fmt: skip
    out = tmp_path / "out"
    assert run_main("build", script, "-o", out, "--voice", "nl-espeak").returncode == 0
    sidecar = json.loads((out / "cues.json").read_text(encoding="utf-8"))
    silences = audiotools.silences(out / "cues.mp3", min_ms=900)
    asked = [5_000, 3 * 4_000, 60_000, 12_000]
    for step, at_least in zip(sidecar["steps"], asked):
        speech_end = step["speech_end_ms"]
        after = [(s, e) for s, e in silences if abs(s - speech_end) <= 50]
        assert after, (step, silences)
        start, end = after[0]
        # exact pauses (a hold ends on time) measure within a few ms: silencedetect at -60 dB
        # finds a soft first sound a little late or early
        assert end - start >= at_least - 10, (step["text"], end - start)


def test_explicit_pauses_to_the_millisecond(tmp_path: Path) -> None:
    script = write_script(tmp_path, "exact.yaml", """\
title: Exact
steps:
  - {text: Eén., pause: 0.333}
  - {text: Twee., pause: 1.7}
  - {text: Drie., pause: "4s"}
  - {text: Vier., pause: 0}
  - Vijf.
""")  # fmt: skip
    out = tmp_path / "out"
    assert run_main("build", script, "-o", out, "--voice", "nl-espeak").returncode == 0
    assert_pauses_measured(out / "exact.mp3", script)
    sidecar = json.loads((out / "exact.json").read_text(encoding="utf-8"))
    steps = sidecar["steps"]
    assert [s["pause"]["ms"] for s in steps[:4]] == [333, 1700, 4000, 0]
    assert steps[3]["end_ms"] == steps[4]["start_ms"]  # a zero pause: the next step follows at once
    measured = audiotools.silences(out / "exact.mp3", min_ms=250)
    short = [e - s for s, e in measured if abs(s - steps[0]["speech_end_ms"]) <= 50]
    assert short and abs(short[0] - 333) <= 50


def test_google_voice_through_the_fake_and_the_cache(tmp_path: Path, fake_google) -> None:
    script = write_script(tmp_path / "scripts", "kort.yaml", SMALL)
    out = tmp_path / "out"
    result = run_cli("build", script, "-o", out)
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((out / "kort.json").read_text(encoding="utf-8"))
    assert sidecar["voice"] | {"engine": None} == {
        "requested": "nl-google", "used": "nl-google", "engine": None, "tempo": 0.75, "fallback_reason": None,
    }  # fmt: skip
    assert ID3(out / "kort.mp3")["TXXX:voice"].text == ["nl-google"]
    texts = ["Welkom bij dit korte moment.", "Ga rustig zitten.", "Houd dit vijf seconden vast.",
             "Laat los.", "Adem uit.", "Dat was het."]  # fmt: skip
    # gTTS drops the final full stop; a request that a loaded machine timed out (and gTTS tried
    # again) reached the fake without a text
    asked = [text.rstrip(".") for text in fake_google.texts if text]
    assert sorted(asked) == sorted(text.rstrip(".") for text in texts)  # each sentence asked once

    again = json.loads(run_cli("build", script, "-o", out, "--json").stdout)
    assert (again["built"], again["up_to_date"]) == (0, 1)
    forced = json.loads(run_cli("build", script, "-o", out, "--force", "--json").stdout)
    assert forced["built"] == 1
    asked_so_far = [text for text in fake_google.texts if text]
    assert len(asked_so_far) == len(texts)  # rebuilt from the cache: Google not asked again

    script.write_text(SMALL.replace("Laat los.", "Laat nu langzaam los."), encoding="utf-8")
    edited = run_cli("build", script, "-o", out, "--json")
    report = json.loads(edited.stdout)
    assert report["built"] == 1 and report["scripts"][0]["synthesized"] == 1
    new = [text for text in fake_google.texts if text][len(asked_so_far) :]
    assert [text.rstrip(".") for text in new] == [
        "Laat nu langzaam los"
    ]  # only the edited sentence


def test_google_failing_midway_gives_one_voice_for_the_whole_session(
    tmp_path: Path, fake_google
) -> None:
    voices = tmp_path / "voices"
    write_script(voices, "nl-google.yaml", FAST_GOOGLE)
    script = write_script(tmp_path, "kort.yaml", SMALL)
    fake_google.mode = "429"
    fake_google.fail_first(2, mode="ok")  # two sentences succeed, then Google refuses
    out = tmp_path / "out"
    result = run_main("build", script, "-o", out, "--voices-dir", voices)
    assert result.returncode == 0, result.stderr
    assert "429" in result.stderr and "nl-espeak" in result.stderr
    sidecar = json.loads((out / "kort.json").read_text(encoding="utf-8"))
    assert sidecar["voice"]["used"] == "nl-espeak"
    assert "429" in sidecar["voice"]["fallback_reason"]
    tags = ID3(out / "kort.mp3")
    assert tags["TXXX:voice"].text == ["nl-espeak"]
    assert "could not be reached" in tags["COMM::dut"].text[0]


def test_parallel_builds_share_one_polite_limit_on_google(tmp_path: Path, fake_google) -> None:
    """Four scripts in four processes: still at most two requests to Google at any moment."""
    folder = tmp_path / "scripts"
    for n in range(4):
        write_script(
            folder, f"s{n}.yaml", f"title: Sessie {n}\nsteps: [Adem in {n}., Adem uit {n}.]\n"
        )
    fake_google.answer_delay = 0.4
    result = run_cli("build", folder, "-o", tmp_path / "out", "--jobs", "4", "--json")
    assert result.returncode == 0, result.stderr
    assert {s["voice"] for s in json.loads(result.stdout)["scripts"]} == {"nl-google"}
    seen = fake_google.requests
    # eight texts; a loaded machine may time out and retry one, which the limit must hold for too
    assert len({s.text for s in seen if s.text}) == 8, [(s.text, s.mode) for s in seen]
    most = max(
        sum(1 for other in seen if other.started <= one.started < (other.answered or one.started))
        for one in seen
    )  # a request still unanswered was abandoned by a client that timed out and asked again
    assert most == 2  # the limit held, and the processes did use it in parallel


def test_a_fallback_build_is_redone_once_google_is_back(tmp_path: Path, fake_google) -> None:
    voices = tmp_path / "voices"
    write_script(voices, "nl-google.yaml", FAST_GOOGLE)
    script = write_script(tmp_path, "kort.yaml", SMALL)
    out = tmp_path / "out"

    def build() -> dict:
        result = run_cli("build", script, "-o", out, "--voices-dir", voices, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["scripts"][0]

    fake_google.mode = "500"
    assert build()["voice"] == "nl-espeak"
    assert build()["status"] == "up to date"  # Google still down: nothing to gain from a rebuild
    fake_google.mode = "ok"
    again = build()
    assert (again["status"], again["voice"]) == ("built", "nl-google")
    assert build()["status"] == "up to date"


def test_strict_refuses_the_fallback_and_writes_nothing(tmp_path: Path) -> None:
    script = write_script(tmp_path, "kort.yaml", SMALL)
    out = tmp_path / "out"
    result = run_main("build", script, "-o", out, "--strict")
    assert result.returncode == 1
    assert "--strict" in result.stderr and "Traceback" not in result.stderr
    assert not list(out.glob("*"))


def test_a_bad_script_does_not_stop_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "scripts"
    write_script(folder, "a-goed.yaml", SMALL)
    bad = write_script(
        folder, "b-kapot.yaml", "title: Kapot\nsteps:\n  - text: Adem.\n    pause: -3\n"
    )
    write_script(folder, "c-goed.yaml", SMALL.replace("Kort moment", "Nog een"))
    write_script(folder, "d-stem.yaml", "title: t\nvoice: nl-robot\nsteps: [a]\n")
    out = tmp_path / "out"
    result = run_cli("build", folder, "-o", out, "--jobs", "2")
    assert result.returncode == 1
    assert f"{bad}:4: `step 1 pause` -3 is negative" in result.stderr
    assert "Traceback" not in result.stderr
    assert "d-stem.yaml:2: unknown voice 'nl-robot'" in result.stderr
    assert result.stdout.splitlines()[-2:] == [
        "built  up to date  failed    audio  wall time",
        result.stdout.splitlines()[-1],
    ]
    assert result.stdout.splitlines()[-1].split()[:3] == ["2", "0", "2"], result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "a-goed.json", "a-goed.mp3", "a-goed.vtt", "c-goed.json", "c-goed.mp3", "c-goed.vtt",
    ]  # fmt: skip


def test_unknown_voices_are_clear_errors(tmp_path: Path) -> None:
    script = write_script(tmp_path, "v.yaml", "title: t\nvoice: nl-robot\nsteps: [a]\n")
    result = run_main("build", script, "-o", tmp_path / "out")
    assert result.returncode == 1
    known = "nl-espeak, nl-google, nl-piper-nathalie, nl-piper-pim, nl-piper-rdh, nl-piper-ronnie"
    assert f"{script}:2: unknown voice 'nl-robot'; known voices: {known}" in result.stderr
    result = run_main("build", script, "-o", tmp_path / "out", "--voice", "robot")
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: unknown voice 'robot'; known voices: {known}"


def test_a_voices_folder_beside_the_scripts_adds_profiles(tmp_path: Path) -> None:
    write_script(
        tmp_path / "voices", "nl-snel.yaml", "engine: espeak\nsettings: {voice: nl, rate: 220}\n"
    )
    script = write_script(tmp_path, "s.yaml", "title: t\nvoice: nl-snel\nsteps: [Adem in.]\n")
    result = run_main("build", script, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "s.json").read_text())["voice"]["engine"]["rate"] == 220
    other = write_script(tmp_path, "t.yaml", "title: t\nsteps: [Adem uit.]\n")
    result = run_main("build", other, "-o", tmp_path / "out", "--voice", "nl-snel", "--json")
    assert result.returncode == 0, (
        result.stderr
    )  # --voice knows the profiles beside the scripts too


def test_runs_with_nothing_but_python_and_the_venv_on_path(tmp_path: Path) -> None:
    """A user's laptop has no system ffmpeg, ffprobe or espeak-ng: only what pip installed."""
    script = write_script(tmp_path, "kort.yaml", SMALL)
    env = {"PATH": os.path.dirname(sys.executable), "RUSTPUNT_CACHE": str(tmp_path / "cache"),
           "HOME": str(tmp_path), "https_proxy": os.environ["https_proxy"]}  # fmt: skip
    result = run_cli("build", script, "-o", tmp_path / "out", env=env)
    assert result.returncode == 0, result.stderr
    assert audiotools.duration_ms(tmp_path / "out" / "kort.mp3") > 10_000


def test_a_damaged_cache_entry_is_spoken_again(tmp_path: Path, hermetic: Path) -> None:
    script = write_script(tmp_path, "kort.yaml", SMALL)
    out = tmp_path / "out"
    assert run_main("build", script, "-o", out, "--voice", "nl-espeak").returncode == 0
    entries = sorted(hermetic.glob("clips/*/*.clip"))
    assert len(entries) == 6
    entries[0].write_bytes(entries[0].read_bytes()[:-100])  # truncated
    entries[1].write_bytes(b"garbage")
    report = json.loads(
        run_main("build", script, "-o", out, "--voice", "nl-espeak", "--force", "--json").stdout
    )
    assert report["scripts"][0]["synthesized"] == 2
    listing = json.loads(run_main("cache", "--json").stdout)
    assert listing["entries"] == 6


TWELVE = "title: Twaalf\nsteps:\n" + "".join(
    f"  - {{text: {word} rustig in en uit., pause: 1}}\n"
    for word in ("Adem", "Zucht", "Snuif", "Blaas", "Hijg", "Puf", "Haal", "Lach", "Neurie",
                 "Fluit", "Zing", "Tel")
)  # fmt: skip


@pytest.mark.parametrize("encoder", ["splice", "whole"])
def test_damaged_samples_are_spoken_again_in_the_same_build(
    tmp_path: Path, hermetic: Path, encoder: str
) -> None:
    """An entry whose header is sound but whose samples are damaged is found only when the
    encoder reads it: it is spoken again there and used, one entry or twelve, in one build that
    writes the same bytes as a clean one, and says so."""
    script = write_script(tmp_path, "twaalf.yaml", TWELVE)
    out = tmp_path / "out"
    build = ("build", script, "-o", out, "--voice", "nl-espeak", "--encoder", encoder, "--force")
    assert run_main(*build).returncode == 0
    clean = (out / "twaalf.mp3").read_bytes()
    entries = sorted(hermetic.glob("clips/*/*.clip"))
    assert len(entries) == 12
    for damaged in (entries[:1], entries):
        for entry in damaged:  # one byte in the middle of the samples
            data = bytearray(entry.read_bytes())
            data[len(data) * 2 // 3] ^= 0xFF
            entry.write_bytes(bytes(data))
        shutil.rmtree(hermetic / "mp3parts", ignore_errors=True)  # the speech must be read
        result = run_main(*build, "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(result.stdout)["scripts"][0]["respoken"] == len(damaged)
        assert (out / "twaalf.mp3").read_bytes() == clean
        result = run_main(*build)
        assert "damaged clip cache entr" not in result.stderr  # healed: read cleanly now
    shutil.rmtree(hermetic / "mp3parts", ignore_errors=True)
    last = entries[5].read_bytes()
    entries[5].write_bytes(last[:-1] + bytes([last[-1] ^ 0xFF]))  # the last sample's byte
    result = run_main(*build)
    assert result.returncode == 0, result.stderr
    assert "Note: 1 damaged clip cache entry was discarded and spoken again" in result.stderr
    assert (out / "twaalf.mp3").read_bytes() == clean


def test_pauses_measure_on_the_mp3_as_the_readme_says(tmp_path: Path) -> None:
    """README: an explicit `pause:` lasts that long and at most 26 ms longer (the next words start
    on a frame edge); an inline pause is exact (silence inside the clip). Measured on the decoded
    MP3 as runs of near-silence (|sample| <= 8, -72 dBFS), whose edges MP3 blurs by a few ms."""
    script = write_script(tmp_path, "pauses.yaml", """\
title: Pauzes
steps:
  - {text: Eén., pause: 0.333}
  - {text: Twee., pause: 1.7}
  - {text: "Drie (pauze 2 s) vier.", pause: 4}
  - Vijf.
""")  # fmt: skip
    out = tmp_path / "out"
    assert run_main("build", script, "-o", out, "--voice", "nl-espeak").returncode == 0
    samples = audiotools.decode(out / "pauses.mp3")
    quiet = np.concatenate([[0], (np.abs(samples.astype(np.int32)) <= 8).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(quiet))
    runs = [(end - start) * 1000 / 44_100 for start, end in zip(edges[::2], edges[1::2])]
    found = [ms for ms in runs if ms >= 250][1:-1]  # not the lead-in, not the tail
    assert len(found) == 4, found
    for measured, asked in zip(found, [333, 1_700, 2_000, 4_000]):
        longest = asked + 5 if asked == 2_000 else asked + 26 + 5  # the inline pause is exact
        assert asked - 5 <= measured <= longest, (asked, measured)


SECOND = """\
title: Tweede moment
intro: Welkom terug. Adem rustig in.
steps:
  - Houd dit vijf seconden vast.
  - text: Laat los. Voel hoe je schouders zakken.
    pause: 2
  - Ga rustig zitten.
outro: Dat was het.
"""


def test_a_folder_builds_to_the_same_bytes_whatever_the_job_count(tmp_path: Path) -> None:
    """A clip is a pure function of its text and settings: built one script after another in one
    process (-j 1) or side by side (-j 2), each time with a fresh cache, every file is the same."""
    scripts = tmp_path / "scripts"
    write_script(scripts, "kort.yaml", SMALL)
    write_script(scripts, "tweede.yaml", SECOND)
    built = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"out-{jobs}"
        result = run_cli("build", scripts, "-o", out, "-j", jobs, "--voice", "nl-espeak",
                         "--cache-dir", tmp_path / f"cache-{jobs}")  # fmt: skip
        assert result.returncode == 0, result.stderr
        built[jobs] = {path.name: path.read_bytes() for path in sorted(out.iterdir())}
    assert sorted(built["1"]) == [f"{name}.{ext}" for name in ("kort", "tweede")
                                  for ext in ("json", "mp3", "vtt")]  # fmt: skip
    differing = [name for name in built["1"] if built["1"][name] != built["2"][name]]
    assert differing == []
    # again with the cache the first build filled: every clip and part comes from it
    out = tmp_path / "out-again"
    result = run_cli("build", scripts, "-o", out, "-j", "2", "--voice", "nl-espeak",
                     "--cache-dir", tmp_path / "cache-1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    again = {path.name: path.read_bytes() for path in sorted(out.iterdir())}
    assert [name for name in again if again[name] != built["1"][name]] == []


def test_the_sidecar_counts_texts_and_phrases_apart(tmp_path: Path) -> None:
    """Issue 21: `clips` put a count of texts (`total`) beside a count of phrases spoken
    (`synthesized`) as if they counted one thing."""
    script = write_script(
        tmp_path,
        "tel.yaml",
        "title: t\nintro: Welkom. Ga zitten.\nsteps:\n  - Adem in.\n  - Adem in.\n"
        "  - Adem in. Adem uit.\n",
    )
    out = tmp_path / "out"

    def clips() -> dict[str, int]:
        result = run_main("build", script, "-o", out, "--voice", "nl-espeak", "--force")
        assert result.returncode == 0, result.stderr
        document = json.loads((out / "tel.json").read_text(encoding="utf-8"))
        return document["clips"]

    # three texts; four phrases (Welkom. / Ga zitten. / Adem in. / Adem uit.)
    assert clips() == {"texts": 3, "phrases": 4}
    script.write_text(script.read_text(encoding="utf-8").replace("Ga zitten.", "Zit."), "utf-8")
    assert clips() == {"texts": 3, "phrases": 4}  # one phrase spoken again: the same counts
