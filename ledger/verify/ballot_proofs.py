"""Every counted ballot's proofs, checked in chunks by workers (ledger/verify/parallel.py): the
expensive part of a count and of verifying one. The count and `ledger verify-bundle` call the
same function, so they cannot disagree about which ballot's proofs hold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kiosk.core.ballot_crypto import verify_ballot_proofs
from kiosk.core.election import ElectionPackage, read_package
from kiosk.core.encrypted_ballot import read_encrypted_ballot
from kiosk.core.errors import BallotError
from ledger.verify.parallel import Where, map_chunks

# The package a worker parsed, kept for the worker's life and named by its hash: the same
# shared document comes with every chunk (the pool's initializer, or Dask's broadcast copy),
# so it is parsed once. By hash, not by identity: Dask hands each task its own shallow copy of
# a scattered dict, and a package with a national roll takes seconds to parse (parsing it per
# chunk made the Dask selection of 100,000 ballots five times slower than two processes).
_parsed: tuple[bytes, ElectionPackage] | None = None

SharedPackage = tuple[bytes, Any]  # (package hash, package JSON): what each worker is sent


def shared_package(package: ElectionPackage) -> SharedPackage:
    return package.package_hash, package.to_json()


def _package(shared: SharedPackage) -> ElectionPackage:
    global _parsed  # a per-process cache of one parsed package
    key, document = shared
    if _parsed is None or _parsed[0] != key:
        _parsed = (key, read_package(document))
    return _parsed[1]


def check_ballot_chunk(shared: SharedPackage, ballots: Sequence[Any]) -> list[str | None]:
    """For each ballot (its JSON form), None when every proof verifies, else what failed."""
    package = _package(shared)
    out: list[str | None] = []
    for document in ballots:
        try:
            verify_ballot_proofs(package, read_encrypted_ballot(document))
            out.append(None)
        except BallotError as e:
            out.append(str(e))
    return out


def check_ballots(
    package: ElectionPackage, ballots: Sequence[Any], where: Where
) -> list[str | None]:
    """``check_ballot_chunk`` over every ballot, where ``where`` says."""
    return map_chunks(check_ballot_chunk, shared_package(package), ballots, where)
