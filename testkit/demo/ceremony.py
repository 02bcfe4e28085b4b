"""The demo's key ceremony (protocol v2, part 1): five trustees, each `ledger trustee ...` a
process of its own with its own medium, exchanging signed messages through a folder that
stands for the USB stick passed around the table; then three of them decrypt and two cannot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from testkit.trustee_ceremony import (
    NAMES,
    closed_election,
    decryption_request,
    in_parallel,
    key_line,
    ok,
    start,
)

ELECTION = "review-2026"


def say(text: str = "") -> None:
    print(text, flush=True)


def run_ceremony(out: Path) -> bool:
    """Run the ceremony and a decryption in ``out``; say each step; False if anything failed."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        media, setup_file, _ = start(out, n=5, k=3, election=ELECTION)
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
        if len(keys) == 1:
            say(f"   all five computed the same {next(iter(keys))}")
        else:
            say(f"   !! the trustees computed different keys: {keys}")
            return False
        result = out / "ceremony-result.json"
        ok("collect", "--setup", setup_file, *where, "--out", result)
        say(f"   each trustee's share is only on their medium ({out / 'medium-1'} …)")
        mine = json.loads((media[0] / "result.json").read_text("utf-8"))["result"]
        closure, log_key = closed_election(ELECTION)
        values = [12, 0, 7]
        request = out / "request.json"
        request.write_text(
            json.dumps(
                decryption_request(
                    ELECTION, mine["election_key"], mine["transcript"], values, closure
                )
            ),
            "utf-8",
        )
        files = [out / f"shares-{i}.json" for i in (1, 3, 5)]
        asked: list[str | Path] = ["--request", request, "--log-key", log_key]
        in_parallel(
            [
                ["decrypt", "--medium", media[i], *asked, "--out", f]
                for i, f in zip((0, 2, 4), files, strict=True)
            ]
        )
        base: list[str | Path] = ["combine", "--ceremony", result, "--request", request, "--shares"]
        opened = ok(*base, *files)
        said = [int(line.split(": ")[1]) for line in opened.splitlines()[1:]]
        say(f"   after the close, trustees 1, 3 and 5 decrypt {values} → {said}")
        two = subprocess.run(
            [sys.executable, "-m", "ledger.cli", "trustee", *map(str, base), *files[:2]],
            capture_output=True,
            text=True,
            check=False,
        )
        refusal = (two.stderr.strip().splitlines() or ["(no message)"])[-1]
        say(f"   trustees 1 and 3 alone → refused: {refusal}")
        return said == values and two.returncode != 0
    except (AssertionError, OSError, subprocess.SubprocessError) as e:
        say(f"   !! the ceremony stopped: {e}")
        return False
