"""A v2 election whose package names the ledger's log key and witnesses, with the real
processes behind it: `ledger witness` servers and a `ledger serve --witness ... --tiles-dir`
that has every checkpoint cosigned and written as tiles.

The log key is made first (``ledger init`` keeps a ``log.key`` it finds), so the package can
name it; the witnesses are initialised next, so the package can name their keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.ledger_server import ORIGIN, LedgerServer
from testkit.witness_server import WitnessServer


@dataclass
class WitnessedLedger:
    election: SyntheticElection
    ledger: LedgerServer
    witnesses: list[WitnessServer]

    @property
    def log_key(self) -> str:
        return self.ledger.log_key


def witnessed_ledger(
    tmp: Path, *, witnesses: int = 2, threshold: int = 2, workers: int = 1
) -> WitnessedLedger:
    """Not started: enter the witnesses and the ledger (``with``) to run them."""
    log_key = SigningKey.generate()
    vkey = NoteVerifier(ORIGIN, log_key.public_key).vkey
    servers = [
        WitnessServer(tmp / f"w{i}", f"witness.test/w{i}", {ORIGIN: vkey}) for i in range(witnesses)
    ]
    election = build_election(
        mixed_definition(),
        seed="witnessed",
        experts_per_group=1,
        online_per_proposal=1,
        protocol=2,
        log_key=vkey,
        witnesses=(threshold, tuple(w.vkey for w in servers)),
    )
    data = tmp / "ledger"
    data.mkdir(parents=True)
    (data / "log.key").write_text(b64e(log_key.seed))
    named = [arg for w in servers for arg in ("--witness", w.spec())]
    ledger = LedgerServer(
        data, election, workers=workers, serve_args=[*named, "--tiles-dir", str(data / "tiles")]
    )
    if ledger.log_key != vkey:
        raise RuntimeError("ledger init did not keep the log key the package names")
    return WitnessedLedger(election, ledger, servers)
