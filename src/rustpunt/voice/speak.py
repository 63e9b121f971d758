"""Speak a session's texts with one voice, through the clip cache, falling back as a whole.

One session is never spoken by two voices: when the chosen voice cannot be reached, every text is
spoken again by its fallback, and the session records which voice it used and why.

What one build learns about its voices (the engines it built, which voices could not be reached)
lives in one `Voices` object that the build creates and passes down: nothing is kept in module
globals, so two builds in one process never see each other's state.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rustpunt.audio.loudness import block_energies
from rustpunt.audio.mix import LazyClips
from rustpunt.audio.pcm import prepare_clip
from rustpunt.errors import ProfileError, RustpuntError, VoiceError, VoiceUnavailable
from rustpunt.script.sentences import phrases
from rustpunt.voice.clipcache import CacheError, ClipCache, clip_keys
from rustpunt.voice.engines import Engine, create_engine
from rustpunt.voice.joining import PhraseSpan, join_phrases, lay_out_phrases
from rustpunt.voice.lexicon import Lexicon
from rustpunt.voice.profiles import VoiceProfile, VoiceRegistry

log = logging.getLogger(__name__)

ProfileKey = tuple[str, str]
"""A profile's name and fingerprint: two folders may define one name with other settings."""


@dataclass(frozen=True)
class SpokenSession:
    profile: VoiceProfile
    """The voice that actually spoke every clip."""
    identity: Mapping[str, Any]
    clips: Mapping[str, np.ndarray]
    """Each distinct text's finished clip: its sentences joined with the profile's pauses (a
    LazyClips: joined from the cache when asked for, with lengths and loudness known)."""
    synthesized: int
    """How many sentences (or clauses) went to the engine; the others came from the cache."""
    fallback_reason: str | None = None
    """Why the requested voice did not speak, when a fallback did."""
    layouts: Mapping[str, tuple[PhraseSpan, ...]] = field(default_factory=dict)
    """Where each sentence (or clause) of each text lies in the text's clip."""
    keys: Mapping[str, str] = field(default_factory=dict)
    """Each text's content address: its phrases' cache keys and the silences between them."""
    respoken: list[str] = field(default_factory=list)
    """Phrases whose cache entry was damaged (or gone) when the mix read it, spoken again then:
    filled while the session is encoded, so the build can say so."""


def engine_label(identity: Mapping[str, Any], profile: VoiceProfile) -> str:
    """The engine and its version as the MP3's `TXXX:engine` tag says them, e.g. "espeak 1.52"."""
    return f"{identity.get('engine', profile.engine)} {identity.get('version', '')}".strip()


def _key(profile: VoiceProfile) -> ProfileKey:
    return (profile.name, profile.fingerprint())


