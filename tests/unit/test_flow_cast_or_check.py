"""Protocol v2 at the kiosk, through the flow, the effect runner, a real ballot box and fake
devices: the review screen encrypts, Cast has the card sign and records the ballot, Check
publishes it opened and lets the voter make it again, and each mode takes only its own cards."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.core.ballot_crypto import open_spoiled
from kiosk.core.block import BlockKind, SignedBlock
from kiosk.core.chain import Mode, verify_chain
from kiosk.core.crypto import Domain, verify_signature
from kiosk.core.encoding import b64d
from kiosk.core.encrypted_ballot import card_message, check_form, read_encrypted_ballot
from kiosk.core.tally import count_test_ballots
from kiosk.flow import events as ev
from kiosk.flow.state import MAX_CHECKS, Screen
from kiosk.flow.views import views
from ledger.rules.ballot_arrival import check_ballot_arrival
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.flows import Flow, Held, card_on_test_roll, to_review, voter


@pytest.fixture(scope="module")
def v2() -> SyntheticElection:
    return build_election(
        mixed_definition(),
        seed="flow-v2",
        experts_per_group=1,
        online_per_proposal=1,
        protocol=2,
        test_cards=2,
    )


def _blocks(flow: Flow, *kinds: BlockKind) -> list[SignedBlock]:
    box = flow.services.box
    assert box is not None
    return [b for b in box.store.blocks() if b.block.kind in kinds]


def _at_review(flow: Flow, election: SyntheticElection) -> None:
    flow.sign_in(voter(election, "resident"))
    assert flow.screen() is Screen.BALLOT
    to_review(flow)
    assert flow.screen() is Screen.REVIEW


# -- the review screen encrypts ------------------------------------------------------------------
def test_the_review_screen_shows_the_encrypted_ballots_fingerprint(
    make_flow: Callable[..., Flow], v2: SyntheticElection
) -> None:
    flow = make_flow(of=v2)
    _at_review(flow, v2)
    ballot = flow.state.encrypted
    assert ballot is not None and flow.state.secrets is not None
    review = views(flow.state).review
    assert review.encrypted and review.ready and review.fingerprint == ballot.fingerprint
    assert len(review.fingerprint.replace("-", "")) == 16 and review.checks_left == MAX_CHECKS
    assert not ballot.test  # official mode: encrypted to the election key


def test_going_back_from_review_discards_the_encryption_and_returning_makes_a_new_one(
    make_flow: Callable[..., Flow], v2: SyntheticElection
) -> None:
    flow = make_flow(of=v2)
    _at_review(flow, v2)
    first = flow.state.encrypted
    assert first is not None
    secrets, visit = flow.state.secrets, flow.state.visit
    assert secrets is not None and visit is not None
    stale = ev.BallotEncrypted(visit, flow.state.review, first, secrets)

    flow.post(ev.PreviousPage())
    assert flow.screen() is Screen.BALLOT
    assert flow.state.encrypted is None and flow.state.secrets is None
    assert views(flow.state).review.fingerprint == ""
    flow.post(stale)  # an answer for the earlier showing, arriving late: dropped
    assert flow.state.encrypted is None

    flow.post(ev.NextPage())
    if flow.state.warning is not None:
        flow.post(ev.GoOnAnyway())
    assert flow.screen() is Screen.REVIEW
    second = flow.state.encrypted
    assert second is not None
    assert second.ballot_id != first.ballot_id and second.fingerprint != first.fingerprint
    flow.post(stale)  # still the earlier showing's: the new encryption stays
    assert flow.state.encrypted == second

    flow.post(ev.ChangeContest(0))
    assert flow.screen() is Screen.BALLOT and flow.state.encrypted is None


# -- Cast -----------------------------------------------------------------------------------------
def test_cast_records_the_card_signed_ballot_and_keeps_no_randomness(
    make_flow: Callable[..., Flow], v2: SyntheticElection
) -> None:
    flow = make_flow(of=v2)
    _at_review(flow, v2)
    ballot = flow.state.encrypted
    holder = flow.state.holder
    assert ballot is not None and holder is not None and holder.voter is not None
    flow.post(ev.CastAsked())
    assert flow.screen() is Screen.RECEIPT
    assert flow.state.secrets is None and flow.state.encrypted is None

    (block,) = _blocks(flow, BlockKind.BALLOT)
    body = block.block.body
    assert set(body) == {"voter", "ballot", "card_key", "card_sig"}
    voter_id = holder.voter.voter_id
    assert voter_id is not None and body["voter"] == voter_id.hex()
    recorded = read_encrypted_ballot(body["ballot"])
    assert recorded == ballot
    entry = v2.package.roll_entry_by_voter(voter_id)
    assert entry is not None and b64d(body["card_key"]) in entry.keys
    verify_signature(
        Domain.BALLOT,
        b64d(body["card_key"]),
        card_message(v2.package.id, voter_id, recorded.hash),
        b64d(body["card_sig"]),
    )
    check_form(v2.package, recorded, entry.category, entry.group, entry.excluded, test=False)
    assert "nonces" not in body and "plaintext" not in body

    receipt = views(flow.state).receipt
    assert receipt.code == block.tracking_code and receipt.fingerprint == ballot.fingerprint
    (printed,) = flow.printer.printed
    assert printed.code == block.tracking_code
    assert any(ballot.fingerprint in line for line in printed.lines)
    assert not any("p0001" in line for line in printed.lines)  # no choice on the slip


def test_a_card_pulled_before_it_signs_records_nothing_and_the_voter_is_told(
    make_flow: Callable[..., Flow], v2: SyntheticElection
) -> None:
    held = Held()
    base = make_flow(of=v2)
    flow = Flow(base.services, base.reader, base.stick, executor=held)
    flow.insert(voter(v2, "resident"))
    held.release()
    flow.drain()
    flow.type_pin()
    held.release()
    flow.drain()
    to_review(flow)
    assert flow.state.encrypted is not None

    flow.post(ev.CastAsked())  # the card's signature is asked for on the card thread...
    assert flow.state.recording and held.jobs
    flow.pull()  # ...and the card leaves before it answers
    assert flow.screen() is Screen.MESSAGE and flow.state.message_key == "pulled_at_cast"
    assert flow.state.next_key == "insert_again"
    held.release()
    flow.drain()
    assert flow.screen() is Screen.MESSAGE
    assert not _blocks(flow, BlockKind.BALLOT, BlockKind.SPOILED)
    flow.post(ev.IdleTimedOut())  # read: the next voter finds the waiting screen
    assert flow.screen() is Screen.WAITING
    flow.runner.stop()


# -- Check ----------------------------------------------------------------------------------------
def test_check_then_cast_writes_the_spoiled_ballot_first_and_it_opens_to_the_choices(
    make_flow: Callable[..., Flow], v2: SyntheticElection
) -> None:
    flow = make_flow(of=v2)
    _at_review(flow, v2)
    form = flow.state.form
    checked = flow.state.encrypted
    assert form is not None and checked is not None
    choices = form.ballot()

    flow.post(ev.CheckAsked())  # first the overlay that says what a check does
    assert flow.screen() is Screen.REVIEW and views(flow.state).review.asking_check
    assert not _blocks(flow, BlockKind.SPOILED)
    flow.post(ev.CheckCancelled())
    assert not views(flow.state).review.asking_check
    flow.post(ev.CheckConfirmed())  # without the overlay: nothing
    assert flow.screen() is Screen.REVIEW and not _blocks(flow, BlockKind.SPOILED)
    flow.post(ev.CheckAsked(), ev.CheckConfirmed())
    assert flow.screen() is Screen.CHECKED
    assert flow.state.secrets is None and flow.state.checks == 1
    (spoiled,) = _blocks(flow, BlockKind.SPOILED)
    assert "voter" not in spoiled.block.body and "card_sig" not in spoiled.block.body
    opened = open_spoiled(v2.package, spoiled.block.body)
    assert opened.ballot == checked and opened.plaintext.plaintext() == choices.plaintext()
    slip = views(flow.state).receipt
    assert slip.code == spoiled.tracking_code and slip.fingerprint == checked.fingerprint
    assert slip.url == flow.services.check_url(spoiled.tracking_code) and slip.url
    assert slip.checks_left == MAX_CHECKS - 1
    (printed,) = flow.printer.printed
    assert printed.code == spoiled.tracking_code and printed.qr == slip.url
    assert any(checked.fingerprint in line for line in printed.lines)
    assert any("CHECKED BALLOT" in line for line in printed.lines)

    flow.post(ev.BallotAgain())  # the choices are kept; the ballot is encrypted afresh
    assert flow.screen() is Screen.REVIEW and flow.state.form == form
    again = flow.state.encrypted
    assert again is not None and again.ballot_id != checked.ballot_id
    flow.post(ev.CastAsked())
    assert flow.screen() is Screen.RECEIPT

    kinds = [b.block.kind for b in _blocks(flow, BlockKind.SPOILED, BlockKind.BALLOT)]
    assert kinds == [BlockKind.SPOILED, BlockKind.BALLOT]
    # The ledger takes both as they arrive, and the kiosk's chain verifies whole.
    box = flow.services.box
    assert box is not None
    verify_chain(list(box.store.blocks()))
    for block in _blocks(flow, BlockKind.SPOILED, BlockKind.BALLOT):
        check_ballot_arrival(v2.package, block)
    (cast,) = _blocks(flow, BlockKind.BALLOT)
    assert read_encrypted_ballot(cast.block.body["ballot"]) == again
    assert flow.chain().ballots == 1  # the checked ballot is not a ballot


def test_a_voter_may_check_three_times_and_then_only_cast(
    make_flow: Callable[..., Flow], v2: SyntheticElection
) -> None:
    flow = make_flow(of=v2)
    _at_review(flow, v2)
    for n in range(MAX_CHECKS):
        assert views(flow.state).review.checks_left == MAX_CHECKS - n
        flow.post(ev.CheckAsked(), ev.CheckConfirmed())
        assert flow.screen() is Screen.CHECKED
        flow.post(ev.BallotAgain())
    assert views(flow.state).review.checks_left == 0
    flow.post(ev.CheckAsked(), ev.CheckConfirmed())
    assert flow.screen() is Screen.REVIEW
    assert len(_blocks(flow, BlockKind.SPOILED)) == MAX_CHECKS
    flow.post(ev.CastAsked())
    assert flow.screen() is Screen.RECEIPT


# -- which cards a mode takes ---------------------------------------------------------------------
def test_a_test_mode_kiosk_refuses_a_real_voter_card_before_the_pin(
    make_flow: Callable[..., Flow], v2: SyntheticElection
) -> None:
    flow = make_flow(mode=Mode.TEST, of=v2)
    flow.insert(voter(v2, "resident"))
    assert flow.screen() is Screen.MESSAGE
    assert flow.state.message_key == "real_card_in_test"
    assert flow.state.next_key == "ask_staff"


def test_an_official_kiosk_refuses_a_test_card(
    make_flow: Callable[..., Flow], v2: SyntheticElection
) -> None:
    flow = make_flow(of=v2)
    flow.insert(card_on_test_roll(v2))
    assert flow.screen() is Screen.MESSAGE
    assert flow.state.message_key == "test_card_in_official"


def test_a_test_card_votes_in_test_mode_and_the_test_tally_opens_it(
    make_flow: Callable[..., Flow], v2: SyntheticElection
) -> None:
    flow = make_flow(mode=Mode.TEST, of=v2)
    flow.sign_in(card_on_test_roll(v2))
    assert flow.screen() is Screen.BALLOT
    to_review(flow)
    form = flow.state.form
    assert form is not None
    choices = form.ballot()
    encrypted = flow.state.encrypted
    assert encrypted is not None and encrypted.test
    flow.post(ev.CheckAsked(), ev.CheckConfirmed(), ev.BallotAgain(), ev.CastAsked())
    assert flow.screen() is Screen.RECEIPT
    (block,) = _blocks(flow, BlockKind.TEST_BALLOT)
    assert read_encrypted_ballot(block.block.body["ballot"]).test
    check_ballot_arrival(v2.package, block)  # on the test roll, as the ledger checks it
    box = flow.services.box
    assert box is not None
    results = count_test_ballots(v2.package, box.store.blocks())
    assert (
        results["ballots"]["counted"] == 1 and results["invalid"] == []
    )  # the spoiled one is not counted
    scored = next(c for c in results["contests"] if c["id"] == form.contests[0].id)
    first = form.options(form.contests[0].id)[0].id
    row = next(o for o in scored["options"] if o["id"] == first)
    contest = form.contests[0]
    given = choices.selections[contest.id]
    assert isinstance(given, dict) and given[first] == contest.max
    assert row["by_category"]["resident"]["count"] == 1
    assert row["by_category"]["resident"]["sum"] == contest.max
