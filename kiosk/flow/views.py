"""What each screen shows, as frozen values: message keys, numbers and ``Text``, never a
translated sentence (the Qt bridge translates). One view per screen or overlay; the bridge
signals a view only when its value changed."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.chain import Session
from kiosk.core.election import ContestKind, Option, Text
from kiosk.flow.ballot_form import BallotForm
from kiosk.flow.state import (
    MAX_CHECKS,
    PIN_MIN,
    Kiosk,
    NotePart,
    Settings,
    StaffLine,
    Warning,
)
from kiosk.hardware.card import session as cs
from kiosk.hardware.printer.receipt import PrinterState
from kiosk.sync.worker import SyncStatus


@dataclass(frozen=True, slots=True)
class SessionView:
    """The frame every screen shares: which screen, the election, the reader, the mode."""

    screen: str
    has_election: bool
    election_title: Text | None
    reader_ready: bool
    voting_open: bool
    session_state: str
    mode: str
    version: str
    kiosk_id: str


@dataclass(frozen=True, slots=True)
class PinView:
    length: int
    ready: bool
    wrong: bool
    tries_left: int


@dataclass(frozen=True, slots=True)
class MessageView:
    """The message screen (a refusal or an ending) and the notice before a ballot."""

    key: str
    next_key: str
    notice_key: str


@dataclass(frozen=True, slots=True)
class CriterionRow:
    criterion: str
    title: Text
    score: int | None


@dataclass(frozen=True, slots=True)
class OptionRow:
    option_id: str
    title: Text
    summary: Text
    budget: int | None
    score: int | None
    chosen: bool
    scores: tuple[CriterionRow, ...]
    image: str | None  # a file name in the kiosk's media folder


@dataclass(frozen=True, slots=True)
class BallotView:
    page_index: int
    page_count: int
    contest_title: Text | None
    contest_kind: str
    contest_min: int
    contest_max: int
    chosen_count: int
    answer: str
    options: tuple[OptionRow, ...]
    can_cast: bool


@dataclass(frozen=True, slots=True)
class OverlayView:
    """Over the ballot: a warning, a proposal's detail, the idle countdown."""

    warning: Warning | None
    detail: OptionRow | None
    seconds_left: int


@dataclass(frozen=True, slots=True)
class ScoreLine:
    title: Text
    score: int | None


@dataclass(frozen=True, slots=True)
class CriteriaLine:
    title: Text
    parts: tuple[tuple[Text, int | None], ...]


@dataclass(frozen=True, slots=True)
class ChoiceLine:
    title: Text


@dataclass(frozen=True, slots=True)
class NothingChosen:
    pass


@dataclass(frozen=True, slots=True)
class AnswerLine:
    answer: str | None


ReviewLine = ScoreLine | CriteriaLine | ChoiceLine | NothingChosen | AnswerLine


@dataclass(frozen=True, slots=True)
class ReviewRow:
    index: int
    title: Text
    lines: tuple[ReviewLine, ...]
    problem: tuple[str, int] | None  # the first finding: its key and number


@dataclass(frozen=True, slots=True)
class ReviewView:
    rows: tuple[ReviewRow, ...]
    # the encrypted ballot's fingerprint ("" while it is being encrypted), whether
    # Cast and Check may be tapped, and how many checks are left in this visit
    encrypted: bool = False
    fingerprint: str = ""
    ready: bool = True
    checks_left: int = 0
    asking_check: bool = False


@dataclass(frozen=True, slots=True)
class ReceiptView:
    """The receipt, or the checked ballot's slip: its block's tracking code, the
    check page's address and the ballot's fingerprint."""

    code: str
    url: str
    print_key: str
    fingerprint: str = ""
    checks_left: int = 0


@dataclass(frozen=True, slots=True)
class Counts:
    session: int
    session_test: int
    total: int
    total_test: int
    session_number: int


@dataclass(frozen=True, slots=True)
class StaffView:
    staff_name: str
    is_manager: bool
    counts: Counts | None
    sync_configured: bool
    sync: SyncStatus
    reader: str | None
    printer_known: bool
    printer: PrinterState | None
    package_hash: str
    chain_head: bytes | None
    chain_height: int
    election_id: str
    note: tuple[NotePart, ...]
    pending_hash: str
    diagnostics: tuple[StaffLine, ...]
    test_tally: tuple[StaffLine, ...]


@dataclass(frozen=True, slots=True)
class Views:
    session: SessionView
    settings: Settings
    pin: PinView
    message: MessageView
    ballot: BallotView
    overlay: OverlayView
    review: ReviewView
    receipt: ReceiptView
    staff: StaffView


def views(state: Kiosk) -> Views:
    return Views(
        session_view(state),
        state.settings,
        pin_view(state),
        MessageView(state.message_key, state.next_key, state.notice_key),
        ballot_view(state),
        overlay_view(state),
        review_view(state.form, state),
        ReceiptView(
            state.receipt_code,
            state.receipt_url,
            state.print_key,
            state.receipt_fingerprint,
            MAX_CHECKS - state.checks,
        ),
        staff_view(state),
    )


