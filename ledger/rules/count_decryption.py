"""Decryption of the count by the trustees' shares, without any secret to check it:
``decryption-<j>.json`` (trustee j's share of every ciphertext to decrypt, each with its
Chaum-Pedersen proof, signed) and the combination of any k trustees' files.

What is decrypted is never a list someone hands the trustee: it is rebuilt from the count
directory (``decryption_list``): the aggregates of tally-input.json in order, then every
column's ciphertexts from the last verified shuffle, column by column. Every share's proof is
bound to the election's base hash and to the hashes of tally-input.json and of the last shuffle
file, so a share made for another count input or before another shuffle does not verify here.
Shares follow docs/spec/ceremony.md §4 (ElectionGuard 2.1 §3.6.3-3.6.5, one proof per share);
the combination, Lagrange at 0 over the trustees whose files all verified (§3.6.4).

Making the shares, checking them and combining them are independent per ciphertext, so with
``workers`` > 1 they are spread over worker processes in slices (``Workers.map_batches``);
every share lands at its ciphertext's index and the checks are exact, so the result does not
depend on how many processes did the work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionPackage
from kiosk.core.election_key import ElectionKey
from kiosk.core.encoding import canonical_json
from kiosk.core.encrypted_ballot import base_hash
from kiosk.core.errors import EncodingError
from kiosk.core.verifiable.bulk import Workers, open_workers
from kiosk.core.verifiable.ceremony_outcome import TrusteeShare
from kiosk.core.verifiable.decryption import (
    DecryptionShare,
    combine,
    decryption_shares,
    verify_decryption_share,
)
from kiosk.core.verifiable.dlog import MAX_BOUND, DiscreteLogError, discrete_log
from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import GroupError, Point
from kiosk.core.verifiable.proofs import ProofError
from ledger.rules.count_files import (
    CountFileError,
    CountInput,
    ShuffleChain,
    election_key,
    signed_file,
    signer,
)

DECRYPTION_KIND = "count-decryption"
_FIELDS = frozenset({"election", "trustee", "input_hash", "shuffle_hash", "shares", "signature"})
#: The largest score cell the count decrypts (a cell is score − min + 1, or 0 for no score); a
#: cell beyond it was not made by an honest kiosk and is reported as invalid, not counted.
COLUMN_BOUND = 1000


def decryption_name(trustee: int) -> str:
    return f"decryption-{trustee}.json"


def decryption_list(count_input: CountInput, chain: ShuffleChain) -> list[Ciphertext]:
    """The aggregates in order, then each column's final ciphertexts in order."""
    return [*count_input.aggregates, *(ct for column in chain.columns for ct in column)]


def _context(package: ElectionPackage, count_input: CountInput, chain: ShuffleChain) -> bytes:
    shuffled = chain.last_hash if chain.trustees else None
    return canonical_json(
        {"election": package.id, "input_hash": count_input.digest, "shuffle_hash": shuffled}
    )


def make_decryption(
    package: ElectionPackage,
    count_input: CountInput,
    chain: ShuffleChain,
    share: TrusteeShare,
    signing_key: SigningKey,
    *,
    workers: int = 1,
) -> bytes:
    """Trustee ``share.index``'s signed decryption file for the verified count directory."""
    key = election_key(package)
    if share.setup_hash != key.setup_hash:
        raise CountFileError("this share of the key is of another ceremony", trustee=share.index)
    keys = {t.index: t.verification_key for t in key.trustees}
    shared = (share, keys, base_hash(package, test=False), _context(package, count_input, chain))
    # the share is checked against the trustee's verification key here, before any worker
    # starts (a refusal raised in a worker would lose who it names)
    decryption_shares(share, [], keys, shared[2], shared[3])
    cts = decryption_list(count_input, chain)
    with open_workers(workers) as pool:
        shares = pool.map_batches(_share_batch, shared, list(enumerate(cts)), _one)
    body = {
        "election": package.id,
        "trustee": share.index,
        "input_hash": count_input.digest,
        "shuffle_hash": chain.last_hash if chain.trustees else None,
        "shares": shares,
    }
    return signed_file(key, DECRYPTION_KIND, share.index, body, signing_key)


