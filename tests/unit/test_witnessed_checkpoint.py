"""What a kiosk makes of a checkpoint under a package's witness policy: too few cosignatures is
a retry that names who cosigned (the witnesses may be down), never a verdict on the ledger; a
forged cosignature or a bad log signature is."""

from __future__ import annotations

import base64

import pytest

from kiosk.core.checkpoint import NoteVerifier, sign_checkpoint
from kiosk.core.cosignature import CosignerKey, cosign
from kiosk.core.crypto import SigningKey
from kiosk.core.election_v2 import WitnessPolicy
from kiosk.sync.errors import UntrustedLedger
from kiosk.sync.witnessed import AwaitingWitnesses, Unwitnessed, witnessed_checkpoint

ORIGIN = "ledger.test/log"
LOG = SigningKey.generate()
VKEY = NoteVerifier(ORIGIN, LOG.public_key).vkey
W = [SigningKey.generate() for _ in range(3)]
KEYS = tuple(CosignerKey(f"witness.test/w{i}", k.public_key) for i, k in enumerate(W))
POLICY = WitnessPolicy(2, KEYS)


def note_cosigned_by(*which: int) -> str:
    note = sign_checkpoint(ORIGIN, 7, b"\x01" * 32, ORIGIN, LOG)
    body = note.split("\n\n", 1)[0] + "\n"
    lines = [cosign(body, KEYS[i].name, W[i], 1_700_000_000 + i) for i in which]
    return note + "".join(lines)


def test_k_of_n_cosignatures_make_the_checkpoint_count() -> None:
    assert witnessed_checkpoint(note_cosigned_by(0, 2), VKEY, POLICY).size == 7
    assert witnessed_checkpoint(note_cosigned_by(0, 1, 2), VKEY, POLICY).size == 7


@pytest.mark.parametrize(("which", "named"), [((), "no witness"), ((1,), "witness.test/w1")])
def test_too_few_cosignatures_is_a_retry_that_names_who_cosigned(
    which: tuple[int, ...], named: str
) -> None:
    with pytest.raises(Unwitnessed) as refused:
        witnessed_checkpoint(note_cosigned_by(*which), VKEY, POLICY)
    assert not isinstance(refused.value, UntrustedLedger | AwaitingWitnesses)
    said = str(refused.value)
    assert f"cosigned by {named};" in said
    assert "requires 2 of witness.test/w0, witness.test/w1, witness.test/w2" in said
    assert refused.value.user_message[1].startswith("The central ledger's checkpoint lacks")


def test_a_forged_cosignature_or_log_signature_is_untrusted() -> None:
    note = note_cosigned_by(0, 1)
    head, _, last = note[:-1].rpartition("\n")
    name, blob = last.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1  # w1's line, its key id intact, its signature broken
    forged = f"{head}\n{name} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(UntrustedLedger, match="forged"):
        witnessed_checkpoint(forged, VKEY, POLICY)
    other_log = NoteVerifier(ORIGIN, SigningKey.generate().public_key).vkey
    with pytest.raises(UntrustedLedger, match="does not verify"):
        witnessed_checkpoint(note, other_log, POLICY)
