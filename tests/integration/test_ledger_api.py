"""The ledger over real HTTP: ingest, resends, every rejection, forks, and proofs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kiosk.core.block import SignedBlock, decode_signed_block, sign_block
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from kiosk.core.merkle import verify_consistency
from ledger.verify.inclusion_proof import check_tracking_code
from testkit.elections import SyntheticElection, voter_of
from testkit.ledger_requests import enrol, signed_post, upload
from testkit.ledger_server import LedgerServer, ledger_cli
from testkit.stores import make_chain


@pytest.fixture
def server(tmp_path: Path, election: SyntheticElection) -> Iterator[LedgerServer]:
    with LedgerServer(tmp_path / "ledger", election) as running:
        yield running


def test_a_kiosk_chain_is_ingested_and_every_ballot_is_provably_in_the_log(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path
) -> None:
    key = SigningKey.generate()
    kiosk = enrol(server, key, "Hall A kiosk 1")
    chain = make_chain(tmp_path, election, key, [("resident", 0), ("expert", 0), ("online", 0)])
    answer = upload(server, key, chain)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == len(chain) and body["rejected"] is None
    assert body["head_height"] == len(chain) - 1 and body["log_size"] == len(chain)
    checkpoint = verify_checkpoint(body["checkpoint"], server.log_key)
    assert checkpoint.size == len(chain)

    head = requests.get(f"{server.url}/v1/kiosks/{kiosk}/head", timeout=10).json()
    assert head["height"] == len(chain) - 1 and head["hash"] == b64e(chain[-1].hash)
    for block in chain[-3:]:  # the ballots
        found = check_tracking_code(server.url, block.tracking_code.lower(), server.log_key)
        assert (found.kiosk, found.height) == (kiosk, block.block.height)
    cli = ledger_cli(
        "verify-proof",
        "--url",
        server.url,
        "--tracking-code",
        chain[-1].tracking_code,
        "--log-key",
        server.log_key,
        data=None,
    )
    assert cli.returncode == 0, cli.stderr
    assert f"block {len(chain) - 1} of kiosk {kiosk}" in cli.stdout


def test_resending_is_harmless_and_changes_nothing(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path
) -> None:
    key = SigningKey.generate()
    enrol(server, key, "kiosk")
    chain = make_chain(tmp_path, election, key, [("resident", 1)])
    first = upload(server, key, chain).json()
    again = upload(server, key, chain)
    assert again.status_code == 200
    assert again.json()["accepted"] == 0 and again.json()["already_had"] == len(chain)
    assert again.json()["log_size"] == first["log_size"]
    overlap = upload(server, key, chain[2:])  # a resumed upload that overlaps
    assert overlap.status_code == 200 and overlap.json()["already_had"] == len(chain) - 2


def test_a_rejected_block_keeps_the_blocks_before_it(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path
) -> None:
    key = SigningKey.generate()
    kiosk = enrol(server, key, "kiosk")
    chain = make_chain(tmp_path, election, key, [("resident", 2), ("expert", 1)])
    tampered = chain[-1].encode().replace(b'"height":', b'"height": ', 1)
    doc = json.loads(tampered)
    doc["time"] = "2030-01-01T00:00Z"  # changed after signing
    answer = upload(server, key, [*chain[:-1], json.dumps(doc).encode()])
    assert answer.status_code == 422
    rejected = answer.json()["rejected"]
    assert rejected == {
        "height": len(chain) - 1,
        "reason": "bad_signature",
        "detail": rejected["detail"],
    }
    assert answer.json()["accepted"] == len(chain) - 1
    head = requests.get(f"{server.url}/v1/kiosks/{kiosk}/head", timeout=10).json()
    assert head["height"] == len(chain) - 2


@pytest.mark.parametrize("fault", ["gap", "wrong_prev", "malformed", "unknown_field"])
def test_broken_chains_are_refused_with_a_precise_reason(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path, fault: str
) -> None:
    key = SigningKey.generate()
    enrol(server, key, "kiosk")
    chain = make_chain(tmp_path, election, key, [("resident", 3), ("online", 1)])
    blocks: list[SignedBlock | bytes] = list(chain)
    expected = {
        "gap": ("height_gap", 3),
        "wrong_prev": ("prev_mismatch", 3),
        "malformed": ("malformed", None),
        "unknown_field": ("malformed", None),
    }[fault]
    if fault == "gap":
        del blocks[3]
    elif fault == "wrong_prev":
        original = chain[3].block
        forged = type(original)(
            original.election,
            original.kiosk,
            original.height,
            chain[1].hash,
            original.time,
            original.kind,
            original.body,
        )
        blocks[3] = sign_block(forged, key)  # signed by the kiosk, but linked wrongly
    elif fault == "malformed":
        blocks[3] = b'{"v":1}'
    else:
        doc = json.loads(chain[3].encode())
        doc["extra"] = 1
        blocks[3] = json.dumps(doc).encode()
    answer = upload(server, key, blocks)
    assert answer.status_code == 422, answer.text
    rejected = answer.json()["rejected"]
    assert (rejected["reason"], rejected["height"]) == expected
    assert answer.json()["accepted"] == 3


def test_a_chain_for_another_election_is_refused(server: LedgerServer, tmp_path: Path) -> None:
    from testkit.elections import build_election, mixed_definition

    other = build_election(
        mixed_definition() | {"id": "another-vote"},
        seed="other",
        experts_per_group=1,
        online_per_proposal=1,
    )
    key = SigningKey.generate()
    enrol(server, key, "kiosk")
    answer = upload(server, key, make_chain(tmp_path, other, key, [("resident", 0)]))
    assert answer.status_code == 422
    assert answer.json()["rejected"]["reason"] == "wrong_election"
    assert answer.json()["accepted"] == 0


def test_unauthenticated_writes_are_refused(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path
) -> None:
    key, stranger = SigningKey.generate(), SigningKey.generate()
    kiosk = enrol(server, key, "kiosk")
    chain = make_chain(tmp_path, election, key, [("resident", 0)])
    unknown = upload(server, stranger, chain)
    assert unknown.status_code == 403 and unknown.json()["reason"] == "unknown_kiosk"
    forged = upload(server, stranger, chain, kiosk=kiosk)  # claims to be the enrolled kiosk
    assert forged.status_code == 401 and forged.json()["reason"] == "bad_request_signature"
    stale = upload(server, key, chain, stamp=int(time.time()) - 3600)
    assert stale.status_code == 401 and stale.json()["reason"] == "stale_request"
    bare = requests.post(f"{server.url}/v1/kiosks/{kiosk}/blocks", json={"blocks": []}, timeout=10)
    assert bare.status_code == 401
    admin = requests.post(
        f"{server.url}/v1/admin/kiosks",
        timeout=10,
        json={"public_key": b64e(stranger.public_key), "name": "x"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert admin.status_code == 403
    assert requests.get(f"{server.url}/v1/kiosks/{kiosk}/head", timeout=10).json()["height"] == -1


def test_oversize_requests_and_batches_are_refused(server: LedgerServer) -> None:
    key = SigningKey.generate()
    kiosk = enrol(server, key, "kiosk")
    huge = requests.post(
        f"{server.url}/v1/kiosks/{kiosk}/blocks",
        data=b"x" * (5 * 2**20),
        timeout=30,
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    many = signed_post(server, key, f"/v1/kiosks/{kiosk}/blocks", {"blocks": [{}] * 1001})
    assert many.status_code == 422


def test_a_fork_is_kept_as_evidence_and_the_kiosk_quarantined(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path
) -> None:
    key = SigningKey.generate()
    kiosk = enrol(server, key, "kiosk")
    chain = make_chain(tmp_path, election, key, [("resident", 0)])
    assert upload(server, key, chain).status_code == 200
    # The same kiosk key signs a different block 3: a second ballot in place of the first.
    other = make_chain(tmp_path / "fork", election, key, [("expert", 0)])
    assert other[3].hash != chain[3].hash
    answer = upload(server, key, [other[3]])
    assert answer.status_code == 409, answer.text
    assert answer.json()["rejected"]["reason"] == "equivocation"
    kiosks = requests.get(
        f"{server.url}/v1/admin/kiosks", headers=server.admin(), timeout=10
    ).json()
    mine = next(k for k in kiosks if k["kiosk"] == kiosk)
    assert mine["quarantined"] and "height 3" in mine["quarantine_reason"]
    after = upload(server, key, chain)
    # Refused before its body is read: a quarantined kiosk no longer uploads at all.
    assert after.status_code == 403 and after.json()["reason"] == "quarantined"


def test_checkpoints_stay_consistent_as_the_log_grows(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path
) -> None:
    notes = []
    for n in range(3):
        key = SigningKey.generate()
        enrol(server, key, f"kiosk {n}")
        upload(server, key, make_chain(tmp_path / str(n), election, key, [("resident", n)]))
        notes.append(requests.get(f"{server.url}/v1/checkpoint", timeout=10).text)
    first, last = (verify_checkpoint(n, server.log_key) for n in (notes[0], notes[-1]))
    proof = requests.get(
        f"{server.url}/v1/proofs/consistency",
        timeout=10,
        params={"old": first.size, "new": last.size},
    ).json()["proof"]
    from kiosk.core.encoding import b64d

    verify_consistency(first.size, last.size, first.root, last.root, [b64d(h) for h in proof])


def test_a_kiosk_can_ask_whether_a_voter_already_voted(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path
) -> None:
    key = SigningKey.generate()
    kiosk = enrol(server, key, "kiosk")
    upload(server, key, make_chain(tmp_path, election, key, [("resident", 0)]))
    path = f"/v1/kiosks/{kiosk}/nullifiers/check"
    voted = signed_post(
        server, key, path, {"voter": voter_of(election, "resident", 0).voter_id.hex()}
    )
    # Each answer is signed by the log key for the request's nonce (see test_sync_forged_answers).
    assert voted.json() | {"signature": ""} == {
        "voted": True,
        "channels": ["kiosk"],
        "signature": "",
    }
    fresh = signed_post(
        server, key, path, {"voter": voter_of(election, "resident", 1).voter_id.hex()}
    )
    assert fresh.json() | {"signature": ""} == {"voted": False, "channels": [], "signature": ""}


def test_import_of_a_chain_file_takes_the_same_path_and_is_repeatable(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path
) -> None:
    key = SigningKey.generate()
    kiosk = enrol(server, key, "USB-only kiosk")
    chain = make_chain(tmp_path, election, key, [("resident", 0), ("expert", 0)])
    export = tmp_path / "export.jsonl"
    export.write_bytes(b"\n".join(b.encode() for b in chain) + b"\n")
    first = server.cli("import", str(export))
    assert first.returncode == 0, first.stderr
    assert f"kiosk {kiosk}: {len(chain)} new blocks" in first.stdout
    again = server.cli("import", str(export))
    assert again.returncode == 0 and f"0 new blocks, {len(chain)} already held" in again.stdout
    truncated = tmp_path / "cut.jsonl"
    truncated.write_bytes(export.read_bytes()[:-40])
    cut = server.cli("import", str(truncated))
    assert cut.returncode == 1 and "line" in cut.stdout
    assert decode_signed_block(chain[0].encode()).hash == chain[0].hash
