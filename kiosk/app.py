"""The kiosk's composition root: ``build_kiosk`` builds the services the screens use, and
is the only place devices are chosen (real ones from the configuration, or fakes).

The screens (``kiosk.ui``) and the flow (``kiosk.flow``) never open a file, a reader or a
socket themselves; they act through the ``KioskServices`` built here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.core.chain import Mode, Session
from kiosk.core.election import ElectionPackage, read_signed_package
from kiosk.core.errors import HanpyoError
from kiosk.core.heartbeat import Heartbeat, PrinterReport, ReaderState
from kiosk.core.package_pin import PackagePins, first_pins, read_pins
from kiosk.core.secret_file import write_secret
from kiosk.hardware.devices import CardReader, Clock, SystemClock, UsbFolder, UsbStick
from kiosk.hardware.printer.escpos import open_printer
from kiosk.hardware.printer.receipt import PrinterState, ReceiptPrinter
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import KioskKeys, load_keys
from kiosk.store.usb_export import export_to_folder
from kiosk.sync.client import LedgerClient
from kiosk.sync.tile_proofs import TileProofs
from kiosk.sync.worker import SyncStatus, SyncWorker

log = logging.getLogger("hanpyo.kiosk")

PACKAGE_FILE = "election.json"  # the signed package this kiosk runs, kept in its data folder
# The election this kiosk runs and the newest package of each election it ran (package_pin.py)
PINS_FILE = "election-pins.json"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds of inactivity before the warning, and then before the ballot is discarded.
    The accessibility setting "more time" doubles both."""

    idle_s: float = 90.0
    warning_s: float = 30.0


@dataclass(frozen=True, slots=True)
class KioskConfig:
    data_dir: Path  # the encrypted store and the election package live here
    authority: bytes  # the election authority's public key: packages must be signed by it
    key_dir: Path | None = None  # None: systemd credentials ($CREDENTIALS_DIRECTORY)
    log_key: str | None = None  # the ledger's checkpoint key; without it the kiosk never syncs
    ledger_url: str | None = None  # overrides the package's address (a venue's local mirror)
    # Observers' mirrors (`ledger mirror serve`), by address: the sync proves its blocks from
    # their tiles too, checked like the ledger's, so a block the ledger took is still proven
    # while the ledger is down.
    mirrors: tuple[str, ...] = ()
    reader: str | None = None  # None: the first reader PC/SC reports
    printer: str = "none"  # see kiosk.hardware.printer.escpos.open_printer
    usb_dir: Path | None = None  # where "export to USB" writes
    # written when an election manager leaves kiosk mode; the installed unit then does not
    # start the kiosk again until the machine restarts (installer/kiosk_host.py)
    leave_file: Path | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    sync_idle_s: float = 5.0


@dataclass(frozen=True, slots=True)
class Devices:
    """The devices the kiosk talks to, besides the printer (``KioskServices.printer``)."""

    reader: CardReader
    stick: UsbStick
    clock: Clock


_UNSET: Any = object()  # "use the configured device" (None is a choice: no printer)


def build_kiosk(
    config: KioskConfig,
    *,
    reader: CardReader | None = None,
    stick: UsbStick | None = None,
    printer: ReceiptPrinter | None = _UNSET,
    clock: Clock | None = None,
) -> KioskServices:
    """The kiosk's services over its devices: the real ones from ``config`` unless given
    (the PC/SC readers, the USB folder, ``open_printer(config.printer)``, the system clock).
    The demo, the bench, ``kiosk run`` and the tests all start here."""
    if reader is None:
        # pyscard only when a real reader is used
        from kiosk.hardware.pcsc.watcher import PcscReader

        reader = PcscReader()
    devices = Devices(
        reader=reader,
        stick=stick if stick is not None else UsbFolder(config.usb_dir),
        clock=clock if clock is not None else SystemClock(),
    )
    chosen = open_printer(config.printer) if printer is _UNSET else printer
    return KioskServices.open(config, devices=devices, printer=chosen)


