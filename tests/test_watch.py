"""`rustpunt build --watch` (rustpunt.build.watch): real scripts, the offline voice, real MP3s measured
with mutagen; the watch runs in a thread (stopped by an Event or a number of rounds) or as the
real program (stopped by SIGINT)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mutagen.mp3 import MP3

from conftest import write_script
from rustpunt.build.batch import build_all
from rustpunt.build.jobs import jobs_for
from rustpunt.build.options import BuildOptions, BuildStatus
from rustpunt.build.watch import Rebuilt, Round, watch
from rustpunt.build.workspace import Workspace
from rustpunt.voice.speak import Voices

SCRIPT = """\
title: Kort moment
intro: Welkom bij dit korte moment.
steps:
  - text: Laat je schouders zakken.
    pause: 2
  - Adem rustig uit.
outro: Dat was het.
"""

FRAME_MS = 1152 / 44.1
"""One MP3 frame: a length measured from the file is exact to about this much."""


def seconds(mp3: Path) -> float:
    return float(MP3(mp3).info.length)


class Watching:
    """The watch in a thread, on a folder built once first; what it rebuilds arrives in a queue."""

    def __init__(self, folder: Path, options: BuildOptions, **kwargs: object) -> None:
        self.workspace = Workspace.for_options(options)  # the first build's, kept by the watch
        self.voices = Voices(self.workspace.clips)
        first = build_all(
            jobs_for([folder], options.output_dir),
            options,
            workers=1,
            shared_voices=self.voices,
            workspace=self.workspace,
        )
        assert all(result.status == BuildStatus.BUILT for result in first), first
        self.rebuilt: queue.Queue[Rebuilt] = queue.Queue()
        self.rounds: queue.Queue[Round] = queue.Queue()
        self.stop = threading.Event()
        watching = threading.Event()
        self.thread = threading.Thread(
            target=watch,
            args=([folder], options),
            kwargs={
                "voices": self.voices,
                "workspace": self.workspace,
                "on_watching": lambda count: watching.set(),
                "on_rebuilt": self.rebuilt.put,
                "on_round": self.rounds.put,
                "stop": self.stop,
                **kwargs,
            },
            daemon=True,
        )
        self.thread.start()
        assert watching.wait(timeout=10)  # its first stamps are taken: an edit now is seen

    def next(self, timeout: float = 10) -> Rebuilt:
        return self.rebuilt.get(timeout=timeout)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def options(tmp_path: Path) -> BuildOptions:
    return BuildOptions(
        output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", voice="nl-espeak"
    )


@pytest.fixture
def watching(tmp_path: Path, options: BuildOptions) -> Iterator[Watching]:
    write_script(tmp_path / "scripts", "kort.yaml", SCRIPT)
    running = Watching(tmp_path / "scripts", options)
    yield running
    running.close()


def test_a_pause_edit_is_rebuilt_at_once_without_speaking(
    tmp_path: Path, watching: Watching
) -> None:
    script = tmp_path / "scripts" / "kort.yaml"
    mp3 = tmp_path / "out" / "kort.mp3"
    before = seconds(mp3)
    saved = time.monotonic()
    script.write_text(SCRIPT.replace("pause: 2", "pause: 3.5"), encoding="utf-8")
    item = watching.next()
    took = time.monotonic() - saved
    assert item.result.status == BuildStatus.BUILT, item.result.error
    assert item.result.synthesized == 0  # every sentence came from the cache
    assert item.result.mp3 == mp3
    assert 0 <= item.milliseconds < took * 1000
    assert took < 2.0, f"{took:.2f} s from the save to the rebuilt MP3"
    assert abs(seconds(mp3) - before - 1.5) * 1000 <= 2 * FRAME_MS
    done = watching.rounds.get(timeout=5)
    assert done.number == 1
    assert [entry.result for entry in done.rebuilt] == [item.result]


def test_a_broken_script_is_reported_and_the_watch_goes_on(
    tmp_path: Path, watching: Watching
) -> None:
    script = tmp_path / "scripts" / "kort.yaml"
    mp3 = tmp_path / "out" / "kort.mp3"
    before = seconds(mp3)
    script.write_text(SCRIPT.replace("pause: 2", "pause: zeven"), encoding="utf-8")
    failed = watching.next()
    assert failed.result.status == BuildStatus.FAILED
    assert failed.result.error is not None
    assert failed.result.error.startswith(f"{script}:5: ")  # FILE:LINE of the bad pause
    assert "zeven" in failed.result.error
    assert seconds(mp3) == before  # the last good MP3 stays
    script.write_text(SCRIPT.replace("pause: 2", "pause: 1"), encoding="utf-8")
    fixed = watching.next()
    assert fixed.result.status == BuildStatus.BUILT, fixed.result.error
    assert fixed.result.synthesized == 0
    assert abs(before - seconds(mp3) - 1.0) * 1000 <= 2 * FRAME_MS


def test_scripts_added_and_removed_in_a_watched_folder(tmp_path: Path, watching: Watching) -> None:
    added = write_script(tmp_path / "scripts" / "sub", "nieuw.yaml", SCRIPT)
    item = watching.next()
    assert item.result.status == BuildStatus.BUILT, item.result.error
    assert item.result.script == added
    assert item.result.mp3 == tmp_path / "out" / "sub" / "nieuw.mp3"  # its subfolder is kept
    assert item.result.synthesized == 0  # the same sentences, from the cache
    assert watching.rounds.get(timeout=5).removed == ()
    added.unlink()
    done = watching.rounds.get(timeout=10)
    assert done.removed == (added,)
    assert done.rebuilt == ()
    assert (tmp_path / "out" / "sub" / "nieuw.mp3").exists()  # outputs are kept, as a build does


def test_a_lexicon_beside_the_scripts_rebuilds_them_with_the_new_words(
    tmp_path: Path, watching: Watching
) -> None:
    before = seconds(tmp_path / "out" / "kort.mp3")
    write_script(tmp_path / "scripts", "lexicon.yaml", "words:\n  schouders: nek en schouders\n")
    item = watching.next()
    assert item.result.status == BuildStatus.BUILT, item.result.error
    assert item.result.synthesized == 1  # only the sentence with the word is spoken again
    assert seconds(tmp_path / "out" / "kort.mp3") > before + 0.3  # "nek en" takes a while
    captions = (tmp_path / "out" / "kort.vtt").read_text(encoding="utf-8")
    assert "Laat je schouders zakken." in captions and "nek" not in captions  # as written


def test_a_lexicon_pattern_that_backtracks_for_ever_fails_the_round_and_the_watch_goes_on(
    tmp_path: Path, watching: Watching
) -> None:
    lexicon = write_script(
        tmp_path / "scripts", "lexicon.yaml", "patterns:\n  - {match: '(s|ss)+$', say: x}\n"
    )
    assert watching.next(timeout=30).result.status == BuildStatus.BUILT  # no step sets it off
    script = tmp_path / "scripts" / "kort.yaml"
    script.write_text(SCRIPT.replace("Adem rustig uit.", "Adem rustig uit s" + "s" * 40 + "!"))
    failed = watching.next(timeout=30)
    assert failed.result.status == BuildStatus.FAILED
    assert failed.result.error is not None and f"{lexicon}:2: " in failed.result.error
    lexicon.write_text("patterns:\n  - {match: 's+$', say: x}\n", encoding="utf-8")
    fixed = watching.next(timeout=30)
    assert fixed.result.status == BuildStatus.BUILT, fixed.result.error


def test_an_edited_voice_profile_beside_the_scripts_is_heard(tmp_path: Path) -> None:
    """Voice profiles are read once per process, unless their file changes: the watch speaks
    again with the edited profile."""
    profile = "engine: espeak\nsettings:\n  voice: nl\n  rate: {rate}\ntempo: 1.0\n"
    write_script(tmp_path / "scripts" / "voices", "mijn.yaml", profile.format(rate=150))
    write_script(tmp_path / "scripts", "kort.yaml", "voice: mijn\n" + SCRIPT)
    options = BuildOptions(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
    running = Watching(tmp_path / "scripts", options)
    try:
        before = seconds(tmp_path / "out" / "kort.mp3")
        write_script(tmp_path / "scripts" / "voices", "mijn.yaml", profile.format(rate=100))
        item = running.next()
        assert item.result.status == BuildStatus.BUILT, item.result.error
        assert item.result.synthesized > 0  # every sentence again, at the new rate
        assert seconds(tmp_path / "out" / "kort.mp3") > before + 1.0  # slower speech
    finally:
        running.close()


EPISODE = """\
title: Aflevering een
parts:
  - text: Welkom.
  - script: kort.yaml
