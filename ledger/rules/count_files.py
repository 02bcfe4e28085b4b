"""The trustees' files of the count, read, written and verified without any secret: the count
input (``tally-input.json``), each trustee's shuffle of the score columns (``shuffle-<n>.json``)
and, in ``count_decryption``, each trustee's decryption shares (``decryption-<j>.json``).

Design: /work/shared/design/verifiable-election.md, "The count", steps 4-5; the proof is
docs/spec/shuffle.md (CHVote v3.1 Algorithms 8.47 and 8.51) with rows of width 1, because every
column is shuffled on its own: no permutation is shared between columns, so nobody can tie one
voter's scores together again (whole rows of 11 scores would be unique enough to sell a vote).
docs/spec/shuffle.md §8 asks the count to check what the proof cannot: that each trustee's
input is the previous trustee's output and that the first input is the count input's column.
``verify_shuffles`` checks exactly that, and every proof. The trustee tool, ``ledger count
finish`` and ``ledger verify-bundle`` all call these functions.

A file is named by its trustee only once its signature by that trustee's key in the package
verifies: anyone can write a file that claims to be trustee 2's, and that must not make the
count say trustee 2 cheated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.core.checkpoint import NoteVerifier, verify_checkpoint
from kiosk.core.crypto import Domain, SigningKey, sha256, verify_signature
from kiosk.core.election import ElectionPackage
from kiosk.core.election_key import ElectionKey, KeyTrustee
from kiosk.core.encoding import canonical_json
from kiosk.core.encrypted_ballot import base_hash
from kiosk.core.errors import EncodingError, HanpyoError, VerificationError
from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import GroupError
from kiosk.core.verifiable.proofs import ProofError
from kiosk.core.verifiable.shuffle_proof import ShuffleProof
from ledger.rules.close_statement import Closure, verify_statement
from ledger.rules.count_columns import POOL_FROM as POOL_FROM  # where it was; tests set it
from ledger.rules.count_columns import shuffle_columns, verify_columns

COUNT_INPUT = "tally-input.json"
SELECTION = "selection.json"
CLOSE = "close.json"
PACKAGE = "package.json"
SHUFFLE_KIND = "count-shuffle"  # the kind in what a shuffle file's signature covers
_SHUFFLE_NAME = re.compile(r"shuffle-([1-9][0-9]{0,3})\.json")
_SHUFFLE_FIELDS = frozenset({"election", "trustee", "input_hash", "columns", "signature"})


def shuffle_name(number: int) -> str:
    return f"shuffle-{number}.json"


def shuffle_number(name: str) -> int | None:
    """n for a file named ``shuffle-<n>.json`` (n from 1, no leading zero), else None."""
    found = _SHUFFLE_NAME.fullmatch(name)
    return int(found.group(1)) if found else None


def file_hash(raw: bytes) -> str:
    """What chains the files: SHA-256 of a file's bytes exactly as written, lowercase hex."""
    return sha256(raw).hex()


class CountFileError(VerificationError):
    """A count file that does not check out. ``trustee`` names the trustee at fault only when
    the file is signed by them; ``column`` is the score column (0-based) where it failed."""

    user_message = (
        "개표 파일이 확인되지 않습니다. 화면에 나온 파일과 신탁인을 선거 관리자에게 알려 주세요.",
        "A count file does not check out. Tell the election manager which file and trustee "
        "the message names.",
    )

    def __init__(
        self, detail: str, *, trustee: int | None = None, column: int | None = None
    ) -> None:
        where = "" if column is None else f"column {column}: "
        who = "" if trustee is None else f"trustee {trustee}: "
        super().__init__(f"{who}{where}{detail}")
        self.trustee = trustee
        self.column = column


# --- the count input --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CountInput:
    """tally-input.json: the aggregates (homomorphic sums of choice and yes/no cells) and the
    score columns (the counted ballots' score cells, in selection order), with the labels that
    say which contest, option, criterion, category and channel each one is."""

    election: str
    base_hash: str
    selection_hash: str
    aggregates: tuple[Ciphertext, ...]
    aggregate_labels: tuple[dict[str, Any], ...]
    columns: tuple[tuple[Ciphertext, ...], ...]
    column_labels: tuple[dict[str, Any], ...]
    digest: str  # file_hash of the file: the first shuffle's input_hash


