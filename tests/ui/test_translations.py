"""Korean first, English second, through Qt's translation system: every sentence is in the
.ts sources, translated, compiled into the committed .qm files, and none is written into
the QML outside qsTr()."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kiosk.core.chain import Mode
from testkit.ui_driver import Kiosk, KioskFactory, fill_in_to_review, test_roll_card

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "assets" / "i18n"
UI = ROOT / "kiosk" / "ui"
QML_DIR = UI / "qml"
BIN = Path(sys.executable).parent
LANGUAGES = ("ko", "en")

HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
LETTER = re.compile(r"[^\W\d_]")  # any letter, in any script
PLACEHOLDER = re.compile(r"%(?:n|L?\d+)")


def _tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            pytest.fail(f"{name} is not installed next to {sys.executable}")
        path = Path(found)
    return path


def _messages(ts: Path) -> list[tuple[str, ET.Element]]:
    root = ET.parse(ts).getroot()  # noqa: S314 - the project's own committed files
    return [
        (context.findtext("name") or "", message)
        for context in root.iter("context")
        for message in context.iter("message")
    ]


def _translations(message: ET.Element) -> list[str]:
    translation = message.find("translation")
    if translation is None:
        return []
    forms = translation.findall("numerusform")
    if message.get("numerus") == "yes":
        return [f.text or "" for f in forms]
    return [translation.text or ""]


def _where(context: str, message: ET.Element) -> str:
    location = message.find("location")
    at = f" ({location.get('filename')}:{location.get('line')})" if location is not None else ""
    return f"[{context}] {message.findtext('source')!r}{at}"


# -- the Korean translation is complete ------------------------------------------------------
def test_every_korean_message_is_finished_and_in_korean() -> None:
    messages = _messages(I18N / "hanpyo_ko.ts")
    assert len(messages) > 50, "hanpyo_ko.ts has hardly any messages"
    problems = []
    for context, message in messages:
        where = _where(context, message)
        source = message.findtext("source") or ""
        translation = message.find("translation")
        if translation is None:
            problems.append(f"{where}: no translation")
            continue
        if translation.get("type"):  # unfinished, vanished or obsolete
            problems.append(f"{where}: translation is {translation.get('type')}")
        texts = _translations(message)
        if message.get("numerus") == "yes" and not texts:
            problems.append(f"{where}: a %n message with no numerus forms")
        for text in texts:
            if not text.strip():
                problems.append(f"{where}: empty translation")
            elif LETTER.search(PLACEHOLDER.sub("", source)) and not HANGUL.search(text):
                problems.append(f"{where}: translation {text!r} has no Hangul")
            if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(text)):
                problems.append(f"{where}: placeholders differ in {text!r}")
    assert not problems, "\n".join(problems)


def test_the_english_plurals_are_finished() -> None:
    """English is the source language; its .ts holds only the singular and plural of the
    %n sentences (lupdate -pluralonly)."""
    messages = _messages(I18N / "hanpyo_en.ts")
    assert messages, "hanpyo_en.ts is empty"
    problems = []
    for context, message in messages:
        where = _where(context, message)
        translation = message.find("translation")
        if message.get("numerus") != "yes":
            problems.append(f"{where}: not a %n message")
        if translation is None or translation.get("type"):
            problems.append(f"{where}: not finished")
            continue
        forms = _translations(message)
        if len(forms) != 2 or not all(f.strip() for f in forms):
            problems.append(f"{where}: English needs a singular and a plural, got {forms}")
        for form in forms:
            if "%n" not in form:
                problems.append(f"{where}: {form!r} lost its %n")
    assert not problems, "\n".join(problems)


# -- the compiled files are up to date -------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_qm_is_what_lrelease_makes_of_the_ts(tmp_path: Path, language: str) -> None:
    ts, qm = I18N / f"hanpyo_{language}.ts", I18N / f"hanpyo_{language}.qm"
    out = tmp_path / qm.name
    subprocess.run(
        [str(_tool("pyside6-lrelease")), str(ts), "-qm", str(out)],
        check=True,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.read_bytes() == qm.read_bytes(), (
        f"{qm.relative_to(ROOT)} is not compiled from {ts.relative_to(ROOT)}: run "
        f"pyside6-lrelease {ts.relative_to(ROOT)} -qm {qm.relative_to(ROOT)}"
    )


# -- every marked string is in the .ts -------------------------------------------------------
def _sources() -> list[str]:
    files = (
        sorted(UI.glob("*.py"))
        + sorted(QML_DIR.glob("*.qml"))
        + sorted((QML_DIR / "screens").glob("*.qml"))
    )
    assert files
    return [str(f.relative_to(ROOT)) for f in files]


def _pairs(ts: Path, *, active_only: bool = False) -> set[tuple[str, str]]:
    pairs = set()
    for context, message in _messages(ts):
        translation = message.find("translation")
        kind = translation.get("type") if translation is not None else None
        if active_only and kind in ("vanished", "obsolete"):
            continue
        pairs.add((context, message.findtext("source") or ""))
    return pairs


@pytest.mark.parametrize(
    ("language", "options"),
    [
        ("ko", []),
        ("en", ["-pluralonly", "-source-language", "en", "-target-language", "en"]),
    ],
)
def test_lupdate_finds_no_string_missing_from_the_ts(
    tmp_path: Path, language: str, options: list[str]
) -> None:
    committed = I18N / f"hanpyo_{language}.ts"
    copy = tmp_path / committed.name
    shutil.copyfile(committed, copy)
    before = _pairs(committed)
    subprocess.run(
        [str(_tool("pyside6-lupdate")), *options, *_sources(), "-ts", str(copy)],
        check=True,
        capture_output=True,
        cwd=ROOT,
        timeout=300,
    )
    after = _pairs(copy, active_only=True)
    new = sorted(after - before)
    assert not new, (
        f"strings marked for translation but missing from {committed.name}:\n"
        + "\n".join(f"[{c}] {s!r}" for c, s in new)
    )
    gone = sorted(before - after)
    assert not gone, (
        f"{committed.name} still translates strings the code no longer has:\n"
        + "\n".join(f"[{c}] {s!r}" for c, s in gone)
    )


# -- no user-facing text written into the QML ------------------------------------------------
USER_FACING = ("text", "accessibleName", "Accessible.name", "Accessible.description")
_BINDING = re.compile(
    r"(?:^|[{;])\s*(" + "|".join(re.escape(p) for p in USER_FACING) + r")\s*:(?!:)"
)
_CONTINUES = ("?", ":", "+", ".", "||", "&&", "-", "*", "/")
# A literal qsTr() is given: its source text, or the one before it (qsTr's disambiguation,
# qsTranslate's context), which the voter never sees either.
_TRANSLATE = re.compile(
    r"\b(?:qsTr|qsTranslate|qsTrId|QT_TR_NOOP|QT_TRANSLATE_NOOP)\s*\(\s*"
    r"(?:\"(?:[^\"\\]|\\.)*\"\s*,\s*)?$"
)
# The language buttons name each language in itself, so a voter who reads only that
# language can find it; they are the same in both languages on purpose.
ENDONYMS = {"waiting.qml": {"한국어", "English", "한국어 (Korean)", "English (영어)"}}


def _expression(lines: list[str], number: int, start: int) -> tuple[str, list[int]]:
    """The binding's expression from ``lines[number][start:]``: up to a ';' or '}' outside
    brackets and strings, carried on to the next lines while brackets are open or the next
    line goes on with an operator (the QML here breaks long ternaries that way)."""
    out: list[str] = []
    line_of: list[int] = []
    depth, quote, i, n = 0, "", start, number
    while n < len(lines):
        line = lines[n]
        while i < len(line):
            ch = line[i]
            if quote:
                if ch == "\\":
                    out.append(line[i : i + 2])
                    line_of.extend([n, n])
                    i += 2
                    continue
                if ch == quote:
                    quote = ""
            elif ch in "\"'`":
                quote = ch
            elif line.startswith("//", i):
                break
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                if depth == 0:
                    return "".join(out), line_of
                depth -= 1
            elif ch == ";" and depth == 0:
                return "".join(out), line_of
            out.append(ch)
            line_of.append(n)
            i += 1
        n, i = n + 1, 0
        if n >= len(lines):
            break
        following = lines[n].strip()
        if not (depth > 0 or quote or following.startswith(_CONTINUES)):
            break
        out.append("\n")
        line_of.append(n)
    return "".join(out), line_of


_LITERAL = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'|`((?:[^`\\]|\\.)*)`")
_COMPARED = re.compile(r"[!=]==?\s*$")
_COMPARED_WITH = re.compile(r"^\s*[!=]==?")


def _literals(expression: str) -> list[tuple[int, str]]:
    """The string literals in ``expression`` that could be shown, with their offsets: not
    the operands of a comparison (vm.mode === "test" is a value, not a text)."""
    found = []
    for m in _LITERAL.finditer(expression):
        if _COMPARED.search(expression[: m.start()]) or _COMPARED_WITH.match(expression[m.end() :]):
            continue
        value = next(g for g in m.groups() if g is not None)
        found.append((m.start(), value))
    return found


def hard_coded_strings(name: str, source: str) -> list[tuple[int, str, str]]:
    """(line, property, literal) for each literal with letters in a user-facing binding
    that is not what qsTr() is given to translate."""
    lines = source.splitlines()
    found = []
    for number, line in enumerate(lines):
        if line.lstrip().startswith(("//", "import ")):
            continue
        for binding in _BINDING.finditer(line):
            expression, line_of = _expression(lines, number, binding.end())
            for offset, value in _literals(expression):
                if _TRANSLATE.search(expression[:offset]):
                    continue  # what qsTr() is given
                if not LETTER.search(re.sub(r"\\.", "", value)):  # an escape like \\n is no word
                    continue  # digits and symbols: "0", "●", "✔ ", "⚠ ", ": "
                if value in ENDONYMS.get(name, set()):
                    continue
                found.append((line_of[offset] + 1, binding.group(1), value))
    return found


def test_the_qml_scanner_finds_hard_coded_text() -> None:
    """The check below only means something if the scanner sees every form a binding takes."""
    sample = "\n".join(
        [
            "import QtQuick",
            'KText { objectName: "a"; text: "Inline" }',
            "KText {",
            '    text: qsTr("Fine") + ": " + "Joined"',
            '    accessibleName: flag ? qsTr("Fine")',
            '        : "Second line"',
            '    Accessible.name: qsTr("Fine %1").arg("Argument")',
            '    text: "●".repeat(3) + "\\n"',
            '    text: vm.mode === "test" ? qsTr("Fine") : "shown" + ("x" !== y)',
            '    text: qsTr("Fine", "disambiguation", 2)',
            '    // text: "a comment"',
            '    title: "Not user-facing here"',
            "}",
        ]
    )
    assert hard_coded_strings("sample.qml", sample) == [
        (2, "text", "Inline"),
        (4, "text", "Joined"),
        (6, "accessibleName", "Second line"),
        (7, "Accessible.name", "Argument"),
        (9, "text", "shown"),
    ]


def test_no_user_facing_text_is_hard_coded_in_the_qml() -> None:
    files = sorted(QML_DIR.rglob("*.qml"))
    assert len(files) >= 10
    problems = []
    endonyms_seen = set()
    for path in files:
        source = path.read_text(encoding="utf-8")
        for line, prop, value in hard_coded_strings(path.name, source):
            problems.append(f"{path.relative_to(ROOT)}:{line}: {prop}: {value!r} is not in qsTr()")
        endonyms_seen |= {e for e in ENDONYMS.get(path.name, set()) if f'"{e}"' in source}
    assert not problems, "hard-coded text:\n" + "\n".join(problems)
    assert endonyms_seen == ENDONYMS["waiting.qml"], "the allowance is out of date"


# -- the running kiosk switches language -----------------------------------------------------
def test_the_language_buttons_switch_the_screen(kiosk: Kiosk) -> None:
    kiosk.wait_screen("waiting")
    assert kiosk.vm.property("language") == "ko"
    assert kiosk.text("headline") == "카드를 넣어 주세요"
    kiosk.tap("langEn")
    assert kiosk.vm.property("language") == "en"
    assert kiosk.text("headline") == "Please insert your card"
    kiosk.tap("langKo")
    assert kiosk.vm.property("language") == "ko"
    assert kiosk.text("headline") == "카드를 넣어 주세요"


def test_the_cast_or_check_screens_speak_korean_first(v2_kiosk_factory: KioskFactory) -> None:
    """Protocol v2's review, check overlay and checked-ballot screen, in the kiosk's first
    language."""
    kiosk = v2_kiosk_factory(mode=Mode.TEST)
    kiosk.sign_in(test_roll_card(kiosk))
    fill_in_to_review(kiosk)
    kiosk.qtbot.waitUntil(lambda: bool(kiosk.vm.property("ballotReady")), timeout=15_000)
    fingerprint = kiosk.vm.property("fingerprint")
    assert kiosk.text("fingerprint") == f"투표지 지문: {fingerprint}"
    assert kiosk.text("checkButton") == "투표지 확인하기"
    kiosk.tap("checkButton")
    kiosk.wait_for("checkOverlay")
    assert kiosk.text("checkTitle") == "이 투표지를 확인할까요?"
    assert kiosk.text("checksLeftNote") == "앞으로 3번 더 확인할 수 있습니다."
    kiosk.tap("checkConfirm")
    kiosk.wait_screen("checked")
    assert kiosk.text("headline") == "투표지를 확인했습니다. 이 투표지는 집계되지 않습니다."
    assert kiosk.text("ballotAgain") == "투표지 다시 만들기"
    assert kiosk.text("checksLeft") == "앞으로 2번 더 확인할 수 있습니다."
    kiosk.remove()
