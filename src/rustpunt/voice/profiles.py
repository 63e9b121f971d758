"""Voice profiles: which engine speaks, with which settings, at which tempo, and what to fall back to.

The built-in profiles live in the repository's voices/ folder and ship inside the package; a voices/
folder beside the scripts, or --voices-dir, adds profiles or overrides built-in ones by name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rustpunt.errors import ProfileError, ScriptError, VoiceError
from rustpunt.inputs import Inputs, inputs_or_new
from rustpunt.voice.engines import create_engine

if TYPE_CHECKING:
    from rustpunt.script.load import Script

DEFAULT_VOICE = "nl-google"
PROFILE_KEYS = (
    "description",
    "engine",
    "settings",
    "tempo",
    "fallback",
    "lexicon",
    "sentence_pause",
    "clause_pause",
)
MIN_TEMPO, MAX_TEMPO = 0.5, 2.0

DEFAULT_SENTENCE_PAUSE_MS = 800
"""Silence between two sentences of a step. Engines leave about half a second at a full stop,
which runs "Dwaal je af, dan is dat goed. Begin gewoon opnieuw." together as one breath; guided
relaxation is read with a slow breath between sentences, and 0.8 s is one calm out-breath's pause
without sounding like the voice lost its place (longer silences belong to the step's pause)."""

DEFAULT_CLAUSE_PAUSE_MS = 0
"""Silence after a comma, semicolon or colon; 0 leaves the phrasing to the engine (a natural voice
phrases its commas itself, and speaking clauses apart costs intonation)."""

MAX_SPEECH_PAUSE_MS = 5000
"""A sentence or clause pause over 5 s is no longer a pause between words: use the script's
pauses (`pause:`, or an inline `(pauze 8 s)`) for that."""


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
    """Pronunciations for this voice only (word: how to say it); see rustpunt.voice.lexicon."""
    sentence_pause_ms: int = DEFAULT_SENTENCE_PAUSE_MS
    """Silence between the sentences of a spoken part."""
    clause_pause_ms: int = DEFAULT_CLAUSE_PAUSE_MS
    """Silence after a comma, semicolon or colon; 0: the engine phrases clauses itself."""

    def fingerprint(self) -> str:
        """A digest of everything in the profile that changes the sound, for incremental builds."""
        document: dict[str, Any] = {
            "engine": self.engine,
            "settings": dict(self.settings),
            "tempo": self.tempo,
            "sentence_pause_ms": self.sentence_pause_ms,
            "clause_pause_ms": self.clause_pause_ms,
        }
        if self.lexicon:  # only when set, so the fingerprints of existing profiles stay the same
            document["lexicon"] = dict(self.lexicon)
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def builtin_voices_dir() -> Path:
    """The profiles shipped in the package; from a source checkout, the repository's voices/."""
    shipped = Path(str(resources.files("rustpunt"))) / "voices"
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parents[3] / "voices"


def _key_lines(text: str) -> dict[str, int]:
    """The line of each top-level key and of each key under `settings:` (as `settings.KEY`)."""
    import yaml  # here, not at the top: a no-op rebuild reads no profile

    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            lines[key] = key_node.start_mark.line + 1
            if key == "settings" and isinstance(value_node, yaml.MappingNode):
                for sub_key, _ in value_node.value:
                    lines[f"settings.{sub_key.value}"] = sub_key.start_mark.line + 1
    return lines


def load_profile(path: Path, *, check_engine: bool = True) -> VoiceProfile:
    """Read and validate one profile, its engine settings included, so `rustpunt check` finds
    every problem a build would meet; raises ProfileError at the file and line.

    `check_engine=False` skips building the engine to check its settings: for the profiles
    shipped with rustpunt (tested), so that every command need not import every engine (gTTS
    and requests alone take 50 ms); the engine is still built, and checked, when a build uses
    the profile."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        raise ProfileError(
            path, line, f"voice profile is not valid YAML: {error.problem}"
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ProfileError(
            path, None, f"cannot read voice profile: {' '.join(str(error).split())}"
        ) from None

    def problem(key: str, message: str) -> ProfileError:
        return ProfileError(path, _key_lines(text).get(key, 1), message)  # lines only for errors

    if not isinstance(document, dict):
        raise ProfileError(path, 1, "a voice profile is a mapping with at least `engine:`")
    unknown = sorted(str(key) for key in set(document) - set(PROFILE_KEYS))
    if unknown:
        raise problem(
            unknown[0], f"unknown key `{unknown[0]}`; known keys: {', '.join(PROFILE_KEYS)}"
        )
    engine = document.get("engine")
    settings = document.get("settings") or {}
    tempo = document.get("tempo", 1.0)
    fallback = document.get("fallback")
    if not isinstance(engine, str) or not engine:
        raise problem("engine", "`engine:` must name a speech engine, such as gtts or espeak")
    if not isinstance(settings, dict):
        raise problem("settings", "`settings:` must be a mapping of engine settings")
    if (
        isinstance(tempo, bool)
        or not isinstance(tempo, (int, float))
        or not MIN_TEMPO <= tempo <= MAX_TEMPO
    ):
        raise problem("tempo", f"`tempo:` must be a number from {MIN_TEMPO} to {MAX_TEMPO}")
    if fallback is not None and not isinstance(fallback, str):
        raise problem("fallback", "`fallback:` must name another voice profile")
    lexicon = document.get("lexicon") or {}
    if not isinstance(lexicon, dict):
        raise problem("lexicon", "`lexicon:` must be a mapping of words to how to say them")
    pauses = {
        key: _speech_pause(document.get(key), key, problem)
        for key in ("sentence_pause", "clause_pause")
    }
    model = settings.get("model")
    if isinstance(model, str) and model and not Path(model).expanduser().is_absolute():
        # a model path in a profile is relative to the profile's own folder, not to where
        # rustpunt runs
        settings = {**settings, "model": str(path.parent / model)}
    try:
        if check_engine:  # the engine checks its settings (espeak: that it has the voice)
            checked = create_engine(engine, settings)
            check_settings = getattr(checked, "check_settings", None)
            if check_settings is not None:
                check_settings()  # nothing is spoken
    except VoiceError as error:  # at the line of the key it names, else of settings or engine
        where = error.key if error.key in _key_lines(text) else "settings" if settings else "engine"
        raise problem(where, str(error)) from None
    return VoiceProfile(
        name=path.stem,
        engine=engine,
        settings=settings,
        tempo=float(tempo),
        fallback=fallback,
        description=str(document.get("description") or ""),
        path=path,
        lexicon=lexicon,
        sentence_pause_ms=pauses["sentence_pause"]
        if pauses["sentence_pause"] is not None
        else DEFAULT_SENTENCE_PAUSE_MS,
        clause_pause_ms=pauses["clause_pause"]
        if pauses["clause_pause"] is not None
        else DEFAULT_CLAUSE_PAUSE_MS,
    )


def _speech_pause(value: Any, key: str, problem: Callable[[str, str], ProfileError]) -> int | None:
    """A sentence or clause pause in seconds (0.8) to whole milliseconds; None when not set."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value * 1000 <= MAX_SPEECH_PAUSE_MS
    ):
        raise problem(
            key,
            f"`{key}:` must be seconds from 0 to {MAX_SPEECH_PAUSE_MS // 1000} (such as 0.8),"
            f" not {value!r}",
        )
    return round(value * 1000)


