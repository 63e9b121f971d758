"""The pronunciation lexicon: Dutch abbreviations, numbers, times and units as they are said,
entries per folder and per voice, warnings for words it does not cover, and FILE:LINE errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rustpunt.voice import lexicon as lexicon_module
from rustpunt.voice.lexicon import Lexicon, LexiconError, clock_words
from rustpunt.voice.profiles import load_profile

BUILTIN = Lexicon.load()

DUTCH = [
    # abbreviations
    ("Bijv. bij stress.", "Bijvoorbeeld bij stress."),
    ("Dit helpt, bijv. bij stress.", "Dit helpt, bijvoorbeeld bij stress."),
    ("Adem o.a. door je neus.", "Adem onder andere door je neus."),
    ("Rust, m.a.w. doe niets.", "Rust, met andere woorden doe niets."),
    ("Ontspan je schouders, nek enz.", "Ontspan je schouders, nek enzovoort."),
    ("Je kaak, je tong enz. Laat ze los.", "Je kaak, je tong enzovoort. Laat ze los."),
    ("Gebruik evt. een kussen.", "Gebruik eventueel een kussen."),
    ("Zit i.p.v. te staan.", "Zit in plaats van te staan."),
    ("Dat is d.w.z. rustig.", "Dat is dat wil zeggen rustig."),
    ("Duurt ca. tien minuten.", "Duurt circa tien minuten."),
    ("Vraag het aan dhr. Jansen.", "Vraag het aan de heer Jansen."),
    # initialisms
    ("De ggz helpt.", "De gee-gee-zet helpt."),
    ("De GGZ helpt.", "De gee-gee-zet helpt."),
    ("GGZ helpt.", "Gee-gee-zet helpt."),
    ("Bij ADHD ook.", "Bij aa-dee-haa-dee ook."),
    # counts and units
    ("Herhaal dit 2x.", "Herhaal dit twee keer."),
    ("Herhaal dit 3 x per dag.", "Herhaal dit drie keer per dag."),
    ("Wacht 5 min.", "Wacht vijf minuten."),
    ("Wacht 5 min. Dan verder.", "Wacht vijf minuten. Dan verder."),
    ("Wacht 1 min en adem.", "Wacht één minuut en adem."),
    ("Houd 10 sec. vast.", "Houd tien seconden vast."),
    ("Houd 1 seconde vast.", "Houd één seconde vast."),
    ("Loop 10km.", "Loop tien kilometer."),
    ("Slaap 8 u per nacht.", "Slaap acht uur per nacht."),
    ("Je hartslag zakt naar 60 bpm.", "Je hartslag zakt naar zestig slagen per minuut."),
    ("Tot 50% minder spanning.", "Tot vijftig procent minder spanning."),
    ("Drink 1,5 l water.", "Drink één komma vijf liter water."),
    # numbers
    ("Neem 2,5 seconden.", "Neem twee komma vijf seconden."),
    ("Wacht 0,25 seconde.", "Wacht nul komma vijfentwintig seconde."),
    ("Tel tot 21.", "Tel tot eenentwintig."),
    ("Zet 1.000 stappen.", "Zet duizend stappen."),
    ("Zet 10.000 stappen.", "Zet tienduizend stappen."),
    ("Doe dit 2-3 keer.", "Doe dit twee tot drie keer."),
    ("Wacht 5 tot 10 minuten.", "Wacht vijf tot tien minuten."),
    ("De 1e keer en de 3de keer.", "De eerste keer en de derde keer."),
    ("De 8ste ronde.", "De achtste ronde."),
    # breathing counts
    ("Adem volgens 4-7-8.", "Adem volgens vier, zeven, acht."),
    ("Adem 4-4-4-4 in een vierkant.", "Adem vier, vier, vier, vier in een vierkant."),
    ("Adem 4-7-8, bijv. 2x.", "Adem vier, zeven, acht, bijvoorbeeld twee keer."),
    ("Adem 4-4-4-4, box.", "Adem vier, vier, vier, vier, box."),
    ("Adem 4-7-8; rustig.", "Adem vier, zeven, acht; rustig."),
    # clock times
    ("Begin om 10:30.", "Begin om half elf."),
    ("Begin om 7:00 uur.", "Begin om zeven uur."),
    ("Begin om 7:05.", "Begin om vijf over zeven."),
    ("Begin om 22.15 uur.", "Begin om kwart over tien."),
    ("Stop om 13:45.", "Stop om kwart voor twee."),
    ("Houd 0:30 vast.", "Houd dertig seconden vast."),
    ("Begin om 9.45 met ademen.", "Begin om kwart voor tien met ademen."),
    ("Begin om 10.30.", "Begin om half elf."),
    # an English decimal point in a Dutch text, and a Dutch thousands separator
    ("Wacht 2.5 seconden.", "Wacht twee komma vijf seconden."),
    ("Het kost 10.300 stappen.", "Het kost tienduizenddriehonderd stappen."),
    ("Welkom in NL.", "Welkom in NL."),
    # left alone
    ("Adem rustig in en uit.", "Adem rustig in en uit."),
    ("Luister naar de mp3.", "Luister naar de mp3."),
]


@pytest.mark.parametrize(("written", "said"), DUTCH)
def test_dutch_is_read_as_it_is_said(written: str, said: str) -> None:
    assert BUILTIN.spoken(written) == said


@pytest.mark.parametrize(
    ("hours", "minutes", "said"),
    [
        (10, 20, "tien voor half elf"),
        (10, 40, "tien over half elf"),
        (10, 50, "tien voor elf"),
        (12, 30, "half één"),
        (0, 0, "twaalf uur"),
        (23, 55, "vijf voor twaalf"),
    ],
)
def test_clock_times(hours: int, minutes: int, said: str) -> None:
    assert clock_words(hours, minutes) == said


def test_a_folder_lexicon_adds_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "lexicon.yaml").write_text(
        "words:\n"
        "  ggz: geestelijke gezondheidszorg\n"
        "  Rustpunt: rust-punt\n"
        "patterns:\n"
        "  - match: '(\\d+)/(\\d+)'\n"
        "    say: '\\1 van de \\2'\n",
        encoding="utf-8",
    )
    lexicon = Lexicon.load([tmp_path])
    assert lexicon.spoken("De GGZ en Rustpunt.") == "De geestelijke gezondheidszorg en rust-punt."
    assert lexicon.spoken("rustpunt") == "rustpunt"  # written with a capital: exact case only
    assert lexicon.spoken("Stap 3/5.") == "Stap drie van de vijf."
    assert lexicon.spoken("bijv. zo") == "bijvoorbeeld zo"  # the built-in entries remain
    assert str(tmp_path / "lexicon.yaml") in lexicon.sources


def test_a_voice_profile_lexicon_wins(tmp_path: Path) -> None:
    (tmp_path / "lexicon.yaml").write_text("words:\n  ggz: ggz van de map\n", encoding="utf-8")
    profile_path = tmp_path / "nl-mijn.yaml"
    profile_path.write_text(
        "engine: espeak\nlexicon:\n  words:\n    ggz: gé-gé-zèt\n", encoding="utf-8"
    )
    profile = load_profile(profile_path)
    lexicon = Lexicon.load([tmp_path], profile=profile)
    assert lexicon.spoken("De ggz.") == "De gé-gé-zèt."
    assert lexicon.digest() != Lexicon.load([tmp_path]).digest()
    assert profile.fingerprint() != load_profile_without_lexicon(tmp_path).fingerprint()


def load_profile_without_lexicon(folder: Path):  # type: ignore[no-untyped-def]
    path = folder / "nl-kaal.yaml"
    path.write_text("engine: espeak\n", encoding="utf-8")
    return load_profile(path)


def test_suspicious_words_are_those_the_lexicon_does_not_cover() -> None:
    text = "Luister naar de mp3 over CO2, de GGZ, ADHD. Adem 4-7-8 en 2x. Zie NASA."
    assert BUILTIN.suspicious_words(text) == ["mp3", "CO2", "NASA"]
    assert BUILTIN.suspicious_words("Adem rustig in. Stap 1e.") == []


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("words:\n  ggz: [gee]\n", 2, "how to say 'ggz' must be text"),
        ("words:\n  ggz:\n", 2, "how to say 'ggz' must be text"),
        ("woorden:\n  ggz: gee\n", 1, "unknown key `woorden`"),
        ("words:\n  - ggz\n", 2, "`words:` must map each word"),
        ("patterns:\n  - match: '(oeps'\n    say: x\n", 2, "not a valid regular expression"),
        ("patterns:\n  - match: 'a*'\n    say: x\n", 2, "matches empty text"),
        ("patterns:\n  - match: 'abc'\n    say: '\\1'\n", 3, "refers to group \\1"),
        ("patterns:\n  - match: 'abc'\n", 2, "a pattern needs `say:`"),
        ("patterns:\n  - match: 'abc'\n    say: 'C:\\dir'\n", 3, "not a valid replacement"),
        ("patterns:\n  - match: 'abc'\n    zeg: x\n", 3, "unknown key `zeg` in a pattern"),
        ("words:\n  ggz: gee\n   bad: indent\n", 3, "not valid YAML"),
        ("- ggz\n", 1, "a lexicon is a mapping"),
    ],
)
def test_bad_lexicon_files_name_file_and_line(
    tmp_path: Path, content: str, line: int, message: str
) -> None:
    (tmp_path / "lexicon.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(LexiconError) as caught:
        Lexicon.load([tmp_path])
    assert str(caught.value).startswith(f"{tmp_path / 'lexicon.yaml'}:{line}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_bad_profile_lexicon_names_the_profile_line(tmp_path: Path) -> None:
    path = tmp_path / "nl-mijn.yaml"
    path.write_text("engine: espeak\nlexicon:\n  words:\n    ggz: [x]\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=rf"^{path}:4: how to say 'ggz' must be text"):
        Lexicon.load(profile=load_profile(path))


def test_words_yaml_would_mangle_are_read_as_written(tmp_path: Path) -> None:
    (tmp_path / "lexicon.yaml").write_text(
        "words:\n  no: nee\n  1:30: anderhalve minuut\n", encoding="utf-8"
    )
    lexicon = Lexicon.load([tmp_path])
    assert lexicon.spoken("no") == "nee"
    assert lexicon.spoken("Houd 1:30 vast.") == "Houd anderhalve minuut vast."


def test_patterns_apply_in_file_order_and_the_later_layer_first(tmp_path: Path) -> None:
    (tmp_path / "lexicon.yaml").write_text(
        "patterns:\n  - match: 'adem'\n    say: 'ADEM'\n  - match: 'ADEM'\n    say: 'lucht'\n",
        encoding="utf-8",
    )
    profile_path = tmp_path / "nl-mijn.yaml"
    profile_path.write_text(
        "engine: espeak\nlexicon:\n  patterns:\n    - match: 'adem'\n      say: 'zucht'\n",
        encoding="utf-8",
    )
    assert Lexicon.load([tmp_path]).spoken("adem") == "lucht"  # the second sees the first's work
    assert Lexicon.load([tmp_path], profile=load_profile(profile_path)).spoken("adem") == "zucht"


def test_spoken_forms_are_kept_per_lexicon_and_a_changed_file_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """spoken() works a text out once per Lexicon; the same as working it out afresh, also once
    the memo is full, and a changed lexicon file gives a new Lexicon with new spoken forms."""
    monkeypatch.setattr(lexicon_module, "SAID_KEPT", 5)
    kept, plain = (Lexicon([*BUILTIN.words, *BUILTIN.patterns]) for _ in range(2))
    for _ in range(2):
        for written, said in DUTCH:
            assert kept.spoken(written) == plain._speak(written) == said
    assert len(plain._said) == 0 and len(kept._said) == 5
    folder_file = tmp_path / "lexicon.yaml"
    folder_file.write_text("words:\n  ggz: gee gee zet\n", encoding="utf-8")
    assert Lexicon.load([tmp_path]).spoken("De ggz.") == "De gee gee zet."
    folder_file.write_text("words:\n  ggz: geestelijke gezondheidszorg\n", encoding="utf-8")
    assert Lexicon.load([tmp_path]).spoken("De ggz.") == "De geestelijke gezondheidszorg."


CATASTROPHIC = "patterns:\n  - {match: Adem, say: adem}\n  - {match: '(a|aa)+$', say: x}\n"
"""(a|aa)+$ on forty a's and a "!" tries every way to split the a's: for ever, without a limit."""


def test_a_pattern_that_backtracks_for_ever_is_stopped_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "lexicon.yaml").write_text(CATASTROPHIC, encoding="utf-8")
    lexicon = Lexicon.load([tmp_path])
    assert lexicon.spoken("Adem rustig.") == "adem rustig."  # a sound text is spoken as ever
    started = time.monotonic()
    with pytest.raises(LexiconError) as caught:
        lexicon.spoken("a" * 40 + "!")
    assert time.monotonic() - started < 10 * lexicon_module.PATTERN_TIMEOUT_S
    error = caught.value
    assert (error.path, error.line) == (tmp_path / "lexicon.yaml", 3)
    assert "'(a|aa)+$'" in error.reason and "backtracks catastrophically" in error.reason
    assert "\n" not in str(error)


def test_the_issues_nested_repeat_is_matched_at_once(tmp_path: Path) -> None:
    """`(a+)+$` hangs Python's re; the regex package sees it has one way to match."""
    (tmp_path / "lexicon.yaml").write_text(
        "patterns:\n  - {match: '(a+)+$', say: x}\n", encoding="utf-8"
    )
    lexicon = Lexicon.load([tmp_path])
    started = time.monotonic()
    assert lexicon.spoken("a" * 40 + "!") == "a" * 40 + "!"
    assert lexicon.spoken("Stap aaa") == "Stap x"
    assert time.monotonic() - started < lexicon_module.PATTERN_TIMEOUT_S
