"""File events for the watch (rustpunt.build.watch's `changes` hook): the operating system says when a
watched folder changed (inotify, FSEvents, ReadDirectoryChangesW, through watchfiles), so a save
is seen within milliseconds instead of at the next poll (a quarter of a second).

Events only wake the watch: it then compares the file stamps as it always does, so an event for
an unrelated file costs one look, and a missed one is caught by the look SAFETY_SECONDS later.
File events are unreliable on network shares (NFS, SMB): there, `--poll` keeps the plain poll.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable

log = logging.getLogger(__name__)

SAFETY_SECONDS = 2.0
"""Look at the stamps at least this often even without an event (a missed or dropped event)."""

EVENT_SETTLE_SECONDS = 0.05
"""With file events, a change is built once the files were quiet this long (the poll's watch
waits 0.1 s, rustpunt.build.watch.SETTLE_SECONDS): an event arrives within milliseconds of the write,
and an editor's save (write and rename) is over by then."""

STEP_MS = 5
"""watchfiles yields once no new event came for this long: an editor's burst of writes is one
wake-up (the watch then lets the files settle as it does after a poll)."""


def folders_of(paths: Iterable[str]) -> frozenset[str]:
    """The folders to listen to: each watched folder, and the folder of each watched file (or
    the nearest existing one above a path that does not exist yet, so its creation is seen)."""
    found = set()
    for path in paths:
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        while folder and not os.path.isdir(folder):
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        if folder:
            found.add(folder)
    return frozenset(found)


class FileEvents:
    """Wakes the watch on file events in the folders of the paths it watches."""

    def __init__(self, safety_seconds: float = SAFETY_SECONDS) -> None:
        self.safety_seconds = safety_seconds
        self.dirty = threading.Event()
        self._folders: frozenset[str] = frozenset()
        self._stop_listening: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def wait(self, watched: frozenset[str], stop: threading.Event) -> None:
        folders = folders_of(watched)
        if folders != self._folders or self._thread is None or not self._thread.is_alive():
            self._listen(folders, stop)
        waited = 0.0
        while not stop.is_set() and waited < self.safety_seconds:
            if self.dirty.wait(0.05):
                break
            waited += 0.05
        self.dirty.clear()

    def _listen(self, folders: frozenset[str], stop: threading.Event) -> None:
        self.close()
        self._folders = folders
        listening = threading.Event()
        self._stop_listening = halt = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(folders, halt, stop, listening), daemon=True, name="file events"
        )
        self._thread.start()
        listening.wait(1.0)
        self.dirty.set()  # look once now: a change made while the listener started is not lost

    def _run(
        self,
        folders: frozenset[str],
        halt: threading.Event,
        stop: threading.Event,
        listening: threading.Event,
    ) -> None:
        from watchfiles import watch

        class _Either:
            """Stops the listener when the watch stops or the folders change."""

            def is_set(self) -> bool:
                return halt.is_set() or stop.is_set()

        try:
            events = watch(
                *sorted(folders),
                watch_filter=None,
                debounce=1000,
                step=STEP_MS,
                stop_event=_Either(),
                rust_timeout=200,
                yield_on_timeout=True,
                recursive=False,
                raise_interrupt=False,
            )
            for changes in events:
                listening.set()
                if changes:
                    self.dirty.set()
        except Exception:  # the poll of the safety look goes on
            log.warning("file events stopped; looking at the files every %s s", SAFETY_SECONDS)
            log.debug("file events", exc_info=True)
        finally:
            listening.set()

    def close(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._thread = None
