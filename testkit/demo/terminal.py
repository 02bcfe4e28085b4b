"""The terminal demo (protocol v2): the trustees' ceremony and the package, a kiosk's encrypted
store, test cards in test mode, voters whose cards sign their encrypted ballots (one checks a
ballot first), the ledger with an observer's witness and a mirror, the checks on the chain, the
close and the count by three trustees, verify-bundle and the check pages."""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kiosk.core.ballot import Ballot
from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.block import BlockKind, decode_signed_block
from kiosk.core.chain import Mode, verify_chain
from kiosk.core.crypto import SigningKey
from kiosk.core.election import Channel, ElectionPackage
from kiosk.core.errors import HanpyoError
from kiosk.hardware.card.auth import CardHolder, identify, prove, sign_ballot
from kiosk.hardware.card.errors import WrongPinError
from kiosk.hardware.card.openpgp import OpenPGPCard
from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
from kiosk.hardware.sim.private_pcscd import private_pcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import KioskKeys, load_keys, provision
from kiosk.sync.client import LedgerClient
from kiosk.sync.tile_proofs import TileProofs
from kiosk.sync.witnessed import Unwitnessed
from kiosk.sync.worker import SyncWorker
from testkit.demo.ceremony import say
from testkit.demo.election_v2 import DemoElection, make_election, make_log_key
from testkit.demo.ledger_process import DemoLedger
from testkit.elections import derived_key, random_ballot
from testkit.witness_server import WitnessServer

PIN = "123456"


@dataclass(frozen=True)
class Voted:
    """A ballot the demo cast: its tracking code and fingerprint."""

    code: str
    fingerprint: str


def run_demo(out: Path, voters: int = 12, seed: int = 7) -> int:
    """Run the whole terminal demo in ``out``; return the process exit code."""
    from testkit.demo.observers import serve_with, show_observers, witness_for

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    say("한표 Hanpyo — terminal demo (protocol v2)")
    say("=" * 60)
    say("1. 선거 준비 · The election office prepares the election")
    log_vkey = make_log_key(out / "ledger")
    witness = witness_for(out, log_vkey)
    election = make_election(out, log_vkey, witness.vkey)
    if election is None:
        return 1
    package = election.package
    say(
        f"   {package.title.ko} / {package.title.en}: {len(package.groups)} groups, "
        f"{len(package.options)} proposals"
    )
    keys = provision(out / "keys")
    keys = load_keys(out / "keys")
    say(f"2. Kiosk provisioned: id {keys.kiosk_id}; keys in {out / 'keys'} (owner-only)")
    store = ChainStore.create(out / "kiosk.db", keys.store_key, keys.kiosk_key, package)
    box = BallotBox(store, package)
    say(f"3. Encrypted store created: {out / 'kiosk.db'} (SQLCipher, WAL, synchronous=FULL)")
    say("4. Card readers: a private pcscd with a simulated reader; every card below is a")
    say("   software OpenPGP card speaking to the kiosk through real PC/SC")
    with private_pcscd(readers=1, socket_dir=out / "pcscd") as pcscd:
        os.environ["PCSCLITE_CSOCK_NAME"] = str(pcscd.socket)  # before any PC/SC call
        with Simulator(pcscd.ports) as simulator:
            desk = CardDesk(simulator, pcscd.reader_names[0], package, keys.kiosk_id)
            _test_session(desk, election, box, random.Random(seed))
            cast, checked = _official_session(desk, election, box, random.Random(seed), voters)
    the_ledger = DemoLedger(out / "ledger", election.signed, election.authority)
    serve_with(the_ledger, witness)
    with witness:
        with the_ledger:
            if not _sync_and_check(the_ledger, store, box, keys.kiosk_key, cast):
                return 1
            store.close()
            if not _chain_checks(out, keys, package):
                return 1
            say("9. Observers: a witness cosigns, a mirror keeps its own verified copy")
            if not show_observers(out, the_ledger, witness, election.authority, cast.code):
                return 1
        return _count_and_check(out, the_ledger, election, witness, cast, checked)


