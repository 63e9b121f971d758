#!/usr/bin/env python3
"""Bulk-build benchmark: how rustpunt's `build` scales with many scripts and with long sessions.

    python benchmarks/bulk.py                 # full run (50 / 200 scripts, 60-minute session)
    python benchmarks/bulk.py --quick         # smoke run (10 / 40 scripts, 20-minute session)
    python benchmarks/bulk.py --json          # figures as JSON on stdout (the table goes to stderr)

Every build is the public CLI run as a subprocess (`python -m rustpunt build ... --voice nl-espeak
--json`), timed from outside with a monotonic clock, so process start, imports, YAML, synthesis,
mixing, encoding and tagging all count. The scripts are synthetic but shaped like the examples in
scripts/ (corpus.py).

Figures, all measured in one run:

1. Cold build of N scripts (fresh cache and output folder, --jobs = CPU count), against a floor:
   the same imageio-ffmpeg binary encoding the very same audio (the built MP3s decoded back to raw
   PCM beforehand, untimed) with the build's own encoder command (rustpunt.mp3.export.encoder_command
   at the build's bitrate), one ffmpeg per script fed through a pipe in 5 s chunks, as many at once
   as the build's jobs. No build that encodes every sample (`--encoder whole`) can beat it; the
   default spliced writer encodes only the speech, so its ratio can be below 1. Build and floor are
   interleaved --repeat times (default 2), each time cold, and the shortest of each counts.
2. No-op rebuild of M scripts: all built, then built again; the first rebuild is the figure (the
   median of three is shown too), with the share the build itself reports as spent finding the
   scripts up to date (`check_seconds` of its --json report: the rest is Python starting,
   imports, the command line, finding the script files).
3. One sentence of one of the M scripts edited, then all M rebuilt; against building that one
   script alone into a fresh output folder with the clip cache warm except for the edited
   sentence and its step's encoded speech (the same speaking and encoding as the rebuild has;
   before, the baseline found the step already encoded by the rebuild and skipped that ffmpeg
   run, flattering itself by about 0.1 s). The fully cold single build is shown
   too, and the time the rebuild spent finding the other M - 1 up to date by their stamps
   (`stamp_check_seconds` of its report), apart from the full check of the edited script (which
   imports what its build needs: session, engines, profiles).
4. A 60-minute session against a 5-minute one of the same density (3 steps a minute), each with a
   cold cache, best of --repeat: build times, their ratio, and the peak memory of the 60-minute
   build: the largest single process (os.wait4 ru_maxrss of that very child: the build and every
   ffmpeg it waited for; a maximum, not a sum) and the sum over the live process tree (sampled
   with psutil every 20 ms: the build and its ffmpeg children at the same moment).
   The same peak memory for a gapless session about as long (28 steps "Stap N." a minute, all
   with `pause: 0`: its speech is one part, never mixed whole).
5. No-op rebuild of 1,000 scripts (--noop-many): the M scripts and copies of them under other
   names, each beside a copy of its built outputs (a copy's outputs are up to date by rustpunt's
   own full check: the build key covers the script's bytes, not its name; building 1,000 distinct
   scripts cold would take ten minutes for a figure about file stamps). The first rebuild checks
   every script in full (what every no-op cost before rustpunt.build.uptodate) and records the stamps;
   the figure is the next one, the whole command timed from outside.

Figures 3 and 4 also rebuild their edited script in this process, after its imports: through
the loop of `rustpunt build --watch` (rustpunt.build.watch, in a thread), which reports its own time
for each rebuild; for the pause edits also the time from the save to the rebuilt MP3.

The machine may be shared: before each measurement the benchmark waits (up to --settle seconds)
for it to be idle, and the "others" column says what share of all cores processes outside the
benchmark used during each measurement (measure.py).

It reports, it does not assert: exit status 0 even when a target is missed, 1 when a build fails.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # corpus.py
from corpus import STOCK_CUES, generate, make_script, script_texts, sharing, write_script
from measure import Figure, Meter, log, machine, table_lines, tree_rss, wait_idle

from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe
from rustpunt.build.session import BITRATE_KBPS
from rustpunt.mp3.export import encoder_command

VOICE = "nl-espeak"
STEPS_PER_MINUTE = 3.0
"""Density of the long-session pair (5 and 60 minutes): 15 and 180 steps."""


class BuildFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    """What the command line chose, passed to every experiment."""

    work: Path
    """The scratch folder: scripts, outputs and caches."""
    jobs: int
    """--jobs of the builds, and how many ffmpeg encode at once in the floor."""
    repeat: int
    """Cold builds, floors and long sessions are measured this many times; the shortest counts."""
    settle_s: float
    """Before each measurement, wait up to this long for the machine to be idle."""
    seed: int
    """Seed of the generated scripts and of the edit in figure 3."""


# --------------------------------------------------------------------------- running builds


@dataclass(frozen=True)
class Build:
    wall: float
    report: dict[str, Any]
    others: float
    """Share of the machine's CPU that other processes used during the build."""
    maxrss_kb: int = 0
    tree_peak_bytes: int = 0

    @property
    def audio_seconds(self) -> float:
        return sum(s["duration_ms"] for s in self.report["scripts"]) / 1000

    @property
    def synthesized(self) -> int:
        return sum(s["synthesized"] or 0 for s in self.report["scripts"])


