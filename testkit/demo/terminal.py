"""The terminal demo: a sample election, a kiosk, a session of ballots, and the checks on them."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from hanpyo_assets import ASSETS
from kiosk.core.ballot import Ballot
from kiosk.core.block import BlockKind, decode_signed_block
from kiosk.core.chain import Mode, verify_chain
from kiosk.core.crypto import SigningKey
from kiosk.core.election import Channel, ElectionPackage, sign_package, verify_package
from kiosk.core.encoding import b64e
from kiosk.core.errors import HanpyoError
from kiosk.hardware.card.auth import CardHolder, identify, prove
from kiosk.hardware.card.errors import WrongPinError
from kiosk.hardware.card.openpgp import OpenPGPCard
from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
from kiosk.hardware.sim.private_pcscd import private_pcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import load_keys, provision
from kiosk.sync.client import LedgerClient
from kiosk.sync.worker import SyncWorker
from testkit.elections import (
    SyntheticElection,
    build_election,
    derived_key,
    random_ballot,
    stays_open,
)

PIN = "123456"
SAMPLE = ASSETS / "elections" / "provincial-review-2017.json"


def say(text: str = "") -> None:
    print(text, flush=True)


def run_demo(out: Path, voters: int = 12, seed: int = 7) -> int:
    """Run the whole terminal demo in ``out``; return the process exit code."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rng = random.Random(seed)

    say("한표 Hanpyo — terminal demo")
    say("=" * 60)
    definition = stays_open(json.loads(SAMPLE.read_text("utf-8")))
    election = build_election(definition, seed="demo")
    signed = sign_package(election.package, election.authority)
    (out / "election.json").write_text(json.dumps(signed.to_json(), ensure_ascii=False), "utf-8")
    package = verify_package(
        json.loads((out / "election.json").read_text("utf-8")), election.authority.public_key
    )
    say(f"1. Election: {package.title.ko} / {package.title.en}")
    say(
        f"   {len(package.groups)} groups, {len(package.options)} proposals, "
        f"{len(package.roll)} voter cards and {len(package.staff)} staff cards enrolled"
    )
    say(f"   signature by the authority key verified; short hash {package.short_hash}")

    keys = provision(out / "keys")
    keys = load_keys(out / "keys")
    say(f"2. Kiosk provisioned: id {keys.kiosk_id}; keys in {out / 'keys'} (owner-only)")

    store = ChainStore.create(out / "kiosk.db", keys.store_key, keys.kiosk_key, package)
    box = BallotBox(store, package)
    say(f"3. Encrypted store created: {out / 'kiosk.db'} (SQLCipher, WAL, synchronous=FULL)")

    say("4. Logic-and-accuracy test: test mode, session 1, two test ballots sealed to the test key")
    box.set_mode(Mode.TEST)
    box.open_session()
    for index in (0, 1):
        voter = package.voter_for_card(election.voter_keys[index].public_key)
        if voter is None:
            raise HanpyoError("a sample voter is missing from the roll")
        receipt = box.cast_ballot(voter, random_ballot(package, voter, rng))
        say(f"   test ballot → tracking code {receipt.tracking_code}")
    box.close_session()

    say("5. Card readers: a private pcscd with a simulated reader; every card below is a")
    say("   software OpenPGP card speaking to the kiosk through real PC/SC")
    with private_pcscd(readers=1, socket_dir=out / "pcscd") as pcscd:
        os.environ["PCSCLITE_CSOCK_NAME"] = str(pcscd.socket)  # before any PC/SC call
        with Simulator(pcscd.ports) as simulator:
            desk = CardDesk(simulator, pcscd.reader_names[0], package, keys.kiosk_id)
            code = _official_session(desk, election, box, rng, voters)
    if code:
        return code

    with DemoLedger(out / "ledger", out / "election.json", election.authority.public_key) as ledger:
        code = _sync_and_check(ledger, store, box, keys.kiosk_key)
    store.close()
    if code:
        return code

    with ChainStore.open(out / "kiosk.db", keys.store_key, keys.kiosk_key, package) as reopened:
        state = reopened.state
        blocks = list(reopened.blocks())
    say(
        f"8. Store reopened and the whole chain verified: {state.height + 1} blocks, "
        f"{state.ballots} official and {state.test_ballots} test ballots"
    )
    try:
        ChainStore.open(out / "kiosk.db", bytes(32), keys.kiosk_key)
        say("   !! the store opened with a wrong key")
        return 1
    except HanpyoError as e:
        say(f"   with a wrong store key → refused: {e.detail.split(':')[0]}...")

    victim = len(blocks) - 2
    while blocks[victim].block.kind is not BlockKind.BALLOT:
        victim -= 1
    raw = bytearray(blocks[victim].encode())
    spot = raw.index(b'"sealed":"') + 40
    raw[spot] = ord("B") if raw[spot] != ord("B") else ord("C")  # one letter of the sealed ballot
    tampered = [*blocks[:victim], decode_signed_block(bytes(raw)), *blocks[victim + 1 :]]
    try:
        verify_chain(tampered)
        say("   !! a tampered chain verified")
        return 1
    except HanpyoError as e:
        say(f"9. One letter changed in block {victim} → verify_chain: {e}")
    spliced = blocks[:victim] + blocks[victim + 1 :]
    try:
        verify_chain(spliced)
    except HanpyoError as e:
        say(f"   block {victim} removed → verify_chain: {e}")

    say("10. The kiosk holds no ballot key: only a quorum of trustees can open these ballots.")
    from testkit.demo.ceremony import run_ceremony

    say("11. Protocol v2's key ceremony: five trustees make a key nobody holds (any 3 decrypt)")
    if not run_ceremony(out / "ceremony"):
        return 1
    say(f"Done. Everything the demo wrote is in {out}")
    return 0


