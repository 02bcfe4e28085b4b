"""`hanpyo-online init` as the operator runs it: the source key is made once and kept, a
package not signed by the authority is refused, an older package never replaces a newer one,
and a second process never opens the same chain."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from kiosk.core.crypto import SigningKey
from kiosk.core.election import sign_package
from kiosk.core.encoding import b64e
from testkit.elections import SyntheticElection
from testkit.online_platform import OnlinePlatform, online_cli


def test_init_keeps_its_key_and_refuses_bad_or_older_packages(
    tmp_path: Path, election: SyntheticElection
) -> None:
    newer = dataclasses.replace(election.package, sequence=2)
    newer_file = tmp_path / "newer.json"
    newer_file.write_text(json.dumps(sign_package(newer, election.authority).to_json()))
    platform = OnlinePlatform(tmp_path / "p", election)
    assert "--channel online" in platform.init_output
    authority = f"--authority={platform.authority}"

    moved = platform.cli("init", "--package", str(newer_file), authority)
    assert moved.returncode == 0, moved.stderr
    assert f"source key: {platform.public_key}" in moved.stdout  # the same source
    assert "sequence 2" in moved.stdout

    older = platform.cli("init", "--package", str(platform.folder / "election.json"), authority)
    assert older.returncode == 2 and "refusing sequence 1" in older.stderr

    stranger = b64e(SigningKey.generate().public_key)
    forged = platform.cli("init", "--package", str(newer_file), f"--authority={stranger}")
    assert forged.returncode == 2 and "error:" in forged.stderr


def test_one_process_at_a_time_holds_the_chain(tmp_path: Path, election: SyntheticElection) -> None:
    with OnlinePlatform(tmp_path / "p", election) as platform:
        second = platform.cli("init", "--package", str(platform.folder / "election.json"),
                              f"--authority={platform.authority}")  # fmt: skip
        assert second.returncode == 2 and "another platform process" in second.stderr
        assert platform.staff("status")["session"] == "closed"
    lost = online_cli("status", "--data", str(tmp_path / "nowhere"), "--keys", str(tmp_path))
    assert lost.returncode == 2 and "error:" in lost.stderr
