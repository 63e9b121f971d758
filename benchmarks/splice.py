#!/usr/bin/env python3
"""Spliced MP3 writer benchmark: encode only the speech and splice the pauses, against encoding
the whole session in one pass.

    python benchmarks/splice.py            # 5-minute sessions at 52/80/90 % pause, a 60-minute one
    python benchmarks/splice.py --quick    # 5-minute sessions and a 20-minute one
    python benchmarks/splice.py --json     # figures as JSON on stdout (the table goes to stderr)

The speech is real: Dutch sentences spoken by the offline voice (espeak-ng through rustpunt's
engine, prepared like every clip: trimmed, faded), placed with pauses so that the session has the
wanted share of silence. Every figure is measured in this run, best of --repeat, interleaved:

- baseline: the one-pass encode the build does today: the very same finished session audio (built
  in memory beforehand, untimed) piped into one imageio-ffmpeg process with export's exact settings
  (libmp3lame CBR, mono, 44.1 kHz, Xing header), written to a file;
- spliced: `write_spliced_mp3` with no cache, as rustpunt does it: every speech part, after its
  lead-in of silent frames, padded to whole frames and streamed through one imageio-ffmpeg process
  (libmp3lame, export's settings), the stream cut back into parts, the pauses laid as silent
  frames, the Info frame written;
- spliced, ffmpeg per part: the same, but each part through an ffmpeg process of its own;
- spliced, lameenc: each part through a fresh in-process `lameenc` encoder (LAME 3.100 from PyPI,
  the same quality 3 and lead-in), then the same assembly: the other encoder interface;
- assembly only: the session's encoded parts taken from a cache, laid again with every pause
  moved by whole frames (a pause-only edit that keeps every part), through `assemble`, and through
  `write_spliced_mp3` finding its parts by the speech's sha256 or by keys the caller gives;
- re-timing by a fraction of a frame: every part after the first pause moves by 10 ms, so every
  one of them is encoded again (the writer never rounds an offset);
- peak memory of a fresh process writing the long session from its speech segments, and of its
  ffmpeg, polled with psutil (the largest sum over the live tree, as bulk.py measures);
- quality: SNR and the error at every speech onset, one-pass against spliced.

It reports, it does not assert.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from measure import own_and_descendants_rss

from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe, prepare_clip
from rustpunt.mp3 import splice
from rustpunt.mp3.export import encoder_command
from rustpunt.mp3.frames import SAMPLES_PER_FRAME
from rustpunt.voice.engines.espeak import EspeakEngine

BITRATE_KBPS = 64

SENTENCES = [
    "Ga rustig zitten en sluit je ogen.",
    "Adem diep in door je neus.",
    "En adem langzaam uit door je mond.",
    "Voel hoe je schouders zwaar worden.",
    "Span je vuisten aan en houd dit vijf seconden vast.",
    "Laat nu los en voel het verschil.",
    "Breng je aandacht naar je voeten.",
    "Herhaal dit vijf keer, in je eigen tempo.",
    "Merk op wat je voelt, zonder te oordelen.",
    "Laat je gedachten voorbijdrijven als wolken.",
    "Trek je schouders op naar je oren.",
    "Ontspan je kaak en je voorhoofd.",
    "Adem in en tel tot vier.",
    "Houd je adem even vast.",
    "Adem uit en tel tot zes.",
    "Voel de grond onder je voeten.",
    "Strek je armen boven je hoofd.",
    "Beweeg je vingers en je tenen.",
    "Neem nog een moment voor jezelf.",
    "Open langzaam je ogen wanneer je er klaar voor bent.",
]


def speak_all() -> list[np.ndarray]:
    engine = EspeakEngine()
    return [prepare_clip(engine.synthesize(text)) for text in SENTENCES]


def make_session(
    clips: list[np.ndarray], minutes: float, pause_share: float, seed: int
) -> tuple[list[tuple[int, np.ndarray]], int]:
    """Steps of one or two sentences with pauses, until the session is `minutes` long. Sentence
    samples are varied by a tiny gain per step, so no two segments are the same PCM."""
    rng = random.Random(seed)
    total_wanted = int(minutes * 60 * SAMPLE_RATE)
    segments: list[tuple[int, np.ndarray]] = []
    position = rng.randrange(SAMPLE_RATE // 2, SAMPLE_RATE)
    while True:
        step = [rng.choice(clips) for _ in range(rng.choice((1, 1, 2)))]
        gain = rng.uniform(0.9, 1.0)
        speech = np.concatenate(
            [np.concatenate([clip, np.zeros(SAMPLE_RATE // 3, "<i2")]) for clip in step]
        )
        speech = np.round(speech[: -SAMPLE_RATE // 3] * gain).astype("<i2")
        mean_pause = speech.size * pause_share / (1 - pause_share)
        pause = int(mean_pause * rng.uniform(0.6, 1.4))
        if position + speech.size + pause > total_wanted:
            break
        segments.append((position, speech))
        position += speech.size + pause
    return segments, position


def mix(segments: Sequence[tuple[int, np.ndarray]], total: int) -> np.ndarray:
    audio = np.zeros(total, dtype="<i2")
    for offset, samples in segments:
        audio[offset : offset + samples.size] = samples
    return audio


def one_pass(audio: np.ndarray, destination: Path) -> None:
    """What export does today: one ffmpeg, the session piped in 5 s chunks."""
    command = [*encoder_command(ffmpeg_exe(), BITRATE_KBPS), "-f", "mp3", "-y", str(destination)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdin is not None
    chunk = 5 * SAMPLE_RATE
    for start in range(0, audio.size, chunk):
        process.stdin.write(audio[start : start + chunk].tobytes())
    process.stdin.close()
    if process.wait() != 0:
        raise SystemExit("ffmpeg failed")


def _place(
    segments: Sequence[tuple[int, np.ndarray]],
    total: int,
    destination: Path,
    encode: Callable[[splice.Unit], splice.EncodedPart],
) -> None:
    units = splice.plan_units(segments, total)
    parts = [encode(unit) for unit in units]
    placed = [(unit.start_frame - part.lead_in, part) for unit, part in zip(units, parts)]
    with destination.open("wb") as handle:
        splice.assemble(handle, placed, total, bitrate_kbps=BITRATE_KBPS)


def spliced_ffmpeg_per_part(
    segments: Sequence[tuple[int, np.ndarray]], total: int, destination: Path
) -> None:
    """Every part through an ffmpeg process of its own."""
    _place(
        segments,
        total,
        destination,
        lambda unit: splice.encode_parts([unit], bitrate_kbps=BITRATE_KBPS)[0],
    )


def lameenc_part(unit: splice.Unit) -> splice.EncodedPart:
    """One part through a fresh lameenc encoder (LAME 3.100, reservoir on, quality 3 like
    ffmpeg's default), with the same lead-in: its first frame is the first of its own stream, so
    its main_data_begin is 0."""
    import lameenc

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(BITRATE_KBPS)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_out_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(3)
    samples, lead = unit.samples(), unit.lead
    zeros = unit.lead_in * SAMPLES_PER_FRAME + lead
    frames = unit.lead_in + splice.reach_frames(lead, samples.size) + 1
    block = np.zeros(frames * SAMPLES_PER_FRAME, "<i2")
    block[zeros : zeros + samples.size] = samples
    stream = bytes(encoder.encode(block.tobytes())) + bytes(encoder.flush())
    offsets = [*splice.mp3frames.frame_offsets(stream), len(stream)]
    side = [splice.mp3frames.parse_side_info(stream, offsets[k]) for k in range(frames)]
    assert side[0].main_data_begin == 0 and side[-1].silent
    count = max((k + 1 for k, info in enumerate(side) if not info.silent), default=0)
    data = stream[: offsets[count]]
    return splice.EncodedPart(
        data=data,
        frame_count=count,
        lead=lead,
        lead_in=unit.lead_in,
        bitrate_kbps=BITRATE_KBPS,
        frame_offsets=np.asarray(offsets[:count], dtype=np.int64),
        crc=splice.mp3frames.crc16_frames(data, offsets[:count]),
    )


def spliced_lameenc(
    segments: Sequence[tuple[int, np.ndarray]], total: int, destination: Path
) -> None:
    _place(segments, total, destination, lameenc_part)


def best(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def decoded_samples(path: Path) -> int:
    result = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "pipe:1"],
        capture_output=True,
        check=True,
    )
    return len(result.stdout) // 2


def measure_session(
    name: str,
    segments: list[tuple[int, np.ndarray]],
    total: int,
    work: Path,
    repeat: int,
    variants: bool,
) -> dict[str, Any]:
    audio = mix(segments, total)
    speech = sum(samples.size for _, samples in segments)
    figures: dict[str, Any] = {
        "session": name,
        "minutes": round(total / SAMPLE_RATE / 60, 1),
        "pause_share": round(1 - speech / total, 3),
        "segments": len(segments),
    }
    whole = work / f"{name}-whole.mp3"
    spliced = work / f"{name}-spliced.mp3"
    baseline = best(repeat, lambda: one_pass(audio, whole))
    cold = best(repeat, lambda: splice.write_spliced_mp3(spliced, segments, total))
    figures["baseline_s"] = round(baseline, 3)
    figures["spliced_s"] = round(cold, 3)
    figures["spliced_ratio"] = round(cold / baseline, 3)
    figures["decoded_exact"] = decoded_samples(spliced) == total
    figures["bytes_whole"] = whole.stat().st_size
    figures["bytes_spliced"] = spliced.stat().st_size
    if variants:
        per_part = best(1, lambda: spliced_ffmpeg_per_part(segments, total, work / "per-part.mp3"))
        figures["spliced_ffmpeg_per_part_s"] = round(per_part, 3)
        figures["spliced_ffmpeg_per_part_ratio"] = round(per_part / baseline, 3)
        figures["ffmpeg_per_part_exact"] = decoded_samples(work / "per-part.mp3") == total
        try:
            import lameenc  # noqa: F401
        except ImportError:
            figures["spliced_lameenc"] = "not installed (pip install lameenc)"
        else:
            in_process = best(
                repeat, lambda: spliced_lameenc(segments, total, work / "lameenc.mp3")
            )
            figures["spliced_lameenc_s"] = round(in_process, 3)
            figures["spliced_lameenc_ratio"] = round(in_process / baseline, 3)
            figures["lameenc_exact"] = decoded_samples(work / "lameenc.mp3") == total
    return figures


_CHILD = """
import sys, numpy as np
from rustpunt.mp3 import splice
data = np.load(sys.argv[1])
segments = [(int(o), data[f"s{i}"]) for i, o in enumerate(data["offsets"])]
splice.write_spliced_mp3(sys.argv[2], segments, int(data["total"]))
"""


def measure_memory(
    segments: list[tuple[int, np.ndarray]], total: int, work: Path
) -> dict[str, Any]:
    """Peak memory of a fresh process that loads the session's speech segments (held in memory,
    as the mixer holds them) and writes the spliced MP3, and of its ffmpeg: psutil polled every
    20 ms, the largest sum over the live tree (ru_maxrss would not do: a child started by vfork
    reports its parent's size)."""
    arrays = {f"s{index}": samples for index, (_, samples) in enumerate(segments)}
    offsets = np.array([offset for offset, _ in segments])
    np.savez(work / "segments.npz", offsets=offsets, total=total, **arrays)
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(work / "segments.npz"), str(work / "memory.mp3")]
    )
    python_peak = ffmpeg_peak = tree_peak = 0
    root = psutil.Process(process.pid)
    while process.poll() is None:
        own, descendants = own_and_descendants_rss(root)
        python_peak = max(python_peak, own)
        ffmpeg_peak = max(ffmpeg_peak, descendants)
        tree_peak = max(tree_peak, own + descendants)
        time.sleep(0.02)
    if process.returncode != 0:
        raise SystemExit("the memory measurement failed")
    return {
        "speech_pcm_mb": round(sum(samples.nbytes for _, samples in segments) / 1e6, 1),
        "python_peak_mb": round(python_peak / 1e6, 1),
        "ffmpeg_peak_mb": round(ffmpeg_peak / 1e6, 1),
        "tree_peak_mb": round(tree_peak / 1e6, 1),
    }