class CardDesk:
    """The demo's hands: puts a simulated card in the reader and reads it as the kiosk does."""

    def __init__(
        self, simulator: Simulator, reader: str, package: ElectionPackage, kiosk_id: str
    ) -> None:
        self.simulator, self.reader = simulator, reader
        self.package, self.kiosk_id = package, kiosk_id

    def present(self, seed: bytes, pins: tuple[str, ...] = (PIN,)) -> CardHolder:
        """Insert the card made from ``seed``, type each PIN in turn, take the card out."""
        name = f"card-{len(self.simulator.cards)}"
        self.simulator.add_card(name, VirtualCard.with_auth_key(seed, "Demo<<Voter"))
        self.simulator.insert(name, 0)
        try:
            wait_for_card(self.reader, present=True, timeout_s=10)
            with PcscConnection(self.reader) as connection:
                card = OpenPGPCard(connection)
                holder = identify(card, self.package)
                for pin in pins:
                    try:
                        return prove(card, holder, pin, self.package.id, self.kiosk_id)
                    except WrongPinError as e:
                        say(f"   PIN {'*' * len(pin)} → {e.user_message[0]} / {e.user_message[1]}")
                raise HanpyoError("no correct PIN was typed")
        finally:
            self.simulator.remove(0)
            wait_for_card(self.reader, present=False, timeout_s=10)  # before the next card


def _official_session(
    desk: CardDesk, election: SyntheticElection, box: BallotBox, rng: random.Random, voters: int
) -> int:
    package = box.package
    staff = desk.present(election.staff_keys[0].seed)
    if staff.staff is None:
        raise HanpyoError("the poll worker card was not recognised as staff")
    box.set_mode(Mode.OFFICIAL)
    box.open_session()
    say(
        f"6. Poll worker card {staff.serial} + PIN accepted ({staff.staff.role.value}): "
        "official mode, session 2 opened"
    )
    on_site = [
        i
        for i, e in enumerate(package.roll)
        if (c := package.category(e.category)) is not None and c.channel is Channel.KIOSK
    ]
    picks = rng.sample(on_site, voters)
    for n, index in enumerate(picks):
        pins = ("000000", PIN) if n == 0 else (PIN,)  # the first voter mistypes once
        holder = desk.present(election.voter_keys[index].seed, pins)
        voter = holder.voter
        if voter is None:
            raise HanpyoError("a sample voter card was read as staff")
        ballot = random_ballot(package, voter, rng)
        receipt = box.cast_ballot(voter, ballot)
        group = next(g.title.ko for g in package.groups if g.id == voter.group)
        own = (
            ", own proposal " + ", ".join(sorted(voter.excluded)) + " not on the ballot"
            if voter.excluded
            else ""
        )
        say(
            f"   card {holder.serial} PIN ok: {voter.category:<8} {group:<14} "
            f"{_describe(ballot)}{own}"
        )
        say(f"            → recorded, tracking code {receipt.tracking_code}")

    again = desk.present(election.voter_keys[picks[0]].seed).voter
    if again is None or not box.has_voted(again):
        say("   !! the kiosk did not know this card had voted")
        return 1
    try:
        box.cast_ballot(again, random_ballot(package, again, rng))
        say("   !! a second ballot from the same card was accepted")
        return 1
    except HanpyoError as e:
        say(f"   same card again → refused: {e.user_message[0]} / {e.user_message[1]}")
    try:
        desk.present(derived_key("not-enrolled", "voter", 0).seed)
        say("   !! an unenrolled card was accepted")
        return 1
    except HanpyoError as e:
        say(f"   unenrolled card → refused: {e.user_message[0]} / {e.user_message[1]}")
    return 0