"""


def test_an_episode_is_rebuilt_when_its_part_changes(tmp_path: Path, options: BuildOptions) -> None:
    write_script(tmp_path / "scripts", "kort.yaml", SCRIPT)
    write_script(tmp_path / "scripts", "aflevering.yaml", EPISODE)
    running = Watching(tmp_path / "scripts", options)
    try:
        episode = tmp_path / "out" / "aflevering.mp3"
        before = seconds(episode)
        (tmp_path / "scripts" / "kort.yaml").write_text(
            SCRIPT.replace("pause: 2", "pause: 3"), encoding="utf-8"
        )
        done = running.rounds.get(timeout=10)
        built = {item.result.script.name: item.result for item in done.rebuilt}
        assert set(built) == {"kort.yaml", "aflevering.yaml"}
        assert all(r.status == BuildStatus.BUILT and r.synthesized == 0 for r in built.values())
        assert abs(seconds(episode) - before - 1.0) * 1000 <= 2 * FRAME_MS
    finally:
        running.close()


def test_rapid_saves_give_one_rebuild_of_the_last(tmp_path: Path, options: BuildOptions) -> None:
    write_script(tmp_path / "scripts", "kort.yaml", SCRIPT)
    running = Watching(tmp_path / "scripts", options, settle_seconds=0.4)
    try:
        script = tmp_path / "scripts" / "kort.yaml"
        before = seconds(tmp_path / "out" / "kort.mp3")
        for pause in ("2.5", "3", "3.5", "4"):
            script.write_text(SCRIPT.replace("pause: 2", f"pause: {pause}"), encoding="utf-8")
            time.sleep(0.03)
        item = running.next()
        assert item.result.status == BuildStatus.BUILT, item.result.error
        assert abs(seconds(tmp_path / "out" / "kort.mp3") - before - 2.0) * 1000 <= 2 * FRAME_MS
        assert running.rounds.get(timeout=5).rebuilt == (item,)
        with pytest.raises(queue.Empty):
            running.next(timeout=1.0)  # no second rebuild
    finally:
        running.close()


def test_max_rounds_ends_the_watch(tmp_path: Path, options: BuildOptions) -> None:
    script = write_script(tmp_path / "scripts", "kort.yaml", SCRIPT)
    build_all(jobs_for([script], options.output_dir), options, workers=1)
    counted: list[int] = []
    watching = threading.Event()
    thread = threading.Thread(
        target=lambda: counted.append(
            watch(
                [script],
                options,
                on_watching=lambda count: watching.set(),
                max_rounds=1,
                poll_seconds=0.05,
                settle_seconds=0.05,
            )
        ),
        daemon=True,
    )
    thread.start()
    assert watching.wait(timeout=10)
    script.write_text(SCRIPT.replace("pause: 2", "pause: 3"), encoding="utf-8")
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert counted == [1]


# --------------------------------------------------------------------------- the real program


class Program:
    """`python -m rustpunt build --watch` in its own process, its output read line by line."""

    def __init__(self, *args: str | Path, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rustpunt", "build", *map(str, args), "--watch"],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream: object, lines: queue.Queue[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line.rstrip("\n"))

    def wait_for(self, lines: queue.Queue[str], start: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            if line.startswith(start):
                return line

    def interrupt(self) -> int:
        """SIGINT, as Ctrl-C sends it; the exit status, once it says it stopped (one line)."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=10)
        for reader in self.readers:
            reader.join(timeout=5)
        said = []
        while not self.err.empty():
            said.append(self.err.get())
        assert said[-1:] == ["Stopped watching."], said
        assert not any("Traceback" in line for line in said), said
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for reader in self.readers:
            reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def part_files(*folders: Path) -> list[Path]:
    return [path for folder in folders for path in folder.rglob("*.part")]


