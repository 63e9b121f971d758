#!/usr/bin/env python3
"""Bulk-build benchmark: how rustpunt's `build` scales with many scripts and with long sessions.

    python benchmarks/bulk.py                 # full run (50 / 200 scripts, 60-minute session)
    python benchmarks/bulk.py --quick         # smoke run (10 / 40 scripts, 20-minute session)
    python benchmarks/bulk.py --json          # figures as JSON on stdout (the table goes to stderr)

Every build is the public CLI run as a subprocess (`python -m rustpunt build ... --voice nl-espeak
--json`), timed from outside with a monotonic clock, so process start, imports, YAML, synthesis,
mixing, encoding and tagging all count. The scripts are synthetic but shaped like the examples in
scripts/: 10-20 Dutch steps, a mix of explicit pauses, timing cues ("Houd dit vijf seconden vast")
and default pauses, 3-6 minutes each; intros, outros and common instructions are shared between
scripts, other steps are combined from phrase lists, and each script carries its own number word.

Figures, all measured in one run:

1. Cold build of N scripts (fresh cache and output folder, --jobs = CPU count), against a floor:
   the same imageio-ffmpeg binary encoding the very same audio (the built MP3s decoded back to raw
   PCM beforehand, untimed) with the same settings (mono, 44.1 kHz, libmp3lame CBR 64k), one ffmpeg
   per script fed through a pipe in 5 s chunks, as many at once as the build's jobs. No build that
   encodes every sample can beat it. Build and floor are interleaved --repeat times (default 2),
   each time cold, and the shortest of each counts.
2. No-op rebuild of M scripts: all built, then built again; the first rebuild is the figure (the
   median of three is shown too).
3. One sentence of one of the M scripts edited, then all M rebuilt; against building that one
   script alone into a fresh output folder with the clip cache warm except for the edited
   sentence (the same synthesis work as the rebuild has). The fully cold single build is shown too.
4. A 60-minute session against a 5-minute one of the same density (3 steps a minute), each with a
   cold cache, best of --repeat: build times, their ratio, and the peak memory of the 60-minute
   build: the largest single process (os.wait4 ru_maxrss of that very child: the build and every
   ffmpeg it waited for; a maximum, not a sum) and the sum over the live process tree (polled from
   /proc every 20 ms: the build and its ffmpeg children at the same moment).

The machine may be shared: before each measurement the benchmark waits (up to --settle seconds)
for it to be idle, and the "others" column says what share of all cores processes outside the
benchmark used during each measurement. A figure measured with others well above 0 % is suspect.

It reports, it does not assert: exit status 0 even when a target is missed, 1 when a build fails.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rustpunt.audio import SAMPLE_RATE, ffmpeg_exe
from rustpunt.plan import plan
from rustpunt.script import load_script

VOICE = "nl-espeak"
BITRATE = "64k"
SPEECH_CHARS_PER_SECOND = 13.0
"""nl-espeak speaks about 13 characters a second (measured on scripts/*.yaml): used only to aim a
generated script at its target length; every reported duration is the built MP3's own."""
STEPS_PER_MINUTE = 3.0
"""Density of the long-session pair (5 and 60 minutes): 15 and 180 steps."""


class BuildFailed(RuntimeError):
    pass


# --------------------------------------------------------------------------- Dutch text

_UNITS = ["nul", "een", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen"]
_TEENS = [
    "tien",
    "elf",
    "twaalf",
    "dertien",
    "veertien",
    "vijftien",
    "zestien",
    "zeventien",
    "achttien",
    "negentien",
]
_TENS = [
    "",
    "",
    "twintig",
    "dertig",
    "veertig",
    "vijftig",
    "zestig",
    "zeventig",
    "tachtig",
    "negentig",
]


def dutch_number(n: int) -> str:
    """1..999_999 as one Dutch word: 47 -> zevenenveertig, 22 -> tweeëntwintig, 120 -> honderdtwintig."""
    if not 0 < n < 1_000_000:
        raise ValueError(n)
    if n < 10:
        return _UNITS[n]
    if n < 20:
        return _TEENS[n - 10]
    if n < 100:
        tens, unit = divmod(n, 10)
        if not unit:
            return _TENS[tens]
        word = _UNITS[unit]
        return word + ("ën" if word.endswith("e") else "en") + _TENS[tens]
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return (
            ("" if hundreds == 1 else _UNITS[hundreds])
            + "honderd"
            + (dutch_number(rest) if rest else "")
        )
    thousands, rest = divmod(n, 1000)
    return (
        ("" if thousands == 1 else dutch_number(thousands))
        + "duizend"
        + (dutch_number(rest) if rest else "")
    )


INTROS = [
    "Welkom. In deze oefening richt je je aandacht op je lichaam en je adem. Er is niets wat je hoeft te bereiken.",
    "Welkom bij deze ontspanningsoefening. Zoek een rustige plek waar je even niet gestoord wordt.",
    "Fijn dat je er bent. Neem de tijd om te landen, en laat de dag even achter je.",
    "Welkom. We beginnen rustig, met aandacht voor je ademhaling.",
]
OUTROS = [
    "Beweeg langzaam je vingers en je tenen. Open je ogen wanneer je er klaar voor bent.",
    "Open langzaam je ogen. Neem de rust van deze oefening mee in de rest van je dag.",
    "Rek je rustig uit als je dat fijn vindt. Dit was het einde van de oefening.",
]
OPENERS = [
    "Ga gemakkelijk zitten, met je voeten plat op de grond.",
    "Ga rechtop zitten, of ga gemakkelijk op je rug liggen.",
    "Ga gemakkelijk liggen, met je armen naast je lichaam.",
]
STOCK = [  # shared between scripts, no timing cue: the default pause
    "Sluit je ogen.",
    "En laat los.",
    "Laat je schouders zakken en ontspan je kaak.",
    "Adem rustig in door je neus, en langzaam uit door je mond.",
    "Merk op hoe je adem vanzelf gaat.",
    "Voel het contact van je lichaam met de stoel of de vloer.",
    "Dwaal je af, dan is dat goed. Breng je aandacht rustig terug.",
    "Laat alle spanning wegzakken.",
]
STOCK_CUES = [  # shared between scripts, with a timing cue: the pause is read from the words
    "Houd dit vijf seconden vast.",
    "Houd de spanning tien seconden vast.",
    "Adem vier tellen in door je neus.",
    "Adem zes tellen uit door je mond.",
    "Adem drie keer diep in en uit.",
    "Blijf hier een minuut, zonder iets te hoeven doen.",
    "Blijf een halve minuut rustig zitten.",
    "Tel langzaam tot tien.",
]
BODY = [
    "je tenen",
    "je voeten",
    "je enkels",
    "je kuiten",
    "je knieën",
    "je bovenbenen",
    "je heupen",
    "je buik",
    "je onderrug",
    "je schouderbladen",
    "je borst",
    "je schouders",
    "je armen",
    "je handen",
    "je vingers",
    "je nek",
    "je kaak",
    "je wangen",
    "je ogen",
    "je voorhoofd",
]
ACTIONS = [
    "Breng je aandacht naar {b}.",
    "Ga met je aandacht naar {b}.",
    "Span {b} stevig aan.",
    "Laat {b} zwaar en ontspannen worden.",
    "Beweeg {b} heel langzaam, en kom dan tot rust.",
    "Merk op hoe {b} nu aanvoelen.",
    "Adem rustig naar {b}.",
    "Voel {b}, zonder iets te veranderen.",
]
FEELINGS = [
    "Misschien voel je warmte, kou of een lichte tinteling.",
    "Er is niets wat je hoeft te veranderen.",
    "Laat de spanning bij het uitademen wegvloeien.",
    "Merk op wat je voelt, zonder oordeel.",
    "Laat het zacht en ruim worden.",
    "Voel hoe de spieren warm en zwaar worden.",
    "Adem rustig door, in je eigen tempo.",
    "Alles mag er zijn, precies zoals het is.",
    "Met elke uitademing zak je wat dieper weg.",
    "Geef het de tijd.",
]
HOLD_SECONDS = ["drie", "vier", "vijf", "zes", "zeven", "acht"]


# --------------------------------------------------------------------------- script generation


def _format_pause(seconds: int, rng: random.Random) -> int | str:
    if seconds >= 60 and seconds % 60 and rng.random() < 0.5:
        return f"{seconds // 60}m{seconds % 60}s"
    return f"{seconds}s" if rng.random() < 0.4 else seconds


def make_script(index: int, target_s: float, n_steps: int, seed: int) -> dict[str, Any]:
    """One script document of realistic shape, aimed at target_s seconds of audio."""
    rng = random.Random(seed * 1_000_003 + index)
    word = dutch_number(index + 1)
    steps: list[dict[str, Any]] = []  # {"text": ..., "explicit": bool}

    def composed() -> str:
        body = rng.sample(BODY, 2)
        part = f"{body[0]} en {body[1]}" if rng.random() < 0.5 else body[0]
        return f"{rng.choice(ACTIONS).format(b=part)} {rng.choice(FEELINGS)}"

    steps.append({"text": f"Dit is oefening {word}. {rng.choice(OPENERS)}", "explicit": False})
    for _ in range(n_steps - 1):
        roll = rng.random()
        if roll < 0.22:
            steps.append({"text": rng.choice(STOCK), "explicit": rng.random() < 0.3})
        elif roll < 0.37:
            steps.append({"text": rng.choice(STOCK_CUES), "explicit": False})
        elif roll < 0.80:
            steps.append({"text": composed(), "explicit": rng.random() < 0.5})
        else:
            steps.append(
                {
                    "text": f"{composed()} Houd dit {rng.choice(HOLD_SECONDS)} seconden vast.",
                    "explicit": False,
                }
            )
    explicit = [s for s in steps if s["explicit"]]
    for candidate in rng.sample(steps, len(steps)):  # at least a few explicit pauses to aim with
        if len(explicit) >= max(2, len(steps) // 6):
            break
        if (
            not candidate["explicit"]
            and "seconden" not in candidate["text"]
            and candidate["text"] not in STOCK_CUES
        ):
            candidate["explicit"] = True
            explicit.append(candidate)

    document: dict[str, Any] = {
        "title": f"Oefening {word}",
        "description": f"Synthetische oefening {word} voor de bulk-benchmark.",
        "pause": rng.choice([5, 6, 8]),
        "cycle": 10,
        "intro": rng.choice(INTROS),
        "steps": [],
        "outro": rng.choice(OUTROS),
    }
    # Pauses that the text or the default decides, as rustpunt itself plans them.
    document["steps"] = [
        {"text": s["text"], "pause": 0} if s["explicit"] else s["text"] for s in steps
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as handle:
        yaml.safe_dump(document, handle, allow_unicode=True, sort_keys=False)
    try:
        planned_ms = plan(load_script(Path(handle.name))).pause_ms()
    finally:
        os.unlink(handle.name)
    chars = sum(len(s["text"]) for s in steps) + len(document["intro"]) + len(document["outro"])
    remaining = target_s - chars / SPEECH_CHARS_PER_SECOND - planned_ms / 1000
    weights = [rng.uniform(0.5, 1.5) for _ in explicit]
    total_weight = sum(weights) or 1.0
    shares = iter(max(3, round(remaining * w / total_weight)) for w in weights)
    document["steps"] = [
        {"text": s["text"], "pause": _format_pause(next(shares), rng)}
        if s["explicit"]
        else s["text"]
        for s in steps
    ]
    return document


def write_script(path: Path, document: dict[str, Any]) -> None:
    path.write_text(
        yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8"
    )


def script_texts(document: dict[str, Any]) -> list[str]:
    steps = [s if isinstance(s, str) else s["text"] for s in document["steps"]]
    return [document["intro"], *steps, document["outro"]]


# --------------------------------------------------------------------------- machine load

_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
IDLE_BELOW = 0.15
"""The machine counts as idle when under 15 % of its CPU time is busy (over a half-second sample)."""


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores; idle and iowait excluded)."""
    try:
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:9]]
    except OSError:
        return 0.0
    return (sum(values) - values[3] - values[4]) / _HZ


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and of every child it has waited for (builds, ffmpeg)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class Meter:
    """Wall time of a measurement, and how much CPU other processes on the machine took meanwhile.

    A benchmark on a shared machine is only as good as its quiet: `others` is the share of all
    cores that processes outside this benchmark used during the measurement.
    """

    def __enter__(self) -> Meter:
        self._busy, self._own = _busy_seconds(), _own_cpu_seconds()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._started
        foreign = (_busy_seconds() - self._busy) - (_own_cpu_seconds() - self._own)
        self.others = max(0.0, foreign) / (self.wall * (os.cpu_count() or 1))


def wait_idle(max_wait: float) -> None:
    """Wait (at most max_wait seconds) for other processes to leave the machine idle."""
    deadline = time.monotonic() + max_wait
    cores = os.cpu_count() or 1
    while True:
        before = _busy_seconds()
        time.sleep(0.5)
        share = (_busy_seconds() - before) / (0.5 * cores)
        if share < IDLE_BELOW:
            return
        if time.monotonic() >= deadline:
            log(
                f"    (machine still {share:.0%} busy with other work after {max_wait:.0f} s; measuring anyway)"
            )
            return


SETTLE_SECONDS = 20.0
"""Set from --settle: the longest wait for an idle machine before each measurement."""


# --------------------------------------------------------------------------- running builds


@dataclass
class Build:
    wall: float
    report: dict[str, Any]
    others: float = 0.0
    """Share of the machine's CPU that other processes used during the build."""
    maxrss_kb: int = 0
    tree_peak_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def audio_seconds(self) -> float:
        return sum(s["duration_ms"] for s in self.report["scripts"]) / 1000

    @property
    def synthesized(self) -> int:
        return sum(s["synthesized"] or 0 for s in self.report["scripts"])


def build_command(paths: list[Path], out: Path, cache: Path, jobs: int) -> list[str]:
    return [
        sys.executable, "-m", "rustpunt", "build", *map(str, paths),
        "-o", str(out), "--voice", VOICE, "--jobs", str(jobs), "--cache-dir", str(cache), "--json",
    ]  # fmt: skip


def _check(rc: int, stdout: str, stderr: str, what: str) -> dict[str, Any]:
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
    what: str, paths: list[Path], out: Path, cache: Path, jobs: int, *, settle: bool = True
) -> Build:
    log(f"  {what} ...")
    command = build_command(paths, out, cache, jobs)
    if settle:
        wait_idle(SETTLE_SECONDS)
    with Meter() as meter:
        result = subprocess.run(command, capture_output=True, text=True)
    report = _check(result.returncode, result.stdout, result.stderr, what)
    log(
        f"    {meter.wall:.2f} s  built {report['built']}, up to date {report['up_to_date']}  (others {meter.others:.0%})"
    )
    return Build(meter.wall, report, meter.others)


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its live descendants, summed (shared pages count twice)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * _PAGE
        except OSError:
            pass
        stack.extend(children.get(pid, ()))
    return total


def run_build_measured(what: str, paths: list[Path], out: Path, cache: Path, jobs: int) -> Build:
    """A build with its peak memory: ru_maxrss of this very child (os.wait4) and /proc tree polling."""
    log(f"  {what} ...")
    command = build_command(paths, out, cache, jobs)
    wait_idle(SETTLE_SECONDS)
    with (
        tempfile.TemporaryFile("w+") as stdout,
        tempfile.TemporaryFile("w+") as stderr,
        Meter() as meter,
    ):
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True)
        peak = [0]
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss(process.pid))
                done.wait(0.02)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        _, status, usage = os.wait4(process.pid, 0)
        done.set()
        poller.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    report = _check(process.returncode, output, errors, what)
    log(
        f"    {meter.wall:.2f} s  built {report['built']}, peak RSS {usage.ru_maxrss / 1024:.0f} MB (largest process), "
        f"{peak[0] / 2**20:.0f} MB (process tree)  (others {meter.others:.0%})"
    )
    return Build(meter.wall, report, meter.others, usage.ru_maxrss, peak[0])


# --------------------------------------------------------------------------- the floor


def decode_to_pcm(mp3: Path, raw: Path) -> int:
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(mp3),
        "-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-y", str(raw),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return raw.stat().st_size // 2


def encode_pcm(raw: Path, mp3: Path) -> None:
    """Exactly the build's encoder invocation (rustpunt.export), PCM written to its stdin in 5 s chunks."""
    command = [
        ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error",
        "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
        "-map_metadata", "-1",
        "-c:a", "libmp3lame", "-b:a", BITRATE, "-ar", str(SAMPLE_RATE), "-ac", "1",
        "-id3v2_version", "0", "-write_id3v1", "0", "-write_xing", "1", "-f", "mp3", "-y", str(mp3),
    ]  # fmt: skip
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


def measure_floor(raws: list[Path], jobs: int) -> Meter:
    """Encode every session again, `jobs` ffmpeg processes at a time, as the build runs its jobs."""
    wait_idle(SETTLE_SECONDS)
    with Meter() as meter, concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(encode_pcm, raws, [raw.with_suffix(".mp3") for raw in raws]))
    return meter


# --------------------------------------------------------------------------- the experiments


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def generate(folder: Path, count: int, seed: int, start: int = 0) -> dict[Path, dict[str, Any]]:
    folder.mkdir(parents=True, exist_ok=True)
    scripts = {}
    for index in range(start, start + count):
        rng = random.Random(seed + index)
        document = make_script(index, rng.uniform(180, 360), rng.randint(10, 20), seed)
        path = folder / f"oefening-{index + 1:04d}.yaml"
        write_script(path, document)
        scripts[path] = document
    return scripts


def sharing(documents: list[dict[str, Any]]) -> dict[str, Any]:
    texts = [text for document in documents for text in script_texts(document)]
    return {"sentences": len(texts), "distinct": len(set(texts))}


def experiment_cold(
    work: Path, scripts: dict[Path, dict[str, Any]], count: int, jobs: int, repeat: int
) -> dict[str, Any]:
    """Cold builds and floors, interleaved `repeat` times; the best (shortest) of each counts."""
    log(f"1. cold build of {count} scripts, --jobs {jobs}, best of {repeat}")
    paths = sorted(scripts)[:count]
    builds: list[Build] = []
    floors: list[Meter] = []
    raws: list[Path] = []
    floor_audio = 0.0
    for attempt in range(repeat):
        suffix = (
            "" if attempt == 0 else f"-{attempt + 1}"
        )  # the first one's outputs serve figures 2 and 3
        out, cache = work / f"out{suffix}", work / f"cache-cold{suffix}"
        build = run_build(
            f"cold build of {count} ({attempt + 1}/{repeat})", paths, out, cache, jobs
        )
        builds.append(build)
        if attempt == 0:
            raws, floor_audio = decode_all(
                [Path(s["mp3"]) for s in build.report["scripts"]], work / "floor", jobs
            )
        else:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)
        log(f"  floor: the same audio encoded by ffmpeg alone ({attempt + 1}/{repeat}) ...")
        floor = measure_floor(raws, jobs)
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
    work: Path, folder: Path, count: int, jobs: int, repeats: int = 3
) -> tuple[dict[str, Any], Build]:
    log(f"2. no-op rebuild of {count} scripts")
    first = run_build(
        f"first build of {count} (those of figure 1 already up to date)",
        [folder],
        work / "out",
        work / "cache-cold",
        jobs,
        settle=False,
    )
    noops = [
        run_build(
            f"no-op rebuild {i + 1} of {repeats}", [folder], work / "out", work / "cache-cold", jobs
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
    }, first


def experiment_one_sentence(
    work: Path, folder: Path, scripts: dict[Path, dict[str, Any]], jobs: int, seed: int
) -> dict[str, Any]:
    log("3. one sentence changed in one script, all rebuilt")
    all_texts = {text for document in scripts.values() for text in script_texts(document)}
    rng = random.Random(seed)
    path = rng.choice(sorted(scripts)[len(scripts) // 2 :])
    document = scripts[path]
    # Edit a step whose pause is explicit or the default (rewording keeps its pause), not the first.
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

    clips = work / "cache-cold" / "clips"
    before = set(clips.glob("*/*.clip"))
    rebuild = run_build(
        f"rebuild of {len(scripts)} after editing step {index + 1} of {path.name}",
        [folder],
        work / "out",
        work / "cache-cold",
        jobs,
    )
    if rebuild.report["built"] != 1 or rebuild.synthesized != 1:
        raise BuildFailed(
            f"expected 1 script built with 1 clip synthesised, got {rebuild.report['built']} / {rebuild.synthesized}"
        )
    added = set(clips.glob("*/*.clip")) - before
    for clip in added:  # the baseline must synthesise the edited sentence again, as the rebuild did
        clip.unlink()
    alone_warm = run_build(
        "that script alone, fresh output, cache warm but for the edited sentence",
        [path],
        work / "out-alone-warm",
        work / "cache-cold",
        jobs,
    )
    if alone_warm.synthesized != 1:
        raise BuildFailed(
            f"warm single build synthesised {alone_warm.synthesized} clips, expected 1"
        )
    alone_cold = run_build(
        "that script alone, fresh output, cold cache",
        [path],
        work / "out-alone-cold",
        work / "cache-alone",
        jobs,
    )
    return {
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
    }


def experiment_long(work: Path, long_minutes: int, seed: int, repeat: int) -> dict[str, Any]:
    """Each session built `repeat` times with a fresh cache: the shortest time, the largest memory."""
    log(
        f"4. a {long_minutes}-minute session against a 5-minute one (cold caches), best of {repeat}"
    )
    folder = work / "long"
    folder.mkdir()
    results = {}
    for minutes in (5, long_minutes):
        document = make_script(
            10_000 + minutes, minutes * 60, round(minutes * STEPS_PER_MINUTE), seed
        )
        path = folder / f"sessie-{minutes}min.yaml"
        write_script(path, document)
        builds = []
        for attempt in range(repeat):
            out, cache = (
                work / f"out-{minutes}min-{attempt}",
                work / f"cache-{minutes}min-{attempt}",
            )
            builds.append(
                run_build_measured(
                    f"{minutes}-minute session ({attempt + 1}/{repeat})", [path], out, cache, 1
                )
            )
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
    return {
        "short": short,
        "long": long,
        "long_minutes": long_minutes,
        "ratio": long["wall_s"] / short["wall_s"],
        "audio_ratio": long["audio_s"] / short["audio_s"],
    }


# --------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ffmpeg = subprocess.run(
        [ffmpeg_exe(), "-version"], capture_output=True, text=True
    ).stdout.split("\n", 1)[0]
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ffmpeg": ffmpeg,
    }


