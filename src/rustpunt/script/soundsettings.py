"""Sound keys: parse and merge a session's sound settings (script `sound:`, sound.yaml, command line).

Only settings live here (no audio, no timeline), so the script loader can use them. What the
settings do is in rustpunt.audio.sounddesign.
"""

from __future__ import annotations

import difflib
import math
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from rustpunt.errors import ScriptError, SoundError
from rustpunt.inputs import Inputs, inputs_or_new

BED_LEVEL_DBFS = -44.0
"""The bed's RMS level in the pauses, 22 dB under the speech (about -22 dBFS RMS at -19 LUFS).

Lower than sounds.DEFAULT_BED_DBFS (-38) on purpose: a bed that loud passes the loudness gate, so
every second of pause counts in the integrated loudness, and a session that is 80 % pause measured
-25 LUFS instead of -19 (measured: pink and rain at -38: -25.3 and -25.1 LUFS; at -42: -19.0 and
-19.9; at -44 and -46: -19.0 both; brown at -38 already -19.0: its energy lies below the
K-weighting's high-pass). Raising the speech 6 dB to make up for it would only squash the voice in
the limiter. A louder `bed_level` is allowed: the file then measures under the target, and the
build says by how much."""

BREATHING_LEVEL_DBFS = -40.0
"""Peak level of the breathing tones, 10 dB under sounds.Breathing's -30 for the same reason: a
step of five breaths is 50 s of tones, and at -30 they counted in the loudness (a short script
of breathing measured -25 LUFS)."""

BedKind = Literal["pink", "brown", "rain"]
BED_KINDS: tuple[str, ...] = get_args(BedKind)

DUCK_DB = 10.0
"""How far the bed goes down under speech. With the bed 16 dB under the speech in the pauses,
the speech stands 26 dB above it while it is spoken: well clear of the 15 dB the issue asks."""

BELL_LEVEL_DBFS = -12.0
"""Peak level of the singing bowl (rustpunt.audio.sounds.SINGING_BOWL) unless `bell_level` says."""

CHIME_LEVEL_DBFS = -24.0
"""Peak level of the soft chime (rustpunt.audio.sounds.SOFT_CHIME) unless `chime_level` says."""

FOLDER_FILE = "sound.yaml"
"""The folder's sound settings, beside the scripts (not a script itself)."""

SOUND_KEYS = (
    "bed", "bed_level", "duck", "bell", "bell_level", "chime", "chime_level", "breathing_level",
)  # fmt: skip
BREATHING_KEYS = ("in", "out", "hold_in", "hold_out", "cycles")

BellAt = Literal["start", "end"]
BELL_CHOICES = ("start", "end", "both", "none")

MIN_LEVEL_DB, MAX_LEVEL_DB = -70.0, -6.0
"""A sound's level: quieter than -70 dBFS is inaudible, louder than -6 would fight the voice."""
MAX_DUCK_DB = 40.0
MIN_CHIME_MS = 5_000
"""A chime needs room: it strikes `CHIME_LEAD_MS` before the words, inside the pause."""
MIN_BREATH_MS, MAX_BREATH_MS = 1_000, 20_000


