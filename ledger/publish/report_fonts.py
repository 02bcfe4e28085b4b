"""The report's Korean font: embedded in a page cut to the characters it shows, or served
from /assets/fonts."""

from __future__ import annotations

import base64
import io

from fontTools import subset  # type: ignore[import-untyped]
from markupsafe import Markup

from hanpyo_assets import asset_path

FONT_FILES = {"normal": "NanumGothic.ttf", "bold": "NanumGothicBold.ttf"}
# Always in the embedded font, whatever the page holds: digits, Latin letters, the marks we use.
_ASCII = "".join(chr(c) for c in range(32, 127)) + "·—…★✓✗="


def embedded_fonts_css(text: str) -> Markup:
    """@font-face rules carrying NanumGothic (regular and bold) cut down to the characters of
    ``text``: a few kilobytes instead of 4 MB each."""
    rules = []
    for weight, name in FONT_FILES.items():
        data = base64.b64encode(_font_subset(name, "".join(sorted(set(text))))).decode()
        rules.append(
            f'@font-face {{ font-family: "Hanpyo Sans"; font-weight: {weight}; '
            f'src: url("data:font/woff;base64,{data}") format("woff"); }}'
        )
    rules.append('body { font-family: "Hanpyo Sans", sans-serif; }')
    return Markup("\n".join(rules))  # noqa: S704  # our own CSS, with base64 data only


def served_fonts_css() -> Markup:
    """For the ledger's own pages: a Korean system font when the device has one (a phone on
    mobile data is spared 4 MB), else the shipped font from /assets/fonts."""
    rules = [
        f'@font-face {{ font-family: "Hanpyo Sans"; font-weight: {weight}; '
        f'src: local("NanumGothic"), url("/assets/fonts/{name}"); }}'
        for weight, name in FONT_FILES.items()
    ]
    stack = '"Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans KR", "Noto Sans CJK KR"'
    rules.append(f'body {{ font-family: {stack}, "Hanpyo Sans", sans-serif; }}')
    return Markup("\n".join(rules))  # noqa: S704  # our own CSS, no input in it


def _font_subset(name: str, characters: str) -> bytes:
    options = subset.Options()
    options.flavor = "woff"  # zlib: brotli (woff2) takes longer than the rest of the report
    options.layout_features = ["*"]
    font = subset.load_font(str(asset_path("fonts", name)), options)
    try:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=characters + _ASCII)
        subsetter.subset(font)
        buffer = io.BytesIO()
        subset.save_font(font, buffer, options)
    finally:
        font.close()  # it reads the file lazily and holds it open until then
    return buffer.getvalue()