def figures(results: dict[str, Any], long_minutes: int) -> list[dict[str, Any]]:
    cold, noop, edit, long = (
        results["cold"],
        results["noop"],
        results["one_sentence"],
        results["long"],
    )
    rows = [
        (
            f"cold build, {cold['scripts']} scripts (wall)",
            cold["wall_s"],
            "s",
            None,
            None,
            cold["others"],
        ),
        ("  audio built", cold["audio_s"], "s", None, None, None),
        ("  audio s per wall s (aggregate)", cold["audio_s_per_wall_s"], "x", None, None, None),
        (
            "  floor: ffmpeg encode of the same audio",
            cold["floor_wall_s"],
            "s",
            None,
            None,
            cold["floor_others"],
        ),
        ("  build / floor", cold["ratio_to_floor"], "x", 1.5, "<=", None),
        (
            f"no-op rebuild, {noop['scripts']} scripts",
            noop["wall_s"],
            "s",
            2.0,
            "<",
            noop["others"],
        ),
        ("  median of 3 no-op rebuilds", noop["wall_s_median"], "s", None, None, None),
        (
            f"one sentence changed, {edit['scripts']} scripts rebuilt",
            edit["wall_s"],
            "s",
            None,
            None,
            edit["others"],
        ),
        (
            "  that script alone, cache warm but the edit",
            edit["alone_warm_wall_s"],
            "s",
            None,
            None,
            edit["alone_warm_others"],
        ),
        ("  rebuild / alone (warm but the edit)", edit["ratio_to_alone_warm"], "x", 1.5, "<", None),
        (
            "  that script alone, cold cache",
            edit["alone_cold_wall_s"],
            "s",
            None,
            None,
            edit["alone_cold_others"],
        ),
        ("  rebuild / alone (cold)", edit["ratio_to_alone_cold"], "x", None, None, None),
        (
            f"5-minute session, cold ({long['short']['audio_s'] / 60:.1f} min)",
            long["short"]["wall_s"],
            "s",
            None,
            None,
            long["short"]["others"],
        ),
        (
            f"{long_minutes}-minute session, cold ({long['long']['audio_s'] / 60:.1f} min)",
            long["long"]["wall_s"],
            "s",
            None,
            None,
            long["long"]["others"],
        ),
        (
            f"  {long_minutes}-min / 5-min build time",
            long["ratio"],
            "x",
            13.0 if long_minutes == 60 else None,
            "<=",
            None,
        ),
        (
            f"  {long_minutes}-min peak RSS, process tree (sum)",
            long["long"]["tree_peak_mb"],
            "MB",
            300.0,
            "<",
            None,
        ),
        (
            f"  {long_minutes}-min peak RSS, largest process",
            long["long"]["maxrss_mb"],
            "MB",
            300.0,
            "<",
            None,
        ),
    ]
    table = []
    for name, value, unit, target, op, others in rows:
        met = None if target is None else (value <= target if op == "<=" else value < target)
        table.append({"figure": name, "value": round(value, 3), "unit": unit,
                      "target": None if target is None else f"{op} {target:g}{' ' + unit if unit != 'x' else 'x'}",
                      "met": met, "others_cpu_share": None if others is None else round(others, 3)})  # fmt: skip
    return table


