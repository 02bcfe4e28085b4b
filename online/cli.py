"""`hanpyo-online` (or `python -m online`): init, serve, open, close, status, sync.

`init` and `serve` hold the data folder's lock (one process writes the chain); `open`, `close`,
`status` and `sync` ask the running `serve` over HTTP with the staff's admin token, so the chain is
only ever written by the process that has it open."""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Any

import requests

from kiosk.core.chain import Session
from kiosk.core.election import authority_key, read_signed_package
from kiosk.core.encoding import b64e
from kiosk.core.errors import HanpyoError
from kiosk.store.keys import KIOSK_KEY_NAME, KioskKeys, load_keys, provision
from online.files import (
    ADMIN_TOKEN_NAME,
    PACKAGE_FILE,
    PlatformConfig,
    admin_token,
    make_admin_token,
    open_store,
    platform_lock,
    save_package,
    served_url,
    store_path,
    write_serve_file,
)
from online.limits import Limits

DEFAULTS = Limits()
WEB_DIR = Path(__file__).resolve().parent / "web"  # online/web: index.html and dist/


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        return int(args.run(args))
    except HanpyoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hanpyo-online", description="Hanpyo's online voting platform (one more source)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    init = _folders(sub.add_parser("init", help="create the source key and the chain store"))
    init.add_argument("--package", type=Path, required=True, help="the signed election package")
    init.add_argument("--authority", required=True, help="the authority's public key")
    init.add_argument(
        "--new-election", action="store_true", help="replace a package of another election"
    )
    init.set_defaults(run=_init)

    serve = _folders(sub.add_parser("serve", help="serve the voting page and the API"))
    serve.add_argument("--authority", required=True, help="the authority's public key")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8600)
    serve.add_argument(
        "--admin-port",
        type=int,
        default=0,
        help="the staff commands' port, on 127.0.0.1 only (default: any free one; the staff "
        "commands find it in the data folder)",
    )
    serve.add_argument("--ledger-url", help="the ledger to sync with (default: the package's)")
    serve.add_argument("--log-key", help="the ledger's log key (default: the package's)")
    serve.add_argument("--check-url", help="the ledger's public address for voters' links")
    serve.add_argument("--web", type=Path, default=WEB_DIR, help="index.html and dist/")
    serve.add_argument(
        "--forwarded-allow-ips",
        help="addresses of the reverse proxy whose X-Forwarded-For names the voter",
    )
    serve.add_argument("--limit-concurrency", type=int, default=512)
    serve.add_argument("--session-minutes", type=float, default=20.0)
    serve.add_argument("--signin-failures", type=int, default=DEFAULTS.failures_per_window)
    serve.add_argument("--signins-per-minute", type=int, default=DEFAULTS.signins_per_window)
    serve.add_argument("--challenges-per-minute", type=int, default=DEFAULTS.challenges_per_window)
    serve.add_argument(
        "--spoils-per-voter",
        type=int,
        default=DEFAULTS.spoils_per_voter,
        help="encryption checks one member may record, over all their sign-ins",
    )
    serve.add_argument(
        "--refusals-per-voter",
        type=int,
        default=DEFAULTS.refusals_per_voter,
        help="refused ballots one member may send before the platform stops checking theirs",
    )
    serve.add_argument(
        "--max-entries",
        type=int,
        default=DEFAULTS.max_entries,
        help="open sessions, and client addresses each rate limit tracks, held at most",
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log every request with its address"
    )
    serve.add_argument("--sync-idle", type=float, default=5.0, help="seconds between syncs")
    serve.set_defaults(run=_serve)

    for name, text in (
        ("open", "open the platform's session"),
        ("close", "close it"),
        ("status", "show it"),
        ("sync", "push the chain to the ledger now"),
    ):
        command = _folders(sub.add_parser(name, help=text))
        command.add_argument("--url", help="the running platform (default: from --data)")
        if name == "open":
            command.add_argument("--mode", choices=("official", "test"), default="official")
        command.set_defaults(run=_staff, action=name)
    return parser


