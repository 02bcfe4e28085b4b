"""`kiosk cards enrol --test`: a test card goes on the roll file's test roll, which only a v2
package takes; a card is a voter card, a test card or a staff card, never two of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.encoding import b64e
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from testkit.enrolment import enrol, read_roll

TESTER = ["--category", "resident", "--group", "g001", "--test"]


def _key(n: int) -> str:
    return b64e(SigningKey(sha256(f"enrol-test-card/{n}".encode())).public_key)


def test_a_test_card_is_enrolled_on_the_test_roll(
    pcscd: PrivatePcscd, definition: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roll = work / "roll.json"
    assert main(enrol(definition, roll, "--card-key", _key(1), *TESTER)) == 0, capsys.readouterr()
    assert main(enrol(definition, roll, "--card-key", _key(2), "--category", "expert",
                      "--group", "g002")) == 0  # fmt: skip
    written = read_roll(roll)
    assert [e["card_key"] for e in written["test_roll"]] == [_key(1)]
    assert [e["card_key"] for e in written["roll"]] == [_key(2)]
    assert written["test_roll"][0]["category"] == "resident"


@pytest.mark.parametrize(
    ("second", "message"),
    [
        pytest.param(["--category", "expert", "--group", "g002"], "already enrolled", id="voter"),
        pytest.param(TESTER, "already enrolled", id="test-twice"),
        pytest.param(["--staff", "poll_worker", "--name", "Kim"], "already enrolled", id="staff"),
    ],
)
def test_an_enrolled_test_card_is_not_enrolled_again(
    pcscd: PrivatePcscd,
    definition: Path,
    work: Path,
    capsys: pytest.CaptureFixture[str],
    second: list[str],
    message: str,
) -> None:
    roll = work / "roll.json"
    assert main(enrol(definition, roll, "--card-key", _key(3), *TESTER)) == 0
    before = roll.read_bytes()
    capsys.readouterr()
    assert main(enrol(definition, roll, "--card-key", _key(3), *second)) == 2
    assert message in capsys.readouterr().err
    assert roll.read_bytes() == before


def test_a_staff_card_cannot_be_a_test_card(
    pcscd: PrivatePcscd, definition: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roll = work / "roll.json"
    args = enrol(definition, roll, "--card-key", _key(4), "--staff", "poll_worker",
                 "--name", "Kim", "--test")  # fmt: skip
    assert main(args) == 2
    assert "a staff card or a test card, not both" in capsys.readouterr().err
    assert not roll.exists() or json.loads(roll.read_text("utf-8")).get("staff") == []
