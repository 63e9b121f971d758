"""export: real encodes measured with the ffmpeg that pip installs (tests/audiotools.py)."""

from __future__ import annotations

import html
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import webvtt
from mutagen.id3 import ID3, CTOCFlags
from mutagen.mp3 import MP3, BitrateMode

import audiotools
from rustpunt.audio.pcm import SAMPLE_RATE, ms_to_samples
from rustpunt.errors import ExportError, RustpuntError, SynthesisError
from rustpunt.files import check_writable
from rustpunt.mp3 import export, sidecars
from rustpunt.mp3.export import check_encoder, write_mp3
from rustpunt.mp3.id3 import Chapter, Metadata
from rustpunt.mp3.sidecars import Cue, vtt_text, write_json, write_vtt

TOLERANCE_MS = 50

LONG_TITLE = (
    "Ga rechtop staan, zet je voeten op heupbreedte, buig langzaam door je knieën tot je één "
    "rechte lijn voelt en houd dit één minuut vast; adem nu rustig."
)
assert len(LONG_TITLE) == 150

METADATA = Metadata(
    title="Ochtendoefening: knieën en rug",
    artist="rustpunt",
    album="Oefeningen voor één week",
    voice="nl-espeak",
    engine="espeak 1.52",
    comment="Rustige oefening voor de ochtend.\nGesproken door de reservestem nl-espeak.",
    year="2025",
)


# --------------------------------------------------------------------------- a synthetic session


