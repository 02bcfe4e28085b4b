"""The platform's refusals: each an HTTP status, a stable code the page acts on and a message in
Korean and English the page shows as it is (docs/spec/online.md, "The platform's API")."""

from __future__ import annotations

from kiosk.core.errors import HanpyoError


class ApiError(HanpyoError):
    """A request the platform refuses. ``code`` is stable (the page and the tests act on it);
    ``user_message`` is what the voter reads; ``str()`` is the detail for the platform's log.
    ``reason`` narrows ``bad_ballot`` down (the ledger's and the count's reason names where
    they exist); ``retry_after`` (seconds) goes out as the Retry-After header of a 429."""

    def __init__(
        self,
        status: int,
        code: str,
        message: tuple[str, str],
        detail: str | None = None,
        *,
        reason: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail or code, user_message=message)
        self.status, self.code, self.reason, self.retry_after = status, code, reason, retry_after

    def to_json(self) -> dict[str, object]:
        ko, en = self.user_message
        body: dict[str, object] = {"error": self.code, "message": {"ko": ko, "en": en}}
        if self.reason is not None:
            body["reason"] = self.reason
        return body


# -- the messages -------------------------------------------------------------------------------
UNKNOWN_CODE = (
    "투표 코드를 확인할 수 없습니다. 안내문에 적힌 코드를 다시 입력해 주세요.",
    "This voting code is not recognised. Please enter the code on your letter again.",
)
BAD_SIGNATURE = (
    "본인 확인에 실패했습니다. 투표 코드를 다시 입력해 주세요.",
    "The sign-in could not be verified. Please enter your voting code again.",
)
NOT_OPEN = (
    "아직 온라인 투표가 열리지 않았습니다. 안내문에 적힌 투표 시간에 다시 와 주세요.",
    "Online voting is not open yet. Please come back during the voting hours on your letter.",
)
TEST_ONLY_IN_TEST = (
    "시험용 코드는 시험 운영 중에만 쓸 수 있습니다.",
    "A test code works only while the platform runs a test.",
)
OFFICIAL_NOT_IN_TEST = (
    "지금은 시험 운영 중이라 실제 투표를 받지 않습니다. 투표 시간에 다시 와 주세요.",
    "The platform is running a test and takes no real votes now. Please come back during "
    "the voting hours.",
)
CLOSED = (
    "투표가 마감되었습니다. 더는 투표할 수 없습니다.",
    "Voting has closed. No more ballots can be cast.",
)
ALREADY_VOTED_HERE = (
    "이미 온라인으로 투표하셨고 그 투표가 기록되어 있습니다. 다시 투표할 수 없습니다.",
    "You have already voted online and your ballot is recorded. You cannot vote again.",
)
FIRST_COUNTS = (
    "이미 투표하셨습니다. 이번 투표는 처음 한 투표만 인정하므로 다시 투표할 수 없습니다.",
    "You have already voted. In this vote only your first ballot counts, so you cannot vote again.",
)
VOTED_IN_PERSON = (
    "이미 현장에서 투표하셨습니다. 현장 투표가 인정되므로 온라인으로 다시 투표할 수 없습니다.",
    "You have already voted in person. Your ballot there counts, so you cannot vote again online.",
)
SESSION_EXPIRED = (
    "로그인 시간이 지났습니다. 투표 코드를 다시 입력해 주세요. 투표는 아직 기록되지 않았습니다.",
    "Your sign-in has expired. Please enter your voting code again. No ballot was recorded.",
)
BAD_BALLOT = (
    "투표지를 확인할 수 없어 기록하지 않았습니다. 페이지를 새로 고친 뒤 다시 해 주세요.",
    "Your ballot could not be verified, so it was not recorded. Please reload the page and "
    "try again.",
)
TOO_MANY = (
    "시도가 너무 많습니다. 잠시 뒤에 다시 해 주세요.",
    "Too many attempts. Please wait a while and try again.",
)
TOO_MANY_CHECKS = (
    "이 로그인으로는 암호화 확인을 더 할 수 없습니다. 투표하시거나 다시 로그인해 주세요.",
    "No more encryption checks in this sign-in. Please cast your ballot or sign in again.",
)
BAD_REQUEST = (
    "요청을 읽을 수 없습니다. 페이지를 새로 고친 뒤 다시 해 주세요.",
    "The request could not be read. Please reload the page and try again.",
)
TOO_LARGE = (
    "요청이 너무 큽니다. 페이지를 새로 고친 뒤 다시 해 주세요.",
    "The request is too large. Please reload the page and try again.",
)
NOT_FOUND = ("찾을 수 없는 주소입니다.", "There is nothing at this address.")
UNAVAILABLE = (
    "투표 플랫폼에 문제가 있어 지금은 기록할 수 없습니다. 잠시 뒤에 다시 해 주세요.",
    "The voting platform has a problem and cannot record ballots now. Please try again later.",
)
LEDGER_REFUSES = (
    "지금은 온라인 투표를 기록할 수 없습니다. 운영자가 문제를 해결하고 있습니다. 이 투표는 "
    "기록되지 않았습니다. 나중에 다시 해 주세요.",
    "Online ballots cannot be recorded now; the operators are fixing a problem. This ballot "
    "was not recorded. Please try again later.",
)
PAGE_NOT_BUILT = (
    "투표 페이지가 아직 준비되지 않았습니다(빌드되지 않음). 운영자에게 알려 주세요.",
    "The voting page is not built yet. Please tell the operator.",
)
TOO_MANY_CHECKS_VOTER = (
    "이 투표 코드로는 암호화 확인을 더 할 수 없습니다. 확인 없이 투표하실 수는 있습니다.",
    "No more encryption checks can be made with this voting code. You can still cast your ballot.",
)
TOO_MANY_REFUSED = (
    "이 투표 코드로 보낸 투표지가 너무 여러 번 거부되어 더 받지 않습니다. 선거 관리자에게 "
    "문의해 주세요.",
    "Too many ballots sent with this voting code were refused, so no more are taken. Please "
    "contact the election office.",
)
NOT_JSON = (
    "요청 형식이 올바르지 않습니다. 페이지를 새로 고친 뒤 다시 해 주세요.",
    "The request was not sent as JSON (Content-Type: application/json), so it was not read. "
    "Please reload the page and try again.",
)
CHECKED_BALLOT = (
    "암호화 확인을 한 투표지는 투표에 쓸 수 없습니다. 투표지를 다시 만들어 투표해 주세요. "
    "이 투표지는 기록되지 않았습니다.",
    "A ballot that was checked can never be cast. Please make the ballot again and cast the "
    "new one. This ballot was not recorded.",
)