def render_table(table: list[dict[str, Any]], info: dict[str, Any], results: dict[str, Any]) -> str:
    def value(row: dict[str, Any]) -> str:
        number = row["value"]
        text = f"{number:.0f}" if row["unit"] == "MB" or number >= 100 else f"{number:.2f}"
        return f"{text} {row['unit']}" if row["unit"] != "x" else f"{text}x"

    width = max(len(row["figure"]) for row in table)
    lines = [
        f"{'figure':<{width}}  {'value':>11}  {'target':>10}  {'result':<8} others*",
        "-" * (width + 48),
    ]
    for row in table:
        met = "" if row["met"] is None else ("met" if row["met"] else "NOT MET")
        others = "" if row["others_cpu_share"] is None else f"{row['others_cpu_share']:.0%}"
        lines.append(
            f"{row['figure']:<{width}}  {value(row):>11}  {row['target'] or '':>10}  {met:<8} {others:>6}".rstrip()
        )
    cold = results["cold"]
    share = cold["sharing"]
    lines += [
        "",
        "* others: share of the machine's CPU that processes outside this benchmark used meanwhile",
        f"figure 1: {share['sentences']} sentences, {share['distinct']} distinct, {cold['synthesized_clips']} synthesised; "
        f"floor encodes at {cold['floor_audio_s_per_wall_s']:.0f}x real time with {cold['jobs']} at once",
        f"figure 1: cold builds {', '.join(f'{w:.2f}' for w in cold['wall_s_all'])} s; "
        f"floors {', '.join(f'{w:.2f}' for w in cold['floor_wall_s_all'])} s (the shortest of each counts)",
        f"figure 2: no-op rebuilds {', '.join(f'{w:.2f}' for w in results['noop']['wall_s_all'])} s; "
        f"the first build of all ({results['noop']['first_build_built']} built) took {results['noop']['first_build_wall_s']:.1f} s",
        f"figure 3: edited {results['one_sentence']['edited']}",
        f"figure 4: {results['long']['long_minutes']}-min builds {', '.join(f'{w:.2f}' for w in results['long']['long']['wall_s_all'])} s, "
        f"5-min builds {', '.join(f'{w:.2f}' for w in results['long']['short']['wall_s_all'])} s; "
        f"{results['long']['long']['steps']} and {results['long']['short']['steps']} steps, "
        f"{results['long']['long']['synthesized_clips']} and {results['long']['short']['synthesized_clips']} clips synthesised",
        f"machine: {info['cpu_count']} CPUs, {info['cpu_model']}; {info['platform']}; Python {info['python']}",
        f"         {info['ffmpeg']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)
    global SETTLE_SECONDS
    SETTLE_SECONDS = args.settle
    count = args.scripts or (10 if args.quick else 50)
    many = max(args.many or (40 if args.quick else 200), count)
    long_minutes = args.long_minutes or (20 if args.quick else 60)

    work = Path(tempfile.mkdtemp(prefix="rustpunt-bulk-"))
    log(f"work folder {work}")
    started = time.perf_counter()
    try:
        info = machine()
        folder = work / "scripts"
        scripts = generate(folder, many, args.seed)
        results: dict[str, Any] = {}
        results["cold"] = experiment_cold(work, scripts, count, args.jobs, args.repeat)
        results["noop"], _ = experiment_noop(work, folder, many, args.jobs)
        results["one_sentence"] = experiment_one_sentence(
            work, folder, scripts, args.jobs, args.seed
        )
        results["long"] = experiment_long(work, long_minutes, args.seed, args.repeat)
    except BuildFailed as error:
        log(f"error: {error}")
        return 1
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    table = figures(results, long_minutes)
    text = render_table(table, info, results)
    total = time.perf_counter() - started
    if args.json:
        log(text)
        print(
            json.dumps(
                {"machine": info, "figures": table, "results": results, "benchmark_wall_s": total},
                indent=2,
            )
        )
    else:
        print(text)
        print(f"\n(benchmark run: {total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