def speech(ms: int, frequency: float = 220.0) -> np.ndarray:
    """A speech-like stand-in: a tone with a syllable-rate wobble and 8 ms fades at both ends."""
    n = ms_to_samples(ms)
    t = np.arange(n) / SAMPLE_RATE
    wobble = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    signal = 0.3 * wobble * np.sin(2 * np.pi * frequency * t)
    fade = min(ms_to_samples(8), n // 2)
    ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
    signal[:fade] *= ramp
    signal[n - fade :] *= ramp[::-1]
    return np.round(signal * 32767).astype("<i2")


def silence(ms: int) -> np.ndarray:
    return np.zeros(ms_to_samples(ms), dtype="<i2")


# (kind, ms): the pauses are what a plan asks for, the speech what an engine might say.
SESSION = [
    ("speech", 1800),
    ("pause", 2000),
    ("speech", 2400),
    ("pause", 5000),
    ("speech", 900),
    ("pause", 750),
    ("speech", 3100),
    ("pause", 3000),
]


def session_chunks() -> list[np.ndarray]:
    return [
        speech(ms, 180 + 40 * i) if kind == "speech" else silence(ms)
        for i, (kind, ms) in enumerate(SESSION)
    ]


def session_layout() -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """(speech spans, pause spans, total) in ms, as placed in the input."""
    spoken: list[tuple[int, int]] = []
    paused: list[tuple[int, int]] = []
    at = 0
    for kind, ms in SESSION:
        (spoken if kind == "speech" else paused).append((at, at + ms))
        at += ms
    return spoken, paused, at


def session_chapters() -> list[Chapter]:
    """One chapter per step (speech and its pause). The first has the longest title, so an
    order by frame size (what mutagen does on its own) differs from the order in time."""
    spoken, _, total = session_layout()
    titles = [LONG_TITLE, "Adem in", "Laat los en ontspan je schouders", "Tot slot: rek je uit"]
    starts = [start for start, _ in spoken]
    ends = [*starts[1:], total]
    return [Chapter(s, e, t) for s, e, t in zip(starts, ends, titles)]


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    destination = tmp_path_factory.mktemp("export") / "sessie.mp3"
    write_mp3(destination, iter(session_chunks()), METADATA, session_chapters())
    return destination


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# --------------------------------------------------------------------------- the MP3 itself


def test_mp3_is_mono_44k1_constant_64k(encoded: Path) -> None:
    info = MP3(encoded).info
    assert info.sample_rate == SAMPLE_RATE
    assert info.channels == 1
    assert info.bitrate_mode == BitrateMode.CBR
    assert abs(info.bitrate - 64_000) < 1_000


def test_decoded_length_matches_the_input(encoded: Path) -> None:
    _, _, total_ms = session_layout()
    samples = audiotools.decode(encoded)
    # The Xing/LAME header tells the decoder the encoder delay and padding: ffmpeg trims both.
    assert abs(samples.size - ms_to_samples(total_ms)) <= ms_to_samples(TOLERANCE_MS)
    assert abs(audiotools.duration_ms(encoded) - total_ms) <= TOLERANCE_MS


def test_speech_starts_where_it_was_placed(encoded: Path) -> None:
    """No shift by the encoder delay: the first loud sample is where the input had it."""
    source = np.concatenate(session_chunks())
    decoded = audiotools.decode(encoded)
    threshold = 0.05 * 32767
    first_in = int(np.flatnonzero(np.abs(source.astype(np.int32)) > threshold)[0])
    first_out = int(np.flatnonzero(np.abs(decoded.astype(np.int32)) > threshold)[0])
    assert abs(first_out - first_in) <= ms_to_samples(2)


def test_pauses_are_where_and_as_long_as_the_input_had_them(encoded: Path) -> None:
    _, paused, _ = session_layout()
    found = audiotools.silences(encoded, noise_db=-50, min_ms=300)
    assert len(found) == len(paused), found
    for (start, end), (want_start, want_end) in zip(found, paused):
        assert abs(start - want_start) <= TOLERANCE_MS, (found, paused)
        assert abs(end - want_end) <= TOLERANCE_MS, (found, paused)
        assert abs((end - start) - (want_end - want_start)) <= TOLERANCE_MS


def test_ffmpeg_wrote_no_tag_of_its_own(encoded: Path) -> None:
    data = encoded.read_bytes()
    assert data[-128:-125] != b"TAG"  # no ID3v1
    assert data.count(b"ID3\x03") == 1 and data.count(b"ID3\x04") == 0  # only ours, v2.3
    assert "TSSE" not in ID3(encoded)  # no "Lavf..." encoder frame


# --------------------------------------------------------------------------- tags


def test_tags_read_back_with_mutagen(encoded: Path) -> None:
    tags = ID3(encoded)
    assert tags.version == (2, 3, 0)
    assert tags["TIT2"].text == [METADATA.title]
    assert tags["TPE1"].text == [METADATA.artist]
    assert tags["TALB"].text == [METADATA.album]
    assert tags["TXXX:voice"].text == ["nl-espeak"]
    assert tags["TXXX:engine"].text == ["espeak 1.52"]
    assert tags["TCON"].text == ["Speech"]
    assert str(tags["TDRC"].text[0]) == "2025"  # stored as TYER in v2.3, read back as TDRC
    assert tags.getall("COMM")[0].text == [METADATA.comment]
    _, _, total_ms = session_layout()
    assert abs(int(tags["TLEN"].text[0]) - total_ms) <= 1


def test_tags_read_back_with_ffmpeg(encoded: Path) -> None:
    tags = audiotools.ffmpeg_tags(encoded)
    assert tags["title"] == METADATA.title
    assert tags["artist"] == METADATA.artist
    assert tags["album"] == METADATA.album
    assert tags["voice"] == "nl-espeak"
    assert tags["comment"] == METADATA.comment


def test_optional_tags_may_be_left_out(tmp_path: Path) -> None:
    bare = Metadata(
        title="Kort", artist="rustpunt", album="Test", voice="nl-google", engine="gTTS 2.5"
    )
    destination = tmp_path / "kort.mp3"
    write_mp3(destination, [speech(500)], bare, [])
    tags = ID3(destination)
    assert "TDRC" not in tags and not tags.getall("COMM") and not tags.getall("CTOC")
    assert tags["TXXX:voice"].text == ["nl-google"]
    assert audiotools.chapters(destination) == []


# --------------------------------------------------------------------------- chapters


def test_ffmpeg_lists_every_chapter_in_time_order_with_its_title(encoded: Path) -> None:
    want = [(c.start_ms, c.end_ms, c.title) for c in session_chapters()]
    found = audiotools.chapters(encoded)
    assert [title for _, _, title in found] == [title for _, _, title in want]
    for (start, end, _), (want_start, want_end, _) in zip(found, want):
        assert abs(start - want_start) <= 1 and abs(end - want_end) <= 1
    assert [start for start, _, _ in found] == sorted(start for start, _, _ in found)


def test_long_accented_title_survives_in_ffmpeg(encoded: Path) -> None:
    """150 characters with "één" and "knieën": over 128 bytes in any encoding (PITFALLS)."""
    titles = [title for _, _, title in audiotools.chapters(encoded)]
    assert LONG_TITLE in titles
    assert len(LONG_TITLE.encode("utf-16")) > 128


def test_ctoc_lists_every_chapter_in_order(encoded: Path) -> None:
    tags = ID3(encoded)
    (toc,) = tags.getall("CTOC")
    assert toc.flags & CTOCFlags.TOP_LEVEL and toc.flags & CTOCFlags.ORDERED
    chapters = session_chapters()
    assert toc.child_element_ids == [f"chp{i}" for i in range(len(chapters))]
    for element_id, chapter in zip(toc.child_element_ids, chapters):
        frame = tags[f"CHAP:{element_id}"]
        assert (frame.start_time, frame.end_time) == (chapter.start_ms, chapter.end_ms)
        assert frame.sub_frames["TIT2"].text == [chapter.title]


def test_many_chapters_of_random_title_lengths_stay_in_time_order(tmp_path: Path) -> None:
    """CHAP frames sit in the file in time order, whatever their sizes; given out of order too."""
    rng = np.random.default_rng(7)
    chapters = [
        Chapter(i * 100, (i + 1) * 100, f"Stap {i}: " + "knieën " * int(rng.integers(0, 25)))
        for i in range(40)
    ]
    shuffled = [chapters[i] for i in rng.permutation(len(chapters))]
    destination = tmp_path / "veel.mp3"
    write_mp3(destination, [speech(4000)], METADATA, shuffled)
    found = audiotools.chapters(destination)
    assert found == [(c.start_ms, c.end_ms, c.title) for c in chapters]
    assert ID3(destination).getall("CTOC")[0].child_element_ids == [f"chp{i}" for i in range(40)]


def test_impossible_chapter_times_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="impossible times"):
        write_mp3(tmp_path / "x.mp3", [speech(300)], METADATA, [Chapter(500, 100, "terug")])
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- failures


