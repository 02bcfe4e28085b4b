"""A valid signed kiosk chain built in memory, with chosen block times."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kiosk.core.ballot import Ballot
from kiosk.core.block import Block, BlockKind, SignedBlock, block_time, sign_block
from kiosk.core.bodies import (
    ballot_body,
    ballot_kind,
    genesis_body,
    mode_body,
    session_close_body,
    session_open_body,
)
from kiosk.core.chain import ChainState, Mode, next_state
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import ElectionPackage, Voter


class ChainWriter:
    """Builds a valid signed kiosk chain in memory, with chosen block times: for tests, the
    demo and the benches, where a store file per kiosk would only slow things down. Every
    block passes the same state rules as the kiosk's store (``next_state``)."""

    def __init__(
        self, package: ElectionPackage, key: SigningKey, start: datetime, step: timedelta
    ) -> None:
        self.package, self.key = package, key
        self.now, self.step = start, step
        self.state = ChainState()
        self.blocks: list[SignedBlock] = []
        self.append(
            BlockKind.GENESIS,
            genesis_body(key.public_key, package),
        )

    @property
    def kiosk_id(self) -> str:
        return kiosk_id_for(self.key.public_key)

    def append(self, kind: BlockKind, body: Mapping[str, Any]) -> SignedBlock:
        block = Block(
            election=self.package.id,
            kiosk=kiosk_id_for(self.key.public_key),
            height=self.state.next_height,
            prev=self.state.head,
            time=block_time(self.now),
            kind=kind,
            body=dict(body),
        )
        signed = sign_block(block, self.key)
        self.state = next_state(self.state, signed)
        self.blocks.append(signed)
        return signed

    def mode(self, mode: Mode) -> None:
        self.append(BlockKind.MODE, mode_body(mode))

    def open_session(self) -> None:
        self.append(BlockKind.SESSION_OPEN, session_open_body(self.state))

    def close_session(self, checkpoint: str | None = None) -> None:
        self.append(BlockKind.SESSION_CLOSE, session_close_body(self.state, checkpoint))

    def cast(self, voter: Voter, ballot: Ballot) -> SignedBlock:
        """Seal ``ballot`` as the store would (test key in test mode) and append it."""
        kind = ballot_kind(self.state.mode)
        self.now += self.step
        return self.append(kind, ballot_body(self.package, kind, voter, ballot))
