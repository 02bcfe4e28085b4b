"""`verify-bundle` on a v2 record whose package requires witnesses' cosignatures (2 of 2): the
record's final-checkpoint.txt must carry enough valid cosignatures by the package's witnesses
over the close's exact checkpoint; one cosignature, a forged one, one by a witness the package
does not name, one over another tree or no file at all each fail and say who signed and what
the package requires. A package that requires none says so ("not required by the package").

The records are testkit/v2_record.py's (built in this process from the product's functions);
the witnesses' cosignatures are made with the C2SP cosignature/v1 signer the witness service
uses (kiosk/core/cosignature.py). The run with real witness and ledger processes is
tests/integration/test_record_witnessed.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from kiosk.core.checkpoint import NoteVerifier, _split_note, sign_checkpoint
from kiosk.core.cosignature import CosignerKey, cosign
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election_v2 import WitnessPolicy
from ledger.publish.nist_results import nist_results
from ledger.verify.bundle import Check, verify_bundle
from ledger.verify.parallel import Where
from ledger.verify.record_witnesses import FINAL_CHECKPOINT, NAME
from ledger.verify.witnessed_checkpoint import witnessing
from testkit.v2_record import LOG_ORIGIN, V2Record, build_record

WITNESSES = {name: SigningKey(sha256(name.encode())) for name in ("witness.a", "witness.b")}
STRANGER = ("witness.mallory", SigningKey(sha256(b"mallory")))
VKEYS = tuple(CosignerKey(n, k.public_key).vkey for n, k in WITNESSES.items())
TIME = 1_796_000_000


@pytest.fixture(scope="module")
def record() -> V2Record:
    return build_record(witnesses=(2, VKEYS))


def close_checkpoint(record: V2Record) -> str:
    return str(json.loads(record.files["close.json"])["checkpoint"])


def cosigned(note: str, *signers: tuple[str, SigningKey]) -> str:
    body, _ = _split_note(note)
    return note + "".join(cosign(body, name, key, TIME) for name, key in signers)


def witness_line(record: V2Record, final: str | None, tmp_path: Path) -> tuple[Check, list[Check]]:
    files = dict(record.files)
    if final is not None:
        files[FINAL_CHECKPOINT] = final.encode()
    checks = verify_bundle(
        record.zip(tmp_path / "record.zip", files), where=Where(1), nist=nist_results
    )
    (line,) = [c for c in checks if c.name == NAME]
    return line, checks


def test_two_of_two_cosignatures_pass_and_name_both(record: V2Record, tmp_path: Path) -> None:
    final = cosigned(close_checkpoint(record), *WITNESSES.items())
    line, checks = witness_line(record, final, tmp_path)
    assert [c for c in checks if c.status == "FAILED"] == []
    assert line.status == "ok", line
    assert "cosigned by witness.a, witness.b" in line.detail
    assert "requires 2 of witness.a, witness.b" in line.detail


def test_one_cosignature_fails_naming_who_signed_and_who_did_not(
    record: V2Record, tmp_path: Path
) -> None:
    final = cosigned(close_checkpoint(record), ("witness.a", WITNESSES["witness.a"]))
    line, _ = witness_line(record, final, tmp_path)
    assert line.status == "FAILED"
    assert "cosigned by witness.a;" in line.detail
    assert "requires 2 of witness.a, witness.b" in line.detail
    assert "no valid cosignature from witness.b" in line.detail


def test_a_forged_cosignature_fails_naming_the_witness(record: V2Record, tmp_path: Path) -> None:
    # witness.b's name and key id, but signed by another key: a forgery of witness.b's line
    forger = SigningKey(sha256(b"forger"))
    real = cosigned(close_checkpoint(record), ("witness.a", WITNESSES["witness.a"]))
    body, _ = _split_note(real)
    fake = cosign(body, "witness.b", forger, TIME)
    key_id = CosignerKey("witness.b", WITNESSES["witness.b"].public_key).key_id
    forged_blob = _with_key_id(fake, key_id)
    line, _ = witness_line(record, real + forged_blob, tmp_path)
    assert line.status == "FAILED"
    assert "the cosignature line of witness.b does not verify" in line.detail


def test_a_cosignature_by_a_witness_the_package_does_not_name_is_not_counted(
    record: V2Record, tmp_path: Path
) -> None:
    final = cosigned(close_checkpoint(record), ("witness.a", WITNESSES["witness.a"]), STRANGER)
    line, _ = witness_line(record, final, tmp_path)
    assert line.status == "FAILED"
    assert "witness.mallory" in line.detail and "does not name" in line.detail
    assert "no valid cosignature from witness.b" in line.detail


def test_cosignatures_over_another_tree_fail(record: V2Record, tmp_path: Path) -> None:
    # The log's key signs a checkpoint of another tree of the same size; both witnesses cosign
    # it: it is not the tree the close froze.
    size = int(json.loads(record.files["close.json"])["size"])
    other = sign_checkpoint(LOG_ORIGIN, size, bytes(32), LOG_ORIGIN, record.log_key)
    line, _ = witness_line(record, cosigned(other, *WITNESSES.items()), tmp_path)
    assert line.status == "FAILED"
    assert "not the close's final checkpoint" in line.detail


def test_no_final_checkpoint_file_fails(record: V2Record, tmp_path: Path) -> None:
    line, _ = witness_line(record, None, tmp_path)
    assert line.status == "FAILED"
    assert FINAL_CHECKPOINT in line.detail and "cannot be checked" in line.detail


def test_a_package_with_no_witness_policy_says_not_required(tmp_path: Path) -> None:
    record = build_record()
    line, checks = witness_line(record, close_checkpoint(record), tmp_path)
    assert [c for c in checks if c.status == "FAILED"] == []
    assert line.status == "not required by the package", line
    without, _ = witness_line(record, None, tmp_path)
    assert without.status == "not required by the package", without


def _with_key_id(line: str, key_id: int) -> str:
    """A cosignature line with its key id replaced (so it claims another key's name and id)."""
    prefix, _, blob = line.rstrip("\n").rpartition(" ")
    raw = base64.b64decode(blob)
    return f"{prefix} {base64.b64encode(key_id.to_bytes(4, 'big') + raw[4:]).decode()}\n"


def test_the_same_witness_counts_once(record: V2Record) -> None:
    """Two lines by one witness, or one key the package names under two names, are one
    witness: k of n means k distinct witnesses."""
    note = close_checkpoint(record)
    log = NoteVerifier(LOG_ORIGIN, record.log_key.public_key)
    a = ("witness.a", WITNESSES["witness.a"])
    policy = record.election.package.witnesses
    twice = cosigned(note, a) + cosign(_split_note(note)[0], *a, TIME + 1)
    found = witnessing(twice, log, policy)
    assert found.cosigned_by == ("witness.a",) and not found.met

    key = WITNESSES["witness.a"]
    aliases = WitnessPolicy(
        2, (CosignerKey("alias.1", key.public_key), CosignerKey("alias.2", key.public_key))
    )
    both = cosigned(note, ("alias.1", key), ("alias.2", key))
    found = witnessing(both, log, aliases)
    assert len(found.cosigned_by) == 1 and not found.met
