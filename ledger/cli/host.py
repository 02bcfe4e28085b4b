"""`ledger init`, `ledger serve`, `ledger openapi` and `ledger admin-token`: setting up and
running the ledger."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from datetime import UTC, datetime
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
        help="API worker processes; they verify uploads in parallel and elect one integrator "
        "that extends the tree (on SQLite, 2 use both cores of a small machine)",
    )
    serve.add_argument(
        "--read-workers",
        type=int,
        default=None,
        help="processes each API worker reads a large upload with (200 blocks or more: a kiosk "
        "catching up), started with the first one; 0 reads every upload in the worker itself "
        "(default: the cores the API workers leave, shared among them, when that is 2 or more "
        "each; else 0)",
    )
    serve.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="and this private key (PEM)")
    serve.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="NAME=URL=VKEY",
        help="a witness to ask to cosign every checkpoint (repeat; or $HANPYO_WITNESSES)",
    )
    serve.add_argument(
        "--mirror",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a mirror whose size and lag the dashboard shows, asked every few seconds "
        "(repeat; or $HANPYO_MIRRORS)",
    )
    serve.add_argument(
        "--tiles-dir",
        type=Path,
        help="write the log as C2SP tlog-tiles here after every checkpoint (served at /tiles; "
        "default: serve <data>/tiles, written by `ledger tiles publish`)",
    )
    serve.add_argument(
        "--dev",
        action="store_true",
        help="also serve the API's documentation (/docs, /redoc, /openapi.json); "
        "never on an election's ledger",
    )
    serve.set_defaults(run=_serve)


def add_openapi(sub: Subparsers) -> None:
    doc = with_data(sub.add_parser("openapi", help="print the API's OpenAPI document (not served)"))
    doc.set_defaults(run=_openapi)


def add_admin_token(sub: Subparsers) -> None:
    token = with_data(
        sub.add_parser(
            "admin-token",
            help="create, list or revoke admin API tokens",
            description="Without a subcommand: create a token, print it once. Scopes: read "
            "(dashboard, fleet, reconciliation), enrol (enrol sources), close, tally.",
        )
    )
    token.add_argument("--label", help="who or what the token is for")
    token.add_argument(
        "--scope",
        action="append",
        default=[],
        help="read, enrol, close or tally (repeat for more than one)",
    )
    token.add_argument(
        "--expires",
        default="12h",
        help="a duration (30m, 12h, 7d) or a date and time with its offset "
        "(2026-11-25T18:00+09:00); default 12h",
    )
    token.set_defaults(run=_admin_token)
    tsub = token.add_subparsers(dest="token_command")
    listing = tsub.add_parser("list", help="every token: label, first characters, scopes, state")
    _data_options(listing).set_defaults(run=_list_tokens)
    revoke = tsub.add_parser("revoke", help="revoke tokens by label or by first characters")
    # an option, not a positional: a token may begin with "-" (write --prefix=-abc)
    revoke.add_argument("--prefix", help="the token's first characters (at least 4)")
    revoke.add_argument("--label", dest="revoke_label", help="revoke every token with this label")
    _data_options(revoke).set_defaults(run=_revoke_tokens)


def _data_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    # --data/--db after the subcommand too; SUPPRESS keeps the values given before it.
    p.add_argument("--data", type=Path, default=argparse.SUPPRESS, help="ledger directory")
    p.add_argument("--db", default=argparse.SUPPRESS, help="database URL")
    return p


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
    os.environ["HANPYO_LEDGER_DEV"] = "1" if args.dev else "0"
    if args.read_workers is not None and args.read_workers < 0:
        raise HanpyoError("--read-workers is 0 (read uploads in the worker) or more")
    read_workers = args.read_workers
    if read_workers is None:
        # Reading on readers pays for sending the blocks to them and back; with fewer than two
        # free cores per worker it gains nothing (bench/REPORT.md, "read on every core").
        spare = ((os.cpu_count() or 1) - args.workers) // max(1, args.workers)
        read_workers = spare if spare >= 2 else 0
    os.environ["HANPYO_READ_WORKERS"] = str(read_workers)
    if args.witness:  # checked here, clearly, rather than in every worker
        from ledger.witness.client import ENVIRONMENT, Witness

        for spec in args.witness:
            Witness.parse(spec)
        os.environ[ENVIRONMENT] = " ".join(args.witness)
    if args.mirror:
        from ledger.service.log_health import ENVIRONMENT as MIRRORS
        from ledger.service.log_health import Mirror

        for spec in args.mirror:
            Mirror.parse(spec)
        os.environ[MIRRORS] = " ".join(args.mirror)
    if args.tiles_dir is not None:
        args.tiles_dir.mkdir(parents=True, exist_ok=True)
        os.environ["HANPYO_TILES_DIR"] = str(args.tiles_dir.resolve())
    if (args.tls_cert is None) != (args.tls_key is None):
        raise HanpyoError("give both --tls-cert and --tls-key, or neither")
    config = uvicorn.Config(
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
    # Our own listening socket, with TCP_NODELAY: uvicorn binds its multi-worker socket with
    # protocol 0, asyncio then never sets TCP_NODELAY on the connections, and Nagle holds each
    # answer's body ~40 ms for the client's delayed ACK (uvicorn issue 3149). Accepted sockets
    # inherit the option from the listener on Linux.
    sock = listening_socket(args.host, args.port)
    try:
        if args.workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(config, sockets=[sock]).run()  # as uvicorn.run does, with our socket
        else:
            server = uvicorn.Server(config)
            server.run(sockets=[sock])
            if not server.started:
                raise HanpyoError("the ledger did not start: see the messages above")
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP listening socket for ``ledger serve``, with TCP_NODELAY set (see _serve)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise HanpyoError(f"cannot listen on {host}:{port}: {e.strerror}") from e
    sock.set_inheritable(True)  # the worker processes serve it
    return sock


def _openapi(args: argparse.Namespace) -> int:
    from ledger.web.api import create_app

    print(json.dumps(create_app(open_ledger(args)).openapi(), ensure_ascii=False, indent=1))
    return 0


def _admin_token(args: argparse.Namespace) -> int:
    from ledger.rules.admin_access import read_expiry, read_scopes

    if not args.label:
        raise HanpyoError("give --label: who or what the token is for")
    scopes = read_scopes(args.scope)
    expires = read_expiry(args.expires, datetime.now(UTC))
    token = open_ledger(args).create_admin_token(args.label, scopes, expires)
    print(token)  # the only copy: the ledger keeps its hash
    print(
        f"label {args.label}; scopes {' '.join(sorted(scopes))}; "
        f"expires {expires.isoformat(timespec='minutes')}",
        file=sys.stderr,
    )
    return 0


def _list_tokens(args: argparse.Namespace) -> int:
    from ledger.service.admin_tokens import grants

    now = datetime.now(UTC)
    for g in grants(open_ledger(args)):
        state = "revoked" if g.revoked_at else "expired" if now >= g.expires_at else "live"
        print(
            f"{g.prefix or '-':<8}…  {state:<7}  {' '.join(sorted(g.scopes)) or '-':<24}  "
            f"expires {g.expires_at.isoformat(timespec='minutes')}  {g.label}"
        )
    return 0


def _revoke_tokens(args: argparse.Namespace) -> int:
    from ledger.service.admin_tokens import revoke

    count = revoke(open_ledger(args), label=args.revoke_label, prefix=args.prefix)
    print(f"revoked {count} admin token{'s' if count != 1 else ''}")
    return 0