def _report(rc: int, stdout: str, stderr: str, what: str) -> dict[str, Any]:
    """The build's --json report, or BuildFailed naming the first errors."""
    try:
        report = json.loads(stdout)
    except ValueError:
        report = None
    if rc != 0 or not isinstance(report, dict) or report.get("failed"):
        errors = [s["error"] for s in (report or {}).get("scripts", []) if s.get("error")]
        detail = "; ".join(errors[:3]) or stderr.strip().splitlines()[-1:] or f"exit status {rc}"
        raise BuildFailed(f"{what}: build failed (exit status {rc}): {detail}")
    return report


def run_build(
    what: str,
    paths: list[Path],
    *,
    out: Path,
    cache: Path,
    jobs: int,
    settle_s: float,
    sample_memory: bool = False,
    extra: Sequence[str] = (),
) -> Build:
    """`rustpunt build` as a subprocess, timed; with sample_memory, its process tree's peak RSS.

    `extra` options are added to the command line (sound.py adds a bed and bells).
    """
    log(f"  {what} ...")
    command = [
        sys.executable, "-m", "rustpunt", "build", *map(str, paths), "-o", str(out),
        "--voice", VOICE, "--jobs", str(jobs), "--cache-dir", str(cache), "--json", *extra,
    ]  # fmt: skip
    if settle_s:
        wait_idle(settle_s)
    peak = 0
    with (
        tempfile.TemporaryFile("w+") as stdout,
        tempfile.TemporaryFile("w+") as stderr,
        Meter() as meter,
    ):
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            try:
                root = psutil.Process(process.pid)
            except psutil.Error:  # already gone: nothing to sample
                return
            while not done.is_set():
                peak = max(peak, tree_rss(root))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        if sample_memory:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)  # ru_maxrss of this very child
        done.set()
        if sample_memory:
            sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    report = _report(process.returncode, output, errors, what)
    memory = (
        f", peak RSS {usage.ru_maxrss / 1024:.0f} MB (largest process), {peak / 2**20:.0f} MB (process tree)"
        if sample_memory
        else ""
    )
    log(
        f"    {meter.wall:.2f} s  built {report['built']}, up to date {report['up_to_date']}{memory}  (others {meter.others:.0%})"
    )
    return Build(meter.wall, report, meter.others, usage.ru_maxrss, peak)


# --------------------------------------------------------------------------- the floor


def decode_to_pcm(mp3: Path, raw: Path) -> int:
    """A built MP3 back to raw session PCM; returns its samples."""
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(mp3),
        "-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-y", str(raw),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return raw.stat().st_size // 2


def encode_pcm(raw: Path, mp3: Path) -> None:
    """The build's own encoder command (rustpunt.mp3.export), PCM written to its stdin in 5 s chunks."""
    command = [*encoder_command(ffmpeg_exe(), BITRATE_KBPS), "-f", "mp3", "-y", str(mp3)]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stdin is not None
    with raw.open("rb") as source:
        while chunk := source.read(SAMPLE_RATE * 5 * 2):
            process.stdin.write(chunk)
    process.stdin.close()
    errors = process.stderr.read() if process.stderr else b""
    if process.wait() != 0:
        raise BuildFailed(
            f"floor: ffmpeg could not encode {raw}: {errors.decode(errors='replace').strip()}"
        )


def decode_all(mp3s: list[Path], work: Path, jobs: int) -> tuple[list[Path], float]:
    """The built sessions back to raw PCM (untimed): the floor encodes exactly the audio built."""
    work.mkdir(parents=True)
    raws = [work / f"{mp3.stem}.raw" for mp3 in mp3s]
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        samples = list(pool.map(decode_to_pcm, mp3s, raws))
    return raws, sum(samples) / SAMPLE_RATE


def measure_floor(raws: list[Path], jobs: int, settle_s: float) -> Meter:
    """Encode every session again, `jobs` ffmpeg processes at a time, as the build runs its jobs."""
    wait_idle(settle_s)
    with Meter() as meter, concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(encode_pcm, raws, [raw.with_suffix(".mp3") for raw in raws]))
    return meter


# --------------------------------------------------------------------------- the experiments


