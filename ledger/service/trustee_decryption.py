"""Threshold decryption as the trustees run it: each trustee, on their own computer, checks a
decryption request (the signed close statement, the election and ceremony it names, every
ciphertext) and writes their decryption shares with a Chaum-Pedersen proof each, signed with
their ceremony identity; anyone then combines the files of any k trustees, each file checked
on its own so that a wrong one names its trustee (kiosk/core/verifiable/decryption.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.crypto import Domain, SigningKey, sha256, verify_signature
from kiosk.core.encoding import canonical_json
from kiosk.core.errors import EncodingError, HanpyoError, VerificationError
from kiosk.core.verifiable.ceremony import CeremonySetup
from kiosk.core.verifiable.decryption import (
    DecryptionShare,
    decrypt_all,
    decryption_shares,
    verify_decryption_share,
)
from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import Point
from ledger.rules.close_statement import Closure, verify_statement
from ledger.service.ceremony_medium import Medium, TrusteeToolError

REQUEST_FORMAT = "hanpyo-decryption-request/v1"
SHARES_FORMAT = "hanpyo-decryption-shares/v1"
MAX_CIPHERTEXTS = 1_000_000


@dataclass(frozen=True, slots=True)
class Request:
    election: str
    transcript_hash: str
    closure: Closure
    ciphertexts: tuple[Ciphertext, ...]
    digest: bytes  # SHA-256 of the canonical request: every share's proof is bound to it


def read_request(value: object) -> Request:
    """A decryption request, every ciphertext decoded (a point outside the group is refused)."""
    if not (isinstance(value, dict) and value.get("format") == REQUEST_FORMAT):
        raise _bad_request("this is not a decryption request")
    try:
        closure = value["closure"]
        raw = value["ciphertexts"]
        if not isinstance(raw, list) or not 0 < len(raw) <= MAX_CIPHERTEXTS:
            raise EncodingError("ciphertexts: a non-empty list")
        ciphertexts = tuple(
            Ciphertext.from_json(c, what=f"ciphertext {n}") for n, c in enumerate(raw)
        )
        return Request(
            str(value["election"]),
            str(value["transcript_hash"]),
            Closure(
                str(closure["closed_at"]),
                int(closure["size"]),
                str(closure["checkpoint"]),
                str(closure["statement"]),
                dict(closure["waivers"]),
            ),
            ciphertexts,
            sha256(canonical_json(value)),
        )
    except (KeyError, TypeError, ValueError, EncodingError) as e:
        raise _bad_request(f"the request is malformed: {e}") from e


def check_request(request: Request, setup: CeremonySetup, transcript: str, log_key: str) -> None:
    """Refuse unless the request is for this election and ceremony and comes with the close
    statement signed by the ledger's log key (decrypting before the close is never done)."""
    if request.election != setup.election_id:
        raise _bad_request(f"the request is for {request.election}, not {setup.election_id}")
    if request.transcript_hash != transcript:
        raise _bad_request("the request names another key ceremony (transcript hash)")
    try:
        verifier = NoteVerifier.parse(log_key)
        if len(request.closure.checkpoint.splitlines()) < 3:
            # a checkpoint note has origin, size and root lines; the statement quotes the root
            raise ValueError("the close checkpoint is not a checkpoint (fewer than three lines)")
        verify_statement(request.closure.statement, verifier, request.closure, setup.election_id)
    except (HanpyoError, ValueError) as e:
        raise TrusteeToolError(
            f"no valid close statement: {e}",
            "선거가 닫혔다는 서명된 마감 확인서가 없거나 맞지 않습니다. 복호화하지 않습니다.",
            "There is no valid signed close statement for this election. Nothing is decrypted.",
        ) from e


def decrypt_request(medium: Medium, request: Request, log_key: str) -> dict[str, Any]:
    """My signed decryption shares of every ciphertext in ``request``."""
    record = medium.result()
    setup = CeremonySetup.from_json(record["setup"])
    result = record["result"]
    check_request(request, setup, str(result["transcript"]), log_key)
    share = medium.share()
    keys = {int(j): Point.from_hex(z) for j, z in result["verification_keys"].items()}
    shares = decryption_shares(share, request.ciphertexts, keys, setup.base_hash(), request.digest)
    body = {
        "election": setup.election_id,
        "transcript_hash": request.transcript_hash,
        "request": request.digest.hex(),
        "shares": [s.to_json() for s in shares],
    }
    return _signed_file(medium.signing_key(), setup, share.index, body)


def _signed_file(
    key: SigningKey, setup: CeremonySetup, trustee: int, body: dict[str, Any]
) -> dict[str, Any]:
    signature = key.sign(Domain.DECRYPTION, _signed_bytes(setup, trustee, body))
    return {"format": SHARES_FORMAT, "trustee": trustee, "body": body, "signature": signature.hex()}


