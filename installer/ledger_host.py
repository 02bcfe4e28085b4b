"""The ledger host: `ledger serve` as a system user under systemd, its log key as a
credential, and a timer that backs up the database and keeps the newest copies."""

from __future__ import annotations

import argparse
from pathlib import Path

import ledger_standby
from common import (
    choose_seal,
    credential,
    exec_line,
    existing_secret,
    install_packages,
    new_secret,
    package_names,
    program,
    system_user,
)
from plan import Command, File, Link, Plan, Target

USER = "hanpyo-ledger"
PREFIX = "/opt/hanpyo/ledger"
DATA = "/var/lib/hanpyo-ledger"
BACKUPS = "/var/lib/hanpyo-ledger-backups"
ENV_FILE = "/etc/hanpyo/ledger.env"
UNIT = "hanpyo-ledger.service"
BACKUP = "hanpyo-ledger-backup"
LOG_KEY = "hanpyo-log-key"
SYSTEMD = "/etc/systemd/system"

# python3-venv makes the environment; Pango and HarfBuzz let WeasyPrint print the report;
# fonts-noto-cjk for Korean in it; postgresql-client brings pg_dump for the backups;
# libsodium23 does protocol v2's group arithmetic (pysodium).
PACKAGES = [
    "python3", "python3-venv", "ca-certificates", "libpango-1.0-0", "libpangoft2-1.0-0",
    "libharfbuzz-subset0", "fonts-noto-cjk", "libsodium23",
]  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="PostgreSQL URL (default: SQLite in the data folder)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on")  # noqa: S104
    p.add_argument("--port", type=int, default=8400)
    p.add_argument("--workers", type=int, default=1, help="API workers (more need PostgreSQL)")
    p.add_argument("--tls-cert", help="the TLS certificate (PEM) kiosks pin")
    p.add_argument("--tls-key", help="its private key (PEM), loaded as a credential")
    p.add_argument("--backup-keep", type=int, default=14, help="database copies to keep")
    p.add_argument("--backup-when", default="daily", help="systemd calendar of the backups")
    ledger_standby.add_arguments(p)  # --standby-of: a PostgreSQL standby host instead


def check_arguments(args: argparse.Namespace) -> str | None:
    if args.standby_of:
        return ledger_standby.check_arguments(args)
    if (args.tls_cert is None) != (args.tls_key is None):
        return "give both --tls-cert and --tls-key, or neither"
    if args.workers > 1 and not (args.db or "").startswith("postgresql"):
        return "several workers need PostgreSQL (--db postgresql+psycopg://...)"
    if args.backup_keep < 1:
        return "--backup-keep must be at least 1"
    return None


def ledger_plan(args: argparse.Namespace, target: Target) -> Plan:
    if args.standby_of:
        try:
            password = args.replication_password_file
            secret = b"" if args.uninstall else ledger_standby.read_password(password)
        except (OSError, ValueError) as e:
            raise SystemExit(f"hanpyo_install ledger: {e}") from None
        return ledger_standby.standby_plan(args, target, secret)
    plan = Plan("ledger")
    postgres = (args.db or "").startswith("postgresql")
    names = PACKAGES + (["postgresql-client"] if postgres else [])
    install_packages(plan, package_names(names, target))
    system_user(plan, USER, "Hanpyo ledger", DATA, ())
    # an uninstall needs no wheel: it removes what the record lists
    sources = () if args.uninstall else program(plan, PREFIX, "ledger", args.wheel, args.wheelhouse)
    secret = existing_secret(target, LOG_KEY) or new_secret()
    key_path, load_key = credential(plan, LOG_KEY, choose_seal(args.tpm), secret)
    environment = f"HANPYO_DB={args.db}\n" if args.db else ""
    # the database URL may hold a password: root-only, read by systemd for the unit
    plan.add(File(ENV_FILE, f"# Hanpyo ledger settings.\n{environment}".encode(), mode=0o600))
    unit_path = f"{SYSTEMD}/{UNIT}"
    plan.add(
        File(unit_path, ledger_unit(args, load_key).encode()),
        Link(f"{SYSTEMD}/multi-user.target.wants/{UNIT}", unit_path),
    )
    backup_units = backup(plan, args)
    units = (unit_path, *backup_units)
    plan.add(Command(("systemctl", "daemon-reload"), "load the new units", after=units))
    plan.add(
        Command(("systemctl", "restart", f"{BACKUP}.timer"), "start the backup timer", after=units)
    )
    if not args.no_start:
        plan.add(
            Command(
                ("systemctl", "restart", UNIT),
                "start the ledger",
                after=(unit_path, ENV_FILE, key_path, *sources),
            )
        )
    plan.uninstall_commands = [
        Command(("systemctl", "stop", UNIT, f"{BACKUP}.timer"), "stop the ledger"),
        Command(("rm", "-rf", f"{PREFIX}/venv"), "remove the virtual environment"),
    ]
    plan.uninstall_after = [
        Command(("systemctl", "daemon-reload"), "forget the units"),
        Command(("userdel", USER), "remove the user (its files stay)"),
    ]
    return plan