class Boom(Exception):
    pass


def failing_chunks(error: BaseException, after: int = 3):
    for _ in range(after):
        yield speech(1000)
    raise error


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen]:
    """Every ffmpeg write_mp3 starts, to check that it was reaped."""
    processes: list[subprocess.Popen] = []
    real = subprocess.Popen

    def recording(*args, **kwargs):
        process = real(*args, **kwargs)
        processes.append(process)
        return process

    monkeypatch.setattr(export.subprocess, "Popen", recording)
    return processes


@pytest.mark.parametrize(
    "error",
    [
        Boom("the speech engine fell over"),
        SynthesisError("gTTS gave no audio"),
        KeyboardInterrupt(),
    ],
    ids=["exception", "rustpunt-error", "keyboard-interrupt"],
)
def test_a_failing_chunk_iterator_leaves_nothing_and_propagates_unchanged(
    tmp_path: Path, spawned: list[subprocess.Popen], error: BaseException
) -> None:
    destination = tmp_path / "sessie.mp3"
    with pytest.raises(type(error)) as raised:
        write_mp3(destination, failing_chunks(error), METADATA, session_chapters())
    assert raised.value is error
    assert leftovers(tmp_path) == []
    assert len(spawned) == 1 and spawned[0].returncode is not None  # killed and reaped


def test_a_failure_keeps_the_previous_file(tmp_path: Path) -> None:
    destination = tmp_path / "sessie.mp3"
    destination.write_bytes(b"the previous build")
    with pytest.raises(Boom):
        write_mp3(destination, failing_chunks(Boom()), METADATA, [])
    assert destination.read_bytes() == b"the previous build"
    assert leftovers(tmp_path) == ["sessie.mp3"]


@pytest.mark.parametrize("bitrate", [-5, 0, 65, 9999])
def test_a_bitrate_mp3_does_not_have_is_an_export_error(tmp_path: Path, bitrate: int) -> None:
    with pytest.raises(ExportError, match="kbit/s"):
        write_mp3(tmp_path / "x.mp3", [speech(500)], METADATA, [], bitrate_kbps=bitrate)
    assert leftovers(tmp_path) == []


def test_a_real_ffmpeg_failure_is_an_export_error_with_its_last_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spawned: list[subprocess.Popen]
) -> None:
    """The real ffmpeg, given an option it rejects (a later -b:a wins over ours)."""
    real = export.encoder_command
    monkeypatch.setattr(
        export, "encoder_command", lambda exe, kbps: [*real(exe, kbps), "-b:a", "-5k"]
    )
    with pytest.raises(ExportError, match="ffmpeg could not encode") as raised:
        write_mp3(tmp_path / "x.mp3", (speech(1000) for _ in range(20)), METADATA, [])
    assert "out of range" in str(raised.value)
    assert "\n" not in str(raised.value)
    assert leftovers(tmp_path) == []
    assert all(process.returncode is not None for process in spawned)


