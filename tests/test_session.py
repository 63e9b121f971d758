"""session on its own, no audio engine: the up-to-date rule, chapters, captions, the sidecar."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_script
from rustpunt.audio.mix import Mix, Placement, place
from rustpunt.audio.pcm import samples_to_ms
from rustpunt.build.session import (
    BuildStatus,
    _caption_texts,
    chapters,
    cues,
    output_paths,
    sentence_cues,
    sentence_spans,
    sidecar,
    up_to_date,
)
from rustpunt.mp3.sidecars import Cue
from rustpunt.script.load import load_script
from rustpunt.script.plan import Speech, Timeline, plan
from rustpunt.script.sentences import caption_cues, sentences, split_span
from rustpunt.voice.joining import PhraseSpan
from rustpunt.voice.profiles import VoiceRegistry
from rustpunt.voice.speak import SpokenSession
from stocktexts import step_texts


def outputs(tmp_path: Path, mp3: bytes = b"ID3 mp3", vtt: bytes = b"WEBVTT\n") -> dict:
    paths = output_paths(tmp_path / "adem.yaml", tmp_path / "out")
    paths.mp3.parent.mkdir(parents=True, exist_ok=True)
    paths.mp3.write_bytes(mp3)
    paths.vtt.write_bytes(vtt)
    return {
        "build_key": "k1",
        "duration_ms": 1234,
        "voice": {"used": "nl-espeak", "fallback_reason": None},
        "output_bytes": {"mp3": len(mp3), "vtt": len(vtt)},
    }


def test_recorded_outputs_of_the_same_key_are_up_to_date(tmp_path: Path) -> None:
    previous = outputs(tmp_path)
    paths = output_paths(tmp_path / "adem.yaml", tmp_path / "out")
    result = up_to_date(tmp_path / "adem.yaml", paths, "k1", previous)
    assert result is not None and result.status is BuildStatus.UP_TO_DATE
    assert (result.mp3, result.duration_ms, result.voice) == (paths.mp3, 1234, "nl-espeak")


def test_another_key_no_record_or_a_damaged_output_means_a_rebuild(tmp_path: Path) -> None:
    previous = outputs(tmp_path)
    paths = output_paths(tmp_path / "adem.yaml", tmp_path / "out")
    assert up_to_date(tmp_path / "adem.yaml", paths, "k2", previous) is None
    assert up_to_date(tmp_path / "adem.yaml", paths, "k1", None) is None
    older = {key: value for key, value in previous.items() if key != "output_bytes"}
    assert up_to_date(tmp_path / "adem.yaml", paths, "k1", older) is None  # sizes unknown
    paths.mp3.write_bytes(b"ID3")  # truncated
    assert up_to_date(tmp_path / "adem.yaml", paths, "k1", previous) is None
    paths.mp3.unlink()
    assert up_to_date(tmp_path / "adem.yaml", paths, "k1", previous) is None


# --------------------------------------------------------------------------- chapters, cues, sidecar

SCRIPT = """\
title: Kort
intro: Welkom.
steps:
  - text: Adem in. Adem uit.
    pause: 2
  - text: Ontspan.
    pause: 1
