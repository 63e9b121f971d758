"""Voice profiles: which engine speaks, with which settings, at which tempo, and what to fall back to.

The built-in profiles live in the repository's voices/ folder and ship inside the package; a voices/
folder beside the scripts, or --voices-dir, adds profiles or overrides built-in ones by name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rustpunt.errors import VoiceError

DEFAULT_VOICE = "nl-google"
PROFILE_KEYS = ("description", "engine", "settings", "tempo", "fallback", "lexicon")
MIN_TEMPO, MAX_TEMPO = 0.5, 2.0


@dataclass(frozen=True)
class VoiceProfile:
    name: str
    engine: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    tempo: float = 1.0
    """Speaking tempo applied after synthesis with the pitch kept (ffmpeg atempo); 1.0 leaves it."""
    fallback: str | None = None
    """The profile that speaks the whole session when this one cannot be reached."""
    description: str = ""
    path: Path | None = None
    lexicon: Mapping[str, Any] = field(default_factory=dict)
    """Pronunciations for this voice only (word: how to say it); see rustpunt.lexicon."""

    def fingerprint(self) -> str:
        """A digest of everything in the profile that changes the sound, for incremental builds."""
        document: dict[str, Any] = {
            "engine": self.engine,
            "settings": dict(self.settings),
            "tempo": self.tempo,
        }
        if self.lexicon:  # only when set, so the fingerprints of existing profiles stay the same
            document["lexicon"] = dict(self.lexicon)
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def builtin_voices_dir() -> Path:
    """The profiles shipped in the package; from a source checkout, the repository's voices/."""
    shipped = Path(str(resources.files("rustpunt"))) / "voices"
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parents[2] / "voices"


def load_profile(path: Path) -> VoiceProfile:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else 0
        raise VoiceError(
            f"{path}:{line}: voice profile is not valid YAML: {error.problem}"
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise VoiceError(
            f"{path}: cannot read voice profile: {' '.join(str(error).split())}"
        ) from None
    if not isinstance(document, dict):
        raise VoiceError(f"{path}: a voice profile is a mapping with at least `engine:`")
    unknown = sorted(set(document) - set(PROFILE_KEYS))
    if unknown:
        raise VoiceError(
            f"{path}: unknown key `{unknown[0]}`; known keys: {', '.join(PROFILE_KEYS)}"
        )
    engine = document.get("engine")
    settings = document.get("settings") or {}
    tempo = document.get("tempo", 1.0)
    fallback = document.get("fallback")
    if not isinstance(engine, str) or not engine:
        raise VoiceError(f"{path}: `engine:` must name a speech engine, such as gtts or espeak")
    if not isinstance(settings, dict):
        raise VoiceError(f"{path}: `settings:` must be a mapping of engine settings")
    if (
        isinstance(tempo, bool)
        or not isinstance(tempo, (int, float))
        or not MIN_TEMPO <= tempo <= MAX_TEMPO
    ):
        raise VoiceError(f"{path}: `tempo:` must be a number from {MIN_TEMPO} to {MAX_TEMPO}")
    if fallback is not None and not isinstance(fallback, str):
        raise VoiceError(f"{path}: `fallback:` must name another voice profile")
    lexicon = document.get("lexicon") or {}
    if not isinstance(lexicon, dict):
        raise VoiceError(f"{path}: `lexicon:` must be a mapping of words to how to say them")
    model = settings.get("model")
    if isinstance(model, str) and model and not Path(model).expanduser().is_absolute():
        # a model path in a profile is relative to the profile's own folder, not to where
        # rustpunt runs
        settings = {**settings, "model": str(path.parent / model)}
    return VoiceProfile(
        name=path.stem,
        engine=engine,
        settings=settings,
        tempo=float(tempo),
        fallback=fallback,
        description=str(document.get("description") or ""),
        path=path,
        lexicon=lexicon,
    )


class VoiceRegistry:
    """All profiles known for a build: built-in ones, overridden by those in the extra folders."""

    def __init__(self, extra_dirs: Iterable[Path] = ()) -> None:
        self.profiles: dict[str, VoiceProfile] = {}
        for folder in (builtin_voices_dir(), *extra_dirs):
            for path in sorted([*Path(folder).glob("*.yaml"), *Path(folder).glob("*.yml")]):
                self.profiles[path.stem] = load_profile(path)

    def names(self) -> list[str]:
        return sorted(self.profiles)

    def get(self, name: str) -> VoiceProfile:
        try:
            return self.profiles[name]
        except KeyError:
            raise VoiceError(
                f"unknown voice {name!r}; known voices: {', '.join(self.names())}"
            ) from None

    def chain(self, name: str) -> list[VoiceProfile]:
        """The profile and its fallbacks in order, each once (a loop in fallbacks stops there)."""
        chain: list[VoiceProfile] = []
        current: str | None = name
        while current is not None and all(p.name != current for p in chain):
            profile = self.get(current)
            chain.append(profile)
            current = profile.fallback
        return chain