@pytest.mark.slow
def test_the_program_rebuilds_on_save_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    script = write_script(tmp_path / "scripts", "kort.yaml", SCRIPT)
    program = Program("scripts", "--voice", "nl-espeak", "-o", "out", cwd=tmp_path)
    try:
        assert program.wait_for(program.out, "built   out/kort.mp3")
        program.wait_for(program.err, "Watching 1 script(s) for changes")
        before = seconds(tmp_path / "out" / "kort.mp3")
        script.write_text(SCRIPT.replace("pause: 2", "pause: 4"), encoding="utf-8")
        line = program.wait_for(program.out, "built   ")
        assert line.startswith("built   out/kort.mp3  0:")
        assert line.endswith(" ms") and "nl-espeak" in line
        assert abs(seconds(tmp_path / "out" / "kort.mp3") - before - 2.0) * 1000 <= 2 * FRAME_MS
        script.write_text(SCRIPT.replace("pause: 2", "pause: -1"), encoding="utf-8")
        failed = program.wait_for(program.err, "failed  ")
        assert failed.startswith(f"failed  {Path('scripts') / 'kort.yaml'}:5: ")
        assert program.interrupt() == 0
    finally:
        program.close()
    assert part_files(tmp_path) == []


@pytest.mark.slow
def test_the_program_with_json_prints_json_lines(tmp_path: Path) -> None:
    script = write_script(tmp_path / "scripts", "kort.yaml", SCRIPT)
    cache = tmp_path / "cache"
    program = Program(
        "scripts", "--voice", "nl-espeak", "-o", "out", "--cache-dir", cache, "--json", cwd=tmp_path
    )
    try:
        first = json.loads(program.wait_for(program.out, "{"))
        assert first["round"] == 0
        assert first["built"] == 1 and first["scripts"][0]["synthesized"] > 0
        program.wait_for(program.err, "Watching 1 script(s) for changes")
        script.write_text(SCRIPT.replace("pause: 2", "pause: 2.5"), encoding="utf-8")
        rebuilt = json.loads(program.wait_for(program.out, "{"))
        assert rebuilt["round"] == 1
        assert rebuilt["built"] == 1 and rebuilt["failed"] == 0 and rebuilt["removed"] == []
        (entry,) = rebuilt["scripts"]
        assert entry["status"] == "built" and entry["synthesized"] == 0
        assert entry["script"] == os.path.join("scripts", "kort.yaml")
        assert isinstance(entry["milliseconds"], int)
        assert program.interrupt() == 0
    finally:
        program.close()
    assert part_files(tmp_path, cache) == []


