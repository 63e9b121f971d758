"""eSpeak NG through ctypes: the offline voice, from the library and data espeakng-loader ships.

Never a system espeak-ng binary or library: a user's laptop with only Python and our wheel works.

libespeak-ng keeps global state (one voice, one set of parameters, one callback per process), so:
the library is loaded and initialised once, lazily, on first use; every call into it holds `_LOCK`;
and each engine applies its own voice and parameters again before every synthesis, so several
EspeakEngine objects with different settings can share one process. Parallel jobs use processes.
The library is also loaded afresh before each synthesis that follows another (`_fresh`): a clip
must be a pure function of its text and settings, whatever was spoken before it.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rustpunt.errors import RustpuntError, SynthesisError, VoiceError
from rustpunt.voice.engines.base import EngineAudio

# --- the C interface (speak_lib.h of espeak-ng 1.52) ---------------------------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 2
"""espeak_Synth returns only when the whole text is spoken into our callback; no audio device."""
_INITIALIZE_DONT_EXIT = 0x8000
"""Without it, espeak_Initialize calls exit(1) when it cannot read its data, killing rustpunt."""
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
"""espeak_Synth flags: UTF-8 text, and nothing else. espeakSSML (0x10) stays off: a script's
"<" or "&" is text to speak, never markup; espeakPHONEMES stays off too."""

_EE_OK = 0
_EE_MESSAGES = {-1: "internal error", 1: "buffer full", 2: "not found"}

# espeak_PARAMETER
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7

_MAX_DATA_PATH = 229 if os.name == "nt" else 159
"""espeak-ng 1.52 copies its data path into a fixed buffer (N_PATH_HOME: 160 bytes on POSIX, 230
on Windows) and silently truncates a longer one, then fails to find its data. A venv deep in a home
folder can get there; on POSIX we then reach the data through a short symlink (tried here: 159 bytes
work, 160 do not)."""

_SILENT = 33
"""Output whose every sample is within +-33 (-60 dBFS) is no speech at all (e.g. text of only
punctuation, for which espeak returns a few milliseconds of zeros)."""

_CALLBACK_TYPE = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

_LOCK = threading.Lock()
"""Held around every call into the library: it is one global object per process."""

_CHUNKS: list[bytes] = []
"""Samples the callback collects during one espeak_Synth call (always under `_LOCK`)."""


def _collect(wav: Any, numsamples: int, events: Any) -> int:
    if wav and numsamples > 0:
        _CHUNKS.append(ctypes.string_at(wav, numsamples * 2))
    return 0  # 0: go on synthesising


_CALLBACK = _CALLBACK_TYPE(_collect)
"""Module-level on purpose: the library keeps this pointer; it must never be garbage collected."""


HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Signals whose Python handler is held while espeak speaks: Ctrl-C, and SIGTERM, which a build
turns into an interrupt (rustpunt.build.pool)."""


