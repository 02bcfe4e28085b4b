"""Ingest reads an uploaded block once, from the value the API's JSON parser gave it
(``decode_uploaded_block``), and verifies its chain without checking the body and hash again
(``ChainVerifier(decoded=True)``). Each must take and refuse exactly what the long way does:
``decode_signed_block(canonical_json(item))`` and the full chain verification, refusal
messages included."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kiosk.core.block import (
    BlockKind,
    CastBallot,
    DecodedBlock,
    SignedBlock,
    decode_block,
    decode_signed_block,
    decode_uploaded_block,
)
from kiosk.core.chain import ChainVerifier, Mode
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e, canonical_json
from kiosk.core.encrypted_ballot import BallotShape
from kiosk.core.errors import BlockError, ChainError, EncodingError
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.v2_blocks import cast_by, spoiled_by, voter_card

START = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def v2() -> SyntheticElection:
    definition = mixed_definition(groups=2, per_group=4, election_id="upload-decode")
    return build_election(definition, protocol=2, experts_per_group=1, online_per_proposal=1)


@pytest.fixture(scope="module")
def chain(v2: SyntheticElection) -> list[SignedBlock]:
    """Genesis, mode, a session with a cast ballot and a spoiled one, and its close."""
    writer = ChainWriter(v2.package, SigningKey.generate(), START, timedelta(minutes=1))
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    writer.append(BlockKind.BALLOT, cast_by(v2.package, voter_card(v2, "expert")))
    writer.append(BlockKind.SPOILED, spoiled_by(v2.package, voter_card(v2, "resident").voter))
    writer.close_session()
    return writer.blocks


def _long_way(item: Any) -> SignedBlock | str:
    """What the API did before: canonical bytes of the parsed value (an empty object when it
    has none), decoded from those bytes."""
    try:
        raw = canonical_json(item)
    except EncodingError:
        raw = b"{}"
    try:
        return decode_signed_block(raw)
    except BlockError as e:
        return f"refused: {e}"


def _one_read(item: Any) -> SignedBlock | str:
    try:
        return decode_uploaded_block(item).signed
    except BlockError as e:
        return f"refused: {e}"


def test_every_kind_of_block_reads_the_same_with_its_hash_and_stored_bytes(
    chain: list[SignedBlock],
) -> None:
    for signed in chain:
        item = json.loads(signed.encode())
        decoded = decode_uploaded_block(item)
        assert decoded.signed == signed
        assert decoded.signed.hash == signed.block.hash()
        assert decoded.raw == signed.encode()  # what the ledger stores, canonical


def test_the_ballot_is_handed_on_as_read(chain: list[SignedBlock]) -> None:
    kinds = {}
    for signed in chain:
        decoded = decode_uploaded_block(json.loads(signed.encode()))
        kinds[signed.block.kind] = decoded.ballot
    assert isinstance(kinds[BlockKind.BALLOT], CastBallot)
    assert isinstance(kinds[BlockKind.SPOILED], BallotShape)
    assert kinds[BlockKind.GENESIS] is None and kinds[BlockKind.SESSION_OPEN] is None


def _ballot(d: dict[str, Any]) -> dict[str, Any]:
    ballot: dict[str, Any] = d["body"]["ballot"]
    return ballot


# Each change to the cast ballot block's parsed value; the one read and the long way must
# agree on the outcome, a block or the refusal's very words.
CHANGES: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
    ("height as a float", lambda d: d.update(height=float(d["height"]))),
    ("v as a float", lambda d: d.update(v=1.0)),
    ("height past 2^53", lambda d: d.update(height=2**60)),
    ("height as 1e21's double", lambda d: d.update(height=10**21)),
    ("a NaN in the body", lambda d: d["body"].update(extra=float("nan"))),
    ("a lone surrogate", lambda d: d.update(time="\ud800")),
    ("a non-ASCII key", lambda d: d.update({"키": 1})),
    ("an unknown field", lambda d: d.update(extra=1)),
    ("no signature", lambda d: d.pop("sig")),
    ("a signature too short", lambda d: d.update(sig=b64e(bytes(63)))),
    ("an upper-case voter", lambda d: d["body"].update(voter=d["body"]["voter"].upper())),
    ("a ballot version 1", lambda d: _ballot(d).update(v=1)),
    ("a ballot version as a float", lambda d: _ballot(d).update(v=2.0)),
    ("a session number as a float", lambda d: d.update(kind="session_open", body={"session": 1.0})),
    ("not an object", lambda d: d.clear()),
    ("a body that is a list", lambda d: d.update(body=[])),
    ("an unknown kind", lambda d: d.update(kind="tally")),
    ("a tampered time", lambda d: d.update(time="2026-12-07T10:59Z")),
]


@pytest.mark.parametrize(("change", "edit"), CHANGES, ids=[c[0] for c in CHANGES])
def test_a_changed_block_reads_as_the_long_way_reads_it(
    chain: list[SignedBlock], change: str, edit: Callable[[dict[str, Any]], object]
) -> None:
    item = json.loads(chain[3].encode())  # the cast ballot
    edit(item)
    assert _one_read(item) == _long_way(copy.deepcopy(item)), change


def test_a_time_that_names_no_real_minute_is_refused_every_time(chain: list[SignedBlock]) -> None:
    """The check of a block's time is remembered per time: a bad one stays refused."""
    item = json.loads(chain[3].encode())
    item["time"] = "2026-02-30T10:00Z"
    for _ in range(2):
        assert (
            _one_read(item)
            == "refused: block.time: '2026-02-30T10:00Z' is not a real date and time"
        )
        assert _long_way(item) == _one_read(item)
    item["time"] = "2026-02-28T10:00Z"
    assert isinstance(_one_read(item), SignedBlock)  # well formed; its signature is not read here


