"""`ledger election create --protocol 2` through the real command: a v2 package from the
trustees' ceremony and the roll file, random voter ids, test cards on their own roll, the log
key and witnesses signed in, a warning for every count column too small to keep its voters'
scores private, and a package the kiosk's reader verifies once signed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.cosignature import CosignerKey
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import verify_package
from kiosk.core.encoding import b64d
from kiosk.core.roll import add_staff, add_voter, empty_roll
from kiosk.core.verifiable.group import base_mul
from testkit.ceremony_results import simulated_ceremony_result
from testkit.elections import mixed_definition
from testkit.ledger_server import ledger_cli

ELECTION = "test-review"
LOG = NoteVerifier("ledger.test/log", SigningKey(sha256(b"log")).public_key)
WITNESSES = [
    CosignerKey(f"witness-{i}.test", SigningKey(sha256(f"witness {i}".encode())).public_key).vkey
    for i in (1, 2)
]


def _card(role: str, n: int) -> SigningKey:
    return SigningKey(sha256(f"create-v2/{role}/{n}".encode()))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The definition, a roll file as enrolment writes it, and the ceremony's result."""
    tmp = tmp_path_factory.mktemp("create-v2")
    definition = mixed_definition(election_id=ELECTION)
    roll = empty_roll()
    n = 0
    for g in (1, 2, 3):
        group = f"g{g:03d}"
        for p in range(1, 5):  # a resident per proposal, recused from their own
            add_voter(roll, definition, _card("voter", n := n + 1).public_key, "resident", group,
                      [f"p{g:04d}-{p:02d}"])  # fmt: skip
        for _ in range(2):  # two experts per group: columns of two
            add_voter(roll, definition, _card("voter", n := n + 1).public_key, "expert", group, [])
        for _ in range(12):
            add_voter(roll, definition, _card("voter", n := n + 1).public_key, "online", group, [])
    for t in range(2):
        add_voter(roll, definition, _card("test", t).public_key, "resident", "g001", [], test=True)
    add_staff(roll, _card("staff", 0).public_key, "election_manager", "김관리")
    paths = {name: tmp / f"{name}.json" for name in ("definition", "roll", "ceremony")}
    paths["definition"].write_text(json.dumps(definition), "utf-8")
    paths["roll"].write_text(json.dumps(roll), "utf-8")
    result, _ = simulated_ceremony_result(ELECTION)
    paths["ceremony"].write_text(json.dumps(result), "utf-8")
    return paths


