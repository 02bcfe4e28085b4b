"""Privacy of the count's score columns (issue 17, "no score column can be tied to another").

A voter's scores go into one column per proposal (and criterion). Each trustee re-encrypts and
permutes every column with a fresh permutation of its own (docs/spec/count-trustees.md §2), so
the decrypted columns in the record are in unrelated orders: reading them row by row gives
nobody's ballot. These tests cast ballots whose scores are distinct within each column, run the
count's own shuffles and decryption, and look for the cast score vectors in the published rows,
and for any cast ciphertext among the published outputs."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.core.block import BlockKind
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import ContestId
from ledger.rules.count_decryption import CountDecryption, combine_count, make_decryption
from ledger.rules.count_files import make_shuffle, read_count_input, verify_shuffles
from ledger.rules.count_input import ColumnKey, TallyInput, tally_input
from ledger.rules.selection import LoggedBlock, select
from testkit.ceremony_results import simulated_result, with_ceremony_key
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.v2_ballots import cast_ballot

ELECTION = "unlinked-columns"
EXPERTS = 8  # 8! orders: a shuffle that kept two columns in step would show at once


def _election() -> tuple[SyntheticElection, dict[int, SigningKey]]:
    synthetic = build_election(
        mixed_definition(groups=1, per_group=3, election_id=ELECTION),
        seed="unlinked",
        experts_per_group=EXPERTS,
        online_per_proposal=0,
        trustees=(3, 2),
        min_column=1,
    )
    result = simulated_result(ELECTION, 3, 2)
    return with_ceremony_key(synthetic, result), result.signing_keys


def _scores(expert: int) -> dict[int, int]:
    """Expert ``expert``'s review score for each of the group's three proposals (by position):
    three different orders of 1..8, so within a column no two experts give the same score."""
    return {0: expert + 1, 1: EXPERTS - expert, 2: (3 * expert + 1) % EXPERTS + 1}


@dataclasses.dataclass(frozen=True)
class Counted:
    tally: TallyInput
    published: list[bytes]  # every shuffle file as the record holds it
    decrypted: CountDecryption
    cast: dict[str, list[int]]  # the experts' review scores per proposal, in cast order
    cells: set[str]  # every point (hex) of every cast ballot's ciphertexts


@pytest.fixture(scope="module")
def counted() -> Counted:
    election, trustee_keys = _election()
    package, rng = election.package, random.Random(7)
    writer = ChainWriter(
        package,
        SigningKey(sha256(b"unlinked/kiosk")),
        datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        timedelta(minutes=1),
    )
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    experts = [i for i, e in enumerate(package.roll) if e.category == "expert"]
    assert len(experts) == EXPERTS
    options = [o.id for o in package.options]
    cast: dict[str, list[int]] = {o: [] for o in options}
    cells: set[str] = set()
    for n, index in enumerate(experts):
        first = cast_ballot(election, index, rng)  # a valid ballot; its review scores replaced
        review = {options[k]: v for k, v in _scores(n).items()}
        plaintext = dataclasses.replace(
            first.plaintext, selections={**first.plaintext.selections, ContestId("review"): review}
        )
        ballot = cast_ballot(election, index, rng, plaintext)
        for option, value in review.items():
            cast[option].append(value)
        for contest in ballot.encrypted.contests:
            for cell in contest.cells:
                cells.update((cell.ciphertext.alpha.hex(), cell.ciphertext.beta.hex()))
        writer.now += writer.step
        writer.append(BlockKind.BALLOT, ballot.body)
    writer.close_session()
    logged = [
        LoggedBlock(n, s.block.kiosk, s.block.height, s.block, "kiosk")
        for n, s in enumerate(writer.blocks)
        if s.block.kind == "ballot"
    ]
    tally = tally_input(package, select(package, logged, "checkpoint of the test log"))
    count_input = read_count_input(tally.canonical(), package)
    shuffles: list[bytes] = []
    for trustee in (1, 2):  # k = 2 trustees shuffle in turn, as the count asks
        chain = verify_shuffles(package, count_input, shuffles)
        shuffles.append(
            make_shuffle(package, chain.columns, chain.last_hash, trustee, trustee_keys[trustee])
        )
    chain = verify_shuffles(package, count_input, shuffles)
    files = [
        (f"decryption-{j}.json", make_decryption(package, count_input, chain, s, trustee_keys[j]))
        for j, s in sorted(election.trustee_shares.items())
    ]
    decrypted = combine_count(package, count_input, chain, files)
    return Counted(tally, shuffles, decrypted, cast, cells)


def _expert_review_columns(counted: Counted) -> dict[str, tuple[int | None, ...]]:
    found = {}
    for column, values in zip(counted.tally.columns, counted.decrypted.columns, strict=True):
        key: ColumnKey = column.key
        if key.contest == "review" and key.category == "expert":
            found[key.option] = values
    return found


def test_the_count_decrypts_every_score_it_was_given(counted: Counted) -> None:
    """Sanity for the tests below: each expert column holds exactly the scores cast."""
    columns = _expert_review_columns(counted)
    assert set(columns) == set(counted.cast)
    for option, values in columns.items():
        assert Counter(values) == Counter(counted.cast[option])


def test_no_two_published_columns_are_in_the_same_order(counted: Counted) -> None:
    """Read row by row, the decrypted columns must not give back any voter's pair of scores:
    with scores distinct in each column, the rows reproduce the cast pairs only if the two
    columns were permuted alike (1 chance in 8! for independent shuffles)."""
    columns = _expert_review_columns(counted)
    for a, b in itertools.combinations(sorted(columns), 2):
        published_rows = Counter(zip(columns[a], columns[b], strict=True))
        cast_rows = Counter(zip(counted.cast[a], counted.cast[b], strict=True))
        assert published_rows != cast_rows, f"columns {a} and {b} can be read as ballots"


def test_the_published_order_is_not_the_cast_order(counted: Counted) -> None:
    columns = _expert_review_columns(counted)
    tied = [o for o, values in columns.items() if list(values) == counted.cast[o]]
    assert len(tied) < len(columns), "every column kept the order ballots were cast in"


def test_no_published_ciphertext_is_a_cast_one(counted: Counted) -> None:
    """Each shuffle re-encrypts: no point of any shuffled column equals a point of a cast
    ballot, so a column entry cannot be matched to its ballot by comparing bytes."""
    for raw in counted.published:
        for column in json.loads(raw)["columns"]:
            for alpha, beta in column["cts"]:
                assert alpha not in counted.cells
                assert beta not in counted.cells