def experiment_cold(
    settings: Settings, scripts: dict[Path, dict[str, Any]], count: int
) -> dict[str, Any]:
    """Cold builds and floors, interleaved `repeat` times; the best (shortest) of each counts."""
    work, jobs, repeat = settings.work, settings.jobs, settings.repeat
    log(f"1. cold build of {count} scripts, --jobs {jobs}, best of {repeat}")
    paths = sorted(scripts)[:count]
    builds: list[Build] = []
    floors: list[Meter] = []
    raws: list[Path] = []
    floor_audio = 0.0
    for attempt in range(repeat):
        suffix = "" if attempt == 0 else f"-{attempt + 1}"  # the first serves figures 2 and 3
        out, cache = work / f"out{suffix}", work / f"cache-cold{suffix}"
        build = run_build(
            f"cold build of {count} ({attempt + 1}/{repeat})",
            paths,
            out=out,
            cache=cache,
            jobs=jobs,
            settle_s=settings.settle_s,
        )
        builds.append(build)
        if attempt == 0:
            mp3s = [Path(s["mp3"]) for s in build.report["scripts"]]
            raws, floor_audio = decode_all(mp3s, work / "floor", jobs)
        else:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)
        log(f"  floor: the same audio encoded by ffmpeg alone ({attempt + 1}/{repeat}) ...")
        floor = measure_floor(raws, jobs, settings.settle_s)
        floors.append(floor)
        log(f"    {floor.wall:.2f} s for {floor_audio:.0f} s of audio  (others {floor.others:.0%})")
    shutil.rmtree(work / "floor", ignore_errors=True)
    build = min(builds, key=lambda b: b.wall)
    floor = min(floors, key=lambda f: f.wall)
    return {
        "scripts": count,
        "jobs": jobs,
        "wall_s": build.wall,
        "wall_s_all": [b.wall for b in builds],
        "others": build.others,
        "reported_wall_s": build.report["wall_seconds"],
        "audio_s": build.audio_seconds,
        "audio_s_per_wall_s": build.audio_seconds / build.wall,
        "synthesized_clips": builds[0].synthesized,
        "sharing": sharing([scripts[p] for p in paths]),
        "floor_wall_s": floor.wall,
        "floor_wall_s_all": [f.wall for f in floors],
        "floor_others": floor.others,
        "floor_audio_s": floor_audio,
        "floor_audio_s_per_wall_s": floor_audio / floor.wall,
        "ratio_to_floor": build.wall / floor.wall,
    }


def experiment_noop(
    settings: Settings, folder: Path, count: int, repeats: int = 3
) -> dict[str, Any]:
    """All `count` scripts built (figure 1's already are), then rebuilt `repeats` times."""
    log(f"2. no-op rebuild of {count} scripts")
    out, cache = settings.work / "out", settings.work / "cache-cold"
    first = run_build(
        f"first build of {count} (those of figure 1 already up to date)",
        [folder],
        out=out,
        cache=cache,
        jobs=settings.jobs,
        settle_s=0,
    )
    noops = [
        run_build(
            f"no-op rebuild {i + 1} of {repeats}",
            [folder],
            out=out,
            cache=cache,
            jobs=settings.jobs,
            settle_s=settings.settle_s,
        )
        for i in range(repeats)
    ]
    for noop in noops:
        if noop.report["up_to_date"] != count:
            raise BuildFailed(f"no-op rebuild rebuilt {noop.report['built']} script(s)")
    walls = [n.wall for n in noops]
    return {
        "scripts": count,
        "first_build_wall_s": first.wall,
        "first_build_built": first.report["built"],
        "first_build_audio_s": first.audio_seconds,
        "wall_s": walls[0],
        "others": noops[0].others,
        "wall_s_all": walls,
        "wall_s_median": statistics.median(walls),
        "reported_wall_s": noops[0].report["wall_seconds"],
        "check_s": noops[0].report.get("check_seconds"),
    }


def copies_of(folder: Path, out: Path, count: int, work: Path) -> tuple[Path, Path]:
    """`count` scripts (those of `folder`, then copies of them under other names), each beside a
    copy of its outputs from `out`: all up to date by rustpunt's own full check."""
    sources = sorted(folder.glob("*.yaml"))
    many, many_out = work / "scripts-many", work / "out-many"
    many.mkdir()
    many_out.mkdir()
    for index in range(count):
        source = sources[index % len(sources)]
        stem = source.stem if index < len(sources) else f"{source.stem}-{index // len(sources)}"
        shutil.copy2(source, many / f"{stem}.yaml")
        for suffix in (".mp3", ".vtt", ".json"):
            shutil.copy2(out / f"{source.stem}{suffix}", many_out / f"{stem}{suffix}")
    past = time.time() - 60  # as scripts edited a while ago (a stamp taken seconds after an edit
    for script in many.iterdir():  # is not trusted, rustpunt.build.uptodate.RACY_NS)
        os.utime(script, (past, past))
    return many, many_out


