"""Ballot proofs checked on several processes and on a real Dask cluster (a LocalCluster of two
worker processes on loopback) give exactly the single-process answers, in the ballots' order;
a bad ballot is named wherever it was checked; an unreachable cluster is an error, never a
pass."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.election import ElectionPackage, read_package
from ledger.verify import ballot_proofs
from ledger.verify.ballot_proofs import check_ballot_chunk, check_ballots, shared_package
from ledger.verify.parallel import ParallelError, Where, chunks
from testkit.elections import build_election, mixed_definition, random_ballot
from testkit.simulated_trustees import honest_ceremony


def _package() -> ElectionPackage:
    ceremony, outcome, _ = honest_ceremony(3, 2)
    document = build_election(mixed_definition(), seed="parallel").package.to_json()
    document["election_key"] = {
        "key": outcome.election_key.hex(),
        "threshold": 2,
        "setup_hash": outcome.setup_hash.hex(),
        "transcript_hash": outcome.transcript_hash.hex(),
        "trustees": [
            t.identity().to_json()
            | {"verification_key": outcome.verification_keys[i].hex(), "qualified": True}
            for i, t in sorted(ceremony.trustees.items())
        ],
    }
    return read_package(document)


@pytest.fixture(scope="module")
def ballots() -> tuple[ElectionPackage, list[Any]]:
    package = _package()
    rng = random.Random(5)
    out = []
    for entry in package.roll[:24]:
        voter = package.voter_for_card(entry.card_key)
        assert voter is not None
        ballot = random_ballot(package, voter, rng)
        encrypted, _ = encrypt_ballot(package, ballot, voter.excluded, test=False)
        out.append(encrypted.to_json())
    # Ballot 7: a cell's ciphertext swapped with ballot 8's (a kiosk splicing ballots).
    out[7]["contests"][0]["cells"][0]["ct"] = out[8]["contests"][0]["cells"][0]["ct"]
    return package, out


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    import distributed

    local_cluster: Any = distributed.LocalCluster  # an untyped library
    with local_cluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        # a dashboard on a free loopback port: None means the default, 8787, which another
        # cluster on this machine (a bench, a second test run) may hold
        dashboard_address="127.0.0.1:0",
    ) as local:
        yield str(local.scheduler_address)


def _expected(package: ElectionPackage, ballots: list[Any]) -> list[str | None]:
    return check_ballot_chunk(shared_package(package), ballots)


def test_a_worker_parses_the_package_once_whatever_copy_it_is_handed(
    ballots: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dask hands every task its own shallow copy of the scattered package: a worker that
    knew the package by identity parsed a national roll again for each chunk of ballots."""
    package, documents = ballots
    parsed: list[Any] = []
    real = read_package

    def counting(document: Any) -> ElectionPackage:
        parsed.append(document)
        return real(document)

    monkeypatch.setattr(ballot_proofs, "read_package", counting)
    monkeypatch.setattr(ballot_proofs, "_parsed", None)
    key, document = shared_package(package)
    for _ in range(3):
        check_ballot_chunk((key, dict(document)), documents[:2])
    assert len(parsed) == 1
    check_ballot_chunk((bytes(32), dict(document)), documents[:1])  # another package: parsed
    assert len(parsed) == 2


def test_one_bad_ballot_is_named_and_the_others_pass(ballots: Any) -> None:
    package, documents = ballots
    results = _expected(package, documents)
    assert [i for i, r in enumerate(results) if r is not None] == [7]
    assert "proof" in str(results[7])


def test_local_processes_agree_with_one_process(ballots: Any) -> None:
    package, documents = ballots
    assert check_ballots(package, documents, Where(workers=2)) == _expected(package, documents)


def test_a_dask_cluster_of_two_worker_processes_agrees(ballots: Any, cluster: str) -> None:
    package, documents = ballots
    results = check_ballots(package, documents, Where(scheduler=cluster))
    assert results == _expected(package, documents)
    assert Where(scheduler=cluster).describe() == f"the Dask cluster at {cluster}"


def test_an_unreachable_cluster_is_an_error_not_a_pass(ballots: Any) -> None:
    package, documents = ballots
    with pytest.raises(ParallelError, match="cannot reach the Dask scheduler"):
        check_ballots(package, documents, Where(scheduler="tcp://127.0.0.1:9"))


def test_chunks_keep_order_and_cover_everything() -> None:
    items = list(range(103))
    parts = chunks(items, 8)
    assert [x for part in parts for x in part] == items
    assert len(parts) <= 8
    assert chunks([], 4) == []
