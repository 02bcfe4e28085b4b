"""A PC/SC connection to the card in one reader, and waiting for a card to come or go."""

from __future__ import annotations

from typing import Any

from smartcard import scard

from kiosk.hardware.card.errors import CardError, CardRemovedError, ReaderError
from kiosk.hardware.pcsc.context import Context, card_error, check, return_code


class PcscConnection:
    """A connection to the card in one reader; implements ``openpgp.CardConnection``."""

    def __init__(self, reader: str) -> None:
        self.reader = reader
        self._context = Context()
        self._card: Any = None
        self._protocol: Any = None

    def connect(self) -> PcscConnection:
        try:
            handle = self._context.get()
            rc, card, protocol = scard.SCardConnect(
                handle,
                self.reader,
                scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            check(rc, f"connecting to the card in {self.reader}")
        except CardError:
            self._context.release()
            raise
        self._card, self._protocol = card, protocol
        return self

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._card is None:
            raise CardRemovedError("no card is connected")
        rc, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        if rc != scard.SCARD_S_SUCCESS:
            error = card_error(rc, "talking to the card")
        elif len(response) < 2:
            error = CardError(f"the card answered {len(response)} bytes, not a status word")
        else:
            return bytes(response[:-2]), (response[-2] << 8) | response[-1]
        # Readers report a card pulled mid-command in different ways (an error, or an empty
        # answer); what the user did is best told by whether the card is still there.
        if not isinstance(error, CardRemovedError | ReaderError) and self._card_gone():
            raise CardRemovedError(f"the card was removed from {self.reader}: {error}")
        raise error

    def _card_gone(self, settle_ms: int = 1000) -> bool:
        """True if the card left the reader, waiting briefly for pcscd to notice."""
        handle = self._context.get()
        state = scard.SCARD_STATE_UNAWARE
        for timeout in (0, settle_ms):
            rc, changed = scard.SCardGetStatusChange(handle, timeout, [(self.reader, state)])
            if return_code(rc) == return_code(scard.SCARD_E_TIMEOUT):
                return False
            if rc != scard.SCARD_S_SUCCESS:
                return True  # the reader itself is gone: so is the card, for the user
            state = changed[0][1] & ~scard.SCARD_STATE_CHANGED
            if not state & scard.SCARD_STATE_PRESENT:
                return True
        return False

    def close(self) -> None:
        if self._card is not None:
            scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
            self._card = None
        self._context.release()

    def __enter__(self) -> PcscConnection:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for_card(reader: str, *, present: bool, timeout_s: float) -> None:
    """Block until a card is in (or out of) ``reader``; ``CardError`` after ``timeout_s``."""
    context = Context()
    try:
        handle = context.get()
        state = scard.SCARD_STATE_UNAWARE
        deadline_ms = int(timeout_s * 1000)
        while True:
            rc, changed = scard.SCardGetStatusChange(
                handle,
                0 if state == scard.SCARD_STATE_UNAWARE else min(deadline_ms, 250),
                [(reader, state)],
            )
            if return_code(rc) == return_code(scard.SCARD_E_TIMEOUT):
                deadline_ms -= 250
                if deadline_ms <= 0:
                    raise CardError(
                        f"timed out waiting for the card to be "
                        f"{'inserted in' if present else 'removed from'} {reader}"
                    )
                continue
            check(rc, f"watching {reader}")
            state = changed[0][1] & ~scard.SCARD_STATE_CHANGED
            if bool(state & scard.SCARD_STATE_PRESENT) == present:
                return
    finally:
        context.release()