def _folders(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--data", type=Path, required=True, help="the platform's data folder")
    parser.add_argument("--keys", type=Path, help="its key folder (or systemd credentials)")
    return parser


def _init(args: argparse.Namespace) -> int:
    authority = authority_key(args.authority)
    raw = args.package.read_bytes()
    package = read_signed_package(raw, authority)
    with platform_lock(args.data):
        keys = _keys(args.keys)
        current = _current_package(args.data, authority)
        if current is not None and current.package_hash != package.package_hash:
            _check_replacement(args, current, package, keys)
        save_package(args.data, raw)
        open_store(args.data, keys, package, create=True).close()
    if args.keys is not None and not (args.keys / ADMIN_TOKEN_NAME).exists():
        make_admin_token(args.keys)
    public = b64e(keys.kiosk_key.public_key)
    print(f"election {package.id} (package {package.short_hash}, sequence {package.sequence})")
    print(f"source key: {public}")
    print(f"source id: {keys.kiosk_id}")
    print("enrol it at the ledger:")
    print(f"  ledger kiosks enrol --public-key={public} --name 'online platform' --channel online")
    return 0


def _keys(key_dir: Path | None) -> KioskKeys:
    if key_dir is not None and not (key_dir / KIOSK_KEY_NAME).exists():
        return provision(key_dir)
    return load_keys(key_dir)


def _current_package(data: Path, authority: bytes) -> Any:
    try:
        return read_signed_package((data / PACKAGE_FILE).read_bytes(), authority)
    except FileNotFoundError:
        return None


def _check_replacement(args: argparse.Namespace, current: Any, incoming: Any, keys: Any) -> None:
    """Never an older package of the same election, another election only when asked, and
    never over a chain whose session is open (a re-signed package starts a new chain)."""
    if current.id == incoming.id and incoming.sequence <= current.sequence:
        raise HanpyoError(
            f"the platform runs sequence {current.sequence} of {current.id}; "
            f"refusing sequence {incoming.sequence}"
        )
    if current.id != incoming.id and not args.new_election:
        raise HanpyoError(
            f"the platform runs election {current.id}; give --new-election to switch "
            f"to {incoming.id}"
        )
    path = store_path(args.data, current)
    if path.is_file():
        with open_store(args.data, keys, current) as store:
            if store.state.session is not Session.CLOSED:
                raise HanpyoError(f"the platform's session of {current.id} is open; close it first")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from online.platform import Platform
    from online.web import create_app

    limits = Limits(
        session_ttl_s=args.session_minutes * 60,
        failures_per_window=args.signin_failures,
        signins_per_window=args.signins_per_minute,
        challenges_per_window=args.challenges_per_minute,
        spoils_per_voter=args.spoils_per_voter,
        refusals_per_voter=args.refusals_per_voter,
        max_entries=args.max_entries,
    )
    config = PlatformConfig(
        data_dir=args.data,
        key_dir=args.keys,
        authority=authority_key(args.authority),
        ledger_url=args.ledger_url,
        log_key=args.log_key,
        check_url=args.check_url,
        sync_idle_s=args.sync_idle,
        limits=limits,
    )
    with platform_lock(args.data):
        platform = Platform.open(config)
        try:
            public = _listen(args.host, args.port)
            admin = _listen("127.0.0.1", args.admin_port)  # staff: this machine only
            admin_port = int(admin.getsockname()[1])
            app = create_app(
                platform,
                web_dir=args.web,
                admin_token=admin_token(args.keys),
                admin_port=admin_port,
            )
            write_serve_file(args.data, f"http://127.0.0.1:{admin_port}")
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    workers=1,  # one writer of the chain; sessions live in this process
                    limit_concurrency=args.limit_concurrency,  # beyond it: 503, no pile-up
                    proxy_headers=args.forwarded_allow_ips is not None,
                    forwarded_allow_ips=args.forwarded_allow_ips,
                    server_header=False,
                    # Off by default: a log of addresses beside cast times links people to
                    # ballots.
                    access_log=args.access_log,
                    log_level="info",
                )
            )
            server.run(sockets=[public, admin])
        finally:
            platform.close()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket bound here, so that the platform serves its voters and its staff on
    two sockets of one process (uvicorn takes both)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as e:
        raise HanpyoError(f"cannot listen on {host}:{port}: {e}") from e


def _staff(args: argparse.Namespace) -> int:
    url = (args.url or served_url(args.data)).rstrip("/")
    headers = {"Authorization": f"Bearer {admin_token(args.keys)}"}
    try:
        if args.action == "status":
            answer = requests.get(f"{url}/admin/status", headers=headers, timeout=10)
        else:
            body = {"mode": args.mode} if args.action == "open" else {}
            answer = requests.post(f"{url}/admin/{args.action}", json=body, headers=headers,
                                   timeout=30)  # fmt: skip
    except requests.RequestException as e:
        raise HanpyoError(f"the platform at {url} does not answer: {e}") from e
    try:
        doc = answer.json()
    except ValueError as e:
        raise HanpyoError(f"the platform answered {answer.status_code}: {answer.text}") from e
    if answer.status_code != 200:
        detail = doc.get("detail") or doc.get("message", {}).get("en") or answer.text
        raise HanpyoError(f"refused ({answer.status_code}): {detail}")
    print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0