def session_view(state: Kiosk) -> SessionView:
    p, box = state.package, state.box
    return SessionView(
        screen=state.screen.value,
        has_election=p is not None,
        election_title=p.title if p else None,
        reader_ready=state.reader is not None,
        voting_open=box is not None and box.session is Session.OPEN,
        session_state=box.session.value if box else "closed",
        mode=box.mode.value if box else "unset",
        version=state.setup.version,
        kiosk_id=state.setup.kiosk_id,
    )


def pin_view(state: Kiosk) -> PinView:
    card = state.card
    return PinView(
        length=len(state.pin),
        ready=len(state.pin) >= PIN_MIN,
        wrong=isinstance(card, cs.AwaitingPin) and card.wrong_pin,
        tries_left=card.tries_left if isinstance(card, cs.AwaitingPin) else 0,
    )


def option_rows(form: BallotForm, page: int) -> tuple[OptionRow, ...]:
    contest = form.contest(page)
    return tuple(_option_row(form, page, o) for o in form.options(contest.id))


def _option_row(form: BallotForm, page: int, option: Option) -> OptionRow:
    contest = form.contest(page)
    return OptionRow(
        option_id=option.id,
        title=option.title,
        summary=option.summary,
        budget=option.budget,
        score=form.score(contest.id, option.id),
        chosen=option.id in form.chosen(contest.id),
        scores=tuple(
            CriterionRow(c.id, c.title, form.score(contest.id, option.id, c.id))
            for c in contest.criteria
        ),
        image=option.image,
    )


def ballot_view(state: Kiosk) -> BallotView:
    form = state.form
    if form is None:
        return BallotView(0, 0, None, "", 0, 0, 0, "", (), False)
    contest = form.contest(state.page)
    if contest.kind is ContestKind.SCORE:
        chosen = form.scored_count(contest.id)
    else:
        chosen = len(form.chosen(contest.id))
    options = option_rows(form, state.page)
    return BallotView(
        page_index=state.page,
        page_count=len(form.contests),
        contest_title=contest.title,
        contest_kind=contest.kind.value,
        contest_min=contest.min,
        contest_max=contest.max,
        chosen_count=chosen,
        answer=form.answer(contest.id) or "",
        options=options,
        can_cast=form.can_cast(),
    )


def overlay_view(state: Kiosk) -> OverlayView:
    detail = None
    if state.detail and state.form is not None:
        rows = option_rows(state.form, state.page)
        detail = next((r for r in rows if r.option_id == state.detail), None)
    return OverlayView(state.warning, detail, state.seconds_left)


def review_view(form: BallotForm | None, state: Kiosk | None = None) -> ReviewView:
    if form is None:
        return ReviewView(())
    rows = _review_rows(form)
    if state is None or state.package is None:
        return ReviewView(rows)
    ballot = state.encrypted
    return ReviewView(
        rows,
        encrypted=True,
        fingerprint=ballot.fingerprint if ballot is not None else "",
        ready=ballot is not None and not state.recording,
        checks_left=MAX_CHECKS - state.checks,
        asking_check=state.asking_check,
    )


def _review_rows(form: BallotForm) -> tuple[ReviewRow, ...]:
    rows = []
    for index, contest in enumerate(form.contests):
        lines: list[ReviewLine] = []
        titles: dict[str, Text] = {o.id: o.title for o in form.options(contest.id)}
        if contest.kind is ContestKind.SCORE:
            for option in form.options(contest.id):
                if contest.criteria:
                    parts = tuple(
                        (c.title, form.score(contest.id, option.id, c.id)) for c in contest.criteria
                    )
                    lines.append(CriteriaLine(titles[option.id], parts))
                else:
                    lines.append(ScoreLine(titles[option.id], form.score(contest.id, option.id)))
        elif contest.kind is ContestKind.CHOICE:
            lines = [ChoiceLine(titles[o]) for o in form.chosen(contest.id)] or [NothingChosen()]
        else:
            lines = [AnswerLine(form.answer(contest.id))]
        findings = form.findings(contest.id)
        problem = (findings[0].problem.value, findings[0].count) if findings else None
        rows.append(ReviewRow(index, contest.title, tuple(lines), problem))
    return tuple(rows)


def staff_view(state: Kiosk) -> StaffView:
    h, box, p = state.holder, state.box, state.package
    counts = None
    if box is not None:
        counts = Counts(
            box.session_ballots,
            box.session_test_ballots,
            box.ballots,
            box.test_ballots,
            box.session_number,
        )
    return StaffView(
        staff_name=h.staff.name if h and h.staff else "",
        is_manager=state.is_manager,
        counts=counts,
        sync_configured=state.setup.sync_configured,
        sync=state.sync,
        reader=state.reader,
        printer_known=state.printer_known,
        printer=state.printer_state,
        package_hash=p.short_hash if p else "",
        chain_head=box.head if box else None,
        chain_height=box.height if box else -1,
        election_id=p.id if p else "",
        note=state.staff_note,
        pending_hash=state.pending_hash if state.pending_package is not None else "",
        diagnostics=state.diagnostics,
        test_tally=state.test_tally,
    )
