"""`ledger init`, `ledger serve` and `ledger admin-token`: setting up and running the ledger."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from kiosk.core.encoding import b64d
from kiosk.core.errors import HanpyoError
from ledger.cli.options import (
    Subparsers,
    database_url,
    log_key,
    log_key_path,
    open_ledger,
    with_data,
)


def add_init(sub: Subparsers) -> None:
    init = with_data(sub.add_parser("init", help="create the database for a signed election"))
    init.add_argument("--election", type=Path, required=True, help="signed election package")
    init.add_argument("--authority", required=True, help="authority public key (base64url)")
    init.add_argument("--origin", required=True, help="the log's name, e.g. ledger.example/2026")
    init.set_defaults(run=_init)


def add_serve(sub: Subparsers) -> None:
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
    serve.set_defaults(run=_serve)


def add_admin_token(sub: Subparsers) -> None:
    token = with_data(sub.add_parser("admin-token", help="create an admin API token"))
    token.add_argument("--label", required=True)
    token.set_defaults(run=_admin_token)


def _init(args: argparse.Namespace) -> int:
    from ledger.service.ledger import Ledger
    from ledger.store.merkle_log import LogKey
    from ledger.store.schema import connect

    args.data.mkdir(parents=True, exist_ok=True, mode=0o700)  # the SQLite file lives here
    key = LogKey(args.origin, log_key(args, create=True))
    signed = json.loads(args.election.read_text("utf-8"))
    package = Ledger.initialise(
        connect(database_url(args)),
        key,
        signed,
        b64d(args.authority, length=32, name="authority key"),
    )
    print(f"ledger ready for election {package.id} ({package.short_hash})")
    print(f"log key (publish this): {key.verifier.vkey}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    open_ledger(args)  # fail here, clearly, rather than in every worker
    os.environ["HANPYO_LEDGER_DB"] = database_url(args)
    os.environ["HANPYO_LOG_KEY_FILE"] = str(log_key_path(args).resolve())
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


def _admin_token(args: argparse.Namespace) -> int:
    print(open_ledger(args).create_admin_token(args.label))
    return 0
