"""What lives for one build: made once by `rustpunt build`, the watch, the studio and each pool
worker, and passed down beside Voices, never kept in module globals.

It holds the files read (rustpunt.inputs: digests, voice registries and lexicons remembered by
their stamps, and every read noted for the up-to-date record) and the memos of pure functions.
The clip and part caches still travel in BuildOptions (a worker gets them with its jobs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rustpunt.inputs import Inputs
from rustpunt.memo import MEMOS, Memos


@dataclass
class Workspace:
    inputs: Inputs = field(default_factory=Inputs)
    memos: Memos = MEMOS
    """The memos of pure functions: the process's, as their answers are the same for every
    build (rustpunt.memo); here so that a build names all it keeps."""
