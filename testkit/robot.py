"""Hands for the kiosk window: find a control by its objectName, scroll it into view and tap
its centre with a real mouse event. The scripted demo and the screen tests both use it, so
neither can press a button a voter could not see or reach."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QPoint, QPointF, Qt
from PySide6.QtQuick import QQuickItem, QQuickWindow
from PySide6.QtTest import QTest

WAIT_S = 15.0


def walk(item: QQuickItem) -> Iterator[QQuickItem]:
    yield item
    for child in item.childItems():
        yield from walk(child)


def flickable_of(item: QQuickItem) -> QQuickItem | None:
    parent = item.parentItem()
    while parent is not None:
        if parent.inherits("QQuickFlickable"):
            return parent
        parent = parent.parentItem()
    return None


def pump(seconds: float) -> None:
    """Run the event loop for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.002)


class Robot:
    def __init__(self, window: QQuickWindow, wait: Callable[[float], None] = pump) -> None:
        self.window = window
        self._wait = wait

    def find(self, name: str) -> QQuickItem | None:
        for item in walk(self.window.contentItem()):
            if item.objectName() == name and item.isVisible():
                return item
        return None

    def text(self, name: str) -> str:
        item = self.find(name)
        if item is None:
            raise LookupError(f"no visible item {name!r}")
        return str(item.property("text"))

    def until(self, condition: Callable[[], bool], timeout: float = WAIT_S, what: str = "") -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError(f"waited {timeout:.0f} s for {what or condition}")
            self._wait(0.01)

    def reveal(self, name: str) -> QQuickItem:
        """Find ``name``, scrolling every list on screen until it is created and in view."""
        item: QQuickItem | None = self.find(name)
        if item is None:
            flicks = [
                i
                for i in walk(self.window.contentItem())
                if i.inherits("QQuickFlickable") and i.isVisible()
            ]
            for flick in flicks:
                flick.setProperty("contentY", 0)
                for _ in range(60):
                    self._wait(0.01)
                    item = self.find(name)
                    if item is not None or flick.property("atYEnd"):
                        break
                    flick.setProperty("contentY", flick.property("contentY") + flick.height() / 2)
                if item is not None:
                    break
        if item is None:
            raise LookupError(f"no visible item {name!r}")
        scroller = flickable_of(item)
        if scroller is not None:
            top = item.mapToItem(scroller, QPointF(0, 0)).y()
            if top < 0 or top + item.height() > scroller.height():
                scroller.setProperty(
                    "contentY", scroller.property("contentY") + top - scroller.height() / 4
                )
                self._wait(0.02)
        return item

    def tap(self, name: str) -> None:
        item = self.reveal(name)
        if not item.isEnabled():
            raise AssertionError(f"{name!r} is disabled")
        centre = item.mapToScene(QPointF(item.width() / 2, item.height() / 2))
        point = QPoint(int(centre.x()), int(centre.y()))
        if not (0 <= point.x() < self.window.width() and 0 <= point.y() < self.window.height()):
            raise AssertionError(f"{name!r} is off the screen at {point}")
        QTest.mouseClick(
            self.window, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point
        )
        self._wait(0.01)

    def screenshot(self, path: Path) -> Path:
        self._wait(0.05)
        path.parent.mkdir(parents=True, exist_ok=True)
        image = self.window.grabWindow()
        if image.isNull() or not image.save(str(path)):
            raise OSError(f"could not save a screenshot to {path}")
        return path
