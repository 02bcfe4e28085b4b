"""A trustee's own medium (a USB stick or a folder on their offline laptop): their ceremony
identity, the setup they agreed to, their secret polynomial between the rounds, the messages
they sent, and at the end their share z_j of the election key. Secrets are locked with the
trustee's passphrase (``medium_lock``: Argon2id and XSalsa20-Poly1305), written owner-only
(kiosk/core/secret_file.py), and never leave this folder.

One process holds one trustee's secrets: the first medium opened in a process is the only one
it may open (``open_medium``), so no run of the tool ever has two trustees' shares in memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.core.crypto import SealingKey, SigningKey
from kiosk.core.encoding import canonical_json
from kiosk.core.errors import EncodingError
from kiosk.core.secret_file import write_secret
from kiosk.core.verifiable.ceremony import (
    CeremonySetup,
    Polynomial,
    SignedMessage,
    TrusteeShare,
)
from kiosk.core.verifiable.ceremony_messages import has_control_characters
from ledger.service.medium_lock import KdfParams, MediumLock
from ledger.service.trustee_tool_error import TrusteeToolError as TrusteeToolError  # re-export

MEDIUM_MARK = "hanpyo-trustee-medium.txt"
IDENTITY_SECRET = "identity.secret.json"  # noqa: S105 (a file name, not a password)
IDENTITY_PUBLIC = "identity.public.json"
SETUP = "setup.json"
POLYNOMIAL = "polynomial.secret.json"
SHARE = "share.secret.json"
RESULT = "result.json"
SENT = "sent"  # a copy of every message this trustee signed, sent again verbatim on a re-run
SEEN = "seen"  # a copy of every message this trustee read, to catch one changed since
SECOND = ".second.json"  # beside a kept message: the different version read later (evidence)


def wrong_medium(path: Path, why: str) -> TrusteeToolError:
    return TrusteeToolError(
        f"{path}: {why}",
        "이 매체는 이 신탁인의 매체가 아닙니다. 본인의 USB를 꽂았는지 확인하세요.",
        "This is not this trustee's medium. Check that you inserted your own USB stick.",
    )


@dataclass(frozen=True, slots=True)
class PublicIdentity:
    """What a trustee hands the organiser: a name and two public keys (no index yet)."""

    name: str
    signing_key: bytes
    box_key: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "hanpyo-trustee-identity",
            "name": self.name,
            "signing_key": self.signing_key.hex(),
            "box_key": self.box_key.hex(),
        }

    @staticmethod
    def from_json(value: object, where: str) -> PublicIdentity:
        if not (isinstance(value, dict) and value.get("kind") == "hanpyo-trustee-identity"):
            raise TrusteeToolError(
                f"{where} is not a trustee's public identity file",
                "신탁인의 공개 신원 파일이 아닙니다.",
                "This is not a trustee's public identity file.",
            )
        try:
            return PublicIdentity(
                str(value["name"]),
                bytes.fromhex(str(value["signing_key"])),
                bytes.fromhex(str(value["box_key"])),
            )
        except (KeyError, ValueError) as e:
            raise EncodingError(f"{where}: a damaged identity file ({e})") from e

    def fingerprint(self) -> str:
        """Eight groups of four hex digits to read aloud when the file is handed over."""
        from kiosk.core.crypto import sha256

        digest = sha256(canonical_json(self.to_json())).hex()[:32]
        return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


_opened: Path | None = None


def open_medium(path: Path, lock: MediumLock) -> Medium:
    """The medium at ``path``, its secrets opened with ``lock`` (whose passphrase is asked
    only when a secret is needed); refuses a second, different medium in the same process."""
    where = path.resolve()
    _claim(where)
    medium = Medium(where, lock)
    medium.check()
    return medium


def _claim(where: Path) -> None:
    """The guard: this process's one medium is ``where``, or the tool stops here."""
    global _opened
    if _opened is not None and _opened != where:
        raise TrusteeToolError(
            f"this run already holds the medium {_opened}; refusing to open {where} as well",
            "한 번의 실행에서는 한 신탁인의 매체만 열 수 있습니다. 다른 신탁인의 매체는 "
            "그 신탁인이 자기 컴퓨터에서 따로 실행하세요.",
            "One run of the tool opens one trustee's medium only. Another trustee runs the "
            "tool on their own computer with their own medium.",
        )
    _opened = where