def _count_and_check(
    out: Path,
    the_ledger: DemoLedger,
    election: DemoElection,
    witness: WitnessServer,
    cast: Voted,
    checked: Voted,
) -> int:
    from testkit.demo.check_pages import show_check_pages
    from testkit.demo.count_v2 import close_and_count, say_results, verify_bundle

    say("10. 마감과 개표 · The close and the count (every step a command of its own)")
    published = close_and_count(the_ledger, election, witness.spec())
    if published is None:
        return 1
    say_results(published, election)
    say("11. 검증 · Anyone re-checks the published record")
    if not verify_bundle(published, the_ledger, election):
        return 1
    say("12. 확인 페이지 · The check pages a voter opens from the receipt's QR code")
    if not show_check_pages(out, the_ledger, (cast.code, cast.fingerprint),
                            (checked.code, checked.fingerprint)):  # fmt: skip
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
        self.mode: Mode | None = None  # the kiosk's mode: which cards it takes (v2)

    @contextmanager
    def inserted(
        self, seed: bytes, pins: tuple[str, ...] = (PIN,)
    ) -> Iterator[tuple[OpenPGPCard, CardHolder]]:
        """The card made from ``seed`` in the reader, each PIN typed in turn until one is right;
        the card stays in (and can sign a ballot) until the block ends."""
        name = f"card-{len(self.simulator.cards)}"
        self.simulator.add_card(name, VirtualCard.with_auth_key(seed, "Demo<<Voter"))
        self.simulator.insert(name, 0)
        try:
            wait_for_card(self.reader, present=True, timeout_s=10)
            with PcscConnection(self.reader) as connection:
                card = OpenPGPCard(connection)
                yield card, self._sign_in(card, pins)
        finally:
            self.simulator.remove(0)
            wait_for_card(self.reader, present=False, timeout_s=10)  # before the next card

    def _sign_in(self, card: OpenPGPCard, pins: tuple[str, ...]) -> CardHolder:
        holder = identify(card, self.package)
        _card_fits_mode(holder, self.mode)
        for pin in pins:
            try:
                return prove(card, holder, pin, self.package.id, self.kiosk_id)
            except WrongPinError as e:
                say(f"   PIN {'*' * len(pin)} → {e.user_message[0]} / {e.user_message[1]}")
        raise HanpyoError("no correct PIN was typed")

    def present(self, seed: bytes, pins: tuple[str, ...] = (PIN,)) -> CardHolder:
        """Sign in with the card and take it out."""
        with self.inserted(seed, pins) as (_, holder):
            return holder


def _vote(
    desk: CardDesk,
    box: BallotBox,
    seed: bytes,
    rng: random.Random,
    *,
    pins: tuple[str, ...] = (PIN,),
    check_first: bool = False,
) -> tuple[Voted, Voted | None]:
    """One voter at the kiosk: sign in, fill in, (check a ballot,) cast with the card signing."""
    package = box.package
    test = box.state.mode is Mode.TEST
    with desk.inserted(seed, pins) as (card, holder):
        voter = holder.voter
        if voter is None:
            raise HanpyoError("a voter card was read as staff")
        ballot = random_ballot(package, voter, rng)
        checked = None
        if check_first:
            encrypted, secrets = encrypt_ballot(package, ballot, voter.excluded, test=test)
            spoiled = box.spoil(encrypted, secrets)
            checked = Voted(spoiled.tracking_code, encrypted.fingerprint)
            say(
                f"   card {holder.serial}: review shows fingerprint {encrypted.fingerprint}; "
                "the voter taps Check (확인)"
            )
            say(
                f"            → published with its randomness, tracking code "
                f"{checked.code}; never counted; the voter makes the ballot again"
            )
        encrypted, secrets = encrypt_ballot(package, ballot, voter.excluded, test=test)
        signature = sign_ballot(card, holder, encrypted)  # INTERNAL AUTHENTICATE on the card
        receipt = box.cast_encrypted(voter, encrypted, holder.card_key, signature)
        del secrets  # a cast ballot's randomness is never kept
    group = next(g.title.ko for g in package.groups if g.id == voter.group)
    own = (
        f", own proposal {', '.join(sorted(voter.excluded))} not on the ballot"
        if voter.excluded
        else ""
    )
    say(f"   card {holder.serial} PIN ok: {voter.category:<8} {group:<14} {_describe(ballot)}{own}")
    say(
        f"            → fingerprint {encrypted.fingerprint}, signed by the card, "
        f"recorded, tracking code {receipt.tracking_code}"
    )
    return Voted(receipt.tracking_code, encrypted.fingerprint), checked


