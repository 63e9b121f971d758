"""Sentences, clauses, inline pauses and caption lines: the text side of speaking sentence by
sentence, and how `check`, `plan`, the profiles and the build key know of it (no audio here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_main, write_script
from rustpunt.build.session import BuildOptions, build_key, voices_for
from rustpunt.errors import ProfileError, ScriptError
from rustpunt.memo import MEMOS
from rustpunt.script.load import load_script
from rustpunt.script.plan import plan
from rustpunt.script.sentences import (
    CAPTION_LINE_CHARS,
    InlinePause,
    InlinePauseError,
    _phrases,
    caption_cues,
    clauses,
    phrases,
    sentences,
    split_inline,
    timing_text,
)
from rustpunt.voice.profiles import (
    DEFAULT_CLAUSE_PAUSE_MS,
    DEFAULT_SENTENCE_PAUSE_MS,
    VoiceRegistry,
    load_profile,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sluit je ogen.", ["Sluit je ogen."]),
        (
            "Houd je aandacht bij je adem. Dwaal je af, dan is dat goed. Begin gewoon opnieuw.",
            [
                "Houd je aandacht bij je adem.",
                "Dwaal je af, dan is dat goed.",
                "Begin gewoon opnieuw.",
            ],
        ),
        (
            "Blijf 1.5 minuut liggen. Om 10.30 uur stop je.",
            ["Blijf 1.5 minuut liggen.", "Om 10.30 uur stop je."],
        ),
        (
            "Neem bijv. de trein. Dr. Jansen zegt het.",
            ["Neem bijv. de trein.", "Dr. Jansen zegt het."],
        ),
        ("Echt? Ja! Goed zo...", ["Echt?", "Ja!", "Goed zo..."]),
        ('Zeg zacht "Rust." En adem uit.', ['Zeg zacht "Rust."', "En adem uit."]),
        ("Adem in. 4 tellen lang.", ["Adem in.", "4 tellen lang."]),
        ("Adem in.  ", ["Adem in."]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_clauses_keep_their_mark_and_numbers_stay_whole() -> None:
    assert clauses("Dwaal je af, dan is dat goed.") == ["Dwaal je af,", "dan is dat goed."]
    assert clauses("Houd 2,5 seconden vast; dan: los.") == [
        "Houd 2,5 seconden vast;",
        "dan:",
        "los.",
    ]
    assert clauses("Ja, .") == ["Ja, ."]


@pytest.mark.parametrize(
    ("written", "ms"),
    [
        ("(pauze 4 s)", 4000),
        ("(pauze 4s)", 4000),
        ("(pauze 4)", 4000),
        ("(Pauze 2,5 seconden)", 2500),
        ("(pauze 1.5 sec)", 1500),
        ("( pauze  10 seconde )", 10_000),
        ("(pauze 1 min)", 60_000),
        ("(PAUZE 2 minuten)", 120_000),
        ("(pauze 60 minuten)", 3_600_000),
    ],
)
def test_inline_pause_forms(written: str, ms: int) -> None:
    pieces = split_inline(f"Adem in {written} en uit.")
    assert pieces[0] == "Adem in" and pieces[2] == "en uit."
    assert isinstance(pieces[1], InlinePause) and pieces[1].ms == ms


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Adem in (pauze vier s) en uit.", "write it as (pauze 4 s)"),
        ("Adem in (pauze) en uit.", "write it as (pauze 4 s)"),
        ("Adem in (pauze 4 s en uit.", "write it as (pauze 4 s)"),
        ("Adem in (pauze -4 s) en uit.", "write it as (pauze 4 s)"),
        ("Adem in (pauze 4 uur) en uit.", "unknown unit 'uur'"),
        ("Adem in (pauze 61 min) en uit.", "over an hour"),
        ("Adem in (pauze 0 s) en uit.", "no pause at all"),
        ("Adem in (pauze 0.0001 s) en uit.", "no pause at all"),  # 0 ms, as (pauze 0 s)
        ("Adem in (pauze 0,000004 min) en uit.", "no pause at all"),
        ("Adem in (pauze 1.000 s) en uit.", "'1.000' is ambiguous"),  # as `pause: 1.000`
        ("(pauze 4 s) Adem in.", "starts the text"),
        ("Adem in. (pauze 4 s)", "ends the text"),
        ("Adem in (pauze 4 s) (pauze 2 s) en uit.", "follows another pause"),
    ],
)
def test_malformed_or_absurd_inline_pauses(text: str, says: str) -> None:
    with pytest.raises(InlinePauseError, match=r".") as caught:
        split_inline(text)
    assert says in str(caught.value)


def test_remarks_in_brackets_are_just_text() -> None:
    text = "Ga zitten (of liggen) en ontspan (pauzeer gerust)."
    assert split_inline(text) == [text]


def test_a_cue_answered_by_an_inline_pause_is_not_waited_for_twice() -> None:
    assert timing_text("Adem vier tellen in (pauze 4 s) en zes tellen uit.") == "en zes tellen uit."
    assert timing_text("Houd dit vijf seconden vast.") == "Houd dit vijf seconden vast."


def test_phrases_and_their_gaps() -> None:
    text = "Adem vier tellen in (pauze 4 s) en uit. Dwaal je af, begin opnieuw."
    whole = phrases(text, split_clauses=False)
    assert [(p.text, p.sentence, p.gap, p.gap_ms) for p in whole] == [
        ("Adem vier tellen in", 0, "inline", 4000),
        ("en uit.", 1, "sentence", 0),
        ("Dwaal je af, begin opnieuw.", 2, "end", 0),
    ]
    split = phrases(text, split_clauses=True)
    assert [(p.text, p.sentence, p.gap) for p in split][2:] == [
        ("Dwaal je af,", 2, "clause"),
        ("begin opnieuw.", 2, "end"),
    ]


LONG = (
    "Voel je tenen, zonder ze te bewegen, en merk op wat je voelt in je voetzolen, je hielen en "
    "de bovenkant van je voeten, zonder er iets aan te veranderen of er iets van te vinden."
)


@pytest.mark.parametrize(
    "sentence",
    [
        "Sluit je ogen.",
        "Adem rustig in door je neus, en voel hoe je buik omhoog komt onder je hand.",
        LONG,
        "Onwaarschijnlijkerwijsheidsoverwegingencomplexiteitsberekeningsmodellen zijn lang.",
    ],
)
def test_caption_cues_have_two_lines_of_42_at_most(sentence: str) -> None:
    cues = caption_cues(sentence)
    for cue in cues:
        lines = cue.split("\n")
        assert 1 <= len(lines) <= 2
        assert all(0 < len(line) <= CAPTION_LINE_CHARS for line in lines), lines
    assert " ".join(" ".join(cue.split("\n")) for cue in cues).replace(" ", "") == sentence.replace(
        " ", ""
    )


def test_a_long_sentence_splits_at_a_clause() -> None:
    cues = caption_cues(LONG)
    assert len(cues) >= 2
    assert cues[0].replace("\n", " ").endswith(",")


@pytest.mark.parametrize(
    ("sentence", "lines"),
    [
        (
            "Herhaal dit vijf keer, in je eigen rustige tempo.",
            ["Herhaal dit vijf keer,", "in je eigen rustige tempo."],
        ),
        (  # two clauses that fit: the break after the one nearest the middle
            "Adem in, houd vast, en adem dan langzaam weer helemaal uit.",
            ["Adem in, houd vast,", "en adem dan langzaam weer helemaal uit."],
        ),
        (  # no clause break where both lines fit: the most even break between words
            "Ontspan je schouders en laat je armen zwaar worden.",
            ["Ontspan je schouders en", "laat je armen zwaar worden."],
        ),
    ],
)
def test_a_two_line_cue_breaks_at_a_clause_when_both_lines_fit(
    sentence: str, lines: list[str]
) -> None:
    assert caption_cues(sentence) == ["\n".join(lines)]


@pytest.mark.parametrize("size", [43, 85, 50_000])
def test_a_word_longer_than_a_cue_is_split_over_cues_of_two_lines(size: int) -> None:
    word = "a" * size
    for sentence in (word, f"Adem {word} uit."):
        cues = caption_cues(sentence)
        assert all(
            len(lines := cue.split("\n")) <= 2
            and all(len(line) <= CAPTION_LINE_CHARS for line in lines)
            for cue in cues
        )
        assert "".join(cue.replace("\n", "").replace(" ", "") for cue in cues) == sentence.replace(
            " ", ""
        )
    assert len(caption_cues(word)) == -(-size // (2 * CAPTION_LINE_CHARS))  # full cues


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["adem", "rustig,", "in", "ontspanning", "je", "schouders;", "x" * 30]),
        min_size=1,
        max_size=40,
    )
)
def test_any_sentence_fits_the_caption_rules(words: list[str]) -> None:
    sentence = " ".join(words) + "."
    for cue in caption_cues(sentence):
        lines = cue.split("\n")
        assert len(lines) <= 2 and all(len(line) <= CAPTION_LINE_CHARS for line in lines)


# --------------------------------------------------------------------------- the script loader


def test_check_names_file_and_line_of_a_bad_inline_pause(tmp_path: Path) -> None:
    path = write_script(
        tmp_path,
        "s.yaml",
        "title: t\nsteps:\n  - Sluit je ogen.\n  - text: Adem in (pauze vier) en uit.\n    pause: 3\n",
    )
    result = run_main("check", path)
    assert result.returncode == 1
    assert f"{path}:4: step 2 text: '(pauze vier)' is not an inline pause" in result.stderr
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert caught.value.line == 4


def test_absurd_inline_pause_in_the_intro_is_refused(tmp_path: Path) -> None:
    path = write_script(
        tmp_path, "s.yaml", "title: t\nintro: Welkom (pauze 2 uur) hier.\nsteps:\n  - a\n"
    )
    result = run_main("check", path)
    assert result.returncode == 1 and f"{path}:2: intro:" in result.stderr


def test_the_pause_after_a_step_reads_only_the_words_after_its_last_inline_pause(
    tmp_path: Path,
) -> None:
    path = write_script(
        tmp_path,
        "s.yaml",
        "title: t\npause: 5\nsteps:\n"
        "  - Adem vier tellen in (pauze 4 s) en zes tellen uit.\n"
        "  - Houd dit vijf seconden vast (pauze 5 s) en laat los.\n",
    )
    timeline = plan(load_script(path))
    pauses = [item for item in timeline.items if getattr(item, "ms", None) is not None]
    after = {p.step: (p.ms, p.rule) for p in pauses if p.step}  # type: ignore[attr-defined]
    assert after == {1: (6000, "seconds"), 2: (5000, "default")}
    # the estimate counts the inline pauses and not the words of `(pauze 4 s)`
    words = 8 + 8
    assert timeline.estimated_ms() == timeline.pause_ms() + 9000 + words * 60_000 // 115


def test_plan_shows_inline_pauses_and_the_spoken_form(tmp_path: Path) -> None:
    path = write_script(
        tmp_path,
        "s.yaml",
        "title: t\nsteps:\n  - Adem vier tellen in (pauze 4 s) en uit.\n  - Bel de GGZ om 10:30.\n",
    )
    write_script(tmp_path, "lexicon.yaml", "words:\n  uit: uuuit\n")
    result = run_main("plan", path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index("step  1  Adem vier tellen in")
    assert lines[at + 1].split() == [
        "pause",
        "4.0",
        "s",
        "[inline]",
        "(pauze",
        "4",
        "s)",
        "in",
        "the",
        "text",
    ]
    assert lines[at + 2].strip() == "en uit."
    assert lines[at + 3].strip() == "(says: en uuuit.)"  # the folder's lexicon.yaml
    assert "(says: Bel de gee-gee-zet om half elf.)" in result.stdout  # the built-in lexicon
    document = json.loads(run_main("plan", path, "--json").stdout)
    pieces = document["items"][1]["pieces"]
    assert pieces == [
        {"type": "speech", "text": "Adem vier tellen in", "spoken": "Adem vier tellen in"},
        {"type": "pause", "ms": 4000, "written": "(pauze 4 s)"},
        {"type": "speech", "text": "en uit.", "spoken": "en uuuit."},
    ]


def test_check_warns_about_words_the_lexicon_would_need_without_failing(tmp_path: Path) -> None:
    path = write_script(
        tmp_path,
        "s.yaml",
        "title: t\nsteps:\n  - Sluit je ogen.\n  - Luister naar je MP3 of de KNMI.\n",
    )
    result = run_main("check", path)
    assert result.returncode == 0, result.stderr
    assert f"{path}:4: warning: step 2: 'MP3' may be mispronounced" in result.stderr
    assert f"{path}:4: warning: step 2: 'KNMI' may be mispronounced" in result.stderr
    document = json.loads(run_main("check", path, "--json").stdout)
    assert document["problems"] == [] and len(document["warnings"]) == 2
    write_script(tmp_path, "lexicon.yaml", "words:\n  MP3: em pee drie\n  KNMI: kaa en em ie\n")
    assert "warning" not in run_main("check", path).stderr


def test_check_reports_a_broken_folder_lexicon_at_its_line(tmp_path: Path) -> None:
    path = write_script(tmp_path, "s.yaml", "title: t\nsteps:\n  - Sluit je ogen.\n")
    lexicon = write_script(tmp_path, "lexicon.yaml", "words:\n  ggz: [1, 2]\n")
    result = run_main("check", path)
    assert result.returncode == 1
    assert f"{lexicon}:2:" in result.stderr


# --------------------------------------------------------------------------- voice profiles


def test_profiles_have_sentence_and_clause_pauses(tmp_path: Path) -> None:
    plain = write_script(tmp_path, "plain.yaml", "engine: espeak\n")
    profile = load_profile(plain)
    assert (profile.sentence_pause_ms, profile.clause_pause_ms) == (
        DEFAULT_SENTENCE_PAUSE_MS,
        DEFAULT_CLAUSE_PAUSE_MS,
    )
    slow = write_script(
        tmp_path, "slow.yaml", "engine: espeak\nsentence_pause: 1.2\nclause_pause: 0.25\n"
    )
    loaded = load_profile(slow)
    assert (loaded.sentence_pause_ms, loaded.clause_pause_ms) == (1200, 250)
    assert loaded.fingerprint() != profile.fingerprint()
    espeak = VoiceRegistry().get("nl-espeak")
    assert (espeak.sentence_pause_ms, espeak.clause_pause_ms) == (800, 300)
    assert espeak.settings["wordgap"] == 0 and espeak.settings["range"] >= 50


@pytest.mark.parametrize("value", ["-0.5", "6", "'lang'", "true", ".nan"])
def test_absurd_speech_pauses_are_refused_at_their_line(tmp_path: Path, value: str) -> None:
    path = write_script(tmp_path, "bad.yaml", f"engine: espeak\n\nclause_pause: {value}\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert caught.value.line == 3 and "`clause_pause:` must be seconds from 0 to 5" in str(
        caught.value
    )


# --------------------------------------------------------------------------- the build key


def test_the_build_key_covers_the_lexicon_and_the_engine(tmp_path: Path) -> None:
    script_path = write_script(tmp_path, "s.yaml", "title: t\nvoice: nl-espeak\nsteps:\n  - a\n")
    options = BuildOptions(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache")

    def key() -> str:
        script = load_script(script_path)
        return build_key(script, voices_for(script_path), "nl-espeak", options)

    first = key()
    assert key() == first
    lexicon = write_script(tmp_path, "lexicon.yaml", "words:\n  ggz: gee gee zet\n")
    with_lexicon = key()
    assert with_lexicon != first
    lexicon.write_text("words:\n  ggz: geezeezet\n", encoding="utf-8")
    assert key() not in (first, with_lexicon)
    # another espeak rate is another engine identity (and profile)
    voices = tmp_path / "voices"
    write_script(voices, "nl-espeak.yaml", "engine: espeak\nsettings: {rate: 120}\n")
    assert key() != with_lexicon


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Adem",
                "in.",
                "uit,",
                "rustig;",
                "Dr.",
                "Jansen",
                "2,5",
                "10.30",
                "En",
                "(pauze 4 s)",
                "(pauze 1,5 seconden)",
                "ja!",
                "…",
                "(pauze)",
                "  ",
            ]
        ),
        max_size=12,
    ).map(" ".join),
    st.booleans(),
)
def test_phrases_kept_per_text_equal_phrases_worked_out_afresh(
    text: str, split_clauses: bool
) -> None:
    try:
        with MEMOS.off():
            expected = list(_phrases(text, split_clauses))
    except InlinePauseError:
        with pytest.raises(InlinePauseError):
            phrases(text, split_clauses=split_clauses)
        return
    for _ in range(2):
        found = phrases(text, split_clauses=split_clauses)
        assert found == expected
        found.clear()  # the caller's own list: the kept phrases stay
