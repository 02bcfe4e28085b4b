"""The platform's files: its data folder (the signed package, the chain store, the lock and the
address it serves at) and its key folder (the source key and the store key, written by the
kiosk's own provisioning, and the staff's admin token)."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kiosk.core.duplicates import chain_may_repeat
from kiosk.core.election import Channel, ElectionPackage, read_signatures
from kiosk.core.errors import HanpyoError
from kiosk.core.secret_file import write_secret
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import KioskKeys
from online.limits import Limits

PACKAGE_FILE = "election.json"  # the signed package the platform runs
LOCK_FILE = "platform.lock"  # held by the one process that has the store open
SERVE_FILE = "serve.json"  # where `serve` listens, for `open`, `close` and `status`
# in the key folder, beside the source key (a file name, not a secret)
ADMIN_TOKEN_NAME = "hanpyo-online-admin-token"  # noqa: S105


@dataclass(frozen=True, slots=True)
class PlatformConfig:
    data_dir: Path  # the signed package and the encrypted chain store
    key_dir: Path | None  # None: systemd credentials ($CREDENTIALS_DIRECTORY), as a kiosk's
    authority: bytes  # the election authority's public key: the package must be signed by it
    ledger_url: str | None = None  # overrides the package's ledger address (an internal one)
    log_key: str | None = None  # the ledger's checkpoint key, if the package does not name it
    check_url: str | None = None  # the ledger's public base URL for voters' check links
    sync_idle_s: float = 5.0
    limits: Limits = field(default_factory=Limits)


def store_path(data_dir: Path, package: ElectionPackage) -> Path:
    """One store per package, as on a kiosk: a re-signed package starts a new chain and never
    touches the old one."""
    return data_dir / f"{package.id}-{package.short_hash}.db"


def open_store(
    data_dir: Path, keys: KioskKeys, package: ElectionPackage, *, create: bool = False
) -> ChainStore:
    """The platform's chain for ``package``: a member may be recorded more than once when
    the election counts a later online ballot (revoting), which the ledger and every verifier
    allow for a source enrolled with channel ``online`` by the same rule."""
    path = store_path(data_dir, package)
    repeats = chain_may_repeat(package.duplicate_policy, Channel.ONLINE)
    if create:
        return ChainStore.open_or_create(
            path, keys.store_key, keys.kiosk_key, package, repeats=repeats
        )
    return ChainStore.open(path, keys.store_key, keys.kiosk_key, package, repeats=repeats)


def saved_package(config: PlatformConfig) -> tuple[ElectionPackage, bytes | None]:
    """The package ``init`` saved, read and verified once, with its public part's signature."""
    path = config.data_dir / PACKAGE_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise HanpyoError(f"{path} is missing: run `hanpyo-online init` first") from e
    return read_signatures(raw, config.authority)


def save_package(data_dir: Path, raw: bytes) -> None:
    write_secret(data_dir / PACKAGE_FILE, raw, replace=True)


@contextmanager
def platform_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data folder's lock: two processes never write one chain (each keeps the chain's
    head in memory, so a second writer would fork it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle: IO[bytes] = (data_dir / LOCK_FILE).open("ab")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise HanpyoError(
                f"another platform process uses {data_dir}; stop it first "
                "(`open`, `close` and `status` talk to a running `serve`)"
            ) from e
        yield
    finally:
        handle.close()


def make_admin_token(key_dir: Path) -> str:
    """A new staff token for `open`, `close` and `status` (readable by the owner only)."""
    token = secrets.token_urlsafe(32)
    write_secret(key_dir / ADMIN_TOKEN_NAME, (token + "\n").encode("ascii"), replace=True)
    return token


def admin_token(key_dir: Path | None) -> str:
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    folder = Path(creds) if creds and (Path(creds) / ADMIN_TOKEN_NAME).is_file() else key_dir
    if folder is None:
        raise HanpyoError("no key folder given (--keys) and no systemd credentials")
    try:
        token = (folder / ADMIN_TOKEN_NAME).read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise HanpyoError(f"the admin token cannot be read from {folder}: {e}") from e
    if len(token) < 32:
        raise HanpyoError(f"{folder / ADMIN_TOKEN_NAME} is not an admin token")
    return token


def write_serve_file(data_dir: Path, url: str) -> None:
    write_secret(data_dir / SERVE_FILE, json.dumps({"url": url}).encode(), replace=True)


def served_url(data_dir: Path) -> str:
    try:
        return str(json.loads((data_dir / SERVE_FILE).read_text())["url"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise HanpyoError(
            f"no running platform found for {data_dir}: start `hanpyo-online serve`, or give "
            "its address with --url"
        ) from e
