"""`ledger witness init|key|serve`: a C2SP tlog-witness that any observer runs on their own
machine, with its own key and its own store, to cosign the checkpoints of the logs it follows."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.core.errors import HanpyoError
from ledger.cli.options import Subparsers


def add_witness(sub: Subparsers) -> None:
    witness = sub.add_parser(
        "witness",
        help="run a witness that cosigns a log's checkpoints (C2SP tlog-witness)",
        description="A witness keeps the latest checkpoint of each log it follows and cosigns "
        "a new one only with a consistency proof from it: a log that shows two different "
        "trees is refused.",
    )
    wsub = witness.add_subparsers(dest="witness_command", required=True)
    init = wsub.add_parser("init", help="create the witness's key (owner-only file)")
    init.add_argument("--dir", type=Path, required=True, help="the witness's directory")
    init.add_argument(
        "--name", required=True, help="the witness's name, a URL without scheme: witness.example/w1"
    )
    init.set_defaults(run=_init)
    key = wsub.add_parser("key", help="print the witness's public key (vkey) to publish")
    key.add_argument("--dir", type=Path, required=True, help="the witness's directory")
    key.set_defaults(run=_key)
    serve = wsub.add_parser("serve", help="answer add-checkpoint over HTTP")
    serve.add_argument("--dir", type=Path, required=True, help="the witness's directory")
    serve.add_argument(
        "--log",
        action="append",
        default=[],
        metavar="ORIGIN=VKEY",
        help="a log to witness: its origin and its published verifier key (repeat)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="where to listen (behind a TLS proxy in production)"
    )
    serve.add_argument("--port", type=int, default=8500)
    serve.set_defaults(run=_serve)


def _init(args: argparse.Namespace) -> int:
    from kiosk.core.cosignature import CosignerKey
    from ledger.witness.store import create_identity

    identity = create_identity(args.dir, args.name)
    print(f"witness key (publish this): {CosignerKey(identity.name, identity.key.public_key).vkey}")
    return 0


def _key(args: argparse.Namespace) -> int:
    from kiosk.core.cosignature import CosignerKey
    from ledger.witness.store import load_identity

    identity = load_identity(args.dir)
    print(CosignerKey(identity.name, identity.key.public_key).vkey)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ledger.cli.host import listening_socket
    from ledger.witness.service import create_app, read_logs
    from ledger.witness.store import load_identity

    app = create_app(args.dir, load_identity(args.dir), read_logs(args.log))
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)
    sock = listening_socket(args.host, args.port)
    try:
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        if not server.started:
            raise HanpyoError("the witness did not start: see the messages above")
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0