def create_medium(path: Path, name: str, lock: MediumLock) -> PublicIdentity:
    """A new ceremony identity on ``path`` (created, or empty), locked with ``lock``'s new
    passphrase: Ed25519 signs this trustee's messages, X25519 receives the shares sealed to
    them."""
    if path.exists() and any(path.iterdir()):
        raise TrusteeToolError(
            f"{path} is not empty; a new identity goes on an empty medium",
            "매체가 비어 있지 않습니다. 새 신원은 빈 USB나 빈 폴더에 만듭니다.",
            "The medium is not empty. A new identity goes on an empty USB stick or folder.",
        )
    if not name.strip():
        raise TrusteeToolError(
            "give the trustee's name", "이름을 입력하세요.", "Give the trustee's name."
        )
    if has_control_characters(name):
        raise TrusteeToolError(
            "the name holds control characters (the setup would refuse it)",
            "이름에 제어 문자가 있습니다. 글자만 입력하세요.",
            "The name holds control characters. Type letters only.",
        )
    _claim(path.resolve())  # the guard, before any secret is made
    lock.check_new_passphrase()  # asked (twice at a terminal) before anything is written
    params = KdfParams.new()
    signing, box = SigningKey.generate(), SealingKey.generate()
    secret = {"name": name, "signing_key": signing.seed.hex(), "box_key": box.secret.hex()}
    locked = lock.seal(IDENTITY_SECRET, secret, params)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_secret(path / IDENTITY_SECRET, locked)
    public = PublicIdentity(name, signing.public_key, box.public_key)
    _write_public(path / IDENTITY_PUBLIC, public.to_json())
    (path / MEDIUM_MARK).write_text(
        "Hanpyo trustee medium. Keep it locked away; never copy the *.secret.json files. They\n"
        "open only with the trustee's passphrase.\n"
        "한표 신탁인 매체입니다. 잠가서 보관하고 *.secret.json 파일은 절대 복사하지 마세요.\n"
        "비밀 파일은 신탁인의 암호로만 열립니다.\n",
        "utf-8",
    )
    return public


