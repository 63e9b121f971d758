"""cover: drawn covers measured as images, user images checked, APIC embedded in real MP3s."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from mutagen.id3 import ID3
from PIL import Image

import audiotools
from rustpunt.audio.pcm import SAMPLE_RATE
from rustpunt.mp3.export import write_mp3
from rustpunt.mp3.id3 import Chapter, Metadata
from rustpunt.podcast.cover import (
    COVER_PX,
    CoverArt,
    CoverError,
    check_cover,
    draw_cover,
    embed_cover,
    read_cover,
)

METADATA = Metadata(
    title="Avondsessie",
    artist="rustpunt",
    album="Rustpunt",
    voice="nl-espeak",
    engine="espeak 1.52",
)

CHAPTERS = [  # the first title is the longest: mutagen on its own would write it last
    Chapter(0, 1000, "Ga rustig zitten en leg je handen ontspannen op je bovenbenen, " * 2),
    Chapter(1000, 2000, "Adem in"),
    Chapter(2000, 3000, "Adem uit en laat je schouders zakken"),
]


def tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return np.round(0.2 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")


def image_bytes(size: tuple[int, int], image_format: str = "PNG", mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color=(120, 40, 200) if mode == "RGB" else 0).save(buffer, image_format)
    return buffer.getvalue()


def write_image(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- drawing


def test_drawn_cover_is_a_square_rgb_jpeg_of_3000_px() -> None:
    cover = draw_cover("Rustig ademen", "Rustpunt")
    assert (cover.mime, cover.width, cover.height) == ("image/jpeg", COVER_PX, COVER_PX)
    with Image.open(io.BytesIO(cover.data)) as image:
        assert image.format == "JPEG"
        assert image.size == (3000, 3000)
        assert image.mode == "RGB"


def test_drawn_cover_shows_its_text_inside_the_margins_on_a_calm_background() -> None:
    cover = draw_cover(
        "Een hele lange titel voor een oefening die over vele regels moet worden afgebroken",
        "Rustpunt: oefeningen voor elke dag",
    )
    with Image.open(io.BytesIO(cover.data)) as image:
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    text = pixels > 200  # the light text; the background and the rings stay far darker
    rows, columns = np.nonzero(text)
    assert text.mean() > 0.01  # there is text
    assert columns.min() > 0.15 * 3000 and columns.max() < 0.85 * 3000
    assert rows.min() > 0.15 * 3000 and rows.max() < 0.85 * 3000
    # calm: the background changes slowly (a gradient), no pixel jumps next to its neighbour
    corner = pixels[:400, :400]
    assert np.abs(np.diff(corner, axis=0)).max() <= 3
    assert np.abs(np.diff(corner, axis=1)).max() <= 3


def test_drawn_cover_is_the_same_for_the_same_words() -> None:
    assert draw_cover("Slapen", "Rustpunt").data == draw_cover("Slapen", "Rustpunt").data
    assert draw_cover("Slapen", "Rustpunt").data != draw_cover("Wakker", "Rustpunt").data


def test_one_very_long_word_still_fits() -> None:
    cover = draw_cover("Ademhalingsoefeningsvoorbereidingsmomentje" * 2)
    with Image.open(io.BytesIO(cover.data)) as image:
        columns = np.nonzero(np.asarray(image.convert("L")) > 200)[1]
    assert columns.min() > 0.1 * 3000 and columns.max() < 0.9 * 3000


# --------------------------------------------------------------------------- checking


@pytest.mark.parametrize(
    ("size", "image_format", "mime"),
    [((1400, 1400), "PNG", "image/png"), ((3000, 3000), "JPEG", "image/jpeg")],
)
def test_a_good_cover_is_accepted(
    tmp_path: Path, size: tuple[int, int], image_format: str, mime: str
) -> None:
    data = image_bytes(size, image_format)
    cover = check_cover(write_image(tmp_path, f"cover.{image_format.lower()}", data))
    assert cover == CoverArt(data, mime, *size)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "breed.png",
            image_bytes((2000, 1500)),
            r"breed\.png: 2000 x 1500 px is not square; .*crop it",
        ),
        (
            "klein.jpg",
            image_bytes((1000, 1000), "JPEG"),
            r"klein\.jpg: 1000 x 1000 px is too small; .*1400 to 3000 px",
        ),
        (
            "groot.png",
            image_bytes((3200, 3200)),
            r"groot\.png: 3200 x 3200 px is too large; .*scale it down",
        ),
        (
            "anim.gif",
            image_bytes((1400, 1400), "GIF", mode="P"),
            r"anim\.gif: a GIF image; .*save it as JPEG or PNG",
        ),
        ("tekst.jpg", b"geen plaatje\n", r"tekst\.jpg: not an image rustpunt can read"),
        (
            "cmyk.jpg",
            image_bytes((1400, 1400), "JPEG", mode="CMYK"),
            r"cmyk\.jpg: the colours are CMYK; .*save it as RGB",
        ),
    ],
)
def test_a_bad_cover_is_an_error_naming_the_file_and_what_to_do(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(CoverError, match=message):
        check_cover(write_image(tmp_path, name, data))


def test_a_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    """Its header reads fine; only decoding every byte finds the missing rest."""
    data = image_bytes((1400, 1400), "JPEG")
    noisy = Image.effect_noise((1400, 1400), 60).convert("RGB")  # enough data to cut
    buffer = io.BytesIO()
    noisy.save(buffer, "JPEG")
    data = buffer.getvalue()
    path = write_image(tmp_path, "half.jpg", data[: len(data) // 2])
    with pytest.raises(CoverError, match=r"half\.jpg: the image is damaged"):
        check_cover(path)


def _reread(cover: CoverArt) -> Image.Image:
    image = Image.open(io.BytesIO(cover.data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("mode", "image_format", "colour"),
    [("L", "JPEG", 90), ("L", "PNG", 90), ("P", "PNG", 3), ("LA", "PNG", (90, 255))],
)
def test_a_cover_that_is_not_rgb_is_converted_to_rgb(
    tmp_path: Path, mode: str, image_format: str, colour: object
) -> None:
    buffer = io.BytesIO()
    Image.new(mode, (1400, 1400), colour).save(buffer, image_format)  # type: ignore[arg-type]
    cover = check_cover(write_image(tmp_path, f"hoes.{image_format.lower()}", buffer.getvalue()))
    image = _reread(cover)
    assert (image.mode, image.format, image.size) == ("RGB", image_format, (1400, 1400))
    assert cover.converted_from == mode and cover.mime == f"image/{image_format.lower()}"


def test_transparency_is_laid_onto_the_covers_background(tmp_path: Path) -> None:
    """An opaque teal frame with a see-through middle: the middle becomes teal, not black."""
    image = Image.new("RGBA", (1400, 1400), (0, 0, 0, 0))
    image.paste((20, 80, 90, 255), (0, 0, 1400, 100))
    image.paste((20, 80, 90, 255), (0, 1300, 1400, 1400))
    image.paste((20, 80, 90, 255), (0, 0, 100, 1400))
    image.paste((20, 80, 90, 255), (1300, 0, 1400, 1400))
    image.paste((200, 200, 40, 128), (600, 600, 800, 800))  # half see-through yellow
    path = tmp_path / "rand.png"
    image.save(path)
    flat = _reread(check_cover(path))
    assert flat.mode == "RGB"
    assert flat.getpixel((300, 300)) == (20, 80, 90)
    assert flat.getpixel((700, 700)) == tuple(
        round((a * 128 + b * 127) / 255) for a, b in zip((200, 200, 40), (20, 80, 90))
    )

    Image.new("RGBA", (1400, 1400), (0, 0, 0, 0)).save(path)  # nothing opaque: white
    assert _reread(check_cover(path)).getpixel((5, 5)) == (255, 255, 255)


def test_a_missing_cover_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CoverError, match=r"weg\.png: cannot read the cover image"):
        check_cover(tmp_path / "weg.png")


# --------------------------------------------------------------------------- embedding


def test_write_mp3_embeds_the_cover_and_keeps_chapters_in_order(tmp_path: Path) -> None:
    cover = draw_cover("Avondsessie", "Rustpunt")
    mp3 = tmp_path / "avond.mp3"
    write_mp3(mp3, [tone(3.0)], METADATA, CHAPTERS, cover=cover.data, cover_mime=cover.mime)
    tags = ID3(mp3)
    assert tags.version == (2, 3, 0)
    (picture,) = tags.getall("APIC")
    assert (picture.mime, picture.type, picture.data) == ("image/jpeg", 3, cover.data)
    assert [t for _, _, t in audiotools.chapters(mp3)] == [c.title for c in CHAPTERS]
    assert read_cover(mp3) == cover


def test_embed_cover_replaces_the_picture_and_keeps_everything_else(tmp_path: Path) -> None:
    mp3 = tmp_path / "avond.mp3"
    first = draw_cover("Eerste", "Rustpunt")
    write_mp3(mp3, [tone(3.0)], METADATA, CHAPTERS, cover=first.data)
    before = ID3(mp3)
    audio_before = audiotools.decode(mp3)
    second = check_cover(write_image(tmp_path, "hoes.png", image_bytes((1500, 1500))))

    embed_cover(mp3, second)

    after = ID3(mp3)
    assert after.version == (2, 3, 0)
    (picture,) = after.getall("APIC")
    assert (picture.mime, picture.data) == ("image/png", second.data)
    kept = sorted(key for key in before.keys() if not key.startswith("APIC"))  # noqa: SIM118
    assert sorted(key for key in after.keys() if not key.startswith("APIC")) == kept  # noqa: SIM118
    for key in kept:
        assert after[key] == before[key], key
    chapters_in_file = [key for key in after.keys() if key.startswith("CHAP:")]  # noqa: SIM118
    assert chapters_in_file == ["CHAP:chp0", "CHAP:chp1", "CHAP:chp2"]
    assert audiotools.chapters(mp3) == [(c.start_ms, c.end_ms, c.title) for c in CHAPTERS]
    assert np.array_equal(audiotools.decode(mp3), audio_before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["avond.mp3", "hoes.png"]


def test_an_mp3_without_a_cover_reads_as_none(tmp_path: Path) -> None:
    mp3 = tmp_path / "kaal.mp3"
    write_mp3(mp3, [tone(1.0)], METADATA, [])
    assert read_cover(mp3) is None
