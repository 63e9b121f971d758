"""The "piper" engine: natural offline voices from Piper (the piper-tts package, onnxruntime).

piper-tts is GPL-3.0, so rustpunt (MIT) never depends on it: it is the optional extra
`rustpunt[piper]`, imported only here and only when a Piper voice speaks. Without it, or without
the voice's model on disk, the engine raises VoiceUnavailable and the session falls back to the
profile's `fallback` voice, as with Google; `--strict` makes that an error.

A profile names a voice by id (`voice: nl_BE-nathalie-medium`, found in the models folders, see
rustpunt.voice.models) or by path (`model: path/to/voice.onnx`, with voice.onnx.json beside it).
The clip cache key holds the SHA-256 of both files, so a new or retrained model never reuses
clips of the old one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rustpunt.errors import SynthesisError, VoiceError, VoiceUnavailable
from rustpunt.inputs import Inputs, inputs_or_new
from rustpunt.voice.engines.base import EngineAudio
from rustpunt.voice.models import VOICE_ID, find_model, install_command, model_files, models_dirs

log = logging.getLogger(__name__)

INSTALL_EXTRA = "pip install 'rustpunt[piper]'"
SENTENCE_GAP_MS = 350
"""Silence between the sentences Piper speaks one by one within one text; Piper adds none."""
_SCALE_LIMITS: dict[str, tuple[float, float, str]] = {
    "length_scale": (0.5, 2.0, "pace: above 1 is slower, e.g. 1.15 for a calm guide"),
    "noise_scale": (0.0, 2.0, "variation in the voice; the model's own default is usually 0.667"),
    "noise_w_scale": (0.0, 2.0, "variation in the rhythm; the model's own default is usually 0.8"),
}

RANDOM_SEED = 1
"""onnxruntime's seed for the noise a voice draws (VITS models scale it by noise_scale and
noise_w_scale), set before each synthesis's own session: see PiperEngine._fresh."""
_seed_lock = threading.Lock()
"""onnxruntime.set_seed is global to the process: seeding and making a session go together."""


