"""A hostile kiosk with a valid key: every block is well signed, so only the chain rules stand
between it and the log. The fuzzer picks each block's kind and fields; verify_chain's verdict
is checked against an independent model of the rules written from docs/ and DESIGN.md."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fuzz import world
from fuzz.contract import accepted, require
from fuzz.draw import Draw
from kiosk.core.block import ZERO_HASH, Block, BlockKind, SignedBlock, block_time
from kiosk.core.chain import verify_chain
from kiosk.core.crypto import Domain, SigningKey, kiosk_id_for
from kiosk.core.election import ElectionId
from kiosk.core.encoding import b64e
from testkit.elections import derived_key
from testkit.v2_blocks import cast_by, test_card, voter_card

# Every kind but ``spoiled`` (a checked ballot counts nowhere and names no voter: its rules are
# tests/unit/test_block_v2.py's).
KINDS = [k for k in BlockKind if k is not BlockKind.SPOILED]
START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
_KEY: list[SigningKey] = []


def _hostile() -> SigningKey:
    if not _KEY:
        _KEY.append(derived_key(world.SEED, "hostile-kiosk", 0))
    return _KEY[0]


@dataclass
class _Writer:
    """What the hostile kiosk has written so far, to offer the fuzzer the right values."""

    blocks: list[SignedBlock] = field(default_factory=list)
    now: datetime = START
    session: int = 0
    counts: list[int] = field(default_factory=lambda: [0, 0])


def _pick(d: Draw, right: int) -> int:
    """Usually the value a faithful kiosk would write; sometimes a neighbour, or zero."""
    return [right, right, right, right + 1, right - 1, 0, 1, 2][d.below(8)]


def _body(d: Draw, kind: BlockKind, w: _Writer) -> dict[str, Any]:
    key, package = _hostile().public_key, world.election().package.package_hash
    match kind:
        case BlockKind.GENESIS:
            return {"kiosk_key": b64e(key), "package": b64e(package if d.below(8) else bytes(32))}
        case BlockKind.MODE:
            return {"mode": ["test", "official"][d.below(2)]}
        case BlockKind.SESSION_OPEN:
            return {"session": max(1, _pick(d, w.session + 1))}
        case BlockKind.SESSION_PAUSE | BlockKind.SESSION_RESUME:
            return {"session": max(1, _pick(d, w.session))}
        case BlockKind.SESSION_CLOSE:
            return {
                "session": max(1, _pick(d, w.session)),
                "ballots": max(0, _pick(d, w.counts[0])),
                "test_ballots": max(0, _pick(d, w.counts[1])),
                "checkpoint": None,
            }
        case BlockKind.BALLOT | BlockKind.TEST_BALLOT:
            return _ballot_body(kind is BlockKind.TEST_BALLOT, d.below(4))
        case BlockKind.SPOILED:
            raise AssertionError("not drawn: KINDS leave it out")


@functools.lru_cache(maxsize=8)
def _ballot_body(test: bool, n: int) -> dict[str, Any]:
    """Voter ``n``'s ballot body (a test card's for a test ballot), encrypted and card-signed
    once per process: the chain rules look only at who cast it and its kind."""
    e = world.election()
    card = test_card(e, n % len(e.test_card_keys)) if test else voter_card(e, "resident", n)
    return cast_by(e.package, card, seed=n)


def _next(d: Draw, w: _Writer) -> SignedBlock:
    kind = KINDS[d.below(len(KINDS))] if w.blocks else BlockKind.GENESIS
    body = _body(d, kind, w)
    if kind is BlockKind.SESSION_OPEN:
        w.session, w.counts = body["session"], [0, 0]
    elif kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT):
        w.counts[kind is BlockKind.TEST_BALLOT] += 1
    w.now += timedelta(minutes=[1, 0, 1, -1][d.below(4)])
    height = len(w.blocks) if d.below(16) else _pick(d, len(w.blocks))
    prev = w.blocks[-1].hash if w.blocks else ZERO_HASH
    if w.blocks and not d.below(16):
        prev = w.blocks[d.below(len(w.blocks))].hash
    election = world.election().package.id if d.below(16) else ElectionId("other")
    block = Block(
        election, kiosk_id_for(_hostile().public_key), height, prev, block_time(w.now), kind, body
    )
    digest = block.hash()
    return SignedBlock(block, digest, _signature(digest))


@functools.lru_cache(maxsize=65536)
def _signature(digest: bytes) -> bytes:
    """The hostile kiosk's signature (deterministic, so cached: inputs share their prefixes)."""
    return _hostile().sign(Domain.BLOCK, digest)


def chain_rules(data: bytes) -> None:
    """verify_chain accepts a well-signed chain exactly when the model of the rules does."""
    d, w = Draw(data), _Writer()
    while d.left and len(w.blocks) < 24:
        w.blocks.append(_next(d, w))
    if not w.blocks:
        return
    package = world.election().package
    verdict = accepted(
        lambda: verify_chain(w.blocks, election=package.id, package_hash=package.package_hash)
    )
    problem = model_problem(w.blocks, package.id, package.package_hash)
    require(
        (verdict is not None) == (problem is None),
        f"verify_chain {'accepted' if verdict else 'refused'} a chain the model "
        f"{'refuses: ' + str(problem) if problem else 'accepts'}",
    )


def model_problem(blocks: list[SignedBlock], election: str, package_hash: bytes) -> str | None:
    """Why a chain of well-signed blocks breaks the rules, or None if it keeps them all."""
    mode, open_state, number = "", "closed", 0
    counts, seen = [0, 0], set()
    for i, signed in enumerate(blocks):
        b = signed.block
        body, kind = b.body, b.kind
        if b.height != i or b.election != election:
            return f"{i}: height or election"
        if b.prev != (blocks[i - 1].hash if i else ZERO_HASH):
            return f"{i}: prev"
        if i and b.time < blocks[i - 1].block.time:
            return f"{i}: time goes back"
        if (kind is BlockKind.GENESIS) != (i == 0):
            return f"{i}: genesis only first"
        if kind is BlockKind.GENESIS and body["package"] != b64e(package_hash):
            return "wrong package"
        if kind is BlockKind.MODE:
            if open_state != "closed":
                return f"{i}: mode during a session"
            mode = body["mode"]
        elif kind is BlockKind.SESSION_OPEN:
            if open_state != "closed" or not mode or body["session"] != number + 1:
                return f"{i}: open"
            open_state, number, counts = "open", body["session"], [0, 0]
        elif kind is BlockKind.SESSION_PAUSE:
            if open_state != "open" or body["session"] != number:
                return f"{i}: pause"
            open_state = "paused"
        elif kind is BlockKind.SESSION_RESUME:
            if open_state != "paused" or body["session"] != number:
                return f"{i}: resume"
            open_state = "open"
        elif kind is BlockKind.SESSION_CLOSE:
            if open_state == "closed" or body["session"] != number:
                return f"{i}: close"
            if [body["ballots"], body["test_ballots"]] != counts:
                return f"{i}: close counts"
            open_state = "closed"
        elif kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT):
            test = kind is BlockKind.TEST_BALLOT
            if open_state != "open" or mode != ("test" if test else "official"):
                return f"{i}: ballot out of session or mode"
            if (kind, body["voter"]) in seen:
                return f"{i}: same voter twice"
            seen.add((kind, body["voter"]))
            counts[test] += 1
    return None
