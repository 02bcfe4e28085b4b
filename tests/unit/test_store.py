"""The encrypted store: ballots encrypted and card-signed, committed, refused twice, unreadable
without keys."""

from __future__ import annotations

import os
import random
import shutil
import stat
from pathlib import Path

import pytest

from kiosk.core.block import BlockKind, read_cast_ballot
from kiosk.core.chain import Mode, verify_chain
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ContestId, ElectionPackage
from kiosk.core.encoding import b64e, canonical_json
from kiosk.core.encrypted_ballot import read_encrypted_ballot
from kiosk.core.errors import BallotError, HanpyoError
from kiosk.core.tally import decrypt_ballot
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.errors import (
    AlreadyVotedError,
    KeyFileError,
    StoreDamagedError,
    StoreError,
    StoreLockedError,
)
from kiosk.store.keys import KIOSK_KEY_NAME, STORE_KEY_NAME, load_keys, provision
from testkit.elections import (
    SyntheticElection,
    election_secret,
    random_ballot,
    test_voter,
    voter_of,
)
from testkit.stores import Kiosk
from testkit.v2_ballots import box_cast
from testkit.v2_blocks import cast_by, voter_card


def test_cast_returns_a_tracking_code_for_a_committed_encrypted_ballot(
    kiosk: Kiosk, election: SyntheticElection
) -> None:
    voter = voter_of(election, "resident")
    ballot = random_ballot(kiosk.box.package, voter, random.Random(1))
    receipt = box_cast(kiosk.box, election, voter, ballot)
    assert len(receipt.tracking_code) == 19 and receipt.tracking_code.count("-") == 3

    # A second connection sees the block: it was committed before the receipt came back.
    with ChainStore.open(kiosk.path, kiosk.store_key, kiosk.kiosk_key) as other:
        last = list(other.blocks())[-1]
    assert last.tracking_code == receipt.tracking_code
    assert last.block.kind is BlockKind.BALLOT
    cast = read_cast_ballot(BlockKind.BALLOT, last.block.body)
    assert cast.voter_id == voter.voter_id and cast.card_key == voter.card_key
    assert (
        decrypt_ballot(
            election.package,
            read_encrypted_ballot(last.block.body["ballot"]),
            election_secret(election),
        )
        == ballot
    )


def test_test_ballots_are_encrypted_to_the_test_key_only(
    tmp_path: Path, election: SyntheticElection, package: ElectionPackage
) -> None:
    key, store_key = SigningKey.generate(), os.urandom(32)
    with ChainStore.create(tmp_path / "k.db", store_key, key, package) as store:
        box = BallotBox(store, package)
        box.set_mode(Mode.TEST)
        box.open_session()
        voter = test_voter(election)
        ballot = random_ballot(package, voter, random.Random(2))
        box_cast(box, election, voter, ballot)
        last = list(store.blocks())[-1]
    assert last.block.kind is BlockKind.TEST_BALLOT
    cast = read_cast_ballot(BlockKind.TEST_BALLOT, last.block.body)
    assert cast.ballot.test
    strict = read_encrypted_ballot(last.block.body["ballot"])
    assert package.test_key is not None
    assert decrypt_ballot(package, strict, package.test_key.secret) == ballot
    with pytest.raises(HanpyoError):
        decrypt_ballot(package, strict, election_secret(election))


def test_a_second_ballot_from_the_same_card_is_refused_and_nothing_is_written(
    kiosk: Kiosk, election: SyntheticElection
) -> None:
    voter = voter_of(election, "resident", 2)
    box_cast(kiosk.box, election, voter, random_ballot(kiosk.box.package, voter, random.Random(3)))
    height = kiosk.box.state.height
    with pytest.raises(AlreadyVotedError) as refused:
        box_cast(
            kiosk.box, election, voter, random_ballot(kiosk.box.package, voter, random.Random(4))
        )
    assert "이미 투표" in refused.value.user_message[0]
    assert kiosk.box.state.height == height
    assert kiosk.box.has_voted(voter)


def test_the_store_itself_refuses_a_repeated_voter(
    kiosk: Kiosk, election: SyntheticElection
) -> None:
    # Even a caller that skips the ballot box's check cannot write a second ballot.
    card = voter_card(election, "resident", 3)
    body = cast_by(election.package, card)
    kiosk.store.append(BlockKind.BALLOT, body, voter=card.voter.voter_id)
    with pytest.raises(AlreadyVotedError):
        kiosk.store.append(BlockKind.BALLOT, body, voter=card.voter.voter_id)
    verify_chain(kiosk.store.blocks())


def test_an_invalid_ballot_is_refused_before_anything_is_written(
    kiosk: Kiosk, election: SyntheticElection
) -> None:
    voter = voter_of(election, "resident")
    ballot = random_ballot(kiosk.box.package, voter, random.Random(5))
    bad = type(ballot)(
        ballot.election,
        ballot.category,
        ballot.group,
        {**ballot.selections, ContestId("review"): {next(iter(voter.excluded)): 5}},
    )
    height = kiosk.box.state.height
    with pytest.raises(BallotError):
        box_cast(kiosk.box, election, voter, bad)
    assert kiosk.box.state.height == height and not kiosk.box.has_voted(voter)


def test_reopening_verifies_the_chain_and_restores_the_state(
    kiosk: Kiosk, election: SyntheticElection
) -> None:
    for n in range(3):
        voter = voter_of(election, "online", n)
        box_cast(
            kiosk.box, election, voter, random_ballot(kiosk.box.package, voter, random.Random(n))
        )
    state = kiosk.box.state
    kiosk.store.close()
    with ChainStore.open(kiosk.path, kiosk.store_key, kiosk.kiosk_key, election.package) as again:
        assert again.state == state