class PiperEngine:
    """A Piper voice: raw 16-bit mono PCM at the model's own rate (22,050 Hz for medium voices)."""

    name = "piper"
    reads_files = True
    """create_engine hands it the build's Inputs: the model files are hashed (and noted) there."""

    def __init__(
        self,
        voice: str | None = None,
        model: str | None = None,
        speaker: int | str | None = None,
        length_scale: float | None = None,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
        inputs: Inputs | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            names = ", ".join(repr(name) for name in sorted(unknown))
            known = "voice, model, speaker, length_scale, noise_scale, noise_w_scale"
            raise VoiceError(
                f"unknown piper setting {names}; known settings: {known}",
                key=f"settings.{min(unknown)}",
            )
        if (voice is None) == (model is None):
            raise VoiceError(
                "a piper voice needs exactly one of `voice:` (an id such as nl_BE-nathalie-medium) "
                "or `model:` (the path of a .onnx file)"
            )
        if voice is not None and (not isinstance(voice, str) or not VOICE_ID.fullmatch(voice)):
            raise VoiceError(
                f"piper setting 'voice' must be a Piper voice id such as nl_BE-nathalie-medium, "
                f"not {voice!r}",
                key="settings.voice",
            )
        if model is not None and (not isinstance(model, str) or not model.endswith(".onnx")):
            raise VoiceError(
                f"piper setting 'model' must be the path of a .onnx file, not {model!r}",
                key="settings.model",
            )
        if speaker is not None and (
            isinstance(speaker, bool) or not isinstance(speaker, (int, str)) or speaker == ""
        ):
            raise VoiceError(
                f"piper setting 'speaker' must be a speaker number or name, not {speaker!r}",
                key="settings.speaker",
            )
        scales = {
            "length_scale": length_scale,
            "noise_scale": noise_scale,
            "noise_w_scale": noise_w_scale,
        }
        for key, value in scales.items():
            low, high, meaning = _SCALE_LIMITS[key]
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not low <= value <= high
            ):
                raise VoiceError(
                    f"piper setting {key!r} must be a number from {low:g} to {high:g} ({meaning}), "
                    f"not {value!r}",
                    key=f"settings.{key}",
                )
        self.voice_id = voice
        self.model_setting = model
        self.speaker = speaker
        self.length_scale = None if length_scale is None else float(length_scale)
        self.noise_scale = None if noise_scale is None else float(noise_scale)
        self.noise_w_scale = None if noise_w_scale is None else float(noise_w_scale)
        self._loaded: Any = None
        self._loaded_from: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self._inputs = inputs_or_new(inputs)

    def __repr__(self) -> str:
        where = f"voice={self.voice_id!r}" if self.voice_id else f"model={self.model_setting!r}"
        return f"PiperEngine({where}, length_scale={self.length_scale!r})"

    # -- where the model is ---------------------------------------------------------------------

    def files(self) -> tuple[Path, Path]:
        """The model and its config; VoiceUnavailable, saying how to get them, when missing."""
        if self.voice_id is not None:
            for folder in models_dirs():  # where it is, and where one installed later would win
                candidates = model_files(folder, self.voice_id)
                self._inputs.note(candidates.model)
                self._inputs.note(candidates.config)
            found = find_model(self.voice_id)
            if found is None:
                folders = ", ".join(str(folder) for folder in models_dirs())
                raise VoiceUnavailable(
                    f"Piper voice {self.voice_id} is not installed (looked in {folders}); "
                    f"install it with `{install_command(self.voice_id)}`"
                )
            return found.model, found.config
        model = Path(str(self.model_setting)).expanduser()
        config = model.with_name(model.name + ".json")
        for path in (model, config):
            if not self._inputs.is_file(path):
                raise VoiceUnavailable(
                    f"{path}: Piper model file not found; put the voice's .onnx and .onnx.json "
                    "there, or name an installed voice with `voice:`"
                )
        return model, config

    def _piper(self) -> Any:
        try:
            import piper
        except ImportError:
            raise VoiceUnavailable(
                f"Piper voices need the optional piper-tts package: `{INSTALL_EXTRA}`"
            ) from None
        return piper

    def _reinstall_hint(self) -> str:
        if self.voice_id:
            return f"reinstall it with `{install_command(self.voice_id)}`"
        return "replace it with a complete copy of the voice"

    def _load(self) -> Any:
        """The PiperVoice for the current model files, loaded once per engine."""
        model, config = self.files()
        piper = self._piper()
        source = (str(model), self._inputs.digest(model))
        with self._lock:
            if self._loaded is None or self._loaded_from != source:
                try:
                    self._loaded = piper.PiperVoice.load(model, config_path=config)
                except Exception as error:  # onnxruntime, json and KeyError from a bad config alike
                    detail = " ".join(str(error).split())[:160] or type(error).__name__
                    raise VoiceUnavailable(
                        f"{model}: cannot load the Piper voice ({detail}); {self._reinstall_hint()}"
                    ) from None
                self._loaded_from = source
            return self._loaded

    # -- the engine contract --------------------------------------------------------------------

    def identity(self) -> Mapping[str, Any]:
        """Engine, piper-tts and onnxruntime versions, both files' SHA-256 and every setting."""
        model, config = self.files()
        self._piper()
        from importlib.metadata import PackageNotFoundError, version

        versions = {}
        for package in ("piper-tts", "onnxruntime"):
            try:
                versions[package] = version(package)
            except PackageNotFoundError:
                versions[package] = "unknown"
        return {
            "engine": self.name,
            "version": versions["piper-tts"],
            "onnxruntime": versions["onnxruntime"],
            "model_sha256": self._inputs.digest(model),
            "config_sha256": self._inputs.digest(config),
            "speaker": self.speaker,
            "length_scale": self.length_scale,
            "noise_scale": self.noise_scale,
            "noise_w_scale": self.noise_w_scale,
            "sentence_gap_ms": SENTENCE_GAP_MS,
            "normalize_audio": False,
            "seed": RANDOM_SEED,  # clips cached before it was fixed are spoken again once
        }

    def check(self) -> str | None:
        try:
            voice = self._load()
            self._speaker_id(voice)
        except SynthesisError as error:
            return str(error)
        except VoiceError as error:
            return str(error)
        return None

    def synthesize(self, text: str) -> EngineAudio:
        if not isinstance(text, str) or not text.strip():
            raise SynthesisError(f"nothing to speak in {text!r}")
        voice = self._fresh(self._load())
        piper = self._piper()
        config = piper.SynthesisConfig(
            speaker_id=self._speaker_id(voice),
            length_scale=self.length_scale,
            noise_scale=self.noise_scale,
            noise_w_scale=self.noise_w_scale,
            # Piper scales every sentence to full range by default: sentence by sentence that
            # makes the level jump. The model's own level is kept; the session is normalised once.
            normalize_audio=False,
        )
        import numpy as np

        pieces: list[np.ndarray] = []
        rate = int(voice.config.sample_rate)
        gap = np.zeros(rate * SENTENCE_GAP_MS // 1000, dtype="<i2")
        try:
            for chunk in voice.synthesize(text, syn_config=config):
                if pieces:
                    pieces.append(gap)
                pieces.append(chunk.audio_int16_array.astype("<i2", copy=False))
        except Exception as error:  # onnxruntime or the phonemizer: one line, never a traceback
            detail = " ".join(str(error).split())[:160] or type(error).__name__
            raise SynthesisError(f"Piper could not speak {_preview(text)}: {detail}") from None
        if not pieces or not any(piece.size for piece in pieces):
            raise SynthesisError(
                f"nothing to speak in {_preview(text)} (only punctuation or spaces)"
            )
        return EngineAudio(data=np.concatenate(pieces).tobytes(), codec="s16le", sample_rate=rate)

    def _fresh(self, voice: Any) -> Any:
        """The voice with a session of its own, made just now with a fixed seed.

        A Piper (VITS) model draws noise with onnxruntime's RandomNormalLike, whose generator is
        seeded once per session, from the clock unless onnxruntime.set_seed says otherwise, and
        advances with every run: the same text came out different from call to call and from
        process to process. A session per synthesis, made after seeding, makes a clip a pure
        function of its text and settings (tiny test model: 10-30 ms a session; a 60 MB voice
        takes longer, in proportion to its size).
        """
        import dataclasses

        import onnxruntime

        model, _ = self.files()
        try:
            with _seed_lock:
                onnxruntime.set_seed(RANDOM_SEED)
                session = onnxruntime.InferenceSession(
                    str(model),
                    sess_options=onnxruntime.SessionOptions(),
                    providers=voice.session.get_providers(),
                )
        except Exception as error:  # onnxruntime's own errors: one line, never a traceback
            detail = " ".join(str(error).split())[:160] or type(error).__name__
            raise VoiceUnavailable(
                f"{model}: cannot load the Piper voice ({detail}); {self._reinstall_hint()}"
            ) from None
        return dataclasses.replace(voice, session=session)

    def _speaker_id(self, voice: Any) -> int | None:
        """The speaker number for a multi-speaker model; a name is looked up in its config."""
        speakers = dict(voice.config.speaker_id_map or {})
        count = int(voice.config.num_speakers)
        if self.speaker is None:
            return None
        if count <= 1:
            raise VoiceError(
                "piper setting 'speaker' is set but this model has only one speaker",
                key="settings.speaker",
            )
        if isinstance(self.speaker, str):
            if self.speaker not in speakers:
                names = ", ".join(sorted(speakers)[:10]) or "none"
                raise VoiceError(
                    f"the Piper model has no speaker {self.speaker!r}; speakers: {names}",
                    key="settings.speaker",
                )
            return int(speakers[self.speaker])
        if not 0 <= self.speaker < count:
            raise VoiceError(
                f"piper setting 'speaker' must be from 0 to {count - 1}, not {self.speaker}",
                key="settings.speaker",
            )
        return self.speaker


def _preview(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


__all__ = ["PiperEngine"]
