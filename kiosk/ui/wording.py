"""The flow's values in words: the one place, with ``texts``, where the kiosk translates.

Every sentence goes through ``QCoreApplication.translate`` in the context "Kiosk", so
``lupdate`` finds it (assets/i18n); a proposal's own title comes in the voter's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_never

from PySide6.QtCore import QCoreApplication, QLocale

from kiosk.core.election import Text
from kiosk.flow import state as st
from kiosk.flow import views as vw
from kiosk.hardware.printer.receipt import PrinterState
from kiosk.ui.texts import say, say_staff


def or_none(score: int | None, none: Any = -1) -> Any:
    """A score for the screen: 0 is a real score, so "no score yet" is ``none`` (-1)."""
    return none if score is None else score


@dataclass(frozen=True, slots=True)
class Wording:
    """Words in ``language`` (ko or en) for the flow's values."""

    language: str

    # -- text ----------------------------------------------------------------------------------
    def text(self, text: Text | None) -> str:
        if text is None:
            return ""
        return text.ko if self.language == "ko" else text.en

    def money(self, amount: int | None) -> str:
        if amount is None:
            return ""
        locale = QLocale(
            QLocale.Language.Korean if self.language == "ko" else QLocale.Language.English
        )
        return QCoreApplication.translate("Kiosk", "Budget: %1 won").replace(
            "%1", locale.toString(amount)
        )

    def review_line(self, line: vw.ReviewLine) -> str:
        match line:
            case vw.CriteriaLine(title=title, parts=parts):
                said = [f"{self.text(t)} {or_none(score, '—')}" for t, score in parts]
                return f"{self.text(title)}: {', '.join(said)}"
            case vw.ScoreLine(title=title, score=score):
                return f"{self.text(title)}: " + (
                    QCoreApplication.translate("Kiosk", "score %n", None, score)
                    if score is not None
                    else QCoreApplication.translate("Kiosk", "not scored")
                )
            case vw.ChoiceLine(title=title):
                return self.text(title)
            case vw.NothingChosen():
                return QCoreApplication.translate("Kiosk", "nothing chosen")
            case vw.AnswerLine(answer=answer):
                return {
                    "yes": QCoreApplication.translate("Kiosk", "Yes"),
                    "no": QCoreApplication.translate("Kiosk", "No"),
                    "blank": QCoreApplication.translate("Kiosk", "Blank"),
                }.get(answer or "", QCoreApplication.translate("Kiosk", "no answer"))
            case _:
                assert_never(line)

    def printer_word(self, state: PrinterState | None) -> str:
        if state is None:
            return QCoreApplication.translate("Kiosk", "none")
        return {
            PrinterState.READY: QCoreApplication.translate("Kiosk", "ready"),
            PrinterState.PAPER_LOW: QCoreApplication.translate("Kiosk", "paper low"),
            PrinterState.NO_PAPER: QCoreApplication.translate("Kiosk", "out of paper"),
            PrinterState.OFFLINE: QCoreApplication.translate("Kiosk", "offline"),
        }[state]

    def note(self, part: st.NotePart) -> str:
        match part:
            case st.Said(key=key):
                return say_staff(key)
            case st.Explained(text=text):
                return text
            case _:
                assert_never(part)

    def staff_line(self, line: st.StaffLine) -> str:
        match line:
            case st.Said() | st.Explained():
                return self.note(line)
            case st.ReadersLine(readers=readers):
                return QCoreApplication.translate("Kiosk", "Card readers: %1").replace(
                    "%1", ", ".join(readers) or QCoreApplication.translate("Kiosk", "none")
                )
            case st.PrinterLine(state=printer):
                return QCoreApplication.translate("Kiosk", "Printer: %1").replace(
                    "%1", self.printer_word(printer)
                )
            case st.LedgerLine(height=None, error=error):
                return QCoreApplication.translate("Kiosk", "Ledger: not reachable (%1)").replace(
                    "%1", error
                )
            case st.LedgerLine(height=height):
                return QCoreApplication.translate(
                    "Kiosk", "Ledger: reachable; it holds this kiosk's blocks up to %1"
                ).replace("%1", str(height))
            case st.TallyTotal(counted=counted):
                return QCoreApplication.translate(
                    "Kiosk", "Test tally: test ballots counted: %n", None, counted
                )
            case st.TallyInvalid(invalid=invalid):
                return QCoreApplication.translate(
                    "Kiosk", "Test ballots that could not be counted: %n", None, invalid
                )
            case st.TallyContest(title=title):
                return self.text(title)
            case st.TallyYesNo(yes=yes, no=no, blank=blank):
                return "  " + QCoreApplication.translate(
                    "Kiosk", "yes %1 · no %2 · blank %3"
                ).replace("%1", str(yes)).replace("%2", str(no)).replace("%3", str(blank))
            case st.TallyVotes(title=title, votes=votes):
                return f"  {self.text(title)}: " + QCoreApplication.translate(
                    "Kiosk", "votes: %n", None, votes
                )
            case st.TallyScores(title=title, scores=scores, mean=mean):
                return f"  {self.text(title)}: " + QCoreApplication.translate(
                    "Kiosk", "scores: %n, mean %1", None, scores
                ).replace("%1", f"{mean:.2f}")
            case st.TallyNothing():
                return "  " + QCoreApplication.translate("Kiosk", "nothing yet")
            case _:
                assert_never(line)

    def sync_text(self, v: vw.StaffView) -> str:
        if not v.sync_configured:
            return QCoreApplication.translate("Kiosk", "not configured (offline kiosk)")
        if not v.sync.trusted:
            return QCoreApplication.translate(
                "Kiosk", "STOPPED: the ledger could not be trusted. Call the election manager."
            )
        pending = v.sync.pending  # a plain name: lupdate 6.11 skips calls whose count is dotted
        if not v.sync.online:
            return QCoreApplication.translate("Kiosk", "offline; blocks waiting: %n", None, pending)
        return QCoreApplication.translate("Kiosk", "online; blocks waiting: %n", None, pending)

    def warning(self, warning: st.Warning | None) -> str:
        if warning is None:
            return ""
        if warning.key == "full":
            n = warning.n  # a plain name: lupdate 6.11 skips calls whose count is dotted
            return QCoreApplication.translate(
                "Kiosk", "You may choose up to %n. Remove one first to choose another.", None, n
            )
        return say(warning.key, warning.n)