def _test_session(
    desk: CardDesk, election: DemoElection, box: BallotBox, rng: random.Random
) -> None:
    say("5. 시험 모드 · Logic-and-accuracy test: test mode, session 1; the two test cards vote,")
    say("   encrypted to the package's test key, whose secret is public: never counted, anyone")
    say("   can open them")
    box.set_mode(Mode.TEST)
    box.open_session()
    desk.mode = Mode.TEST
    for key in election.test_card_keys:
        _vote(desk, box, key.seed, rng)
    try:
        _vote(desk, box, election.cards.voter_keys[0].seed, rng)
        say("   !! a real voter card voted in test mode")
    except HanpyoError as e:
        say(f"   a real voter card in test mode → refused: {_words(e)}")
    box.close_session()


def _official_session(
    desk: CardDesk, election: DemoElection, box: BallotBox, rng: random.Random, voters: int
) -> tuple[Voted, Voted]:
    package = box.package
    staff = desk.present(election.cards.staff_keys[0].seed)
    if staff.staff is None:
        raise HanpyoError("the poll worker card was not recognised as staff")
    box.set_mode(Mode.OFFICIAL)
    box.open_session()
    desk.mode = Mode.OFFICIAL
    say(
        f"6. Poll worker card {staff.serial} + PIN accepted ({staff.staff.role.value}): "
        "official mode, session 2 opened"
    )
    # the voters of the first group who vote in the hall: the count's score columns then hold
    # several voters' scores each, which the trustees' shuffles mix
    on_site = [
        i
        for i, e in enumerate(election.cards.package.roll)
        if e.group == "g001"
        and (c := package.category(e.category)) is not None
        and c.channel is Channel.KIOSK
    ]
    if voters > len(on_site):
        say(f"   (the first group has {len(on_site)} voters in the hall: {len(on_site)} vote)")
    picks = rng.sample(on_site, min(voters, len(on_site)))
    keys = election.cards.voter_keys
    # the first voter mistypes the PIN once, then checks a ballot before casting
    first, checked = _vote(
        desk, box, keys[picks[0]].seed, rng, pins=("000000", PIN), check_first=True
    )
    assert checked is not None
    for index in picks[1:]:
        _vote(desk, box, keys[index].seed, rng)
    say("7. Refusals")
    for what, seed in (
        ("same card again", keys[picks[0]].seed),
        ("a test card in official mode", election.test_card_keys[0].seed),
        ("unenrolled card", derived_key("not-enrolled", "voter", 0).seed),
    ):
        try:
            _vote(desk, box, seed, rng)
            say(f"   !! {what} was accepted")
        except HanpyoError as e:
            say(f"   {what} → refused: {_words(e)}")
    return first, checked


def _card_fits_mode(holder: CardHolder, mode: Mode | None) -> None:
    """As the kiosk does before the PIN (kiosk/flow/cast_or_check.py): test cards in test mode
    only, voter cards in official mode only; the kiosk's words (kiosk/ui/texts.py)."""
    voter = holder.voter
    if voter is None or mode is None:
        return
    if mode is Mode.TEST and not voter.test:
        raise HanpyoError("a voter card in test mode", user_message=(
            "이 카드는 실제 투표용 카드입니다. 시험 모드에서는 시험용 카드만 쓸 수 있습니다.",
            "This is a real voter card. In test mode only test cards can be used.",
        ))  # fmt: skip
    if mode is Mode.OFFICIAL and voter.test:
        raise HanpyoError("a test card in official mode", user_message=(
            "이 카드는 시험용 카드입니다. 실제 투표에는 쓸 수 없습니다.",
            "This is a test card. It cannot be used to vote.",
        ))  # fmt: skip


