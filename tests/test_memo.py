"""The one memo object of pure functions: remembered answers, and off or emptied for tests."""

from __future__ import annotations

from rustpunt.memo import Memos


def test_memos_remember_until_turned_off_or_cleared() -> None:
    memos = Memos()
    calls: list[str] = []

    @memos.remember(maxsize=4)
    def shout(text: str) -> str:
        calls.append(text)
        return text.upper()

    assert shout("adem") == shout("adem") == "ADEM"
    assert calls == ["adem"] and shout.hits == 1
    with memos.off():
        assert shout("adem") == "ADEM"
    assert calls == ["adem", "adem"] and memos.on
    memos.clear()
    shout("adem")
    assert calls == ["adem", "adem", "adem"]
