"""Cover art: draw a calm square cover, check one a user gives, and embed it in an MP3 (APIC).

Podcast platforms ask for a square JPEG or PNG of 1400 to 3000 px, in RGB. A drawn cover is
3000 x 3000 px, JPEG: the title (and the show) in Pillow's bundled font (`ImageFont.load_default`
with a size, Pillow 10.1 or later: the same on every machine, no system font needed) on a soft
vertical gradient with a faint ring, in one of a few muted palettes chosen from the show's name,
so every episode of a show shares its colours. The same words always give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mutagen.id3 import ID3, ID3NoHeaderError
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from rustpunt.errors import RustpuntError
from rustpunt.files import atomic_path
from rustpunt.mp3.id3 import ID3_VERSION, ChronologicalID3, check_chapter_order, cover_frame

COVER_PX = 3000
"""A drawn cover's side: the largest Apple accepts, sharp on every screen."""

MIN_PX = 1400
MAX_PX = 3000
"""A user's cover must be square and between these sizes (Apple Podcasts, Spotify)."""

CoverMime = Literal["image/jpeg", "image/png"]
_MIME_OF_FORMAT: dict[str, CoverMime] = {"JPEG": "image/jpeg", "PNG": "image/png"}

PALETTES: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((31, 64, 72), (112, 150, 148)),  # deep teal to sea green
    ((44, 52, 84), (128, 128, 168)),  # dusk blue to lavender
    ((58, 74, 60), (160, 168, 132)),  # forest to sage
    ((70, 56, 66), (176, 146, 140)),  # plum to clay
    ((36, 58, 90), (132, 164, 184)),  # slate to misty blue
)
"""Top and bottom colours of the gradient: muted, dark enough for light text to read."""

TEXT_COLOUR = (246, 242, 232)
JPEG_QUALITY = 90


class CoverError(RustpuntError):
    """A cover image cannot be used: not an image, not square, the wrong size or format."""


@dataclass(frozen=True)
class CoverArt:
    """An image ready to embed and publish."""

    data: bytes
    mime: CoverMime
    width: int
    height: int
    converted_from: str | None = None
    """The colour mode of the user's image when it was not RGB and was converted (see check_cover)."""

    @property
    def extension(self) -> str:
        return "jpg" if self.mime == "image/jpeg" else "png"


# --------------------------------------------------------------------------- drawing


