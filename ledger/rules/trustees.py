"""The ballot key's trustees: the private key is split k-of-n with SLIP-39 and never kept whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import shamir_mnemonic
from shamir_mnemonic import MnemonicError

from kiosk.core.crypto import SealingKey
from kiosk.core.errors import HanpyoError
from kiosk.core.secret_file import write_secret


class TrusteeError(HanpyoError):
    user_message = (
        "신탁인 몫으로 투표 키를 복원할 수 없습니다.",
        "The trustees' shares do not rebuild the ballot key.",
    )


@dataclass(frozen=True, slots=True)
class BallotKeyCeremony:
    """A new ballot key: its public half for the package, its private half as word shares."""

    public_key: bytes
    shares: tuple[str, ...]  # one SLIP-39 mnemonic per trustee
    threshold: int


def split_new_ballot_key(trustees: int, threshold: int) -> BallotKeyCeremony:
    """Generate an X25519 ballot key and split it so that any ``threshold`` of ``trustees``
    can rebuild it. The private key exists only in memory, for the length of this call."""
    if not 1 <= threshold <= trustees <= 16:
        raise TrusteeError(f"need 1 <= threshold <= trustees <= 16, got {threshold} of {trustees}")
    if threshold == 1 and trustees > 1:
        raise TrusteeError("a threshold of 1 would let any single trustee open every ballot")
    key = SealingKey.generate()
    groups = shamir_mnemonic.generate_mnemonics(1, [(threshold, trustees)], key.secret)
    return BallotKeyCeremony(key.public_key, tuple(groups[0]), threshold)


def rebuild_ballot_key(shares: list[str], public_key: bytes) -> SealingKey:
    """Combine trustees' shares; refuse too few, wrong or mixed shares with a clear reason."""
    try:
        secret = shamir_mnemonic.combine_mnemonics([s.strip() for s in shares])
    except MnemonicError as e:
        raise TrusteeError(f"the shares do not combine: {e}") from e
    key = SealingKey(secret)
    if key.public_key != public_key:
        raise TrusteeError("the shares rebuild a key, but not this election's ballot key")
    return key


def write_share_files(ceremony: BallotKeyCeremony, directory: Path) -> list[Path]:
    """One owner-only file per trustee, to print or copy to the trustee's own medium."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = []
    for number, words in enumerate(ceremony.shares, start=1):
        path = directory / f"trustee-{number}-of-{len(ceremony.shares)}.txt"
        text = (
            f"# Hanpyo ballot key share {number} of {len(ceremony.shares)}; "
            f"any {ceremony.threshold} shares open the ballots.\n{words}\n"
        )
        write_secret(path, text.encode("utf-8"))
        paths.append(path)
    return paths


def read_share_file(path: Path) -> str:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    if len(lines) != 1:
        raise TrusteeError(f"{path} does not hold one share")
    return lines[0]