@contextlib.contextmanager
def _interrupt_after() -> Iterator[None]:
    """Hold a Ctrl-C (or SIGTERM) that comes during espeak_Synth until the library returns, then
    run its handler (Python's raises KeyboardInterrupt).

    Python runs signal handlers inside our ctypes callback, where an exception is only printed
    and dropped: the build would go on. Only in the main thread, and only for signals handled
    in Python (a worker process ignores SIGINT and dies of SIGTERM; its parent stops it).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {number: signal.getsignal(number) for number in HELD_SIGNALS}
    held = {number: handler for number, handler in handlers.items() if callable(handler)}
    caught: list[int] = []
    for number in held:
        signal.signal(number, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for number, handler in held.items():
            signal.signal(number, handler)
    if caught:
        handler = held[signal.Signals(caught[0])]
        handler(caught[0], None)


@dataclass
class _Library:
    lib: ctypes.CDLL
    version: str
    data_path: str
    sample_rate: int = 0
    """0 until espeak_Initialize succeeded."""
    spoken: bool = False
    """True once it has synthesised: its static state is no longer that of a fresh library."""


_library: _Library | None = None
"""A module global, as the C library is: loaded and initialised once per process."""
_init_error: str | None = None
"""Why initialisation failed, remembered: the library is initialised once per process, or never."""


def _reset_lock_in_child() -> None:  # a fork while another thread holds the lock must not deadlock
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_in_child)


def _reinstall_hint() -> str:
    return "reinstall it with `pip install --force-reinstall espeakng-loader`"


def _load() -> _Library:
    """The loaded library (not yet initialised); call with `_LOCK` held."""
    global _library
    if _library is not None:
        return _library
    try:
        import espeakng_loader
    except ImportError:
        raise SynthesisError(
            "the espeak engine needs the espeakng-loader package: `pip install espeakng-loader`"
        ) from None
    try:
        library_path = espeakng_loader.get_library_path()
        data_path = espeakng_loader.get_data_path()
    except (RuntimeError, OSError) as error:  # RuntimeError: the loader's data folder is gone
        raise SynthesisError(
            f"espeak-ng is not installed correctly ({error}); {_reinstall_hint()}"
        ) from None
    if not os.path.isfile(library_path):
        raise SynthesisError(f"espeak-ng library missing at {library_path}; {_reinstall_hint()}")
    try:
        lib = ctypes.CDLL(library_path)
    except OSError as error:
        raise SynthesisError(
            f"cannot load espeak-ng from {library_path} ({error}); {_reinstall_hint()}"
        ) from None
    try:
        _declare(lib)
    except AttributeError as error:
        raise SynthesisError(
            f"{library_path} is not a usable espeak-ng library ({error})"
        ) from None
    version = (lib.espeak_Info(None) or b"").decode("ascii", "replace").strip()
    if not version:
        raise SynthesisError(f"{library_path} reports no espeak-ng version; {_reinstall_hint()}")
    _library = _Library(lib=lib, version=version, data_path=data_path)
    return _library


def _declare(lib: ctypes.CDLL) -> None:
    """Argument and result types, so ctypes never guesses (and truncates) on 64-bit machines."""
    c_int, c_uint, c_char_p, c_void_p = (
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_char_p,
        ctypes.c_void_p,
    )
    lib.espeak_Info.argtypes = [ctypes.POINTER(c_char_p)]
    lib.espeak_Info.restype = c_char_p
    lib.espeak_Initialize.argtypes = [c_int, c_int, c_char_p, c_int]
    lib.espeak_Initialize.restype = c_int
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK_TYPE]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [c_char_p]
    lib.espeak_SetVoiceByName.restype = c_int
    lib.espeak_SetParameter.argtypes = [c_int, c_int, c_int]
    lib.espeak_SetParameter.restype = c_int
    lib.espeak_Synth.argtypes = [
        c_void_p,
        ctypes.c_size_t,
        c_uint,
        c_int,
        c_uint,
        c_uint,
        c_void_p,
        c_void_p,
    ]
    lib.espeak_Synth.restype = c_int
    lib.espeak_Synchronize.argtypes = []
    lib.espeak_Synchronize.restype = c_int
    lib.espeak_Terminate.argtypes = []
    lib.espeak_Terminate.restype = c_int
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_ng_SetRandSeed.restype = None


@functools.cache
def _short_data_path(data_path: str) -> str:
    """`data_path`, or a short symlink to it when espeak-ng's path buffer could not hold it.
    Made once per process: the library is initialised again before every synthesis."""
    if len(os.fsencode(data_path)) <= _MAX_DATA_PATH:
        return data_path
    too_long = (
        f"espeak-ng cannot read its data from a path longer than {_MAX_DATA_PATH} bytes "
        f"({data_path}); install rustpunt in a virtual environment with a shorter path"
    )
    if os.name == "nt":
        raise SynthesisError(too_long)
    try:
        # mkdtemp makes a private folder (0700), so nobody else can swap the link
        folder = tempfile.mkdtemp(prefix="rustpunt-espeak-")
        atexit.register(shutil.rmtree, folder, True)
        alias = os.path.join(folder, "data")
        os.symlink(data_path, alias)
    except OSError:
        raise SynthesisError(too_long) from None
    if len(os.fsencode(alias)) > _MAX_DATA_PATH:
        raise SynthesisError(too_long)
    return alias


def _ready() -> _Library:
    """The loaded and initialised library; call with `_LOCK` held."""
    global _init_error
    library = _load()
    if library.sample_rate:
        return library
    if _init_error is not None:
        raise SynthesisError(_init_error)
    if not os.path.isfile(os.path.join(library.data_path, "phontab")):
        _init_error = f"espeak-ng data is incomplete at {library.data_path}; {_reinstall_hint()}"
        raise SynthesisError(_init_error)
    path = _short_data_path(library.data_path)
    rate = library.lib.espeak_Initialize(
        _AUDIO_OUTPUT_SYNCHRONOUS, 0, os.fsencode(path), _INITIALIZE_DONT_EXIT
    )
    if rate <= 0:
        _init_error = f"espeak-ng could not initialise with its data at {path}; {_reinstall_hint()}"
        raise SynthesisError(_init_error)
    library.lib.espeak_SetSynthCallback(_CALLBACK)
    library.sample_rate = rate
    return library


_RANDOM_SEED = 1
"""espeak-ng's own generator (breath noise of voices such as nl+whisper) starts from this seed
before every synthesis. libc's rand(), which the library also imports, was measured to change
nothing for the voices we use (nl and its f/m/klatt/whisper/croak variants): left alone."""


def _fresh() -> _Library:
    """The initialised library in the state a new process has it; call with `_LOCK` held.

    libespeak-ng 1.52 carries state from one synthesis to the next in static variables that no
    call resets (in wavegen.c: the phase of the pitch flutter, the automatic gain control, the
    cycle count), so the same sentence came out a few samples longer or shorter depending on what
    was spoken before it (70,763 / 70,771 / 70,784 samples), and a build depended on its order,
    job count and cache state. Seeding its random generator does not touch that state; unloading
    the library and loading it again resets all of it, in 0.4 ms (espeak_Initialize reads a few
    kB of data; memory stays flat over thousands of reloads). This holds as long as nothing else
    in the process keeps the same library file loaded (the test of a second process checks it).
    """
    global _library
    if _library is not None and _library.spoken:
        library, _library = _library, None
        library.lib.espeak_Terminate()
        _unload(library.lib)
    return _ready()


def _unload(lib: ctypes.CDLL) -> None:
    """dlclose (FreeLibrary on Windows): the next ctypes.CDLL maps the library and its data anew."""
    import _ctypes

    if os.name == "nt":
        _ctypes.FreeLibrary(lib._handle)  # type: ignore[attr-defined]
    else:
        _ctypes.dlclose(lib._handle)  # type: ignore[attr-defined]


# --- the engine ---------------------------------------------------------------------------------

_LIMITS: dict[str, tuple[int, int, str]] = {
    "rate": (80, 450, "words per minute"),
    "pitch": (0, 100, "espeak's default is 50"),
    "range": (0, 100, "pitch variation; espeak's default is 50"),
    "volume": (1, 200, "100 is full volume without distortion"),
    "wordgap": (0, 100, "extra pause between words in units of 10 ms"),
}
_PARAMETERS = {
    "rate": _RATE,
    "volume": _VOLUME,
    "pitch": _PITCH,
    "range": _RANGE,
    "wordgap": _WORDGAP,
}


def _preview(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


class EspeakEngine:
    """Offline Dutch (or any espeak-ng) voice; raw 16-bit mono PCM at espeak's own rate (22050 Hz).

    Defaults are chosen for guided relaxation:
    - rate 150 words per minute: calmer than espeak's 175 but not dragged out; below about 130
      espeak stretches vowels and sounds more mechanical, and the script's pauses give the rest.
    - pitch 45 (espeak's default 50): a little lower, warmer and less bright.
    - range 40 (default 50): steadier intonation, less sing-song; not near 0, which is a monotone.
    - volume 100: espeak's full level without clipping; loudness is normalised on the session.
    - wordgap 0: pauses belong in the script, not between words, where they make speech choppy.
    """

    name = "espeak"

    def __init__(
        self,
        voice: str = "nl",
        rate: int = 150,
        pitch: int = 45,
        range: int = 40,  # shadows the builtin: it is the setting's name in voice profiles
        volume: int = 100,
        wordgap: int = 0,
        **unknown: Any,
    ) -> None:
        if unknown:
            names = ", ".join(repr(name) for name in sorted(unknown))
            known = "pitch, range, rate, voice, volume, wordgap"
            plural = "s" if len(unknown) > 1 else ""
            raise VoiceError(
                f"unknown espeak setting{plural} {names}; known settings: {known}",
                key=f"settings.{min(unknown)}",
            )
        if not isinstance(voice, str) or not voice.strip() or "\x00" in voice:
            raise VoiceError(
                "espeak setting 'voice' must be a voice name such as 'nl' or 'nl+f3', "
                f"not {voice!r}",
                key="settings.voice",
            )
        values = {
            "rate": rate,
            "pitch": pitch,
            "range": range,
            "volume": volume,
            "wordgap": wordgap,
        }
        for key, value in values.items():
            low, high, meaning = _LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise VoiceError(
                    f"espeak setting {key!r} must be a whole number from {low} to {high} "
                    f"({meaning}), not {value!r}",
                    key=f"settings.{key}",
                )
        self.voice = voice.strip()
        self.rate = rate
        self.pitch = pitch
        self.range = range
        self.volume = volume
        self.wordgap = wordgap

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "voice": self.voice,
            "rate": self.rate,
            "pitch": self.pitch,
            "range": self.range,
            "volume": self.volume,
            "wordgap": self.wordgap,
        }

    def __repr__(self) -> str:
        return "EspeakEngine(" + ", ".join(f"{k}={v!r}" for k, v in self.settings.items()) + ")"

    def identity(self) -> Mapping[str, Any]:
        """Engine, espeak-ng version, data package version and every setting: the cache key.
        "state": "fresh" marks clips spoken by a freshly loaded library (`_fresh`): clips cached
        before, which depended on what was spoken before them, are spoken again once."""
        with _LOCK:
            version = _load().version
        return {
            "engine": self.name,
            "version": version,
            "data": _loader_version(),
            "state": "fresh",
            **self.settings,
        }

    def synthesize(self, text: str) -> EngineAudio:
        if not text or not text.strip():
            raise SynthesisError("espeak was given no text to speak")
        encoded = text.replace("\x00", " ").encode("utf-8")
        with _LOCK:
            library = _fresh()
            self._apply(library)
            library.lib.espeak_ng_SetRandSeed(_RANDOM_SEED)
            library.spoken = True
            _CHUNKS.clear()
            try:
                with _interrupt_after():
                    status = library.lib.espeak_Synth(
                        encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
                    )
                    if status == _EE_OK:
                        status = library.lib.espeak_Synchronize()
                data = b"".join(_CHUNKS)
            finally:
                _CHUNKS.clear()
        if status != _EE_OK:
            reason = _EE_MESSAGES.get(status, f"error {status}")
            raise SynthesisError(f"espeak could not speak {_preview(text)}: {reason}")
        if sys.byteorder == "big":
            data = _swap_bytes(data)
        if _is_silent(data):
            raise SynthesisError(f"espeak produced no sound for {_preview(text)}")
        return EngineAudio(data=data, codec="s16le", sample_rate=library.sample_rate)

    def check(self) -> str | None:
        """None when espeak loads, initialises and has this voice; else the reason, in one line."""
        try:
            with _LOCK:
                self._apply(_ready())
        except RustpuntError as error:
            return str(error)
        return None

    def check_settings(self) -> None:
        """Raise VoiceError when espeak has no such voice or variant, as a build would meet it;
        a library that cannot load is a matter of speaking now (check()), not of the profile."""
        try:
            with _LOCK:
                library = _ready()
        except SynthesisError:
            return
        with _LOCK:
            self._apply(library)

    def _apply(self, library: _Library) -> None:
        """Select this engine's voice and parameters: another engine may have changed them."""
        lib = library.lib
        self._check_variant(library)
        status = lib.espeak_SetVoiceByName(self.voice.encode("utf-8"))
        if status == 2:
            raise VoiceError(
                f"espeak has no voice {self.voice!r}; use a language code such as 'nl', "
                "optionally with a variant such as 'nl+f3' or 'nl+m3'",
                key="settings.voice",
            )
        if status != _EE_OK:
            raise SynthesisError(
                f"espeak could not select voice {self.voice!r}: {_EE_MESSAGES.get(status, status)}"
            )
        # ours again, in case other code in this process installed its own callback
        lib.espeak_SetSynthCallback(_CALLBACK)
        for key, parameter in _PARAMETERS.items():
            value = getattr(self, key)
            status = lib.espeak_SetParameter(parameter, value, 0)
            if status != _EE_OK:
                reason = _EE_MESSAGES.get(status, f"error {status}")
                raise SynthesisError(f"espeak refused {key} = {value}: {reason}")

    def _check_variant(self, library: _Library) -> None:
        """espeak silently ignores an unknown variant ('nl+typo' speaks as 'nl'): refuse it."""
        _, plus, variant = self.voice.partition("+")
        if plus and not os.path.isfile(os.path.join(library.data_path, "voices", "!v", variant)):
            folder = os.path.join(library.data_path, "voices", "!v")
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                names = []
            examples = ", ".join(n for n in names if n[:1] in "fm" and n[1:].isdigit()) or "f3, m3"
            raise VoiceError(
                f"espeak has no voice variant {variant!r} (in voice {self.voice!r}); "
                f"variants include {examples}",
                key="settings.voice",
            )


@functools.cache
def _loader_version() -> str:
    """espeakng-loader's version: a new release can bring new dictionaries with the same espeak.
    Asked once per process (the package metadata lookup costs 0.5 ms, and this process keeps
    the library it loaded first, whatever is installed later)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"espeakng-loader {version('espeakng-loader')}"
    except PackageNotFoundError:  # not installed as a distribution: the espeak version must do
        return "espeakng-loader unknown"


def _swap_bytes(data: bytes) -> bytes:
    import array

    samples = array.array("h", data)
    samples.byteswap()
    return samples.tobytes()


def _is_silent(data: bytes) -> bool:
    if len(data) < 2:
        return True
    import numpy as np

    samples = np.frombuffer(data, dtype="<i2", count=len(data) // 2)
    return max(int(samples.max()), -int(samples.min())) <= _SILENT  # no copy of a long clip


__all__ = ["EspeakEngine"]