@dataclass(frozen=True, slots=True)
class DecryptionFile:
    """A decryption file whose signature verified: its trustee and its shares, unchecked."""

    trustee: int
    input_hash: str
    shuffle_hash: str | None
    shares: tuple[DecryptionShare, ...]


def read_decryption_file(package: ElectionPackage, raw: bytes, where: str) -> DecryptionFile:
    """The file's trustee (only once their signature verifies) and its shares, decoded; the
    proofs are checked by ``check_decryption_file`` against the count directory."""
    import json

    key = election_key(package)
    try:
        value = json.loads(raw.decode("utf-8"))
        if not isinstance(value, dict) or set(value) != _FIELDS:
            raise EncodingError(f"not an object with exactly the fields {sorted(_FIELDS)}")
    except (UnicodeDecodeError, ValueError, EncodingError) as e:
        raise CountFileError(f"{where} is not a decryption file: {e}") from e
    trustee, body = signer(key, DECRYPTION_KIND, value, where)
    try:
        if body["election"] != package.id:
            raise EncodingError("it is for another election")
        if not isinstance(body["shares"], list):
            raise EncodingError("shares is not a list")
        shares = tuple(DecryptionShare.from_json(s) for s in body["shares"])
    except (EncodingError, GroupError, TypeError, ValueError, AttributeError) as e:
        raise CountFileError(f"{where}: {e}", trustee=trustee.index) from e
    return DecryptionFile(trustee.index, body["input_hash"], body["shuffle_hash"], shares)


def _one(_: object) -> int:
    return 1


def _share_batch(
    shared: tuple[TrusteeShare, Mapping[int, Point], bytes, bytes],
    items: Sequence[tuple[int, Ciphertext]],
) -> list[dict[str, Any]]:
    """What a worker runs: the shares of a consecutive slice of the list, as JSON."""
    share, keys, bound, context = shared
    cts = [ct for _, ct in items]
    made = decryption_shares(share, cts, keys, bound, context, start=items[0][0])
    return [s.to_json() for s in made]


def check_decryption_file(
    package: ElectionPackage,
    count_input: CountInput,
    chain: ShuffleChain,
    found: DecryptionFile,
    pool: Workers | None = None,
) -> dict[int, Point]:
    """Trustee j's share of every ciphertext of ``decryption_list``, each proof verified (in
    ``pool``'s processes, if given); CountFileError naming the trustee (and the first
    ciphertext whose share fails) otherwise."""
    key = election_key(package)
    j = found.trustee
    if found.input_hash != count_input.digest:
        raise CountFileError("the shares answer another count input", trustee=j)
    if found.shuffle_hash != (chain.last_hash if chain.trustees else None):
        raise CountFileError("the shares answer another last shuffle", trustee=j)
    cts = decryption_list(count_input, chain)
    indexes = [s.ciphertext_index for s in found.shares]
    if sorted(indexes) != list(range(len(cts))) or any(s.trustee != j for s in found.shares):
        raise CountFileError(f"not exactly one share of trustee {j} per ciphertext", trustee=j)
    verification_key = _verification_key(key, j)
    shared = (
        verification_key,
        base_hash(package, test=False),
        _context(package, count_input, chain),
    )
    items = [(s, cts[s.ciphertext_index]) for s in found.shares]
    faults = (pool or Workers(1, None)).map_batches(_verify_batch, shared, items, _one)
    for s, fault in zip(found.shares, faults, strict=True):
        if fault is not None:
            raise CountFileError(f"ciphertext {s.ciphertext_index}: {fault}", trustee=j)
    return {s.ciphertext_index: s.share for s in found.shares}


def _verify_batch(
    shared: tuple[Point, bytes, bytes], items: Sequence[tuple[DecryptionShare, Ciphertext]]
) -> list[str | None]:
    """What a worker runs: each share's proof checked; None, or what failed."""
    verification_key, bound, context = shared
    out: list[str | None] = []
    for share, ct in items:
        try:
            verify_decryption_share(share, ct, verification_key, bound, context)
            out.append(None)
        except ProofError as e:
            out.append(str(e))
    return out


def _verification_key(key: ElectionKey, j: int) -> Point:
    trustee = key.trustee(j)
    if trustee is None:
        raise CountFileError("not a trustee of this election", trustee=j)
    return trustee.verification_key