def test_a_wrong_store_key_gives_a_clear_error(kiosk: Kiosk) -> None:
    kiosk.store.close()
    with pytest.raises(StoreLockedError, match="wrong store key"):
        ChainStore.open(kiosk.path, os.urandom(32), kiosk.kiosk_key)


def test_another_kiosks_key_or_another_election_is_refused(
    kiosk: Kiosk, election: SyntheticElection
) -> None:
    kiosk.store.close()
    with pytest.raises(StoreDamagedError, match="wrong_kiosk"):
        ChainStore.open(kiosk.path, kiosk.store_key, SigningKey.generate())


def test_a_file_that_is_not_a_store_gives_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    with pytest.raises(StoreLockedError):
        ChainStore.open(junk, os.urandom(32), SigningKey.generate())
    with pytest.raises(StoreError, match="no store"):
        ChainStore.open(tmp_path / "missing.db", os.urandom(32), SigningKey.generate())


def test_create_refuses_to_overwrite_an_existing_store(
    kiosk: Kiosk, package: ElectionPackage
) -> None:
    with pytest.raises(StoreError, match="already exists"):
        ChainStore.create(kiosk.path, kiosk.store_key, kiosk.kiosk_key, package)


def test_a_damaged_page_is_reported_as_damage_not_a_crash(
    kiosk: Kiosk, election: SyntheticElection
) -> None:
    for n in range(12):
        voter = voter_of(election, "online", n % 12)
        if kiosk.box.has_voted(voter):
            continue
        box_cast(
            kiosk.box, election, voter, random_ballot(kiosk.box.package, voter, random.Random(n))
        )
    kiosk.store.close()
    data = bytearray(kiosk.path.read_bytes())
    assert len(data) >= 3 * 4096
    data[2 * 4096 + 100] ^= 0xFF  # a byte inside the third page
    kiosk.path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as damaged:
        ChainStore.open(kiosk.path, kiosk.store_key, kiosk.kiosk_key)
    assert isinstance(damaged.value, StoreDamagedError | StoreLockedError)
    assert damaged.value.user_message[1].startswith("The kiosk's ballot store")


def test_store_and_wal_hold_no_plaintext_ballot_or_key_material(
    tmp_path: Path, election: SyntheticElection, package: ElectionPackage
) -> None:
    kiosk_key, store_key = SigningKey.generate(), os.urandom(32)
    path = tmp_path / "kiosk.db"
    store = ChainStore.create(path, store_key, kiosk_key, package)
    box = BallotBox(store, package)
    box.set_mode(Mode.OFFICIAL)
    box.open_session()
    rng, needles = (
        random.Random(9),
        [
            b"SQLite format 3",
            b"genesis",
            b"session_open",
            b"card_sig",
            b"voter",
            b"review",
            b"likes",
        ],
    )
    for category, n in [("resident", 0), ("resident", 1), ("expert", 0), ("online", 0)]:
        voter = voter_of(election, category, n)
        ballot = random_ballot(package, voter, rng)
        box_cast(box, election, voter, ballot)
        needles += [
            ballot.plaintext(),
            voter.voter_id,
            voter.voter_id.hex().encode(),
            voter.card_key,
            b64e(voter.card_key).encode(),
        ]
        for contest, selection in ballot.to_json()["contests"].items():
            # The contest's answer as it reads inside the plaintext, and each option id.
            needles.append(canonical_json({contest: selection})[1:-1])
            if not isinstance(selection, str):
                needles += [option.encode() for option in selection]
    needles += [
        kiosk_key.seed,
        b64e(kiosk_key.seed).encode(),
        kiosk_key.public_key,
        b64e(kiosk_key.public_key).encode(),
        store_key,
        store_key.hex().encode(),
        package.id.encode(),
    ]

    wal = path.with_name(path.name + "-wal")
    snapshot = tmp_path / "while-open"
    snapshot.mkdir()
    shutil.copy(path, snapshot / "kiosk.db")
    assert wal.exists() and wal.stat().st_size > 0, "the WAL should hold the recent commits"
    shutil.copy(wal, snapshot / "kiosk.db-wal")
    store.close()

    files = [path, snapshot / "kiosk.db", snapshot / "kiosk.db-wal"]
    for file in files:
        raw = file.read_bytes()
        for needle in needles:
            assert needle not in raw, f"{needle[:40]!r} found in {file.name}"


def test_provisioned_keys_load_and_are_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    keys = provision(tmp_path / "keys")
    for name in (KIOSK_KEY_NAME, STORE_KEY_NAME):
        assert stat.S_IMODE((tmp_path / "keys" / name).stat().st_mode) == 0o600
    assert load_keys(tmp_path / "keys") == keys
    assert keys.kiosk_key.seed.hex() not in repr(keys)
    with pytest.raises(KeyFileError, match="refusing to replace"):
        provision(tmp_path / "keys")


def test_systemd_credentials_take_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provided = provision(tmp_path / "creds")
    provision(tmp_path / "files")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    assert load_keys(tmp_path / "files") == provided


@pytest.mark.parametrize("problem", ["missing", "group-readable", "malformed", "short"])
def test_bad_key_files_give_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem: str
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    provision(tmp_path)
    target = tmp_path / KIOSK_KEY_NAME
    if problem == "missing":
        target.unlink()
    elif problem == "group-readable":
        target.chmod(0o640)
    elif problem == "malformed":
        target.write_text("not a key\n")
    else:
        target.write_text(b64e(bytes(16)) + "\n")
    with pytest.raises(KeyFileError):
        load_keys(tmp_path)
