"""A ledger that takes connections and never answers (overloaded, or a network that holds
packets): the platform asks it whether a member voted, waits its few seconds once, lets the
member vote (the count applies the policy later), and then stops asking it for a while, so
that every sign-in does not hold a request thread for seconds (security review F9)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.crypto import SigningKey
from testkit.elections import SyntheticElection
from testkit.online_platform import OnlinePlatform, sign_in
from testkit.v2_ballots import roll_index


class SilentLedger:
    """Accepts every connection on a loopback port, reads the request line and never answers;
    records the paths asked."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.paths: list[str] = []
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                line = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
            except OSError:
                line = ""
            self.paths.append(line.split(" ")[1] if line.count(" ") >= 2 else line)
            self.held.append(conn)  # kept open, never answered

    def asked(self, fragment: str) -> int:
        return sum(fragment in p for p in self.paths)

    def __enter__(self) -> SilentLedger:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()
        for conn in self.held:
            conn.close()
        self.listener.close()


@pytest.fixture
def silent() -> Iterator[SilentLedger]:
    with SilentLedger() as ledger:
        yield ledger


def test_a_silent_ledger_is_asked_once_and_members_still_vote(
    tmp_path: Path, election: SyntheticElection, silent: SilentLedger
) -> None:
    log_key = NoteVerifier("silent.example/log", SigningKey.generate().public_key).vkey
    serve = ("--ledger-url", silent.url, "--log-key", log_key)
    with OnlinePlatform(tmp_path / "online", election, serve_args=serve) as platform:
        platform.staff("open")
        eid = election.package.id
        for n in range(3):
            key = election.voter_keys[roll_index(election, "online", n)]
            answer = sign_in(platform.url, key, eid)
            assert answer["voted"] is False  # not known to have voted: the member goes on
        # The first sign-in asked and waited; the next two did not ask the silent ledger.
        assert silent.asked("/nullifiers/check") == 1, silent.paths
