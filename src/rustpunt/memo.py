"""Memos of pure functions (a pause decided from a step's text, a sentence's phrases): one object
for all of them, which a test turns off to compare with the answers worked out afresh.

A memo replaces functools.lru_cache on a module's function: tests no longer reach for
`function.__wrapped__` or `function.cache_clear()`, they use `MEMOS.off()` or `MEMOS.clear()`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Memo(Generic[P, R]):
    """One pure function and the answers it gave, at most `maxsize` of them (least recently used
    go first); while its Memos are off, the function works every answer out afresh."""

    def __init__(
        self, function: Callable[P, R], owner: Memos, maxsize: int, typed: bool = False
    ) -> None:
        self.function = function
        self._owner = owner
        self._kept = functools.lru_cache(maxsize=maxsize, typed=typed)(function)
        self.__doc__ = function.__doc__
        self.__name__ = getattr(function, "__name__", "memo")

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._owner.on:
            return self._kept(*args, **kwargs)  # type: ignore[arg-type]
        return self.function(*args, **kwargs)

    @property
    def hits(self) -> int:
        """Answers given from memory since the memo was last emptied."""
        return self._kept.cache_info().hits

    def clear(self) -> None:
        self._kept.cache_clear()


class Memos:
    """All memos of pure functions, to turn off or empty at once."""

    def __init__(self) -> None:
        self.on = True
        self._memos: list[Memo[..., object]] = []

    def remember(
        self, maxsize: int, *, typed: bool = False
    ) -> Callable[[Callable[P, R]], Memo[P, R]]:
        """A decorator: the function's answers are remembered (`typed`: 5 and 5.0 apart)."""

        def wrap(function: Callable[P, R]) -> Memo[P, R]:
            memo = Memo(function, self, maxsize, typed)
            self._memos.append(memo)  # type: ignore[arg-type]
            return memo

        return wrap

    def clear(self) -> None:
        for memo in self._memos:
            memo.clear()

    @contextlib.contextmanager
    def off(self) -> Iterator[None]:
        """Every memoised function works its answers out afresh inside the block."""
        before, self.on = self.on, False
        try:
            yield
        finally:
            self.on = before


MEMOS = Memos()
"""Process-wide, as the one place memos may be: the functions are pure, so an answer
remembered for one build is right for every build and worker in the process."""
