"""The passphrase lock on a trustee's secret files, in one process: what opens, what does not,
and that nothing in the file can be changed to weaken or swap it unnoticed."""

from __future__ import annotations

import json

import pytest

from ledger.service.medium_lock import (
    PRODUCTION_MEMLIMIT,
    PRODUCTION_OPSLIMIT,
    WEAK_MEDIUM_WARNING,
    KdfParams,
    MediumLock,
)
from ledger.service.trustee_tool_error import TrusteeToolError

PASSPHRASE = "우리 동네 투표소 앞 은행나무"  # noqa: S105 (a test passphrase)
SECRET = {"share": "11" * 32}


def lock(passphrase: str = PASSPHRASE, warnings: list[str] | None = None) -> MediumLock:
    shown = warnings if warnings is not None else []
    return MediumLock(lambda: passphrase, shown.append)


def weak() -> KdfParams:
    return KdfParams(b"\x01" * 16, 1, 8192)


def test_a_sealed_secret_opens_with_its_passphrase_only() -> None:
    data = lock().seal("share.secret.json", SECRET, weak())
    assert lock().open("share.secret.json", data)[0] == SECRET
    with pytest.raises(TrusteeToolError, match="does not open with this passphrase") as caught:
        lock("우리 동네 투표소 앞 은행나무 ").open("share.secret.json", data)
    assert "매체 암호가 맞지 않습니다" in caught.value.user_message[0]


def test_the_passphrase_is_asked_once_per_run() -> None:
    asked: list[int] = []

    def ask() -> str:
        asked.append(1)
        return PASSPHRASE

    once = MediumLock(ask, lambda _: None)
    data = once.seal("a.secret.json", SECRET, weak())
    once.open("a.secret.json", data)
    once.open("a.secret.json", once.seal("a.secret.json", SECRET, weak()))
    assert asked == [1]


def test_a_file_put_in_another_files_place_is_refused() -> None:
    data = lock().seal("polynomial.secret.json", {"coefficients": []}, weak())
    with pytest.raises(TrusteeToolError, match="put in its place"):
        lock().open("share.secret.json", data)


@pytest.mark.parametrize("field", ["salt", "opslimit", "memlimit"])
def test_lowering_or_changing_the_stored_limits_does_not_open_the_file(field: str) -> None:
    """The limits and salt are not signed, and need not be: changed, they derive another key."""
    value = json.loads(lock().seal("share.secret.json", SECRET, KdfParams(b"\x01" * 16, 2, 16384)))
    value["kdf"][field] = {"salt": "02" * 16, "opslimit": 1, "memlimit": 8192}[field]
    with pytest.raises(TrusteeToolError, match="does not open"):
        lock().open("share.secret.json", json.dumps(value).encode())


def test_a_plain_or_damaged_file_is_refused_in_words() -> None:
    with pytest.raises(TrusteeToolError, match="not locked with a passphrase"):
        lock().open("share.secret.json", json.dumps(SECRET).encode())
    value = json.loads(lock().seal("share.secret.json", SECRET, weak()))
    value["kdf"]["memlimit"] = 2**40  # would only exhaust memory
    with pytest.raises(TrusteeToolError, match="out of range"):
        lock().open("share.secret.json", json.dumps(value).encode())


def test_a_medium_below_the_production_cost_says_so_when_read() -> None:
    shown: list[str] = []
    data = lock().seal("share.secret.json", SECRET, weak())
    lock(warnings=shown).open("share.secret.json", data)
    assert shown == [WEAK_MEDIUM_WARNING]
    assert not KdfParams(b"\x01" * 16, PRODUCTION_OPSLIMIT, PRODUCTION_MEMLIMIT).weak()


def test_init_refuses_a_short_passphrase() -> None:
    with pytest.raises(TrusteeToolError, match="shorter than 10"):
        lock("짧은 암호").check_new_passphrase()
    lock().check_new_passphrase()
