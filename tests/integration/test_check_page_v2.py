"""The check page a protocol v2 receipt's QR code leads to, over real HTTP and in a real
browser: a cast ballot shows its fingerprint and never a choice; a checked (spoiled) ballot is
opened for anyone and shows its choices; a kiosk caught encrypting something else is shown in
red with what failed."""

from __future__ import annotations

import dataclasses
import os
import random
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk.core.ballot import Ballot
from kiosk.core.ballot_crypto import BallotSecrets, encrypt_ballot, spoiled_body
from kiosk.core.block import BlockKind, SignedBlock
from kiosk.core.chain import Mode
from kiosk.core.crypto import Domain, SigningKey
from kiosk.core.election import ContestKind, ElectionPackage, RollEntry
from kiosk.core.encoding import b64d, b64e
from kiosk.core.encrypted_ballot import EncryptedBallot, card_message
from kiosk.core.verifiable.group import random_scalar, scalar_bytes
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from testkit.browser import screenshot
from testkit.chain_writer import ChainWriter
from testkit.elections import (
    SyntheticElection,
    build_election,
    derived_key,
    mixed_definition,
    random_ballot,
)
from testkit.ledger_server import LedgerServer

SCREENSHOTS = Path(os.environ.get("HANPYO_SCREENSHOTS", "test-output/screenshots")) / "ledger"


@dataclass(frozen=True, slots=True)
class Made:
    """A ballot the test made, with what it keeps to compare (never published for a cast one)."""

    block: SignedBlock
    plaintext: Ballot
    encrypted: EncryptedBallot
    secrets: BallotSecrets


@dataclass(frozen=True, slots=True)
class Record:
    election: SyntheticElection
    cast: list[Made]
    spoiled: list[Made]
    lying: Made  # encrypted one ballot, printed another beside it
    bad_randomness: Made  # published randomness that did not make the ciphertexts


def voter_ballot(
    election: SyntheticElection, index: int, rng: random.Random
) -> tuple[RollEntry, Ballot, EncryptedBallot, BallotSecrets]:
    package = election.package
    entry = package.roll[index]
    voter = package.voter_for_card(entry.keys[0])
    assert voter is not None
    plain = random_ballot(package, voter, rng)
    encrypted, secrets = encrypt_ballot(package, plain, entry.excluded, test=False)
    return entry, plain, encrypted, secrets


def cast_body(
    election: SyntheticElection, index: int, entry: RollEntry, encrypted: EncryptedBallot
) -> dict[str, Any]:
    """The v2 ballot body: the voter's card signs the ballot's hash (the contract's form)."""
    assert entry.voter_id is not None
    message = card_message(election.package.id, entry.voter_id, encrypted.hash)
    signature = election.voter_keys[index].sign(Domain.BALLOT, message)
    return {
        "voter": entry.voter_id.hex(),
        "ballot": encrypted.to_json(),
        "card_key": b64e(entry.keys[0]),
        "card_sig": b64e(signature),
    }


def first_of(package: ElectionPackage, category: str, n: int = 0) -> int:
    return [i for i, e in enumerate(package.roll) if e.category == category][n]


