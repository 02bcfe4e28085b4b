"""`ledger verify-proof --package`: a v2 package names the log key and the witnesses' policy,
so an observer needs only the package and the authority's key; a checkpoint that does not
meet the policy is refused, saying which witnesses signed. Real ledger, real witnesses."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import requests

from kiosk.core.block import decode_signed_block
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.cosignature import CosignerKey, cosignatures
from kiosk.core.crypto import SigningKey
from kiosk.core.election import sign_package
from kiosk.core.encoding import b64e
from testkit.elections import build_election, mixed_definition
from testkit.ledger_server import ledger_cli
from testkit.log_growth import grow, new_kiosk
from testkit.witnessed_ledger import WitnessedLedger, witnessed_ledger


def cosigned(setup: WitnessedLedger, size: int, names: set[str]) -> bool:
    note = requests.get(f"{setup.ledger.url}/v1/checkpoint", timeout=10).text
    found = {
        c.witness for c in cosignatures(note, [CosignerKey.parse(w.vkey) for w in setup.witnesses])
    }
    return verify_checkpoint(note, setup.log_key).size == size and found == names


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.1)


def test_verify_proof_takes_the_log_key_and_witness_policy_from_a_v2_package(
    tmp_path: Path,
) -> None:
    setup = witnessed_ledger(tmp_path)
    w0, w1 = setup.witnesses
    package = str(setup.ledger.data / "election.json")
    authority = b64e(setup.election.authority.public_key)
    with ExitStack() as running:
        for server in (w0, w1, setup.ledger):
            running.enter_context(server)
        writer = new_kiosk(setup.ledger, setup.election, "hall A")
        grow(setup.ledger, writer, 10)
        size = len(writer.blocks)
        wait_until(lambda: cosigned(setup, size, {w0.name, w1.name}), "both cosignatures")
        code = decode_signed_block(writer.blocks[5].encode()).tracking_code
        base = ["verify-proof", "--tracking-code", code, "--package", package]
        sources = (["--url", setup.ledger.url], ["--tiles", f"{setup.ledger.url}/tiles"])
        for source in sources:
            ok = ledger_cli(*base, "--authority", authority, *source, data=None)
            assert ok.returncode == 0, ok.stderr
            assert "witness policy (2 of 2): cosigned by witness.test/w0, witness.test/w1" in (
                ok.stdout
            )

        # One witness down: the ledger's next checkpoint is cosigned by w0 alone.
        w1.stop()
        grow(setup.ledger, writer, 5)
        wait_until(lambda: cosigned(setup, len(writer.blocks), {w0.name}), "w0's cosignature")
        for source in sources:
            refused = ledger_cli(*base, "--authority", authority, *source, data=None)
            assert refused.returncode == 2, refused.stdout
            assert "too few witness cosignatures" in refused.stderr
            assert "expected 2 of witness.test/w0, witness.test/w1, found witness.test/w0" in (
                refused.stderr
            )

        # The package is trusted only through the authority's key, and is the one source.
        forged = ledger_cli(
            *base, "--authority", b64e(SigningKey.generate().public_key), *sources[0], data=None
        )
        assert forged.returncode == 2 and "not signed by the pinned authority" in forged.stderr
        unsigned = ledger_cli(*base, *sources[0], data=None)
        assert unsigned.returncode == 2 and "--package needs --authority" in unsigned.stderr
        both = ledger_cli(
            *base, "--authority", authority, "--witness", w0.vkey, *sources[0], data=None
        )
        assert both.returncode == 2 and "leave out --witness" in both.stderr
        other = ledger_cli(
            *base, "--authority", authority, "--log-key", "x+00000000+AAAA", *sources[0], data=None
        )
        assert other.returncode == 2 and "not the log key the package names" in other.stderr


def test_a_package_that_names_no_log_key_makes_verify_proof_ask_for_one(tmp_path: Path) -> None:
    """A package made without `--log-key` (the ledger's key was not known yet) cannot say
    which key signs the checkpoints: verify-proof asks for it instead of trusting the ledger."""
    election = build_election(mixed_definition(), seed="no-log-key", experts_per_group=1)
    assert election.package.log_key is None
    path = tmp_path / "election.json"
    path.write_text(json.dumps(sign_package(election.package, election.authority).to_json()))
    done = ledger_cli(
        "verify-proof", "--tracking-code", "0" * 16, "--url", "http://127.0.0.1:9",
        "--package", str(path), f"--authority={b64e(election.authority.public_key)}",
        data=None,
    )  # fmt: skip
    assert done.returncode == 2
    assert "names no log key (protocol 2): give --log-key and --witness" in done.stderr