def _palette(key: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return PALETTES[digest[0] % len(PALETTES)]


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Greedy word wrap: as many words on a line as fit in `width` pixels."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _fit(
    text: str, size: int, width: float, max_lines: int
) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font (from `size` down) in which `text` wraps into `max_lines` lines that fit."""
    while True:
        font = ImageFont.load_default(size=size)
        if not isinstance(font, ImageFont.FreeTypeFont):  # Pillow built without FreeType
            raise CoverError(
                "this Pillow cannot draw text at cover size (no FreeType); "
                "reinstall it with `pip install --force-reinstall 'pillow>=10.1'`"
            )
        lines = _wrap(text, font, width)
        fits = all(font.getlength(line) <= width for line in lines)
        if (fits and len(lines) <= max_lines) or size <= 24:
            return font, lines
        size = int(size * 0.9)


def draw_cover(title: str, show: str | None = None, *, side: int = COVER_PX) -> CoverArt:
    """A calm square cover with `title` large in the middle and `show` small above it (JPEG)."""
    title = " ".join(title.split()) or "rustpunt"
    show = " ".join(show.split()) if show else None
    top, bottom = _palette(show or title)
    # a vertical gradient: one column, stretched (smooth, and a fraction of a second to make)
    column = Image.new("RGB", (1, 256))
    for row in range(256):
        mix = row / 255
        column.putpixel((0, row), tuple(round(a + (b - a) * mix) for a, b in zip(top, bottom)))
    image = column.resize((side, side), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image, "RGBA")
    centre = side / 2
    for index, radius in enumerate((0.42, 0.36)):  # two faint rings: a ripple, a place to rest
        r = radius * side
        draw.ellipse(
            (centre - r, centre - r, centre + r, centre + r),
            outline=(*TEXT_COLOUR, 40 - 15 * index),
            width=max(2, side // 300),
        )
    title_font, title_lines = _fit(title, side // 10, side * 0.62, max_lines=4)
    title_size = title_font.size
    line_height = round(title_size * 1.2)
    block = line_height * len(title_lines)
    y = centre - block / 2
    if show:
        show_font, show_lines = _fit(show.upper(), side // 28, side * 0.6, max_lines=2)
        show_height = round(show_font.size * 1.4)
        y += show_height * len(show_lines) / 2
        show_y = y - show_height * len(show_lines) - title_size * 0.3
        for line in show_lines:
            draw.text((centre, show_y), line, font=show_font, fill=TEXT_COLOUR, anchor="ma")
            show_y += show_height
    for line in title_lines:
        draw.text((centre, y), line, font=title_font, fill=TEXT_COLOUR, anchor="ma")
        y += line_height
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return CoverArt(buffer.getvalue(), "image/jpeg", side, side)


# --------------------------------------------------------------------------- checking


def check_cover(path: Path) -> CoverArt:
    """A user's cover image, read whole and checked: square JPEG or PNG, 1400 to 3000 px.

    Apple asks for RGB. A greyscale, palette or transparent image is converted to RGB in its own
    format (transparency laid onto the cover's background, see `_flatten`): the picture the user
    meant, in the form hosts accept, rather than a refusal over something a program can fix.
    CMYK and other colour models are refused: converting them without their colour profile
    changes the colours. Raises CoverError naming the file and what to do about it.
    """
    path = Path(path)
    what = f"a podcast cover is a square JPEG or PNG of {MIN_PX} to {MAX_PX} px"
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CoverError(
            f"{path}: cannot read the cover image ({error.strerror or error})"
        ) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format, (width, height), mode = image.format, image.size, image.mode
                _check_shape(path, image_format, width, height, what)
                if mode not in CONVERTIBLE_MODES and mode != "RGB":
                    raise CoverError(
                        f"{path}: the colours are {mode}; {what} in RGB: save it as RGB"
                    )
                image.load()  # every byte decoded: a truncated file fails here, not in an app
                converted = _as_rgb(image, image_format or "") if mode != "RGB" else None
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CoverError(f"{path}: not an image rustpunt can read; {what}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise CoverError(f"{path}: the image is damaged ({error}); {what}") from None
    mime = _MIME_OF_FORMAT[image_format or ""]
    if converted is not None:
        return CoverArt(converted, mime, width, height, converted_from=mode)
    return CoverArt(data, mime, width, height)


CONVERTIBLE_MODES = ("L", "LA", "La", "P", "PA", "RGBA", "RGBa", "1", "I", "I;16")
"""Colour modes a cover is converted from to RGB without changing what it shows."""


def _check_shape(path: Path, image_format: str | None, width: int, height: int, what: str) -> None:
    if _MIME_OF_FORMAT.get(image_format or "") is None:
        raise CoverError(f"{path}: a {image_format} image; {what}: save it as JPEG or PNG")
    if width != height:
        raise CoverError(f"{path}: {width} x {height} px is not square; {what}: crop it")
    if width < MIN_PX:
        raise CoverError(f"{path}: {width} x {height} px is too small; {what}: use a larger image")
    if width > MAX_PX:
        raise CoverError(f"{path}: {width} x {height} px is too large; {what}: scale it down")


def _as_rgb(image: Image.Image, image_format: str) -> bytes:
    """The image in RGB, encoded again in its own format (PNG stays lossless)."""
    if image.mode in ("I", "I;16"):  # 16-bit greyscale: scale to 8 bits before converting
        image = image.point(lambda value: value / 256).convert("L")
    if image.mode in ("LA", "La", "PA", "RGBa") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        image = _flatten(image)
    buffer = io.BytesIO()
    if image_format == "PNG":
        image.convert("RGB").save(buffer, format="PNG")
    else:
        image.convert("RGB").save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """Transparency laid onto the cover's background: the most common colour of its opaque edge
    pixels (a logo with a see-through hole keeps its surround), or white when the edge is all
    see-through (a logo on nothing, as most apps show it on a light page)."""
    width, height = image.size
    edge = [
        *(image.getpixel((x, y)) for x in range(width) for y in (0, height - 1)),
        *(image.getpixel((x, y)) for y in range(height) for x in (0, width - 1)),
    ]
    opaque = [pixel[:3] for pixel in edge if pixel[3] == 255]  # type: ignore[index]
    background = Counter(opaque).most_common(1)[0][0] if opaque else (255, 255, 255)
    flat = Image.new("RGB", image.size, background)
    flat.paste(image, mask=image.getchannel("A"))
    return flat


# --------------------------------------------------------------------------- embedding


def embed_cover(mp3: Path, cover: CoverArt) -> None:
    """Put `cover` into an MP3's ID3 tag as its front cover (APIC), keeping every other frame.

    The tag stays ID3v2.3 with its chapters in time order (export writes it that way, and this
    checks it). The file is changed on a copy that replaces it: never half-written.
    """
    mp3 = Path(mp3)
    with atomic_path(mp3) as temporary:
        shutil.copyfile(mp3, temporary)
        try:
            tags = ChronologicalID3(temporary)
        except ID3NoHeaderError:
            tags = ChronologicalID3()
        tags.delall("APIC")
        tags.add(cover_frame(cover.data, cover.mime))
        tags.update_to_v23()
        tags.save(temporary, v1=0, v2_version=ID3_VERSION)
        check_chapter_order(temporary, len(tags.getall("CHAP")), mp3)


def read_cover(mp3: Path) -> CoverArt | None:
    """The front cover embedded in an MP3 (or its first picture), None when it has none."""
    try:
        tags = ID3(mp3)
    except ID3NoHeaderError:
        return None
    pictures = tags.getall("APIC")
    if not pictures:
        return None
    front = next((p for p in pictures if p.type == 3), pictures[0])
    mime: CoverMime = "image/png" if front.mime.lower().endswith("png") else "image/jpeg"
    with Image.open(io.BytesIO(front.data)) as image:
        width, height = image.size
    return CoverArt(bytes(front.data), mime, width, height)


__all__ = [
    "COVER_PX",
    "MAX_PX",
    "MIN_PX",
    "CoverArt",
    "CoverError",
    "check_cover",
    "draw_cover",
    "embed_cover",
    "read_cover",
]
