"""Every fuzz target by name. Each takes one input of bytes; a refusal with the project's own
error is a pass, a ``ContractBroken`` or any other exception is a finding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fuzz import (
    targets_card,
    targets_chain_rules,
    targets_cli,
    targets_core,
    targets_ledger,
    targets_merkle,
    targets_sync,
)


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    check: Callable[[bytes], None]
    about: str
    max_len: int = 4096  # libFuzzer's -max_len when the corpus holds nothing longer


TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target("encoding", targets_core.encoding, "parse_json, canonical_json, base64url, base32"),
        Target("tlv", targets_card.tlv, "BER-TLV of card responses (kiosk/hardware/card/tlv.py)"),
        Target("card_session", targets_card.card_session, "a hostile card's answers and SWs"),
        Target("vpcd", targets_card.vpcd, "a hostile vpcd peer's frames to the card simulator"),
        Target("block", targets_core.block, "decode_signed_block and verify_block"),
        Target("chain", targets_core.chain, "verify_chain over lines or reordered real blocks"),
        Target("chain_rules", targets_chain_rules.chain_rules, "a hostile kiosk's signed chain"),
        Target("election", targets_core.election, "verify_package and read_package", 32768),
        Target("export", targets_core.export, "USB export manifest and verify_export", 16384),
        Target("chain_file", targets_ledger.chain_file, "`ledger verify-chain`", 16384),
        Target(
            "usb_import", targets_ledger.usb_import, "`ledger import` into a real ledger", 16384
        ),
        Target("sync_answers", targets_sync.sync_answers, "a hostile ledger's answers to sync"),
        Target("proof_answer", targets_ledger.proof_answer, "`ledger verify-proof` answers"),
        Target("checkpoint", targets_core.checkpoint, "checkpoints, signed notes, vkeys"),
        Target("merkle", targets_merkle.merkle, "inclusion and consistency proofs"),
        Target("heartbeat", targets_core.heartbeat, "Heartbeat.from_json"),
        Target("api", targets_ledger.api, "every route of the ledger's API, in-process", 16384),
        Target("enrol_csv", targets_cli.enrol_csv, "`kiosk cards enrol-batch` CSV files"),
    ]
}

# Targets whose input is JSON: libFuzzer mutates them with fuzz/json.dict too (numbers such as
# 1e400, escapes such as \ud800, the constants), which byte mutations rarely build alone.
JSON_TARGETS = frozenset(
    {
        "encoding",
        "block",
        "election",
        "export",
        "chain_file",
        "usb_import",
        "sync_answers",
        "proof_answer",
        "heartbeat",
        "api",
        "chain",
    }
)
