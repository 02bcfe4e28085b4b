"""The PC/SC service context, reader listing, and PC/SC failures turned into the card errors."""

from __future__ import annotations

from typing import Any

from smartcard import scard

from kiosk.hardware.card.errors import CardError, CardRemovedError, ReaderError

PNP_READER = "\\\\?PnP?\\Notification"
_SERVICE_GONE = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_INVALID_HANDLE,
    scard.SCARD_F_COMM_ERROR,
}
_CARD_GONE = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_RESET_CARD,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
}
_READER_GONE = {scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE}


def return_code(rc: int) -> int:
    """``rc`` as PC/SC's unsigned 32-bit code (pyscard hands some back as negative ints)."""
    return rc & 0xFFFFFFFF


def card_error(rc: int, doing: str) -> CardError:
    """The project's error for PC/SC return code ``rc``."""
    code = return_code(rc)
    text = f"{doing}: {scard.SCardGetErrorMessage(rc)} ({code:#010x})"
    if code in {return_code(c) for c in _CARD_GONE}:
        return CardRemovedError(text)
    if code in {return_code(c) for c in _SERVICE_GONE | _READER_GONE}:
        return ReaderError(text)
    if code == return_code(scard.SCARD_E_SHARING_VIOLATION):
        return ReaderError(text + "; another program holds the card")
    return CardError(text)


def check(rc: int, doing: str) -> None:
    if rc != scard.SCARD_S_SUCCESS:
        raise card_error(rc, doing)


class Context:
    """A PC/SC context, established on demand and dropped when the service goes away."""

    def __init__(self) -> None:
        self.handle: Any = None

    def get(self) -> Any:
        if self.handle is None:
            rc, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            check(rc, "connecting to the PC/SC service")
            self.handle = handle
        return self.handle

    def release(self) -> None:
        if self.handle is not None:
            scard.SCardReleaseContext(self.handle)
            self.handle = None


def list_readers() -> list[str]:
    """The names of the connected readers; ``ReaderError`` if pcscd is not running."""
    context = Context()
    try:
        return list_in(context.get())
    finally:
        context.release()


def list_in(handle: Any) -> list[str]:
    rc, readers = scard.SCardListReaders(handle, [])
    if return_code(rc) == return_code(scard.SCARD_E_NO_READERS_AVAILABLE):
        return []
    check(rc, "listing readers")
    return list(readers)
