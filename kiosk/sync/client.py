"""The ledger's HTTP API for a kiosk: one requests.Session, signed writes, parsed answers.

Writes are signed for the ledger named by the configured log key, each with a fresh nonce;
the answers that change what the kiosk does (its chain's head, whether a voter voted) must
carry the log key's signature over that nonce, so a hostile network can neither forge nor
replay them. Plain http is refused when the package pins a certificate, and in official mode
anywhere but on this machine."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter

from kiosk.core.block import SignedBlock
from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.encoding import b64d, b64e, parse_json
from kiosk.core.encrypted_ballot import VOTER_ID_BYTES
from kiosk.core.errors import EncodingError, VerificationError
from kiosk.core.heartbeat import Heartbeat
from kiosk.core.ledger_answer import (
    head_statement,
    upload_statement,
    verify_answer,
    voted_statement,
)
from kiosk.core.request import NONCE_BYTES, request_target, sign_request
from kiosk.core.tls_pin import pin_fingerprint, plain_http_refusal
from kiosk.sync.errors import (
    ForgedAnswer,
    InsecureLedger,
    LedgerRefused,
    LedgerUnreachable,
    NoLogKey,
    SyncError,
)

TIMEOUT = (3.05, 15)  # connect, read: a dead network is noticed in seconds
MAX_HELD = 10_000  # heights per ``held`` question (the ledger's limit)
MAX_PROOFS = 1000  # proofs per ``inclusion_range`` request (the ledger's limit)


@dataclass(frozen=True, slots=True)
class Head:
    height: int
    hash: bytes | None


@dataclass(frozen=True, slots=True)
class OutgoingBlock:
    """A signed block as the kiosk's store holds it: its height, its hash and its canonical
    encoding (what is uploaded, and what its leaf in the ledger's log is the hash of)."""

    height: int
    hash: bytes
    encoded: bytes

    @classmethod
    def of(cls, block: SignedBlock | OutgoingBlock) -> OutgoingBlock:
        if isinstance(block, OutgoingBlock):
            return block
        return cls(block.block.height, block.hash, block.encode())


@dataclass(frozen=True, slots=True)
class UploadAnswer:
    accepted: int
    already_had: int
    head_height: int
    log_size: int
    checkpoint: str | None
    leaves: dict[int, int]
    rejected: tuple[int | None, str, str] | None  # height, reason, detail


@dataclass(frozen=True, slots=True)
class InclusionAnswer:
    leaf_index: int
    size: int
    proof: list[bytes]
    block: bytes
    checkpoint: str


class _PinnedAdapter(HTTPAdapter):
    """HTTPS that accepts exactly one certificate: the one pinned in the election package."""

    def __init__(self, pin: str) -> None:
        self._pin = pin_fingerprint(pin)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_fingerprint"] = self._pin
        super().init_poolmanager(*args, **kwargs)


class LedgerClient:
    """The ledger at ``base_url``, for the kiosk whose key is ``kiosk_key``.

    ``log_key`` (the ledger's published verifier key) names the ledger that requests are
    signed for and is the key its answers are checked against; without it the client can
    only fetch the election package (which the authority's key vouches for). ``official``
    says whether the kiosk is in official mode now.
    """

    def __init__(
        self,
        base_url: str,
        kiosk_key: SigningKey,
        *,
        log_key: str | None = None,
        tls_pin: str | None = None,
        official: Callable[[], bool] | None = None,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.kiosk_id = kiosk_id_for(kiosk_key.public_key)
        self._key = kiosk_key
        self._log = None if log_key is None else _log_verifier(log_key)
        self._pinned = bool(tls_pin)
        self._official = official or (lambda: False)
        self._timeout = timeout
        self._session = requests.Session()
        if tls_pin:
            # The pin replaces certificate-authority trust: the ledger's certificate is trusted
            # because its SHA-256 is the one the authority signed into the election package.
            self._session.mount("https://", _PinnedAdapter(tls_pin))
            self._session.verify = False
            # ...and no CA bundle from the environment (REQUESTS_CA_BUNDLE) may override it.
            self._session.trust_env = False

    def close(self) -> None:
        self._session.close()

    # -- requests ----------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        signed: bool = False,
        nonce: bytes | None = None,
    ) -> requests.Response:
        """One request; signed with ``nonce`` (fresh if not given) when ``signed``."""
        refusal = plain_http_refusal(self.base_url, pinned=self._pinned, official=self._official())
        if refusal is not None:
            raise InsecureLedger(refusal)
        if isinstance(body, bytes):  # already JSON
            raw = body
        else:
            raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        # The query is written here, not by requests, so that what is signed is what is sent.
        target = request_target(path, urlencode(params) if params else "")
        if signed:
            headers["Authorization"] = sign_request(
                self._key,
                self._log_key().name,
                method,
                target,
                raw,
                now=time.time(),
                nonce=nonce or secrets.token_bytes(NONCE_BYTES),
            )
        try:
            return self._session.request(
                method,
                self.base_url + target,
                data=raw or None,
                headers=headers,
                timeout=self._timeout,
            )
        except requests.RequestException as e:
            raise LedgerUnreachable(f"{method} {path}: {e}") from e

    def _log_key(self) -> NoteVerifier:
        if self._log is None:
            raise NoLogKey(
                "no log key is configured for the ledger: the kiosk can neither sign requests "
                "for it nor check its answers"
            )
        return self._log

    def _check_signed(self, statement: bytes, doc: Any, what: str) -> None:
        """The answer ``doc`` carries the log key's signature over ``statement``."""
        signature = doc.get("signature") if isinstance(doc, dict) else None
        try:
            verify_answer(self._log_key().public_key, statement, signature)
        except VerificationError as e:
            raise ForgedAnswer(
                f"the ledger's answer about {what} is not signed by its log key ({e}): "
                "something between the kiosk and the ledger may be changing answers"
            ) from e

    def _json(self, response: requests.Response, ok: tuple[int, ...] = (200,)) -> Any:
        try:
            document = parse_json(response.content)
        except EncodingError as e:
            if response.status_code >= 500 or response.status_code == 200:
                # A 200 without its JSON is an answer cut short by the network.
                raise LedgerUnreachable(
                    f"the ledger's answer ({response.status_code}) arrived incomplete"
                ) from e
            raise SyncError(f"the ledger answered {response.status_code} with no JSON") from e
        if response.status_code in ok:
            return document
        if response.status_code >= 500:
            raise LedgerUnreachable(f"the ledger failed ({response.status_code})")
        if isinstance(document, dict) and isinstance(document.get("rejected"), dict):
            rejected = document["rejected"]
            raise LedgerRefused(
                str(rejected.get("reason")), str(rejected.get("detail", "")), response.status_code
            )
        if isinstance(document, dict) and "reason" in document:
            raise LedgerRefused(
                str(document["reason"]), str(document.get("detail", "")), response.status_code
            )
        raise LedgerRefused("unexpected", response.text[:200], response.status_code)

    # -- the API -----------------------------------------------------------------------------
    def head(self) -> Head:
        """How far the ledger holds this kiosk's chain, signed by the log key for a fresh
        nonce: an answer forged or replayed on the way raises ``ForgedAnswer``."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        path = f"/v1/kiosks/{self.kiosk_id}/head"
        doc = self._json(self._call("GET", path, params={"nonce": b64e(nonce)}))
        try:
            head = Head(int(doc["height"]), None if doc["hash"] is None else b64d(doc["hash"]))
        except (KeyError, TypeError, ValueError, OverflowError, EncodingError) as e:
            raise SyncError(f"malformed head answer: {e}") from e
        statement = head_statement(self.kiosk_id, head.height, head.hash, nonce)
        self._check_signed(statement, doc, "this kiosk's chain")
        return head

    def upload(
        self, blocks: Sequence[SignedBlock | OutgoingBlock], *, wait: bool = True
    ) -> UploadAnswer:
        """Send ``blocks``; the answer must be the log key's for this request's nonce, since
        the blocks it says the ledger already had are taken as delivered on its word.
        Without ``wait`` the ledger answers once the blocks are durable, before a checkpoint
        covers them (the next batch can go at once; all are proven against a later one)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        # Each block's canonical JSON as stored, spliced in: the ledger reads the same JSON.
        encoded = b",".join(OutgoingBlock.of(b).encoded for b in blocks)
        body = b'{"blocks":[' + encoded + b"]}"
        path = f"/v1/kiosks/{self.kiosk_id}/blocks"
        params = None if wait else {"wait": "false"}
        response = self._call("POST", path, body, params=params, signed=True, nonce=nonce)
        # A rejection still carries what was accepted before it: parse both kinds alike.
        doc = self._json(response, ok=(200, 409, 422))
        try:
            rejected = doc["rejected"]
            answer = UploadAnswer(
                int(doc["accepted"]),
                int(doc["already_had"]),
                int(doc["head_height"]),
                int(doc["log_size"]),
                doc["checkpoint"],
                {int(h): int(i) for h, i in doc["leaves"].items()},
                None
                if rejected is None
                else (rejected["height"], str(rejected["reason"]), str(rejected["detail"])),
            )
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as e:
            raise SyncError(f"malformed upload answer: {e}") from e
        statement = upload_statement(self.kiosk_id, answer.head_height, answer.leaves, nonce)
        self._check_signed(statement, doc, "this upload")
        return answer

    def election(self) -> bytes:
        """The signed election package as the ledger serves it, unverified: the caller checks
        it against the pinned authority key before using any of it."""
        response = self._call("GET", "/v1/election")
        if response.status_code != 200:
            self._json(response)
        return response.content

    def checkpoint(self) -> str:
        response = self._call("GET", "/v1/checkpoint")
        if response.status_code != 200:
            self._json(response)
        text = response.text
        # A connection cut inside the headers reaches us as a 200 with a short body. That is
        # a network fault to retry, not a ledger to distrust: only a whole note is judged.
        if "\n\n" not in text or not text.endswith("\n"):
            raise LedgerUnreachable(f"the checkpoint arrived incomplete ({len(text)} bytes)")
        return text

    def consistency(self, old: int, new: int) -> list[bytes]:
        doc = self._json(
            self._call("GET", "/v1/proofs/consistency", params={"old": old, "new": new})
        )
        try:
            return [b64d(h, length=32) for h in doc["proof"]]
        except (KeyError, TypeError, EncodingError) as e:
            raise SyncError(f"malformed consistency answer: {e}") from e

    def locate(self, tracking_code: str) -> InclusionAnswer:
        """Where the ledger holds the block of ``tracking_code`` (its leaf index and bytes);
        unverified: the caller checks the block and proves the leaf against a checkpoint."""
        return self._inclusion({"tracking_code": tracking_code})

    def held(self, first: int, count: int) -> dict[int, tuple[int, bytes]]:
        """Where the ledger says it holds this kiosk's blocks ``first`` .. ``first + count -
        1``: height -> (leaf index, block hash), one request (at most ``MAX_HELD`` heights).
        Unverified: the caller compares the hashes and proves each leaf."""
        doc = self._json(
            self._call(
                "GET",
                f"/v1/kiosks/{self.kiosk_id}/leaves",
                params={"first": first, "count": count},
            )
        )
        try:
            held = {
                int(h): (int(leaf), b64d(digest, length=32)) for h, leaf, digest in doc["blocks"]
            }
        except (KeyError, TypeError, ValueError, OverflowError, EncodingError) as e:
            raise SyncError(f"malformed leaves answer: {e}") from e
        if any(not first <= h < first + count or leaf < 0 for h, (leaf, _) in held.items()):
            raise SyncError("malformed leaves answer: a height or leaf out of range")
        return held

    def inclusion(self, leaf_index: int, size: int | None = None) -> InclusionAnswer:
        params: dict[str, Any] = {"leaf_index": leaf_index}
        if size is not None:
            params["size"] = size
        return self._inclusion(params)

    def _inclusion(self, params: dict[str, Any]) -> InclusionAnswer:
        doc = self._json(self._call("GET", "/v1/proofs/inclusion", params=params))
        try:
            return InclusionAnswer(
                int(doc["leaf_index"]),
                int(doc["size"]),
                [b64d(h, length=32) for h in doc["proof"]],
                b64d(doc["block"]),
                str(doc["checkpoint"]),
            )
        except (KeyError, TypeError, ValueError, OverflowError, EncodingError) as e:
            raise SyncError(f"malformed inclusion answer: {e}") from e

    def inclusion_range(self, first: int, count: int, size: int) -> list[list[bytes]]:
        """Inclusion proofs for ``count`` consecutive leaves in the tree of ``size``."""
        doc = self._json(
            self._call(
                "GET",
                "/v1/proofs/inclusion-range",
                params={"first": first, "count": count, "size": size},
            )
        )
        try:
            proofs = [[b64d(h, length=32) for h in proof] for proof in doc["proofs"]]
        except (KeyError, TypeError, EncodingError) as e:
            raise SyncError(f"malformed inclusion answer: {e}") from e
        if len(proofs) != count:
            raise SyncError(f"asked for {count} proofs, got {len(proofs)}")
        return proofs

    def has_voted(self, identity: bytes) -> tuple[bool, list[str]]:
        """Whether the voter voted, and through which channels; the answer must be the log
        key's for this request's nonce (``ForgedAnswer`` if not). ``identity`` is what the
        ledger's voter index keys on (kiosk.core.block.ballot_identity): the voter id (16
        bytes), sent as hex and nothing else about the voter."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        doc = self._json(
            self._call(
                "POST",
                f"/v1/kiosks/{self.kiosk_id}/nullifiers/check",
                _voter_question(identity),
                signed=True,
                nonce=nonce,
            )
        )
        try:
            voted, channels = doc["voted"], [str(c) for c in doc["channels"]]
        except (KeyError, TypeError) as e:
            raise SyncError(f"malformed voter answer: {e}") from e
        if voted is not bool(channels):
            raise SyncError("malformed voter answer: 'voted' disagrees with its channels")
        statement = voted_statement(self.kiosk_id, identity, channels, nonce)
        self._check_signed(statement, doc, "this voter")
        return bool(voted), channels

    def heartbeat(self, beat: Heartbeat) -> None:
        path = f"/v1/kiosks/{self.kiosk_id}/heartbeat"
        self._json(self._call("POST", path, beat.to_json(), signed=True))


def _voter_question(identity: bytes) -> dict[str, str]:
    if len(identity) == VOTER_ID_BYTES:
        return {"voter": identity.hex()}
    raise ValueError(f"a voter is asked about by their 16-byte voter id, not {len(identity)} bytes")


def _log_verifier(log_key: str) -> NoteVerifier:
    try:
        return NoteVerifier.parse(log_key)
    except EncodingError as e:
        raise NoLogKey(f"the configured log key is not a verifier key: {e}") from e
