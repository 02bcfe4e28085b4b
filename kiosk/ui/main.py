"""Start the touchscreen: fonts, translations, the view model and the QML window."""

from __future__ import annotations

import functools
import logging
import signal
import sys
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QEvent, QSize, QTimer, QTranslator, QUrl
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication, QWindow
from PySide6.QtQml import QQmlApplicationEngine
from PySide6.QtQuick import QQuickWindow

from hanpyo_assets import asset_path
from kiosk.app import KioskConfig, KioskServices, build_kiosk
from kiosk.core.errors import HanpyoError
from kiosk.ui.bridge import KioskBridge
from kiosk.ui.theme import FONT_FAMILY, Theme

log = logging.getLogger("hanpyo.kiosk.ui")

QML_DIR = Path(__file__).with_name("qml")
DEFAULT_SIZE = QSize(1280, 800)
CRASH_EXIT = 70  # EX_SOFTWARE: systemd restarts the kiosk, which resumes from its chain


@functools.cache
def load_fonts() -> None:
    """The shipped Korean font, so Hangul renders on a machine with no CJK fonts at all.
    Once per process: Qt would register the same files again on every call."""
    for name in ("NanumGothic.ttf", "NanumGothicBold.ttf"):
        if QFontDatabase.addApplicationFont(str(asset_path("fonts", name))) < 0:
            raise HanpyoError(f"the font {name} could not be loaded")
    QGuiApplication.setFont(QFont(FONT_FAMILY))


class Translations:
    """English is the source language; Korean is a translation installed over it. English
    still has a small translation of its own: the singular and plural of "%n" sentences."""

    def __init__(self, engine: QQmlApplicationEngine) -> None:
        self._engine = engine
        self._files: dict[str, QTranslator] = {}
        for language in ("ko", "en"):
            translator = QTranslator()
            path = asset_path("i18n", f"hanpyo_{language}.qm")
            if not translator.load(str(path)):
                raise HanpyoError(f"the translation {path} could not be loaded")
            self._files[language] = translator
        self._installed: QTranslator | None = None

    def use(self, language: str) -> None:
        app = QCoreApplication.instance()
        if app is None:
            return
        self.uninstall()
        self._installed = self._files[language]
        app.installTranslator(self._installed)
        self._engine.retranslate()

    def uninstall(self) -> None:
        app = QCoreApplication.instance()
        if app is not None and self._installed is not None:
            app.removeTranslator(self._installed)
        self._installed = None


def screen_px_per_mm() -> float:
    """Pixels per millimetre of the primary screen, from the size the panel reports."""
    screen = QGuiApplication.primaryScreen()
    dpi = screen.physicalDotsPerInch() if screen is not None else 96.0
    return (dpi if dpi > 0 else 96.0) / 25.4


@dataclass
class KioskUi:
    engine: QQmlApplicationEngine
    window: QQuickWindow
    bridge: KioskBridge  # QML's ``vm``
    theme: Theme
    translations: Translations
    closed: bool = False

    def close(self) -> None:
        """Stop the card and sync threads, then delete the QML before the view model it reads."""
        if self.closed:
            return
        self.closed = True
        self.bridge.stop()
        self.window.hide()
        self.translations.uninstall()
        self.engine.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def leave_kiosk_mode(leave_file: Path | None) -> None:
    """An election manager left kiosk mode: say so in ``leave_file`` (the installed unit
    then stays down until the machine restarts) and end the event loop."""
    if leave_file is not None:
        try:
            leave_file.parent.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            leave_file.write_text(f"kiosk mode left by an election manager at {stamp}\n")
        except OSError as e:
            # the kiosk still stops; systemd will start it again, which is the safe side
            log.error("could not write %s: %s", leave_file, e)
    # exit(), not quit(): quit() asks the window first, and the window refuses to close.
    QCoreApplication.exit(0)


def build_ui(
    services: KioskServices,
    *,
    px_per_mm: float | None = None,
    size: QSize = DEFAULT_SIZE,
    fullscreen: bool = False,
    start: bool = True,
) -> KioskUi:
    """Load the QML window over ``services``. A QGuiApplication must exist already."""
    load_fonts()
    engine = QQmlApplicationEngine()
    translations = Translations(engine)
    theme = Theme(px_per_mm or screen_px_per_mm())
    bridge = KioskBridge(
        services,
        theme,
        retranslate=translations.use,
        quit_app=lambda: leave_kiosk_mode(services.config.leave_file),
    )
    translations.use("ko")
    context = engine.rootContext()
    context.setContextProperty("vm", bridge)
    context.setContextProperty("theme", theme)
    engine.load(QUrl.fromLocalFile(str(QML_DIR / "Main.qml")))
    roots = engine.rootObjects()
    if not roots or not isinstance(roots[0], QQuickWindow):
        raise HanpyoError("the kiosk screen (Main.qml) did not load; see the QML errors above")
    window = roots[0]
    window.resize(size)
    if fullscreen:
        window.setVisibility(QWindow.Visibility.FullScreen)
    else:
        window.show()
    if start:
        bridge.start()
    return KioskUi(engine, window, bridge, theme, translations)


def _crash(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    """No crash dialog, ever: log it and exit, and systemd starts the kiosk again."""
    log.critical("kiosk crashed:\n%s", "".join(traceback.format_exception(kind, value, tb)))
    sys.stderr.flush()
    QCoreApplication.exit(CRASH_EXIT)
    raise SystemExit(CRASH_EXIT)


def stop_on_signals() -> None:
    """SIGTERM (systemd stopping the unit) and SIGINT end the event loop, so the store, the
    sync worker and the readers are closed in order. Through a zero timer, not exit()
    itself: exit() does nothing before the loop runs, and a stop during start-up would be
    lost (systemd then waits 90 s and kills the kiosk)."""

    def stop(signum: int, frame: object) -> None:
        QTimer.singleShot(0, lambda: QCoreApplication.exit(0))

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def run(config: KioskConfig, *, fullscreen: bool = True) -> int:
    """Run the kiosk until an election manager leaves kiosk mode (or it crashes)."""
    app = QGuiApplication(sys.argv[:1])
    app.setApplicationName("hanpyo-kiosk")
    sys.excepthook = _crash
    stop_on_signals()
    # Python runs signal handlers only between bytecodes, so a timer wakes it while Qt waits.
    wake = QTimer()
    wake.start(250)
    wake.timeout.connect(lambda: None)
    services = build_kiosk(config)
    try:
        ui = build_ui(services, fullscreen=fullscreen)
        code = app.exec()
        ui.close()
        return code
    finally:
        services.close()
