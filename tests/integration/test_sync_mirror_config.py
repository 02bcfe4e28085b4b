"""A kiosk whose configuration names an observer's mirror (`kiosk run --mirror URL`): in an
election with witnesses, blocks the ledger took while the witnesses were down are proven
from the mirror's tiles once the witnesses have cosigned, while the ledger cannot be reached
from the kiosk; with no mirror configured they stay undelivered. Real `ledger serve`,
`ledger witness` and `ledger mirror serve` processes on loopback; the kiosk's network to the
ledger goes through a proxy that the test cuts."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import requests

from kiosk.app import KioskServices, build_kiosk
from kiosk.core.chain import Mode
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.cosignature import CosignerKey, cosignatures
from kiosk.hardware.devices import FakeClock, FakeReader, FakeUsbStick
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.store.keys import load_keys
from testkit.fault_proxy import FaultProxy
from testkit.kiosk_config import make_config
from testkit.ledger_requests import enrol
from testkit.mirror_server import MirrorServer
from testkit.witnessed_ledger import WitnessedLedger, witnessed_ledger


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll until ``condition`` holds (90 s at most: a hang fails; no timing is asserted)."""
    deadline = time.monotonic() + 90
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.2)


def uploaded(services: KioskServices) -> bool:
    """Whether the ledger's signed head for this kiosk is its last block."""
    assert services.box is not None and services.client is not None
    return services.client.head().height == services.box.state.height


def delivered(services: KioskServices) -> bool:
    """Whether every block of this kiosk counts as delivered (proven in a witnessed tree)."""
    assert services.box is not None
    return services.box.store.acknowledged_height() == services.box.state.height


def cosigned_at(setup: WitnessedLedger, size: int) -> bool:
    """Whether the ledger serves a checkpoint of at least ``size`` cosigned by every witness."""
    note = requests.get(f"{setup.ledger.url}/v1/checkpoint", timeout=10).text
    keys = [CosignerKey.parse(w.vkey) for w in setup.witnesses]
    found = {c.witness for c in cosignatures(note, keys)}
    signed = verify_checkpoint(note, setup.log_key).size
    return signed >= size and found == {w.name for w in setup.witnesses}


def kiosk(
    tmp: Path, setup: WitnessedLedger, ledger_url: str, mirrors: tuple[str, ...]
) -> KioskServices:
    config = make_config(
        tmp,
        setup.election,
        log_key=setup.log_key,
        ledger_url=ledger_url,
        mirrors=mirrors,
        sync_idle_s=0.2,
    )
    enrol(setup.ledger, load_keys(tmp / "keys").kiosk_key, f"kiosk {tmp.name}")
    return build_kiosk(
        config,
        reader=FakeReader(),
        stick=FakeUsbStick(tmp / "usb"),
        printer=MemoryPrinter(),
        clock=FakeClock(datetime.now(UTC)),
    )


def test_a_configured_mirror_proves_blocks_while_the_ledger_is_out_of_reach(
    tmp_path: Path,
) -> None:
    setup = witnessed_ledger(tmp_path)
    w0, w1 = setup.witnesses
    mirror = MirrorServer.of(
        tmp_path / "mirror", setup.ledger, setup.election, [w.vkey for w in setup.witnesses]
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        w0,
        w1,
        setup.ledger,
        FaultProxy(setup.ledger.port, fault_rate=0.0, weights={"drop": 1.0}) as proxy,
    ):
        w0.stop()
        w1.stop()  # the ledger takes blocks; no checkpoint is witnessed
        with_mirror = kiosk(tmp_path / "a", setup, proxy.url, (mirror.url,))
        without = kiosk(tmp_path / "b", setup, proxy.url, ())
        try:
            for services in (with_mirror, without):
                assert services.box is not None and services.client is not None
                services.box.set_mode(Mode.TEST)
                services.box.open_session()
                services.box.close_session()
            for services in (with_mirror, without):
                wait_for(partial(uploaded, services), "the uploads")
                assert not delivered(services)
            proxy.fault_rate = 1.0  # the kiosks can no longer reach the ledger
            note = requests.get(f"{setup.ledger.url}/v1/checkpoint", timeout=10).text
            size = verify_checkpoint(note, setup.log_key).size  # every block of both
            w0.start()
            w1.start()
            wait_for(lambda: cosigned_at(setup, size), "both witnesses to cosign")
            follow = mirror.follow(f"{setup.ledger.url}/tiles")
            assert follow.returncode == 0, follow.stderr
            with mirror:
                wait_for(partial(delivered, with_mirror), "the blocks proven from the mirror")
                box = with_mirror.box
                assert box is not None
                assert box.store.inclusion_proof(box.state.height) is not None
                assert not delivered(without)
        finally:
            with_mirror.close()
            without.close()