def read_count_input(raw: bytes, package: ElectionPackage) -> CountInput:
    """tally-input.json for ``package`` (protocol v2): every ciphertext decoded, the election
    and the base hash the package's."""
    try:
        value = _json(raw)
        aggregates = _list(value, "aggregates")
        columns = _list(value, "columns")
        found = CountInput(
            election=_text(value, "election"),
            base_hash=_text(value, "base_hash"),
            selection_hash=_text(value, "selection_hash"),
            aggregates=tuple(
                Ciphertext.from_json(_obj(a)["ct"], what=f"aggregate {n}")
                for n, a in enumerate(aggregates)
            ),
            aggregate_labels=tuple(_label(a) for a in aggregates),
            columns=tuple(
                tuple(
                    Ciphertext.from_json(ct, what=f"column {c} ciphertext {i}")
                    for i, ct in enumerate(_list(_obj(col), "cts"))
                )
                for c, col in enumerate(columns)
            ),
            column_labels=tuple(_label(c) for c in columns),
            digest=file_hash(raw),
        )
    except (EncodingError, GroupError, KeyError, TypeError) as e:
        raise CountFileError(f"{COUNT_INPUT} is malformed: {e}") from e
    _check_count_input(found, package)
    return found


def _check_count_input(found: CountInput, package: ElectionPackage) -> None:
    if found.election != package.id:
        raise CountFileError(f"{COUNT_INPUT} is for {found.election!r}, not {package.id!r}")
    if found.base_hash != base_hash(package, test=False).hex():
        raise CountFileError(f"{COUNT_INPUT} names another base hash than the package's")


def _label(item: object) -> dict[str, Any]:
    return {k: v for k, v in _obj(item).items() if k not in ("ct", "cts")}


def election_key(package: ElectionPackage) -> ElectionKey:
    """The package's election key (every package has one; read_package checks)."""
    key = package.election_key
    if key is None:
        raise CountFileError(
            f"the package of {package.id} is not a protocol v2 package with an election key"
        )
    return key


def required_shuffles(package: ElectionPackage, count_input: CountInput) -> int:
    """How many trustees must shuffle before anyone decrypts a column: the threshold k. Any
    group that knows every permutation then holds k trustees, who could decrypt every ballot
    anyway, so the shuffles leave no smaller coalition able to tie scores to voters. No score
    column at all needs no shuffle."""
    return election_key(package).threshold if count_input.columns else 0


# --- the close ----------------------------------------------------------------------------


def read_closure(raw: bytes) -> Closure:
    """close.json as the ledger publishes it (the bundle's close.json)."""
    fields = {"closed_at": str, "size": int, "checkpoint": str, "statement": str, "waivers": dict}
    try:
        value = _json(raw)
    except EncodingError as e:
        raise CountFileError(f"{CLOSE}: {e}") from e
    if set(value) != set(fields) or any(
        not isinstance(value[f], kind) or isinstance(value[f], bool) for f, kind in fields.items()
    ):
        raise CountFileError(f"{CLOSE} does not have exactly the fields {sorted(fields)}")
    return Closure(**value)


def verify_close(package: ElectionPackage, closure: Closure, log_key: str | None = None) -> None:
    """The close statement and the final checkpoint, both signed by the ledger's log key: the
    one the package names (``log_verifier``), or ``log_key`` (a published ``name+id+key``)
    when given. Nothing is shuffled or decrypted
    before the close."""
    try:
        verifier = NoteVerifier.parse(log_key) if log_key is not None else package.log_verifier
        if verifier is None:
            raise CountFileError("the package names no log key; give the ledger's log key")
        verify_checkpoint(closure.checkpoint, verifier)
        verify_statement(closure.statement, verifier, closure, package.id)
    except (HanpyoError, ValueError, IndexError) as e:
        raise CountFileError(f"no valid close statement: {e}") from e


