"""Seed corpora from real artefacts: the world's chain, export, package, checkpoints, and a
simulated card's real answers. ``python -m fuzz.seeds`` writes them into fuzz/corpus/<target>/
(``--world`` first makes a new package, chain and export in fuzz/world/)."""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

from fuzz import world
from fuzz.targets import TARGETS
from fuzz.targets_card import STEPS, card_session_script, enrolled_card
from fuzz.targets_cli import csv_seed
from fuzz.targets_ledger import api_input, proof_answer_seed, upload_body
from fuzz.targets_sync import sync_seeds
from kiosk.core.encoding import b64e, crockford32
from kiosk.core.heartbeat import Heartbeat
from testkit.elections import derived_key

CORPUS = world.HERE / "corpus"


def _lines() -> list[bytes]:
    return [b.encode() for b in world.chain()]


def _random(n: int, size: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)  # noqa: S311 - reproducible seeds, not secrets
    return [rng.randbytes(size) for _ in range(n)]


def encoding() -> list[bytes]:
    code = world.chain()[-1].tracking_code
    return [
        b"\0" + _lines()[0],
        b"\0" + world.json_bytes(world.signed_package()["package"]["tally"]),
        b"\0" + b'{"a": [1.5, -0, 1e400, "\\ud800"], "b": {"c": null}}',
        b"\1" + b64e(bytes(range(40))).encode(),
        b"\2" + crockford32(bytes(range(15))).encode(),
        b"\3" + code.encode(),
        b"\3" + code.lower().replace("-", "").replace("0", "o").encode(),
    ]


def _card_answers() -> list[bytes]:
    """What a real (simulated) card sends back to the commands the kiosk uses."""
    card = enrolled_card()
    apdus = [
        "00A4040006D27600012401",
        "00CA006E00",
        "00CA00C400",
        "00CA006500",
        "00CA00F900",
        "00470081000002A40000",
    ]
    return [card.process(bytes.fromhex(a))[:-2] for a in apdus]


def tlv() -> list[bytes]:
    return [a for a in _card_answers() if a]


def card_session() -> list[bytes]:
    return [card_session_script(i) for i in range(STEPS)]


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(2, "big") + payload


def vpcd() -> list[bytes]:
    power = [_frame(b"\x01"), _frame(b"\x04")]
    session = [
        "00A4040006D27600012401",
        "00CA006E00",
        "00470081000002A40000",
        "0020008206313233343536",
        "0088000020" + "11" * 32 + "00",
        "00C0000000",
        "00DA005B0A" + "46757A7A3C3C43617264",
        "0020008308" + "3132333435363738",
    ]
    frames = [_frame(bytes.fromhex(a)) for a in session]
    return [b"".join(power + frames), b"".join(power + frames[:3]), _frame(b"\x02") + frames[0]]


def block() -> list[bytes]:
    return _lines()


def chain() -> list[bytes]:
    lines = _lines()
    return [
        b"\0" + b"\n".join(lines),
        b"\0" + b"\n".join(lines[:3]),
        b"\1" + bytes(range(len(lines))),
        b"\1" + bytes([0, 1, 2, 4, 3]),
    ]


def chain_rules() -> list[bytes]:
    return _random(16, 160, 1)


def election() -> list[bytes]:
    signed = world.signed_package()
    return [world.json_bytes(signed), json.dumps(signed, indent=1).encode()]


