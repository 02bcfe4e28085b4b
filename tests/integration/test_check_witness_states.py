"""The check page's witness part on a real SQLite ledger, in this process: which checkpoint a
tracking code's proof goes to, and what the page says of it, as the witnesses' cosignature
lines on the ledger's checkpoints change (ledger/web/check_witnesses.py). The forged line
cannot come from a real witness through the ledger (it keeps only lines that verify), so it is
written into the database here, as an attacker with the database would.

The run with real witness and ledger processes is tests/integration/test_record_witnessed.py."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.core.block import BlockKind
from kiosk.core.chain import Mode
from kiosk.core.checkpoint import _split_note
from kiosk.core.cosignature import CosignerKey, cosign
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import sign_package
from kiosk.core.encoding import b64e
from ledger.service.closing import close_election
from ledger.service.ledger import Ledger
from ledger.store import tile_source
from ledger.store.merkle_log import LogKey
from ledger.store.schema import connect, create_schema
from ledger.web.check_witnesses import NOT_MET, NOT_YET, WITNESSED, witnessed_inclusion
from testkit.chain_writer import ChainWriter
from testkit.v2_ballots import cast_ballot
from testkit.v2_record import LOG_ORIGIN, record_election

KEYS = {n: SigningKey(sha256(n.encode())) for n in ("w.test/a", "w.test/b")}
VKEYS = tuple(CosignerKey(n, k.public_key).vkey for n, k in KEYS.items())


def cosign_latest(ledger: Ledger, *names: str, forge: str | None = None) -> int:
    """Add cosignature lines by ``names`` to the ledger's latest checkpoint (and a line in
    ``forge``'s name made with another key); its size."""
    head = tile_source.latest(ledger.engine)
    body, _ = _split_note(head.note)
    lines = [cosign(body, n, KEYS[n], 1_796_000_000) for n in names]
    if forge is not None:
        fake = cosign(body, forge, SigningKey(sha256(b"forger")), 1_796_000_000)
        prefix, blob = fake.rstrip("\n").rsplit(" ", 1)
        raw = base64.b64decode(blob)
        key_id = CosignerKey(forge, KEYS[forge].public_key).key_id.to_bytes(4, "big")
        lines.append(f"{prefix} {base64.b64encode(key_id + raw[4:]).decode()}\n")
    assert tile_source.record_cosigned(
        ledger.engine, head.size, head.note, head.note + "".join(lines)
    )
    return head.size


def test_the_proof_goes_to_a_witnessed_checkpoint_and_the_page_says_which_state(
    tmp_path: Path,
) -> None:
    election, _, _, _, log_key = record_election("check-witnesses", "cw", witnesses=(2, VKEYS))
    engine = connect(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_schema(engine)
    signed = sign_package(election.package, election.authority).to_json()
    Ledger.initialise(engine, LogKey(LOG_ORIGIN, log_key), signed, election.authority.public_key)
    ledger = Ledger(engine, log_key)
    (tmp_path / "log.key").write_text(b64e(log_key.seed))
    kiosk = SigningKey(sha256(b"cw/kiosk"))
    ledger.enrol(kiosk.public_key, "Hall", "")
    writer = ChainWriter(
        election.package, kiosk, datetime.now(UTC) - timedelta(hours=1), timedelta(seconds=20)
    )
    rng = random.Random(5)
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    first = writer.append(BlockKind.BALLOT, cast_ballot(election, 0, rng).body)
    assert ledger.ingest(writer.kiosk_id, [b.encode() for b in writer.blocks]).rejection is None
    old_size = cosign_latest(ledger, "w.test/a", "w.test/b")
    later = writer.append(BlockKind.BALLOT, cast_ballot(election, 1, rng).body)
    writer.close_session()
    sent = len(writer.blocks) - old_size
    assert (
        ledger.ingest(writer.kiosk_id, [b.encode() for b in writer.blocks[-sent:]]).rejection
        is None
    )
    cosign_latest(ledger, "w.test/a", forge="w.test/b")

    # The older block's proof goes to the older, witnessed checkpoint.
    proof, view = witnessed_inclusion(ledger, ledger.find_tracking_code(first.tracking_code))
    assert view is not None and view.state == WITNESSED and proof.size == old_size
    assert view.cosigned_by == ("w.test/a", "w.test/b")
    # The newer one's checkpoint carries a forged line in w.test/b's name: not met, named.
    proof, view = witnessed_inclusion(ledger, ledger.find_tracking_code(later.tracking_code))
    assert view is not None and view.state == NOT_MET and view.forged == ("w.test/b",)
    assert proof.size == len(writer.blocks) and not view.closed

    # Without the forgery, only w.test/a: not yet witnessed while the log is open ...
    head = tile_source.latest(engine)
    honest = head.note[: head.note.rindex("\u2014 w.test/b ")]
    assert tile_source.record_cosigned(engine, head.size, head.note, honest)
    _, view = witnessed_inclusion(ledger, ledger.find_tracking_code(later.tracking_code))
    assert view is not None and view.state == NOT_YET and view.missing == ("w.test/b",)
    # ... and not met once the election is closed on it.
    close_election(ledger, {})
    _, view = witnessed_inclusion(ledger, ledger.find_tracking_code(later.tracking_code))
    assert view is not None and view.state == NOT_MET and view.closed
    assert view.cosigned_by == ("w.test/a",) and view.forged == ()
