"""Installs a Hanpyo kiosk host or ledger host: `hanpyo_install.py kiosk|ledger [options]`.

Every run says what it changed; a second run says "no changes". `--dry-run` only says
what it would change, `--root DIR` writes under DIR and prints the commands instead of
running them, `--uninstall` removes what an install added and keeps keys and data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kiosk_host
import ledger_host
from common import find_wheel
from plan import Plan, Target, apply, read_facts, uninstall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hanpyo_install", description=__doc__)
    sub = parser.add_subparsers(dest="host", required=True)
    kiosk = sub.add_parser("kiosk", help="a voting kiosk: cage on tty1, pcscd, its keys")
    kiosk_host.add_arguments(kiosk)
    ledger = sub.add_parser("ledger", help="the central ledger: ledger serve, backups")
    ledger_host.add_arguments(ledger)
    for p in (kiosk, ledger):
        p.add_argument("--root", type=Path, default=Path("/"), help="install under DIR")
        p.add_argument(
            "--dry-run", action="store_true", help="say what would change; change nothing"
        )
        p.add_argument("--uninstall", action="store_true", help="remove it; keep keys and data")
        p.add_argument("--tpm", choices=("auto", "tpm2", "host", "none"), default="auto",
                       help="seal keys with systemd-creds to the TPM (auto: when there is one), "
                       "the host key, or keep them as root-only files (none)")  # fmt: skip
        p.add_argument("--no-start", action="store_true", help="do not (re)start the service")
        p.add_argument(
            "--wheel",
            type=Path,
            help="the program's wheel (default: the newest dist/hanpyo-*.whl beside the "
            "installer, as installer/make-release.sh writes it)",
        )
        p.add_argument(
            "--wheelhouse",
            type=Path,
            help="a folder with every dependency's wheel, for a host without internet "
            "(default: dist/wheels beside the wheel, when it exists)",
        )
    args = parser.parse_args(argv)
    target = Target(args.root.resolve(), args.dry_run)
    if target.real and os.geteuid() != 0:
        parser.error("run as root (or use --root DIR or --dry-run)")
    if args.host == "kiosk":
        return _kiosk(parser, args, target)
    return _ledger(parser, args, target)


def _kiosk(parser: argparse.ArgumentParser, args: argparse.Namespace, target: Target) -> int:
    if args.uninstall:
        args.authority = args.authority or "-"
        plan, _ = kiosk_host.kiosk_plan(args, target)
        uninstall(plan, target)
        return 0
    if not args.authority:
        parser.error("the kiosk needs --authority KEY, the election authority's public key")
    if args.admin_token is not None:
        parser.error(
            "an admin token is never given on the command line (every user sees it in `ps`, "
            "and it stays in the shell's history): put it in a file only you can read "
            "(chmod 600) and give --admin-token-file FILE, or --admin-token-file - and type it"
        )
    if args.ledger and not args.admin_token_file:
        parser.error("--ledger needs --admin-token-file to register the kiosk")
    token = read_admin_token(parser, args.admin_token_file) if args.ledger else ""
    if not _known_zone(args.timezone):
        parser.error(f"--timezone {args.timezone}: no such time zone (e.g. Asia/Seoul)")
    _find_program(parser, args)
    plan, secret = kiosk_host.kiosk_plan(args, target)
    public_key = _public_key(secret, target) if secret else read_facts(plan, target).get("key")
    if public_key:
        plan.facts["key"] = public_key
    print(f"kiosk host{_where(target)}:")
    changes = apply(plan, target)
    if public_key:
        _enrol(args, target, plan, public_key, token)
    else:
        print("the kiosk's public key is known once its virtual environment is installed")
    if changes and target.real:
        print("restart the machine once so the terminal and console settings apply")
    return 0


def _ledger(parser: argparse.ArgumentParser, args: argparse.Namespace, target: Target) -> int:
    problem = ledger_host.check_arguments(args)
    if problem and not args.uninstall:
        parser.error(problem)
    if not args.uninstall and not args.standby_of:  # a standby host runs PostgreSQL only
        _find_program(parser, args)
    plan = ledger_host.ledger_plan(args, target)
    if args.uninstall:
        uninstall(plan, target)
        return 0
    print(f"ledger host{_where(target)}:")
    apply(plan, target)
    return 0


def _known_zone(zone: str) -> bool:
    """A time zone name tzdata knows; checked by its form alone where tzdata is not yet
    installed (the kiosk's packages bring it)."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*", zone):
        return False
    zoneinfo = Path("/usr/share/zoneinfo")
    return not zoneinfo.is_dir() or (zoneinfo / zone).is_file()


def _find_program(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Settle --wheel and --wheelhouse (the defaults come from a release's dist/ folder)."""
    try:
        args.wheel = find_wheel(args.wheel)
    except ValueError as e:
        parser.error(str(e))
    if args.wheelhouse is None and (args.wheel.parent / "wheels").is_dir():
        args.wheelhouse = args.wheel.parent / "wheels"
    if args.wheelhouse is not None:
        if not args.wheelhouse.is_dir():
            parser.error(f"--wheelhouse {args.wheelhouse}: no such folder")
        args.wheelhouse = args.wheelhouse.resolve()
        print(f"installing without the internet: dependencies from {args.wheelhouse}")


def _where(target: Target) -> str:
    mode = " (dry run)" if target.dry_run else ""
    return mode if target.root == Path("/") else f" under {target.root}{mode}"


def _public_key(seed_line: bytes, target: Target) -> str | None:
    """The kiosk's Ed25519 public key, worked out by a Python that has PyNaCl: the
    program's new environment, or the one running the installer."""
    python = target.path(f"{kiosk_host.PREFIX}/venv/bin/python")
    for candidate in ([str(python)] if target.real and python.exists() else []) + [sys.executable]:
        done = subprocess.run(  # noqa: S603
            [candidate, "-c", _PUBLIC_KEY],
            input=seed_line,
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            return done.stdout.decode().strip()
    return None


_PUBLIC_KEY = """\
import base64, sys
from nacl.signing import SigningKey
text = sys.stdin.read().strip()
seed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
key = SigningKey(seed).verify_key.encode()
print(base64.urlsafe_b64encode(key).rstrip(b"=").decode())
"""


def read_admin_token(parser: argparse.ArgumentParser, source: str) -> str:
    """The admin token from standard input ("-") or from a file no one else can read."""
    if source == "-":
        if sys.stdin.isatty():
            import getpass

            token = getpass.getpass("admin token (not shown): ")
        else:
            token = sys.stdin.readline()
    else:
        token = _token_file(parser, Path(source))
    token = token.strip()
    if not token or len(token) > 200 or any(c.isspace() for c in token):
        parser.error(f"{source}: no admin token in it (one line, as `ledger admin-token` prints)")
    return token


def _token_file(parser: argparse.ArgumentParser, path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        parser.error(f"--admin-token-file {path}: {e.strerror}")
    with os.fdopen(fd, encoding="utf-8") as f:
        info = os.fstat(f.fileno())
        if info.st_mode & 0o077 or info.st_uid != os.geteuid():
            parser.error(
                f"--admin-token-file {path}: other users can read it or it is not yours; "
                f"run `chmod 600 {shlex.quote(str(path))}` as its owner"
            )
        return f.read(1000)


def _enrol(
    args: argparse.Namespace, target: Target, plan: Plan, public_key: str, token: str
) -> None:
    name = args.name or socket.gethostname()
    kiosk_id = _kiosk_id(public_key)
    print(f"kiosk {kiosk_id}, public key {public_key}")
    if not args.ledger:
        command = f"ledger kiosks enrol --public-key {public_key} --name {shlex.quote(name)}"
        if args.location:
            command += f" --location {shlex.quote(args.location)}"
        if args.late_reason:
            command += f" --late-reason {shlex.quote(args.late_reason)}"
        print(f"enrol it on the ledger host with:\n  {command}")
        _print_qr(command, target)
        return
    marker = target.path(f"/var/lib/hanpyo-install/enrolled-{kiosk_id}")
    if marker.exists():
        return
    if not target.real:
        print(f"  would register kiosk {kiosk_id} with {args.ledger} (POST /v1/admin/kiosks)")
        return
    registered = register(args.ledger, token, public_key, name, args.location, args.late_reason)
    marker.write_text(f"{args.ledger}\n")
    print(f"registered kiosk {registered} with {args.ledger}")


def register(
    ledger: str,
    token: str,
    public_key: str,
    name: str,
    location: str,
    late_reason: str | None = None,
) -> str:
    """Enrols the kiosk's key with the ledger's admin API; returns the ledger's kiosk id.
    After the election opened, the ledger wants ``late_reason`` (and publishes it)."""
    enrolment = {"public_key": public_key, "name": name, "location": location}
    if late_reason:
        enrolment["late_reason"] = late_reason
    body = json.dumps(enrolment).encode()
    request = urllib.request.Request(  # noqa: S310 (the admin gives an http(s) URL)
        ledger.rstrip("/") + "/v1/admin/kiosks",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            kiosk = str(json.load(response)["kiosk"])
    except urllib.error.HTTPError as e:
        sys.exit(f"the ledger refused the kiosk ({e.code}): {e.read().decode(errors='replace')}")
    except OSError as e:
        sys.exit(f"cannot reach the ledger at {ledger}: {e}")
    if kiosk != _kiosk_id(public_key):
        sys.exit(f"the ledger enrolled kiosk {kiosk}, not {_kiosk_id(public_key)}")
    return kiosk


def _kiosk_id(public_key: str) -> str:
    import base64

    raw = base64.urlsafe_b64decode(public_key + "=" * (-len(public_key) % 4))
    return hashlib.sha256(raw).digest()[:16].hex()


def _print_qr(text: str, target: Target) -> None:
    """The enrolment command as a QR code in the terminal, for the admin's phone."""
    python = target.path(f"{kiosk_host.PREFIX}/venv/bin/python")
    for candidate in ([str(python)] if target.real and python.exists() else []) + [sys.executable]:
        done = subprocess.run(  # noqa: S603
            [candidate, "-c", "import segno, sys; segno.make(sys.argv[1]).terminal(compact=True)",
             text],
            check=False,
            capture_output=True,
            text=True,
        )  # fmt: skip
        if done.returncode == 0:
            print(done.stdout)
            return


if __name__ == "__main__":
    sys.exit(main())
