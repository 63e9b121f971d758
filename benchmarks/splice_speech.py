"""What the splice benchmarks share: real Dutch speech from the offline voice (espeak-ng through
rustpunt's engine, prepared like every clip: trimmed, faded), sessions of it with a wanted share
of pause, the one-pass encode export does (the baseline), and the other encoder interfaces (one
ffmpeg per part; the lameenc binding, from the `dev` extra).
"""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rustpunt.audio.pcm import SAMPLE_RATE, ffmpeg_exe, prepare_clip
from rustpunt.mp3 import frames as mp3frames
from rustpunt.mp3.assembly import assemble
from rustpunt.mp3.encode import encode_parts
from rustpunt.mp3.export import encoder_command
from rustpunt.mp3.frames import SAMPLES_PER_FRAME
from rustpunt.mp3.partcache import EncodedPart
from rustpunt.mp3.units import Unit, plan_units, reach_frames
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
    encode: Callable[[Unit], EncodedPart],
) -> None:
    units = plan_units(segments, total)
    parts = [encode(unit) for unit in units]
    placed = [(unit.start_frame - part.lead_in, part) for unit, part in zip(units, parts)]
    with destination.open("wb") as handle:
        assemble(handle, placed, total, bitrate_kbps=BITRATE_KBPS)


def spliced_ffmpeg_per_part(
    segments: Sequence[tuple[int, np.ndarray]], total: int, destination: Path
) -> None:
    """Every part through an ffmpeg process of its own."""
    _place(
        segments,
        total,
        destination,
        lambda unit: encode_parts([unit], bitrate_kbps=BITRATE_KBPS)[0],
    )


def lameenc_part(unit: Unit) -> EncodedPart:
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
    frames = unit.lead_in + reach_frames(lead, samples.size) + 1
    block = np.zeros(frames * SAMPLES_PER_FRAME, "<i2")
    block[zeros : zeros + samples.size] = samples
    stream = bytes(encoder.encode(block.tobytes())) + bytes(encoder.flush())
    offsets = [*mp3frames.frame_offsets(stream), len(stream)]
    side = [mp3frames.parse_side_info(stream, offsets[k]) for k in range(frames)]
    assert side[0].main_data_begin == 0 and side[-1].silent
    count = max((k + 1 for k, info in enumerate(side) if not info.silent), default=0)
    data = stream[: offsets[count]]
    return EncodedPart(
        data=data,
        frame_count=count,
        lead=lead,
        lead_in=unit.lead_in,
        bitrate_kbps=BITRATE_KBPS,
        frame_offsets=np.asarray(offsets[:count], dtype=np.int64),
        crc=mp3frames.crc16_frames(data, offsets[:count]),
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
