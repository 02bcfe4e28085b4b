"""The passphrase lock on a trustee's secret files: a stolen or copied medium gives nothing
without its trustee's passphrase (mode 0600 means nothing on a FAT stick).

Each secret file is libsodium's ``crypto_secretbox`` (XSalsa20-Poly1305, through PyNaCl's
``SecretBox``) under a key derived from the passphrase by Argon2id (RFC 9106; libsodium's
``crypto_pwhash`` with ``ALG_ARGON2ID13``). Beside the ciphertext the file stores the salt and
the cost limits it was made with; they need no signature, since a changed salt or limit derives
another key and the box no longer opens. ``secretbox`` takes no associated data, so the file's
own name goes inside the plaintext and is checked on opening: a share cannot be passed off as
a polynomial or an identity.

One passphrase per medium, asked at most once per run (``MediumLock``); every file of a medium
uses the salt and limits of its identity file, so a run derives the key once.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.secret
import nacl.utils

from kiosk.core.encoding import canonical_json, parse_json
from kiosk.core.errors import EncodingError
from ledger.service.trustee_tool_error import TrusteeToolError

FORMAT = "hanpyo-medium-secret/v1"
#: libsodium's MODERATE limits (3 passes over 256 MiB): about 0.7-1 s on the project's test
#: machine, where SENSITIVE (4 passes over 1 GiB) took 8 s. Every secret file of a real medium
#: is written with at least these.
PRODUCTION_OPSLIMIT = argon2id.OPSLIMIT_MODERATE
PRODUCTION_MEMLIMIT = argon2id.MEMLIMIT_MODERATE
#: Far above anything we write; a file asking for more is damaged or hostile (it would only
#: make the tool run out of memory).
MAX_MEMLIMIT = 4 * 1024**3
#: TESTS ONLY. Set to "1", `ledger trustee init` writes media with libsodium's minimum cost so
#: the 5-process ceremony tests stay fast, and says so loudly. It cannot weaken a medium made
#: without it: readers take the limits from the file (changed limits derive another key).
TESTING_VARIABLE = "HANPYO_TESTING_ONLY_WEAK_MEDIUM_PASSPHRASE"
MIN_PASSPHRASE_CHARACTERS = 10


def weak_for_testing() -> bool:
    return os.environ.get(TESTING_VARIABLE) == "1"


TESTING_WARNING = (
    f"!! {TESTING_VARIABLE} is set: this medium's passphrase is hashed with libsodium's minimum "
    "cost, for tests only; never use it for a real election / 시험 전용 설정입니다: 실제 선거에 "
    "이 매체를 쓰지 마세요"
)
WEAK_MEDIUM_WARNING = (
    "!! this medium's passphrase protection is below the production minimum (it was made for "
    "tests, or with the testing variable set): do not use it for a real election / 이 매체의 "
    "암호 보호가 실제 선거 기준보다 약합니다"
)


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id's salt and cost limits for one medium."""

    salt: bytes
    opslimit: int
    memlimit: int

    @staticmethod
    def new() -> KdfParams:
        salt = nacl.utils.random(argon2id.SALTBYTES)
        if weak_for_testing():
            return KdfParams(salt, argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)
        return KdfParams(salt, PRODUCTION_OPSLIMIT, PRODUCTION_MEMLIMIT)

    def weak(self) -> bool:
        return self.opslimit < PRODUCTION_OPSLIMIT or self.memlimit < PRODUCTION_MEMLIMIT

    def to_json(self) -> dict[str, Any]:
        return {
            "algorithm": "argon2id13",
            "salt": self.salt.hex(),
            "opslimit": self.opslimit,
            "memlimit": self.memlimit,
        }

    @staticmethod
    def from_json(value: object) -> KdfParams:
        if not (isinstance(value, dict) and value.get("algorithm") == "argon2id13"):
            raise EncodingError("the passphrase hashing is not Argon2id")
        salt, ops, mem = value.get("salt"), value.get("opslimit"), value.get("memlimit")
        if not (isinstance(salt, str) and isinstance(ops, int) and isinstance(mem, int)):
            raise EncodingError("the passphrase hashing's salt or limits are damaged")
        try:
            salt_bytes = bytes.fromhex(salt)
        except ValueError as e:
            raise EncodingError("the salt is not hexadecimal") from e
        if len(salt_bytes) != argon2id.SALTBYTES:
            raise EncodingError("the salt has the wrong length")
        if not argon2id.OPSLIMIT_MIN <= ops <= argon2id.OPSLIMIT_MAX:
            raise EncodingError("the passphrase hashing's passes are out of range")
        if not argon2id.MEMLIMIT_MIN <= mem <= MAX_MEMLIMIT:
            raise EncodingError("the passphrase hashing's memory is out of range")
        return KdfParams(salt_bytes, ops, mem)