@dataclass(frozen=True, slots=True)
class CountDecryption:
    """The decrypted count: each aggregate's sum, each column's values (None for a cell outside
    0..COLUMN_BOUND, which no honest kiosk makes: reported, never counted), the trustees whose
    shares were used, the trustees whose files failed with why, and files that were nobody's."""

    sums: tuple[int, ...]
    columns: tuple[tuple[int | None, ...], ...]
    used: tuple[int, ...]
    bad_trustees: dict[int, str]
    unsigned_files: dict[str, str]


def combine_count(
    package: ElectionPackage,
    count_input: CountInput,
    chain: ShuffleChain,
    decryption_files: Sequence[tuple[str, bytes]],
    *,
    sum_bound: int = MAX_BOUND,
    column_bound: int = COLUMN_BOUND,
    workers: int = 1,
) -> CountDecryption:
    """The sums and the score columns from the files (name, bytes) of the trustees. Each file
    is checked on its own; a trustee whose file fails is named in ``bad_trustees`` and left out;
    the others' shares decrypt as long as at least k trustees' files verified. With
    ``workers`` > 1 the proofs and the combination run in that many processes."""
    with open_workers(workers) as pool:
        return _combine_count(
            package, count_input, chain, decryption_files, pool, sum_bound, column_bound
        )


def _combine_count(
    package: ElectionPackage,
    count_input: CountInput,
    chain: ShuffleChain,
    decryption_files: Sequence[tuple[str, bytes]],
    pool: Workers,
    sum_bound: int,
    column_bound: int,
) -> CountDecryption:
    key = election_key(package)
    good: dict[int, dict[int, Point]] = {}
    bad: dict[int, str] = {}
    unsigned: dict[str, str] = {}
    for where, raw in decryption_files:
        try:
            found = read_decryption_file(package, raw, where)
        except CountFileError as e:
            if e.trustee is None:
                unsigned[where] = e.detail
                continue
            bad[e.trustee] = e.detail
            continue
        if found.trustee in good or found.trustee in bad:
            continue  # a second copy: the shares are fixed by the key, so it adds nothing
        try:
            good[found.trustee] = check_decryption_file(package, count_input, chain, found, pool)
        except CountFileError as e:
            bad[found.trustee] = e.detail
    if len(good) < key.threshold:
        # every file left out is named, a file nobody signed by its name: with exactly k files
        # the reader must learn which one failed
        named = "; ".join(
            [f"trustee {j}: {why}" for j, why in sorted(bad.items())]
            + [f"{where}: {why}" for where, why in sorted(unsigned.items())]
        )
        raise CountFileError(
            f"{key.threshold} trustees' verified shares are needed, found {len(good)}"
            + (f" (left out: {named})" if named else "")
        )
    values = _decrypt(decryption_list(count_input, chain), good, key.threshold, pool)
    sums = tuple(
        _log(p, sum_bound, f"aggregate {n}")
        for n, p in enumerate(values[: len(count_input.aggregates)])
    )
    rest = values[len(count_input.aggregates) :]
    columns: list[tuple[int | None, ...]] = []
    for column in chain.columns:
        columns.append(tuple(_cell(p, column_bound) for p in rest[: len(column)]))
        rest = rest[len(column) :]
    return CountDecryption(sums, tuple(columns), tuple(sorted(good)), bad, unsigned)


def _decrypt(
    cts: Sequence[Ciphertext], good: dict[int, dict[int, Point]], threshold: int, pool: Workers
) -> list[Point]:
    items = [(ct, {j: good[j][x] for j in good}) for x, ct in enumerate(cts)]
    return pool.map_batches(_combine_batch, threshold, items, _one)


def _combine_batch(
    threshold: int, items: Sequence[tuple[Ciphertext, dict[int, Point]]]
) -> list[Point]:
    """What a worker runs: each ciphertext's value m·G from the trustees' shares. Fewer than
    ``threshold`` trustees was refused before any worker started."""
    return [combine(ct, shares, threshold) for ct, shares in items]


def _log(point: Point, bound: int, what: str) -> int:
    try:
        return discrete_log(point, bound)
    except DiscreteLogError as e:
        raise CountFileError(f"{what}: {e}") from e


def _cell(point: Point, bound: int) -> int | None:
    try:
        return discrete_log(point, bound)
    except DiscreteLogError:
        return None
