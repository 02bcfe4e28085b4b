"""What the voting page is given to confirm the election itself (review F3): the package's
public part (its rolls by hash), the authority's signature over it, the authority's key (which
the page trusts only once the letter's link or the election check printed on the letter vouches
for it) and the test roll (which the page checks against the signed ``test_roll_hash``, so that
the page, not the platform, decides whether a code is a test credential). The page checks all
of it before it derives anything (docs/spec/online.md §3.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk.core.election import ElectionPackage, public_part
from kiosk.core.encoding import b64e
from kiosk.core.errors import HanpyoError

NO_PUBLIC_SIGNATURE = (
    "the election file carries no public_signature (the authority's signature over the "
    "package's public part, which the voting page checks): sign the package again with "
    "`ledger election sign` of this version and give it to `hanpyo-online init --package`"
)


@dataclass(frozen=True, slots=True)
class PublicElection:
    """The signed public part as /api/election serves it, made once."""

    part: dict[str, Any]
    signature: bytes
    authority: bytes
    test_roll: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "public": self.part,
            "public_signature": b64e(self.signature),
            "authority": b64e(self.authority),
            "test_roll": list(self.test_roll),
        }


def public_election(
    package: ElectionPackage, signature: bytes | None, authority: bytes
) -> PublicElection:
    """The public part of ``package`` with the signature its file carries, which reading the
    file checked (``kiosk.core.election.read_signatures``); refused when it has none, since the
    page would refuse such an election."""
    if signature is None:
        raise HanpyoError(NO_PUBLIC_SIGNATURE)
    test_roll = tuple(entry.to_json() for entry in package.test_roll)
    return PublicElection(public_part(package), signature, authority, test_roll)