def build_record(election: SyntheticElection) -> tuple[list[SignedBlock], Record]:
    package, rng = election.package, random.Random(17)
    start = datetime.now(UTC) - timedelta(minutes=10)
    chain = ChainWriter(package, derived_key("check-v2", "kiosk", 0), start, timedelta(seconds=2))
    chain.mode(Mode.OFFICIAL)
    chain.open_session()
    cast, spoiled = [], []
    for category in ("resident", "expert", "online"):
        index = first_of(package, category)
        entry, plain, encrypted, secrets = voter_ballot(election, index, rng)
        # The voter checks once, then casts a fresh encryption of the same choices.
        block = chain.append(BlockKind.SPOILED, spoiled_body(encrypted, secrets))
        spoiled.append(Made(block, plain, encrypted, secrets))
        again, again_secrets = encrypt_ballot(package, plain, entry.excluded, test=False)
        block = chain.append(BlockKind.BALLOT, cast_body(election, index, entry, again))
        cast.append(Made(block, plain, again, again_secrets))
    # A kiosk that encrypts other choices than the voter's and prints the voter's beside them.
    index = first_of(package, "resident", 1)
    entry, chosen, _, _ = voter_ballot(election, index, rng)
    voter = package.voter_for_card(entry.keys[0])
    assert voter is not None
    tries = (random_ballot(package, voter, rng) for _ in range(50))
    other = next(b for b in tries if b.plaintext() != chosen.plaintext())
    encrypted, secrets = encrypt_ballot(package, other, entry.excluded, test=False)
    printed = dataclasses.replace(secrets, plaintext=chosen)
    block = chain.append(BlockKind.SPOILED, spoiled_body(encrypted, printed))
    lying = Made(block, chosen, encrypted, printed)
    # A kiosk that publishes randomness that did not make the ciphertexts.
    entry, plain, encrypted, secrets = voter_ballot(election, first_of(package, "expert", 1), rng)
    body = spoiled_body(encrypted, secrets)
    body["nonces"][0][0] = scalar_bytes(random_scalar()).hex()
    bad = Made(chain.append(BlockKind.SPOILED, body), plain, encrypted, secrets)
    chain.close_session()
    return chain.blocks, Record(election, cast, spoiled, lying, bad)


def load(data: Path, blocks: list[SignedBlock]) -> None:
    """Enrol the kiosk and ingest its chain through the ledger's own ingest."""
    seed = b64d((data / "log.key").read_text().strip(), length=32, name="log key")
    ledger = Ledger(db.connect(db.database_url(None, data / "ledger.db")), SigningKey(seed))
    key = b64d(blocks[0].block.body["kiosk_key"], length=32, name="kiosk key")
    kiosk = ledger.enrol(key, "Hall A", "")
    result = ledger.ingest(kiosk, [b.encode() for b in blocks])
    assert result.rejection is None, result.rejection
    ledger.engine.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LedgerServer, Record]]:
    election = build_election(mixed_definition(), protocol=2, test_cards=1, seed="check-v2")
    blocks, record = build_record(election)
    data = tmp_path_factory.mktemp("check-v2") / "ledger"
    server = LedgerServer(data, election)
    load(data, blocks)
    with server:
        yield server, record


def check_page(server: LedgerServer, code: str) -> str:
    answer = requests.get(f"{server.url}/check", params={"code": code}, timeout=30)
    assert answer.status_code == 200, answer.text
    # what the page shows: its main part (the styles in the head name classes, not choices)
    return unescape(answer.text.split("<main>", 1)[1].split("</main>", 1)[0])


def option_titles(package: ElectionPackage) -> list[str]:
    return [t for o in package.options for t in (o.title.ko, o.title.en)]


