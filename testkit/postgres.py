"""A private PostgreSQL server for tests: its own cluster in a temporary directory, listening
on 127.0.0.1 only, started and stopped by its process id. Never the machine's own cluster.

As root (initdb and postgres refuse to run as root) the cluster belongs to the ``postgres``
system user and both programs run under its uid and gid; as anyone else they run as that user.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Protocol

import psycopg

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "hanpyo"
SYSTEM_USER = "postgres"  # the owner of the cluster when the tests run as root
START_TIMEOUT = 60
STOP_TIMEOUT = 30


class PostgresError(RuntimeError):
    """PostgreSQL is missing, or the private server could not be set up."""


def find_bin_dir(root: Path = PG_ROOT) -> Path:
    """The ``bin`` directory of the highest PostgreSQL version under ``root``."""
    found = []
    for candidate in root.glob("*/bin") if root.is_dir() else []:
        version = candidate.parent.name
        if re.fullmatch(r"\d+(\.\d+)?", version) and all(
            (candidate / tool).is_file() for tool in ("initdb", "postgres")
        ):
            found.append((tuple(int(p) for p in version.split(".")), candidate))
    if not found:
        raise PostgresError(
            f"PostgreSQL is not installed: no {root}/<version>/bin with initdb and postgres. "
            "These tests need the server binaries: apt-get install postgresql"
        )
    return max(found)[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer(Protocol):
    """What the benches ask of a PostgreSQL server: ``PrivatePostgres``, or a primary with its
    standby (testkit/postgres_standby.py, ``StandbyServer``)."""

    def create_database(self, name: str | None = None) -> str: ...

    def connect(self, dbname: str | None = None) -> psycopg.Connection: ...

    def drop_database(self, name: str) -> None: ...


def database_name(name: str | None) -> str:
    """``name``, or a fresh one, checked to be a plain identifier (it goes into SQL as is)."""
    name = name or f"t_{secrets.token_hex(6)}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


class PrivatePostgres:
    """``with PrivatePostgres() as pg:`` a running server; ``pg.url`` names its first database,
    ``pg.create_database()`` makes more. ``stop()`` is safe to call more than once."""

    def __init__(self, dbname: str = "hanpyo") -> None:
        self.bin = find_bin_dir()
        self.dbname = dbname
        self.password = secrets.token_urlsafe(24)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.dir: Path | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise PostgresError(
                    f"running as root, and there is no '{SYSTEM_USER}' system user to run "
                    "PostgreSQL as (Debian's postgresql package creates it)"
                ) from None
            self.uid, self.gid = owner.pw_uid, owner.pw_gid
        else:
            self.uid, self.gid = os.geteuid(), os.getegid()

    # -- paths and URLs ------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        assert self.dir is not None
        return self.dir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.dir is not None
        return self.dir / "socket"

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "postgres.log"

    def url_for(self, dbname: str) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    @property
    def url(self) -> str:
        return self.url_for(self.dbname)

    # -- running -------------------------------------------------------------------------------
    def _run_as_owner(self, args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        """Start ``args`` under the cluster owner's uid and gid (no supplementary groups)."""
        switch: dict[str, object] = {}
        if os.geteuid() == 0:
            switch = {"user": self.uid, "group": self.gid, "extra_groups": []}
        env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.dir),
        }
        return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
            args, cwd=self.dir, env=env, **switch, **kwargs
        )

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        # In the system temporary directory, not pytest's: pytest-of-root is 0700 and the
        # postgres user could not reach the cluster inside it.
        self.dir = Path(tempfile.mkdtemp(prefix="hanpyo-pg-"))
        self.socket_dir.mkdir(mode=0o700)
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        for path in (self.dir, self.socket_dir, pwfile):
            os.chown(path, self.uid, self.gid)
        pwfile.chmod(0o600)
        init = self._run_as_owner(
            [
                str(self.bin / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth-host",
                "scram-sha-256",  # TCP needs the generated password
                "--auth-local",
                "trust",  # the unix socket sits in a 0700 directory of the owner's
                "--encoding",
                "UTF8",
                "--no-sync",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output, _ = init.communicate(timeout=120)
        pwfile.unlink()
        if init.returncode != 0:
            raise PostgresError(f"initdb failed ({init.returncode}):\n{output.decode()[-3000:]}")
        for _attempt in range(3):  # the free port may be taken before postgres binds it
            self.port = free_port()
            if self._launch():
                break
        else:
            raise PostgresError(f"postgres did not start:\n{self._log_tail()}")
        with self.connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')

    def _launch(self) -> bool:
        """Run postgres itself (we hold its pid); True once it takes connections."""
        log = self.log_path.open("ab")
        try:
            self.process = self._run_as_owner(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.socket_dir}",
                    "-c",
                    "unix_socket_permissions=0700",
                    # A throwaway cluster: durability buys nothing, and locks work the same.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C at the terminal is for pytest, not for it
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            try:
                with self.connect("postgres", timeout=2):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise PostgresError(f"postgres did not answer in {START_TIMEOUT} s:\n{self._log_tail()}")

    def connect(self, dbname: str | None = None, timeout: int = 10) -> psycopg.Connection:
        """An autocommit psycopg connection as the superuser, over TCP."""
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.password,
            dbname=dbname or self.dbname,
            connect_timeout=timeout,
            autocommit=True,
        )

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its URL."""
        name = database_name(name)
        with self.connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        with self.connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Fast shutdown (SIGINT, as ``pg_ctl stop -m fast``) by pid; SIGKILL if it lingers.
        Then the cluster's directory goes."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # The postmaster's children notice its death and exit by themselves.
                process.kill()
                process.wait()
        directory, self.dir = self.dir, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> PrivatePostgres:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
