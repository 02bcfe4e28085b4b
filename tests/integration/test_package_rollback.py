"""A kiosk never goes back to an older election package, nor silently to another election,
though every one of them carries the authority's valid signature: through `kiosk
load-election` as technicians run it, and the staff screen's load from a real ledger."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk.app import KioskConfig, KioskServices, build_kiosk
from kiosk.core.chain import Mode
from kiosk.core.election import ElectionPackage, Text, sign_package
from kiosk.core.encoding import b64e
from kiosk.flow import state as st
from kiosk.flow.events import StaffAction as A
from kiosk.hardware.devices import FakeClock, FakeReader, FakeUsbStick
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.store.keys import provision
from testkit.elections import SyntheticElection, build_election, review_definition
from testkit.flows import Flow, staff_card
from testkit.ledger_server import LedgerServer

ROOT = Path(__file__).resolve().parents[2]


def numbered(package: ElectionPackage, sequence: int, title: str = "") -> ElectionPackage:
    """``package`` as the authority signs it again: number ``sequence``, maybe changed."""
    changed = Text(package.title.ko + title, package.title.en + title)
    return dataclasses.replace(package, sequence=sequence, title=changed)


@pytest.fixture(scope="module")
def next_vote(election: SyntheticElection) -> SyntheticElection:
    """Another election, signed by the same authority (the same seed) as ``election``."""
    other = build_election(review_definition(1, 3, election_id="next-vote"), seed="test")
    assert other.authority.public_key == election.authority.public_key
    return other


class Technician:
    """`kiosk load-election` run as a technician runs it, on one kiosk's data folder."""

    def __init__(self, tmp: Path, election: SyntheticElection) -> None:
        self.tmp, self.election = tmp, election
        self.data, self.keys = tmp / "data", tmp / "keys"
        provision(self.keys)

    def signed(self, package: ElectionPackage) -> Path:
        path = self.tmp / f"{package.id}-{package.sequence}-{package.short_hash}.json"
        document = sign_package(package, self.election.authority).to_json()
        path.write_text(json.dumps(document, ensure_ascii=False))
        return path

    def load(self, package: ElectionPackage, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable, "-m", "kiosk.cli", "load-election", str(self.signed(package)),
                "--data", str(self.data), f"--authority={b64e(self.election.authority.public_key)}",
                *extra,
            ],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def load_new_election(self, package: ElectionPackage) -> subprocess.CompletedProcess[str]:
        """Another election, on purpose; with the keys that open the current store, to check
        its session is closed."""
        return self.load(package, "--new-election", "--keys", str(self.keys))

    def services(self, ledger_url: str | None = None) -> KioskServices:
        config = KioskConfig(
            self.data, self.election.authority.public_key, key_dir=self.keys, ledger_url=ledger_url
        )
        return build_kiosk(
            config,
            reader=FakeReader(),
            stick=FakeUsbStick(self.tmp / "usb"),
            printer=MemoryPrinter(),
            clock=FakeClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
        )

    def running(self) -> ElectionPackage | None:
        services = self.services()
        try:
            return services.package
        finally:
            services.close()


def test_load_election_never_goes_back_nor_silently_to_another_election(
    tmp_path: Path, election: SyntheticElection, next_vote: SyntheticElection
) -> None:
    kiosk = Technician(tmp_path, election)
    second = numbered(election.package, 2, " (2)")
    loaded = kiosk.load(second)
    assert loaded.returncode == 0, loaded.stderr

    older = kiosk.load(election.package)  # number 1, signed by the same authority
    assert older.returncode != 0 and "never goes back" in older.stderr
    edited = kiosk.load(numbered(election.package, 2, " (edited)"))
    assert edited.returncode != 0 and "content differs" in edited.stderr
    other = kiosk.load(next_vote.package)
    assert other.returncode != 0 and "--new-election" in other.stderr
    assert kiosk.running() == second
    assert "package number 2" in loaded.stdout

    # Another election on purpose, but not while a session is open on this one.
    services = kiosk.services()
    assert services.box is not None
    services.box.set_mode(Mode.OFFICIAL)
    services.box.open_session()
    services.close()
    refused = kiosk.load_new_election(next_vote.package)
    assert refused.returncode != 0 and "session" in refused.stderr and "open" in refused.stderr
    services = kiosk.services()
    assert services.box is not None
    services.box.close_session()
    services.close()
    moved = kiosk.load_new_election(next_vote.package)
    assert moved.returncode == 0, moved.stderr
    assert kiosk.running() == next_vote.package

    # Back to the first election, on purpose: still never below the number it had.
    back = kiosk.load_new_election(election.package)
    assert back.returncode != 0 and "never goes back" in back.stderr
    newer = numbered(election.package, 3, " (3)")
    assert kiosk.load(newer).returncode != 0  # another election than next-vote: on purpose only
    assert kiosk.load_new_election(newer).returncode == 0
    assert kiosk.running() == newer


def test_the_staff_screen_refuses_an_older_package_or_another_election_from_the_ledger(
    tmp_path: Path, election: SyntheticElection, next_vote: SyntheticElection
) -> None:
    kiosk = Technician(tmp_path, election)
    second = numbered(election.package, 2, " (2)")
    assert kiosk.load(second).returncode == 0
    # Ledgers serving a package the authority signed earlier, and another election's.
    for served, plain, detail in (
        (election, "오래된 파일", "never goes back"),
        (next_vote, "다른 선거", "--new-election"),
    ):
        with LedgerServer(tmp_path / f"ledger-{served.package.id}", served) as ledger:
            services = kiosk.services(ledger_url=ledger.url)
            reader, stick = services.devices.reader, services.devices.stick
            assert isinstance(reader, FakeReader) and isinstance(stick, FakeUsbStick)
            flow = Flow(services, reader, stick)
            try:
                flow.sign_in(staff_card(election, "election_manager"))
                flow.staff(A.LOAD_LEDGER)
                note = flow.note()
                assert len(note) == 1 and isinstance(note[0], st.Explained), note
                assert plain in note[0].text and detail in note[0].text, note
                assert flow.state.pending_package is None
                flow.staff(A.CONFIRM_LOAD)  # nothing to confirm
                assert services.package == second
            finally:
                flow.runner.stop()
                services.close()
    assert kiosk.running() == second
