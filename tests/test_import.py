"""Importing articles: which lists are exercises, how their text is cleaned, and the scripts written.

The articles under tests/articles/ are of our own making, with the clutter real pages have: a big
navigation menu with nested lists, icon names glued to words, headings without lists, lists
without headings, two exercises under one heading, numbered headings over numbered lists, lists of
tips and of links, Windows line endings, pages in Windows-1252 and ISO-8859-1 that declare it, HTML
entities and non-breaking spaces.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rustpunt.importing.article import ArticleError, guess_format, read_article, text_blocks
from rustpunt.importing.exercises import (
    Exercise,
    clean_text,
    find_exercises,
    import_article,
    import_sources,
    is_instruction,
    quoted,
    script_text,
    slug,
)
from rustpunt.script.load import load_script
from rustpunt.script.plan import DEFAULT_CYCLE_MS, DEFAULT_PAUSE_MS, plan
from rustpunt.script.timing import infer_pause

ARTICLES = Path(__file__).parent / "articles"
HTML_CP1252 = ARTICLES / "ontspanning.html"
HTML_LATIN1 = ARTICLES / "avond.html"
MARKDOWN = ARTICLES / "stress.md"
MARKDOWN_FRONT_MATTER = ARTICLES / "avondritueel.md"
COPIED_TEXT = ARTICLES / "ontspanning-gekopieerd.txt"
TIPS_ONLY = ARTICLES / "tips.txt"
WITH_EXERCISES = [HTML_CP1252, HTML_LATIN1, MARKDOWN, MARKDOWN_FRONT_MATTER, COPIED_TEXT]

BODYSCAN_STEPS = (
    "Ga op je rug liggen en sluit je ogen.",
    "Adem een paar keer rustig in en uit.",
    "Breng je aandacht naar je tenen. Voel ze, zonder ze te bewegen.",
    "Ga langzaam omhoog naar je knieën, je bovenbenen en je heupen.",
    "Voel je buik, je borst en je schouders. Laat de spanning los bij elke uitademing.",
    "Eindig bij je gezicht: ontspan je kaak, je wangen en je voorhoofd.",
    "Blijf nog één minuut liggen en open dan langzaam je ogen.",
)

# (article, format, [(title, number of steps)], [passed over])
EXPECTED = [
    (HTML_CP1252, "html",
     [("Bodyscan", 7), ("Buikademhaling", 5), ("De 4-7-8-ademhaling", 4)],
     ["5 tips, not an exercise (under “5 manieren om te ontspannen”)"]),
    (HTML_LATIN1, "html",
     [("Rustig de avond in", 6), ("Ademen met je handen", 3), ("Ademen met je handen (2)", 4)],
     ["4 tips, not an exercise (under “Tips voor een goede nachtrust”)",
      "3 bullet points, not a numbered list (under “Wat je nodig hebt”)",
      "3 bullet points, not a numbered list (under “Mini-oefening voor onderweg”)"]),
    (MARKDOWN, "markdown",
     [("Spierontspanning", 5), ("Ademen in een vierkant", 5), ("Snel even landen", 4),
      ("Gevorderd: de lange uitademing", 3)],
     ["5 links, not an exercise",
      "4 tips, not an exercise (under “Manieren om te ontspannen”)",
      "3 links, not an exercise (under “Snel even landen”)"]),
    (MARKDOWN_FRONT_MATTER, "markdown",
     [("Avondritueel: drie oefeningen voor het slapengaan", 3), ("Bodyscan in bed", 4),
      ("Tellen tot tien", 3)],
     ["3 items of one or two words, not an exercise (under “Wat heb je nodig?”)"]),
    (COPIED_TEXT, "text",
     [("Bodyscan", 5), ("Buikademhaling", 4), ("De 4-7-8-ademhaling", 3)],
     ["5 tips, not an exercise (under “5 manieren om te ontspannen”)",
      "3 links, not an exercise (under “Lees ook”)"]),
]  # fmt: skip


@pytest.mark.parametrize(("path", "format", "exercises", "passed_over"), EXPECTED)
@pytest.mark.slow
def test_each_article_gives_its_exercises_and_says_what_it_passed_over(
    path: Path, format: str, exercises: list[tuple[str, int]], passed_over: list[str]
) -> None:
    article = read_article(path)
    findings = find_exercises(article)
    assert article.format == format
    assert [(e.title, len(e.steps)) for e in findings.exercises] == exercises
    assert [p.message() for p in findings.passed_over] == passed_over


def steps_of(path: Path) -> dict[str, Exercise]:
    return {e.title: e for e in find_exercises(read_article(path)).exercises}


# --------------------------------------------------------------------------- each kind of clutter


def test_a_web_page_in_windows_1252_with_entities_nbsp_and_crlf_reads_clean() -> None:
    data = HTML_CP1252.read_bytes()
    assert b"\r\n" in data and b"&nbsp;" in data and b"&euml;" in data and b"zes\xa0tellen" in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the page really is in another encoding, and declares it
    assert b'charset="windows-1252"' in data
    bodyscan = steps_of(HTML_CP1252)["Bodyscan"]
    assert bodyscan.steps == BODYSCAN_STEPS
    assert bodyscan.description == (
        "Bij een bodyscan ga je met je aandacht door je hele lichaam, van je tenen tot je kruin."
        " Zo merk je waar je spanning vasthoudt."
    )
    breathing = steps_of(HTML_CP1252)
    assert breathing["Buikademhaling"].steps[0] == "Ga rechtop zitten en leg één hand op je buik."
    assert breathing["Buikademhaling"].steps[3] == "Adem zes tellen uit door je mond."  # &nbsp;
    woesj = "met een zacht \u2018woesj\u2019-geluid."
    assert breathing["De 4-7-8-ademhaling"].steps[2].endswith(woesj)


def test_a_page_in_iso_8859_1_with_icons_glued_to_each_step() -> None:
    data = HTML_LATIN1.read_bytes()
    assert b"charset=iso-8859-1" in data and b"check_circle</i>Ga" in data
    assert b"\xa0" in data  # a raw non-breaking space in Latin-1
    evening = steps_of(HTML_LATIN1)["Rustig de avond in"]
    assert evening.steps[0] == "Ga op je rug liggen, je armen langs je lichaam."
    assert evening.steps[3] == "Laat los en voel het verschil tussen spanning en ontspanning."
    assert evening.description is not None and evening.description.startswith("Lig je 's avonds")
    assert all("check" not in step for step in evening.steps)


def test_the_navigation_menu_cookie_banner_share_buttons_and_author_box_stay_out() -> None:
    for path in (HTML_CP1252, HTML_LATIN1, MARKDOWN, COPIED_TEXT):
        findings = find_exercises(read_article(path))
        text = " ".join(
            [e.title for e in findings.exercises]
            + [e.description or "" for e in findings.exercises]
            + [step for e in findings.exercises for step in e.steps]
        )
        for clutter in ("Home", "Contact", "cookies", "Alles accepteren", "facebook", "Privacy",
                        "Anne de Vries", "menu", "search", "chevron", "Lees ook", "Meer lezen"):  # fmt: skip
            assert clutter not in text, (path.name, clutter)


def test_a_nested_menu_of_links_in_markdown_is_passed_over_as_links() -> None:
    assert "  - [Ademhaling]" in MARKDOWN.read_text(encoding="utf-8")
    passed = find_exercises(read_article(MARKDOWN)).passed_over
    assert passed[0].kind == "links" and passed[0].items == 5


def test_markdown_with_crlf_entities_nbsp_lazy_numbering_and_a_bold_title() -> None:
    data = MARKDOWN.read_bytes()
    assert b"\r\n" in data and b"in&nbsp;en uit" in data and "Ga\u00a0rustig".encode() in data
    assert b"\r\n1. Bal je handen" in data and b"\r\n1. Laat je schouders" in data  # all "1."
    exercises = steps_of(MARKDOWN)
    assert exercises["Spierontspanning"].steps[0] == (
        "Ga rustig zitten en zet je voeten plat op de grond."
    )
    assert exercises["Snel even landen"].steps[2] == "Adem drie keer diep in en uit."
    assert exercises["Gevorderd: de lange uitademing"].steps[1] == (
        "Adem vier tellen in en acht tellen uit."
    )
    assert "searchmenuclosechevron_right" in data.decode()  # glued icon names, passed over


def test_markdown_front_matter_is_the_title_not_text() -> None:
    article = read_article(MARKDOWN_FRONT_MATTER)
    assert MARKDOWN_FRONT_MATTER.read_bytes().startswith(b"\xef\xbb\xbf---\n")  # BOM too
    assert article.title == "Avondritueel: drie oefeningen voor het slapengaan"
    assert all("author" not in block.text for block in article.blocks)


def test_copied_text_with_glued_icons_and_glued_sentences() -> None:
    data = COPIED_TEXT.read_bytes()
    assert b"\r\n" in data and b"check_circleGa" in data and b"tenen.Voel" in data
    exercises = steps_of(COPIED_TEXT)
    assert exercises["Bodyscan"].steps[:3] == (
        "Ga op je rug liggen en sluit je ogen.",
        "Adem een paar keer rustig in en uit.",  # a trailing non-breaking space
        "Breng je aandacht naar je tenen. Voel ze, zonder ze te bewegen.",
    )
    # "... door je mond. arrow_forward"
    assert exercises["Buikademhaling"].steps[2] == "Adem zes tellen uit door je mond."
    assert exercises["Buikademhaling"].description == (
        "Een rustige oefening voor tussendoor, zittend of liggend."
    )


def test_a_glued_menu_is_no_title_and_glued_icons_are_no_description() -> None:
    copied = (
        "Rust\nHomeOefeningenOver onsContact\nsharefacebookmail\n1. Ga zitten.\n2. Sluit je ogen.\n"
    )
    article = read_article("-", format="text", stdin=_Stream(copied.encode()))
    [exercise] = find_exercises(article).exercises
    assert (exercise.title, exercise.description) == ("Rust", None)


def test_numbered_headings_over_numbered_lists_are_titles_not_steps() -> None:
    text = COPIED_TEXT.read_text(encoding="utf-8")
    assert "\n1. Bodyscan" in text and "\n  1. check_circleGa" in text
    assert "Bodyscan" not in " ".join(steps_of(COPIED_TEXT)["Bodyscan"].steps)
    front = steps_of(MARKDOWN_FRONT_MATTER)  # "1. Bodyscan in bed" then "1. Ga op je rug liggen"
    assert front["Bodyscan in bed"].steps[0] == "Ga op je rug liggen en sluit je ogen."
    assert front["Tellen tot tien"].steps == (
        "Adem in en tel in gedachten: één.", "Adem uit en tel: twee.",
        "Ga zo door tot tien en begin dan weer bij één.",
    )  # fmt: skip
    html = steps_of(HTML_CP1252)  # <h2>1. Bodyscan</h2> over an <ol>
    assert "Bodyscan" in html and "1. Bodyscan" not in html


def test_two_exercises_under_one_heading() -> None:
    page = steps_of(HTML_CP1252)  # each with a bold line of its own
    assert page["Buikademhaling"].steps[-1] == "Herhaal dit vijf keer."
    assert page["De 4-7-8-ademhaling"].steps[0] == "Adem vier tellen in door je neus."
    assert page["De 4-7-8-ademhaling"].description is None
    evening = steps_of(HTML_LATIN1)  # only the heading: the second gets "(2)"
    assert evening["Ademen met je handen (2)"].description == (
        "Gaat dat goed? Probeer dan deze langere variant:"
    )
    assert evening["Ademen met je handen (2)"].steps[-1] == "Herhaal dit tien keer."


def test_headings_without_lists_name_nothing() -> None:
    titles = [e.title for e in find_exercises(read_article(HTML_CP1252)).exercises]
    assert "Waarom ontspanning zo belangrijk is" not in titles
    assert "Ontspannen op het werk" not in titles
    assert "Waarom dit werkt" not in steps_of(COPIED_TEXT)


def test_a_list_without_a_heading_takes_the_articles_title() -> None:
    assert steps_of(HTML_LATIN1)["Rustig de avond in"].steps[1] == (
        "Span je voeten vijf seconden aan en laat dan los."
    )
    assert "Avondritueel: drie oefeningen voor het slapengaan" in steps_of(MARKDOWN_FRONT_MATTER)
    article = read_article("-", format="text", stdin=_Stream(b"1. Ga zitten.\n2. Sluit je ogen.\n"))
    assert [e.title for e in find_exercises(article).exercises] == ["Oefening"]


def test_a_list_of_tips_is_not_an_exercise() -> None:
    with pytest.raises(ArticleError) as raised:
        import_article(read_article(TIPS_ONLY), output_dir=Path("unused"))
    assert str(raised.value) == (
        f"{TIPS_ONLY}: no exercise found (passed over: 4 tips, not an exercise (under “Tien tips"
        " voor een rustig hoofd”)); an exercise is a heading followed by a numbered list of"
        " instructions such as “1. Ga rechtop zitten.”"
    )


def test_imperative_tips_under_a_tips_heading_are_tips() -> None:
    article = read_article(HTML_LATIN1)
    tips = find_exercises(article).passed_over[0]
    assert (tips.kind, tips.items, tips.heading) == ("tips", 4, "Tips voor een goede nachtrust")
    assert "Ga elke dag op dezelfde tijd naar bed." in HTML_LATIN1.read_text(encoding="latin-1")


def test_plain_text_that_is_not_utf8_is_read_as_windows_1252() -> None:
    assert b"\x95 Een korte wandeling" in TIPS_ONLY.read_bytes()  # cp1252's bullet
    blocks = read_article(TIPS_ONLY).blocks
    assert next(b.text for b in blocks if b.kind == "item") == "Een korte wandeling maken"


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    "text",
    ["Ga rechtop zitten.", "Sluit je ogen.", "Adem rustig in door je neus.",
     "Span je vuisten aan.", "Houd dit vijf seconden vast.", "Voel je voeten op de grond.",
     "Stel je voor dat je op een strand ligt.", "Daarna adem je langzaam uit.",
     "Bij een bodyscan ga je langzaam. Ontspan je kaak.", "Verzacht je blik.",
     "Knipper met je ogen.", "Nu laat je alles los.", "Frons je voorhoofd."],
)  # fmt: skip
def test_instructions(text: str) -> None:
    assert is_instruction(text)


@pytest.mark.parametrize(
    "text",
    ["Een korte wandeling maken", "Naar rustige muziek luisteren", "Home", "Over ons",
     "Zo houd je stress op het werk de baas", "Wat je nodig hebt", "Je ademhaling is belangrijk.",
     "Beter inslapen in 5 stappen", "Als je wilt, kun je ook staan."],
)  # fmt: skip
def test_not_instructions(text: str) -> None:
    assert not is_instruction(text)


def article_of(text: str) -> list[str]:
    article = read_article("-", format="text", stdin=_Stream(text.encode()))
    return [p.message() for p in find_exercises(article).passed_over]


def test_lists_of_one_or_two_words_links_and_bullets_are_not_exercises() -> None:
    assert article_of("Menu\n1. Home\n2. Over ons\n3. Contact\n") == [
        "3 items of one or two words, not an exercise (under “Menu”)"
    ]
    assert article_of("Oefening\n- Sluit je ogen.\n- Adem in.\n- Adem uit.\n") == [
        "3 bullet points, not a numbered list (under “Oefening”)"
    ]
    markdown = read_article(
        "-", format="markdown", stdin=_Stream(b"1. [Ga naar de bodyscan](/a)\n2. [Lees meer](/b)\n")
    )
    assert [p.kind for p in find_exercises(markdown).passed_over] == ["links"]


def test_a_list_of_mostly_descriptions_is_not_an_exercise() -> None:
    assert article_of(
        "Wat er gebeurt\n1. Je hart klopt sneller.\n2. Je spieren spannen zich aan.\n"
        "3. Sluit je ogen.\n"
    ) == ["3 items that are not instructions, not an exercise (under “Wat er gebeurt”)"]


# --------------------------------------------------------------------------- cleaning and names


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("Ga\u00a0rechtop  zitten.\u00a0 ", "Ga rechtop zitten."),
     ("Adem&nbsp;in &amp; uit.", "Adem in & uit."),
     ("check_circleGa zitten.", "Ga zitten."),
     ("Ga zitten.arrow_forward", "Ga zitten."),
     ("Ga zitten. check", "Ga zitten."),
     ("Ga zitten.Sluit je ogen.", "Ga zitten. Sluit je ogen."),
     ("Adem 1.000 keer\u200b in.", "Adem 1.000 keer in."),
     ("ont\u00adspan je kaak", "ontspan je kaak"),
     ("• Sluit je ogen.", "Sluit je ogen."),
     ("Tel 4-7-8.", "Tel 4-7-8.")],
)  # fmt: skip
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    ("title", "stem"),
    [("Bodyscan", "bodyscan"), ("1. Bodyscan", "1-bodyscan"), ("De 4-7-8-ademhaling", "de-4-7-8-ademhaling"),
     ("Ademen met je handen (2)", "ademen-met-je-handen-2"), ("Knieën & één \u2019s ochtends", "knieen-een-s-ochtends"),
     ("???", "oefening")],
)  # fmt: skip
def test_slug(title: str, stem: str) -> None:
    assert slug(title) == stem


# --------------------------------------------------------------------------- the scripts written


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_every_script_written_loads_plans_and_keeps_the_text(path: Path, tmp_path: Path) -> None:
    article = read_article(path)
    report = import_article(article, output_dir=tmp_path)
    assert report.written and all(w.status == "written" for w in report.written)
    for entry in report.written:
        content = entry.path.read_text(encoding="utf-8")
        assert content.startswith(f"# Imported from {path} ")
        script = load_script(entry.path)
        assert script.title == entry.exercise.title
        assert script.description == entry.exercise.description
        assert tuple(step.text for step in script.steps) == entry.exercise.steps
        assert all(step.pause_ms is None for step in script.steps)  # the timing rules decide
        assert plan(script).items
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(w.path.name for w in report.written)


def test_the_source_comment_names_the_pages_address(tmp_path: Path) -> None:
    report = import_article(read_article(HTML_CP1252), output_dir=tmp_path)
    first_line = report.written[0].path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == (
        f"# Imported from {HTML_CP1252} (https://magazine.rustpunt.example/ontspanningsoefeningen)"
        " by `rustpunt import`; read the steps before building."
    )


def test_explicit_pauses_are_the_inferred_ones(tmp_path: Path) -> None:
    report = import_article(read_article(HTML_CP1252), output_dir=tmp_path, explicit_pauses=True)
    for entry in report.written:
        script = load_script(entry.path)
        for step in script.steps:
            want = infer_pause(step.text, default_ms=DEFAULT_PAUSE_MS, cycle_ms=DEFAULT_CYCLE_MS)
            assert step.pause_ms == want.ms
    breathing = load_script(tmp_path / "buikademhaling.yaml")
    assert [s.pause_ms for s in breathing.steps] == [5000, 4000, 2000, 6000, 50_000]  # on time
    assert "    pause: 50  # repeat: 'vijf keer' asks for 5 breathing cycles" in (
        tmp_path / "buikademhaling.yaml"
    ).read_text(encoding="utf-8")


YAML_TRAPS = ["1:30", "010", "yes", "Null", "~", "no", "0x1F", "1e3", ".inf", "- Adem", "# niet",
              "Adem: in", "'s Ochtends", 'Zeg "ja"', "back\\slash", "@home", "!tag", "* ster",
              "{a: b}", "[1, 2]", "&anker", "%procent", "`code`", "| pijp", "> groter"]  # fmt: skip


@pytest.mark.parametrize("text", YAML_TRAPS)
def test_text_that_yaml_1_1_would_reinterpret_stays_text(text: str, tmp_path: Path) -> None:
    exercise = Exercise(title=text, steps=(f"{text} stap", f"Stap {text}"), description=text)
    path = tmp_path / "trap.yaml"
    path.write_text(script_text(exercise, source="x.txt"), encoding="utf-8")
    script = load_script(path)
    assert (script.title, script.description) == (text, text)
    assert [s.text for s in script.steps] == [f"{text} stap", f"Stap {text}"]


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1).map(clean_text).filter(lambda t: any(c.isalnum() for c in t)))
def test_any_cleaned_text_reads_back_as_written(text: str) -> None:
    import yaml

    assert yaml.safe_load(f"key: {quoted(text)}") == {"key": text}


_WORDS = st.sampled_from(["Ga", "Sluit", "Adem", "Houd", "Span", "Voel", "Een", "- Leg"])
_TRAPS = st.sampled_from(
    ["1:30", "yes", "Null", "010", "# x", ": y", "&a", "*b", "'", '"', "\\", ""]
)
_TAIL = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
    max_size=30,
)
_LIST = st.lists(st.tuples(_WORDS, _TRAPS, _TAIL), min_size=2, max_size=5).map(
    lambda items: "\n".join(
        f"{n}. {word} {trap} {tail}" for n, (word, trap, tail) in enumerate(items, 1)
    )
)
_LINE = st.one_of(st.text(max_size=40), _LIST)


@settings(max_examples=100, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]))
def test_whatever_a_copied_text_holds_every_script_written_loads(
    lines: list[str], newline: str
) -> None:
    import tempfile

    data = newline.join(lines).encode("utf-8", errors="surrogatepass")
    try:
        article = read_article("-", format="text", stdin=_Stream(data))
    except ArticleError:
        return  # empty, or not text
    if not find_exercises(article).exercises:
        return
    with tempfile.TemporaryDirectory() as folder:
        report = import_article(article, output_dir=Path(folder))
        for entry in report.written:
            script = load_script(entry.path)
            assert tuple(step.text for step in script.steps) == entry.exercise.steps
            assert script.title == entry.exercise.title


def test_an_existing_script_is_never_overwritten_without_force(tmp_path: Path) -> None:
    (tmp_path / "bodyscan.yaml").write_text("title: mijn eigen\nsteps: [Adem in.]\n")
    article = read_article(HTML_CP1252)
    report = import_article(article, output_dir=tmp_path)
    statuses = {w.path.name: w.status for w in report.written}
    assert statuses == {"bodyscan.yaml": "exists", "buikademhaling.yaml": "written",
                        "de-4-7-8-ademhaling.yaml": "written"}  # fmt: skip
    assert (tmp_path / "bodyscan.yaml").read_text() == "title: mijn eigen\nsteps: [Adem in.]\n"
    forced = import_article(article, output_dir=tmp_path, force=True)
    assert [w.status for w in forced.written] == ["overwritten"] * 3
    assert load_script(tmp_path / "bodyscan.yaml").steps[0].text == BODYSCAN_STEPS[0]
    assert not list(tmp_path.glob(".*.part"))  # written through a temporary file, renamed


def test_the_same_title_from_two_sources_gets_two_names(tmp_path: Path) -> None:
    reports = import_sources([HTML_CP1252, COPIED_TEXT], output_dir=tmp_path)
    names = [w.path.name for report in reports for w in report.written]
    assert names == ["bodyscan.yaml", "buikademhaling.yaml", "de-4-7-8-ademhaling.yaml",
                     "bodyscan-2.yaml", "buikademhaling-2.yaml", "de-4-7-8-ademhaling-2.yaml"]  # fmt: skip


def test_a_failing_source_does_not_stop_the_others(tmp_path: Path) -> None:
    reports = import_sources([TIPS_ONLY, tmp_path / "nope.html", MARKDOWN], output_dir=tmp_path)
    assert [r.error is None for r in reports] == [False, False, True]
    missing = tmp_path / "nope.html"
    assert reports[1].error == f"{missing}: cannot be read: No such file or directory"
    assert len(reports[2].written) == 4


# --------------------------------------------------------------------------- formats and extras


def test_the_format_is_guessed_from_the_content() -> None:
    assert guess_format(b"<!DOCTYPE html><html><body><p>x</p></body></html>") == "html"
    assert guess_format(b"  <div><h2>Bodyscan</h2><ol><li>Ga liggen.</li></ol></div>") == "html"
    assert guess_format(b"# Bodyscan\n\n1. Ga liggen.\n") == "markdown"
    assert guess_format(b"**Bodyscan**\n\n1. Ga liggen.\n") == "markdown"
    assert guess_format(b"Bodyscan\n  1. Ga liggen.\n  2. Sluit je ogen.\n") == "text"
    stdin = _Stream(HTML_LATIN1.read_bytes())
    assert read_article("-", stdin=stdin).format == "html"


def test_a_short_page_keeps_its_headings_and_lists() -> None:
    """trafilatura gives a main text under 250 characters as bare lines without any Markdown;
    the importer lowers that limit, or this page would lose its heading and its numbering."""
    page = (
        b"<html><body><nav><ul><li><a href='/'>Home</a></li><li><a href='/a'>Over ons</a></li>"
        b"</ul></nav><article><h1>Kort</h1><h2>Even landen</h2><ol><li>Sluit je ogen.</li>"
        b"<li>Adem uit.</li></ol></article></body></html>"
    )
    article = read_article("-", stdin=_Stream(page))
    exercises = find_exercises(article).exercises
    assert [(e.title, e.steps) for e in exercises] == [
        ("Even landen", ("Sluit je ogen.", "Adem uit."))
    ]


def test_copied_text_lines_become_items_and_paragraphs() -> None:
    blocks = text_blocks("Bodyscan\r\n\r\n  1. Ga liggen.\r\n\r\n  2) Sluit je ogen.\r\n• Tip\r\n")
    assert [(b.kind, b.text, b.number, b.list_id) for b in blocks] == [
        ("paragraph", "Bodyscan", None, 0),
        ("item", "Ga liggen.", 1, 1), ("item", "Sluit je ogen.", 2, 1), ("item", "Tip", None, 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("module", "source", "words"),
    [("trafilatura", HTML_CP1252, "reading web pages needs trafilatura"),
     ("markdown_it", MARKDOWN, "reading Markdown needs markdown-it-py")],
)  # fmt: skip
def test_without_the_import_extra_one_line_says_what_to_install(
    module: str, source: Path, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(sys.modules):
        if name == module or name.startswith(f"{module}."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, module, None)  # `import` now raises ImportError
    with pytest.raises(ArticleError) as raised:
        read_article(source)
    assert str(raised.value) == f"{source}: {words}; pip install 'rustpunt[import]'"


def test_an_empty_source_a_folder_and_an_address_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match=r"^https://a.example/x: rustpunt does not download"):
        read_article("https://a.example/x")
    (tmp_path / "leeg.txt").write_text("  \n")
    with pytest.raises(ArticleError, match=r"leeg.txt: is empty; give an article"):
        read_article(tmp_path / "leeg.txt")
    with pytest.raises(ArticleError, match=r": is a folder; give article files"):
        read_article(tmp_path)


class _Stream:
    """Standard input as the CLI hands it over: a binary stream."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data
