"""The `ledger` command: set up the ledger, run it, enrol kiosks, import chains, check proofs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from kiosk.core.block import decode_signed_block
from kiosk.core.chain import verify_chain
from kiosk.core.crypto import SigningKey
from kiosk.core.election import Channel
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import HanpyoError

DEFAULT_DATA = Path("ledger-data")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ledger", description="Hanpyo (한표) central ledger")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_data(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--data",
            type=Path,
            default=DEFAULT_DATA,
            help="ledger directory: log key and, by default, the SQLite database",
        )
        p.add_argument(
            "--db",
            help="database URL (default: SQLite in --data); "
            "postgresql://user@host/db for real deployments",
        )
        return p

    init = with_data(sub.add_parser("init", help="create the database for a signed election"))
    init.add_argument("--election", type=Path, required=True, help="signed election package")
    init.add_argument("--authority", required=True, help="authority public key (base64url)")
    init.add_argument("--origin", required=True, help="the log's name, e.g. ledger.example/2026")

    serve = with_data(sub.add_parser("serve", help="run the ledger's HTTP API"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8400)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API worker processes (more than one needs PostgreSQL)",
    )
    serve.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="and this private key (PEM)")

    kiosks = sub.add_parser("kiosks", help="enrol and list kiosks and online platforms")
    ksub = kiosks.add_subparsers(dest="kiosks_command", required=True)
    enrol = with_data(ksub.add_parser("enrol", help="enrol a kiosk by its public key"))
    enrol.add_argument("--public-key", required=True, help="base64url Ed25519 key, or hex")
    enrol.add_argument("--name", required=True)
    enrol.add_argument("--location", default="")
    enrol.add_argument("--channel", choices=[c.value for c in Channel], default="kiosk")
    with_data(ksub.add_parser("list", help="list enrolled sources"))

    token = with_data(sub.add_parser("admin-token", help="create an admin API token"))
    token.add_argument("--label", required=True)

    imp = with_data(sub.add_parser("import", help="ingest a chain file (one block per line)"))
    imp.add_argument("file", type=Path)

    proof = sub.add_parser("verify-proof", help="check that a tracking code is in the log")
    proof.add_argument("--url", required=True, help="the ledger's base URL")
    proof.add_argument("--tracking-code", required=True)
    proof.add_argument("--log-key", required=True, help="the log's published verifier key")

    from ledger.cli.election import add_parsers
    from ledger.cli.tally import add_parsers as add_tally_parsers

    add_parsers(sub, with_data)
    add_tally_parsers(sub, with_data)

    v = sub.add_parser("verify-chain", help="verify a kiosk chain file offline")
    v.add_argument("file", type=Path)

    args = parser.parse_args(argv)
    try:
        return int(_run(args))
    except HanpyoError as e:
        print(f"ledger: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"ledger: {e}", file=sys.stderr)
        return 2


def _db_url(args: argparse.Namespace) -> str:
    from ledger.store.schema import database_url

    return str(database_url(args.db, args.data.resolve() / "ledger.db"))


def _log_key_path(args: argparse.Namespace) -> Path:
    """The log key: the systemd credential ``hanpyo-log-key`` when the service has one
    (installer/), else ``<data>/log.key``."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / "hanpyo-log-key").is_file():
        return Path(creds) / "hanpyo-log-key"
    return Path(args.data) / "log.key"


def _log_key(args: argparse.Namespace, create: bool = False) -> SigningKey:
    path = _log_key_path(args)
    if create and not path.exists():
        args.data.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = SigningKey.generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(b64e(key.seed) + "\n")
        return key
    return SigningKey(b64d(path.read_text().strip(), length=32, name="log key"))


def _ledger(args: argparse.Namespace) -> Any:
    from ledger.service.ledger import Ledger
    from ledger.store.schema import connect

    return Ledger(connect(_db_url(args)), _log_key(args))