outro: Klaar.
"""
SECOND = 44_100


def placed(tmp_path: Path) -> tuple[Timeline, Mix, SpokenSession]:
    """A planned session with silent one-second clips (two for the two-sentence step)."""
    timeline = plan(load_script(write_script(tmp_path, "kort.yaml", SCRIPT)))
    lengths = {
        "Welkom.": SECOND,
        "Adem in. Adem uit.": 2 * SECOND,
        "Ontspan.": SECOND,
        "Klaar.": SECOND,
    }
    clips = {text: np.full(n, 1000, dtype="<i2") for text, n in lengths.items()}
    layouts = {
        "Adem in. Adem uit.": (
            PhraseSpan("Adem in.", "Adem in.", 0, 0, 40_000),
            PhraseSpan("Adem uit.", "Adem uit.", 1, 50_000, 2 * SECOND),
        )
    }
    mix = place(timeline, clips, normalize=False)
    profile = VoiceRegistry().get("nl-espeak")
    spoken = SpokenSession(profile, {"engine": "espeak"}, clips, 4, layouts=layouts)
    return timeline, mix, spoken


def test_chapters_cover_the_file_intro_steps_and_outro_in_order(tmp_path: Path) -> None:
    _, mix, _ = placed(tmp_path)
    found = chapters(mix)
    assert [c.title for c in found] == ["Intro", "Adem in. Adem uit.", "Ontspan.", "Outro"]
    assert found[0].start_ms == 0 and found[-1].end_ms == mix.duration_ms
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(found))  # no gaps
    step = next(p for p in mix.placements if getattr(p.item, "text", "") == "Adem in. Adem uit.")
    assert found[1].start_ms == step.start_ms  # a step's chapter starts at its first word


def test_one_cue_per_sentence_where_the_sentence_lies(tmp_path: Path) -> None:
    _, mix, spoken = placed(tmp_path)
    found = cues(mix, spoken.layouts)
    assert [c.text for c in found] == ["Welkom.", "Adem in.", "Adem uit.", "Ontspan.", "Klaar."]
    step = next(p for p in mix.placements if getattr(p.item, "text", "") == "Adem in. Adem uit.")
    assert (found[1].start_ms, found[1].end_ms) == (step.start_ms, step.start_ms + 907)
    assert found[2].start_ms == step.start_ms + 1134 and found[2].end_ms == step.end_ms


def test_the_sidecar_says_where_every_step_sentence_and_pause_lies(tmp_path: Path) -> None:
    timeline, mix, spoken = placed(tmp_path)
    document = sidecar(timeline, mix, spoken, "nl-google", "sleutel", tmp_path / "out")
    assert document["build_key"] == "sleutel" and document["duration_ms"] == mix.duration_ms
    assert document["script"] == "../kort.yaml"  # published: relative to the output folder
    assert (
        document["voice"]["requested"] == "nl-google" and document["voice"]["used"] == "nl-espeak"
    )
    first, second = document["steps"]
    assert first["pause"]["ms"] == 2000 and first["pause"]["rule"] == "explicit"
    assert first["end_ms"] == first["pause"]["end_ms"] == second["start_ms"]
    assert [s["text"] for s in first["sentences"]] == ["Adem in.", "Adem uit."]
    assert document["intro"]["text"] == "Welkom." and document["outro"]["text"] == "Klaar."


def test_remembered_caption_cues_are_the_ones_worked_out_afresh() -> None:
    found = [s for text in step_texts() for s in sentences(text)]
    found += [" ".join(found[i : i + 4]) for i in range(0, len(found), 4)]  # too long for one cue
    assert any(len(caption_cues(s)) > 1 for s in found)
    for sentence in found:
        assert _caption_texts(sentence) == tuple(caption_cues(sentence))
        assert _caption_texts(sentence) == tuple(caption_cues(sentence))  # from memory
        assert sentence_cues({"text": sentence, "start_ms": 10, "end_ms": 4010}) == [
            Cue(start, end, text)
            for text, (start, end) in zip(
                caption_cues(sentence), split_span(10, 4010, caption_cues(sentence))
            )
        ]


def _sentence_spans_before(
    placement: Placement, spans: tuple[PhraseSpan, ...]
) -> list[dict[str, Any]]:
    """sentence_spans as it was written before it was made faster: the reference."""
    found: list[dict[str, Any]] = []
    for span in spans:
        start = samples_to_ms(placement.start + span.start)
        end = samples_to_ms(placement.start + span.end)
        if found and found[-1]["index"] == span.sentence:
            found[-1]["text"] += f" {span.text}"
            found[-1]["end_ms"] = end
        else:
            found.append(
                {"index": span.sentence, "text": span.text, "start_ms": start, "end_ms": end}
            )
    return [{key: value for key, value in s.items() if key != "index"} for s in found]


@settings(max_examples=300, deadline=None)
@given(
    origin=st.integers(0, 10**9),
    pieces=st.lists(
        st.tuples(st.sampled_from(["Adem in,", "adem uit.", "Ontspan.", "Ja"]), st.integers(0, 2)),
        max_size=12,
    ),
    lengths=st.lists(st.integers(0, 50_000), min_size=24, max_size=24),
)
def test_sentence_spans_are_what_they_were(
    origin: int, pieces: list[tuple[str, int]], lengths: list[int]
) -> None:
    spans, position, sentence = [], 0, 0
    for index, (text, step) in enumerate(pieces):
        sentence += step  # phrases of one sentence follow each other
        start = position + lengths[2 * index]
        position = start + lengths[2 * index + 1]
        spans.append(PhraseSpan(text, text.lower(), sentence, start, position))
    placement = Placement(Speech("tekst", "step", 1), origin, origin + position + 1)
    found = sentence_spans(placement, tuple(spans))
    assert found == _sentence_spans_before(placement, tuple(spans))
    assert [list(s) for s in found] == [["text", "start_ms", "end_ms"]] * len(found)  # key order


def _split_span_before(start: int, end: int, texts: list[str]) -> list[tuple[int, int]]:
    """split_span as it was written before its one-text shortcut: the reference."""
    total = sum(len(t) for t in texts) or 1
    spans: list[tuple[int, int]] = []
    position, consumed = start, 0
    for index, piece in enumerate(texts):
        consumed += len(piece)
        last = index + 1 == len(texts)
        stop = end if last else start + math.floor((end - start) * consumed / total)
        spans.append((position, max(stop, position + 1)))
        position = stop
    return spans


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, 10**8),
    length=st.integers(-5, 60_000),
    texts=st.lists(st.text(max_size=90), max_size=4),
)
def test_split_span_is_what_it_was(start: int, length: int, texts: list[str]) -> None:
    assert split_span(start, start + length, texts) == _split_span_before(
        start, start + length, texts
    )