class MediumLock:
    """One medium's passphrase, asked (``ask``) at most once per run and only when a secret is
    read or written, and the keys derived from it. ``warn`` shows a line to the trustee."""

    def __init__(self, ask: Callable[[], str], warn: Callable[[str], None]) -> None:
        self._ask, self._warn = ask, warn
        self._passphrase: bytes | None = None
        self._keys: dict[KdfParams, bytes] = {}
        self._warned = False

    def __repr__(self) -> str:  # never print the passphrase or a key
        return "MediumLock(…)"

    def _secret(self) -> bytes:
        if self._passphrase is None:
            # NFC: the same Korean passphrase typed on two systems may arrive composed or not
            self._passphrase = unicodedata.normalize("NFC", self._ask()).encode("utf-8")
        return self._passphrase

    def check_new_passphrase(self) -> None:
        """At init: ask now, and refuse a passphrase too short to resist guessing."""
        if len(self._secret().decode("utf-8")) < MIN_PASSPHRASE_CHARACTERS:
            self._passphrase = None
            raise TrusteeToolError(
                f"the passphrase is shorter than {MIN_PASSPHRASE_CHARACTERS} characters",
                f"암호는 {MIN_PASSPHRASE_CHARACTERS}자 이상이어야 합니다. 여러 낱말로 된 긴 "
                "문장을 쓰세요.",
                f"The passphrase must be at least {MIN_PASSPHRASE_CHARACTERS} characters. Use a "
                "long sentence of several words.",
            )

    def _key(self, params: KdfParams) -> bytes:
        if params.weak() and not self._warned:
            self._warned = True
            self._warn(TESTING_WARNING if weak_for_testing() else WEAK_MEDIUM_WARNING)
        key = self._keys.get(params)
        if key is None:
            key = argon2id.kdf(
                nacl.secret.SecretBox.KEY_SIZE,
                self._secret(),
                params.salt,
                opslimit=params.opslimit,
                memlimit=params.memlimit,
            )
            self._keys[params] = key
        return key

    def seal(self, name: str, secret: dict[str, Any], params: KdfParams) -> bytes:
        """The file ``name`` holding ``secret``, locked with the passphrase."""
        plaintext = canonical_json({"file": name, "secret": secret})
        box = nacl.secret.SecretBox(self._key(params)).encrypt(plaintext)  # random nonce
        return canonical_json({"hanpyo": FORMAT, "kdf": params.to_json(), "box": box.hex()})

    def open(self, name: str, data: bytes) -> tuple[dict[str, Any], KdfParams]:
        """The secret in the file ``name`` and its hashing parameters; TrusteeToolError for
        a wrong passphrase, a damaged file, or a file that is not ``name``."""
        try:
            value = parse_json(data)
            if not (isinstance(value, dict) and value.get("hanpyo") == FORMAT):
                raise _unprotected(name)
            params = KdfParams.from_json(value.get("kdf"))
            box = bytes.fromhex(str(value.get("box")))
        except (EncodingError, ValueError) as e:
            raise _damaged(name, str(e)) from e
        try:
            plaintext = nacl.secret.SecretBox(self._key(params)).decrypt(box)
        except nacl.exceptions.CryptoError as e:
            raise wrong_passphrase(name) from e
        inner = parse_json(plaintext)
        if not (isinstance(inner, dict) and isinstance(inner.get("secret"), dict)):
            raise _damaged(name, "the unlocked content is not a secret")
        if inner.get("file") != name:
            raise _damaged(name, f"it holds {inner.get('file')!r}, put in its place")
        return inner["secret"], params


def wrong_passphrase(name: str) -> TrusteeToolError:
    return TrusteeToolError(
        f"{name} does not open with this passphrase",
        "매체 암호가 맞지 않습니다. 아무것도 바뀌지 않았습니다. 다시 실행해 정확히 입력하세요.",
        "The medium's passphrase is wrong. Nothing was changed. Run the step again and type "
        "it exactly.",
    )


def _unprotected(name: str) -> TrusteeToolError:
    return TrusteeToolError(
        f"{name} is not locked with a passphrase (a medium made by an older version)",
        "이 매체의 비밀 파일은 암호로 보호되지 않았습니다(이전 버전). 새 매체로 다시 시작하세요.",
        "This medium's secret files are not protected by a passphrase (an older version). "
        "Start again with a new medium.",
    )


def _damaged(name: str, detail: str) -> TrusteeToolError:
    return TrusteeToolError(
        f"{name} is damaged: {detail}",
        "매체의 비밀 파일이 망가졌거나 바뀌었습니다. 선거 관리자에게 알리세요.",
        "A secret file on the medium is damaged or was replaced. Tell the election manager.",
    )