def check_profile_file(path: Path, extra_dirs: Iterable[Path] = ()) -> VoiceProfile:
    """A profile file named on its own (a pre-commit hook passes it): valid, and its fallbacks
    known among the profiles of its folder, as a build that asks for it would find them."""
    profile = load_profile(path)
    try:
        VoiceRegistry((*extra_dirs, path.parent)).chain(profile.name)
    except ProfileError:
        raise  # a fallback's own file is broken: that file's line says what to fix
    except VoiceError as error:
        line = _key_lines(path.read_text(encoding="utf-8")).get("fallback", 1)
        raise ProfileError(path, line, f"`fallback:` {error}") from None
    return profile


def profile_files(folder: Path) -> list[Path]:
    """The voice profiles in a folder, in the order a registry reads them (none if it is absent)."""
    folder = Path(folder)
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


class VoiceRegistry:
    """All profiles known for a build: built-in ones, overridden by those in the extra folders."""

    def __init__(self, extra_dirs: Iterable[Path] = ()) -> None:
        self.profiles: dict[str, VoiceProfile] = {}
        self.broken: dict[str, ProfileError] = {}
        """Profiles that cannot be used, by name: only the scripts that ask for one fail."""
        builtin = builtin_voices_dir()
        for folder in (builtin, *extra_dirs):
            for path in profile_files(folder):
                self.profiles.pop(path.stem, None)
                self.broken.pop(path.stem, None)
                try:
                    self.profiles[path.stem] = load_profile(path, check_engine=folder != builtin)
                except ProfileError as error:
                    self.broken[path.stem] = error

    def names(self) -> list[str]:
        return sorted(self.profiles)

    def get(self, name: str) -> VoiceProfile:
        if name in self.broken:
            raise self.broken[name]
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


def voices_for(
    script_path: Path, voices_dirs: tuple[Path, ...] = (), inputs: Inputs | None = None
) -> VoiceRegistry:
    """Built-in profiles, then a voices/ folder beside the script, then --voices-dir.

    Read once per folder set while the folders and their profiles keep their stamps (`inputs`
    remembers them): hundreds of scripts share a handful, and a profile edited while the watch
    runs is read again."""
    inputs = inputs_or_new(inputs)
    beside = script_path.parent / "voices"
    extra = ([beside] if inputs.is_dir(beside) else []) + list(voices_dirs)
    read = [
        path
        for folder in (builtin_voices_dir(), *extra)
        for path in (Path(folder), *profile_files(folder))  # a folder's stamp: a profile added
    ]
    return inputs.loaded(("voices", tuple(extra)), read, lambda: VoiceRegistry(extra))


def chosen_voice(script: Script, registry: VoiceRegistry, override: str | None) -> str:
    """--voice wins over the script's `voice:`, which wins over the default; unknown names fail."""
    if override:
        registry.get(override)
        return override
    if script.voice:
        return known_voice(registry, script.voice, script.path, script.voice_line)
    return DEFAULT_VOICE


def known_voice(registry: VoiceRegistry, name: str, path: Path, line: int | None) -> str:
    """`name`, when the registry has it; else a ScriptError at the `voice:` that asks for it (a
    broken profile's own error names the profile's file and line: that is where the fix goes)."""
    try:
        registry.get(name)
    except ProfileError:
        raise
    except VoiceError as error:
        raise ScriptError(path, line, str(error)) from None
    return name
