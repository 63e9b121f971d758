"""Long parts in pieces: the spliced writer holds a piece of a session's encoded speech at a time,
whatever its shape (issue 21: gapless speech was one part, held whole until the file was
written). Real speech (the offline voice), real LAME, files decoded by the ffmpeg pip installs."""

from __future__ import annotations

import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import psutil
import pytest

from rustpunt.audio.pcm import SAMPLE_RATE, Segment, ffmpeg_exe, prepare_clip
from rustpunt.errors import ExportError
from rustpunt.mp3 import splice
from rustpunt.mp3.assembly import assemble
from rustpunt.mp3.encode import encode_parts, encode_pieces, joined
from rustpunt.mp3.frames import SAMPLES_PER_FRAME
from rustpunt.mp3.partcache import DirectoryPartCache, EncodedPart, StoredPart
from rustpunt.mp3.units import plan_units
from rustpunt.voice.clipcache import CacheError
from rustpunt.voice.engines.espeak import EspeakEngine

STEP = 8 * SAMPLES_PER_FRAME
"""Each step on the next frame edge but one, as a build places steps with `pause: 0`."""


@pytest.fixture(scope="module")
def speech() -> list[np.ndarray]:
    """0.2 s of four real sentences."""
    engine = EspeakEngine()
    texts = ("Adem rustig in.", "Span je schouders aan.", "Laat los.", "Voel je lichaam.")
    return [prepare_clip(engine.synthesize(text))[:9_000] for text in texts]


def gapless(speech: list[np.ndarray], steps: int) -> tuple[list[Segment], int]:
    """Steps with no pause between them: one part, as long as the session."""
    segments = [
        Segment(index * STEP, 9_000, lambda index=index: speech[index % 4].copy())
        for index in range(steps)
    ]
    total = steps * STEP
    assert len(plan_units(segments, total)) == 1
    return segments, total


def decode(path: Path) -> np.ndarray:
    command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path)]
    command += ["-f", "s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1"]
    return np.frombuffer(subprocess.run(command, capture_output=True, check=True).stdout, "<i2")


