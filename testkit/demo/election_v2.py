"""The demo's protocol v2 election, made as an election office makes one: the trustees' key
ceremony, the roll file of enrolled cards (voters, two test cards, staff), the ledger's log key
and the observers' witness, then `ledger election create --protocol 2` and `ledger election
sign`, and every trustee's `check-package`. The cards are simulated: their keys come from
testkit.elections' synthetic election of the sample definition (v1 there only as a list of
people and keys; the package the kiosk loads is the v2 one made here)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hanpyo_assets import ASSETS
from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionPackage, verify_package
from kiosk.core.encoding import b64d, b64e
from kiosk.core.roll import add_voter
from kiosk.core.secret_file import write_secret
from testkit.demo.ceremony import Ceremony, run_ceremony, say, trustees_check_package
from testkit.elections import (
    SyntheticElection,
    build_election,
    derived_key,
    roll_file_entries,
    stays_open,
)

SAMPLE = ASSETS / "elections" / "provincial-review-2017.json"
ORIGIN = "demo.hanpyo.local/provincial-review-2017"
TEST_CARDS = 2
# The demo's online members: the first group's twelve (one a proposal), so that the letters
# derive a dozen credential keys (Argon2id, memory-hard on purpose) rather than 816.
ONLINE_GROUP = "g001"


@dataclass(frozen=True)
class DemoElection:
    """The signed v2 package and what the demo needs beside it."""

    package: ElectionPackage
    signed: Path  # election.json, signed by the authority
    transcript: Path  # the ceremony's transcript `election create` wrote beside the package
    authority: bytes  # the authority's public key
    cards: SyntheticElection  # the simulated cards' keys (voter_keys and staff_keys)
    test_card_keys: tuple[SigningKey, ...]
    ceremony: Ceremony
    # the folder `ledger election letters` wrote: letters.csv (and letters.pdf); None without
    # an online platform (the terminal demo)
    letters: Path | None


def ledger(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`ledger ARGS` in a process of its own; its output, whatever its exit status."""
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def ledger_ok(*args: str | Path) -> str:
    done = ledger(*args)
    if done.returncode != 0:
        raise RuntimeError(f"ledger {' '.join(map(str, args[:2]))}: {done.stderr.strip()}")
    return done.stdout


def make_log_key(data: Path) -> str:
    """The ledger's log key, made before the package so the package can name it (the ledger's
    `init` and `serve` then use this file); its published verifier key (name+id+key)."""
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = SigningKey.generate()
    write_secret(data / "log.key", (b64e(key.seed) + "\n").encode("ascii"))
    return NoteVerifier(ORIGIN, key.public_key).vkey


def _roll_file(definition: dict[str, object], cards: SyntheticElection, path: Path) -> None:
    """The roll as `kiosk cards enrol` writes it: every voter card (online members of the first
    group only), the test cards (they vote as residents of the first group, in test mode only)
    and the staff cards."""
    document = cards.package.to_json()
    voters = [
        entry
        for entry in roll_file_entries(cards.package)
        if entry["category"] != "online" or entry["group"] == ONLINE_GROUP
    ]
    roll = {"roll": voters, "staff": document["staff"], "test_roll": []}
    for key in _test_keys():
        add_voter(roll, definition, key.public_key, "resident", "g001", [], test=True)
    path.write_text(json.dumps(roll, ensure_ascii=False), "utf-8")


def _test_keys() -> tuple[SigningKey, ...]:
    return tuple(derived_key("demo", "test-card", i) for i in range(TEST_CARDS))


def _letters(out: Path, platform_url: str, authority: str, *, pdf: bool) -> Path:
    """`ledger election letters` for the roll's online members: a code each in letters.csv
    (and letters.pdf), its key on the new roll DIR/roll.json the package is made from."""
    letters = out / "letters"
    wanted = ["--csv", *(["--pdf"] if pdf else [])]
    made = ledger_ok(
        "election", "letters", "--definition", out / "definition.json", "--roll", out / "roll.json",
        "--platform-url", platform_url, "--authority", authority, "--out", letters, *wanted,
    )  # fmt: skip
    counted = next((x for x in made.splitlines() if " letters: " in x), made.strip())
    say(f"   ledger election letters: {counted}")
    say(f"     a one-time code each, written only to {letters}; its Argon2id key on the roll")
    return letters


def make_election(
    out: Path,
    log_vkey: str,
    witness_vkey: str,
    platform_url: str | None = None,
    *,
    pdf: bool = False,
    ledger_url: str = "http://127.0.0.1:8400",
) -> DemoElection | None:
    """Say and do each step of making the v2 election in ``out``; None if one failed. With
    ``platform_url``, the online members' letters open it (``pdf``: printed to letters.pdf too)
    and their credential keys join the roll."""
    definition = stays_open(json.loads(SAMPLE.read_text("utf-8")))
    say("   The trustees' key ceremony: five trustees make a key nobody holds")
    ceremony = run_ceremony(out / "ceremony", str(definition["id"]))
    if ceremony is None:
        return None
    # one online member per proposal keeps the package small (every process reads it)
    cards = build_election(definition, seed="demo", online_per_proposal=1)
    (out / "definition.json").write_text(json.dumps(definition, ensure_ascii=False), "utf-8")
    _roll_file(definition, cards, out / "roll.json")
    unsigned = out / "package.json"
    try:
        # the authority's key first: the letters' links carry it (the page confirms with it)
        public = ledger_ok("authority-key", "--out", out / "authority.key").strip()
        authority = public.rsplit(" ", 1)[1]
        letters = None if platform_url is None else _letters(out, platform_url, authority, pdf=pdf)
        roll = out / "roll.json" if letters is None else letters / "roll.json"
        made = ledger_ok(
            "election", "create", "--protocol", "2",
            "--definition", out / "definition.json", "--roll", roll,
            "--ceremony", ceremony.result, f"--log-key={log_vkey}",
            f"--witness={witness_vkey}", "--witness-threshold", "1",
            # the ledger's address voters' check links use (the page takes it from the package)
            "--ledger-url", ledger_url,
            # the demo's few voters make count columns of one or two: a real election is
            # warned about any column under 10 voters (its scores would be nearly public)
            "--min-column", "1", "--out", unsigned,
        )  # fmt: skip
        first = made.strip().splitlines()[0] if made.strip() else ""
        say(f"   ledger election create --protocol 2: {first}")
        signed = out / "election.json"
        ledger_ok(
            "election", "sign", unsigned, "--authority-key", out / "authority.key", "--out", signed
        )
    except RuntimeError as e:
        say(f"   !! {e}")
        return None
    authority_key = b64d(authority, length=32, name="authority key")
    package = verify_package(json.loads(signed.read_text("utf-8")), authority_key)
    say(
        f"   package signed by the authority ({package.short_hash}): protocol {package.protocol}, "
        f"{len(package.roll)} voter cards with random voter ids, {len(package.test_roll)} test "
        f"cards, {len(package.staff)} staff cards; no ballot key, no share file"
    )
    say("   (--min-column 1: the demo's few voters make count columns of one or two scores, which")
    say("   a shuffle cannot hide; a real election is warned about every column under 10 voters)")
    if not trustees_check_package(ceremony, signed):
        return None
    transcript = unsigned.with_name(unsigned.stem + ".ceremony.json")
    return DemoElection(
        package, signed, transcript, authority_key, cards, _test_keys(), ceremony, letters
    )
