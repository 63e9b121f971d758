"""Pause inference from the Dutch words of a step: real phrasings and the pause each must give."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rustpunt.script.timing import PauseDecision, _decide_pause, _remembered_pause, infer_pause
from stocktexts import step_texts

DEFAULT_MS = 6000
CYCLE_MS = 10_000

CASES = [
    # --- seconds: exactly N s; a hold ends on time, the next words end it ------------------
    ("Houd dit vijf seconden vast.", 5000, "seconds"),
    ("Houd de spanning tien seconden vast.", 10_000, "seconds"),
    ("Span je vuisten stevig aan en houd dat zeven seconden vast.", 7000, "seconds"),
    ("Luister vijfenveertig seconden naar de geluiden om je heen.", 45_000, "seconds"),
    ("Houd het zestig seconden vol, als dat lukt.", 60_000, "seconds"),
    ("Twintig seconden vasthouden, en dan loslaten.", 20_000, "seconds"),
    ("Houd dit 5 seconden vast.", 5000, "seconds"),
    ("Houd de houding 2,5 seconden vast.", 2500, "seconds"),
    ("Houd dit 10 sec. vast.", 10_000, "seconds"),
    ("Houd 30s vast.", 30_000, "seconds"),
    ("Wacht één seconde.", 1000, "seconds"),
    ("Adem twee seconden in.", 2000, "seconds"),  # shorter than the default: the cue wins
    ("HOUD DIT VIJF SECONDEN VAST!", 5000, "seconds"),
    ("Houd\u00a0dit  vijf\tseconden   vast", 5000, "seconds"),
    ("Houd, als het lukt, acht seconden vast.", 8000, "seconds"),
    # a zero asks for no time: straight on, as `pause: 0` (it was the default pause)
    ("Houd dit 0 seconden vast.", 0, "seconds"),
    ("Houd dit nul seconden vast.", 0, "seconds"),
    ("Blijf 0 minuten liggen.", 0, "minutes"),
    ("Houd dit 0 of 5 seconden vast.", 5000, "seconds"),
    # alternatives and ranges count once, at the longest
    ("Houd dit vijf of zes seconden vast.", 6000, "seconds"),
    ("Houd dit vijf à zes seconden vast.", 6000, "seconds"),
    ("Ontspan dertig tot veertig seconden.", 40_000, "seconds"),
    ("Houd dit een seconde of vijf vast.", 5000, "seconds"),  # "about five seconds"
    # several cues in one step add up
    ("Span je buik aan, houd vijf seconden vast en laat dan tien seconden los.", 15_000, "seconds"),
    # --- counts: one count a second, on time -----------------------------------------------
    ("Adem vier tellen in door je neus.", 4000, "seconds"),
    ("Adem vier tellen in en zeven tellen uit.", 11_000, "seconds"),
    ("Adem in, houd je adem vier tellen vast en adem acht tellen uit.", 12_000, "seconds"),
    ("Houd je adem één tel vast.", 1000, "seconds"),
    ("Neem een paar tellen de tijd.", 3000, "seconds"),
    ("Adem in en tel langzaam tot tien.", 10_000, "seconds"),
    ("Tel rustig van tien terug naar een.", 10_000, "seconds"),
    # --- minutes: plus 1 s to settle after a long stretch timed alone --------------------------
    ("Blijf hier een paar minuten.", 181_000, "minutes"),
    ("Blijf hier enkele minuten en geniet van de rust.", 181_000, "minutes"),
    ("Blijf een minuut zo zitten.", 61_000, "minutes"),
    ("Blijf nog een minuutje liggen.", 61_000, "minutes"),
    ("Blijf anderhalve minuut stil liggen.", 91_000, "minutes"),
    ("Rust een halve minuut.", 31_000, "minutes"),
    ("Blijf nog twee minuten bij je ademhaling.", 121_000, "minutes"),
    ("Neem drie minuten de tijd om te landen.", 181_000, "minutes"),
    ("Blijf tweeënhalve minuut zitten.", 151_000, "minutes"),
    ("Blijf twee en een halve minuut zitten.", 151_000, "minutes"),
    ("Blijf 1.5 minuut liggen.", 91_000, "minutes"),
    ("Luister 3 min naar de stilte.", 181_000, "minutes"),
    ("Blijf een minuut of twee liggen.", 121_000, "minutes"),  # "about two minutes"
    ("Houd een minuut en dertig seconden vol.", 91_000, "minutes"),
    # --- repetitions: N breathing cycles, exactly --------------------------------------------
    ("Herhaal dit vijf keer.", 50_000, "repeat"),
    ("Herhaal dit twintig keer in je eigen tempo.", 200_000, "repeat"),
    ("Adem drie keer diep in en uit.", 30_000, "repeat"),
    ("Doe dit nog een keer.", 10_000, "repeat"),
    ("Adem twee, drie keer rustig door.", 30_000, "repeat"),
    ("Herhaal dit een paar keer.", 30_000, "repeat"),
    ("Herhaal dit driemaal.", 30_000, "repeat"),
    ("Blijf vijf ademhalingen lang bij dit gevoel.", 50_000, "repeat"),
    # "herhaal" repeats the timed cues before it: 3 x (4 + 7 + 8 s) + 1 s
    (
        (
            "Adem vier tellen in, houd zeven tellen vast en adem acht tellen uit. "
            "Herhaal dit drie keer."
        ),
        58_000,
        "repeat",
    ),
    # a breath shorter than a cycle still takes a cycle: 5 x max(2 + 3 s, 10 s) + 1 s
    ("Adem twee tellen in en drie tellen uit. Herhaal dit vijf keer.", 51_000, "repeat"),
    # --- no cue: the default pause -----------------------------------------------------------
    ("Sluit je ogen en laat je schouders zakken.", 6000, "default"),
    ("Doe deze oefening een keer per dag.", 6000, "default"),
    ("Doe dit twee keer per week.", 6000, "default"),
    ("Elke keer dat je uitademt, ontspan je een beetje meer.", 6000, "default"),
    ("Voor de tweede keer span je je vuisten aan.", 6000, "default"),
    ("Adem voor de derde keer diep in.", 6000, "default"),
    ("Keer terug naar je adem.", 6000, "default"),
    ("Als je afdwaalt, keer dan rustig terug naar je adem.", 6000, "default"),
    ("Adem ongeveer zes keer per minuut.", 6000, "default"),
    ("Zes ademhalingen per minuut is een rustig tempo.", 6000, "default"),
    ("Neem alle minuten die je nodig hebt.", 6000, "default"),
    ("Laat de seconden en de minuten los.", 6000, "default"),
    ("Deze oefening duurt ongeveer tien minuten.", 6000, "default"),
    ("Om de twee minuten hoor je een zachte bel.", 6000, "default"),
    ("Oefen tien minuten per dag, het liefst 's ochtends.", 6000, "default"),
    ("Ga in een min of meer rechte houding zitten.", 6000, "default"),
    ("Dat is nu eenmaal zo, en dat is goed.", 6000, "default"),
    ("Blijf 1:30 rustig liggen.", 6000, "default"),
    ("", 6000, "default"),
]


@pytest.mark.parametrize(("text", "ms", "rule"), CASES, ids=[c[0][:50] or "empty" for c in CASES])
def test_infer_pause(text: str, ms: int, rule: str) -> None:
    decision = infer_pause(text, default_ms=DEFAULT_MS, cycle_ms=CYCLE_MS)
    assert (decision.ms, decision.rule) == (ms, rule), decision.reason
    assert isinstance(decision.ms, int)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("Houd dit vijf seconden vast.", "'vijf seconden'"),
        ("Blijf hier een paar minuten.", "'een paar minuten'"),
        ("Herhaal dit vijf keer.", "'vijf keer'"),
        ("Adem vier tellen in en zeven tellen uit.", "'zeven tellen'"),
        ("Blijf anderhalve minuut stil liggen.", "'anderhalve minuut'"),
        ("Doe dit twee keer per week.", "'twee keer per week'"),
    ],
)
def test_reason_quotes_the_cue(text: str, quoted: str) -> None:
    reason = infer_pause(text, default_ms=DEFAULT_MS, cycle_ms=CYCLE_MS).reason
    assert quoted in reason
    assert "\n" not in reason


def test_reason_is_one_readable_sentence() -> None:
    decision = infer_pause("Houd dit vijf seconden vast.", default_ms=6000, cycle_ms=10_000)
    assert decision == PauseDecision(5000, "seconds", "'vijf seconden' asks for 5 s")
    assert (
        "'een paar' read as 3"
        in infer_pause("Blijf hier een paar minuten.", default_ms=6000, cycle_ms=10_000).reason
    )
    assert "default" in infer_pause("Sluit je ogen.", default_ms=6000, cycle_ms=10_000).reason


def test_default_and_cycle_are_the_callers() -> None:
    assert infer_pause("Sluit je ogen.", default_ms=4321, cycle_ms=1).ms == 4321
    assert infer_pause("Herhaal dit vijf keer.", default_ms=1, cycle_ms=8000).ms == 40_000
    # a timed cue does not depend on either
    assert infer_pause("Houd dit vijf seconden vast.", default_ms=1, cycle_ms=1).ms == 5000


_WORDS = [
    "een",
    "één",
    "twee",
    "vijf",
    "paar",
    "halve",
    "anderhalve",
    "seconden",
    "minuut",
    "keer",
    "tellen",
    "tel",
    "tot",
    "of",
    "per",
    "dag",
    "herhaal",
    "dit",
    "en",
    "min",
    "30",
    "2,5",
    ",",
    ".",
    "-",
    "à",
    "driemaal",
    "duurt",
    "ademhalingen",
    "Houd",
    "vast",
    "terug",
    "elke",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=20), st.text(max_size=30))
def test_any_text_gives_a_pause(words: list[str], junk: str) -> None:
    decision = infer_pause(" ".join(words) + junk, default_ms=DEFAULT_MS, cycle_ms=CYCLE_MS)
    assert isinstance(decision.ms, int) and decision.ms >= 0
    assert decision.rule in {"seconds", "minutes", "repeat", "default"}
    assert decision.reason


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=600), st.sampled_from(["seconden", "tellen", "minuten"]))
def test_never_shorter_than_asked(n: int, unit: str) -> None:
    per_unit = 60_000 if unit == "minuten" else 1000
    decision = infer_pause(f"Houd dit {n} {unit} vast.", default_ms=DEFAULT_MS, cycle_ms=CYCLE_MS)
    settle = 1000 if unit == "minuten" else 0  # a hold of seconds or counts ends on time
    assert decision.ms == n * per_unit + settle


# --- The remembered decision ---------------------------------------------------------------------

SETTINGS = [(6000, 10_000), (5000, 8000), (8000, 4000)]
"""(default_ms, cycle_ms) pairs: a step's pause depends on both."""


