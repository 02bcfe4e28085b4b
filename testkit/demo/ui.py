"""The whole system on one machine: the ledger, simulated cards behind a private pcscd, the
kiosk's touchscreen and the online voting platform.

Protocol v2: the trustees' ceremony makes the election key first, and the package made from it
(`ledger election create --protocol 2`) is what the kiosk loads. The online platform (issue 19)
runs beside the kiosk as one more source (channel online): the online members' letters come
from `ledger election letters`, and `hanpyo-online serve` serves the built voting page and syncs
its own chain to the ledger. With a display, the kiosk opens in a window and you insert and
remove cards with the `kiosk-simulator` command, and vote online from a browser with a letter's
code. Without one, a scripted visit runs through the real screens offscreen (a test card in test
mode, then official mode; voters cast with their card signing the encrypted ballot, one checks a
ballot first; cards are refused; the session closes), the kiosk syncs to the ledger, online
members vote in headless Chromium (one checks first; one who voted at the kiosk is refused),
the platform syncs, a tracking code is proved, the witness and mirror do their part, the
election is closed and counted by three trustees, the record is verified with no secret and the
check pages are screenshotted. Every kiosk screen and every step of the voting page is saved as
a PNG.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

from kiosk.app import KioskConfig, build_kiosk
from kiosk.core.encoding import b64d, b64e
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.sim.private_pcscd import private_pcscd
from kiosk.hardware.sim.simulator import ControlServer, Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.store.keys import load_keys, provision
from testkit.demo.ceremony import say
from testkit.demo.election_v2 import DemoElection, make_election, make_log_key
from testkit.demo.ledger_process import DemoLedger
from testkit.demo.observers import serve_with, show_observers, witness_for
from testkit.demo.online import DemoPlatform
from testkit.demo.online_voters import Letter, OnlineCast, read_letters
from testkit.demo.scripted import Cast
from testkit.demo.terminal import PIN
from testkit.elections import derived_key
from testkit.ledger_server import free_port
from testkit.witness_server import WitnessServer


def _cards(election: DemoElection) -> dict[str, VirtualCard]:
    """A few cards with memorable names: two poll workers' and a manager's, voters of the first
    group, the two test cards and a card nobody enrolled."""
    package, cards = election.cards.package, {}
    for i, staff in enumerate(package.staff):
        name = "manager" if staff.role.value == "election_manager" else f"worker{i + 1}"
        cards[name] = VirtualCard.with_auth_key(election.cards.staff_keys[i].seed, "Staff<<Demo")
    taken: dict[str, int] = {}
    for i, entry in enumerate(package.roll):
        category = entry.category
        if taken.get(category, 0) >= 3 or entry.group != "g001":
            continue
        taken[category] = taken.get(category, 0) + 1
        cards[f"{category}{taken[category]}"] = VirtualCard.with_auth_key(
            election.cards.voter_keys[i].seed, "Demo<<Voter"
        )
    for n, key in enumerate(election.test_card_keys, start=1):
        cards[f"test{n}"] = VirtualCard.with_auth_key(key.seed, "Test<<Card")
    cards["stranger"] = VirtualCard.with_auth_key(
        derived_key("not-enrolled", "voter", 0).seed, "Not<<Enrolled"
    )
    return cards


def run_ui_demo(out: Path, *, window: bool | None = None) -> int:
    if window is None:
        window = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not window:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    say("한표 Hanpyo — the whole system (protocol v2): ledger, card readers and the kiosk screen")
    say("=" * 72)
    say("Preparing the election · 선거 준비")
    log_vkey = make_log_key(out / "ledger")
    witness = witness_for(out, log_vkey)
    platform = DemoPlatform(out / "online")
    ledger_port = free_port()  # chosen first: the package names the ledger's address
    election = make_election(
        out,
        log_vkey,
        witness.vkey,
        platform.url,
        pdf=window,
        ledger_url=f"http://127.0.0.1:{ledger_port}",
    )
    if election is None:
        return 1
    package_file = election.signed
    provision(out / "keys")
    keys = load_keys(out / "keys")
    say(f"Election: {election.package.title.ko} ({election.package.short_hash})")

    ledger = DemoLedger(out / "ledger", package_file, election.authority, ledger_port)
    serve_with(ledger, witness)
    with witness, ledger, platform:
        ledger.enrol(keys.kiosk_key.public_key, "전시홀 A 1번 · Hall A kiosk 1")
        say(f"Ledger: {ledger.url} (its data in {out / 'ledger'}); the kiosk is enrolled")
        say(f"Witness: {witness.url}, run by an observer; it cosigns every checkpoint")
        _start_platform(platform, ledger, election)
        data = out / "kiosk"
        data.mkdir()
        shutil.copy(package_file, data / "election.json")
        with private_pcscd(readers=1, socket_dir=out / "pcscd") as pcscd:
            os.environ["PCSCLITE_CSOCK_NAME"] = str(pcscd.socket)  # before any PC/SC call
            cards = _cards(election)
            with Simulator(pcscd.ports, cards=cards) as simulator:
                config = KioskConfig(
                    data,
                    election.authority,
                    key_dir=out / "keys",
                    log_key=ledger.log_key,
                    ledger_url=ledger.url,
                    reader=pcscd.reader_names[0],
                    printer="memory",
                    usb_dir=out / "usb",
                    sync_idle_s=1.0,
                )
                (out / "usb").mkdir()
                if window:
                    platform.open()
                    _say_online_letters(platform, election)
                    code = _window(config, simulator, out, cards)
                    return _after_the_window(config, out, ledger, election, witness, code,
                                             platform)  # fmt: skip
                return _scripted(config, simulator, out, ledger, election, witness, platform)


def _start_platform(platform: DemoPlatform, ledger: DemoLedger, election: DemoElection) -> None:
    """`hanpyo-online init`, its enrolment at the ledger (channel online), the page built and
    its server started (it starts while the kiosk's visit runs; staff open it later)."""
    source_key = platform.init(election.signed, election.authority)
    ledger.enrol(b64d(source_key, length=32), "온라인 투표 · Online voting", channel="online")
    platform.start(ledger)
    say(f"Online platform: {platform.url} (hanpyo-online serve, its own process and chain), "
        "enrolled with channel online; it syncs to the ledger")  # fmt: skip


def _holder_key(election: DemoElection, category: str, n: int) -> str:
    """The card key (base64) of the demo's card `{category}{n}` (see ``_cards``)."""
    package = election.cards.package
    indexes = [i for i, e in enumerate(package.roll) if e.category == category
               and e.group == "g001"]  # fmt: skip
    return b64e(election.cards.voter_keys[indexes[n - 1]].public_key)


def _online_members(election: DemoElection) -> tuple[list[Letter], Letter | None]:
    """The letters of online members without a kiosk card, and online1's (who votes at the
    kiosk in the scripted visit)."""
    if election.letters is None:
        raise RuntimeError("the election was made without the online members' letters")
    letters = read_letters(election.letters)
    carded = {_holder_key(election, "online", n): n for n in (1, 2, 3)}
    online1 = next((x for x in letters if carded.get(x.card_key) == 1), None)
    return [x for x in letters if x.card_key not in carded], online1


def _say_online_letters(platform: DemoPlatform, election: DemoElection) -> None:
    members, _ = _online_members(election)
    folder = election.letters or Path()
    say("")
    say(f"Online voting page: {platform.url}  (or open a letter's QR code)")
    say(f"  a member's letter code: {members[0].code}   (its link: {members[0].url})")
    say(f"  every member's code: {folder / 'letters.csv'}; the printed letters: "
        f"{folder / 'letters.pdf'}")  # fmt: skip
    say("  When the kiosk's window closes, the demo closes the platform's session and counts its")
    say("  ballots with the kiosk's.")


def _window(
    config: KioskConfig, simulator: Simulator, out: Path, cards: dict[str, VirtualCard]
) -> int:
    from kiosk.ui.main import run

    control = out / "simulator.sock"
    server = ControlServer(control, simulator)
    threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
    say("")
    say("The kiosk window is open. Insert and remove cards from another terminal:")
    say(f"  export HANPYO_SIMULATOR_CONTROL={control}")
    say("  .venv/bin/kiosk-simulator insert manager     # then PIN 123456 on the screen")
    say("  .venv/bin/kiosk-simulator remove")
    say(f"Cards: {', '.join(sorted(cards))}. Every PIN is {PIN}.")
    say("Start with 'manager' (choose a mode and open the session), then a voter card.")
    say("An election manager's card can leave kiosk mode (the last button on its screen).")
    say("Close the official session with a staff card before you leave: the demo then closes")
    say("the election, counts it and shows the check pages of the last ballot cast and checked.")
    try:
        return run(config, fullscreen=False)
    finally:
        server.shutdown()
        server.server_close()


def _after_the_window(
    config: KioskConfig,
    out: Path,
    ledger: DemoLedger,
    election: DemoElection,
    witness: WitnessServer,
    code: int,
    platform: DemoPlatform,
) -> int:
    """Once the window is closed: the ledger's side for what was cast in it and on the voting
    page, if anything."""
    from testkit.demo.window import cast_in_the_window

    last = cast_in_the_window(config, election, ledger)
    if code != 0 or last is None:
        return code
    if platform.close_and_deliver() is None:
        return 1
    return _after_the_vote(out, ledger, election, witness, last)


def _scripted(
    config: KioskConfig,
    simulator: Simulator,
    out: Path,
    ledger: DemoLedger,
    election: DemoElection,
    witness: WitnessServer,
    platform: DemoPlatform,
) -> int:
    from PySide6.QtGui import QGuiApplication

    from kiosk.ui.main import build_ui
    from testkit.demo.scripted import visit
    from testkit.robot import Robot

    app = QGuiApplication(sys.argv[:1])
    printer = MemoryPrinter()
    services = build_kiosk(config, printer=printer)
    ui = build_ui(services)
    robot = Robot(ui.window)
    try:
        first = visit(services, robot, ui.bridge, simulator, out)
    except (TimeoutError, LookupError, AssertionError, RuntimeError) as e:
        say(f"!! the scripted visit stopped on screen {ui.bridge.property('screen')!r}: {e}")
        robot.screenshot(out / "screenshots" / "failure.png")
        return 1
    finally:
        ui.close()
        services.close()
        del app
    (out / "receipts").mkdir()
    for index in range(len(printer.printed)):
        printer.save_png(index, out / "receipts" / f"{index + 1:02d}.png")
    online = _vote_online(out, platform, election)
    if online is None:
        return 1
    return _after_the_vote(out, ledger, election, witness, first, online)


def _vote_online(
    out: Path, platform: DemoPlatform, election: DemoElection
) -> list[OnlineCast] | None:
    """Online members vote through the voting page in headless Chromium; the platform closes
    and syncs. The ballots cast, or None (said) if a step failed."""
    from playwright.sync_api import Error as PlaywrightError

    from testkit.demo.online_voters import vote_online

    say("6. 온라인 투표 · Online members vote from a browser with their letter's code; the page")
    say("   derives the credential key (Argon2id), encrypts, proves and signs the ballot itself")
    members, online1 = _online_members(election)
    try:
        platform.open()
        say("   staff open the platform's official session")
        casts = vote_online(platform.url, members[:3], online1, out / "screenshots")
    except (PlaywrightError, AssertionError, RuntimeError) as e:
        say(f"!! the online vote stopped: {e}")
        return None
    report = platform.close_and_deliver()
    if report is None:
        return None
    say(f"   staff close the platform's session; the ledger holds its blocks 0..{report['height']} "
        f"({report['ballots']} ballots)")  # fmt: skip
    return casts


def _after_the_vote(
    out: Path,
    ledger: DemoLedger,
    election: DemoElection,
    witness: WitnessServer,
    first: Cast,
    online: list[OnlineCast] | None = None,
) -> int:
    """The ledger's side once the kiosk and the platform have synced: receipts proved (a
    kiosk voter's, an online member's), the observers, the close and count, verify-bundle and
    the check pages."""
    from testkit.demo.check_pages import show_check_pages
    from testkit.demo.count_v2 import close_and_count, say_results, verify_bundle

    receipts = [("A voter checks receipt", first.code)]
    if online:
        receipts.append(("An online member checks receipt", online[-1].code))
    for n, (who, code) in enumerate(receipts):
        ok, said = ledger.verify_tracking_code(code)
        if not ok:
            say(f"!! tracking code {code} did not verify: {said}")
            return 1
        say(f"{'7.' if n == 0 else '  '} {who} {code}: {said}")
    say("8. Observers: a witness cosigns, a mirror keeps its own verified copy")
    if not show_observers(out, ledger, witness, election.authority, first.code):
        return 1
    say("9. 마감과 개표 · The close and the count (every step a command of its own)")
    published = close_and_count(ledger, election, witness.spec())
    if published is None:
        return 1
    channels = say_results(published, election)
    say("10. 검증 · Anyone re-checks the published record")
    if not verify_bundle(published, ledger, election):
        return 1
    say("11. 확인 페이지 · The check pages a voter opens from the receipt's QR code")
    last_online = (online[-1].code, online[-1].fingerprint) if online else None
    if not show_check_pages(
        out, ledger, (first.code, first.fingerprint), first.checked, last_online
    ):
        return 1
    by = ", ".join(f"{n} from the {channel} channel" for channel, n in sorted(channels.items()))
    say(f"Counted: {sum(channels.values())} ballots ({by}); every one verified by verify-bundle")
    say(f"Screens (kiosk and voting page): {out / 'screenshots'}  Printed receipts: "
        f"{out / 'receipts'}  Pages: {out / 'pages'}")  # fmt: skip
    return 0
