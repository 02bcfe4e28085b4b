"""Fixtures the unit tests share: a kiosk flow over fake devices, a mutable copy of the
election package's JSON form, the standard exports written once per module, and a simulated
OpenPGP card."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk.app import KioskConfig, Timeouts, build_kiosk
from kiosk.core.chain import Mode
from kiosk.core.election import ElectionPackage, sign_package
from kiosk.hardware.devices import FakeClock, FakeReader, FakeUsbStick
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.sim.simulator import VirtualCard
from kiosk.store.keys import provision
from ledger.publish.nist_results import nist_results
from ledger.publish.standard_exports import NIST_RESULTS, write_v2_exports
from testkit.apdus import SEED, SELECT, ok
from testkit.elections import SyntheticElection
from testkit.export_records import SCENARIOS, Exported
from testkit.flows import IDLE, WARNING, Flow


@pytest.fixture
def make_flow(tmp_path: Path, election: SyntheticElection) -> Iterator[Callable[..., Flow]]:
    made: list[Flow] = []

    def make(
        mode: Mode | None = Mode.OFFICIAL,
        open_session: bool = True,
        stick: bool = True,
        of: SyntheticElection = election,
    ) -> Flow:
        data = tmp_path / "data"
        data.mkdir(parents=True, exist_ok=True)
        signed = sign_package(of.package, of.authority)
        (data / "election.json").write_text(json.dumps(signed.to_json(), ensure_ascii=False))
        if not (tmp_path / "keys").exists():
            provision(tmp_path / "keys")
        config = KioskConfig(
            data,
            of.authority.public_key,
            key_dir=tmp_path / "keys",
            timeouts=Timeouts(idle_s=IDLE, warning_s=WARNING),
        )
        reader = FakeReader()
        usb = FakeUsbStick(tmp_path / "usb", plugged=stick)
        services = build_kiosk(
            config,
            reader=reader,
            stick=usb,
            printer=MemoryPrinter(),
            clock=FakeClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
        )
        assert services.box is not None
        if mode is not None:
            services.box.set_mode(mode)
            if open_session:
                services.box.open_session()
        flow = Flow(services, reader, usb)
        made.append(flow)
        return flow

    yield make
    for flow in made:
        flow.runner.stop()
        flow.services.close()


@pytest.fixture
def document(package: ElectionPackage) -> dict[str, Any]:
    """A fresh, mutable copy of the package's JSON form."""
    return copy.deepcopy(package.to_json())


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    """Each scenario's exports, written once: the records and the files by name."""
    done = {}
    for name, build in SCENARIOS.items():
        records = build()
        out = tmp_path_factory.mktemp(name)
        paths = write_v2_exports(
            out, records.package, records.results, records.chains, records.sources
        )
        # The count writes the SP 1500-100 results beside its results.json (ledger count).
        results = nist_results(records.package, records.results, records.sources)
        paths.append(out / NIST_RESULTS)
        paths[-1].write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
        done[name] = (records, {p.name: p for p in paths})
    return done


@pytest.fixture(params=list(SCENARIOS))
def exported(request: pytest.FixtureRequest, written: dict[str, Exported]) -> Exported:
    return written[request.param]


@pytest.fixture
def card() -> VirtualCard:
    """A personalised card, powered and with the OpenPGP application selected."""
    card = VirtualCard.with_auth_key(SEED, "Hong Gildong")
    card.power_on()
    ok(card, SELECT)
    return card
