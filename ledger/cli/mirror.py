"""`ledger mirror init|follow|serve|status`: an observer's own full, verified copy of the log
(after C2SP tlog-mirror), followed through the ledger's tiles and served read-only under the
ledger's URLs, so a voter's tracking code can be checked while the ledger is down."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from kiosk.core.errors import HanpyoError
from ledger.cli.options import Subparsers


def add_mirror(sub: Subparsers) -> None:
    mirror = sub.add_parser(
        "mirror",
        help="keep and serve a verified full copy of the log (C2SP tlog-mirror)",
        description="A mirror follows a log through its tiles, verifies every checkpoint, "
        "tile and block before keeping it, never overwrites what it holds, and serves its copy "
        "read-only under the ledger's URLs.",
    )
    msub = mirror.add_subparsers(dest="mirror_command", required=True)
    init = msub.add_parser("init", help="set up a mirror directory for one log and election")
    _dir(init)
    init.add_argument(
        "--log", required=True, metavar="ORIGIN=VKEY", help="the log's origin and verifier key"
    )
    init.add_argument(
        "--package", type=Path, required=True, help="the signed election package (election.json)"
    )
    init.add_argument(
        "--authority", required=True, help="the authority's public key, from the authority"
    )
    init.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="VKEY",
        help="a witness's published key (repeat): checkpoints must carry their cosignatures",
    )
    init.add_argument(
        "--witness-threshold",
        type=int,
        help="how many of the --witness keys must have cosigned (default: all of them)",
    )
    init.set_defaults(run=_init)
    follow = msub.add_parser(
        "follow",
        help="fetch, verify and keep what the log added",
        description="Exit status 1 when the mirror refused what it was offered (a fork or "
        "altered tiles; the evidence is kept, see `ledger mirror status`), 2 when the log "
        "could not be read.",
    )
    _dir(follow)
    follow.add_argument(
        "--from",
        dest="source",
        required=True,
        help="the log's tiles: a URL such as https://ledger/tiles, or a directory",
    )
    follow.add_argument("--every", type=float, help="keep following, every this many seconds")
    follow.set_defaults(run=_follow)
    serve = msub.add_parser("serve", help="serve the copy read-only under the ledger's URLs")
    _dir(serve)
    serve.add_argument(
        "--host", default="127.0.0.1", help="where to listen (behind a TLS proxy in production)"
    )
    serve.add_argument("--port", type=int, default=8600)
    serve.set_defaults(run=_serve)
    status = msub.add_parser(
        "status",
        help="what the mirror holds and what it refused",
        description="Prints the size verified and every refusal with both signed checkpoints. "
        "Exit status 1 when the mirror ever refused a fork: the log signed two trees.",
    )
    _dir(status)
    status.add_argument("--json", action="store_true", help="as JSON, for monitoring")
    status.set_defaults(run=_status)


def _dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", type=Path, required=True, help="the mirror's directory")


def _init(args: argparse.Namespace) -> int:
    from ledger.mirror.store import MirrorConfig, create_mirror

    origin, equals, vkey = args.log.partition("=")
    if not equals or not origin:
        raise HanpyoError(f"give the log as ORIGIN=VKEY, not {args.log!r}")
    try:
        package = json.loads(args.package.read_text("utf-8"))
    except ValueError as e:
        raise HanpyoError(f"{args.package} is not JSON: {e}") from e
    threshold = len(args.witness) if args.witness_threshold is None else args.witness_threshold
    config = MirrorConfig(origin, vkey, tuple(args.witness), threshold, args.authority, package)
    create_mirror(args.dir, config)
    print(f"mirror of {origin} set up in {args.dir}; run `ledger mirror follow` to fill it")
    return 0


def _follow(args: argparse.Namespace) -> int:
    from ledger.mirror.follower import MirrorRefused, follow
    from ledger.verify.tiles_proof import tiles_fetcher

    while True:
        try:
            done = follow(args.dir, tiles_fetcher(args.source), args.source)
            print(
                f"mirror holds {done.size} entries (was {done.previous_size}; the log offered "
                f"{done.offered_size}); {done.entries} verified and added",
                flush=True,
            )
            code = 0
        except MirrorRefused as e:
            print(f"ledger: REFUSED ({e.kind}): {e}; evidence kept", file=sys.stderr, flush=True)
            code = 1
        except HanpyoError as e:
            if args.every is None:
                raise
            print(f"ledger: cannot follow now, will retry: {e}", file=sys.stderr, flush=True)
        if args.every is None:
            return code
        try:
            time.sleep(args.every)
        except KeyboardInterrupt:
            return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ledger.cli.host import listening_socket
    from ledger.mirror.server import create_app

    app = create_app(args.dir)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)
    sock = listening_socket(args.host, args.port)
    try:
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        if not server.started:
            raise HanpyoError("the mirror did not start: see the messages above")
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def _status(args: argparse.Namespace) -> int:
    from ledger.mirror.store import MirrorDb, load_config

    config = load_config(args.dir)
    db = MirrorDb(args.dir)
    try:
        size, _ = db.verified()
        refused = db.refused()
        at = db.meta("verified_at")
    finally:
        db.close()
    if args.json:
        doc = {
            "origin": config.origin,
            "size": size,
            "verified_at": at,
            "refused": [
                {"kind": r.kind, "reason": r.reason, "source": r.source, "at": r.at}
                for r in refused
            ],
        }
        print(json.dumps(doc, indent=1))
        return 0
    print(f"mirror of {config.origin}: {size} entries verified (last at {at or 'never'})")
    for r in refused:
        print(f"REFUSED {r.kind} at {r.at} from {r.source}: {r.reason}")
        print(f"  the mirror's checkpoint:\n{_indent(r.held)}  the checkpoint offered:")
        print(_indent(r.offered))
    return 1 if any(r.kind == "fork" for r in refused) else 0


def _indent(note: str) -> str:
    return "".join(f"    {line}\n" for line in note.splitlines())
