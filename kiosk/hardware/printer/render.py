"""How a receipt is drawn: the whole slip as one bitmap in the font Hanpyo ships."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import segno
from PIL import Image, ImageDraw, ImageFont

from hanpyo_assets import asset_path
from kiosk.hardware.printer.receipt import Receipt

PAPER_WIDTH = 576  # dots across the printable 72 mm of 80 mm paper, at 203 dpi

# -- drawing -------------------------------------------------------------------------------
# ESC/POS printers have no Korean code page in their standard character tables (nor does
# python-escpos's printer database; models sold in Korea add a double-byte mode, each its
# own way), so the whole receipt is drawn as a bitmap with the font we ship and printed as
# an image. Hangul then prints the same
# on every printer, and the memory printer's PNG is exactly what the paper would show.


@functools.lru_cache(maxsize=32)
def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "NanumGothicBold.ttf" if bold else "NanumGothic.ttf"
    return ImageFont.truetype(str(asset_path("fonts", name)), size)


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width``: at spaces, or between any two
    characters of a word too long for one line (a URL, a long name). A newline in ``text``
    starts a new line (the font's layout engine refuses control characters)."""
    if "\n" in text:
        return [line for part in text.split("\n") for line in _wrap(part, font, max_width)]
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        joined = f"{current} {word}" if current else word
        if font.getlength(joined) <= max_width:
            current = joined
            continue
        if current:
            lines.append(current)
        current = ""
        for char in word:
            if current and font.getlength(current + char) > max_width:
                lines.append(current)
                current = ""
            current += char
    lines.append(current)
    return lines


def _text(text: str, font: ImageFont.FreeTypeFont, width: int, *, center: bool) -> Image.Image:
    ascent, descent = font.getmetrics()
    line_height = ascent + descent + round(font.size) // 5
    lines = _wrap(text, font, width)
    image = Image.new("1", (width, line_height * len(lines)), 1)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        x = (width - font.getlength(line)) / 2 if center else 0
        draw.text((x, i * line_height), line, font=font, fill=0)
    return image


def _code_font(code: str, width: int) -> ImageFont.FreeTypeFont:
    """The largest bold type, up to a seventh of the paper width, that fits the code on
    one line, so the voter can copy it without a magnifier."""
    size = max(width // 7, 24)
    while size > 24 and _font(size, bold=True).getlength(code) > width:
        size -= 2
    return _font(size, bold=True)


def _qr_image(url: str, width: int) -> Image.Image:
    """The QR code for ``url`` with its quiet zone, in whole dots per module, centred."""
    qr = segno.make(url, error="m", micro=False)
    modules = int(qr.symbol_size(scale=1, border=4)[0])
    scale = (width * 2 // 3) // modules
    if scale < 2:
        raise ValueError(f"a {len(url)}-character URL makes a QR code too dense for {width} dots")
    rows = qr.matrix_iter(scale=1, border=4)
    pixels = bytes(0 if dark else 255 for row in rows for dark in row)
    symbol = Image.frombytes("L", (modules, modules), pixels).convert("1")
    symbol = symbol.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
    image = Image.new("1", (width, symbol.height), 1)
    image.paste(symbol, ((width - symbol.width) // 2, 0))
    return image


def _rule(width: int, thickness: int) -> Image.Image:
    image = Image.new("1", (width, thickness * 5), 1)
    ImageDraw.Draw(image).rectangle((0, thickness * 2, width - 1, thickness * 3 - 1), fill=0)
    return image


def _stack(blocks: Iterable[Image.Image], width: int, margin: int) -> Image.Image:
    parts = list(blocks)
    height = 2 * margin + sum(part.height for part in parts)
    image = Image.new("1", (width, height), 1)
    y = margin
    for part in parts:
        image.paste(part, (margin, y))
        y += part.height
    return image


def render_receipt(receipt: Receipt, width: int = PAPER_WIDTH) -> Image.Image:
    """Draw ``receipt`` in black on white (mode ``"1"``), ``width`` dots wide.

    Type sizes follow the width, so a 58 mm printer (384 dots) gets the same layout.
    """
    if width < 200:
        raise ValueError(f"a receipt needs at least 200 dots across, not {width}")
    margin = width // 24
    inner = width - 2 * margin
    body = _font(max(width // 22, 20))
    blocks = [_text(receipt.title, _font(max(width // 16, 26), bold=True), inner, center=True)]
    blocks.append(_rule(inner, max(width // 200, 1)))
    blocks.extend(_text(line, body, inner, center=False) for line in receipt.lines)
    if receipt.code is not None:
        blocks.append(_text("", body, inner, center=False))
        blocks.append(_text(receipt.code, _code_font(receipt.code, inner), inner, center=True))
    if receipt.qr is not None:
        blocks.append(_text("", body, inner, center=False))
        blocks.append(_qr_image(receipt.qr, inner))
        blocks.append(_text(receipt.qr, _font(max(width // 32, 16)), inner, center=True))
    return _stack(blocks, width, margin)


# -- printers ------------------------------------------------------------------------------