class KioskServices:
    """Everything the screens act through: the ballot box, the printer and the sync worker.

    There is at most one election at a time. Its store is ``<data>/<election id>-<short
    hash>.db``, so loading a different package starts a different chain and never touches
    the old one.
    """

    def __init__(
        self,
        config: KioskConfig,
        keys: KioskKeys,
        printer: ReceiptPrinter | None,
        devices: Devices | None = None,
    ):
        self.config = config
        self.keys = keys
        self.printer = printer
        self._devices = devices
        self.package: ElectionPackage | None = None
        self.box: BallotBox | None = None
        self.worker: SyncWorker | None = None
        self.client: LedgerClient | None = None
        self.check_client: LedgerClient | None = None  # the screens' own, with short timeouts
        self.sync_status = SyncStatus()
        self.on_sync_status: list[Callable[[SyncStatus], None]] = []  # called from any thread
        self.reader_state = "missing"  # ok | missing | error, kept current by the screens

    @classmethod
    def open(
        cls,
        config: KioskConfig,
        *,
        devices: Devices | None = None,
        printer: ReceiptPrinter | None = _UNSET,
    ) -> KioskServices:
        """The services over ``devices`` (``build_kiosk`` chooses them); without a ballot
        box until an election is loaded."""
        config.data_dir.mkdir(parents=True, exist_ok=True)
        keys = load_keys(config.key_dir)
        chosen = open_printer(config.printer) if printer is _UNSET else printer
        services = cls(config, keys, chosen, devices)
        saved = config.data_dir / PACKAGE_FILE
        if saved.is_file():
            # Checked against the pins too: a package copied into place never rolls it back.
            package = services.read_package(saved.read_bytes())
            save_pins(config.data_dir, package)
            services._start(package)
        return services

    @property
    def devices(self) -> Devices:
        if self._devices is None:
            raise HanpyoError("these services were opened without devices; use build_kiosk")
        return self._devices

    @property
    def version(self) -> str:
        return __version__

    @property
    def kiosk_id(self) -> str:
        return self.keys.kiosk_id

    # -- the election ----------------------------------------------------------------------
    def read_package(self, raw: bytes) -> ElectionPackage:
        """The verified package in ``raw``, if this kiosk may load it: never an older package
        than it has, nor another election's (a technician's `kiosk load-election
        --new-election` only). The staff screen's USB and ledger paths both come here first."""
        package = read_signed_package(raw, self.config.authority)
        pins = pins_in(self.config.data_dir, self.config.authority)
        if pins is not None:
            pins.check(package)
        return package

    def load_package(self, raw: bytes) -> ElectionPackage:
        """Switch this kiosk to the package in ``raw`` (verified, and checked as
        ``read_package`` does), keeping every old store.

        Refused while a session is open: staff close it first.
        """
        package = self.read_package(raw)
        if self.box is not None and self.box.state.session.value != "closed":
            raise HanpyoError(
                "a session is open on this kiosk; close it before loading another election"
            )
        self.stop()
        save_package(self.config.data_dir, raw, package)
        self._start(package)
        return package

    def fetch_package(self) -> bytes:
        """The package as the ledger serves it (still to be verified by ``load_package``)."""
        url = self.config.ledger_url or (self.package.ledger_url if self.package else None)
        if not url:
            raise HanpyoError("no ledger address is configured")
        client = LedgerClient(
            url,
            self.keys.kiosk_key,
            tls_pin=self.package.ledger_tls_pin if self.package else None,
            official=self.in_official_mode,
        )
        try:
            return client.election()
        finally:
            client.close()

    def _start(self, package: ElectionPackage) -> None:
        path = store_path(self.config.data_dir, package)
        store = ChainStore.open_or_create(path, self.keys.store_key, self.keys.kiosk_key, package)
        self.package, self.box = package, BallotBox(store, package)
        url = self.config.ledger_url or package.ledger_url
        if self.config.log_key and url:
            self.client = LedgerClient(
                url,
                self.keys.kiosk_key,
                log_key=self.config.log_key,
                tls_pin=package.ledger_tls_pin,
                official=self.in_official_mode,
            )
            self.worker = SyncWorker(
                store,
                self.client,
                self.config.log_key,
                on_status=self._sync_changed,
                heartbeat=self.heartbeat,
                idle_s=self.config.sync_idle_s,
                # A v2 package's witness policy: blocks count as delivered only in a
                # checkpoint its witnesses cosigned; proofs from the ledger's tiles first
                # (not behind a pinned certificate, which a plain session would refuse),
                # then from the configured mirrors'.
                witnesses=package.witnesses,
                tiles=self._tile_sources(url, package),
            )
            self.sync_status = self.worker.status
            self.check_client = LedgerClient(
                url,
                self.keys.kiosk_key,
                log_key=self.config.log_key,
                tls_pin=package.ledger_tls_pin,
                official=self.in_official_mode,
                timeout=(2.0, 3.0),
            )
            self.worker.start()
        log.info("election %s (%s) loaded; store %s", package.id, package.short_hash, path)

    def _tile_sources(self, url: str, package: ElectionPackage) -> tuple[TileProofs, ...]:
        ledger = package.witnesses.threshold and package.ledger_tls_pin is None
        own = (TileProofs(f"{url.rstrip('/')}/tiles"),) if ledger else ()
        return own + tuple(TileProofs(f"{m.rstrip('/')}/tiles") for m in self.config.mirrors)

    def in_official_mode(self) -> bool:
        """Whether the kiosk records official ballots now (the ledger then needs https)."""
        return self.box is not None and self.box.state.mode is Mode.OFFICIAL

    def _sync_changed(self, status: SyncStatus) -> None:
        self.sync_status = status
        for callback in list(self.on_sync_status):
            callback(status)

    def sync_now(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    def check_url(self, tracking_code: str) -> str:
        """Where a voter checks a tracking code: the ledger's public check page, which finds
        the ballot in the log and shows its inclusion proof (ledger/web/public_pages.py)."""
        url = self.config.ledger_url or (self.package.ledger_url if self.package else "")
        return f"{url.rstrip('/')}/check?code={tracking_code}"

    def probe_ledger(self) -> int:
        """How far the ledger holds this kiosk's chain; ``HanpyoError`` if it cannot say."""
        if self.check_client is None:
            raise HanpyoError("no ledger is configured for this kiosk")
        return self.check_client.head().height

    def heartbeat(self) -> Heartbeat:
        """What the ledger's fleet dashboard shows for this kiosk."""
        state = self.box.state if self.box else None
        return Heartbeat(
            mode=state.mode if state else Mode.UNSET,
            session=state.session if state else Session.CLOSED,
            height=state.height if state else -1,
            pending_blocks=0,  # the sync worker reports only once the ledger holds every block
            ballots_session=state.session_ballots if state else 0,
            reader=ReaderState(self.reader_state),
            printer=PrinterReport(self.printer_heartbeat()),
            version=__version__,
        )

    def export_to_usb(self, folder: Path) -> Path:
        """The staff screen's export: the whole chain, signed, into ``folder``."""
        if self.box is None:
            raise HanpyoError("no election is loaded")
        return export_to_folder(self.box.store, self.keys.kiosk_key, folder).path

    def media_url(self, image: str | None) -> str:
        """A proposal's picture as a file URL; pictures come only from the kiosk's own
        media folder."""
        if not image:
            return ""
        media = self.config.data_dir / "media"
        path = (media / image).resolve()
        if media.resolve() not in path.parents or not path.is_file():
            return ""
        return path.as_uri()

    def printer_state(self) -> PrinterState | None:
        return None if self.printer is None else self.printer.status()

    def printer_heartbeat(self) -> str:
        state = self.printer_state()
        if state is None:
            return "none"
        return {PrinterState.NO_PAPER: "no_paper", PrinterState.OFFLINE: "offline"}.get(state, "ok")

    # -- shutting down -----------------------------------------------------------------------
    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        for client in (self.client, self.check_client):
            if client is not None:
                client.close()
        self.client = self.check_client = None
        if self.box is not None:
            self.box.store.close()
            self.box = None

    def close(self) -> None:
        self.stop()


def store_path(data_dir: Path, package: ElectionPackage) -> Path:
    """Where the chain of ``package`` is kept: one store per package."""
    return data_dir / f"{package.id}-{package.short_hash}.db"


def pins_in(data_dir: Path, authority: bytes) -> PackagePins | None:
    """What this kiosk has pinned; for a kiosk that ran a package before pins were kept, the
    pins of that package; None when it never had one."""
    try:
        return read_pins((data_dir / PINS_FILE).read_bytes())
    except FileNotFoundError:
        pass
    try:
        saved = (data_dir / PACKAGE_FILE).read_bytes()
    except FileNotFoundError:
        return None
    return first_pins(read_signed_package(saved, authority))


def save_pins(data_dir: Path, package: ElectionPackage) -> None:
    """Pin ``package`` (already checked) as the one this kiosk runs."""
    try:
        pins = read_pins((data_dir / PINS_FILE).read_bytes()).after(package)
    except FileNotFoundError:
        pins = first_pins(package)
    write_secret(data_dir / PINS_FILE, pins.encode(), replace=True)


def save_package(data_dir: Path, raw: bytes, package: ElectionPackage) -> None:
    """Make ``raw`` (``package``, already checked) the kiosk's package, then pin it. Each file
    is replaced whole; were the kiosk to stop between the two, it starts again on the new
    package, which is newer than the pins (or, for another election, is refused until it is
    loaded again with ``--new-election``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    write_secret(data_dir / PACKAGE_FILE, raw, replace=True)
    save_pins(data_dir, package)


def load_election_file(
    data_dir: Path, raw: bytes, authority: bytes, *, new_election: bool, key_dir: Path | None
) -> ElectionPackage:
    """`kiosk load-election`: the technician's load, with the kiosk stopped. The same checks
    as the staff screen (never an older package; another election only with
    ``new_election``), and never over a package whose session is still open."""
    package = read_signed_package(raw, authority)
    pins = pins_in(data_dir, authority)
    if pins is not None:
        pins.check(package, new_election=new_election)
        _refuse_open_session(data_dir, authority, key_dir, package)
    save_package(data_dir, raw, package)
    return package


def _refuse_open_session(
    data_dir: Path, authority: bytes, key_dir: Path | None, incoming: ElectionPackage
) -> None:
    """Raise unless the session of the package this kiosk runs is closed (or never began):
    a replaced package's chain is never left with a session open."""
    try:
        current = read_signed_package((data_dir / PACKAGE_FILE).read_bytes(), authority)
    except FileNotFoundError:
        return
    path = store_path(data_dir, current)
    if current.package_hash == incoming.package_hash or not path.is_file():
        return
    try:
        keys = load_keys(key_dir)
    except HanpyoError as e:
        raise HanpyoError(
            f"cannot check that the session of election {current.id} is closed ({e}); "
            "give the kiosk's keys with --keys, or load the package from the staff screen"
        ) from e
    with ChainStore.open(path, keys.store_key, keys.kiosk_key, current) as store:
        if store.state.session is not Session.CLOSED:
            raise HanpyoError(
                f"a session of election {current.id} is open on this kiosk; staff close it "
                "on the staff screen before another package is loaded"
            )
