"""Leaving kiosk mode: only an election manager can, and the installed unit is told to stay
down (the leave file) instead of bringing the voting screen straight back. And stopping the
kiosk (systemd's SIGTERM) works at any moment."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QTimer

from kiosk.ui.main import stop_on_signals


def test_a_manager_leaves_kiosk_mode_and_the_kiosk_stays_down(
    kiosk_factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    exits: list[int] = []
    monkeypatch.setattr(QCoreApplication, "exit", lambda code=0: exits.append(code))
    leave = tmp_path / "run" / "hanpyo-kiosk" / "left"
    kiosk = kiosk_factory(leave_file=leave)

    kiosk.sign_in(kiosk.staff_card("poll_worker"))
    kiosk.wait_screen("staff")
    assert not kiosk.visible("leaveKiosk")  # a poll worker has no such button
    kiosk.vm.leaveKiosk()  # and the bridge refuses it too
    assert exits == [] and not leave.exists()
    kiosk.remove()
    kiosk.wait_screen("waiting")

    kiosk.sign_in(kiosk.staff_card("election_manager"))
    kiosk.wait_screen("staff")
    kiosk.tap("leaveKiosk")
    assert exits == [0]
    assert leave.read_text().startswith("kiosk mode left by an election manager at ")


def test_a_stop_that_comes_before_the_event_loop_runs_is_not_lost(qapp: Any) -> None:
    """systemd may stop the unit while the kiosk is still starting; that stop was once lost
    (exit() before the loop runs does nothing) and systemd waited 90 s to kill it."""
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    fallback = QTimer()  # ends the loop if the stop was lost; stopped after, so it
    fallback.setSingleShot(True)  # cannot end a later test's event loop
    fallback.timeout.connect(lambda: QCoreApplication.exit(99))
    try:
        stop_on_signals()
        signal.raise_signal(signal.SIGTERM)  # before exec(), as during start-up
        fallback.start(5000)
        assert qapp.exec() == 0
    finally:
        fallback.stop()
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