@dataclass(frozen=True, slots=True)
class Medium:
    """One trustee's medium, already checked to be one (``open_medium``)."""

    path: Path
    lock: MediumLock

    def check(self) -> None:
        if not (self.path / IDENTITY_SECRET).is_file():
            raise wrong_medium(self.path, "no trustee identity here (run `ledger trustee init`)")

    def _open(self, name: str) -> tuple[dict[str, Any], KdfParams]:
        try:
            data = (self.path / name).read_bytes()
        except OSError as e:
            raise wrong_medium(self.path, f"cannot read {name}: {e}") from e
        return self.lock.open(name, data)

    def _secret_json(self, name: str) -> dict[str, Any]:
        return self._open(name)[0]

    def _write_locked(self, name: str, secret: dict[str, Any]) -> None:
        """A new secret file, locked with the identity's salt and limits (opening the identity
        first proves the passphrase before anything is written)."""
        params = self._open(IDENTITY_SECRET)[1]
        write_secret(self.path / name, self.lock.seal(name, secret, params))

    @property
    def name(self) -> str:
        return str(self._secret_json(IDENTITY_SECRET)["name"])

    def signing_key(self) -> SigningKey:
        return SigningKey(bytes.fromhex(self._secret_json(IDENTITY_SECRET)["signing_key"]))

    def box_key(self) -> SealingKey:
        return SealingKey(bytes.fromhex(self._secret_json(IDENTITY_SECRET)["box_key"]))

    # -- the setup this trustee agreed to ---------------------------------------------------
    def index_in(self, setup: CeremonySetup) -> int:
        """My index in ``setup``, found by my signing key; a wrong medium otherwise."""
        mine = self.signing_key().public_key
        for trustee in setup.trustees:
            if trustee.signing_key == mine:
                if trustee.box_key != self.box_key().public_key:
                    raise wrong_medium(self.path, "the setup lists another box key for you")
                return trustee.index
        raise wrong_medium(
            self.path, f"this medium's trustee is not in the ceremony of {setup.election_id}"
        )

    def take_setup(self, setup: CeremonySetup) -> int:
        """Keep ``setup`` on the medium (the first time) and return my index in it. A medium
        takes part in one ceremony only: a different setup is refused."""
        index = self.index_in(setup)
        kept = self.path / SETUP
        if kept.exists():
            if self.setup().base_hash() != setup.base_hash():
                raise TrusteeToolError(
                    f"{self.path} already took part in the ceremony of "
                    f"{self.setup().election_id} with another setup",
                    "이 매체는 이미 다른 키 생성 절차에 참여했습니다. "
                    "새 절차에는 새 매체를 쓰세요.",
                    "This medium already took part in another key ceremony. Use a new "
                    "medium for a new ceremony.",
                )
            return index
        _write_public(kept, setup.to_json())
        return index

    def setup(self) -> CeremonySetup:
        try:
            return CeremonySetup.from_json(json.loads((self.path / SETUP).read_text("utf-8")))
        except FileNotFoundError as e:
            raise missing_step("round1", "this medium has not started round 1 yet") from e
        except (OSError, ValueError) as e:
            raise wrong_medium(self.path, f"cannot read the setup: {e}") from e

    # -- round 1's polynomial, kept until the ceremony's end --------------------------------
    def polynomial(self, threshold: int) -> Polynomial:
        """My polynomial: drawn and written once, read back on every later step."""
        if not (self.path / POLYNOMIAL).exists():
            self._write_locked(POLYNOMIAL, Polynomial.draw(threshold).to_json())
        return Polynomial.from_json(self._secret_json(POLYNOMIAL))

    def has_polynomial(self) -> bool:
        return (self.path / POLYNOMIAL).exists()

    # -- the messages I signed: sent again verbatim, never signed twice ---------------------
    def sent(self, kind: str) -> SignedMessage | None:
        path = self.path / SENT / f"{kind}.json"
        if not path.exists():
            return None
        return SignedMessage.from_json(path.read_bytes())

    def keep_sent(self, message: SignedMessage) -> None:
        folder = self.path / SENT
        folder.mkdir(exist_ok=True, mode=0o700)
        write_secret(folder / f"{message.kind}.json", message.to_bytes())

    # -- the messages I read: a later, different version is equivocation, with evidence ----
    def seen(self) -> dict[tuple[str, int], SignedMessage]:
        """Every message this trustee read before, as first read (checked then)."""
        folder = self.path / SEEN
        found: dict[tuple[str, int], SignedMessage] = {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            if not path.name.endswith(SECOND):
                message = SignedMessage.from_json(path.read_bytes())
                found[message.kind, message.sender] = message
        return found

    def keep_seen(self, message: SignedMessage, *, second: bool = False) -> Path:
        """Keep a message I read (never replacing one kept before); ``second`` keeps the
        different version of one already kept, beside it."""
        folder = self.path / SEEN
        folder.mkdir(exist_ok=True, mode=0o700)
        path = folder / f"{message.kind}-{message.sender}{SECOND if second else '.json'}"
        if not path.exists():
            write_secret(path, message.to_bytes())
        return path

    # -- the end: my share of the key -------------------------------------------------------
    def keep_share(self, share: TrusteeShare) -> None:
        path = self.path / SHARE
        if path.exists():
            if self.share().to_json() != share.to_json():
                raise TrusteeToolError(
                    f"{path} already holds a different share",
                    "매체에 이미 다른 키 몫이 있습니다. 선거 관리자에게 알리세요.",
                    "The medium already holds a different key share. Tell the election manager.",
                )
            return
        self._write_locked(SHARE, share.to_json())

    def share(self) -> TrusteeShare:
        if not (self.path / SHARE).exists():
            raise missing_step("finish", "this medium holds no share of the key yet")
        return TrusteeShare.from_json(self._secret_json(SHARE))

    def keep_result(self, record: dict[str, Any]) -> None:
        _write_public(self.path / RESULT, record, replace=True)

    def result(self) -> dict[str, Any]:
        try:
            value = json.loads((self.path / RESULT).read_text("utf-8"))
        except FileNotFoundError as e:
            raise missing_step("finish", "this medium has no ceremony result yet") from e
        if not isinstance(value, dict):
            raise wrong_medium(self.path, "result.json is damaged")
        return value


def missing_step(step: str, detail: str) -> TrusteeToolError:
    return TrusteeToolError(
        f"{detail}; run `ledger trustee {step}` first",
        f"앞 단계가 끝나지 않았습니다. 먼저 `ledger trustee {step}` 를 실행하세요.",
        f"An earlier step is not done. Run `ledger trustee {step}` first.",
    )


def _write_public(path: Path, value: Any, *, replace: bool = False) -> None:
    """A public file, still written owner-only and fsynced: the trustee copies it on purpose."""
    text = json.dumps(value, ensure_ascii=False, indent=1) + "\n"
    write_secret(path, text.encode("utf-8"), replace=replace)