def experiment_noop_many(
    settings: Settings, folder: Path, count: int, repeats: int = 3
) -> dict[str, Any]:
    """Figure 5: a no-op rebuild of `count` scripts, after a first rebuild recorded their stamps."""
    log(f"5. no-op rebuild of {count} scripts")
    many, out = copies_of(folder, settings.work / "out", count, settings.work)
    cache = settings.work / "cache-cold"
    first = run_build(
        f"first rebuild of {count}: the full check of each, stamps recorded",
        [many],
        out=out,
        cache=cache,
        jobs=settings.jobs,
        settle_s=settings.settle_s,
    )
    noops = [
        run_build(
            f"no-op rebuild {i + 1} of {repeats}",
            [many],
            out=out,
            cache=cache,
            jobs=settings.jobs,
            settle_s=settings.settle_s,
        )
        for i in range(repeats)
    ]
    for build in (first, *noops):
        if build.report["up_to_date"] != count:
            raise BuildFailed(f"no-op rebuild of {count} built {build.report['built']} script(s)")
    walls = [n.wall for n in noops]
    return {
        "scripts": count,
        "full_check_wall_s": first.wall,
        "full_check_s": first.report.get("check_seconds"),
        "wall_s": walls[0],
        "others": noops[0].others,
        "wall_s_all": walls,
        "wall_s_median": statistics.median(walls),
        "check_s": noops[0].report.get("check_seconds"),
    }