def fake_ffmpeg(folder: Path, body: str) -> str:
    script = folder / "fake-ffmpeg"
    script.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_ffmpeg_dying_midway_stops_the_chunks_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    exe = fake_ffmpeg(
        tools,
        "sys.stdin.buffer.read(200_000)\n"
        "sys.stderr.write('some progress\\nlibmp3lame: the disk is on fire\\n')\n"
        "sys.exit(1)",
    )
    monkeypatch.setattr(export, "ffmpeg_exe", lambda: exe)
    out = tmp_path / "out"
    produced = []

    def chunks():
        for _ in range(1000):  # 1000 s: far more than the fake ever reads
            produced.append(1)
            yield speech(1000)

    with pytest.raises(ExportError, match="the disk is on fire$"):
        write_mp3(out / "x.mp3", chunks(), METADATA, [])
    assert leftovers(out) == []
    assert len(produced) < 100  # synthesis stopped soon after ffmpeg did


def test_an_empty_session_is_an_export_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no audio"):
        write_mp3(tmp_path / "x.mp3", iter([]), METADATA, [])
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "chunk",
    [np.zeros(100, dtype=np.float32), np.zeros((100, 2), dtype=np.int16)],
    ids=["float", "stereo"],
)
def test_chunks_must_be_mono_int16(tmp_path: Path, chunk: np.ndarray) -> None:
    with pytest.raises(ValueError, match="int16"):
        write_mp3(tmp_path / "x.mp3", [speech(200), chunk], METADATA, [])
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- pre-flight


def test_check_writable_makes_a_new_folder(tmp_path: Path) -> None:
    folder = tmp_path / "nieuw" / "output"
    check_writable(folder)
    assert folder.is_dir() and leftovers(folder) == []


def test_check_writable_refuses_a_folder_under_a_regular_file(tmp_path: Path) -> None:
    blocker = tmp_path / "bestand"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError, match="cannot write the output folder") as raised:
        check_writable(blocker / "output")
    assert "\n" not in str(raised.value)


def test_check_encoder_without_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> str:
        raise RustpuntError("ffmpeg is not available (gone); reinstall")

    monkeypatch.setattr(export, "ffmpeg_exe", missing)
    with pytest.raises(ExportError, match="ffmpeg is not available"):
        check_encoder()


def test_check_encoder_with_an_ffmpeg_that_cannot_encode_mp3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = fake_ffmpeg(
        tmp_path, "sys.stderr.write(\"Unknown encoder 'libmp3lame'\\n\")\nsys.exit(8)"
    )
    monkeypatch.setattr(export, "ffmpeg_exe", lambda: exe)
    with pytest.raises(ExportError, match="no libmp3lame.*pip install"):
        check_encoder()


# --------------------------------------------------------------------------- sidecars


