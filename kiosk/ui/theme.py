"""Sizes and colours in physical units, so the screen meets VVSG 2.0 chapter 7 on any panel.

Every size is derived from the panel's pixels per millimetre: touch targets are at least
15 mm, and body text has a capital height of at least 4.9 mm at the default size. Colour
pairs are chosen for a contrast ratio of at least 10:1 in both themes; the tests compute
the ratios from these very values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import Property, QObject, Signal
from PySide6.QtGui import QFont, QFontMetricsF

FONT_FAMILY = "NanumGothic"
TOUCH_MM = 15.0
BODY_CAP_MM = 4.9
# The four text sizes the voter can pick: the default, then roughly VVSG's larger ranges
# (6.4, 8.5 and 9.8 mm capital height).
TEXT_SCALES = (1.0, 1.3, 1.73, 2.0)


@dataclass(frozen=True, slots=True)
class Palette:
    background: str
    text: str
    panel: str  # cards and list rows
    border: str
    button: str  # ordinary buttons
    button_text: str
    primary: str  # the one main action on a screen
    primary_text: str
    selected: str  # a chosen score or option
    selected_text: str
    warning: str
    warning_text: str
    test_banner: str
    test_banner_text: str


STANDARD = Palette(
    background="#ffffff",
    text="#111111",
    panel="#f2f2f2",
    border="#111111",
    button="#e6e6e6",
    button_text="#111111",
    primary="#0a3478",
    primary_text="#ffffff",
    selected="#0a3478",
    selected_text="#ffffff",
    warning="#fff1c2",
    warning_text="#111111",
    test_banner="#ffa726",
    test_banner_text="#000000",
)

HIGH_CONTRAST = Palette(
    background="#000000",
    text="#ffffff",
    panel="#141414",
    border="#ffffff",
    button="#000000",
    button_text="#ffffff",
    primary="#ffff00",
    primary_text="#000000",
    selected="#ffff00",
    selected_text="#000000",
    warning="#ffff00",
    warning_text="#000000",
    test_banner="#ffa726",
    test_banner_text="#000000",
)


def cap_ratio(family: str = FONT_FAMILY) -> float:
    """Capital height as a fraction of the pixel size, measured from the loaded font."""
    font = QFont(family)
    font.setPixelSize(100)
    return QFontMetricsF(font).capHeight() / 100


class Theme(QObject):
    """Read by every QML item; changes when the voter picks a text size or the theme."""

    changed = Signal()

    def __init__(self, px_per_mm: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._px_per_mm = px_per_mm
        self._cap_ratio = cap_ratio()
        self._scale_index = 0
        self._high_contrast = False

    # -- what the voter changes ----------------------------------------------------------------
    def set_scale_index(self, index: int) -> None:
        index = max(0, min(len(TEXT_SCALES) - 1, index))
        if index != self._scale_index:
            self._scale_index = index
            self.changed.emit()

    def set_high_contrast(self, on: bool) -> None:
        if on != self._high_contrast:
            self._high_contrast = on
            self.changed.emit()

    def reset(self) -> None:
        self.set_scale_index(0)
        self.set_high_contrast(False)

    @property
    def palette(self) -> Palette:
        return HIGH_CONTRAST if self._high_contrast else STANDARD

    def _text_px(self, cap_mm: float) -> int:
        return math.ceil(
            cap_mm * TEXT_SCALES[self._scale_index] * self._px_per_mm / self._cap_ratio
        )

    # -- what QML reads ------------------------------------------------------------------------
    def _scale_index_get(self) -> int:
        return self._scale_index

    def _high_contrast_get(self) -> bool:
        return self._high_contrast

    def _px_per_mm_get(self) -> float:
        return self._px_per_mm

    def _touch(self) -> int:
        return math.ceil(TOUCH_MM * self._px_per_mm)

    def _gap(self) -> int:
        return math.ceil(3 * self._px_per_mm)

    def _body(self) -> int:
        return self._text_px(BODY_CAP_MM)

    def _title(self) -> int:
        return self._text_px(BODY_CAP_MM * 1.35)

    def _huge(self) -> int:
        return self._text_px(BODY_CAP_MM * 2.2)

    def _colour(name: str, notify: Signal = changed) -> Property:  # type: ignore[misc]
        return Property(str, lambda self: getattr(self.palette, name), notify=notify)

    scaleIndex = Property(int, _scale_index_get, notify=changed)
    highContrast = Property(bool, _high_contrast_get, notify=changed)
    pxPerMm = Property(float, _px_per_mm_get, constant=True)
    touch = Property(int, _touch, notify=changed)
    gap = Property(int, _gap, notify=changed)
    body = Property(int, _body, notify=changed)
    title = Property(int, _title, notify=changed)
    huge = Property(int, _huge, notify=changed)
    fontFamily = Property(str, lambda self: FONT_FAMILY, constant=True)
    background = _colour("background")
    text = _colour("text")
    panel = _colour("panel")
    border = _colour("border")
    button = _colour("button")
    buttonText = _colour("button_text")
    primary = _colour("primary")
    primaryText = _colour("primary_text")
    selected = _colour("selected")
    selectedText = _colour("selected_text")
    warning = _colour("warning")
    warningText = _colour("warning_text")
    testBanner = _colour("test_banner")
    testBannerText = _colour("test_banner_text")
    del _colour
