"""A valid signed kiosk chain built in memory, with chosen block times."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kiosk.core.ballot import Ballot
from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.block import Block, BlockKind, SignedBlock, block_time, sign_block
from kiosk.core.bodies import (
    ballot_kind,
    encrypted_ballot_body,
    genesis_body,
    mode_body,
    session_close_body,
    session_open_body,
)
from kiosk.core.chain import ChainState, Mode, next_state
from kiosk.core.crypto import Domain, SigningKey, kiosk_id_for
from kiosk.core.election import ElectionPackage, Voter
from kiosk.core.encrypted_ballot import card_message


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

    def cast(self, voter: Voter, ballot: Ballot, card: SigningKey) -> SignedBlock:
        """Encrypt ``ballot`` as the kiosk would (to the test key in test mode), have the
        voter's ``card`` sign it (INTERNAL AUTHENTICATE's signature) and append it."""
        kind = ballot_kind(self.state.mode)
        self.now += self.step
        encrypted, _ = encrypt_ballot(
            self.package, ballot, voter.excluded, test=kind is BlockKind.TEST_BALLOT
        )
        message = card_message(encrypted.election, voter.voter_id, encrypted.hash)
        signature = card.sign(Domain.BALLOT, message)
        body = encrypted_ballot_body(voter, encrypted, card.public_key, signature)
        return self.append(kind, body)