def check_selection(
    count_input: CountInput, selection_raw: bytes, closure: Closure, package: ElectionPackage
) -> None:
    """The count input is the one made from this selection (its hash), and the selection is of
    this package and of the log the close froze (its checkpoint). Whether the selection follows
    from the log's blocks is what ``ledger verify-bundle`` checks."""
    if count_input.selection_hash != file_hash(selection_raw):
        raise CountFileError(f"{COUNT_INPUT} was not made from this {SELECTION}")
    try:
        selection = _json(selection_raw)
    except EncodingError as e:
        raise CountFileError(f"{SELECTION}: {e}") from e
    if selection.get("election") != package.id:
        raise CountFileError(f"{SELECTION} is for another election")
    if selection.get("package_hash") != package.package_hash.hex():
        raise CountFileError(f"{SELECTION} was made with another package")
    if selection.get("checkpoint") != closure.checkpoint:
        raise CountFileError(f"{SELECTION} is not of the log the close statement froze")


# --- shuffles -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShuffleChain:
    """What the verified shuffles give: the final columns, who shuffled (in order) and the
    hash of the last file (the count input's when no one has shuffled)."""

    columns: tuple[tuple[Ciphertext, ...], ...]
    trustees: tuple[int, ...]
    last_hash: str


def _signed_bytes(key: ElectionKey, kind: str, trustee: int, body: dict[str, Any]) -> bytes:
    # Under the trustees' Domain.DECRYPTION with a kind no ceremony message or decryption-shares
    # file has, so a signature made for one is never accepted as the other.
    return canonical_json(
        {"setup": key.setup_hash.hex(), "kind": kind, "sender": trustee, "body": body}
    )


def signed_file(
    key: ElectionKey, kind: str, trustee: int, body: dict[str, Any], signing_key: SigningKey
) -> bytes:
    """``body`` with ``signature`` added (hex Ed25519), as the canonical bytes to write."""
    signature = signing_key.sign(Domain.DECRYPTION, _signed_bytes(key, kind, trustee, body))
    return canonical_json(body | {"signature": signature.hex()})


def signer(
    key: ElectionKey, kind: str, value: dict[str, Any], where: str
) -> tuple[KeyTrustee, dict[str, Any]]:
    """The qualified trustee who signed this file, and its body; a file that is not signed by
    the trustee it names is nobody's: the error names the file, never that trustee."""
    try:
        trustee = value["trustee"]
        if not isinstance(trustee, int) or isinstance(trustee, bool):
            raise EncodingError("the file names no trustee by number")
        named = key.trustee(trustee)
        if named is None or not named.qualified:
            raise EncodingError(f"trustee {trustee} is not a qualified trustee of the package")
        body = {k: v for k, v in value.items() if k != "signature"}
        verify_signature(
            Domain.DECRYPTION,
            named.signing_key,
            _signed_bytes(key, kind, trustee, body),
            bytes.fromhex(str(value["signature"])),
        )
    except (HanpyoError, KeyError, ValueError) as e:
        raise CountFileError(
            f"{where} is not signed by the trustee it names, so it counts for nobody ({e})"
        ) from e
    return named, body


def make_shuffle(
    package: ElectionPackage,
    previous: Sequence[Sequence[Ciphertext]],
    input_hash: str,
    trustee: int,
    signing_key: SigningKey,
    *,
    workers: int = 1,
) -> bytes:
    """Every column re-encrypted and permuted on its own (a fresh permutation each), with its
    proof, each proof verified before it is published (docs/spec/shuffle.md §8); the signed
    file's bytes. The permutations and nonces are dropped when this returns."""
    key = election_key(package)
    bound = base_hash(package, test=False)
    # whole columns spread over the workers (count_columns.py)
    columns = shuffle_columns(previous, key.key, bound, workers)
    body = {
        "election": package.id,
        "trustee": trustee,
        "input_hash": input_hash,
        "columns": columns,
    }
    return signed_file(key, SHUFFLE_KIND, trustee, body, signing_key)


def verify_shuffles(
    package: ElectionPackage,
    count_input: CountInput,
    shuffle_files: Sequence[bytes],
    *,
    workers: int = 1,
) -> ShuffleChain:
    """Every shuffle file in order (``shuffle_files[n-1]`` is shuffle-<n>.json): signed by a
    qualified trustee of the package who has not shuffled before, chained by ``input_hash`` to
    the file before it (the count input for the first), and every column's proof verified.
    The error names the file, and the trustee and the column once the file is theirs."""
    key = election_key(package)
    bound = base_hash(package, test=False)
    columns = count_input.columns
    last_hash = count_input.digest
    trustees: tuple[int, ...] = ()
    for number, raw in enumerate(shuffle_files, start=1):
        where = shuffle_name(number)
        value = _shuffle_json(raw, where)
        trustee, body = signer(key, SHUFFLE_KIND, value, where)
        j = trustee.index
        _check_link(body, package, where, j, last_hash, trustees)
        columns = _verified_columns(body["columns"], columns, key, bound, where, j, workers)
        last_hash, trustees = file_hash(raw), (*trustees, j)
    return ShuffleChain(columns, trustees, last_hash)