def vtt_ms(stamp: str) -> int:
    hours, minutes, seconds = stamp.split(":")
    return round((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * 1000)


def test_vtt_reads_back_with_webvtt(tmp_path: Path) -> None:
    cues = [
        Cue(0, 1800, "Ga rechtop staan."),
        Cue(3800, 6200, "Buig door je knieën & houd één minuut vast <rustig>."),
        Cue(61_234, 62_001, "Twee regels\n\nin één cue"),
        Cue(3_725_007, 3_726_999, "Na meer dan een uur"),
    ]
    destination = tmp_path / "sessie.vtt"
    write_vtt(destination, cues)
    text = destination.read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n\n") and text.endswith("\n")
    assert "01:02:05.007 --> 01:02:06.999" in text
    parsed = webvtt.read(str(destination))
    assert [(vtt_ms(c.start), vtt_ms(c.end)) for c in parsed] == [
        (c.start_ms, c.end_ms) for c in cues
    ]
    assert [html.unescape(c.text) for c in parsed] == [
        "Ga rechtop staan.",
        "Buig door je knieën & houd één minuut vast <rustig>.",
        "Twee regels\nin één cue",
        "Na meer dan een uur",
    ]
    assert leftovers(tmp_path) == ["sessie.vtt"]


def test_vtt_refuses_impossible_cues(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_vtt(tmp_path / "x.vtt", [Cue(2000, 1000, "terug in de tijd")])
    assert leftovers(tmp_path) == []


CUE_TEXTS = [
    "Ga rechtop staan.",
    "Buig & strek <langzaam> > 3 keer",
    " spaties rond ",
    "Twee regels\n\nin één cue",
    "windows\r\nregels",
    "scheiding\u2028en\u2029alinea\x85volgende\x0bverticaal\x0cpagina\x1c\x1d\x1e",
    "tab\tin het midden",
    "\u00a0harde spatie\u00a0",
    "",
    "   ",
    "\n",
    "🙂 emoji en ë",
]


@pytest.mark.parametrize(
    ("ms", "stamp"),
    [
        (0, "00:00:00.000"),
        (1, "00:00:00.001"),
        (999, "00:00:00.999"),
        (1000, "00:00:01.000"),
        (59_999, "00:00:59.999"),
        (60_000, "00:01:00.000"),
        (3_599_999, "00:59:59.999"),
        (3_600_000, "01:00:00.000"),
        (359_999_999, "99:59:59.999"),
        (360_000_000, "100:00:00.000"),
    ],
)
def test_vtt_times_at_every_carry(ms: int, stamp: str) -> None:
    assert vtt_text([Cue(ms, ms + 1, "x")]).splitlines()[2].startswith(f"{stamp} --> ")


@pytest.mark.parametrize("text", CUE_TEXTS)
def test_plain_cue_text_only_where_nothing_would_change(text: str) -> None:
    """The shortcut for text that needs no escaping or clean-up writes what the clean-up would."""
    assert not sidecars._plain_cue_text(text) or sidecars._vtt_text(text) == text
    cleaned = sidecars._vtt_text(text)
    expected = "00:00:00.005 --> 00:00:00.010" + (f"\n{cleaned}" if cleaned else "")
    assert vtt_text([Cue(5, 10, text)]) == f"WEBVTT\n\n{expected}\n"


@pytest.mark.parametrize("times", [(10, 10), (-1, 5), (20, 10)])
def test_vtt_text_refuses_impossible_times(times: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="impossible times"):
        vtt_text([Cue(0, 5, "goed"), Cue(*times, "fout")])


def test_json_round_trips_non_ascii(tmp_path: Path) -> None:
    document = {
        "title": "Knieën buigen",
        "steps": [{"text": "Houd één minuut vast", "pause_ms": 60000}],
    }
    destination = tmp_path / "sessie.json"
    write_json(destination, document)
    raw = destination.read_bytes()
    assert "Knieën".encode() in raw  # not \u00eb
    assert raw.endswith(b"}\n")
    assert raw.startswith(b'{\n  "title"')
    assert json.loads(raw.decode("utf-8")) == document
    assert leftovers(tmp_path) == ["sessie.json"]


def test_json_that_cannot_be_written_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_json(tmp_path / "x.json", {"path": Path("geen json")})
    with pytest.raises(ValueError):
        write_json(tmp_path / "x.json", {"gain": float("nan")})
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- streaming


def test_ten_minutes_stream_without_holding_the_session(tmp_path: Path) -> None:
    """600 one-second chunks made on demand: the session (53 MB as int16) is never in memory."""
    consumed = 0

    def chunks():
        nonlocal consumed
        for second in range(600):
            consumed += 1
            yield speech(1000, 200 + second % 7 * 30) if second % 10 < 3 else silence(1000)

    destination = tmp_path / "lang.mp3"
    tracemalloc.start()
    try:
        write_mp3(destination, chunks(), METADATA, [Chapter(0, 600_000, "Alles")])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert consumed == 600
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while streaming"
    assert abs(MP3(destination).info.length - 600) < 1
    assert leftovers(tmp_path) == ["lang.mp3"]


def test_three_hundred_chapters_use_nested_tables_of_contents(tmp_path: Path) -> None:
    """A CTOC counts its children in one byte: 300 steps go into two nested tables that mutagen
    reads back, and ffmpeg still lists every chapter, in time order."""
    chapters = [Chapter(i * 20, (i + 1) * 20, f"Stap {i + 1}") for i in range(300)]
    destination = tmp_path / "lang.mp3"
    write_mp3(destination, [speech(6000)], METADATA, chapters)
    assert audiotools.chapters(destination) == [(c.start_ms, c.end_ms, c.title) for c in chapters]
    tags = ID3(destination)
    top = [toc for toc in tags.getall("CTOC") if toc.flags & CTOCFlags.TOP_LEVEL]
    assert len(top) == 1
    nested = [tags[f"CTOC:{child}"] for child in top[0].child_element_ids]
    assert [len(toc.child_element_ids) for toc in nested] == [255, 45]
    listed = [element for toc in nested for element in toc.child_element_ids]
    assert listed == [f"chp{i}" for i in range(300)]
