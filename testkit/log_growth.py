"""Growing a real ledger's log cheaply: a kiosk's chain of opened and closed sessions (signed
blocks every rule accepts), uploaded as a kiosk uploads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection
from testkit.ledger_requests import enrol, upload
from testkit.ledger_server import LedgerServer

START = datetime(2017, 11, 25, 0, 30, tzinfo=UTC)
BATCH = 1000  # blocks per upload: the ledger's most


def new_kiosk(server: LedgerServer, election: SyntheticElection, name: str) -> ChainWriter:
    """A kiosk enrolled on ``server`` in official mode; its genesis and mode not yet sent."""
    writer = ChainWriter(election.package, SigningKey.generate(), START, timedelta(minutes=1))
    enrol(server, writer.key, name)
    writer.mode(Mode.OFFICIAL)
    return writer


def grow(server: LedgerServer, writer: ChainWriter, sessions: int) -> None:
    """Append ``sessions`` opened and closed sessions to the kiosk's chain and upload every
    block the ledger does not hold yet."""
    head = requests.get(f"{server.url}/v1/kiosks/{writer.kiosk_id}/head", timeout=10).json()
    first = int(head["height"]) + 1
    for _ in range(sessions):
        writer.open_session()
        writer.close_session()
    for start in range(first, len(writer.blocks), BATCH):
        answer = upload(server, writer.key, writer.blocks[start : start + BATCH])
        assert answer.status_code == 200, answer.text
