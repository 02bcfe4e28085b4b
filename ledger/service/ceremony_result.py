"""The ceremony's result as the organiser collects it and the package is made from it: the
setup and every signed message (the transcript and each trustee's signed result). Anyone checks
it from the file alone: every signature, the outcome recomputed (``evaluate``), and at least k
qualified trustees who signed that very outcome. A trustee who signed another result is named
(their signed message stays in the record as evidence) but cannot veto: the outcome is what the
transcript gives, which anyone recomputes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.core.election_key import ElectionKey
from kiosk.core.errors import EncodingError
from kiosk.core.verifiable.ceremony import (
    CeremonyError,
    CeremonyOutcome,
    CeremonySetup,
    SignedMessage,
    check_results,
    evaluate,
)
from ledger.service.ceremony_mailbox import envelope, one_each, open_envelope
from ledger.service.ceremony_medium import TrusteeToolError

RESULT_FORMAT = "hanpyo-ceremony-result/v1"


@dataclass(frozen=True, slots=True)
class VerifiedCeremony:
    setup: CeremonySetup
    outcome: CeremonyOutcome
    confirmed: tuple[int, ...]  # qualified trustees whose signed result is this outcome
    dissenting: tuple[int, ...] = ()  # trustees who signed another result: named, no veto


def collect_result(
    setup: CeremonySetup, messages: Iterable[SignedMessage]
) -> tuple[dict[str, Any], VerifiedCeremony]:
    ordered = sorted(_kept(messages), key=lambda m: (m.kind, m.sender, m.content()))
    record = {
        "format": RESULT_FORMAT,
        "setup": setup.to_json(),
        "messages": [envelope(setup, m) for m in ordered],
    }
    return record, verify_result(record)


def verify_result(record: object) -> VerifiedCeremony:
    """The checked ceremony in ``record``; TrusteeToolError says what does not hold."""
    if not (isinstance(record, dict) and record.get("format") == RESULT_FORMAT):
        raise _refused("this is not a ceremony result (collect it with `ledger trustee collect`)")
    try:
        setup = CeremonySetup.from_json(record.get("setup"))
    except EncodingError as e:
        raise _refused(f"its setup is damaged: {e}") from e
    raw = record.get("messages")
    if not isinstance(raw, list):
        raise _refused("it holds no messages")
    messages = [open_envelope(m, setup, f"message {n}") for n, m in enumerate(raw)]
    _kept(messages)
    try:
        outcome = evaluate(setup, messages)
        signed = check_results(setup, outcome, messages)
    except CeremonyError as e:
        raise _refused(str(e)) from e
    confirmed = signed.confirmed_by_qualified(outcome)
    if len(confirmed) < setup.threshold:
        others = (
            f"; trustees {_listed(signed.dissenting)} signed another result"
            if signed.dissenting
            else ""
        )
        raise _refused(
            f"only {len(confirmed)} qualified trustees signed the result the transcript gives; "
            f"{setup.threshold} must (each trustee runs `ledger trustee finish`){others}"
        )
    return VerifiedCeremony(setup, outcome, confirmed, signed.dissenting)


def _kept(messages: Iterable[SignedMessage]) -> list[SignedMessage]:
    """One message per kind and trustee for the transcript (two different ones: equivocation,
    refused and named); every distinct signed result, since a second result from one trustee
    is evidence against them, not a reason to stop."""
    messages = list(messages)
    chosen = one_each(m for m in messages if m.kind != "result")
    results = {(m.sender, m.content()): m for m in messages if m.kind == "result"}
    return [*chosen.values(), *results.values()]


def _listed(indices: Iterable[int]) -> str:
    return ", ".join(map(str, indices))


def ceremony_section(verified: VerifiedCeremony) -> dict[str, Any]:
    """What the election's record states about its key: K, the threshold, each trustee's
    identity and Z_j, who is qualified, and the transcript hash."""
    outcome = verified.outcome
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
                "signed_result": t.index in verified.confirmed,
            }
            for t in verified.setup.trustees
        ],
        "disqualified": {str(i): why for i, why in sorted(outcome.disqualified.items())},
        "signed_another_result": list(verified.dissenting),
    }


def _refused(detail: str) -> TrusteeToolError:
    return TrusteeToolError(
        f"the ceremony result is refused: {detail}",
        "키 생성 결과를 받아들일 수 없습니다. 이유를 확인하고 신탁인들과 다시 확인하세요.",
        "The key ceremony's result is refused. Read why, and check with the trustees.",
    )


def check_package_key(
    package_id: str, key: ElectionKey | None, setup: CeremonySetup, result: Mapping[str, Any]
) -> None:
    """Refuse unless the package's election_key section says exactly what this trustee's own
    ceremony computed (``result``: the body every trustee signed): the election, K, the
    threshold, the setup and transcript hashes, and each trustee's name, keys, Z_j and whether
    they are qualified. A package naming another K would have every ballot sealed to a key the
    trustees do not hold, and whoever made it up could open them all; the package's own checks
    cannot see that, since a made-up K with made-up Z_j on one polynomial is consistent."""
    if package_id != setup.election_id:
        raise _not_ours(
            f"the package is for {package_id!r}, the ceremony for {setup.election_id!r}"
        )
    if key is None:
        raise _not_ours("the package names no election key")
    qualified = set(result["qualified"])
    expected: dict[str, Any] = {
        "key": result["election_key"],
        "threshold": setup.threshold,
        "setup_hash": setup.base_hash().hex(),
        "transcript_hash": result["transcript"],
        "trustees": [
            t.to_json()
            | {
                "verification_key": result["verification_keys"][str(t.index)],
                "qualified": t.index in qualified,
            }
            for t in setup.trustees
        ],
    }
    found = key.to_json()
    for field in ("key", "threshold", "setup_hash", "transcript_hash"):
        if found[field] != expected[field]:
            raise _not_ours(f"its {field} is not the one the ceremony made")
    if len(found["trustees"]) != len(expected["trustees"]):
        raise _not_ours("it lists another number of trustees")
    for theirs, ours in zip(found["trustees"], expected["trustees"], strict=True):
        for field, value in ours.items():
            if theirs[field] != value:
                raise _not_ours(f"trustee {ours['index']}'s {field} is not the ceremony's")


def _not_ours(detail: str) -> TrusteeToolError:
    return TrusteeToolError(
        f"the package's election key is not this ceremony's: {detail}",
        "선거 정보 파일의 선거 키가 신탁인들이 만든 키와 다릅니다. 이 파일로 선거를 열면 "
        "안 됩니다. 선거 관리자와 다른 신탁인들에게 바로 알리세요.",
        "The election key in the package is not the key the trustees made. The election must "
        "not open with this package. Tell the election manager and the other trustees now.",
    )