def ledger_unit(args: argparse.Namespace, load_key: str) -> str:
    command = [f"{PREFIX}/venv/bin/ledger", "serve", "--data", DATA, "--host", args.host]
    command += ["--port", str(args.port), "--workers", str(args.workers)]
    line = exec_line(command)
    if args.db:
        line += " --db ${HANPYO_DB}"  # from the root-only environment file
    loads = [load_key]
    if args.tls_cert:
        line += f" --tls-cert {exec_line([str(Path(args.tls_cert).resolve())])}"
        loads.append(f"LoadCredential=hanpyo-tls-key:{Path(args.tls_key).resolve()}")
        line += " --tls-key %d/hanpyo-tls-key"  # %d: the unit's credentials folder
    bind = "AmbientCapabilities=CAP_NET_BIND_SERVICE\n" if args.port < 1024 else ""
    after = " postgresql.service" if (args.db or "").startswith("postgresql") else ""
    credentials = "\n".join(loads)
    return f"""\
# Hanpyo ledger: the API, the Merkle log and the public pages. Written by the installer.
[Unit]
Description=Hanpyo ledger
Wants=network-online.target
After=network-online.target{after}

[Service]
User={USER}
Group={USER}
EnvironmentFile={ENV_FILE}
StateDirectory=hanpyo-ledger
StateDirectoryMode=0700
{credentials}
ExecStart={line}
Restart=on-failure
RestartSec=2
{bind}NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
LockPersonality=yes
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
"""


def backup(plan: Plan, args: argparse.Namespace) -> tuple[str, str]:
    script = f"{PREFIX}/{BACKUP}"
    source = Path(__file__).with_name(f"{BACKUP}.sh").read_bytes()
    service, timer = f"{SYSTEMD}/{BACKUP}.service", f"{SYSTEMD}/{BACKUP}.timer"
    plan.add(File(script, source, mode=0o755))
    plan.add(
        File(
            service,
            f"""\
# Copies the ledger's database, keeping the newest {args.backup_keep}. Hanpyo installer.
[Unit]
Description=Hanpyo ledger database backup

[Service]
Type=oneshot
User={USER}
Group={USER}
EnvironmentFile={ENV_FILE}
Environment=HANPYO_DATA={DATA} HANPYO_BACKUPS={BACKUPS} HANPYO_KEEP={args.backup_keep}
Environment=HANPYO_PYTHON={PREFIX}/venv/bin/python
StateDirectory=hanpyo-ledger-backups
StateDirectoryMode=0700
ExecStart={script}
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
# SQLite writes its shared-memory index beside a WAL database, even to read it
ReadWritePaths={DATA}
""".encode(),
        ),
        File(
            timer,
            f"""\
# When the ledger's database is backed up. Hanpyo installer.
[Unit]
Description=Hanpyo ledger database backup ({args.backup_when})

[Timer]
OnCalendar={args.backup_when}
Persistent=true
RandomizedDelaySec=5min

[Install]
WantedBy=timers.target
""".encode(),
        ),
        Link(f"{SYSTEMD}/timers.target.wants/{BACKUP}.timer", timer),
    )
    return service, timer