def test_a_ballot_past_the_bound_is_refused_as_before(chain: list[SignedBlock]) -> None:
    item = json.loads(chain[3].encode())
    contest = _ballot(item)["contests"][0]
    while len(canonical_json(item)) <= 100 * 1024:
        contest["cells"] += contest["cells"]
    refusal = _one_read(item)
    assert isinstance(refusal, str) and "larger than" in refusal
    assert refusal == _long_way(item)


def _verify(blocks: list[DecodedBlock | SignedBlock], *, decoded: bool) -> list[str]:
    verifier = ChainVerifier(decoded=decoded)
    outcomes = []
    for block in blocks:
        signed = block.signed if isinstance(block, DecodedBlock) else block
        try:
            outcomes.append(verifier.add(signed).head.hex())
        except ChainError as e:
            outcomes.append(f"{e.height} {e.reason} {e}")
    return outcomes


def _tamper(raw: bytes, field: str, value: object) -> bytes:
    document = json.loads(raw)
    document[field] = value
    return canonical_json(document)


@pytest.mark.parametrize(
    ("position", "field", "value"),
    [
        (3, "time", "2026-12-07T09:00Z"),  # signed over another time: bad signature
        (3, "height", 7),
        (2, "prev", b64e(bytes(32))),
        (4, "election", "another"),
        (0, "kiosk", "0" * 32),
        (5, "sig", b64e(bytes(64))),
    ],
)
def test_a_decoded_chain_is_refused_where_the_full_check_refuses_it(
    chain: list[SignedBlock], position: int, field: str, value: object
) -> None:
    raws = [s.encode() for s in chain]
    raws[position] = _tamper(raws[position], field, value)
    full = _verify([decode_signed_block(r) for r in raws], decoded=False)
    assert _verify([decode_block(r) for r in raws], decoded=True) == full
    uploaded = [decode_uploaded_block(json.loads(r)) for r in raws]
    assert _verify(list(uploaded), decoded=True) == full
    assert any(" " in outcome for outcome in full)  # the tampering is caught at all


def test_an_untampered_chain_verifies_alike(chain: list[SignedBlock]) -> None:
    raws = [s.encode() for s in chain]
    full = _verify([decode_signed_block(r) for r in raws], decoded=False)
    assert _verify([decode_uploaded_block(json.loads(r)) for r in raws], decoded=True) == full
    assert full[-1] == chain[-1].hash.hex()
