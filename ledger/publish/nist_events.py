"""NIST SP 1500-101 election event log: one event per block of each kiosk's chain, never a
ballot's voter or encrypted ballot."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kiosk import __version__
from kiosk.core.block import BlockKind, SignedBlock
from kiosk.core.election import ElectionPackage
from ledger.publish.export_common import MANUFACTURER, device_model, devices_of, nist_time
from ledger.publish.streamed_json import Lazy, materialise

# What an event log may say about each kind of block. An allow-list, so that a ballot's voter
# id, card signature and encrypted ballot can never reach the log, whatever a body carries.
_PUBLIC_BODY: dict[BlockKind, tuple[str, ...]] = {
    BlockKind.GENESIS: ("kiosk_key", "package"),
    BlockKind.MODE: ("mode",),
    BlockKind.SESSION_OPEN: ("session",),
    BlockKind.SESSION_PAUSE: ("session",),
    BlockKind.SESSION_RESUME: ("session",),
    BlockKind.SESSION_CLOSE: ("session", "ballots", "test_ballots", "checkpoint"),
    BlockKind.BALLOT: (),
    BlockKind.TEST_BALLOT: (),
    BlockKind.SPOILED: (),
}


# -- NIST SP 1500-101: election event log -----------------------------------------------------


def nist_event_log(
    package: ElectionPackage,
    results: Mapping[str, Any],
    chains: Mapping[str, Iterable[SignedBlock]],
    sources: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """An ElectionEventLog (NIST SP 1500-101): one Device per kiosk or online platform and one
    Event per block of its chain, in height order. A ballot's event says only that a ballot
    was cast: never its voter, card signature or encrypted ballot."""
    document: dict[str, Any] = materialise(event_log(package, results, chains, sources))
    return document


def event_log(
    package: ElectionPackage,
    results: Mapping[str, Any],
    chains: Mapping[str, Iterable[SignedBlock]],
    sources: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    devices = [
        {
            "@type": "EventLogging.Device",
            "Id": d.kiosk,
            "Type": "electronic-cast" if d.channel == "online" else "dre",
            "Manufacturer": MANUFACTURER,
            "Model": device_model(d.channel),
            "Version": __version__,
            "Details": f"{d.name} ({d.channel})",
            "HashType": "sha-256",
            "Event": Lazy(_event(b) for b in chains.get(d.kiosk, ())),
        }
        for d in devices_of(sources, results, chains)
    ]
    return {
        "@type": "EventLogging.ElectionEventLog",
        "GeneratedTime": nist_time(results.get("tallied_at")),
        "ElectionId": package.id,
        "Details": "Every block of every kiosk chain: Sequence is the block height, Hash the "
        "block's SHA-256 (over its canonical JSON, without the signature), TimeStamp the block "
        "time, which kiosks record to the minute.",
        "Device": Lazy(devices),
    }


def _event(signed: SignedBlock) -> dict[str, Any]:
    block = signed.block
    body = block.body
    event: dict[str, Any] = {
        "@type": "EventLogging.Event",
        "Id": f"hanpyo.{block.kind.value}",
        "Type": block.kind.value,
        "Sequence": str(block.height),
        "TimeStamp": nist_time(block.time),
        "Hash": signed.hash.hex(),
        "Disposition": "success",
        "Description": _describe(block.kind, body),
    }
    public = {k: body[k] for k in _PUBLIC_BODY[block.kind] if body.get(k) is not None}
    if public:
        event["Details"] = json.dumps(public, ensure_ascii=False, sort_keys=True)
    return event


def _describe(kind: BlockKind, body: Mapping[str, Any]) -> str:
    session = body.get("session")
    match kind:
        case BlockKind.GENESIS:
            return "Chain started for the election package"
        case BlockKind.MODE:
            return f"Mode set to {body.get('mode')}"
        case BlockKind.SESSION_OPEN:
            return f"Session {session} opened"
        case BlockKind.SESSION_PAUSE:
            return f"Session {session} paused"
        case BlockKind.SESSION_RESUME:
            return f"Session {session} resumed"
        case BlockKind.SESSION_CLOSE:
            return (
                f"Session {session} closed: {body.get('ballots')} ballots, "
                f"{body.get('test_ballots')} test ballots"
            )
        case BlockKind.BALLOT:
            return "Ballot cast"
        case BlockKind.TEST_BALLOT:
            return "Test ballot cast"
        case BlockKind.SPOILED:
            return "Ballot checked by the voter and spoiled"
    return kind.value
