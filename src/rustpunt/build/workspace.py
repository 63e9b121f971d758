"""What lives for one build: made once by `rustpunt build`, the watch, the studio and each pool
or cluster worker, and passed down beside Voices, never kept in module globals.

It owns the build's caches: the clip cache (rustpunt.voice.clipcache, with its remote level of
rustpunt.remote when a URL is given) and the cache of encoded speech (rustpunt.mp3.partcache, in
the clip cache's folder; the watch keeps it in memory in front of that). Both are made from the
cache folder and URL the command gives, which BuildOptions holds as plain values: a worker process
makes its own Workspace from them, once. It also holds the files read (rustpunt.inputs: digests,
voice registries and lexicons remembered by their stamps, and every read noted for the up-to-date
record) and the memos of pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rustpunt.inputs import Inputs
from rustpunt.memo import MEMOS, Memos
from rustpunt.voice.clipcache import ClipCache

if TYPE_CHECKING:
    from rustpunt.build.options import BuildOptions
    from rustpunt.mp3.partcache import PartCache


@dataclass
class Workspace:
    clips: ClipCache = field(default_factory=ClipCache)
    """The clip cache of the build (the user's cache folder unless the command names another);
    the build's Voices speak through this one, so its counts are the build's."""
    inputs: Inputs = field(default_factory=Inputs)
    memos: Memos = MEMOS
    """The memos of pure functions: the process's, as their answers are the same for every
    build (rustpunt.memo); here so that a build names all it keeps."""
    _parts: PartCache | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls, cache_dir: Path | None = None, cache_url: str | None = None, *, strict: bool = False
    ) -> Workspace:
        """The workspace of a build with its caches in `cache_dir` (None: the user's cache
        folder) and behind it the remote cache at `cache_url` (None: none; rustpunt.remote is
        imported only when there is one)."""
        remote = None
        if cache_url:
            from rustpunt.remote import RemoteCache

            remote = RemoteCache(cache_url, strict=strict)
        return cls(ClipCache(cache_dir, remote))

    @classmethod
    def for_options(cls, options: BuildOptions) -> Workspace:
        """The workspace of a build of these options: their cache folder and URL."""
        return cls.open(options.cache_dir, options.cache_url, strict=options.strict)

    def passed_on(self, options: BuildOptions) -> BuildOptions:
        """`options` naming this workspace's own cache folder (resolved here: a worker's
        environment may name another) and URL, for a worker to make its Workspace from."""
        remote = self.clips.remote
        return replace(
            options, cache_dir=self.clips.root, cache_url=remote.url if remote is not None else None
        )

    @property
    def parts(self) -> PartCache:
        """The encoded speech of the spliced MP3 writer: the clip cache folder's mp3parts/ (and
        its remote level), made on first use (a no-op rebuild never imports numpy)."""
        if self._parts is None:
            from rustpunt.mp3.partcache import DirectoryPartCache

            self._parts = DirectoryPartCache(self.clips.parts, self.clips.remote)
        return self._parts

    def keep_parts(self, limit_bytes: int) -> None:
        """Keep the encoded speech in memory from one build to the next, up to `limit_bytes`, in
        front of the folder (the watch: a rebuild reads none from disk)."""
        from rustpunt.mp3.partcache import MemoryPartCache

        if not isinstance(self.parts, MemoryPartCache):
            self._parts = MemoryPartCache(self.parts, limit_bytes=limit_bytes)