@pytest.mark.slow
def test_sigterm_while_the_watch_writes_leaves_no_part_file(tmp_path: Path) -> None:
    """Issue 21: SIGTERM (a service manager) during the watch's first build, in two workers,
    left the temporary files they were writing in the output folder."""
    for number in range(1, 5):
        write_script(tmp_path / "scripts", f"kort{number}.yaml", SCRIPT)
    program = Program(
        "scripts", "--voice", "nl-espeak", "-o", "out", "--cache-dir", "cache", "-j", "2",
        cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list((tmp_path / "out").glob(".kort*.mp3.pid*.part")):
            assert program.process.poll() is None and time.monotonic() < deadline
            time.sleep(0.002)
        program.process.send_signal(signal.SIGTERM)
        assert program.process.wait(timeout=30) == 0
    finally:
        program.close()
    assert part_files(tmp_path) == []


@pytest.mark.slow
def test_ctrl_c_during_a_rebuild_leaves_no_part_file(tmp_path: Path) -> None:
    write_script(tmp_path / "scripts", "kort.yaml", SCRIPT)
    program = Program(
        "scripts", "--voice", "nl-espeak", "-o", "out", "--cache-dir", "cache", cwd=tmp_path
    )
    try:
        program.wait_for(program.err, "Watching 1 script(s) for changes")
        steps = "".join(
            f"  - text: Dit is zin {number} van de lange oefening over rust.\n    pause: 1\n"
            for number in range(1, 121)
        )
        write_script(tmp_path / "scripts", "lang.yaml", f"title: Lang\nsteps:\n{steps}")
        clips = len(list((tmp_path / "cache").rglob("*.clip")))
        deadline = time.monotonic() + 30
        while len(list((tmp_path / "cache").rglob("*.clip"))) == clips:
            assert time.monotonic() < deadline, "the new script was never spoken"
            time.sleep(0.01)
        assert program.interrupt() == 0  # in the middle of speaking its 120 sentences
    finally:
        program.close()
    assert part_files(tmp_path) == []
    assert not (tmp_path / "out" / "lang.mp3").exists()
