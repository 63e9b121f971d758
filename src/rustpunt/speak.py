"""Speak a session's texts with one voice, through the clip cache, falling back as a whole.

One session is never spoken by two voices: when the chosen voice cannot be reached, every text is
spoken again by its fallback, and the session records which voice it used and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rustpunt.audio import prepare_clip
from rustpunt.cache import ClipCache, clip_key
from rustpunt.engines import Engine, create_engine
from rustpunt.errors import RustpuntError, VoiceUnavailable
from rustpunt.voices import VoiceProfile, VoiceRegistry

log = logging.getLogger(__name__)

_engines: dict[tuple[str, str], Engine] = {}
"""Engines built in this process, by profile name and fingerprint: espeak initialises only once."""

_unreachable: dict[str, str] = {}
"""Voices found unreachable in this process, with the reason: a batch asks a dead voice only once."""

_checked: dict[str, bool] = {}
"""Whether a voice could speak when reachable_now() asked, once per process."""


@dataclass(frozen=True)
class SpokenSession:
    profile: VoiceProfile
    """The voice that actually spoke every clip."""
    identity: Mapping[str, Any]
    clips: Mapping[str, np.ndarray]
    """Each distinct text's finished clip."""
    synthesized: int
    """How many texts went to the engine; the others came from the cache."""
    fallback_reason: str | None = None
    """Why the requested voice did not speak, when a fallback did."""


def engine_for(profile: VoiceProfile) -> Engine:
    key = (profile.name, profile.fingerprint())
    if key not in _engines:
        _engines[key] = create_engine(profile.engine, profile.settings)
    return _engines[key]


def reachable_now(profile: VoiceProfile) -> bool:
    """Whether a voice can speak right now: asked once per process, and never again for a voice
    this process already found unreachable (a session that fell back is rebuilt only if it can)."""
    if profile.name not in _checked:
        try:
            _checked[profile.name] = (
                profile.name not in _unreachable and engine_for(profile).check() is None
            )
        except RustpuntError:
            _checked[profile.name] = False
    return _checked[profile.name]


def speak(
    texts: Sequence[str],
    registry: VoiceRegistry,
    voice: str,
    cache: ClipCache,
    *,
    strict: bool = False,
    on_clip: Callable[[int, int], None] | None = None,
) -> SpokenSession:
    """Speak every text with `voice`, or with the first fallback that can speak them all.

    `on_clip(done, total)` is told after each text the engine speaks (cached ones take no time).
    """
    reasons: list[str] = []
    for profile in registry.chain(voice):
        try:
            session = _speak_with(profile, texts, cache, on_clip)
        except VoiceUnavailable as error:
            _unreachable[profile.name] = str(error)
            if strict:
                raise VoiceUnavailable(
                    f"voice {profile.name} cannot speak: {error} (--strict forbids a fallback)"
                ) from None
            reasons.append(f"{profile.name}: {error}")
            log.info("voice %s cannot speak (%s)", profile.name, error)
            continue
        if reasons:
            return SpokenSession(
                session.profile,
                session.identity,
                session.clips,
                session.synthesized,
                "; ".join(reasons),
            )
        return session
    raise VoiceUnavailable("no voice could speak this session: " + "; ".join(reasons))


def _speak_with(
    profile: VoiceProfile,
    texts: Sequence[str],
    cache: ClipCache,
    on_clip: Callable[[int, int], None] | None,
) -> SpokenSession:
    engine = engine_for(profile)
    identity = engine.identity()
    clips: dict[str, np.ndarray] = {}
    missing: list[tuple[str, str]] = []
    for text in dict.fromkeys(texts):
        key = clip_key(identity, profile.tempo, text)
        cached = cache.get(key)
        if cached is None:
            missing.append((text, key))
        else:
            clips[text] = cached
    if missing and profile.name in _unreachable:
        raise VoiceUnavailable(_unreachable[profile.name])
    for done, (text, key) in enumerate(missing, start=1):
        clip = prepare_clip(engine.synthesize(text), profile.tempo)
        cache.put(key, clip, text, engine.name)
        clips[text] = clip
        if on_clip:
            on_clip(done, len(missing))
    return SpokenSession(profile, identity, clips, len(missing))
