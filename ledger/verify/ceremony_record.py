"""The key ceremony's transcript in the record (``ceremony.json``, the file `ledger election
create --ceremony` writes beside the package), checked by a verifier with no secret and no
trustee medium: every message's envelope and signature, the outcome recomputed from the
messages (docs/spec/ceremony.md §3: K, every Z_j, who is qualified, the transcript hash), at
least k qualified trustees who signed that outcome, and the package's ``election_key`` section
saying exactly that. The trustee tool checks the same file with ledger/service/ceremony_result.py;
this is the same rule written on the pure functions of kiosk/core/verifiable/, because a
verifier must not need the ledger's service layer."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kiosk.core.election import ElectionPackage
from kiosk.core.errors import EncodingError, VerificationError
from kiosk.core.verifiable.ceremony import (
    CeremonyError,
    CeremonyOutcome,
    CeremonySetup,
    SignedMessage,
    check_results,
    evaluate,
)

# The formats the trustee tool writes (ledger/service/ceremony_result.py, ceremony_mailbox.py).
RESULT_FORMAT = "hanpyo-ceremony-result/v1"
ENVELOPE = "hanpyo-ceremony-message/v1"


class CeremonyRecordError(VerificationError):
    """The ceremony transcript does not give the package's election key."""


def check_ceremony(package: ElectionPackage, raw: bytes, where: str = "ceremony.json") -> str:
    """What the transcript gives, once it is exactly what the package states."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CeremonyRecordError(f"{where} is not JSON: {e}") from e
    if not (isinstance(record, dict) and record.get("format") == RESULT_FORMAT):
        raise CeremonyRecordError(f"{where} is not a ceremony result ({RESULT_FORMAT})")
    if set(record) - {"format", "setup", "messages", "record"}:
        raise CeremonyRecordError(f"{where} has fields a ceremony result does not have")
    try:
        setup = CeremonySetup.from_json(record.get("setup"))
    except EncodingError as e:
        raise CeremonyRecordError(f"{where}: the setup is damaged: {e}") from e
    if setup.election_id != package.id:
        raise CeremonyRecordError(f"{where} is the ceremony of {setup.election_id!r}")
    messages = _messages(record.get("messages"), setup, where)
    try:
        outcome = evaluate(setup, messages)
        signed = check_results(setup, outcome, messages)
    except CeremonyError as e:
        raise CeremonyRecordError(f"{where}: {e}") from e
    confirmed = signed.confirmed_by_qualified(outcome)
    if len(confirmed) < setup.threshold:
        raise CeremonyRecordError(
            f"{where}: only {len(confirmed)} qualified trustees signed the outcome the "
            f"transcript gives; {setup.threshold} must"
        )
    _same_as_package(package, setup, outcome, where)
    if "record" in record:
        summary = _summary(setup, outcome, confirmed, signed.dissenting)
        if record["record"] != summary:
            raise CeremonyRecordError(f"{where}: its summary (record) is not what it gives")
    return (
        f"K {outcome.election_key.hex()[:16]}…, {len(outcome.qualified)} qualified trustees "
        f"of {setup.size}, any {setup.threshold} decrypt; transcript "
        f"{outcome.transcript_hash.hex()[:16]}…; signed by trustees "
        f"{', '.join(map(str, confirmed))}"
    )


def _messages(raw: object, setup: CeremonySetup, where: str) -> list[SignedMessage]:
    if not isinstance(raw, list):
        raise CeremonyRecordError(f"{where} holds no messages")
    found = [_open(value, setup, f"{where} message {n}") for n, value in enumerate(raw)]
    _no_equivocation(found, where)
    return found


def _open(value: object, setup: CeremonySetup, where: str) -> SignedMessage:
    """The envelope names this election and setup, and the sender signed the message."""
    if not (isinstance(value, dict) and value.get("hanpyo") == ENVELOPE):
        raise CeremonyRecordError(f"{where} is not a ceremony message")
    if set(value) != {"hanpyo", "election", "setup", "message"}:
        raise CeremonyRecordError(f"{where}: an envelope has hanpyo, election, setup, message")
    if value["election"] != setup.election_id or value["setup"] != setup.base_hash().hex():
        raise CeremonyRecordError(f"{where} is for another election or setup")
    try:
        message = SignedMessage.from_json(value["message"])
        message.verify(setup)
    except (CeremonyError, EncodingError) as e:
        raise CeremonyRecordError(f"{where}: {e}") from e
    return message


def _no_equivocation(messages: Iterable[SignedMessage], where: str) -> None:
    chosen: dict[tuple[str, int], bytes] = {}
    for m in messages:
        if m.kind == "result":
            continue  # a second result is evidence against its sender, kept (check_results)
        earlier = chosen.setdefault((m.kind, m.sender), m.content())
        if earlier != m.content():
            raise CeremonyRecordError(
                f"{where}: trustee {m.sender} sent two different {m.kind} messages"
            )


def _same_as_package(
    package: ElectionPackage, setup: CeremonySetup, outcome: CeremonyOutcome, where: str
) -> None:
    """The signed package's election_key section field by field against the recomputation."""
    key = package.election_key
    if key is None:
        raise CeremonyRecordError("the package names no election key")
    pairs: list[tuple[str, object, object]] = [
        ("K", key.key, outcome.election_key),
        ("threshold", key.threshold, setup.threshold),
        ("setup hash", key.setup_hash, setup.base_hash()),
        ("transcript hash", key.transcript_hash, outcome.transcript_hash),
        ("number of trustees", len(key.trustees), setup.size),
    ]
    for name, stated, given in pairs:
        if stated != given:
            raise CeremonyRecordError(f"the package's {name} is not the one {where} gives")
    for stated_t, identity in zip(key.trustees, setup.trustees, strict=True):
        expected = (
            identity.index,
            identity.name,
            identity.signing_key,
            identity.box_key,
            outcome.verification_keys[identity.index],
            identity.index in outcome.qualified,
        )
        found = (
            stated_t.index,
            stated_t.name,
            stated_t.signing_key,
            stated_t.box_key,
            stated_t.verification_key,
            stated_t.qualified,
        )
        if found != expected:
            raise CeremonyRecordError(
                f"trustee {identity.index} in the package (name, keys, Z_j or qualified) is "
                f"not the one {where} gives"
            )


def _summary(
    setup: CeremonySetup,
    outcome: CeremonyOutcome,
    confirmed: tuple[int, ...],
    dissenting: tuple[int, ...],
) -> dict[str, Any]:
    """The summary the organiser's tool writes as "record" (ceremony_result.ceremony_section)."""
    return {
        "election_key": outcome.election_key.hex(),
        "threshold": outcome.threshold,
        "setup_hash": outcome.setup_hash.hex(),
        "transcript_hash": outcome.transcript_hash.hex(),
        "trustees": [
            t.to_json()
            | {
                "verification_key": outcome.verification_keys[t.index].hex(),
                "qualified": t.index in outcome.qualified,
                "signed_result": t.index in confirmed,
            }
            for t in setup.trustees
        ],
        "disqualified": {str(i): why for i, why in sorted(outcome.disqualified.items())},
        "signed_another_result": list(dissenting),
    }
