"""What a build is asked to do and what became of each script: the few types that the batch, the
session and the episode share.

They live apart from rustpunt.build.session so that a no-op rebuild, which only compares file stamps
(rustpunt.build.uptodate), never imports the audio modules (numpy, the encoder, the engines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from rustpunt.mp3.export import Encoder
    from rustpunt.script.soundsettings import SoundSettings


@dataclass(frozen=True)
class BuildOptions:
    """What the command asked for, as plain values (a worker process gets them with its jobs);
    what lives for the build, the caches among it, is the Workspace's (rustpunt.build.workspace)."""

    output_dir: Path
    cache_dir: Path | None = None
    """--cache-dir: the clip cache folder; None: $RUSTPUNT_CACHE, else the user cache folder."""
    cache_url: str | None = None
    """--cache-url (or $RUSTPUNT_CACHE_URL): the remote cache behind the local one, else None."""
    voices_dirs: tuple[Path, ...] = ()
    voice: str | None = None
    """--voice: overrides the script's voice."""
    strict: bool = False
    force: bool = False
    artist: str = "rustpunt"
    album: str = "rustpunt"
    encoder: Encoder = "splice"
    """--encoder: "splice" encodes only the speech; "whole" the finished session in one pass.
    A session with sounds under its speech (a bed, bells) is always encoded whole."""
    sound: SoundSettings | None = None
    """--bed, --bell, --chime: over the scripts' and sound.yaml's sound settings."""
    published_dir: Path | None = None
    """The folder the outputs are published in, when they are written elsewhere first (a cluster
    worker writes into a scratch folder): sidecars give paths relative to it."""


class BuildStatus(str, Enum):
    """What became of one script in a build (the value is what reports and JSON say)."""

    BUILT = "built"
    UP_TO_DATE = "up to date"
    FAILED = "failed"


@dataclass(frozen=True)
class BuildResult:
    script: Path
    status: BuildStatus
    mp3: Path | None = None
    duration_ms: int = 0
    voice: str | None = None
    fallback_reason: str | None = None
    synthesized: int = 0
    error: str | None = None
    respoken: int = 0
    """Clips whose cache entry was found damaged while encoding, spoken again in this build."""
    from_cache: int = 0
    """Clips (sentences) this build found in the local cache; `synthesized` were spoken."""
    from_remote: int = 0
    """Clips read from the remote cache (--cache-url), then kept locally."""
    remote_problem: str | None = None
    """Why the remote cache was not used (unreachable, refused), when it was not."""
    worker: str | None = None
    """The Dask worker that built it (--cluster)."""


class OutputPaths(NamedTuple):
    """Where one script's files go: the MP3 and its two sidecars, named after the script."""

    mp3: Path
    vtt: Path
    json: Path


def output_paths(script_path: Path, output_dir: Path) -> OutputPaths:
    stem = script_path.stem
    return OutputPaths(
        mp3=output_dir / f"{stem}.mp3",
        vtt=output_dir / f"{stem}.vtt",
        json=output_dir / f"{stem}.json",
    )


_EPISODE_MARK = re.compile(rb"^parts[ \t]*:", re.MULTILINE)


def is_episode_file(path: Path) -> bool:
    """A YAML file with `parts:` at the top level is an episode, not a script (a quick look at
    the bytes: the batch asks this of every file, so it lives here, away from the episode
    module and all it imports)."""
    try:
        with open(path, "rb") as handle:
            return bool(_EPISODE_MARK.search(handle.read(1 << 20)))
    except OSError:
        return False
