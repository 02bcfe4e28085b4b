"""Errors of card readers and cards, each with what the voter or staff member should read."""

from __future__ import annotations

from kiosk.core.errors import HanpyoError

ASK_STAFF = ("진행 요원에게 도움을 요청해 주세요.", "Please ask a staff member for help.")


class CardError(HanpyoError):
    """Anything that went wrong talking to a card."""

    user_message = (
        "카드를 읽을 수 없습니다. 카드를 다시 넣어 주세요.",
        "The card could not be read. Please insert it again.",
    )


class ApduError(CardError):
    """The card answered a command with an error status word."""

    def __init__(self, command: str, sw: int) -> None:
        super().__init__(f"{command} failed with status {sw:04X}")
        self.command = command
        self.sw = sw


class MalformedResponseError(CardError):
    """The card's answer does not have the structure the OpenPGP card specification gives."""


class NotOpenPGPCardError(CardError):
    user_message = (
        "투표용 카드가 아닙니다. 선거에서 받은 카드를 넣어 주세요.",
        "This is not a voting card. Please insert the card you were given for this vote.",
    )


class UnsupportedCardError(CardError):
    """An OpenPGP card this kiosk cannot use: wrong key type, a KDF-DO, no key."""

    user_message = (
        "이 카드는 이 단말기에서 쓸 수 없습니다. " + ASK_STAFF[0],
        "This card cannot be used on this kiosk. " + ASK_STAFF[1],
    )


class WrongPinError(CardError):
    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong PIN, {tries_left} tries left")
        self.tries_left = tries_left
        self.user_message = (
            f"비밀번호가 맞지 않습니다. {tries_left}번 더 시도할 수 있습니다.",
            f"That PIN is not correct. You have {tries_left} more "
            f"{'try' if tries_left == 1 else 'tries'}.",
        )


class CardBlockedError(CardError):
    user_message = (
        "카드가 잠겼습니다. " + ASK_STAFF[0],
        "This card is locked. " + ASK_STAFF[1],
    )


class NotEnrolledError(CardError):
    user_message = (
        "이 카드는 이번 투표 명부에 없습니다. " + ASK_STAFF[0],
        "This card is not on the list for this vote. " + ASK_STAFF[1],
    )


class AuthenticationFailedError(CardError):
    """The card's signature over the kiosk's challenge did not verify: a forged or faulty card."""

    user_message = (
        "카드 확인에 실패했습니다. " + ASK_STAFF[0],
        "The card could not be verified. " + ASK_STAFF[1],
    )


class CardRemovedError(CardError):
    user_message = (
        "카드가 빠졌습니다. 처음부터 다시 시작합니다.",
        "The card was removed. Starting again.",
    )


class ReaderError(CardError):
    """The reader or the PC/SC service is missing or failed."""

    user_message = (
        "카드 리더에 문제가 있습니다. " + ASK_STAFF[0],
        "There is a problem with the card reader. " + ASK_STAFF[1],
    )