def _create(inputs: dict[str, Path], out: Path, *extra: str) -> tuple[int, str, str]:
    done = ledger_cli(
        "election", "create", "--protocol", "2",
        "--definition", str(inputs["definition"]), "--roll", str(inputs["roll"]),
        "--ceremony", str(inputs["ceremony"]), "--out", str(out), *extra,
        data=None,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def _witness_options(threshold: int = 1) -> list[str]:
    return [*(f"--witness={w}" for w in WITNESSES), "--witness-threshold", str(threshold)]


def _load(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text("utf-8"))
    assert isinstance(value, dict)
    return value


def test_a_v2_package_is_made_signed_and_read_by_the_kiosks_reader(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "package.json"
    code, stdout, stderr = _create(
        inputs, out, f"--log-key={LOG.vkey}", *_witness_options(), "--min-column", "5"
    )
    assert code == 0, stderr
    assert "protocol 2" in stdout and "no share file is written" in stdout
    assert not list(tmp_path.glob("trustee-*"))
    document = _load(out)
    assert document["v"] == 2
    assert "nullifier_salt" not in json.dumps(document) and "ballot" not in document["keys"]
    ids = [e["voter"] for e in document["roll"] + document["test_roll"]]
    assert len(ids) == 3 * 18 + 2 and len(set(ids)) == len(ids)
    assert all(len(bytes.fromhex(i)) == 16 for i in ids)
    assert (tmp_path / "package.ceremony.json").exists()

    code, stdout, stderr = _sign(out, tmp_path)
    assert code == 0, stderr
    authority = b64d(stdout.strip(), length=32, name="authority key")
    package = verify_package(_load(tmp_path / "signed.json"), authority)
    assert package.protocol == 2
    assert package.log_verifier == LOG
    assert [k.vkey for k in package.witnesses.keys] == WITNESSES
    assert package.witnesses.threshold == 1 and package.min_column == 5
    assert package.test_key is not None and package.election_key is not None
    assert base_mul(package.test_key.secret) == package.test_key.key != package.election_key.key
    ceremony = _load(inputs["ceremony"])
    assert package.election_key.setup_hash.hex() in json.dumps(
        _load(tmp_path / "package.ceremony.json")
    )
    assert len(ceremony["messages"]) > 0
    tester = package.test_voter_for_card(_card("test", 1).public_key)
    assert (
        tester is not None
        and tester.test
        and package.voter_for_card(_card("test", 1).public_key) is None
    )
    voter = package.voter_for_card(_card("voter", 1).public_key)
    assert voter is not None and voter.excluded == {"p0001-01"}

    show = ledger_cli("election", "show", str(tmp_path / "signed.json"),
                      f"--authority={stdout.strip()}", data=None)  # fmt: skip
    assert show.returncode == 0, show.stderr
    assert "protocol 2: 2 test cards" in show.stdout
    assert "1 of 2 witnesses cosign" in show.stdout


def _sign(package: Path, tmp_path: Path) -> tuple[int, str, str]:
    key = tmp_path / "authority.key"
    made = ledger_cli("authority-key", "--out", str(key), data=None)
    assert made.returncode == 0, made.stderr
    public = made.stdout.strip().rsplit(" ", 1)[1]
    signed = ledger_cli(
        "election", "sign", str(package), "--authority-key", str(key),
        "--out", str(tmp_path / "signed.json"), data=None,
    )  # fmt: skip
    return signed.returncode, public, signed.stderr


def test_small_count_columns_are_warned_about_in_korean_and_english(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    code, _, stderr = _create(inputs, tmp_path / "package.json", "--min-column", "3")
    assert code == 0, stderr
    # two experts per group score each of its 4 proposals: 12 review columns and 24 criterion
    # columns of 2; residents' columns hold 3 (4 less the one recused) and pass
    assert "경고: 개표 열 36개에 투표자가 3명보다 적습니다" in stderr
    assert "warning: 36 count columns hold fewer than 3 voters" in stderr
    assert "  review / p0002-03 / expert / kiosk: 2명 / 2 voters" in stderr
    assert "  expert-criteria / p0003-01 / feasibility / expert / kiosk: 2명 / 2 voters" in stderr
    assert "resident / kiosk:" not in stderr
    assert (tmp_path / "package.json").exists()  # a warning, not a refusal


def test_with_every_column_large_enough_there_is_no_warning(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    code, _, stderr = _create(inputs, tmp_path / "package.json", "--min-column", "2")
    assert code == 0, stderr
    assert "warning" not in stderr and "경고" not in stderr


def test_each_package_draws_new_voter_ids_and_a_new_test_key(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    made = []
    for name in ("one", "two"):
        code, _, stderr = _create(inputs, tmp_path / name / "package.json")
        assert code == 0, stderr
        made.append(_load(tmp_path / name / "package.json"))
    one, two = made
    assert {e["voter"] for e in one["roll"]}.isdisjoint(e["voter"] for e in two["roll"])
    assert one["keys"]["test"] != two["keys"]["test"]
    assert one["election_key"] == two["election_key"]


@pytest.mark.parametrize(
    ("extra", "drop_ceremony", "message"),
    [
        pytest.param([], True, "the following arguments are required: --ceremony", id="none"),
        pytest.param(["--shares", "s"], False, "unrecognized arguments: --shares", id="shares"),
        pytest.param(
            ["--witness=witness+00000000+AAAA"], False, "witnesses.keys[0]", id="bad-witness"
        ),
        pytest.param(
            _witness_options(threshold=3), False, "witnesses.threshold: asks for 3", id="threshold"
        ),
        pytest.param(["--log-key=not-a-key"], False, "ledger.log_key", id="bad-log-key"),
        pytest.param(["--min-column", "0"], False, "privacy.min_column", id="min-column"),
    ],
)
def test_a_bad_request_is_refused_and_writes_nothing(
    inputs: dict[str, Path], tmp_path: Path, extra: list[str], drop_ceremony: bool, message: str
) -> None:
    out = tmp_path / "package.json"
    args = ["election", "create", "--protocol", "2", "--definition", str(inputs["definition"]),
            "--roll", str(inputs["roll"]), "--out", str(out), *extra]  # fmt: skip
    if not drop_ceremony:
        args += ["--ceremony", str(inputs["ceremony"])]
    done = ledger_cli(*args, data=None)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr
    assert not out.exists() and not (tmp_path / "package.ceremony.json").exists()


def test_a_roll_entry_the_reader_refuses_is_named_by_its_place_in_the_roll_file(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    roll = _load(inputs["roll"])
    roll["test_roll"][1]["card_key"] = "AAAA"
    broken = dict(inputs) | {"roll": tmp_path / "roll.json"}
    broken["roll"].write_text(json.dumps(roll), "utf-8")
    code, _, stderr = _create(broken, tmp_path / "package.json")
    assert code == 2
    assert "roll file test_roll[1].card_key" in stderr