class _Lines(HTMLParser):
    """The opened ballot's lines: each label span starts a line, a value span ends it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[list[str]] = []
        self.depth = 0  # inside a label or value span, counting nested spans

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "span":
            return
        if self.depth:
            self.depth += 1
        elif ("class", "label") in attrs:
            self.lines.append([])
            self.depth = 1
        elif ("class", "value") in attrs:
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.lines[-1].append(data)


def items(page: str) -> list[str]:
    """The text of each line of the opened ballot, spaces collapsed."""
    parser = _Lines()
    parser.feed(page.split('<section class="opened"', 1)[1].split("</section>", 1)[0])
    return [" ".join(" ".join(line).split()) for line in parser.lines]


def points(score: int) -> str:
    return f"{score}점 · {score} point" + ("" if score == 1 else "s")


def expected_lines(package: ElectionPackage, made: Made) -> list[str]:
    """What the voter should read, line by line, for every contest of the ballot they made."""
    out = []
    for enc in made.encrypted.contests:
        contest = next(c for c in package.contests if c.id == enc.id)
        selection = made.plaintext.selections[enc.id]
        if contest.kind is ContestKind.YESNO:
            assert isinstance(selection, str)
            out.append({"yes": "✓ 찬성 Yes", "no": "✓ 반대 No", "blank": "✓ 기권 Blank"}[selection])
            continue
        if contest.kind is ContestKind.CHOICE:
            assert isinstance(selection, tuple)
            for o in selection:
                option = package.option(o)
                assert option is not None
                out.append(f"✓ {option.title.ko} {option.title.en}")
            continue
        assert not isinstance(selection, (str, tuple))
        for spot in dict.fromkeys(cell.spot.option for cell in enc.cells):
            option = package.option(spot)
            assert option is not None
            given = selection.get(option.id)
            if not contest.criteria:
                assert given is None or isinstance(given, int)
                score = "점수 없음 · not scored" if given is None else points(given)
                out.append(f"{option.title.ko} {option.title.en} {score}")
                continue
            assert given is None or not isinstance(given, int)
            out.append(f"{option.title.ko} {option.title.en}")
            for criterion in contest.criteria:
                value = None if given is None else given.get(criterion.id)
                score = "점수 없음 · not scored" if value is None else points(value)
                out.append(f"{criterion.title.ko} · {criterion.title.en} {score}")
    return out


def test_a_cast_ballot_shows_its_fingerprint_and_never_a_choice(
    served: tuple[LedgerServer, Record],
) -> None:
    server, record = served
    package = record.election.package
    for made in record.cast:
        page = check_page(server, made.block.tracking_code.lower())
        assert "Your ballot is in the ledger" in page and "내 투표가 원장에 있습니다" in page
        assert "Ballot fingerprint" in page and "투표지 지문" in page
        assert f"<code>{made.encrypted.fingerprint}</code>" in page
        assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", made.encrypted.fingerprint)
        # No option of the election is named: the page cannot show a choice it does not hold.
        assert not [t for t in option_titles(package) if t in page]
        assert "✗" not in page and "checked ballot" not in page.lower()
        assert "key nobody holds whole" in page


def test_a_checked_ballot_is_opened_for_anyone(served: tuple[LedgerServer, Record]) -> None:
    server, record = served
    package = record.election.package
    for made in record.spoiled:
        page = check_page(server, made.block.tracking_code)
        assert "A checked ballot. It is not counted." in page
        assert "확인한 투표지입니다. 개표하지 않습니다." in page
        assert f"<code>{made.encrypted.fingerprint}</code>" in page
        assert items(page) == expected_lines(package, made)
        assert "Warning" not in page and 'role="alert"' not in page
        assert "Compare them with what you chose at the kiosk or on the online voting page" in page


def test_a_kiosk_that_encrypted_other_choices_is_caught_in_red(
    served: tuple[LedgerServer, Record],
) -> None:
    server, record = served
    page = check_page(server, record.lying.block.tracking_code)
    assert 'class="notice bad alarm" role="alert"' in page
    assert "✗ Warning: this ballot fails the check." in page
    assert "not the ones the kiosk printed for this ballot" in page
    assert "인쇄한 선택과 암호문에 실제로 든 선택이 다릅니다" in page
    assert "Do not vote on this kiosk" in page
    assert "A checked ballot. It is not counted." not in page
    assert '<section class="opened"' not in page  # the kiosk's claim is never shown as fact
    assert f"<code>{record.lying.encrypted.fingerprint}</code>" in page

    page = check_page(server, record.bad_randomness.block.tracking_code)
    assert "✗ Warning: this ballot fails the check." in page
    assert "The published randomness does not open this ballot" in page
    assert "contest " in page and "cell 0" in page  # the check's own words name the cell
    assert '<section class="opened"' not in page


def test_screenshots_of_the_check_page(served: tuple[LedgerServer, Record]) -> None:
    server, record = served
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = {
        "check-v2-cast": record.cast[1].block.tracking_code,
        "check-v2-spoiled": record.spoiled[1].block.tracking_code,
        "check-v2-caught": record.lying.block.tracking_code,
    }
    shots = []
    with ThreadPoolExecutor(2) as browser:
        for name, code in pages.items():
            url = f"{server.url}/check?code={code}"
            phone, desktop = SCREENSHOTS / f"{name}-phone.png", SCREENSHOTS / f"{name}.png"
            shots.append(browser.submit(screenshot, url, phone, 360, 4200))
            shots.append(browser.submit(screenshot, url, desktop, 1280, 2200))
        for shot in shots:
            assert shot.result().stat().st_size > 10_000