def test_a_remembered_pause_is_the_one_worked_out_afresh() -> None:
    texts = [*step_texts(), *(text for text, _, _ in CASES)]
    assert len(set(texts)) > 150
    _remembered_pause.clear()
    for default_ms, cycle_ms in SETTINGS:
        for text in texts:
            fresh = _decide_pause(text, default_ms, cycle_ms)
            assert infer_pause(text, default_ms=default_ms, cycle_ms=cycle_ms) == fresh, text
            assert infer_pause(text, default_ms=default_ms, cycle_ms=cycle_ms) == fresh, text
    assert _remembered_pause.hits >= len(texts) * len(SETTINGS)


def test_a_changed_setting_is_not_served_a_remembered_pause() -> None:
    repeat, plain = "Adem drie keer diep in en uit.", "Sluit je ogen."
    assert infer_pause(repeat, default_ms=6000, cycle_ms=10_000).ms == 30_000
    assert infer_pause(repeat, default_ms=6000, cycle_ms=8000).ms == 24_000
    assert infer_pause(plain, default_ms=6000, cycle_ms=10_000).ms == 6000
    changed = infer_pause(plain, default_ms=5000, cycle_ms=10_000)
    assert changed.ms == 5000 and "5 s" in changed.reason
    assert infer_pause("Houd dit vijf seconden vast.", default_ms=5000, cycle_ms=10_000).ms == 5000