def test_pieces_join_to_the_part_encoded_whole(speech: list[np.ndarray]) -> None:
    """However a part is cut, its pieces are its frames in order: joined, the very bytes, frame
    offsets and CRC of the part cut as one; only the first piece says how many there are."""
    segments, total = gapless(speech, 40)  # 320 frames
    units = plan_units(segments, total)
    (whole,) = encode_parts(units, piece_frames=10**9)
    assert whole.pieces == 1 and whole.frame_count > 300
    made: dict[int, EncodedPart] = {}
    order: list[int] = []

    def keep(unit: int, piece: int, part: EncodedPart) -> None:
        assert unit == 0
        made[piece] = part
        order.append(piece)

    for size in (100, 37, 1):
        made.clear()
        order.clear()
        encode_pieces(units, bitrate_kbps=64, keep=keep, piece_frames=size)
        count = -(-whole.frame_count // size)
        assert order == [*range(1, count), 0]  # the first piece last: it knows the count
        assert made[0].pieces == count and not made[0].follows
        assert all(made[piece].follows and made[piece].pieces == 1 for piece in range(1, count))
        assert all(made[piece].frame_count == size for piece in range(count - 1))
        assert joined([made[piece] for piece in range(count)]) == whole


def test_a_file_of_pieces_is_the_file_of_one_part(
    speech: list[np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cold, from the cache, from a cache of whole parts (written before parts had pieces), and
    with no cache: the same bytes."""
    segments, total = gapless(speech, 60)
    monkeypatch.setattr(splice, "MAX_PIECE_FRAMES", 10**9)
    splice.write_spliced_mp3(tmp_path / "whole.mp3", segments, total)
    old_cache = DirectoryPartCache(tmp_path / "whole-parts")
    splice.write_spliced_mp3(tmp_path / "whole-cached.mp3", segments, total, cache=old_cache)
    expected = (tmp_path / "whole.mp3").read_bytes()
    assert (tmp_path / "whole-cached.mp3").read_bytes() == expected
    monkeypatch.setattr(splice, "MAX_PIECE_FRAMES", 64)
    cache = DirectoryPartCache(tmp_path / "parts")
    for name, store in [("none", None), ("cold", cache), ("warm", cache), ("old", old_cache)]:
        target = tmp_path / f"{name}.mp3"
        splice.write_spliced_mp3(target, segments, total, cache=store)
        assert target.read_bytes() == expected, name
    stored = list((tmp_path / "parts").glob("*/*.mp3part"))
    assert len(stored) == len(splice.place_parts(segments, total, cache=cache)) > 5
    assert len(list((tmp_path / "whole-parts").glob("*/*.mp3part"))) == 1


def test_pieces_cut_another_way_are_never_mixed(
    speech: list[np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache shared by versions that cut parts at other sizes, one of them stopped between
    writing its pieces and its first piece: a first piece finds the pieces of its own cutting,
    and the file is the same."""
    segments, total = gapless(speech, 40)
    cache = DirectoryPartCache(tmp_path / "parts")
    monkeypatch.setattr(splice, "MAX_PIECE_FRAMES", 64)
    splice.write_spliced_mp3(tmp_path / "64.mp3", segments, total, cache=cache)
    (head,) = [path for path in (tmp_path / "parts").glob("*/*.mp3part") if path.stem.isalnum()]
    cut_at_64 = head.read_bytes()
    head.unlink()
    monkeypatch.setattr(splice, "MAX_PIECE_FRAMES", 100)
    splice.write_spliced_mp3(tmp_path / "100.mp3", segments, total, cache=cache)
    head.write_bytes(cut_at_64)  # as if the other version never got to write its own
    monkeypatch.setattr(splice, "MAX_PIECE_FRAMES", 100)
    splice.write_spliced_mp3(tmp_path / "again.mp3", segments, total, cache=cache)
    expected = (tmp_path / "64.mp3").read_bytes()
    assert (tmp_path / "100.mp3").read_bytes() == expected
    assert (tmp_path / "again.mp3").read_bytes() == expected
    names = {path.name.split(".", 1)[1] for path in (tmp_path / "parts").glob("*/*.mp3part")}
    assert {"64.1.mp3part", "100.1.mp3part"} <= names


def test_a_damaged_piece_is_encoded_again_in_the_same_build(
    speech: list[np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(splice, "MAX_PIECE_FRAMES", 64)
    segments, total = gapless(speech, 30)
    cache = DirectoryPartCache(tmp_path / "parts")
    splice.write_spliced_mp3(tmp_path / "first.mp3", segments, total, cache=cache)
    later = sorted((tmp_path / "parts").glob("*/*.64.2.mp3part"))
    assert len(later) == 1
    damaged = bytearray(later[0].read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    later[0].write_bytes(bytes(damaged))
    placed = splice.place_parts(segments, total, cache=cache)
    assert all(isinstance(part, StoredPart) for _, part in placed)
    assert later[0].read_bytes() != bytes(damaged)  # made again, whole
    splice.write_spliced_mp3(tmp_path / "again.mp3", segments, total, cache=cache)
    assert (tmp_path / "again.mp3").read_bytes() == (tmp_path / "first.mp3").read_bytes()


def test_a_part_gone_before_it_is_written_is_a_clear_error(
    speech: list[np.ndarray], tmp_path: Path
) -> None:
    segments, total = gapless(speech, 10)
    cache = DirectoryPartCache(tmp_path / "parts")
    placed = splice.place_parts(segments, total, cache=cache)
    for stored in (tmp_path / "parts").glob("*/*.mp3part"):
        stored.unlink()  # rustpunt cache --clear, at the worst moment
    with (tmp_path / "out.mp3").open("wb") as handle, pytest.raises(ExportError) as error:
        assemble(handle, placed, total)
    assert "removed from the cache while it was being built" in str(error.value)
    assert "build again" in str(error.value)


@pytest.mark.slow
def test_a_longer_gapless_session_holds_no_more_encoded_speech(
    speech: list[np.ndarray], tmp_path: Path
) -> None:
    """With the cache a build has, from 1,000 to 5,000 gapless steps (3.5 to 17 minutes) the
    peak grows by far less than the encoded speech added, built cold or from the cache: what
    grows is a few numbers a frame (where each starts, its length in the layout), not the
    frames. Before, every part was held until the file was written: the peak grew by all of it
    (measured: 8.3 MB; now 0.06 MB). Built from the cache, each piece's frame offsets, a view
    of its whole file, kept the file in memory (a 66-minute session's rebuild peaked 28 MB
    higher than its cold build)."""

    def build(steps: int) -> tuple[int, int, Path]:
        """The peaks of a cold build and a rebuild from the cache."""
        segments, total = gapless(speech, steps)
        cache = DirectoryPartCache(tmp_path / f"parts-{steps}")
        peaks = []
        for name in ("cold", "warm"):
            target = tmp_path / f"gapless-{steps}-{name}.mp3"
            tracemalloc.start()
            try:
                splice.write_spliced_mp3(target, segments, total, cache=cache)
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
        assert target.read_bytes() == (tmp_path / f"gapless-{steps}-cold.mp3").read_bytes()
        return peaks[0], peaks[1], target

    build(100)  # what is made once a process (tables, templates) is not what is measured
    small_cold, small_warm, _ = build(1_000)
    large_cold, large_warm, target = build(5_000)
    added_speech = 4_000 * STEP // SAMPLES_PER_FRAME * 209  # bytes: 209 a frame at 64 kbit/s
    assert large_cold - small_cold < added_speech / 4, (small_cold, large_cold, added_speech)
    assert large_warm - small_warm < added_speech / 4, (small_warm, large_warm, added_speech)
    decoded = decode(target)  # and the file is right, across the pieces
    assert decoded.size == 5_000 * STEP
    source = np.zeros(decoded.size, dtype=np.float64)
    for index in range(5_000):
        source[index * STEP : index * STEP + 9_000] = speech[index % 4]
    error = decoded - source
    assert 10 * np.log10(np.sum(error**2) / np.sum(source**2)) < -15


def test_an_encoder_that_stops_reading_is_one_line_with_its_reason(
    speech: list[np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'Error writing output: No space left on device' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr("rustpunt.mp3.encode.ffmpeg_exe", lambda: str(fake))
    segments, total = gapless(speech, 200)  # 3.6 MB of samples: far more than a pipe holds
    with pytest.raises(ExportError, match="could not encode the speech: Error writing output"):
        splice.write_spliced_mp3(tmp_path / "out.mp3", segments, total)
    assert not (tmp_path / "out.mp3").exists()


def test_a_segment_that_cannot_be_made_stops_its_encoder(
    speech: list[np.ndarray], tmp_path: Path
) -> None:
    """The error of the clip says what happened (not ffmpeg's), and no ffmpeg is left."""
    segments, total = gapless(speech, 200)

    def gone() -> np.ndarray:
        raise CacheError("a clip of this build was removed from the clip cache")

    segments[150] = Segment(segments[150].offset, segments[150].length, gone)
    before = {child.pid for child in psutil.Process().children(recursive=True)}  # a test server
    with pytest.raises(CacheError, match="removed from the clip cache"):
        splice.write_spliced_mp3(tmp_path / "out.mp3", segments, total)
    left = [c for c in psutil.Process().children(recursive=True) if c.pid not in before]
    assert left == []
    assert not (tmp_path / "out.mp3").exists()