@dataclass
class Voices:
    """The voices of one build in one process: each engine is built once (espeak initialises
    once), and a voice found unreachable is not asked again for every script."""

    cache: ClipCache
    request_slots: AbstractContextManager[Any] | None = None
    """Shared by a parallel build's processes: at most that many requests to a remote voice."""
    engines: dict[ProfileKey, Engine] = field(default_factory=dict)
    unreachable: dict[ProfileKey, str] = field(default_factory=dict)
    """Voices that could not speak, with the reason."""
    checked: dict[ProfileKey, bool] = field(default_factory=dict)
    """Whether a voice could speak when reachable_now() asked."""
    lexicons: dict[tuple[ProfileKey, tuple[Path, ...]], Lexicon] = field(default_factory=dict)
    """Each voice's lexicon for a set of script folders, read once per build."""
    before_synthesis: Callable[[], None] | None = None
    """Run once before the first sentence goes to an engine (a build checks its encoder there:
    a broken ffmpeg found after an hour of speech wastes the hour, while a build that speaks
    nothing, such as a pause-only edit, need not start ffmpeg at all). Until it succeeds it is
    run again before the next synthesis."""

    def lexicon_for(self, profile: VoiceProfile, folders: Sequence[Path] = ()) -> Lexicon:
        """The built-in lexicon, the folders' lexicon.yaml and the profile's `lexicon:`."""
        key = (_key(profile), tuple(folders))
        if key not in self.lexicons:
            self.lexicons[key] = Lexicon.load(folders, profile=profile)
        return self.lexicons[key]

    def engine_for(self, profile: VoiceProfile) -> Engine:
        key = _key(profile)
        if key not in self.engines:
            try:
                engine = create_engine(
                    profile.engine, profile.settings, request_slots=self.request_slots
                )
            except VoiceError as error:  # the profile was checked when read; say where it lives
                if profile.path is None:
                    raise
                raise ProfileError(profile.path, None, str(error)) from None
            self.engines[key] = engine
        return self.engines[key]

    def reachable_now(self, profile: VoiceProfile) -> bool:
        """Whether a voice can speak right now: asked once per build, and never again for a
        voice this build already found unreachable."""
        key = _key(profile)
        if key not in self.checked:
            try:
                self.checked[key] = (
                    key not in self.unreachable and self.engine_for(profile).check() is None
                )
            except RustpuntError:
                self.checked[key] = False
        return self.checked[key]

    def speak(
        self,
        texts: Sequence[str],
        registry: VoiceRegistry,
        voice: str,
        *,
        strict: bool = False,
        on_clip: Callable[[int, int], None] | None = None,
        lexicon_folders: Sequence[Path] = (),
    ) -> SpokenSession:
        """Speak every text with `voice`, or with the first fallback that can speak them all.

        Each text is spoken sentence by sentence, through the lexicon (of `lexicon_folders` and
        the profile), and joined with the profile's pauses and the text's inline pauses.
        `on_clip(done, total)` is told after each sentence the engine speaks (cached ones take
        no time).
        """
        reasons: list[str] = []
        for profile in registry.chain(voice):
            try:
                session = self._speak_with(profile, texts, on_clip, lexicon_folders)
            except VoiceUnavailable as error:
                self.unreachable[_key(profile)] = str(error)
                if strict:
                    raise VoiceUnavailable(
                        f"voice {profile.name} cannot speak: {error} (--strict forbids a fallback)"
                    ) from None
                reasons.append(f"{profile.name}: {error}")
                log.info("voice %s cannot speak (%s)", profile.name, error)
                continue
            if reasons:
                return SpokenSession(
                    profile=session.profile,
                    identity=session.identity,
                    clips=session.clips,
                    synthesized=session.synthesized,
                    fallback_reason="; ".join(reasons),
                    layouts=session.layouts,
                    keys=session.keys,
                    respoken=session.respoken,
                )
            return session
        raise VoiceUnavailable("no voice could speak this session: " + "; ".join(reasons))

    def _speak_with(
        self,
        profile: VoiceProfile,
        texts: Sequence[str],
        on_clip: Callable[[int, int], None] | None,
        lexicon_folders: Sequence[Path] = (),
    ) -> SpokenSession:
        engine = self.engine_for(profile)
        identity = engine.identity()
        lexicon = self.lexicon_for(profile, lexicon_folders)
        split_clauses = profile.clause_pause_ms > 0
        pieces = {text: phrases(text, split_clauses=split_clauses) for text in dict.fromkeys(texts)}
        forms = {text: [lexicon.spoken(p.text) for p in found] for text, found in pieces.items()}
        phrase_keys = clip_keys(
            identity, profile.tempo, dict.fromkeys(f for found in forms.values() for f in found)
        )
        headers = {form: self.cache.header(key) for form, key in phrase_keys.items()}
        missing = sum(header is None for header in headers.values())
        if missing and _key(profile) in self.unreachable:
            raise VoiceUnavailable(self.unreachable[_key(profile)])
        synthesized = 0

        def measure(form: str) -> tuple[int, np.ndarray]:
            """From the clip's cache header; else from its samples, spoken now if need be."""
            nonlocal synthesized
            key, header = phrase_keys[form], headers[form]
            if header is not None and isinstance(header.get(LOUDNESS_FIELD), list):
                return int(header["samples"]), np.asarray(header[LOUDNESS_FIELD], dtype=np.float64)
            clip = self.cache.get(key)
            if clip is not None:  # an entry from before loudness was kept in its header
                blocks = block_energies(clip)
                self.cache.annotate(key, clip, **{LOUDNESS_FIELD: blocks.tolist()})
                return clip.size, blocks
            if self.before_synthesis is not None:
                self.before_synthesis()
                self.before_synthesis = None
            clip = prepare_clip(engine.synthesize(form), profile.tempo)
            blocks = block_energies(clip)
            if not self.cache.put(
                key, clip, form, engine.name, **{LOUDNESS_FIELD: blocks.tolist()}
            ):
                clip = self.cache.get(key)  # a parallel worker spoke it first: use that one
                if clip is None:
                    raise _cache_changed(self.cache)
                blocks = block_energies(clip)
            synthesized += 1
            if on_clip:
                on_clip(synthesized, max(missing, synthesized))
            return clip.size, blocks

        measured = {form: measure(form) for form in phrase_keys}  # each clip's length, loudness
        lengths: dict[str, int] = {}
        energies: dict[str, np.ndarray] = {}
        layouts: dict[str, tuple[PhraseSpan, ...]] = {}
        keys: dict[str, str] = {}
        phrase_lengths = {form: length for form, (length, _) in measured.items()}
        for text, found in pieces.items():
            lengths[text], layouts[text] = lay_out_phrases(
                found, forms[text], phrase_lengths, profile
            )
            energies[text] = np.concatenate([measured[form][1] for form in forms[text]])
            keys[text] = joined_key(
                [phrase_keys[form] for form in forms[text]], layouts[text], lengths[text]
            )

        respoken: list[str] = []

        def load(text: str) -> np.ndarray:
            """A text's clip, joined again from the cache when the mix needs it. A phrase whose
            entry is damaged now (get() checks its samples and discards it) is spoken again and
            used: only the header was read before, so a no-op or pause-only build reads no
            samples, and a build that does read them heals the entry instead of failing."""
            made = {}
            for form in dict.fromkeys(forms[text]):
                clip = self.cache.get(phrase_keys[form])
                if clip is None:
                    clip = self._respeak(engine, profile, phrase_keys[form], form)
                    respoken.append(form)
                    if clip.size != phrase_lengths[form]:
                        raise CacheError(
                            f"{self.cache.root}: a clip of this build was damaged in the clip "
                            f"cache and spoken again, but came out {clip.size} samples long "
                            f"instead of {phrase_lengths[form]}; build again (it is kept now)"
                        )
                if clip.size != phrase_lengths[form]:
                    raise _cache_changed(self.cache)
                made[form] = clip
            return join_phrases(pieces[text], forms[text], made, profile)[0]

        clips = LazyClips(lengths=lengths, energies=energies, load=load)
        return SpokenSession(
            profile, identity, clips, synthesized, layouts=layouts, keys=keys, respoken=respoken
        )

    def _respeak(self, engine: Engine, profile: VoiceProfile, key: str, form: str) -> np.ndarray:
        """A phrase whose cache entry was damaged or removed after the build measured it, spoken
        again and kept (the engines give the same samples for the same text, so it fits the
        place the build gave it; _speak_with's load() checks that)."""
        try:
            clip = prepare_clip(engine.synthesize(form), profile.tempo)
        except RustpuntError as error:
            raise CacheError(
                f"{self.cache.root}: a clip of this build was damaged in the clip cache, and "
                f"voice {profile.name} could not speak it again ({error}); build again"
            ) from None
        blocks = block_energies(clip)
        if not self.cache.put(key, clip, form, engine.name, **{LOUDNESS_FIELD: blocks.tolist()}):
            kept = self.cache.get(key)  # a parallel worker spoke it again first: use that one
            if kept is not None:
                return kept
        log.info("clip cache entry %s was damaged or gone: spoken again", key)
        return clip


LOUDNESS_FIELD = "loudness_blocks"
"""A phrase clip's block_energies(), kept in its cache header: a session's loudness is then
known without reading its speech (a pause-only edit reads none)."""


def _cache_changed(cache: ClipCache) -> CacheError:
    return CacheError(
        f"{cache.root}: a clip of this build was damaged or removed from the clip cache while "
        "it was being built (was `rustpunt cache --clear` run?); build again"
    )


def joined_key(phrase_keys: Sequence[str], layout: Sequence[PhraseSpan], length: int) -> str:
    """A text's clip, named by what it is made of: its phrase clips, where each lies, its length."""
    places = " ".join(f"{key}@{span.start}" for key, span in zip(phrase_keys, layout))
    places += f" length {length}"
    return hashlib.sha256(places.encode()).hexdigest()