def measure_edits(
    segments: list[tuple[int, np.ndarray]], total: int, work: Path, repeat: int
) -> dict[str, Any]:
    """Pause-only edits of a long session: whole-frame moves (assembly) and a 10 ms move."""
    cache = splice.MemoryPartCache()
    target = work / "edit.mp3"
    fill = best(1, lambda: splice.write_spliced_mp3(target, segments, total, cache=cache))
    # every pause after the first grows by 3 frames (78 ms): every part keeps its lead
    shift = 3 * SAMPLES_PER_FRAME
    moved = [
        (offset + (shift if k else 0), samples) for k, (offset, samples) in enumerate(segments)
    ]
    moved_total = total + shift
    units = splice.plan_units(moved, moved_total)
    placed = []
    for unit in units:
        key = splice.part_key(
            unit.samples(), lead=unit.lead, lead_in=unit.lead_in, bitrate_kbps=BITRATE_KBPS
        )
        part = cache.get(key)
        assert part is not None, "a whole-frame move must keep every part"
        placed.append((unit.start_frame - part.lead_in, part))

    def assemble_to_file() -> None:
        with target.open("wb") as handle:
            splice.assemble(handle, placed, moved_total, bitrate_kbps=BITRATE_KBPS)

    def assemble_in_memory() -> None:
        splice.assemble(io.BytesIO(), placed, moved_total, bitrate_kbps=BITRATE_KBPS)

    in_memory = best(repeat, assemble_in_memory)
    to_file = best(repeat, assemble_to_file)
    whole_call = best(
        repeat, lambda: splice.write_spliced_mp3(target, moved, moved_total, cache=cache)
    )
    exact = decoded_samples(target) == moved_total
    keys = [f"segment-{index}" for index in range(len(segments))]  # e.g. the clip cache's keys
    splice.write_spliced_mp3(target, segments, total, cache=cache, segment_keys=keys)
    keyed_call = best(
        repeat,
        lambda: splice.write_spliced_mp3(
            target, moved, moved_total, cache=cache, segment_keys=keys
        ),
    )
    nudge = ms_samples = SAMPLE_RATE // 100  # 10 ms: not a whole frame, every later part re-encoded
    nudged = [(offset + (nudge if k else 0), s) for k, (offset, s) in enumerate(segments)]
    before = len(cache)
    retime = best(
        1, lambda: splice.write_spliced_mp3(target, nudged, total + ms_samples, cache=cache)
    )
    return {
        "cold_fill_s": round(fill, 3),
        "assemble_in_memory_ms": round(in_memory * 1000, 1),
        "assemble_to_file_ms": round(to_file * 1000, 1),
        "write_spliced_cached_ms": round(whole_call * 1000, 1),
        "write_spliced_cached_with_keys_ms": round(keyed_call * 1000, 1),
        "whole_frame_edit_exact": exact,
        "parts": len(placed),
        "retime_10ms_s": round(retime, 3),
        "retime_10ms_parts_encoded": len(cache) - before,
    }