def export() -> list[bytes]:
    data = world.export_file()
    return [data, data[: len(data) // 2], data.replace(b"\n", b"\r\n")]


def chain_file() -> list[bytes]:
    return [*export(), b"\n".join(_lines()) + b"\n"]


def usb_import() -> list[bytes]:
    return chain_file()


def checkpoint() -> list[bytes]:
    note = world.checkpoint_note().encode()
    text = note.split(b"\n\n")[0] + b"\n"
    return [
        b"\0" + note,
        b"\0" + world.cosigned_note().encode(),
        b"\1" + text,
        b"\2" + world.log_verifier().vkey.encode(),
        b"\3" + world.cosigned_note().encode(),
    ]


def merkle() -> list[bytes]:
    return _random(16, 120, 2)


def heartbeat() -> list[bytes]:
    beat = world.heartbeat()
    return [world.json_bytes(beat), Heartbeat.from_json(beat).encode().encode()]


def api() -> list[bytes]:
    blocks = "/v1/kiosks/{kiosk_id}/blocks"
    lines = _lines()
    kiosk = {"public_key": b64e(world.witness_key().public_key), "name": "hall 2"}
    return [
        api_input("POST", blocks, upload_body(lines[:4])),
        api_input("POST", blocks, upload_body(lines)),
        api_input("POST", "/v1/kiosks/{kiosk_id}/heartbeat", world.json_bytes(world.heartbeat())),
        api_input(
            "POST",
            "/v1/kiosks/{kiosk_id}/nullifiers/check",
            world.json_bytes({"voter": bytes(16).hex()}),
        ),
        api_input("POST", "/v1/admin/kiosks", world.json_bytes(kiosk), credentials=2),
        api_input("GET", "/v1/admin/fleet", b"", credentials=2),
        api_input("GET", "/v1/proofs/inclusion", b"", query=b"leaf_index=1&size=4"),
        api_input("GET", "/v1/proofs/consistency", b"", query=b"old=2&new=5"),
        api_input("GET", "/v1/kiosks/{kiosk_id}/head", b""),
        api_input("GET", "/check", b"", query=b"code=" + world.chain()[3].tracking_code.encode()),
    ]


def enrol_csv() -> list[bytes]:
    d = world.definition()
    group, option = d["groups"][0]["id"], d["options"][0]["id"]
    keys = [b64e(derived_key(world.SEED, "csv", i).public_key) for i in range(4)]
    rows = [
        {
            "name": "Kim",
            "category": "resident",
            "group": group,
            "excluded": option,
            "card_key": keys[0],
        },
        {"name": "Park", "category": "expert", "group": group, "card_key": keys[1]},
        {"name": "Lee Staff", "role": "poll_worker", "card_key": keys[2]},
        {"name": "최 선거", "role": "election_manager", "card_key": keys[3]},
    ]
    return [
        csv_seed(rows),
        csv_seed(rows[:1]),
        csv_seed([{"name": "no key", "role": "poll_worker"}]),
    ]


def proof_answer() -> list[bytes]:
    n = len(world.chain())
    return [proof_answer_seed(i, size) for i, size in [(0, 1), (2, 5), (n - 1, n), (4, n + 3)]]


SEEDS: dict[str, Callable[[], list[bytes]]] = {
    "encoding": encoding,
    "tlv": tlv,
    "card_session": card_session,
    "vpcd": vpcd,
    "block": block,
    "chain": chain,
    "chain_rules": chain_rules,
    "election": election,
    "export": export,
    "chain_file": chain_file,
    "usb_import": usb_import,
    "checkpoint": checkpoint,
    "merkle": merkle,
    "heartbeat": heartbeat,
    "api": api,
    "enrol_csv": enrol_csv,
    "proof_answer": proof_answer,
    "sync_answers": sync_seeds,
}


def write_seeds(name: str, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    seeds = SEEDS[name]()
    for seed in seeds:
        (folder / hashlib.sha1(seed, usedforsecurity=False).hexdigest()).write_bytes(seed)
    return len(seeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--world", action="store_true", help="make a new package, chain and export first"
    )
    parser.add_argument("--target", choices=sorted(TARGETS), action="append")
    args = parser.parse_args()
    if args.world:
        world.make_world()
    for name in args.target or sorted(TARGETS):
        print(f"{name}: {write_seeds(name, CORPUS / name)} seeds")


if __name__ == "__main__":
    main()
