"""VVSG 2.0 chapter 7 on the real screens: contrast of at least 10:1 in both themes, body
text with a capital height of at least 4.9 mm, touch targets of at least 15 mm, an
accessible name on every control, no meaning carried by colour alone, and every setting
forgotten when the voter's card comes out.

The contrast ratios are computed here from the palette values with WCAG's formula, for the
pairs the QML draws together; the walk over every screen then checks each visible text
against the rectangle actually behind it, so a pair the QML uses but this list forgets
still cannot slip through.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtGui import QAccessible, QColor, QFont, QFontInfo, QFontMetricsF, QGuiApplication
from PySide6.QtQuick import QQuickItem

from kiosk.core.chain import Mode
from kiosk.ui.theme import FONT_FAMILY, HIGH_CONTRAST, STANDARD, TEXT_SCALES, Palette, Theme
from testkit.kiosk_config import PX_PER_MM
from testkit.robot import walk
from testkit.ui_driver import Kiosk, KioskFactory, visit_cast_or_check, visit_every_screen

QML_DIR = Path(__file__).resolve().parents[2] / "kiosk" / "ui" / "qml"
MIN_CONTRAST = 10.0
MIN_CAP_MM = 4.9
MIN_TOUCH_MM = 15.0


# -- contrast ------------------------------------------------------------------------------------
def _linear(channel: int) -> float:
    """An sRGB channel (0..255) as linear light, as WCAG 2 defines it."""
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str | QColor) -> float:
    """WCAG relative luminance: L = 0.2126 R + 0.7152 G + 0.0722 B of the linear channels."""
    c = QColor(colour)
    assert c.isValid(), f"not a colour: {colour!r}"
    return 0.2126 * _linear(c.red()) + 0.7152 * _linear(c.green()) + 0.0722 * _linear(c.blue())


def contrast_ratio(a: str | QColor, b: str | QColor) -> float:
    """WCAG contrast ratio (L1 + 0.05) / (L2 + 0.05), L1 the lighter: from 1:1 up to 21:1."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_the_contrast_formula_matches_wcag() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1.0)
    # WCAG's own landmark: #767676 on white is the lightest grey that passes 4.5:1.
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#ffffff", "#767676") == contrast_ratio("#767676", "#ffffff")


# The foreground/background pairs the QML draws together:
#  - KText's default colour is theme.text; it sits on the window (Main.qml's root Rectangle,
#    theme.background), on overlay panels (Overlay.qml, theme.background) and on list rows
#    and the PIN box (ballot.qml, review.qml, pin.qml: theme.panel);
#  - KButton.qml: selectedText on selected when checked, else primaryText on primary for the
#    main action, else buttonText on button;
#  - review.qml: a problem line is warningText on warning;
#  - Main.qml: the test-mode banner is testBannerText on testBanner.
USED_PAIRS = [
    ("text", "background"),
    ("text", "panel"),
    ("button_text", "button"),
    ("primary_text", "primary"),
    ("selected_text", "selected"),
    ("warning_text", "warning"),
    ("test_banner_text", "test_banner"),
]
PALETTES = {"standard": STANDARD, "high contrast": HIGH_CONTRAST}


@pytest.mark.parametrize("palette_name", list(PALETTES))
@pytest.mark.parametrize(("fg", "bg"), USED_PAIRS, ids=[f"{f}-on-{b}" for f, b in USED_PAIRS])
def test_every_colour_pair_has_a_contrast_of_at_least_10_to_1(
    palette_name: str, fg: str, bg: str
) -> None:
    palette: Palette = PALETTES[palette_name]
    ratio = contrast_ratio(getattr(palette, fg), getattr(palette, bg))
    assert ratio >= MIN_CONTRAST, (
        f"{palette_name}: {fg} {getattr(palette, fg)} on {bg} {getattr(palette, bg)} "
        f"is only {ratio:.2f}:1"
    )


def test_the_high_contrast_theme_is_white_on_black() -> None:
    assert QColor(HIGH_CONTRAST.background) == QColor("black")
    assert QColor(HIGH_CONTRAST.text) == QColor("white")
    assert contrast_ratio(HIGH_CONTRAST.text, HIGH_CONTRAST.background) == pytest.approx(21.0)


