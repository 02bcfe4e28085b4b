"""The project's error tree: every error carries a message a voter or official can read."""

from __future__ import annotations


class HanpyoError(Exception):
    """Root of every error Hanpyo raises on purpose.

    ``user_message`` is a (Korean, English) pair for the person in front of the screen;
    ``str(error)`` is the technical detail for logs and operators.
    """

    user_message: tuple[str, str] = (
        "처리 중 문제가 생겼습니다. 진행 요원에게 알려 주세요.",
        "Something went wrong. Please tell a staff member.",
    )

    def __init__(self, detail: str, *, user_message: tuple[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if user_message is not None:
            self.user_message = user_message


class EncodingError(HanpyoError):
    """Bytes or text that are not in the form the protocol requires."""


class VerificationError(HanpyoError):
    """A signature, hash, link or proof did not check out.

    Names what was expected and what was found, so an auditor can see the mismatch.
    """

    def __init__(self, detail: str, *, expected: str | None = None, found: str | None = None):
        text = detail
        if expected is not None or found is not None:
            text = f"{detail} (expected {expected}, found {found})"
        super().__init__(text)
        self.expected = expected
        self.found = found


class ElectionPackageError(HanpyoError):
    """An election package that is malformed, inconsistent or not signed by the authority."""

    user_message = (
        "선거 정보 파일이 올바르지 않습니다. 선거 관리자에게 알려 주세요.",
        "The election file is not valid. Please tell the election manager.",
    )


class BallotError(HanpyoError):
    """A ballot that breaks a contest rule; ``contest`` names the contest at fault."""

    user_message = (
        "투표 내용에 문제가 있습니다. 화면의 안내를 확인해 주세요.",
        "There is a problem with this ballot. Please check the message on screen.",
    )

    def __init__(self, detail: str, *, contest: str | None = None) -> None:
        super().__init__(detail)
        self.contest = contest


class BlockError(HanpyoError):
    """A block that is malformed or not allowed where it stands."""


class ChainError(VerificationError):
    """A kiosk chain that fails verification at ``height`` for ``reason``.

    ``reason`` is a short machine-readable code (``bad_signature``, ``prev_mismatch``...).
    """

    def __init__(
        self,
        height: int,
        reason: str,
        detail: str,
        *,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        super().__init__(f"block {height}: {reason}: {detail}", expected=expected, found=found)
        self.height = height
        self.reason = reason


class StateError(HanpyoError):
    """An action that the kiosk's current mode or session state does not allow."""

    user_message = (
        "지금은 할 수 없는 작업입니다. 진행 요원에게 알려 주세요.",
        "This cannot be done right now. Please tell a staff member.",
    )
