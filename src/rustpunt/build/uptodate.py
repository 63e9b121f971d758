"""A no-op rebuild that only looks at file stamps, as make, ninja and git's index do.

The build key in a script's JSON sidecar (digests of the script, its voices, lexicons, sound
design, engines and the tool) stays the truth, but working it out means reading and parsing the
script and every voice profile. So once a script is built, or found up to date by that full check,
the batch records the stamp (size, mtime_ns, ctime_ns, inode) of every file that went into its
key, and of its three outputs. On the next build a script whose stamps all still match, built with
the same options, is up to date without reading a byte of it. Anything else takes the full check
(rustpunt.build.session.prepare), which then records fresh stamps (after a `git checkout` touched every
file, say).

What the stamps cover: every file and folder the full check read or looked for, as the build's
Inputs (rustpunt.inputs) noted them, not a list kept by hand here: the script; sound.yaml,
sound.yml, lexicon.yaml and voices/ beside it, also while they are absent, so one that appears is
seen; a bed file; every voice folder and its profiles; a Piper voice's model and config in every
folder where they could be found; the built-in lexicon. Besides: rustpunt's own files and the
site-packages folders (a package installed, upgraded or removed there sends every script through
the full check once: that is where the engines' versions come from). Beside the stamps: a digest
of the options that go into the key (--voice, --voices-dir, tags, encoder, --bed/--bell/--chime),
the tool version, the Python environment and the RUSTPUNT_* variables.

What they cannot see, like git: a file rewritten with the same size within the same tick of the
file system's clock. A stamp taken less than RACY_NS after its file was modified is therefore not
trusted: that script takes the full check once more, and is recorded then. An edit that restores
the old mtime is still seen, by the ctime it cannot restore.

A script spoken by a fallback voice is recorded as such: the batch asks whether its own voice can
speak again before calling it up to date, as the full check does. Episodes always take the full
check.

The record lives in the clip cache folder (never in the user's output folder), one file per
output folder, read once and written once by the batch's parent process, atomically: two batches
at once leave one of their records whole, and a record that is lost, stale or damaged only costs
the next build the full check.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rustpunt import __version__
from rustpunt.build.options import BuildOptions, BuildResult, BuildStatus, output_paths
from rustpunt.files import Stamp, stamp, write_text_atomic

if TYPE_CHECKING:
    from rustpunt.build.session import Prepared

log = logging.getLogger(__name__)

FORMAT = 1
"""The record's layout; a record of another format is ignored (the full check then)."""

FOLDER = "uptodate"
"""The record's folder inside the clip cache folder."""

RACY_NS = 2_000_000_000
"""A file modified less than this long before its stamp was taken may change again without its
stamp changing (file systems keep time in ticks: a few ms on ext4, 1 s on HFS+, 2 s on FAT)."""

OUTPUTS = ("mp3", "vtt", "json")


def record_path(cache_root: Path, output_dir: Path) -> Path:
    """The record of one output folder, by the folder's absolute path."""
    name = hashlib.sha256(os.path.abspath(output_dir).encode("utf-8", "surrogateescape"))
    return Path(cache_root) / FOLDER / f"{name.hexdigest()[:32]}.json"