def edit_one_sentence(scripts: dict[Path, dict[str, Any]], seed: int) -> tuple[Path, int]:
    """Reword one step of one script (not the first; one whose pause the rewording keeps)."""
    all_texts = {text for document in scripts.values() for text in script_texts(document)}
    rng = random.Random(seed)
    path = rng.choice(sorted(scripts)[len(scripts) // 2 :])
    document = scripts[path]
    candidates = [
        i for i, step in enumerate(document["steps"])
        if i > 0 and (not isinstance(step, str) or (step not in STOCK_CUES and "seconden" not in step))
    ]  # fmt: skip
    index = rng.choice(candidates)
    step = document["steps"][index]
    old = step if isinstance(step, str) else step["text"]
    new = old.rstrip(".") + " heel rustig en in je eigen tempo."  # one clause changes, none added
    assert new not in all_texts
    document["steps"][index] = new if isinstance(step, str) else {**step, "text": new}
    write_script(path, document)
    return path, index


@dataclass(frozen=True)
class InWatch:
    """Rebuilds in the watch: each one's own time, and from the save to its MP3 in place (the
    rebuild plus the wait for the watch's next look at the files)."""

    work_s: list[float]
    save_to_mp3_s: list[float]


def rebuilds_in_process(
    path: Path,
    edits: Sequence[Callable[[], object]],
    *,
    out: Path,
    cache: Path,
    synthesized: int,
) -> InWatch:
    """`path` rebuilt after each edit by `rustpunt build --watch`'s loop (rustpunt.build.watch, in a
    thread of this process, after a first build that finds it up to date): the work inside
    rustpunt, without the interpreter's start and the imports a command pays each time. Each
    figure is the watch's own time for the rebuild (Rebuilt.milliseconds: the build of that
    script, from reading it to its outputs renamed into place), not the wait for its next look
    at the files. Each rebuild must have spoken `synthesized` sentences."""
    import queue

    from rustpunt.build.batch import build_all, jobs_for
    from rustpunt.build.options import BuildOptions, BuildStatus
    from rustpunt.build.watch import Rebuilt, watch
    from rustpunt.voice.clipcache import ClipCache
    from rustpunt.voice.speak import Voices

    options = BuildOptions(output_dir=out, cache=ClipCache(cache), voice=VOICE)
    voices = Voices(options.cache)
    build_all(jobs_for([path], out), options, workers=1, shared_voices=voices)
    rebuilt: queue.Queue[Rebuilt] = queue.Queue()
    stop, watching = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=watch,
        args=([path], options),
        kwargs={
            "voices": voices,
            "on_watching": lambda count: watching.set(),
            "on_rebuilt": rebuilt.put,
            "stop": stop,
        },
        daemon=True,
    )
    thread.start()
    seconds, latencies = [], []
    try:
        if not watching.wait(timeout=60):
            raise BuildFailed("the watch did not start")
        for edit in edits:
            time.sleep(0.3)  # a save an editor makes after the last one, not in the same instant
            edit()
            saved = time.perf_counter()
            item = rebuilt.get(timeout=120)
            latencies.append(time.perf_counter() - saved)
            result = item.result
            if result.status != BuildStatus.BUILT or result.synthesized != synthesized:
                raise BuildFailed(
                    f"a rebuild in the watch gave {result.status.value}, {result.synthesized} "
                    f"spoken: {result.error}"
                )
            seconds.append(item.milliseconds / 1000)
    finally:
        stop.set()
        thread.join(timeout=30)
    log(f"    in the watch: {', '.join(f'{1000 * s:.0f} ms' for s in seconds)}")
    log(f"    save to MP3: {', '.join(f'{1000 * s:.0f} ms' for s in latencies)}")
    return InWatch(seconds, latencies)


def sentence_edits_in_process(
    path: Path, document: dict[str, Any], index: int, *, out: Path, cache: Path
) -> list[float]:
    """That step reworded again, three times, each rebuilt in this process: the one new sentence
    spoken and its step encoded included."""
    step = document["steps"][index]
    old = step if isinstance(step, str) else step["text"]

    def reword(ending: str) -> Callable[[], object]:
        new = old.rstrip(".") + " " + ending
        edited = {**document, "steps": list(document["steps"])}
        edited["steps"][index] = new if isinstance(step, str) else {**step, "text": new}
        return functools.partial(write_script, path, edited)

    endings = ("zonder haast.", "zo lang als je wilt.", "met je ogen dicht.")
    seconds = rebuilds_in_process(
        path, [reword(e) for e in endings], out=out, cache=cache, synthesized=1
    ).work_s
    write_script(path, document)
    return seconds


def experiment_one_sentence(
    settings: Settings, folder: Path, scripts: dict[Path, dict[str, Any]]
) -> dict[str, Any]:
    """All rebuilt after one edit, against that script built alone (warm but the edit, and cold)."""
    log("3. one sentence changed in one script, all rebuilt")
    work, jobs, settle_s = settings.work, settings.jobs, settings.settle_s
    path, index = edit_one_sentence(scripts, settings.seed)
    clips, parts = work / "cache-cold" / "clips", work / "cache-cold" / "mp3parts"
    before = set(clips.glob("*/*.clip")) | set(parts.glob("*/*.mp3part"))
    rebuild = run_build(
        f"rebuild of {len(scripts)} after editing step {index + 1} of {path.name}",
        [folder],
        out=work / "out",
        cache=work / "cache-cold",
        jobs=jobs,
        settle_s=settle_s,
    )
    if rebuild.report["built"] != 1 or rebuild.synthesized != 1:
        raise BuildFailed(
            f"expected 1 script built with 1 clip synthesised, got {rebuild.report['built']} / {rebuild.synthesized}"
        )
    made = set(clips.glob("*/*.clip")) | set(parts.glob("*/*.mp3part"))
    for entry in made - before:  # the baseline speaks the edit again, and encodes its step again
        entry.unlink()
    alone_warm = run_build(
        "that script alone, fresh output, cache warm but for the edited sentence and its step",
        [path],
        out=work / "out-alone-warm",
        cache=work / "cache-cold",
        jobs=jobs,
        settle_s=settle_s,
    )
    if alone_warm.synthesized != 1:
        raise BuildFailed(
            f"warm single build synthesised {alone_warm.synthesized} clips, expected 1"
        )
    alone_cold = run_build(
        "that script alone, fresh output, cold cache",
        [path],
        out=work / "out-alone-cold",
        cache=work / "cache-alone",
        jobs=jobs,
        settle_s=settle_s,
    )
    in_process = sentence_edits_in_process(
        path, scripts[path], index, out=work / "out", cache=work / "cache-cold"
    )
    return {
        "in_process_s": min(in_process),
        "in_process_s_all": in_process,
        "scripts": len(scripts),
        "edited": f"{path.name} step {index + 1}",
        "wall_s": rebuild.wall,
        "others": rebuild.others,
        "alone_warm_wall_s": alone_warm.wall,
        "alone_warm_others": alone_warm.others,
        "alone_cold_wall_s": alone_cold.wall,
        "alone_cold_others": alone_cold.others,
        "alone_cold_synthesized": alone_cold.synthesized,
        "ratio_to_alone_warm": rebuild.wall / alone_warm.wall,
        "ratio_to_alone_cold": rebuild.wall / alone_cold.wall,
        "check_s": rebuild.report.get("check_seconds"),
        "stamp_check_s": rebuild.report.get("stamp_check_seconds"),
        "work_s": float(rebuild.report["wall_seconds"]),
    }


def experiment_long(settings: Settings, long_minutes: int) -> dict[str, Any]:
    """Each session built `repeat` times with a fresh cache: the shortest time, the largest memory."""
    work, repeat = settings.work, settings.repeat
    log(
        f"4. a {long_minutes}-minute session against a 5-minute one (cold caches), best of {repeat}"
    )
    folder = work / "long"
    folder.mkdir()
    results: dict[int, dict[str, Any]] = {}
    for minutes in (5, long_minutes):
        document = make_script(
            10_000 + minutes, minutes * 60, round(minutes * STEPS_PER_MINUTE), settings.seed
        )
        path = folder / f"sessie-{minutes}min.yaml"
        write_script(path, document)
        builds = []
        for attempt in range(repeat):
            cache = work / f"cache-{minutes}min-{attempt}"
            builds.append(
                run_build(
                    f"{minutes}-minute session ({attempt + 1}/{repeat})",
                    [path],
                    out=work / f"out-{minutes}min-{attempt}",
                    cache=cache,
                    jobs=1,
                    settle_s=settings.settle_s,
                    sample_memory=True,
                )
            )
            if minutes != long_minutes or attempt < repeat - 1:  # the last one is edited below
                shutil.rmtree(cache, ignore_errors=True)
        best = min(builds, key=lambda b: b.wall)
        results[minutes] = {
            "steps": len(document["steps"]),
            "audio_s": best.audio_seconds,
            "synthesized_clips": best.synthesized,
            "wall_s": best.wall,
            "wall_s_all": [b.wall for b in builds],
            "others": best.others,
            "maxrss_mb": max(b.maxrss_kb for b in builds) / 1024,
            "tree_peak_mb": max(b.tree_peak_bytes for b in builds) / 2**20,
        }
    short, long = results[5], results[long_minutes]
    edits = pause_only_edits(settings, folder / f"sessie-{long_minutes}min.yaml", long_minutes)
    return {
        "short": short,
        "long": long,
        "long_minutes": long_minutes,
        "ratio": long["wall_s"] / short["wall_s"],
        "audio_ratio": long["audio_s"] / short["audio_s"],
        "pause_edit": edits,
        "gapless": experiment_gapless(settings, long_minutes),
    }


GAPLESS_STEPS_PER_MINUTE = 28
"""Steps "Stap N." with `pause: 0` a minute of the gapless session: the offline voice speaks
each in about 2.1 s (measured: 300 steps, 10:47)."""


def experiment_gapless(settings: Settings, minutes: int) -> dict[str, Any]:
    """A session with no pause between its steps (issue 21: 1,000 steps "Stap N.", `pause: 0`,
    grew by 1.1 MB a step, as all its speech was one part mixed whole), about as long as the
    long session, built cold: its peak memory, the largest of `repeat` builds."""
    steps = minutes * GAPLESS_STEPS_PER_MINUTE
    log(f"4b. a gapless session: {steps} steps with pause 0 (cold caches)")
    folder = settings.work / "gapless"
    folder.mkdir()
    path = folder / f"gapless-{steps}.yaml"
    document = {
        "title": f"Zonder pauze, {steps} stappen",
        "pause": 0,
        "steps": [f"Stap {number}." for number in range(1, steps + 1)],
    }
    write_script(path, document)
    builds = []
    for attempt in range(settings.repeat):
        cache = settings.work / f"cache-gapless-{attempt}"
        builds.append(
            run_build(
                f"gapless session ({attempt + 1}/{settings.repeat})",
                [path],
                out=settings.work / f"out-gapless-{attempt}",
                cache=cache,
                jobs=1,
                settle_s=settings.settle_s,
                sample_memory=True,
            )
        )
        shutil.rmtree(cache, ignore_errors=True)
    best = min(builds, key=lambda b: b.wall)
    return {
        "steps": steps,
        "audio_s": best.audio_seconds,
        "wall_s": best.wall,
        "others": best.others,
        "maxrss_mb": max(b.maxrss_kb for b in builds) / 1024,
        "tree_peak_mb": max(b.tree_peak_bytes for b in builds) / 2**20,
    }


PAUSE_EDITS = ("+0,37", "-0,11", "+1,5")
"""Pause-only edits of the long session, each by an amount that is no whole number of MP3
frames: the first explicit pause moved by this many seconds."""


def pause_only_edits(settings: Settings, path: Path, minutes: int) -> dict[str, Any]:
    """The long session rebuilt after each pause-only edit (its last cold build's cache and
    output kept): the whole command, and the build's own time from its --json report (no
    interpreter start, no imports), best of the edits."""
    log(f"   pause-only edits of the {minutes}-minute session, rebuilt")
    original = path.read_text(encoding="utf-8")
    match = re.search(r"^(\s+pause: )(\d+)$", original, flags=re.MULTILINE)
    if match is None:
        raise BuildFailed(f"{path.name} has no explicit pause to edit")
    builds = []
    for change in PAUSE_EDITS:
        seconds = _move_pause(path, original, match, change)
        build = run_build(
            f"pause {match[2]} s -> {seconds} s",
            [path],
            out=settings.work / f"out-{minutes}min-{settings.repeat - 1}",
            cache=settings.work / f"cache-{minutes}min-{settings.repeat - 1}",
            jobs=1,
            settle_s=settings.settle_s,
        )
        if build.report["built"] != 1 or build.synthesized != 0:
            raise BuildFailed(f"a pause-only edit built {build.report['built']} scripts")
        builds.append(build)
    in_process = pause_edits_in_process(
        path,
        original,
        match,
        out=settings.work / f"out-{minutes}min-{settings.repeat - 1}",
        cache=settings.work / f"cache-{minutes}min-{settings.repeat - 1}",
    )
    path.write_text(original, encoding="utf-8")
    best = min(builds, key=lambda b: b.wall)
    return {
        "wall_s": best.wall,
        "build_s": min(float(b.report["wall_seconds"]) for b in builds),
        "work_s": min(in_process.work_s),
        "work_s_all": in_process.work_s,
        "save_to_mp3_s": statistics.median(in_process.save_to_mp3_s),
        "save_to_mp3_s_all": in_process.save_to_mp3_s,
        "wall_s_all": [b.wall for b in builds],
        "others": best.others,
    }


def pause_edits_in_process(
    path: Path, original: str, match: re.Match[str], *, out: Path, cache: Path
) -> InWatch:
    """The pause moved six more times, each rebuilt in the watch (nothing spoken): the machine
    may be slow for a few seconds at a time, and the best of six is the work itself."""
    return rebuilds_in_process(
        path,
        [
            functools.partial(_move_pause, path, original, match, c)
            for c in ("+0,23", "-0,29", "+2,71", "+0,61", "-0,47", "+3,13")
        ],
        out=out,
        cache=cache,
        synthesized=0,
    )


def _move_pause(path: Path, original: str, match: re.Match[str], change: str) -> str:
    """Write `original` with the pause `match` found moved by `change` seconds; the new value."""
    value = f"{int(match[2]) + float(change.replace(',', '.')):.2f}".replace(".", ",")
    path.write_text(
        original[: match.start()] + f'{match[1]}"{value}"' + original[match.end() :],
        encoding="utf-8",
    )
    return value


# --------------------------------------------------------------------------- report


def figures(results: dict[str, Any]) -> list[Figure]:
    cold, noop, edit, long = (results[k] for k in ("cold", "noop", "one_sentence", "long"))
    many = results["noop_many"]
    minutes, short_s, long_s = long["long_minutes"], long["short"], long["long"]
    return [
        Figure(
            f"cold build, {cold['scripts']} scripts (wall)",
            cold["wall_s"],
            "s",
            others=cold["others"],
        ),
        Figure("  audio built", cold["audio_s"], "s"),
        Figure("  audio s per wall s (aggregate)", cold["audio_s_per_wall_s"], "x"),
        Figure(
            "  floor: ffmpeg encode of the same audio",
            cold["floor_wall_s"],
            "s",
            others=cold["floor_others"],
        ),
        Figure("  build / floor", cold["ratio_to_floor"], "x", target=("<=", 1.5)),
        Figure(
            f"no-op rebuild, {noop['scripts']} scripts",
            noop["wall_s"],
            "s",
            others=noop["others"],
            target=("<", 2.0),
        ),
        Figure("  median of 3 no-op rebuilds", noop["wall_s_median"], "s"),
        Figure("  of which finding them up to date", noop["check_s"] or 0.0, "s"),
        Figure(
            f"no-op rebuild, {many['scripts']} scripts",
            many["wall_s"],
            "s",
            others=many["others"],
            target=("<", 1.0),
        ),
        Figure("  median of 3 no-op rebuilds", many["wall_s_median"], "s"),
        Figure("  of which finding them up to date", many["check_s"] or 0.0, "s"),
        Figure(
            "  the full check of each (first rebuild)",
            many["full_check_wall_s"],
            "s",
        ),
        Figure(
            f"one sentence changed, {edit['scripts']} scripts rebuilt",
            edit["wall_s"],
            "s",
            others=edit["others"],
        ),
        Figure(
            "  that script alone, cache warm but the edit",
            edit["alone_warm_wall_s"],
            "s",
            others=edit["alone_warm_others"],
        ),
        Figure(
            "  rebuild / alone (warm but the edit)",
            edit["ratio_to_alone_warm"],
            "x",
            target=("<", 1.5),
        ),
        Figure(
            "  that script alone, cold cache",
            edit["alone_cold_wall_s"],
            "s",
            others=edit["alone_cold_others"],
        ),
        Figure("  rebuild / alone (cold)", edit["ratio_to_alone_cold"], "x"),
        Figure(
            "  of the rebuild, the build (--json wall_seconds, imports included)",
            edit["work_s"],
            "s",
        ),
        Figure(
            "  that rebuild in one process, imports done (build --watch)",
            edit["in_process_s"],
            "s",
            target=("<", 0.2),
        ),
        Figure(
            f"  of which finding the other {edit['scripts'] - 1} up to date",
            edit["stamp_check_s"] or 0.0,
            "s",
        ),
        Figure(
            "  of the rebuild, checking the edited one in full",
            (edit["check_s"] or 0.0) - (edit["stamp_check_s"] or 0.0),
            "s",
        ),
        Figure(
            f"5-minute session, cold ({short_s['audio_s'] / 60:.1f} min)",
            short_s["wall_s"],
            "s",
            others=short_s["others"],
        ),
        Figure(
            f"{minutes}-minute session, cold ({long_s['audio_s'] / 60:.1f} min)",
            long_s["wall_s"],
            "s",
            others=long_s["others"],
        ),
        Figure(
            f"  {minutes}-min / 5-min build time",
            long["ratio"],
            "x",
            target=("<=", 13.0) if minutes == 60 else None,
        ),
        Figure(
            f"  {minutes}-min peak RSS, process tree (sum)",
            long_s["tree_peak_mb"],
            "MB",
            target=("<", 120.0),
        ),
        Figure(
            f"  {minutes}-min peak RSS, largest process",
            long_s["maxrss_mb"],
            "MB",
        ),
        Figure(
            f"  {minutes}-min pause-only edit, rebuilt (whole command)",
            long["pause_edit"]["wall_s"],
            "s",
            others=long["pause_edit"]["others"],
        ),
        Figure(
            "    of which the build (its --json wall_seconds, imports included)",
            long["pause_edit"]["build_s"],
            "s",
        ),
        Figure(
            "    the rebuild in one process, imports done (build --watch)",
            long["pause_edit"]["work_s"],
            "s",
            target=("<", 0.05),
        ),
        Figure(
            "    from the save to the MP3 in the watch (median)",
            long["pause_edit"]["save_to_mp3_s"],
            "s",
        ),
        Figure(
            f"gapless session, {long['gapless']['steps']} steps with pause 0, cold "
            f"({long['gapless']['audio_s'] / 60:.1f} min)",
            long["gapless"]["wall_s"],
            "s",
            others=long["gapless"]["others"],
        ),
        Figure(
            "  its peak RSS, process tree (sum)",
            long["gapless"]["tree_peak_mb"],
            "MB",
            target=("<", 120.0),
        ),
        Figure("  its peak RSS, largest process", long["gapless"]["maxrss_mb"], "MB"),
    ]


def render_table(table: list[Figure], info: dict[str, Any], results: dict[str, Any]) -> str:
    lines = table_lines(table)
    cold, noop, long = results["cold"], results["noop"], results["long"]

    def walls(values: list[float]) -> str:
        return ", ".join(f"{w:.2f}" for w in values)

    lines += [
        f"figure 1: {cold['sharing']['sentences']} sentences, {cold['sharing']['distinct']} distinct, {cold['synthesized_clips']} synthesised; "
        f"floor encodes at {cold['floor_audio_s_per_wall_s']:.0f}x real time with {cold['jobs']} at once",
        f"figure 1: cold builds {walls(cold['wall_s_all'])} s; floors {walls(cold['floor_wall_s_all'])} s (the shortest of each counts)",
        f"figure 2: no-op rebuilds {walls(noop['wall_s_all'])} s; "
        f"the first build of all ({noop['first_build_built']} built) took {noop['first_build_wall_s']:.1f} s",
        f"figure 3: edited {results['one_sentence']['edited']}",
        f"figure 5: no-op rebuilds {walls(results['noop_many']['wall_s_all'])} s; the first rebuild, "
        f"the full check of each (stamps recorded), {results['noop_many']['full_check_wall_s']:.2f} s",
        f"figure 4: {long['long_minutes']}-min builds {walls(long['long']['wall_s_all'])} s, 5-min builds {walls(long['short']['wall_s_all'])} s; "
        f"{long['long']['steps']} and {long['short']['steps']} steps, "
        f"{long['long']['synthesized_clips']} and {long['short']['synthesized_clips']} clips synthesised",
        f"machine: {info['cpu_count']} CPUs, {info['cpu_model']}, {info['memory_gb']} GB; {info['platform']}; Python {info['python']}",
        f"         {info['ffmpeg']}",
    ]
    return "\n".join(lines)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scripts", type=int, help="scripts in the cold build (default 50, --quick 10)"
    )
    parser.add_argument(
        "--many",
        type=int,
        help="scripts in the no-op and one-sentence rebuilds (default 200, --quick 40)",
    )
    parser.add_argument(
        "--noop-many",
        type=int,
        help="scripts in the second no-op rebuild (default 1000, --quick 200)",
    )
    parser.add_argument(
        "--long-minutes", type=int, help="length of the long session (default 60, --quick 20)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="--jobs of the builds (default: CPU count)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated scripts")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="cold builds, floors and long sessions measured this many times, the best counts (default 2)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=20.0,
        help="before each measurement, wait up to this many seconds for the machine to be idle (default 20)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    count = args.scripts or (10 if args.quick else 50)
    many = max(args.many or (40 if args.quick else 200), count)
    noop_many = max(args.noop_many or (200 if args.quick else 1000), many)
    long_minutes = args.long_minutes or (20 if args.quick else 60)
    settings = Settings(
        work=Path(tempfile.mkdtemp(prefix="rustpunt-bulk-")),
        jobs=args.jobs,
        repeat=args.repeat,
        settle_s=args.settle,
        seed=args.seed,
    )
    log(f"work folder {settings.work}")
    started = time.perf_counter()
    try:
        info = machine()
        folder = settings.work / "scripts"
        scripts = generate(folder, many, args.seed)
        results = {
            "cold": experiment_cold(settings, scripts, count),
            "noop": experiment_noop(settings, folder, many),
            "noop_many": experiment_noop_many(settings, folder, noop_many),
            "one_sentence": experiment_one_sentence(settings, folder, scripts),
            "long": experiment_long(settings, long_minutes),
        }
    except BuildFailed as error:
        log(f"error: {error}")
        return 1
    finally:
        if args.keep:
            log(f"kept {settings.work}")
        else:
            shutil.rmtree(settings.work, ignore_errors=True)
    table = figures(results)
    text = render_table(table, info, results)
    total = time.perf_counter() - started
    if args.json:
        log(text)
        document = {
            "machine": info,
            "figures": [row.as_json() for row in table],
            "results": results,
            "benchmark_wall_s": total,
        }
        print(json.dumps(document, indent=2))
    else:
        print(text)
        print(f"\n(benchmark run: {total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
