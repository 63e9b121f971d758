"""A spoken part's clip from its phrase clips: each sentence (or clause) is its own clip in the
cache, and the part is those clips joined with the voice profile's silences and the script's
inline pauses, in whole samples. Where each phrase lies is kept, for captions and the sidecar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rustpunt.audio.pcm import ms_to_samples
from rustpunt.errors import RustpuntError
from rustpunt.inputs import Inputs
from rustpunt.script.sentences import Phrase
from rustpunt.voice.engines import create_engine
from rustpunt.voice.lexicon import Lexicon
from rustpunt.voice.profiles import VoiceProfile

__all__ = [
    "PhraseSpan",
    "engine_identity",
    "gap_ms",
    "join_phrases",
    "lay_out_phrases",
    "lexicon_digest",
]


@dataclass(frozen=True)
class PhraseSpan:
    """Where one phrase lies in its part's clip."""

    text: str
    """As written in the script (the caption shows it)."""
    spoken: str
    """What the engine was asked to say (after the lexicon)."""
    sentence: int
    start: int
    """First sample, counted from the start of the part's clip."""
    end: int
    """One past the last sample."""


def gap_ms(phrase: Phrase, profile: VoiceProfile) -> int:
    """The silence after a phrase: the profile's clause or sentence pause, or the inline pause."""
    if phrase.gap == "clause":
        return profile.clause_pause_ms
    if phrase.gap == "sentence":
        return profile.sentence_pause_ms
    if phrase.gap == "inline":
        return phrase.gap_ms
    return 0


def lay_out_phrases(
    phrases: Sequence[Phrase],
    spoken: Sequence[str],
    lengths: Mapping[str, int],
    profile: VoiceProfile,
) -> tuple[int, tuple[PhraseSpan, ...]]:
    """Where each phrase lies in the part's clip, and the clip's length, from the phrase clips'
    lengths alone: `spoken[i]` is the spoken form of `phrases[i]`, its key in `lengths`."""
    spans = []
    position = 0
    for phrase, form in zip(phrases, spoken):
        end = position + lengths[form]
        spans.append(PhraseSpan(phrase.text, form, phrase.sentence, position, end))
        position = end + (ms_to_samples(gap_ms(phrase, profile)) if len(phrases) > 1 else 0)
    return position, tuple(spans)


def join_phrases(
    phrases: Sequence[Phrase],
    spoken: Sequence[str],
    clips: Mapping[str, np.ndarray],
    profile: VoiceProfile,
) -> tuple[np.ndarray, tuple[PhraseSpan, ...]]:
    """The part's clip (phrase clips with silences between them) and where each phrase lies."""
    total, spans = lay_out_phrases(
        phrases, spoken, {form: clips[form].size for form in spoken}, profile
    )
    if len(phrases) == 1:
        return clips[spoken[0]], spans
    joined = np.zeros(total, dtype="<i2")
    for span in spans:
        joined[span.start : span.end] = clips[span.spoken]
    return joined, spans


# --------------------------------------------------------------------------- build identity


def lexicon_digest(
    folders: Sequence[Path], profile: VoiceProfile, inputs: Inputs | None = None
) -> str:
    """The digest of the lexicon a build of a script in `folders` uses with `profile`: part of
    the build key, so a changed lexicon rebuilds. Raises LexiconError for a broken lexicon."""
    return Lexicon.load(folders, profile=profile, inputs=inputs).digest()  # read once by inputs


def engine_identity(profile: VoiceProfile, inputs: Inputs | None = None) -> dict[str, Any]:
    """What the engine says it is (version, model checksum, settings): part of the build key, so a
    replaced Piper model or an upgraded espeak rebuilds. A voice that cannot say (a Piper model
    not installed) is recorded as unavailable, so installing it rebuilds too."""
    try:
        return dict(create_engine(profile.engine, profile.settings, inputs=inputs).identity())
    except RustpuntError as error:
        return {"engine": profile.engine, "unavailable": str(error)}
