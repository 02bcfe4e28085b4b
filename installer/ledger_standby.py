"""A standby host for the ledger's PostgreSQL: `install-ledger.sh --standby-of URL`.

Debian 12's PostgreSQL 15, its cluster 15/main cloned from the primary by ``pg_basebackup -R``
(streaming replication, named ``hanpyo_standby`` as the primary's synchronous_standby_names
expects), hot standby on, and a client rule letting the ledger host connect once it is
promoted. Promotion is by hand (docs/ledger-standby.md says when and how, and why not Patroni).
The cluster Debian made on install is moved aside, never deleted; a host that already is a
standby is left as it is.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import urllib.parse
from dataclasses import dataclass

from common import install_packages, package_names
from plan import Command, File, Plan, Target

PG_VERSION = "15"  # Debian 12's
CLUSTER = f"/etc/postgresql/{PG_VERSION}/main"
DATA = f"/var/lib/postgresql/{PG_VERSION}/main"
CONF = f"{CLUSTER}/conf.d/hanpyo-standby.conf"
HBA = f"{CLUSTER}/hanpyo_hba.conf"
CLONE = "/opt/hanpyo/ledger/hanpyo-standby-clone"
STANDBY_NAME = "hanpyo_standby"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class Primary:
    host: str
    port: int
    user: str


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--standby-of",
        metavar="URL",
        help="set this host up as the synchronous standby of the ledger's PostgreSQL primary "
        "at URL (postgresql://REPLICATION_USER@HOST:PORT); the ledger itself is not installed",
    )
    p.add_argument(
        "--replication-password-file",
        help="a file only you can read with the replication user's password (- for stdin)",
    )
    p.add_argument(
        "--ledger-from",
        metavar="CIDR",
        help="the ledger host's address (e.g. 10.0.0.5/32): it may connect once this standby "
        "is promoted",
    )
    p.add_argument("--ledger-database", default="hanpyo", help="the ledger's database")
    p.add_argument("--ledger-user", default="hanpyo", help="the user the ledger connects as")


def parse_primary(url: str) -> Primary:
    """``postgresql://USER@HOST[:PORT]``; a password in it is refused (ps and history)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise ValueError(f"--standby-of {url}: give postgresql://REPLICATION_USER@HOST:PORT")
    if parts.password is not None:
        raise ValueError(
            "--standby-of: no password in the URL (every user sees it in `ps`); "
            "give --replication-password-file"
        )
    user = parts.username or "hanpyo_replication"
    if not _NAME.fullmatch(user):
        raise ValueError(f"--standby-of: {user!r} is not a plain user name")
    if not re.fullmatch(r"[A-Za-z0-9.:-]+", parts.hostname):
        raise ValueError(f"--standby-of: {parts.hostname!r} is not a host name or address")
    return Primary(parts.hostname, parts.port or 5432, user)


def check_arguments(args: argparse.Namespace) -> str | None:
    try:
        parse_primary(args.standby_of)
    except ValueError as e:
        return str(e)
    if not args.replication_password_file:
        return "--standby-of needs --replication-password-file"
    if not args.ledger_from:
        return "--standby-of needs --ledger-from CIDR: the ledger host, once this is promoted"
    try:
        ipaddress.ip_network(args.ledger_from, strict=False)
    except ValueError:
        return f"--ledger-from {args.ledger_from}: not an address or network (e.g. 10.0.0.5/32)"
    for name in (args.ledger_database, args.ledger_user):
        if not _NAME.fullmatch(name):
            return f"{name!r} is not a plain PostgreSQL name"
    return None


def read_password(source: str) -> bytes:
    """One line from stdin ("-") or from a file no other user can read."""
    if source == "-":
        import sys

        line = sys.stdin.readline()
    else:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, encoding="utf-8") as f:
            info = os.fstat(f.fileno())
            if info.st_mode & 0o077 or info.st_uid != os.geteuid():
                raise ValueError(
                    f"--replication-password-file {source}: other users can read it or it is "
                    f"not yours; chmod 600 it as its owner"
                )
            line = f.readline()
    password = line.strip()
    if not password or "\n" in password:
        raise ValueError(f"{source}: no password in it (one line)")
    return (password + "\n").encode()


def standby_plan(args: argparse.Namespace, target: Target, password: bytes) -> Plan:
    primary = parse_primary(args.standby_of)
    plan = Plan("ledger-standby")
    install_packages(plan, package_names(["postgresql", "postgresql-client"], target))
    plan.add(File(CONF, settings().encode()), File(HBA, client_rules(args).encode()))
    plan.add(File(CLONE, CLONE_SCRIPT.encode(), mode=0o755))
    conninfo = (
        f"host={primary.host} port={primary.port} user={primary.user} "
        f"application_name={STANDBY_NAME}"
    )
    plan.add(
        Command(
            (CLONE, conninfo),
            "clone the primary's cluster and start streaming from it (once)",
            key=f"standby-of:{primary.host}:{primary.port}",
            needed=lambda: not os.path.exists(f"{DATA}/standby.signal"),
            stdin=password,
        ),
        Command(
            ("pg_ctlcluster", PG_VERSION, "main", "reload"),
            "load the settings and client rules",
            after=(CONF, HBA),
        ),
    )
    plan.uninstall_commands = [
        Command(("pg_ctlcluster", PG_VERSION, "main", "stop"), "stop the standby (its data stays)")
    ]
    plan.facts["standby_of"] = f"{primary.host}:{primary.port}"
    return plan


def settings() -> str:
    return f"""\
# Hanpyo: this cluster is the ledger primary's standby. Written by the installer.
listen_addresses = '*'
hba_file = '{HBA}'
hot_standby = on
# Once promoted, a commit waits for a standby's disk again only when one is built and named
# in synchronous_standby_names (docs/ledger-standby.md, "after a promotion").
synchronous_commit = on
wal_level = replica
max_wal_senders = 5
"""


def client_rules(args: argparse.Namespace) -> str:
    return f"""\
# Hanpyo: who may connect to this cluster. Written by the installer.
# TYPE  DATABASE  USER  ADDRESS  METHOD
local   all       postgres       peer
local   all       all            peer
host    {args.ledger_database}  {args.ledger_user}  {args.ledger_from}  scram-sha-256
host    {args.ledger_database}  {args.ledger_user}  127.0.0.1/32  scram-sha-256
"""


# Run once, as root, with the replication password on standard input (never in argv).
CLONE_SCRIPT = f"""\
#!/bin/sh
# Makes this host's PostgreSQL {PG_VERSION} cluster "main" a streaming standby of the ledger's
# primary. Hanpyo installer; run once with the replication password on standard input.
set -eu
conninfo=$1
data={DATA}
if [ -e "$data/standby.signal" ]; then
    echo "already a standby; left as it is"
    exit 0
fi
IFS= read -r PGPASSWORD
export PGPASSWORD
pg_ctlcluster {PG_VERSION} main stop || true
# The cluster Debian made on install is moved aside, not deleted: nothing recorded is lost.
if [ -d "$data" ]; then
    mv "$data" "$data.before-standby.$(date +%Y%m%d%H%M%S)"
fi
runuser -u postgres -- /usr/lib/postgresql/{PG_VERSION}/bin/pg_basebackup \\
    --dbname "$conninfo" --pgdata "$data" --write-recovery-conf \\
    --wal-method stream --checkpoint fast --no-password --progress
unset PGPASSWORD
pg_ctlcluster {PG_VERSION} main start
echo "streaming from the primary: its pg_stat_replication view lists {STANDBY_NAME}"
"""
