"""The trustee tool's side of the ledger's relay: post my signed messages, read everyone's.
The relay is not trusted: every message read from it is checked here as from a folder."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from kiosk.core.verifiable.ceremony import KINDS, CeremonySetup, SignedMessage
from ledger.service.ceremony_mailbox import envelope, open_envelope
from ledger.service.ceremony_medium import TrusteeToolError

TIMEOUT_S = 30


def _unreachable(url: str, detail: str) -> TrusteeToolError:
    return TrusteeToolError(
        f"the relay at {url}: {detail}",
        "중계 서버에 연결할 수 없거나 요청을 거절했습니다. 주소와 네트워크를 확인하세요.",
        "The relay cannot be reached or refused the request. Check the address and network.",
    )


class RelayMailbox:
    """The relay of the ledger at ``url`` for ``setup``'s election."""

    def __init__(self, url: str, setup: CeremonySetup) -> None:
        self.url, self.setup = url.rstrip("/"), setup
        self.base = f"{self.url}/v1/ceremony/{quote(setup.election_id, safe='')}"
        self.session = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self.session.request(method, self.base + path, timeout=TIMEOUT_S, **kwargs)
        except requests.RequestException as e:
            raise _unreachable(self.url, str(e)) from e
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200:
            detail = body.get("detail", answer.text[:200]) if isinstance(body, dict) else ""
            if answer.status_code == 409 and body.get("reason") == "equivocation":
                raise TrusteeToolError(
                    f"the relay refused: {detail}",
                    "중계 서버에 이미 다른 메시지가 있습니다. 선거 관리자에게 알리세요.",
                    "The relay already holds a different message of yours. Tell the election "
                    "manager.",
                )
            raise _unreachable(self.url, f"{answer.status_code} {detail}")
        return body

    def post(self, message: SignedMessage) -> None:
        self._call("POST", "/messages", json=envelope(self.setup, message))

    def messages(self) -> list[SignedMessage]:
        """Every message the relay holds, page by page. An honest relay keeps one message of
        each kind per trustee, so more than that is a relay repeating itself (it could number
        copies of one message for ever and hold this step and its memory): refused."""
        found: list[SignedMessage] = []
        most = len(KINDS) * self.setup.size
        after = 0
        while True:
            page = self._call("GET", "/messages", params={"after": after})
            items = page.get("messages") if isinstance(page, dict) else None
            if not isinstance(items, list) or not items:
                return found
            for item in items:
                seq = item.get("seq") if isinstance(item, dict) else None
                if not isinstance(seq, int) or seq <= after:
                    raise _unreachable(self.url, "an answer out of order")
                found.append(open_envelope(item.get("envelope"), self.setup, f"relay #{seq}"))
                after = seq
                if len(found) > most:
                    raise TrusteeToolError(
                        f"the relay at {self.url} answered more messages than a ceremony of "
                        f"{self.setup.size} trustees has ({most})",
                        "중계 서버가 같은 메시지를 되풀이해 보냅니다. 중계 서버를 믿을 수 "
                        "없으니 선거 관리자에게 알리고 교환 USB로 진행하세요.",
                        "The relay keeps sending messages over again. It cannot be trusted: "
                        "tell the election manager and continue with the exchange USB stick.",
                    )


def publish_setup(url: str, setup: CeremonySetup, token: str) -> None:
    """Give the relay the setup it checks this ceremony's messages against (an enrol token)."""
    relay = RelayMailbox(url, setup)
    relay._call("PUT", "/setup", json=setup.to_json(), headers={"Authorization": f"Bearer {token}"})
