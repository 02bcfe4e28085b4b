"""A PostgreSQL primary with a synchronous standby for tests: two private clusters on 127.0.0.1,
the standby made from the primary by ``pg_basebackup -R`` and fed by streaming replication,
started and stopped by their process ids. Never the machine's own cluster.

The settings are the ones docs/ledger-standby.md gives an operator:

- ``synchronous_standby_names = 'FIRST 1 (hanpyo_standby)'`` on the primary, and
- ``synchronous_commit = on``: a commit returns only once the standby has flushed its WAL to
  its own disk (PostgreSQL 15 manual, 27.2.8 "Synchronous Replication"). ``remote_apply``
  would also wait for the standby to replay it, which only matters for reading from the
  standby; the ledger never reads from it, and what must survive is the WAL, so ``on``.

fsync stays on (unlike testkit/postgres.py's throwaway server): durability is what the tests
using this check. The owner of the clusters, and running as root, work as in
testkit/postgres.py.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import psycopg

from testkit.postgres import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    SUPERUSER,
    PostgresError,
    PrivatePostgres,
    database_name,
    find_bin_dir,
    free_port,
)

STANDBY_NAME = "hanpyo_standby"  # the standby's application_name, as the primary names it
REPLICATION_USER = "hanpyo_replication"


@dataclass
class Node:
    """One postmaster: its cluster's directory, port and process."""

    name: str
    dir: Path
    settings: dict[str, str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def log(self) -> Path:
        return self.dir / "postgres.log"


class StandbyServer:
    """A running ``PrimaryWithStandby`` seen as one server by the benches: databases are made
    on the primary (and streamed to the standby); each URL names both hosts, as a ledger's
    --db does."""

    def __init__(self, pair: PrimaryWithStandby) -> None:
        self.pair = pair

    def _primary(self) -> Node:
        if self.pair.primary is None:
            raise RuntimeError("the primary is not running")
        return self.pair.primary

    def create_database(self, name: str | None = None) -> str:
        name = database_name(name)
        with self.pair.connect(self._primary(), "postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.pair.url.replace(f"/{self.pair.dbname}?", f"/{name}?", 1)

    def connect(self, dbname: str | None = None) -> psycopg.Connection:
        return self.pair.connect(self._primary(), dbname)

    def drop_database(self, name: str) -> None:
        with self.pair.connect(self._primary(), "postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PrimaryWithStandby:
    """``with PrimaryWithStandby() as pair:`` a primary and its synchronous standby, running.

    ``pair.url`` names both (libpq tries them in turn and keeps the one that takes writes:
    ``target_session_attrs=read-write``), as a ledger's --db does; ``kill_primary()`` loses the
    primary's host (SIGKILL to every process of it at once), ``promote()`` makes the standby
    the primary. ``synchronous=False`` streams the same way without waiting for the standby
    (for the bench's comparison)."""

    def __init__(self, dbname: str = "hanpyo", *, synchronous: bool = True) -> None:
        self.bin = find_bin_dir()
        self.dbname, self.synchronous = dbname, synchronous
        self.password = secrets.token_urlsafe(24)
        self.replication_password = secrets.token_urlsafe(24)
        # Who runs initdb and postgres (the 'postgres' user when we are root): as PrivatePostgres.
        owner = PrivatePostgres(dbname)  # not started: only who would own it
        self.uid, self.gid = owner.uid, owner.gid
        self.dir: Path | None = None
        self.primary: Node | None = None
        self.standby: Node | None = None

    # -- URLs ----------------------------------------------------------------------------------
    def _hosts(self) -> list[Node]:
        return [n for n in (self.primary, self.standby) if n is not None]

    @property
    def url(self) -> str:
        """Both servers in one URL, in libpq's own form (``host=a,b&port=p,q``), which
        SQLAlchemy passes through and pg_dump (the backups) reads as well: libpq tries them in
        turn and keeps the one that takes writes. The standby comes first, so the test shows
        the choice is libpq's, not the order's."""
        nodes = list(reversed(self._hosts()))
        hosts = ",".join("127.0.0.1" for _ in nodes)
        ports = ",".join(str(n.port) for n in nodes)
        return (
            f"postgresql+psycopg://{SUPERUSER}:{self.password}@/{self.dbname}"
            f"?host={hosts}&port={ports}&target_session_attrs=read-write&connect_timeout=5"
        )

    def url_of(self, node: Node) -> str:
        return (
            f"postgresql+psycopg://{SUPERUSER}:{self.password}@127.0.0.1:{node.port}/{self.dbname}"
        )

    def connect(self, node: Node, dbname: str | None = None) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=node.port,
            user=SUPERUSER,
            password=self.password,
            dbname=dbname or self.dbname,
            connect_timeout=5,
            autocommit=True,
        )

    # -- starting ------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        # In the system temporary directory: pytest's is 0700 root's (see testkit/postgres.py).
        self.dir = Path(tempfile.mkdtemp(prefix="hanpyo-pgha-"))
        os.chown(self.dir, self.uid, self.gid)
        self.primary = self._node("primary", {})
        self._initdb(self.primary)
        self._launch(self.primary)
        with self.connect(self.primary, "postgres") as conn:
            conn.execute(
                f"CREATE ROLE {REPLICATION_USER} WITH REPLICATION LOGIN "
                f"PASSWORD '{self.replication_password}'"
            )
            conn.execute(f'CREATE DATABASE "{self.dbname}"')
        self.standby = self._node("standby", {})
        self._base_backup(self.primary, self.standby)
        self._launch(self.standby)
        if self.synchronous:
            # Only now: with it set before the standby streams, every commit would wait for
            # a standby that is not there yet (as an operator's first commits would).
            with self.connect(self.primary, "postgres") as conn:
                conn.execute(
                    f"ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ({STANDBY_NAME})'"
                )
                conn.execute("SELECT pg_reload_conf()")
        self._wait_streaming()

    def _node(self, name: str, extra: dict[str, str]) -> Node:
        assert self.dir is not None
        directory = self.dir / name
        (directory / "socket").mkdir(parents=True, mode=0o700)
        for path in (directory, directory / "socket"):
            os.chown(path, self.uid, self.gid)
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(directory / "socket"),
            "unix_socket_permissions": "0700",
            "cluster_name": name,
            "wal_level": "replica",
            "max_wal_senders": "5",
            "hot_standby": "on",
            "synchronous_commit": "on",
            "max_connections": "100",
            **extra,
        }
        return Node(name, directory, settings)

    def _run(self, args: list[str], cwd: Path, **kwargs: object) -> subprocess.Popen[bytes]:
        switch: dict[str, object] = {}
        if os.geteuid() == 0:
            switch = {"user": self.uid, "group": self.gid, "extra_groups": []}
        env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(cwd),
            "PGPASSWORD": self.replication_password,  # read by pg_basebackup only
        }
        return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
            args, cwd=cwd, env=env, **switch, **kwargs
        )

    def _finish(self, what: str, args: list[str], cwd: Path) -> None:
        done = self._run(args, cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, _ = done.communicate(timeout=180)
        if done.returncode != 0:
            raise PostgresError(f"{what} failed ({done.returncode}):\n{output.decode()[-3000:]}")

    def _initdb(self, node: Node) -> None:
        pwfile = node.dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        os.chown(pwfile, self.uid, self.gid)
        pwfile.chmod(0o600)
        try:
            # initdb's pg_hba.conf lets 127.0.0.1 connect for replication with --auth-host.
            self._finish(
                "initdb",
                [str(self.bin / "initdb"), "--pgdata", str(node.data), "--username", SUPERUSER,
                 "--pwfile", str(pwfile), "--auth-host", "scram-sha-256", "--auth-local",
                 "trust", "--encoding", "UTF8"],
                node.dir,
            )  # fmt: skip
        finally:
            pwfile.unlink()

    def _base_backup(self, primary: Node, standby: Node) -> None:
        """The standby's cluster: a copy of the primary's with the WAL streamed during the copy,
        and -R's standby.signal and primary_conninfo (naming it as the primary expects)."""
        conninfo = f"host=127.0.0.1 port={primary.port} user={REPLICATION_USER} " + (
            f"application_name={STANDBY_NAME}"
        )
        self._finish(
            "pg_basebackup",
            [str(self.bin / "pg_basebackup"), "--dbname", conninfo, "--pgdata", str(standby.data),
             "--write-recovery-conf", "--wal-method", "stream", "--checkpoint", "fast",
             "--no-password"],
            standby.dir,
        )  # fmt: skip

    def _launch(self, node: Node) -> None:
        for _attempt in range(3):  # the free port may be taken before postgres binds it
            node.port = free_port()
            if self._launch_on_port(node):
                return
        raise PostgresError(f"postgres ({node.name}) did not start:\n{_tail(node.log)}")

    def _launch_on_port(self, node: Node) -> bool:
        args = [str(self.bin / "postgres"), "-D", str(node.data), "-p", str(node.port)]
        for name, value in node.settings.items():
            args += ["-c", f"{name}={value}"]
        with node.log.open("ab") as log:
            node.process = self._run(
                args, node.dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if node.process.poll() is not None:
                node.process = None
                return False
            try:
                with self.connect(node, "postgres"):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise PostgresError(f"postgres ({node.name}) did not answer:\n{_tail(node.log)}")

    def _wait_streaming(self) -> None:
        """Until the primary sees its standby streaming (as synchronous when it should be)."""
        assert self.primary is not None
        wanted = "sync" if self.synchronous else "async"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with self.connect(self.primary, "postgres") as conn:
                row = conn.execute(
                    "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = %s",
                    (STANDBY_NAME,),
                ).fetchone()
            if row == ("streaming", wanted):
                return
            time.sleep(0.1)
        raise PostgresError(f"the standby did not start streaming:\n{self.standby_log()}")

    # -- losing the primary, promoting the standby ---------------------------------------------
    def kill_primary(self) -> None:
        """The primary's host is lost: SIGKILL to the postmaster and every backend at once (they
        are one process group), so nothing of it finishes what it was doing."""
        assert self.primary is not None and self.primary.process is not None
        process, self.primary.process = self.primary.process, None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def pause_standby_receiver(self) -> int:
        """Stop the standby's WAL receiver (SIGSTOP) where it is: it reads nothing more from
        the primary; its process id, for ``drop_standby_receiver``."""
        assert self.standby is not None
        with self.connect(self.standby, "postgres") as conn:
            row = conn.execute("SELECT pid FROM pg_stat_wal_receiver").fetchone()
        if row is None:
            raise PostgresError("the standby has no WAL receiver running")
        os.kill(int(row[0]), signal.SIGSTOP)
        return int(row[0])

    def drop_standby_receiver(self, pid: int) -> None:
        """SIGKILL the paused receiver: what the primary sent that it had not read yet (in
        the loopback socket's buffer) is lost with it, as it is when the primary's host and
        the network to it go down. The standby's postmaster restarts its processes and
        recovers from its own disk."""
        os.kill(pid, signal.SIGKILL)

    def promote(self) -> None:
        """``SELECT pg_promote()`` on the standby, waiting until it takes writes (and until it
        takes connections, after a restart of its processes)."""
        assert self.standby is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with self.connect(self.standby, "postgres") as conn:
                    row = conn.execute("SELECT pg_promote(true, 60)").fetchone()
                    if row is None or row[0] is not True:
                        raise PostgresError(f"the standby was not promoted:\n{self.standby_log()}")
                    if conn.execute("SELECT pg_is_in_recovery()").fetchone() != (False,):
                        raise PostgresError("the promoted standby is still in recovery")
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def standby_log(self) -> str:
        return _tail(self.standby.log) if self.standby else "(no standby)"

    # -- stopping ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Fast shutdown of each server still running, by pid (SIGKILL if it lingers); then the
        clusters' directory goes. Safe to call more than once."""
        for node in self._hosts():
            process, node.process = node.process, None
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        directory, self.dir = self.dir, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def __enter__(self) -> PrimaryWithStandby:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-3000:]
    except OSError:
        return "(no log)"