def _words(e: HanpyoError) -> str:
    return f"{e.user_message[0]} / {e.user_message[1]}" if e.user_message else str(e)


def _sync_and_check(
    the_ledger: DemoLedger, store: ChainStore, box: BallotBox, kiosk_key: SigningKey, cast: Voted
) -> bool:
    kiosk_id = the_ledger.enrol(kiosk_key.public_key, "전시홀 A 1번 · Hall A kiosk 1")
    say(f"8. Central ledger running at {the_ledger.url}; this kiosk enrolled as {kiosk_id}")
    worker = SyncWorker(
        store,
        LedgerClient(the_ledger.url, kiosk_key, log_key=the_ledger.log_key),
        the_ledger.log_key,
        witnesses=box.package.witnesses,
        tiles=(TileProofs(f"{the_ledger.url}/tiles"),),
    )
    closing = box.close_session()
    if not _synced(worker, closing.block.height):
        say("   !! the ledger did not acknowledge every block in a witnessed checkpoint")
        return False
    head = worker.client.head()
    if head.height != closing.block.height or head.hash != closing.hash:
        say("   !! the ledger's head differs from the kiosk's")
        return False
    status = worker.status
    say(
        f"   synced: session closed at height {closing.block.height}; the ledger's head equals "
        f"the kiosk's; its checkpoint (log size {status.checkpoint_size}) verified with the "
        "pinned log key and cosigned by the witness"
    )
    ok, said = the_ledger.verify_tracking_code(cast.code)
    if not ok:
        say(f"   !! the tracking code did not verify: {said}")
        return False
    say(f"   a voter checks receipt {cast.code}: {said}")
    return True


def _synced(worker: SyncWorker, height: int) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status = worker.sync_once()
        except Unwitnessed:  # the witness cosigns each checkpoint a moment after it is signed
            status = worker.status
        if status.acknowledged_height == height and status.pending == 0:
            return True
        time.sleep(0.5)
    return False


def _chain_checks(out: Path, keys: KioskKeys, package: ElectionPackage) -> bool:
    with ChainStore.open(out / "kiosk.db", keys.store_key, keys.kiosk_key, package) as reopened:
        state = reopened.state
        blocks = list(reopened.blocks())
    spoiled = sum(1 for b in blocks if b.block.kind is BlockKind.SPOILED)
    say(
        f"   store reopened and the whole chain verified: {state.height + 1} blocks, "
        f"{state.ballots} official and {state.test_ballots} test ballots, {spoiled} checked"
    )
    try:
        ChainStore.open(out / "kiosk.db", bytes(32), keys.kiosk_key)
        say("   !! the store opened with a wrong key")
        return False
    except HanpyoError as e:
        say(f"   with a wrong store key → refused: {e.detail.split(':')[0]}...")
    victim = len(blocks) - 2
    while blocks[victim].block.kind is not BlockKind.BALLOT:
        victim -= 1
    raw = bytearray(blocks[victim].encode())
    spot = raw.index(b'"card_sig":"') + 20
    raw[spot] = ord("B") if raw[spot] != ord("B") else ord("C")  # one letter of the signature
    tampered = [*blocks[:victim], decode_signed_block(bytes(raw)), *blocks[victim + 1 :]]
    try:
        verify_chain(tampered)
        say("   !! a tampered chain verified")
        return False
    except HanpyoError as e:
        say(f"   one letter of block {victim}'s card signature changed → verify_chain: {e}")
    try:
        verify_chain(blocks[:victim] + blocks[victim + 1 :])
        say("   !! a chain with a block removed verified")
        return False
    except HanpyoError as e:
        say(f"   block {victim} removed → verify_chain: {e}")
    say("   the kiosk never held a key that opens a ballot: each is encrypted to K, which only")
    say("   three of the five trustees together can use, and only on what the count gives them")
    return True


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