def _run(args: argparse.Namespace) -> int:
    if args.command == "verify-chain":
        return _verify_chain(args.file)
    if args.command == "verify-proof":
        from ledger.verify.inclusion_proof import check_tracking_code

        found = check_tracking_code(args.url, args.tracking_code, args.log_key)
        print(
            f"tracking code {args.tracking_code} is block {found.height} of kiosk "
            f"{found.kiosk}, at position {found.leaf_index} of the log; the inclusion proof "
            f"verifies against the signed checkpoint of size {found.size}"
        )
        return 0
    if args.command in ("election", "authority-key"):
        from ledger.cli.election import run as run_election

        return run_election(args)
    if args.command in ("tally", "verify-bundle"):
        from ledger.cli.tally import run as run_tally

        return run_tally(args)
    if args.command == "init":
        return _init(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "admin-token":
        print(_ledger(args).create_admin_token(args.label))
        return 0
    if args.command == "kiosks":
        return _kiosks(args)
    if args.command == "import":
        return _import(args)
    raise AssertionError(args.command)


def _init(args: argparse.Namespace) -> int:
    from ledger.service.ledger import Ledger
    from ledger.store.merkle_log import LogKey
    from ledger.store.schema import connect

    args.data.mkdir(parents=True, exist_ok=True, mode=0o700)  # the SQLite file lives here
    key = LogKey(args.origin, _log_key(args, create=True))
    signed = json.loads(args.election.read_text("utf-8"))
    package = Ledger.initialise(
        connect(_db_url(args)), key, signed, b64d(args.authority, length=32, name="authority key")
    )
    print(f"ledger ready for election {package.id} ({package.short_hash})")
    print(f"log key (publish this): {key.verifier.vkey}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    _ledger(args)  # fail here, clearly, rather than in every worker
    os.environ["HANPYO_LEDGER_DB"] = _db_url(args)
    os.environ["HANPYO_LOG_KEY_FILE"] = str(_log_key_path(args).resolve())
    # the tally's published records, shown on the public pages once they are there
    os.environ["HANPYO_PUBLISHED"] = str((args.data / "published").resolve())
    if (args.tls_cert is None) != (args.tls_key is None):
        raise HanpyoError("give both --tls-cert and --tls-key, or neither")
    uvicorn.run(
        "ledger.web.api:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        timeout_graceful_shutdown=5,  # kiosks keep connections alive; do not wait on them
        ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
        ssl_keyfile=str(args.tls_key) if args.tls_key else None,
    )
    return 0


def _kiosks(args: argparse.Namespace) -> int:
    ledger = _ledger(args)
    if args.kiosks_command == "enrol":
        text = args.public_key.strip()
        key = bytes.fromhex(text) if len(text) == 64 else b64d(text, length=32, name="key")
        kiosk_id = ledger.enrol(key, args.name, args.location, Channel(args.channel))
        print(f"enrolled {args.name}: kiosk id {kiosk_id}")
        return 0
    for s in ledger.sources():
        state = "QUARANTINED: " + (s.quarantine_reason or "") if s.quarantined else "ok"
        print(
            f"{s.kiosk_id}  {s.channel.value:<6}  height {s.height:>6}  {s.name}  "
            f"{s.location}  {state}"
        )
    return 0


def _import(args: argparse.Namespace) -> int:
    from ledger.service.usb_import import import_chain_file

    report = import_chain_file(_ledger(args), args.file)
    print(report.summary())
    return 0 if report.ok else 1


def _verify_chain(path: Path) -> int:
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    try:
        state = verify_chain(decode_signed_block(line) for line in lines)
    except HanpyoError as e:
        print(f"ledger: {path}: {e}", file=sys.stderr)
        return 1
    print(
        f"chain verified: kiosk {state.kiosk}, election {state.election}, "
        f"{state.height + 1} blocks, {state.ballots} ballots, {state.test_ballots} test ballots"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