def _shuffle_json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        value = _json(raw)
    except EncodingError as e:
        raise CountFileError(f"{where}: {e}") from e
    if set(value) != _SHUFFLE_FIELDS:
        raise CountFileError(f"{where} does not have exactly the fields {sorted(_SHUFFLE_FIELDS)}")
    return value


def _check_link(
    body: dict[str, Any],
    package: ElectionPackage,
    where: str,
    trustee: int,
    last_hash: str,
    trustees: tuple[int, ...],
) -> None:
    if body["election"] != package.id:
        raise CountFileError(f"{where} is for another election", trustee=trustee)
    if trustee in trustees:
        raise CountFileError(f"{where}: a second shuffle by the same trustee", trustee=trustee)
    if body["input_hash"] != last_hash:
        before = COUNT_INPUT if not trustees else shuffle_name(len(trustees))
        raise CountFileError(
            f"{where} did not start from {before} (its input_hash is another file's)",
            trustee=trustee,
        )


def _verified_columns(
    found: object,
    previous: tuple[tuple[Ciphertext, ...], ...],
    key: ElectionKey,
    bound: bytes,
    where: str,
    trustee: int,
    workers: int,
) -> tuple[tuple[Ciphertext, ...], ...]:
    if not isinstance(found, list) or len(found) != len(previous):
        raise CountFileError(
            f"{where} does not hold the {len(previous)} columns of the count", trustee=trustee
        )
    out: list[tuple[Ciphertext, ...]] = []
    faults: dict[int, str] = {}
    proved: dict[int, tuple[tuple[Ciphertext, ...], tuple[Ciphertext, ...], ShuffleProof]] = {}
    for c, (item, before) in enumerate(zip(found, previous, strict=True)):
        try:
            cts, proof = _column(item, c)
            if not before:
                if cts or proof is not None:
                    raise ProofError("Shuffle", "an empty column gains ciphertexts or a proof")
            elif proof is None:
                raise ProofError("Shuffle", "no proof")
            else:
                proved[c] = (before, cts, proof)
        except (EncodingError, GroupError, ProofError) as e:
            faults[c] = str(e)
            cts = ()
        out.append(cts)
    # every proof at once, whole columns spread over the workers (count_columns.py); the
    # first failing column is named, whatever order the workers finished in
    checked = verify_columns(list(proved.values()), key.key, bound, workers)
    faults |= {c: fault for c, fault in zip(proved, checked, strict=True) if fault is not None}
    if faults:
        c = min(faults)
        raise CountFileError(f"{where}: the shuffle fails: {faults[c]}", trustee=trustee, column=c)
    return tuple(out)


def _column(item: object, c: int) -> tuple[tuple[Ciphertext, ...], ShuffleProof | None]:
    value = _obj(item)
    if set(value) != {"cts", "proof"}:
        raise EncodingError("a column is an object with exactly cts and proof")
    cts = tuple(
        Ciphertext.from_json(ct, what=f"ciphertext {i}") for i, ct in enumerate(_list(value, "cts"))
    )
    proof = None if value["proof"] is None else ShuffleProof.from_json(value["proof"])
    return cts, proof


# --- JSON helpers ---------------------------------------------------------------------------


def _json(raw: bytes) -> dict[str, Any]:
    import json

    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise EncodingError(f"not JSON: {e}") from e
    if not isinstance(value, dict):
        raise EncodingError("not a JSON object")
    return value


def _obj(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EncodingError("not an object")
    return value


def _list(value: dict[str, Any], name: str) -> list[Any]:
    items = value[name]
    if not isinstance(items, list):
        raise EncodingError(f"{name} is not a list")
    return items


def _text(value: dict[str, Any], name: str) -> str:
    text = value[name]
    if not isinstance(text, str):
        raise EncodingError(f"{name} is not a string")
    return text
