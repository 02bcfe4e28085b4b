"""How ceremony messages travel: as files in an exchange folder (a USB stick passed from hand
to hand) or through the ledger's relay. Either way each message goes in an envelope naming its
election and setup, and every reader checks every message it reads: the envelope, then the
sender's signature over the setup. Neither the folder nor the relay is trusted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kiosk.core.errors import EncodingError
from kiosk.core.secret_file import write_secret
from kiosk.core.verifiable.ceremony import CeremonyError, CeremonySetup, SignedMessage
from ledger.service.ceremony_medium import TrusteeToolError

ENVELOPE = "hanpyo-ceremony-message/v1"
_FILE = re.compile(r"(commitments|shares|verdict|reveal|result)-([0-9]{1,3})\.json")
RELAY_PAGE = 200  # messages per answer of the relay; a ceremony of 255 trustees needs ~7 pages


def envelope(setup: CeremonySetup, message: SignedMessage) -> dict[str, Any]:
    return {
        "hanpyo": ENVELOPE,
        "election": setup.election_id,
        "setup": setup.base_hash().hex(),
        "message": message.to_json(),
    }


def open_envelope(value: object, setup: CeremonySetup, where: str) -> SignedMessage:
    """The signed message in ``value``, after every check a reader makes; the errors say
    which check failed in words a trustee can act on."""
    if not (isinstance(value, dict) and value.get("hanpyo") == ENVELOPE):
        raise TrusteeToolError(
            f"{where} is not a ceremony message",
            "키 생성 절차의 메시지가 아닌 파일입니다.",
            "This file is not a key ceremony message.",
        )
    if value.get("election") != setup.election_id:
        raise TrusteeToolError(
            f"{where} is a message for election {value.get('election')!r}, "
            f"not {setup.election_id!r}",
            "다른 선거의 메시지입니다. 이 선거의 교환 폴더만 쓰세요.",
            "This message is for another election. Use this election's exchange folder only.",
        )
    if value.get("setup") != setup.base_hash().hex():
        raise TrusteeToolError(
            f"{where} was made for another setup of {setup.election_id}",
            "다른 설정 파일로 만든 메시지입니다. 모든 신탁인이 같은 설정 파일을 썼는지 "
            "선거 관리자에게 확인하세요.",
            "This message was made with another setup file. Ask the election manager to check "
            "that every trustee uses the same setup file.",
        )
    try:
        message = SignedMessage.from_json(value.get("message"))
        message.verify(setup)
    except (CeremonyError, EncodingError) as e:
        raise TrusteeToolError(
            f"{where}: {e}",
            "서명이 맞지 않는 메시지입니다. 누군가 메시지를 바꾸었거나 망가졌습니다. 선거 "
            "관리자에게 알리세요.",
            "A message's signature does not verify: it was changed or damaged. Tell the "
            "election manager.",
        ) from e
    return message


class Mailbox(Protocol):
    """Where a trustee posts their signed messages and reads everyone's."""

    def post(self, message: SignedMessage) -> None: ...

    def messages(self) -> list[SignedMessage]: ...


@dataclass(frozen=True, slots=True)
class ExchangeFolder:
    """One folder holding every trustee's messages as ``<kind>-<trustee>.json``."""

    path: Path
    setup: CeremonySetup

    def post(self, message: SignedMessage) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / f"{message.kind}-{message.sender}.json"
        text = json.dumps(envelope(self.setup, message), ensure_ascii=False, indent=1) + "\n"
        if target.exists():
            if target.read_text("utf-8") == text:
                return  # the same message, posted again
            raise TrusteeToolError(
                f"{target} already holds a different {message.kind} message from trustee "
                f"{message.sender}",
                "교환 폴더에 이미 다른 메시지가 있습니다. 선거 관리자에게 알리세요.",
                "The exchange folder already holds a different message of yours. Tell the "
                "election manager.",
            )
        write_secret(target, text.encode("utf-8"))

    def messages(self) -> list[SignedMessage]:
        if not self.path.is_dir():
            raise TrusteeToolError(
                f"the exchange folder {self.path} is not there",
                "교환 폴더(USB)가 없습니다. USB를 꽂고 경로를 확인하세요.",
                "The exchange folder (USB stick) is not there. Insert it and check the path.",
            )
        found = []
        for path in sorted(self.path.glob("*.json")):
            try:
                value = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError) as e:
                if _FILE.fullmatch(path.name):
                    raise TrusteeToolError(
                        f"{path} cannot be read: {e}",
                        "교환 폴더의 메시지 파일이 망가졌습니다.",
                        "A message file in the exchange folder is damaged.",
                    ) from e
                continue  # not a message: the setup, identity files, notes
            if isinstance(value, dict) and value.get("hanpyo") == ENVELOPE:
                found.append(open_envelope(value, self.setup, str(path)))
        return found


def one_each(messages: Iterable[SignedMessage]) -> dict[tuple[str, int], SignedMessage]:
    """One message per (kind, sender); two different ones name the trustee (equivocation)."""
    chosen: dict[tuple[str, int], SignedMessage] = {}
    for message in messages:
        key = (message.kind, message.sender)
        earlier = chosen.get(key)
        if earlier is not None and earlier.content() != message.content():
            raise TrusteeToolError(
                f"trustee {message.sender} sent two different {message.kind} messages",
                f"신탁인 {message.sender} 이(가) 서로 다른 메시지를 두 번 보냈습니다. "
                "절차를 멈추고 선거 관리자에게 알리세요.",
                f"Trustee {message.sender} sent two different messages of one kind. Stop and "
                "tell the election manager.",
            )
        chosen.setdefault(key, message)
    return chosen
