"""The demo's key ceremony (protocol v2): five trustees, each `ledger trustee ...` a process of
its own with its own medium, exchanging signed messages through a folder that stands for the USB
stick passed around the table. Any three of them decrypt after the close; the election key K
they make goes into the package (`ledger election create --protocol 2 --ceremony`).

The media are locked with each trustee's passphrase, hashed at libsodium's minimum cost (the
test kit's setting, so the demo stays quick; a real trustee's `init` uses the full cost)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from testkit.trustee_ceremony import NAMES, in_parallel, key_line, ok, start

ELECTION = "provincial-review-2017"
TRUSTEES, THRESHOLD = 5, 3
#: The three trustees who count (1-based): they shuffle in this order, then decrypt.
COUNTING = (1, 3, 5)


def say(text: str = "") -> None:
    print(text, flush=True)


@dataclass(frozen=True)
class Ceremony:
    """What the ceremony left: each trustee's medium and the collected result for the package."""

    media: tuple[Path, ...]
    result: Path

    def medium(self, trustee: int) -> Path:
        return self.media[trustee - 1]


def run_ceremony(out: Path, election: str = ELECTION) -> Ceremony | None:
    """Run the ceremony in ``out``; say each step; None if anything failed."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        media, setup_file, _ = start(out, n=TRUSTEES, k=THRESHOLD, election=election)
        say(
            f"   {', '.join(NAMES)}: each made a signing and a receiving key on their own "
            "medium, locked with their own passphrase"
        )
        where: list[str | Path] = ["--exchange", out / "exchange"]
        in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
        for step in ("round2", "check", "reveal"):
            in_parallel([[step, "--medium", m, *where] for m in media])
        finished = in_parallel([["finish", "--medium", m, *where] for m in media])
        keys = {key_line(text) for text in finished}
        if len(keys) != 1:
            say(f"   !! the trustees computed different keys: {keys}")
            return None
        say(f"   all five computed the same {next(iter(keys))}")
        result = out / "ceremony-result.json"
        ok("collect", "--setup", setup_file, *where, "--out", result)
        say(f"   each trustee's share of K is only on their own medium ({out / 'medium-1'} …);")
        say(f"   K itself was never computed as a secret anywhere. Any {THRESHOLD} of 5 decrypt.")
        return Ceremony(tuple(media), result)
    except (AssertionError, OSError, subprocess.SubprocessError) as e:
        say(f"   !! the ceremony stopped: {e}")
        return None


def trustees_check_package(ceremony: Ceremony, package: Path) -> bool:
    """Every trustee checks, on their own medium, that the signed package names the key their
    own `finish` computed (and the ledger's log key, which the count then trusts)."""
    try:
        in_parallel(
            [["check-package", "--medium", m, "--package", package] for m in ceremony.media]
        )
    except (AssertionError, OSError, subprocess.SubprocessError) as e:
        say(f"   !! a trustee refused the package: {e}")
        return False
    say("   each trustee checked the signed package against their own medium: it names K")
    return True