class DesignProblem(Exception):
    """A bad sound setting at a line; the script loader turns it into a ScriptError."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class BedSource:
    """Where a bed comes from: a generated kind, or an audio file and where it was named."""

    kind: str
    """pink, brown, rain, or "file"."""
    path: Path | None = None
    named_in: Path | None = None
    """The script or sound.yaml that names the file, and the line: for `rustpunt check`."""
    line: int | None = None


@dataclass(frozen=True)
class SoundSettings:
    """Sound keys as one source sets them; None: that source leaves the key alone."""

    bed: BedSource | Literal["none"] | None = None
    bed_level: float | None = None
    duck: float | None = None
    bell: tuple[BellAt, ...] | None = None
    bell_level: float | None = None
    chime_ms: int | Literal["none"] | None = None
    chime_level: float | None = None
    breathing_level: float | None = None

    def over(self, base: SoundSettings) -> SoundSettings:
        """These settings on top of `base`: each key set here wins."""
        return SoundSettings(
            **{
                name: getattr(self, name)
                if getattr(self, name) is not None
                else getattr(base, name)
                for name in self.__dataclass_fields__
            }
        )


@dataclass(frozen=True)
class SoundDesign:
    """The settled design of one session: every key has its value."""

    bed: BedSource | None = None
    bed_level: float = BED_LEVEL_DBFS
    duck: float = DUCK_DB
    bell: tuple[BellAt, ...] = ()
    bell_level: float = BELL_LEVEL_DBFS
    chime_ms: int | None = None
    chime_level: float = CHIME_LEVEL_DBFS
    breathing_level: float = BREATHING_LEVEL_DBFS

    @staticmethod
    def of(settings: SoundSettings) -> SoundDesign:
        defaults = SoundDesign()
        return SoundDesign(
            bed=settings.bed if isinstance(settings.bed, BedSource) else None,
            bed_level=_or(settings.bed_level, defaults.bed_level),
            duck=_or(settings.duck, defaults.duck),
            bell=settings.bell or (),
            bell_level=_or(settings.bell_level, defaults.bell_level),
            chime_ms=settings.chime_ms if isinstance(settings.chime_ms, int) else None,
            chime_level=_or(settings.chime_level, defaults.chime_level),
            breathing_level=_or(settings.breathing_level, defaults.breathing_level),
        )

    def fingerprint(self, inputs: Inputs | None = None) -> dict[str, Any]:
        """What changes the sound, for the build key (a bed file by its bytes' digest)."""
        bed: Any = None
        if self.bed is not None:
            bed = self.bed.kind
            if self.bed.path is not None:
                bed = file_digest(self.bed.path, inputs_or_new(inputs))
        return {
            "bed": bed,
            "bed_level": self.bed_level,
            "duck": self.duck,
            "bell": list(self.bell),
            "bell_level": self.bell_level,
            "chime_ms": self.chime_ms,
            "chime_level": self.chime_level,
            "breathing_level": self.breathing_level,
        }

    def describe(self) -> str | None:
        """One line for `rustpunt plan`; None when there is nothing to say."""
        parts = []
        if self.bed is not None:
            name = self.bed.path.name if self.bed.path else self.bed.kind
            parts.append(
                f"bed {name} at {self.bed_level:g} dBFS, {self.duck:g} dB down under speech"
            )
        if self.bell:
            parts.append(f"bell at the {' and '.join(self.bell)} ({self.bell_level:g} dBFS)")
        if self.chime_ms is not None:
            parts.append(f"chime before speech after pauses of {self.chime_ms / 1000:g} s or more")
        return "; ".join(parts) or None


def file_digest(path: Path, inputs: Inputs) -> str:
    """SHA-256 of a file's bytes (Inputs remembers it: hundreds of scripts sharing one bed file
    must not hash it hundreds of times), or why there is none."""
    inputs.note(path)
    try:
        status = path.stat()
    except OSError:
        return f"missing {path}"
    if not stat.S_ISREG(status.st_mode):  # a FIFO would block open(), /dev/zero never ends
        return f"not a regular file {path}"
    try:
        return inputs.digest(path.resolve())
    except OSError:
        return f"unreadable {path.resolve()}"


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


@dataclass(frozen=True)
class Breathing:
    """A paced-breathing pattern: a rising tone while breathing in, a falling one breathing out."""

    inhale_ms: int = 4_000
    exhale_ms: int = 6_000
    hold_in_ms: int = 0
    """Silence after breathing in (a held breath), e.g. 7000 for 4-7-8 breathing."""
    hold_out_ms: int = 0
    """Silence after breathing out."""
    low_hz: float = 196.0
    """The tone glides between these two (G3 to D4, a fifth: calm, and clear on small speakers)."""
    high_hz: float = 293.66
    level_dbfs: float = -30.0
    """Peak level: a quiet cue under everything."""

    @property
    def cycle_ms(self) -> int:
        return self.inhale_ms + self.hold_in_ms + self.exhale_ms + self.hold_out_ms


@dataclass(frozen=True)
class StepBreathing:
    """A step's `breathing:`: the pattern, and how many cycles (None: as many as its pause holds)."""

    pattern: Breathing
    cycles: int | None = None


# --------------------------------------------------------------------------- parsing


def parse_sound(
    values: Any, lines: Mapping[Any, int], line: int, *, base: Path, named_in: Path | None = None
) -> SoundSettings:
    """The `sound:` mapping of a script (or a whole sound.yaml); a bed file is resolved against
    the folder `base`. Raises DesignProblem at the offending key's line."""
    if not isinstance(values, Mapping):
        raise DesignProblem(
            line, f"`sound` must be a mapping of sound keys ({', '.join(SOUND_KEYS)})"
        )
    for key in values:
        if key not in SOUND_KEYS:
            raise DesignProblem(lines.get(key, line), _unknown(key, SOUND_KEYS, "sound"))
    settings: dict[str, Any] = {}

    def at(key: str) -> int:
        return lines.get(key, line)

    if values.get("bed") is not None:
        settings["bed"] = parse_bed(values["bed"], at("bed"), base=base, named_in=named_in)
    for key in ("bed_level", "bell_level", "chime_level", "breathing_level"):
        if values.get(key) is not None:
            settings[key] = _level(values[key], at(key), key)
    if values.get("duck") is not None:
        duck = _number(values["duck"], at("duck"), "duck")
        if not 0 <= duck <= MAX_DUCK_DB:
            raise DesignProblem(
                at("duck"),
                f"`duck` {duck:g} dB: the bed goes 0 to {MAX_DUCK_DB:g} dB down under speech",
            )
        settings["duck"] = duck
    if values.get("bell") is not None or "bell" in values:
        settings["bell"] = parse_bell(values["bell"], at("bell"))
    if values.get("chime") is not None:
        settings["chime_ms"] = parse_chime(values["chime"], at("chime"))
    return SoundSettings(**settings)


def parse_bed(
    value: Any, line: int, *, base: Path, named_in: Path | None = None
) -> BedSource | Literal["none"]:
    if not isinstance(value, str) or not value.strip():
        raise DesignProblem(line, f"`bed` is {', '.join(BED_KINDS)}, an audio file's path, or none")
    text = value.strip()
    if text.lower() == "none":
        return "none"
    if text.lower() in BED_KINDS:
        return BedSource(text.lower())
    return BedSource("file", path=base / text, named_in=named_in, line=line)


def parse_bell(value: Any, line: int) -> tuple[BellAt, ...]:
    if value is False or value is None:
        return ()
    if value is True:
        return ("start", "end")
    if isinstance(value, str) and value in BELL_CHOICES:
        return {"start": ("start",), "end": ("end",), "both": ("start", "end"), "none": ()}[value]  # type: ignore[return-value]
    raise DesignProblem(line, f"`bell` is start, end, both or none, not {value!r}")


def parse_chime(value: Any, line: int) -> int | Literal["none"]:
    if isinstance(value, str) and value.strip() == "none":
        return "none"
    ms = round(_seconds(value, line, "chime") * 1000)
    if ms < MIN_CHIME_MS:
        raise DesignProblem(
            line,
            f"`chime` is the shortest pause (in seconds) that gets a chime: at least {MIN_CHIME_MS // 1000}",
        )
    return ms


def parse_breathing(values: Any, lines: Mapping[Any, int], line: int, where: str) -> StepBreathing:
    """A step's `breathing: {in: 4, out: 6}` (seconds; also hold_in, hold_out, cycles)."""
    if not isinstance(values, Mapping):
        raise DesignProblem(
            line, f"{where} `breathing` is a mapping such as {{in: 4, out: 6}} (seconds)"
        )
    for key in values:
        if key not in BREATHING_KEYS:
            raise DesignProblem(
                lines.get(key, line), _unknown(key, BREATHING_KEYS, f"{where} breathing")
            )
    for required in ("in", "out"):
        if values.get(required) is None:
            raise DesignProblem(
                line, f"{where} `breathing` needs `{required}:` in seconds, e.g. {{in: 4, out: 6}}"
            )
    ms: dict[str, int] = {}
    for key in ("in", "out", "hold_in", "hold_out"):
        if values.get(key) is None:
            ms[key] = 0
            continue
        value = round(_seconds(values[key], lines.get(key, line), f"breathing {key}") * 1000)
        low = MIN_BREATH_MS if key in ("in", "out") else 0
        if not low <= value <= MAX_BREATH_MS:
            raise DesignProblem(
                lines.get(key, line),
                f"{where} breathing `{key}` {value / 1000:g} s: a breath's part lasts {low // 1000} to {MAX_BREATH_MS // 1000} s",
            )
        ms[key] = value
    cycles = values.get("cycles")
    if cycles is not None and (
        isinstance(cycles, bool) or not isinstance(cycles, int) or not 1 <= cycles <= 1000
    ):
        raise DesignProblem(
            lines.get("cycles", line),
            f"{where} breathing `cycles` is a whole number from 1, not {cycles!r}",
        )
    pattern = Breathing(
        inhale_ms=ms["in"],
        exhale_ms=ms["out"],
        hold_in_ms=ms["hold_in"],
        hold_out_ms=ms["hold_out"],
    )
    return StepBreathing(pattern, cycles)


def _seconds(value: Any, line: int, key: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise DesignProblem(line, f"`{key}` is a number of seconds, not {value!r}")
    return float(value)


def _number(value: Any, line: int, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DesignProblem(line, f"`{key}` is a number of dB, not {value!r}")
    return float(value)


def _level(value: Any, line: int, key: str) -> float:
    level = _number(value, line, key)
    if not MIN_LEVEL_DB <= level <= MAX_LEVEL_DB:
        raise DesignProblem(
            line,
            f"`{key}` {level:g} dBFS: a level is {MIN_LEVEL_DB:g} to {MAX_LEVEL_DB:g} (e.g. -38 for a bed)",
        )
    return level


def _unknown(key: Any, known: tuple[str, ...], where: str) -> str:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key `{key}` in {where}; {hint}"


def folder_settings(folder: Path, inputs: Inputs | None = None) -> SoundSettings:
    """The sound.yaml (or sound.yml) beside the scripts; empty settings when there is none.
    Raises ScriptError at the line of a bad key."""
    inputs = inputs_or_new(inputs)
    path = Path(folder) / FOLDER_FILE
    if not inputs.is_file(path):
        path = path.with_suffix(".yml")
    if not inputs.is_file(path):
        return SoundSettings()
    try:
        node = yaml.compose(inputs.read_text(path), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError) as error:
        raise ScriptError(path, None, f"cannot be read ({error}); save it as UTF-8 text") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise ScriptError(
            path, mark.line + 1 if mark else None, f"YAML error: {error.problem}"
        ) from None
    if node is None:
        return SoundSettings()
    if not isinstance(node, yaml.MappingNode):
        raise ScriptError(path, node.start_mark.line + 1, "sound.yaml is a mapping of sound keys")
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        values[key] = yaml.safe_load(yaml.serialize(value_node))
        lines[key] = key_node.start_mark.line + 1
    try:
        return parse_sound(values, lines, node.start_mark.line + 1, base=path.parent, named_in=path)
    except DesignProblem as problem:
        raise ScriptError(path, problem.line, problem.message) from None


def command_line_settings(
    *, bed: str | None = None, bell: str | None = None, chime: float | None = None
) -> SoundSettings:
    """`--bed`, `--bell`, `--chime` (a bed file relative to the working folder)."""
    try:
        return SoundSettings(
            bed=parse_bed(bed, 0, base=Path.cwd(), named_in=Path("--bed"))
            if bed is not None
            else None,
            bell=parse_bell(bell, 0) if bell is not None else None,
            chime_ms=parse_chime(chime, 0) if chime is not None else None,
        )
    except DesignProblem as problem:
        raise SoundError(
            f"command line: {problem.message.replace('`', '--', 1).replace('`', '', 1)}"
        ) from None


def design_for(
    script_path: Path,
    own: SoundSettings | None,
    overrides: SoundSettings | None,
    inputs: Inputs | None = None,
) -> SoundDesign:
    """sound.yaml beside the script, then the script's `sound:`, then the command line."""
    settings = folder_settings(Path(script_path).parent, inputs)
    if own is not None:
        settings = own.over(settings)
    if overrides is not None:
        settings = overrides.over(settings)
    return SoundDesign.of(settings)