def measure_snr(clips: list[np.ndarray], work: Path) -> dict[str, Any]:
    """Every sentence twice, 0.9-2 s apart: the signal-to-noise ratio of the one-pass encode, the
    spliced file and the spliced file with lameenc parts; and the error in the first two frames
    of every speech onset (mean and worst, relative to the source there), where a part's encode
    could differ most from the one-pass encode (the bit reservoir, LAME's settling)."""
    rng = random.Random(3)
    segments = []
    position = SAMPLE_RATE
    for clip in clips * 2:
        segments.append((position, clip))
        position += clip.size + rng.randrange(40_000, 90_000)
    audio = mix(segments, position)
    source = audio.astype(np.float64)

    def figures(path: Path) -> dict[str, float]:
        result = subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "pipe:1"],
            capture_output=True,
            check=True,
        )
        decoded = np.frombuffer(result.stdout, "<i2").astype(np.float64)[: source.size]
        error = decoded - source
        onsets = []
        for offset, _ in segments:
            window = slice(offset - SAMPLES_PER_FRAME, offset + 2 * SAMPLES_PER_FRAME)
            onsets.append(np.sum(error[window] ** 2) / np.sum(source[window] ** 2))
        return {
            "snr_db": round(float(10 * np.log10(np.sum(source**2) / np.sum(error**2))), 2),
            "onset_error_mean_db": round(float(10 * np.log10(np.mean(onsets))), 2),
            "onset_error_worst_db": round(float(10 * np.log10(max(onsets))), 2),
        }

    one_pass(audio, work / "snr-whole.mp3")
    splice.write_spliced_mp3(work / "snr-spliced.mp3", segments, position)
    results = {
        "one_pass": figures(work / "snr-whole.mp3"),
        "spliced": figures(work / "snr-spliced.mp3"),
    }
    try:
        spliced_lameenc(segments, position, work / "snr-lameenc.mp3")
        results["spliced_lameenc"] = figures(work / "snr-lameenc.mp3")
    except ImportError:
        pass
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args(argv)
    out = sys.stderr if options.json else sys.stdout
    clips = speak_all()
    long_minutes = 20 if options.quick else 60
    results: dict[str, Any] = {"sessions": []}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for share in (0.52, 0.80, 0.90):
            segments, total = make_session(clips, 5, share, seed=int(share * 100))
            figures = measure_session(
                f"5min-{int(share * 100)}", segments, total, work, options.repeat, variants=True
            )
            results["sessions"].append(figures)
            print(json.dumps(figures), file=out, flush=True)
        segments, total = make_session(clips, long_minutes, 0.80, seed=7)
        figures = measure_session(
            f"{long_minutes}min-80", segments, total, work, max(1, options.repeat - 1), False
        )
        results["sessions"].append(figures)
        print(json.dumps(figures), file=out, flush=True)
        results["edits"] = measure_edits(segments, total, work, options.repeat)
        print(json.dumps(results["edits"]), file=out, flush=True)
        results["memory"] = measure_memory(segments, total, work)
        print(json.dumps(results["memory"]), file=out, flush=True)
        results["quality"] = measure_snr(clips, work)
        print(json.dumps(results["quality"]), file=out, flush=True)
    if options.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
