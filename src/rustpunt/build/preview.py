"""`rustpunt voices try`: one text, one voice, a short MP3, so an editor can compare voices and
hear what a lexicon entry does before a whole session is built.

The text goes through the same lexicon, engine, clip preparation, loudness target and encoder as a
build, but never falls back to another voice: hearing a different voice than asked would mislead.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rustpunt.audio.loudness import limit
from rustpunt.audio.mix import LIMITER_CEILING, speech_gain
from rustpunt.audio.pcm import SAMPLE_RATE, ms_to_samples, prepare_clip, samples_to_ms
from rustpunt.errors import RustpuntError
from rustpunt.files import write_bytes_atomic
from rustpunt.mp3.export import write_mp3
from rustpunt.mp3.id3 import Chapter, Metadata
from rustpunt.script.sentences import InlinePauseError, phrases
from rustpunt.voice.clipcache import ClipCache
from rustpunt.voice.joining import join_phrases
from rustpunt.voice.lexicon import Lexicon
from rustpunt.voice.profiles import VoiceRegistry
from rustpunt.voice.speak import Voices, engine_label

LEAD_MS = 300
"""Silence before and after the speech: players clip the first moments of a file."""

FORMATS = (".mp3", ".wav")
"""What the file's suffix asks for: an MP3 as a build makes it, or a WAV (no encoder between
the voice and the ear, for comparing voices)."""


def check_destination(destination: Path) -> None:
    """Refuse a file name whose suffix names neither format, before anything is spoken."""
    if Path(destination).suffix.lower() not in FORMATS:
        raise RustpuntError(
            f"{destination}: voices try writes an MP3 or a WAV file; name it NAME.mp3 or NAME.wav"
        )


@dataclass(frozen=True)
class Audition:
    path: Path
    voice: str
    engine: str
    text: str
    spoken: str
    """What the engine was asked to say, after the lexicon."""
    duration_ms: int


def audition(
    registry: VoiceRegistry,
    voice: str,
    text: str,
    destination: Path,
    *,
    lexicon_folders: Iterable[Path] = (),
) -> Audition:
    """Speak `text` with `voice` into `destination`, an MP3 or a WAV as its suffix says.
    Raises VoiceUnavailable, never falls back."""
    check_destination(destination)
    profile = registry.get(voice)
    lexicon = Lexicon.load(lexicon_folders, profile=profile)
    try:  # sentence by sentence, with the profile's pauses and any (pauze 2 s): as a build does
        found = phrases(text, split_clauses=profile.clause_pause_ms > 0)
    except InlinePauseError as error:
        raise RustpuntError(f"the text to try: {error}") from None
    forms = [lexicon.spoken(phrase.text) for phrase in found]
    spoken = " ".join(forms)
    engine = Voices(ClipCache()).engine_for(profile)  # one try: no cache, no fallback
    identity = engine.identity()
    clips = {
        form: prepare_clip(engine.synthesize(form), profile.tempo) for form in dict.fromkeys(forms)
    }
    clip, _ = join_phrases(found, forms, clips, profile)
    speech = limit(clip, speech_gain({spoken: clip}), LIMITER_CEILING)
    silence = np.zeros(ms_to_samples(LEAD_MS), dtype="<i2")
    total = 2 * silence.size + speech.size
    label = engine_label(identity, profile)
    if Path(destination).suffix.lower() == ".wav":
        _write_wav(Path(destination), np.concatenate([silence, speech, silence]))
    else:
        _write_mp3(destination, silence, speech, total, text, spoken, profile.name, label)
    return Audition(
        path=Path(destination),
        voice=profile.name,
        engine=label,
        text=text,
        spoken=spoken,
        duration_ms=samples_to_ms(total, SAMPLE_RATE),
    )


def _write_wav(destination: Path, samples: np.ndarray) -> None:
    """16-bit mono PCM at the session rate, written to a temporary file and renamed into place."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.astype("<i2").tobytes())
    write_bytes_atomic(destination, buffer.getvalue())


def _write_mp3(
    destination: Path,
    silence: np.ndarray,
    speech: np.ndarray,
    total: int,
    text: str,
    spoken: str,
    voice: str,
    label: str,
) -> None:
    write_mp3(
        destination,
        [silence, speech, silence],
        Metadata(
            title=text if len(text) <= 60 else text[:59] + "…",
            artist="rustpunt",
            album="rustpunt voices try",
            voice=voice,
            engine=label,
            comment=None if spoken == text else f"spoken as: {spoken}",
        ),
        [Chapter(start_ms=0, end_ms=samples_to_ms(total, SAMPLE_RATE), title=voice)],
    )