def _signed_bytes(setup: CeremonySetup, trustee: int, body: dict[str, Any]) -> bytes:
    # Signed under its own domain (hanpyo/decryption/v2), and with a kind no ceremony message
    # has: a signature over a decryption file is never accepted as a ceremony message or back.
    return canonical_json(
        {"setup": setup.base_hash().hex(), "kind": "decryption", "sender": trustee, "body": body}
    )


def combine_files(
    setup: CeremonySetup,
    keys: dict[int, Point],
    threshold: int,
    request: Request,
    files: Sequence[tuple[str, Any]],
    bound: int,
) -> list[int]:
    """The plaintexts, from the files of at least ``threshold`` distinct trustees; each file
    checked on its own first, so a wrong one is named by its trustee. Only a file its trustee
    signed names them: anyone can write a file that claims to be trustee 2's, and that must
    not make the count say trustee 2 cheated. A second checked file of one trustee holds the
    same shares (M_j = z_j·α is fixed by the key), so a copy counts once and blames nobody."""
    shares: list[DecryptionShare] = []
    trustees: set[int] = set()
    for where, value in files:
        trustee, body = _signed_by(setup, where, value)
        mine = _checked_shares(setup, keys, request, where, trustee, body)
        if trustee not in trustees:
            trustees.add(trustee)
            shares += mine
    if len(trustees) < threshold:
        raise TrusteeToolError(
            f"{len(trustees)} trustees gave decryption shares ({sorted(trustees)}); "
            f"{threshold} are needed",
            f"신탁인 {threshold}명의 몫이 필요합니다. "
            f"지금은 {len(trustees)}명뿐이라 열 수 없습니다.",
            f"{threshold} trustees' shares are needed; with {len(trustees)} nothing can be opened.",
        )
    return decrypt_all(
        request.ciphertexts, shares, keys, threshold, bound, setup.base_hash(), request.digest
    )


def _signed_by(setup: CeremonySetup, where: str, value: Any) -> tuple[int, Any]:
    """The trustee whose ceremony identity signed this file, and its body. A file that is not
    signed by the trustee it names is nobody's: the error names the file, never that trustee."""
    try:
        if not (isinstance(value, dict) and value.get("format") == SHARES_FORMAT):
            raise EncodingError("not a decryption shares file")
        trustee, body = value["trustee"], value["body"]
        if not isinstance(trustee, int) or isinstance(trustee, bool):
            raise EncodingError("the file names no trustee by index")
        verify_signature(
            Domain.DECRYPTION,
            setup.trustee(trustee).signing_key,
            _signed_bytes(setup, trustee, body),
            bytes.fromhex(value["signature"]),
        )
    except (HanpyoError, KeyError, TypeError, ValueError) as e:
        raise TrusteeToolError(
            f"{where}: not signed by the trustee it names, so it counts for nobody ({e})",
            "서명이 맞지 않는 복호화 몫 파일입니다. 누구의 것인지 알 수 없으므로 빼고 "
            "다시 합치세요.",
            "A decryption shares file is not signed by the trustee it names; it is nobody's. "
            "Leave it out and combine again.",
        ) from e
    return trustee, body


def _checked_shares(
    setup: CeremonySetup,
    keys: dict[int, Point],
    request: Request,
    where: str,
    trustee: int,
    body: Any,
) -> list[DecryptionShare]:
    """The shares in a file ``trustee`` signed, each proof checked: a wrong one names them."""
    try:
        if body["request"] != request.digest.hex() or body["election"] != setup.election_id:
            raise VerificationError("the shares answer another request")
        shares = [DecryptionShare.from_json(s) for s in body["shares"]]
        if sorted(s.ciphertext_index for s in shares) != list(range(len(request.ciphertexts))):
            raise VerificationError("not one share per ciphertext")
        for s in shares:
            if s.trustee != trustee:
                raise VerificationError("a share of another trustee inside")
            verify_decryption_share(
                s,
                request.ciphertexts[s.ciphertext_index],
                keys[trustee],
                setup.base_hash(),
                request.digest,
            )
    except (HanpyoError, KeyError, TypeError, ValueError) as e:
        raise _bad_shares(f"{where}: {e}", trustee) from e
    return shares


def _bad_request(detail: str) -> TrusteeToolError:
    return TrusteeToolError(
        detail,
        "복호화 요청이 이 선거와 이 키에 맞지 않거나 망가졌습니다. 복호화하지 않습니다.",
        "The decryption request does not fit this election and key, or is damaged. "
        "Nothing is decrypted.",
    )


def _bad_shares(detail: str, trustee: int | None) -> TrusteeToolError:
    who = f"신탁인 {trustee}" if trustee is not None else "어느 신탁인"
    return TrusteeToolError(
        detail if trustee is None else f"trustee {trustee}: {detail}",
        f"{who}의 복호화 몫 파일이 확인되지 않습니다.",
        f"The decryption shares of {'trustee ' + str(trustee) if trustee else 'a trustee'} "
        "do not check out.",
    )