class DemoLedger:
    """The central ledger as its own process: `ledger init`, then `ledger serve` on a free port."""

    ORIGIN = "demo.hanpyo.local/provincial-review-2017"

    def __init__(self, data: Path, election: Path, authority: bytes) -> None:
        self.data = data
        self.serve_args: list[str] = []  # more `ledger serve` options (witnesses, tiles)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        done = self._cli(
            "init",
            "--election",
            str(election),
            f"--authority={b64e(authority)}",
            "--origin",
            self.ORIGIN,
        )
        self.log_key = done.stdout.strip().rsplit(": ", 1)[1]
        self.process: subprocess.Popen[bytes] | None = None

    def _cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "ledger.cli", *args, "--data", str(self.data)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise HanpyoError(f"ledger {args[0]} failed: {done.stderr.strip()}")
        return done

    def enrol(self, public_key: bytes, name: str) -> str:
        done = self._cli(
            "kiosks",
            "enrol",
            f"--public-key={b64e(public_key)}",
            "--name",
            name,
            "--location",
            "전시홀 A · Hall A",
            # The sample election opened in 2017: enrolling now is late and needs a reason.
            "--late-reason",
            "the demo replays the 2017 review",
        )
        return done.stdout.strip().rsplit(" ", 1)[1]

    def verify_tracking_code(self, code: str) -> tuple[bool, str]:
        """What a voter's `ledger verify-proof` says of ``code``: (verified, its words)."""
        check = subprocess.run(
            [
                sys.executable,
                "-m",
                "ledger.cli",
                "verify-proof",
                "--url",
                self.url,
                "--tracking-code",
                code,
                f"--log-key={self.log_key}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return check.returncode == 0, (
            check.stdout if check.returncode == 0 else check.stderr
        ).strip()

    def __enter__(self) -> DemoLedger:
        log = (self.data / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledger.cli",
                "serve",
                "--data",
                str(self.data),
                "--port",
                str(self.port),
                *self.serve_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HanpyoError("ledger serve stopped: see " + str(self.data / "serve.log"))
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise HanpyoError("the ledger did not start in 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # by its process id
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sync_and_check(
    ledger: DemoLedger, store: ChainStore, box: BallotBox, kiosk_key: SigningKey
) -> int:
    kiosk_id = ledger.enrol(kiosk_key.public_key, "전시홀 A 1번 · Hall A kiosk 1")
    say(f"7. Central ledger running at {ledger.url}; this kiosk enrolled as {kiosk_id}")
    worker = SyncWorker(
        store, LedgerClient(ledger.url, kiosk_key, log_key=ledger.log_key), ledger.log_key
    )
    status = worker.sync_once()
    say(
        f"   synced: the ledger holds blocks 0..{status.acknowledged_height}; its signed "
        f"checkpoint (log size {status.checkpoint_size}) verified with the pinned log key"
    )
    latest = store.latest_checkpoint()
    closing = box.close_session()
    if latest is None or closing.block.body["checkpoint"] != latest[1]:
        say("   !! the closing block does not carry the verified checkpoint")
        return 1
    worker.sync_once()
    head = worker.client.head()
    if head.height != closing.block.height or head.hash != closing.hash:
        say("   !! the ledger's head differs from the kiosk's")
        return 1
    say(
        f"   session closed at height {closing.block.height} "
        f"({closing.block.body['ballots']} ballots), the closing block carries that "
        "checkpoint, and the ledger's head equals the kiosk's"
    )
    ballots = [b for b in store.blocks() if b.block.kind is BlockKind.BALLOT]
    voter_code = ballots[-1].tracking_code
    ok, said = ledger.verify_tracking_code(voter_code)
    if not ok:
        say(f"   !! the tracking code did not verify: {said}")
        return 1
    say(f"   a voter checks receipt {voter_code}: {said}")
    return 0


def _describe(ballot: Ballot) -> str:
    parts = []
    for cid, sel in ballot.selections.items():
        if isinstance(sel, dict):
            parts.append(f"{cid}: scored {len(sel)} proposals")
        elif isinstance(sel, tuple):
            parts.append(f"{cid}: liked {len(sel)}")
        else:
            parts.append(f"{cid}: {sel}")
    return "; ".join(parts)
