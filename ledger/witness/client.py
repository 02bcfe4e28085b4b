"""The ledger's side of C2SP tlog-witness: submit a checkpoint with a consistency proof to each
witness it is given, recover from a 409 with the witness's size, and keep only the cosignature
lines that verify under that witness's key."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests

from kiosk.core.checkpoint import SIGNATURE_PREFIX
from kiosk.core.cosignature import CosignerKey, cosignatures, is_line_of
from kiosk.core.errors import EncodingError, HanpyoError, VerificationError

TIMEOUT = 10
ENVIRONMENT = "HANPYO_WITNESSES"  # NAME=URL=VKEY entries, separated by spaces or newlines

ProofSource = Callable[[int, int], list[bytes]]  # (old size, new size) -> consistency proof


class WitnessUnavailable(HanpyoError):
    """A witness did not cosign: unreachable, or it refused (status and its words)."""


@dataclass(frozen=True, slots=True)
class Witness:
    label: str
    url: str  # the submission prefix
    key: CosignerKey

    @classmethod
    def parse(cls, spec: str) -> Witness:
        """``NAME=URL=VKEY``: the URL may hold '=', a vkey never does (33 bytes of base64)."""
        label, _, rest = spec.partition("=")
        url, _, vkey = rest.rpartition("=")
        if not label or not url or not vkey:
            raise EncodingError(f"give each witness as NAME=URL=VKEY, not {spec!r}")
        return cls(label, url.rstrip("/"), CosignerKey.parse(vkey))


def witnesses_from_environment() -> list[Witness]:
    return [Witness.parse(s) for s in os.environ.get(ENVIRONMENT, "").split()]


def request_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """``old <size>``, one base64 hash a line, an empty line, the checkpoint
    (tlog-witness "add-checkpoint")."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode("ascii") for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


class WitnessClient:
    """Asks witnesses for cosignatures, remembering the size each one last cosigned so that
    the next submission carries the right consistency proof."""

    def __init__(self, witnesses: Sequence[Witness], session: requests.Session | None = None):
        self.witnesses = list(witnesses)
        self._session = session or requests.Session()
        self._sizes: dict[str, int] = {}

    def cosign(self, witness: Witness, note: str, size: int, proof_from: ProofSource) -> str:
        """``witness``'s verified cosignature line for ``note`` (the checkpoint of ``size``).
        On a 409 the witness names the size it holds; one retry proves from there."""
        old = min(self._sizes.get(witness.label, 0), size)
        for _ in range(2):
            answer = self._post(witness, request_body(old, proof_from(old, size), note))
            if answer.status_code == 409:
                held = _size_of(answer)
                if held > size:
                    raise WitnessUnavailable(
                        f"witness {witness.label} holds size {held}, past this checkpoint's {size}"
                    )
                old = held
                continue
            if answer.status_code != 200:
                raise WitnessUnavailable(
                    f"witness {witness.label} refused the checkpoint of size {size}: "
                    f"{answer.status_code} {answer.text.strip()[:300]}"
                )
            line = _verified_line(witness, note, answer.text)
            self._sizes[witness.label] = size
            return line
        raise WitnessUnavailable(f"witness {witness.label} kept changing its size")

    def _post(self, witness: Witness, body: bytes) -> requests.Response:
        try:
            return self._session.post(
                f"{witness.url}/add-checkpoint",
                data=body,
                timeout=TIMEOUT,
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        except requests.RequestException as e:
            raise WitnessUnavailable(f"cannot reach witness {witness.label}: {e}") from e


def _size_of(answer: requests.Response) -> int:
    text = answer.text
    if not answer.headers.get("Content-Type", "").startswith("text/x.tlog.size"):
        raise WitnessUnavailable(f"a 409 without its size (text/x.tlog.size): {text[:100]!r}")
    if not text.endswith("\n") or not text[:-1].isdigit() or len(text) > 21:
        raise WitnessUnavailable(f"a 409 whose size is not a decimal line: {text[:100]!r}")
    return int(text[:-1])


def _verified_line(witness: Witness, note: str, answer: str) -> str:
    """The answer's lines by ``witness``'s key, once they verify on ``note``; the client
    "MUST ignore any cosignatures from unknown keys"."""
    lines = [line + "\n" for line in answer.split("\n") if line.startswith(SIGNATURE_PREFIX)]
    ours = [line for line in lines if is_line_of(line, witness.key.name, witness.key.key_id)]
    if not ours:
        raise WitnessUnavailable(f"witness {witness.label} answered without its cosignature")
    try:
        if not cosignatures(note + "".join(ours), [witness.key]):
            raise WitnessUnavailable(f"witness {witness.label}'s cosignature is not its own")
    except VerificationError as e:
        raise WitnessUnavailable(f"{witness.label}'s cosignature does not verify: {e}") from e
    return ours[0]


def add_cosignatures(note: str, lines: Sequence[str]) -> str:
    """``note`` with ``lines`` appended to its signatures, each line once."""
    present = set(note[note.rfind("\n\n") + 2 :].split("\n"))
    return note + "".join(line for line in lines if line.rstrip("\n") not in present)
