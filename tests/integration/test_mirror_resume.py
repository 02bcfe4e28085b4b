"""A mirror stopped after it verified a checkpoint's entries but before it wrote all their
tiles finishes writing them from its pending entries when it starts again, and serves nothing
it has not written."""

from __future__ import annotations

import fcntl
import hashlib
import json
from pathlib import Path

import pytest

from kiosk.core.encoding import b64e
from ledger.mirror import follower
from ledger.mirror.follower import LOCK, follow
from ledger.mirror.store import PENDING, MirrorConfig, MirrorDb, create_mirror
from ledger.publish.tiles import write_tiles
from ledger.verify.tiles_proof import tiles_fetcher
from testkit.elections import SyntheticElection
from testkit.mirror_logs import BuiltLog, session_chain, write_package
from testkit.mirror_server import MirrorServer


def files(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_a_mirror_stopped_between_verifying_and_writing_finishes_on_the_next_round(
    tmp_path: Path, election: SyntheticElection, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = BuiltLog(tmp_path / "log")
    package = json.loads(write_package(tmp_path / "election.json", election).read_text())
    mirror = tmp_path / "mirror"
    authority = b64e(election.authority.public_key)
    create_mirror(mirror, MirrorConfig(log.origin, log.vkey, (), 0, authority, package))
    chain = session_chain(election, 300)
    log.publish(chain[:300])
    fetch = tiles_fetcher(str(log.directory))
    assert follow(mirror, fetch, "log").size == 300
    log.publish(chain[300:])

    def stopped(*args: object, **kwargs: object) -> object:
        raise OSError("the disk went away")

    monkeypatch.setattr(follower, "write_tiles", stopped)
    with pytest.raises(OSError):
        follow(mirror, fetch, "log")
    db = MirrorDb(mirror)
    assert db.verified()[0] == len(chain)  # verified and recorded ...
    db.close()
    assert (mirror / PENDING).exists()  # ... its entries waiting to be written as tiles
    assert "\n300\n" in (mirror / "tiles" / "checkpoint").read_text()  # still served: 300

    monkeypatch.setattr(follower, "write_tiles", write_tiles)
    done = follow(mirror, fetch, "log")
    assert (done.previous_size, done.size, done.entries) == (len(chain), len(chain), 0)
    assert not (mirror / PENDING).exists()
    assert files(mirror / "tiles") == files(log.directory)


def test_two_follow_rounds_on_one_mirror_never_run_at_once(
    tmp_path: Path, election: SyntheticElection
) -> None:
    log = BuiltLog(tmp_path / "log")
    log.publish(session_chain(election, 10))
    package = write_package(tmp_path / "election.json", election)
    mirror = MirrorServer(
        tmp_path / "mirror", log.origin, log.vkey, package, b64e(election.authority.public_key)
    )
    with (mirror.directory / LOCK).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another round is running
        busy = mirror.follow(str(log.directory))
        assert busy.returncode == 2 and "another `ledger mirror follow` is running" in busy.stderr
    done = mirror.follow(str(log.directory))
    assert done.returncode == 0 and "mirror holds 22 entries" in done.stdout
