"""Protocol v2's Cast tap at the kiosk, to the receipt (issue 17; goal: the tap adds no more
than 150 ms, the card's signature included), beside raw baselines measured in the same run.

Per voter, through a private pcscd with one vpcd reader and the card simulator (as
tests/integration/test_card_signs_ballot.py), and a real SQLCipher store (WAL, synchronous=FULL):
the card is inserted and signs in (identify, PIN, challenge: not timed); the review screen's
encryption of the reference event's resident ballot (11 scores, with its proofs; timed on its
own: the kiosk does it while the review screen shows, not after the tap); then the tap, timed:
the card's INTERNAL AUTHENTICATE over the domain-tagged ballot hash and the kiosk's check of
that signature (``sign_ballot``), then ``BallotBox.cast_encrypted`` (the session, the mode, the
form against the roll entry, the card's signature again, the voter not having voted here, the
block signed and committed). Baselines, in the same run: one raw INTERNAL AUTHENTICATE round
trip of the same challenge on the same signed-in card (no check; the tap and it take turns
being the first command after the encryption), one raw SELECT round trip,
and one raw one-row SQLCipher commit of the ballot block's size right after each cast.

Run alone with `.venv/bin/python -m bench.cast_tap_bench --voters 150` (prints the table).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlcipher3

from bench.common import Row, percentile
from bench.crypto_floor import UnitClock, counting, fastest
from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from kiosk.core.encrypted_ballot import card_challenge
from kiosk.hardware.card.auth import authenticate, sign_ballot
from kiosk.hardware.card.openpgp import OpenPGPCard
from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
from kiosk.hardware.sim.private_pcscd import private_pcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from testkit.elections import build_election, random_ballot, review_definition

PIN = "123456"
SELECT_APDU = bytes.fromhex("00A4040006D2760001240100")
KIOSK_ID = "00" * 16


def bench_cast_tap(directory: Path, voters: int) -> tuple[list[Row], list[str]]:
    groups = max(2, -(-voters // 12))
    election = build_election(
        review_definition(groups=groups, per_group=12, election_id="bench-cast-v2"),
        seed="bench-cast-v2",
        protocol=2,
        experts_per_group=2,
        online_per_proposal=0,
    )
    package = election.package
    residents = [
        i for i, e in enumerate(package.roll) if e.category == "resident"
    ][:voters]  # fmt: skip
    store = ChainStore.create(
        directory / "kiosk.db", os.urandom(32), SigningKey.generate(), package
    )
    box = BallotBox(store, package)
    box.set_mode(Mode.OFFICIAL)
    box.open_session()
    rng, clock, units = random.Random(1), UnitClock(), []
    raw_commit: Callable[[], float] | None = None
    raw_commits: list[float] = []
    encrypt, tap, signing, commit, raw_auth, raw_select, sizes = [], [], [], [], [], [], []
    with private_pcscd(readers=1, socket_dir=directory / "pcscd") as pcscd:
        os.environ["PCSCLITE_CSOCK_NAME"] = str(pcscd.socket)
        reader = pcscd.reader_names[0]
        with Simulator(pcscd.ports) as simulator:
            for n, i in enumerate(residents):
                key = election.voter_keys[i]
                simulator.add_card(f"v{n}", VirtualCard.with_auth_key(key.seed, "Bench<<Voter"))
            for n in range(len(residents)):
                simulator.insert(f"v{n}", 0)
                wait_for_card(reader, present=True, timeout_s=10)
                with PcscConnection(reader) as connection:
                    card = OpenPGPCard(connection)
                    holder = authenticate(card, PIN, package, KIOSK_ID)  # the sign-in
                    voter = holder.voter
                    assert voter is not None and voter.voter_id is not None
                    ballot = random_ballot(package, voter, rng)
                    start = time.perf_counter()  # the review screen shows
                    encrypted, _secrets = encrypt_ballot(
                        package, ballot, voter.excluded, test=False
                    )
                    encrypt.append(time.perf_counter() - start)
                    if n == 0:  # its calls into libsodium, counted once (the floor)
                        with counting() as counts:
                            encrypt_ballot(package, ballot, voter.excluded, test=False)
                    challenge = card_challenge(package.id, voter.voter_id, encrypted.hash)
                    # The first command after a pause waits for pcscd and the simulator's thread
                    # to be scheduled again (some ms on this loaded machine): the tap and the
                    # baseline take turns being first, so each pays it half the time.
                    if n % 2:
                        raw_auth.append(_timed_auth(card, challenge))
                    start = time.perf_counter()  # the tap on Cast
                    signature = sign_ballot(card, holder, encrypted)
                    signed = time.perf_counter()
                    receipt = box.cast_encrypted(voter, encrypted, holder.card_key, signature)
                    done = time.perf_counter()
                    tap.append(done - start)
                    signing.append(signed - start)
                    commit.append(done - signed)
                    assert receipt.tracking_code
                    if not n % 2:
                        raw_auth.append(_timed_auth(card, challenge))
                    if raw_commit is None:  # the ballot block's size, from the first ballot
                        size = len(next(store.blocks(store.state.height)).encode())
                        raw_commit = _raw_commit(directory, size)
                    raw_commits.append(raw_commit())  # the same moment's disk
                    for _ in range(3):  # after them: SELECT forgets the verified PIN
                        start = time.perf_counter()
                        connection.transmit(SELECT_APDU)
                        raw_select.append(time.perf_counter() - start)
                simulator.remove(0)
                wait_for_card(reader, present=False, timeout_s=10)
                if n % 10 == 0:
                    units.append(clock.sample())
    floor = fastest(units).floor(counts)
    sizes = [len(b.encode()) for b in store.blocks() if b.block.kind.value == "ballot"]
    block_size = round(statistics.mean(sizes))
    store.close()
    return _rows(encrypt, floor, tap, signing, commit, raw_auth, raw_select, raw_commits), [
        f"{len(residents)} voters, ballot block {block_size:,} bytes on average"
    ]


def _raw_commit(directory: Path, size: int) -> Callable[[], float]:
    """One-row SQLCipher transactions of ``size`` bytes, the store's pragmas (as
    bench/common.py's raw_sqlcipher_commits), one per voter right after their cast, so the
    baseline sees the same moment's disk (the machine's disk is shared and its fsync varies
    tenfold from minute to minute)."""
    conn = sqlcipher3.connect(str(directory / "raw.db"), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    rows = iter(range(1 << 30))

    def commit() -> float:
        payload = os.urandom(size)
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (id, data) VALUES (?, ?)", (next(rows), payload))
        conn.execute("COMMIT")
        return time.perf_counter() - start

    return commit


def _timed_auth(card: OpenPGPCard, challenge: bytes) -> float:
    """One raw INTERNAL AUTHENTICATE round trip: the card signs, nothing is checked."""
    start = time.perf_counter()
    card.internal_authenticate(challenge)
    return time.perf_counter() - start


def _rows(
    encrypt: list[float],
    encrypt_floor: float,
    tap: list[float],
    signing: list[float],
    commit: list[float],
    raw_auth: list[float],
    raw_select: list[float],
    raw_commit: list[float],
) -> list[Row]:
    rows = []
    for q in (50, 99):
        auth, select = percentile(raw_auth, q), percentile(raw_select, q)
        base_commit = percentile(raw_commit, q)
        floor = auth + base_commit
        rows += [
            Row(
                f"v2 Cast tap → receipt committed p{q} (card signs, kiosk checks, commits)",
                _ms(percentile(tap, q)),
                f"raw INTERNAL AUTHENTICATE p{q} {_ms(auth)} + raw SQLCipher commit p{q} "
                f"{_ms(base_commit)} = {_ms(floor)}",
                f"{percentile(tap, q) / floor:.2f}x",
            ),
            Row(
                f"  of which the card's signature and its check (sign_ballot) p{q}",
                _ms(percentile(signing, q)),
                f"raw INTERNAL AUTHENTICATE round trip p{q}: {_ms(auth)}",
                f"{percentile(signing, q) / auth:.2f}x",
            ),
            Row(
                f"  of which cast_encrypted (checks, sign, commit) p{q}",
                _ms(percentile(commit, q)),
                f"raw SQLCipher commit p{q}: {_ms(base_commit)}",
                f"{percentile(commit, q) / base_commit:.2f}x",
            ),
            Row(
                f"encrypt and prove a resident's 11 scores at review (before the tap) p{q}",
                _ms(percentile(encrypt, q)),
                f"its floor of group operations: {_ms(encrypt_floor)}",
                f"{percentile(encrypt, q) / encrypt_floor:.2f}x",
            ),
            Row(
                f"raw SELECT round trip p{q} (the reader's floor)",
                _ms(select),
                "—",
                "—",
            ),
        ]
    return rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def print_rows(rows: Sequence[Row]) -> None:
    for row in rows:
        print(f"{row.name}\n    {row.value}   {row.baseline}   {row.ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voters", type=int, default=150, help="voters who cast")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hanpyo-cast-tap-") as directory:
        rows, notes = bench_cast_tap(Path(directory), args.voters)
    print_rows(rows)
    print(*notes, sep="\n")


if __name__ == "__main__":
    main()