def options_digest(options: BuildOptions) -> str:
    """What the build key takes from the options and the environment, besides the files."""
    document = {
        "format": FORMAT,
        "tool": __version__,
        "voice": options.voice,
        "voices_dirs": [os.path.abspath(folder) for folder in options.voices_dirs],
        "tags": [options.artist, options.album],
        "encoder": options.encoder,
        "sound": repr(options.sound),
        "python": [sys.prefix, *_site_dirs()],
        "environment": sorted(
            (name, value)
            for name, value in os.environ.items()
            if name.startswith("RUSTPUNT_") or name == "XDG_DATA_HOME"  # where voice models live
        ),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Recorded:
    """A script whose recorded stamps all still match."""

    result: BuildResult
    fell_back: bool
    """Spoken by a fallback voice: up to date only while `requested` still cannot speak."""
    requested: str
    """The voice the build asked for."""


@dataclass(frozen=True)
class Noted:
    """What a full check learnt of a script, for its record once the batch knows the outcome."""

    groups: tuple[tuple[str, ...], ...]
    """The files that went into the build key, in groups that many scripts share."""
    started_ns: int
    """When the full check began: a file modified since may not be what it read."""
    requested: str
    fell_back: bool
    """Up to date, but spoken by a fallback voice (only for a result that was up to date)."""


def noted(prepared: Prepared, read: Iterable[str], started_ns: int) -> Noted:
    """`read`: what the full check that made `prepared` read (Inputs.noting)."""
    return Noted(
        groups=input_groups(read, prepared.script.path),
        started_ns=started_ns,
        requested=prepared.voice,
        fell_back=prepared.fell_back,
    )


def input_groups(read: Iterable[str], script: Path) -> tuple[tuple[str, ...], ...]:
    """What a full check read, in groups that many scripts share: rustpunt's own files and the
    installed packages, then what it read in each folder (a folder's scripts read the same
    sound.yaml, lexicon and voices/), then the script itself."""
    own = os.path.abspath(script)
    by_folder: dict[str, set[str]] = {}
    for path in read:
        if path != own:
            by_folder.setdefault(os.path.dirname(path), set()).add(path)
    folders = (tuple(sorted(paths)) for _, paths in sorted(by_folder.items()))
    return (_environment(), *folders, (own,))


def _site_dirs() -> list[str]:
    return [
        path
        for path in sys.path
        if os.path.basename(path) in ("site-packages", "dist-packages") and os.path.isdir(path)
    ]


@functools.lru_cache(maxsize=1)  # process-wide: a process runs one copy of rustpunt's code
def _environment() -> tuple[str, ...]:
    """rustpunt's own files (its code, built-in voices and lexicon) and the site-packages
    folders that hold the engines."""
    package = Path(__file__).resolve().parents[1]  # rustpunt/, not build/
    own = sorted(
        str(path)
        for path in package.rglob("*")
        if "__pycache__" not in path.parts and path.is_file()
    )
    return (*_site_dirs(), *own)


class Ledger:
    """One build's view of one output folder's record: read once, asked per script, written
    once at the end with what changed."""

    def __init__(self, path: Path, digest: str) -> None:
        self.path = path
        self.digest = digest
        document = _read(path)
        self._scripts: dict[str, Any] = document.get("scripts", {})
        self._sets: dict[str, Any] = document.get("sets", {})
        self._holds: dict[str, bool] = {}
        self._changes: dict[str, dict[str, Any] | None] = {}
        self._new_sets: dict[str, dict[str, Stamp]] = {}
        self._groups: dict[tuple[str, ...], tuple[str, int]] = {}
        self._noted: dict[str, Noted] = {}

    @classmethod
    def open(cls, options: BuildOptions, cache_root: Path) -> Ledger:
        """The record of `options.output_dir`, kept in the clip cache folder `cache_root`."""
        return cls(record_path(cache_root, options.output_dir), options_digest(options))

    def recorded(self, script: Path, output_dir: Path) -> Recorded | None:
        """The script's result when every stamp recorded for it still matches, else None."""
        entry = self._scripts.get(os.path.abspath(script))
        try:
            if (
                entry is None
                or entry["build"] != self.digest
                or entry["output_dir"] != os.path.abspath(output_dir)
                or not all(self._set_holds(name) for name in entry["sets"])
            ):
                return None
            paths = output_paths(script, output_dir)
            for name in OUTPUTS:
                if stamp(getattr(paths, name)) != entry["outputs"][name]:
                    return None
            return Recorded(
                result=BuildResult(
                    script=script,
                    status=BuildStatus.UP_TO_DATE,
                    mp3=paths.mp3,
                    duration_ms=int(entry["duration_ms"]),
                    voice=str(entry["voice"]) if entry["voice"] is not None else None,
                ),
                fell_back=bool(entry["fell_back"]),
                requested=str(entry["requested"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError):  # a damaged record
            return None

    def _set_holds(self, name: str) -> bool:
        if name not in self._holds:
            stamps = self._sets.get(name)
            self._holds[name] = isinstance(stamps, dict) and all(
                stamp(path) == recorded for path, recorded in stamps.items()
            )
        return self._holds[name]

    def note(self, script: Path, note: Noted) -> None:
        """What the full check of a script read, for finish()."""
        self._noted[os.path.abspath(script)] = note

    def finish(self, script: Path, output_dir: Path, result: BuildResult) -> None:
        """Record a script the full check found up to date or that was built; forget a failed
        one. A script found up to date by its stamps keeps its record as it is."""
        note = self._noted.pop(os.path.abspath(script), None)
        if result.status == BuildStatus.FAILED:
            self.forget(script)
        elif note is not None:
            self.record(script, output_dir, note, result)

    def record(self, script: Path, output_dir: Path, note: Noted, result: BuildResult) -> None:
        """Remember the stamps of a script just built or found up to date by the full check;
        forget it when a stamp cannot be trusted yet or an output is missing."""
        key = os.path.abspath(script)
        names = []
        for group in note.groups:
            name, modified_ns = self._group(group)
            if modified_ns >= note.started_ns - RACY_NS:
                self.forget(script)
                return
            names.append(name)
        paths = output_paths(script, output_dir)
        outputs = {name: stamp(getattr(paths, name)) for name in OUTPUTS}
        if any(value is None for value in outputs.values()):
            self.forget(script)
            return
        built = result.status == BuildStatus.BUILT
        self._changes[key] = {
            "build": self.digest,
            "output_dir": os.path.abspath(output_dir),
            "sets": names,
            "outputs": outputs,
            "duration_ms": result.duration_ms,
            "voice": result.voice,
            "requested": note.requested,
            "fell_back": bool(result.fallback_reason) if built else note.fell_back,
        }

    def forget(self, script: Path) -> None:
        key = os.path.abspath(script)
        if key in self._scripts or key in self._changes:
            self._changes[key] = None

    def _group(self, group: tuple[str, ...]) -> tuple[str, int]:
        """The group's stamps as a set (named by its content) and its latest modification."""
        if group not in self._groups:
            stamps = {path: stamp(path) for path in group}
            name = hashlib.sha256(json.dumps(stamps, sort_keys=True).encode()).hexdigest()[:24]
            self._new_sets[name] = stamps
            latest = max((value[1] for value in stamps.values() if value is not None), default=0)
            self._groups[group] = (name, latest)
        return self._groups[group]

    def save(self) -> None:
        """Write what changed over the record as it is now (another batch may have written it
        meanwhile); a failure is only logged: the next build takes the full check."""
        if not self._changes:
            return
        document = _read(self.path)  # the newest, not the one read at the start
        scripts: dict[str, Any] = document.get("scripts", {})
        sets: dict[str, Any] = {**document.get("sets", {}), **self._new_sets}
        for key, entry in self._changes.items():
            if entry is None:
                scripts.pop(key, None)
            else:
                scripts[key] = entry
        scripts = {
            key: entry
            for key, entry in scripts.items()
            if isinstance(entry, dict) and (key in self._changes or os.path.exists(key))
        }
        used = {name for entry in scripts.values() for name in _names(entry)}
        document = {
            "format": FORMAT,
            "scripts": scripts,
            "sets": {name: value for name, value in sets.items() if name in used},
        }
        try:
            write_text_atomic(self.path, json.dumps(document, separators=(",", ":")))
        except OSError as error:
            log.debug(
                "cannot write %s (%s): the next build checks every script in full", self.path, error
            )
        self._changes.clear()


def _names(entry: dict[str, Any]) -> Sequence[str]:
    names = entry.get("sets")
    return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []


def _read(path: Path) -> dict[str, Any]:
    """The record, or an empty one when it is missing, damaged or of another format."""
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        if not isinstance(error, FileNotFoundError):
            log.debug("ignoring %s (%s)", path, error)
        return {}
    if (
        not isinstance(document, dict)
        or document.get("format") != FORMAT
        or not isinstance(document.get("scripts"), dict)
        or not isinstance(document.get("sets"), dict)
    ):
        return {}
    return document
