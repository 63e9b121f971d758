"""Synthetic scripts: Dutch phrases and scripts shaped like scripts/*.yaml, for the tests (real
step texts to compare remembered results with fresh ones) and the benchmarks (which put tests/ on
their path for this one module: the test suite imports nothing from benchmarks/).

Each script has 10-20 steps, a mix of explicit pauses, timing cues ("Houd dit vijf seconden vast")
and default pauses, and lasts 3-6 minutes; intros, outros and common instructions are shared between
scripts, other steps are combined from phrase lists, and each script carries its own number word.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import yaml
from num2words import num2words

from rustpunt.script.load import load_script
from rustpunt.script.plan import plan

SPEECH_CHARS_PER_SECOND = 13.0
"""nl-espeak speaks about 13 characters a second (measured on scripts/*.yaml): used only to aim a
generated script at its target length; every reported duration is the built MP3's own."""

INTROS = [
    "Welkom. In deze oefening richt je je aandacht op je lichaam en je adem. Er is niets wat je hoeft te bereiken.",
    "Welkom bij deze ontspanningsoefening. Zoek een rustige plek waar je even niet gestoord wordt.",
    "Fijn dat je er bent. Neem de tijd om te landen, en laat de dag even achter je.",
    "Welkom. We beginnen rustig, met aandacht voor je ademhaling.",
]
OUTROS = [
    "Beweeg langzaam je vingers en je tenen. Open je ogen wanneer je er klaar voor bent.",
    "Open langzaam je ogen. Neem de rust van deze oefening mee in de rest van je dag.",
    "Rek je rustig uit als je dat fijn vindt. Dit was het einde van de oefening.",
]
OPENERS = [
    "Ga gemakkelijk zitten, met je voeten plat op de grond.",
    "Ga rechtop zitten, of ga gemakkelijk op je rug liggen.",
    "Ga gemakkelijk liggen, met je armen naast je lichaam.",
]
STOCK = [  # shared between scripts, no timing cue: the default pause
    "Sluit je ogen.",
    "En laat los.",
    "Laat je schouders zakken en ontspan je kaak.",
    "Adem rustig in door je neus, en langzaam uit door je mond.",
    "Merk op hoe je adem vanzelf gaat.",
    "Voel het contact van je lichaam met de stoel of de vloer.",
    "Dwaal je af, dan is dat goed. Breng je aandacht rustig terug.",
    "Laat alle spanning wegzakken.",
]
STOCK_CUES = [  # shared between scripts, with a timing cue: the pause is read from the words
    "Houd dit vijf seconden vast.",
    "Houd de spanning tien seconden vast.",
    "Adem vier tellen in door je neus.",
    "Adem zes tellen uit door je mond.",
    "Adem drie keer diep in en uit.",
    "Blijf hier een minuut, zonder iets te hoeven doen.",
    "Blijf een halve minuut rustig zitten.",
    "Tel langzaam tot tien.",
]
BODY = [
    "je tenen",
    "je voeten",
    "je enkels",
    "je kuiten",
    "je knieën",
    "je bovenbenen",
    "je heupen",
    "je buik",
    "je onderrug",
    "je schouderbladen",
    "je borst",
    "je schouders",
    "je armen",
    "je handen",
    "je vingers",
    "je nek",
    "je kaak",
    "je wangen",
    "je ogen",
    "je voorhoofd",
]
ACTIONS = [
    "Breng je aandacht naar {b}.",
    "Ga met je aandacht naar {b}.",
    "Span {b} stevig aan.",
    "Laat {b} zwaar en ontspannen worden.",
    "Beweeg {b} heel langzaam, en kom dan tot rust.",
    "Merk op hoe {b} nu aanvoelen.",
    "Adem rustig naar {b}.",
    "Voel {b}, zonder iets te veranderen.",
]
FEELINGS = [
    "Misschien voel je warmte, kou of een lichte tinteling.",
    "Er is niets wat je hoeft te veranderen.",
    "Laat de spanning bij het uitademen wegvloeien.",
    "Merk op wat je voelt, zonder oordeel.",
    "Laat het zacht en ruim worden.",
    "Voel hoe de spieren warm en zwaar worden.",
    "Adem rustig door, in je eigen tempo.",
    "Alles mag er zijn, precies zoals het is.",
    "Met elke uitademing zak je wat dieper weg.",
    "Geef het de tijd.",
]
HOLD_SECONDS = ["drie", "vier", "vijf", "zes", "zeven", "acht"]


def _format_pause(seconds: int, rng: random.Random) -> int | str:
    if seconds >= 60 and seconds % 60 and rng.random() < 0.5:
        return f"{seconds // 60}m{seconds % 60}s"
    return f"{seconds}s" if rng.random() < 0.4 else seconds


def make_script(index: int, target_s: float, n_steps: int, seed: int) -> dict[str, Any]:
    """One script document of realistic shape, aimed at target_s seconds of audio."""
    rng = random.Random(seed * 1_000_003 + index)
    word = num2words(index + 1, lang="nl")
    steps: list[dict[str, Any]] = []  # {"text": ..., "explicit": bool}

    def composed() -> str:
        body = rng.sample(BODY, 2)
        part = f"{body[0]} en {body[1]}" if rng.random() < 0.5 else body[0]
        return f"{rng.choice(ACTIONS).format(b=part)} {rng.choice(FEELINGS)}"

    steps.append({"text": f"Dit is oefening {word}. {rng.choice(OPENERS)}", "explicit": False})
    for _ in range(n_steps - 1):
        roll = rng.random()
        if roll < 0.22:
            steps.append({"text": rng.choice(STOCK), "explicit": rng.random() < 0.3})
        elif roll < 0.37:
            steps.append({"text": rng.choice(STOCK_CUES), "explicit": False})
        elif roll < 0.80:
            steps.append({"text": composed(), "explicit": rng.random() < 0.5})
        else:
            steps.append(
                {
                    "text": f"{composed()} Houd dit {rng.choice(HOLD_SECONDS)} seconden vast.",
                    "explicit": False,
                }
            )
    explicit = [s for s in steps if s["explicit"]]
    for candidate in rng.sample(steps, len(steps)):  # at least a few explicit pauses to aim with
        if len(explicit) >= max(2, len(steps) // 6):
            break
        if (
            not candidate["explicit"]
            and "seconden" not in candidate["text"]
            and candidate["text"] not in STOCK_CUES
        ):
            candidate["explicit"] = True
            explicit.append(candidate)

    document: dict[str, Any] = {
        "title": f"Oefening {word}",
        "description": f"Synthetische oefening {word} voor de bulk-benchmark.",
        "pause": rng.choice([5, 6, 8]),
        "cycle": 10,
        "intro": rng.choice(INTROS),
        "steps": [],
        "outro": rng.choice(OUTROS),
    }
    # Pauses that the text or the default decides, as rustpunt itself plans them.
    document["steps"] = [
        {"text": s["text"], "pause": 0} if s["explicit"] else s["text"] for s in steps
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as handle:
        yaml.safe_dump(document, handle, allow_unicode=True, sort_keys=False)
    try:
        planned_ms = plan(load_script(Path(handle.name))).pause_ms()
    finally:
        os.unlink(handle.name)
    chars = sum(len(s["text"]) for s in steps) + len(document["intro"]) + len(document["outro"])
    remaining = target_s - chars / SPEECH_CHARS_PER_SECOND - planned_ms / 1000
    weights = [rng.uniform(0.5, 1.5) for _ in explicit]
    total_weight = sum(weights) or 1.0
    shares = iter(max(3, round(remaining * w / total_weight)) for w in weights)
    document["steps"] = [
        {"text": s["text"], "pause": _format_pause(next(shares), rng)}
        if s["explicit"]
        else s["text"]
        for s in steps
    ]
    return document


def write_script(path: Path, document: dict[str, Any]) -> None:
    path.write_text(
        yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8"
    )


def script_texts(document: dict[str, Any]) -> list[str]:
    steps = [s if isinstance(s, str) else s["text"] for s in document["steps"]]
    return [document["intro"], *steps, document["outro"]]


def generate(folder: Path, count: int, seed: int) -> dict[Path, dict[str, Any]]:
    """`count` scripts of 3-6 minutes written into `folder`, each with the document it holds."""
    folder.mkdir(parents=True, exist_ok=True)
    scripts = {}
    for index in range(count):
        rng = random.Random(seed + index)
        document = make_script(index, rng.uniform(180, 360), rng.randint(10, 20), seed)
        path = folder / f"oefening-{index + 1:04d}.yaml"
        write_script(path, document)
        scripts[path] = document
    return scripts


def sharing(documents: list[dict[str, Any]]) -> dict[str, int]:
    """How many sentences the documents speak, and how many of them are distinct."""
    texts = [text for document in documents for text in script_texts(document)]
    return {"sentences": len(texts), "distinct": len(set(texts))}