# Theme property names in QML for the palette's fields (camelCase).
_QML_COLOURS = {re.sub(r"_(\w)", lambda m: m.group(1).upper(), f) for f in Palette.__slots__}


def test_every_colour_in_the_qml_comes_from_the_theme() -> None:
    """A colour written into the QML would escape the palette checks above. The only one
    allowed is Overlay.qml's translucent scrim, which no text is drawn on."""
    problems = []
    for path in sorted(QML_DIR.rglob("*.qml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = re.search(r"\b(?:color|border\.color)\s*:\s*(.+)$", line)
            if not m:
                continue
            value = m.group(1)
            where = f"{path.relative_to(QML_DIR)}:{number}"
            if path.name == "Overlay.qml" and value.strip() == '"#b3000000"':
                continue
            if re.search(r"[\"']", value):
                problems.append(f"{where}: a literal colour: {value.strip()}")
            for name in re.findall(r"\btheme\.(\w+)", value):
                if name not in _QML_COLOURS:
                    problems.append(f"{where}: theme.{name} is not a palette colour")
            if "theme." not in value:
                problems.append(f"{where}: a colour not from the theme: {value.strip()}")
    assert not problems, "\n".join(problems)


# -- text size and touch size in millimetres ------------------------------------------------
def _cap_mm(pixel_size: int, px_per_mm: float, bold: bool = False) -> float:
    font = QFont(FONT_FAMILY)
    font.setPixelSize(pixel_size)
    font.setBold(bold)
    assert QFontInfo(font).family() == FONT_FAMILY, "the kiosk's font is not the one measured"
    return QFontMetricsF(font).capHeight() / px_per_mm


@pytest.mark.parametrize(
    "px_per_mm", [PX_PER_MM, 160 / 25.4], ids=["the tests' 96 dpi", "a 160-dpi panel"]
)
def test_body_text_and_touch_targets_are_physical_sizes(
    qapp: QGuiApplication, px_per_mm: float
) -> None:
    from kiosk.ui.main import load_fonts

    load_fonts()
    dpi = round(px_per_mm * 25.4)
    theme = Theme(px_per_mm)
    assert theme.property("touch") / px_per_mm >= MIN_TOUCH_MM
    caps = []
    for index in range(len(TEXT_SCALES)):
        theme.set_scale_index(index)
        assert theme.property("scaleIndex") == index
        body = theme.property("body")
        for bold in (False, True):
            cap = _cap_mm(body, px_per_mm, bold)
            assert cap >= MIN_CAP_MM, (
                f"{dpi} dpi, size {index + 1}: body {body} px has a capital height of "
                f"only {cap:.2f} mm"
            )
        caps.append(_cap_mm(body, px_per_mm))
        assert theme.property("title") > body
        assert theme.property("huge") > theme.property("title")
    assert caps == sorted(caps) and len(set(caps)) == len(caps), (
        f"each larger text size must be larger: {caps}"
    )
    # The default size is the smallest that meets 4.9 mm, not a large size by accident...
    assert caps[0] < MIN_CAP_MM * 1.1
    # ...and the largest is VVSG's top range (9.0-9.9 mm, roughly).
    assert caps[-1] >= 9.0


def test_sizes_follow_the_panel_density_not_pixels(qapp: QGuiApplication) -> None:
    from kiosk.ui.main import load_fonts

    load_fonts()
    low, high = Theme(PX_PER_MM), Theme(160 / 25.4)
    assert high.property("body") > low.property("body") * 1.5
    assert high.property("touch") > low.property("touch") * 1.5
    assert _cap_mm(high.property("body"), 160 / 25.4) == pytest.approx(
        _cap_mm(low.property("body"), PX_PER_MM), abs=0.1
    )


# -- every screen of a visit ---------------------------------------------------------------
def _is_button(item: QQuickItem) -> bool:
    """KButton: the only item with both an accessibleName and a primary property."""
    return item.property("accessibleName") is not None and item.property("primary") is not None


def _label(item: QQuickItem) -> str:
    return item.objectName() or repr(str(item.property("text"))[:40])


def _backdrop(item: QQuickItem) -> QQuickItem | None:
    """The nearest opaque rectangle behind ``item``: its ancestors, innermost first."""
    parent = item.parentItem()
    while parent is not None:
        if parent.inherits("QQuickRectangle"):
            colour = parent.property("color")
            if isinstance(colour, QColor) and colour.alpha() == 255:
                return parent
        parent = parent.parentItem()
    return None


def _accessible(item: QQuickItem) -> tuple[str, QAccessible.Role | None]:
    """The name and role a screen reader is given for ``item``."""
    iface = QAccessible.queryAccessibleInterface(item)
    if iface is None or not iface.isValid():
        return "", None
    return iface.text(QAccessible.Text.Name).strip(), iface.role()


def screen_problems(kiosk: Kiosk, where: str) -> list[str]:
    """What the current screen gets wrong: a button without an accessible name or under
    15 mm, a picture without a name, a text below body size, a text under 10:1 against
    what is behind it."""
    theme = kiosk.ui.theme
    touch, body = theme.property("touch"), theme.property("body")
    problems: list[str] = []
    buttons = texts = 0
    for item in walk(kiosk.ui.window.contentItem()):
        if not item.isVisible() or item.width() <= 0:
            continue
        if _is_button(item):
            buttons += 1
            name = str(item.property("accessibleName") or "").strip()
            if not name:
                problems.append(f"{where}: button {_label(item)} has no accessible name")
            spoken, role = _accessible(item)
            if not spoken or role != QAccessible.Role.Button:
                problems.append(
                    f"{where}: button {_label(item)} reaches a screen reader as "
                    f"{role} named {spoken!r}"
                )
            if item.width() < touch - 0.01 or item.height() < touch - 0.01:
                problems.append(
                    f"{where}: button {_label(item)} is {item.width():.0f}x"
                    f"{item.height():.0f} px, under {touch} px ({MIN_TOUCH_MM} mm)"
                )
        elif item.inherits("QQuickText") and str(item.property("text") or "").strip():
            texts += 1
            size = item.property("font").pixelSize()
            if size < body:
                problems.append(
                    f"{where}: text {_label(item)} is {size} px, under the body size {body} px"
                )
            if not item.isEnabled():
                continue  # an inactive control, drawn at 40% opacity (see KButton.qml)
            behind = _backdrop(item)
            if behind is None:
                problems.append(f"{where}: text {_label(item)} has no opaque background")
                continue
            fg, bg = item.property("color"), behind.property("color")
            ratio = contrast_ratio(fg, bg)
            if ratio < MIN_CONTRAST:
                problems.append(
                    f"{where}: text {_label(item)} is {fg.name()} on {bg.name()}: {ratio:.2f}:1"
                )
        elif item.inherits("QQuickImage") and item.property("source").toString():
            spoken, role = _accessible(item)
            if not spoken or role != QAccessible.Role.Graphic:
                problems.append(
                    f"{where}: picture {_label(item)} reaches a screen reader as "
                    f"{role} named {spoken!r}"
                )
    if buttons == 0 and texts == 0:
        problems.append(f"{where}: nothing on the screen was checked")
    return problems


@pytest.mark.parametrize(
    ("language", "size", "contrast"),
    [("ko", 0, False), ("en", 3, True)],
    ids=["ko-default", "en-largest-high-contrast"],
)
def test_every_screen_meets_the_size_name_and_contrast_rules(
    kiosk_factory: KioskFactory, language: str, size: int, contrast: bool
) -> None:
    kiosk = kiosk_factory(mode=Mode.TEST)  # the test banner shows on every screen
    problems: list[str] = []
    seen = visit_every_screen(
        kiosk,
        language,
        size,
        contrast,
        lambda where: problems.extend(screen_problems(kiosk, where)),
    )
    assert len(seen) == 11
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("language", "size", "contrast"),
    [("ko", 0, False), ("en", 3, True)],
    ids=["ko-default", "en-largest-high-contrast"],
)
def test_the_cast_or_check_screens_meet_the_same_rules(
    v2_kiosk_factory: KioskFactory, language: str, size: int, contrast: bool
) -> None:
    """Protocol v2's screens: the review with the fingerprint and Check, the overlay that
    explains Check, the checked ballot, the receipt with the fingerprint, and the refusal of a
    real card in test mode."""
    kiosk = v2_kiosk_factory(mode=Mode.TEST)
    problems: list[str] = []
    seen = visit_cast_or_check(
        kiosk,
        language,
        size,
        contrast,
        lambda where: problems.extend(screen_problems(kiosk, where)),
    )
    assert len(seen) == 5
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


# -- no meaning carried by colour alone ----------------------------------------------------
def _button_label(kiosk: Kiosk, name: str) -> str:
    button = kiosk.find(name)
    assert button is not None, f"no visible {name!r}"
    labels = [i for i in walk(button) if i is not button and i.inherits("QQuickText")]
    assert len(labels) == 1, f"{name!r} should have exactly one label"
    return str(labels[0].property("text"))


def test_a_chosen_answer_is_marked_in_words_not_only_in_colour(kiosk: Kiosk) -> None:
    kiosk.sign_in(kiosk.voter_card("resident", 0))
    kiosk.wait_screen("ballot")
    options = [o.id for o in kiosk.election.package.options_in_group("g001")]
    option = next(o for o in options if kiosk.find(f"score-{o}-8") is not None)
    kiosk.tap(f"score-{option}-8")
    chosen = _button_label(kiosk, f"score-{option}-8")
    assert chosen.startswith("✔"), f"a chosen score reads {chosen!r}"
    assert chosen.removeprefix("✔").strip() == "8"
    for other in ("7", "9"):
        assert not _button_label(kiosk, f"score-{option}-{other}").startswith("✔")
    kiosk.tap(f"score-{option}-8")  # tapping it again clears it
    assert not _button_label(kiosk, f"score-{option}-8").startswith("✔")
    kiosk.tap(f"score-{option}-8")

    kiosk.tap("next")
    kiosk.tap("warningGoOn")  # the other proposals are unscored
    kiosk.tap("answer-yes")
    assert _button_label(kiosk, "answer-yes").startswith("✔")
    assert not _button_label(kiosk, "answer-no").startswith("✔")
    kiosk.tap("next")
    kiosk.wait_screen("review")
    # A problem in the review is a ⚠ and a sentence, not just a yellow box.
    problem_lines = [
        str(i.property("text"))
        for i in walk(kiosk.ui.window.contentItem())
        if i.isVisible() and i.inherits("QQuickText") and str(i.property("text")).startswith("⚠")
    ]
    assert problem_lines and all(len(line) > 5 for line in problem_lines), problem_lines


def test_the_test_mode_banner_says_test_in_words(kiosk_factory: KioskFactory) -> None:
    kiosk = kiosk_factory(mode=Mode.TEST)
    kiosk.wait_screen("waiting")
    banner = kiosk.find("testBanner")
    assert banner is not None, "no test banner in test mode"
    texts = [i for i in walk(banner) if i.inherits("QQuickText")]
    assert len(texts) == 1
    korean = str(texts[0].property("text"))
    assert "시험" in korean and "TEST" in korean, korean
    kiosk.tap("langEn")
    english = str(texts[0].property("text"))
    assert "TEST" in english and "not counted" in english, english
    kiosk.tap("langKo")


def test_an_official_kiosk_shows_no_test_banner(kiosk: Kiosk) -> None:
    kiosk.wait_screen("waiting")
    assert not kiosk.visible("testBanner")


# -- high contrast, and every setting forgotten after the visit ------------------------------
def _settings_now(kiosk: Kiosk) -> dict[str, object]:
    theme = kiosk.ui.theme
    return {
        "scaleIndex": theme.property("scaleIndex"),
        "highContrast": theme.property("highContrast"),
        "background": QColor(theme.property("background")).name(),
        "language": kiosk.vm.property("language"),
        "moreTime": kiosk.vm.property("moreTimeOn"),
    }


def test_high_contrast_and_every_setting_reset_when_the_card_comes_out(kiosk: Kiosk) -> None:
    kiosk.wait_screen("waiting")
    default = _settings_now(kiosk)
    assert default == {
        "scaleIndex": 0,
        "highContrast": False,
        "background": "#ffffff",
        "language": "ko",
        "moreTime": False,
    }
    assert kiosk.text("headline") == "카드를 넣어 주세요"

    kiosk.tap("accessButton")
    kiosk.tap("contrast")
    theme = kiosk.ui.theme
    assert QColor(theme.property("background")) == QColor("black")
    assert QColor(theme.property("text")) == QColor("white")
    headline = kiosk.find("headline")
    assert headline is not None and headline.property("color") == QColor("white")
    assert kiosk.ui.window.property("color") == QColor("black")
    kiosk.tap("textSize2")
    kiosk.tap("slower")
    kiosk.tap("langEn")
    chosen = _settings_now(kiosk)
    assert chosen == {
        "scaleIndex": 2,
        "highContrast": True,
        "background": "#000000",
        "language": "en",
        "moreTime": True,
    }

    # The settings last for this voter's visit...
    kiosk.insert(kiosk.voter_card("resident", 3))
    kiosk.wait_screen("pin")
    assert _settings_now(kiosk) == chosen
    assert kiosk.text("headline") == "Please enter your PIN"
    # ...and are forgotten when the card comes out.
    kiosk.remove()
    assert _settings_now(kiosk) == default
    assert kiosk.text("headline") == "카드를 넣어 주세요"
    assert kiosk.ui.window.property("color") == QColor("white")
    headline = kiosk.find("headline")
    assert headline is not None and headline.property("color") == QColor(STANDARD.text)


# -- inactive controls -----------------------------------------------------------------------
def _rgb(colour: QColor) -> tuple[int, int, int]:
    return colour.red(), colour.green(), colour.blue()


def _blend(fg: QColor, bg: QColor, opacity: float) -> QColor:
    """``fg`` drawn at ``opacity`` over the opaque ``bg``."""
    return QColor(
        *(round(opacity * f + (1 - opacity) * b) for f, b in zip(_rgb(fg), _rgb(bg), strict=True))
    )


def _drawn_contrast(button: QQuickItem) -> float:
    """The contrast of a button's label as it is drawn: QML's opacity applies to the button
    and to its label, each blended over what is behind it."""
    opacity, item = 1.0, button
    while item is not None:
        opacity *= item.opacity()
        item = item.parentItem()
    behind = _backdrop(button)
    assert behind is not None
    labels = [i for i in walk(button) if i is not button and i.inherits("QQuickText")]
    face = _blend(button.property("color"), behind.property("color"), opacity)
    text = _blend(labels[0].property("color"), face, opacity)
    return contrast_ratio(text, face)


def test_a_disabled_button_is_still_readable(kiosk: Kiosk) -> None:
    kiosk.sign_in(kiosk.voter_card("resident", 1))
    kiosk.wait_screen("ballot")
    back = kiosk.find("back")
    assert back is not None and not back.isEnabled()
    problems = []
    ratio = _drawn_contrast(back)
    if ratio < MIN_CONTRAST:
        problems.append(f"'Back' on the first page: {ratio:.2f}:1")
    kiosk.simulator.remove(0)
    kiosk.wait_screen("waiting")
    kiosk.insert(kiosk.voter_card("resident", 2))
    kiosk.wait_screen("pin")
    ok = kiosk.find("pinOk")
    assert ok is not None and not ok.isEnabled()  # no digit typed yet
    ratio = _drawn_contrast(ok)
    if ratio < MIN_CONTRAST:
        problems.append(f"the PIN screen's OK: {ratio:.2f}:1")
    assert not problems, "disabled buttons the voter cannot read:\n" + "\n".join(problems)


def test_a_toggle_that_is_off_is_still_a_toggle_for_a_screen_reader(kiosk: Kiosk) -> None:
    kiosk.wait_screen("waiting")
    kiosk.tap("accessButton")
    problems = []
    for name in ("langKo", "langEn", "contrast", "slower", "textSize0", "textSize1"):
        item = kiosk.find(name)
        assert item is not None
        iface = QAccessible.queryAccessibleInterface(item)
        assert iface is not None and iface.isValid()
        state = iface.state()
        if not state.checkable:
            problems.append(
                f"{name}: checkable={bool(state.checkable)}, checked={bool(state.checked)}"
            )
    assert not problems, "toggles a screen reader does not know are toggles:\n" + "\n".join(
        problems
    )
