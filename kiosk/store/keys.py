"""The kiosk's own secrets: its signing key and its store key, from systemd credentials or files."""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import EncodingError
from kiosk.core.secret_file import write_secret
from kiosk.store.errors import KeyFileError

KIOSK_KEY_NAME = "hanpyo-kiosk-key"
STORE_KEY_NAME = "hanpyo-store-key"


@dataclass(frozen=True, slots=True)
class KioskKeys:
    kiosk_key: SigningKey
    store_key: bytes

    def __repr__(self) -> str:
        return f"KioskKeys(kiosk={self.kiosk_id})"

    @property
    def kiosk_id(self) -> str:
        return kiosk_id_for(self.kiosk_key.public_key)


def load_keys(key_dir: Path | None) -> KioskKeys:
    """Load the kiosk's keys: from ``$CREDENTIALS_DIRECTORY`` when systemd provides it,
    otherwise from ``key_dir`` as written by ``kiosk provision``."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / KIOSK_KEY_NAME).is_file():
        return _read_pair(Path(creds), check_mode=False)
    if key_dir is None:
        raise KeyFileError(
            "no systemd credentials and no key directory given: run `kiosk provision` first"
        )
    return _read_pair(key_dir, check_mode=True)


def provision(key_dir: Path) -> KioskKeys:
    """Create a new kiosk key and store key in ``key_dir``, readable by the owner only.

    Refuses to replace existing keys: a lost kiosk key orphans its chain, and a lost store
    key makes the store unreadable.
    """
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in (KIOSK_KEY_NAME, STORE_KEY_NAME):
        if (key_dir / name).exists():
            raise KeyFileError(f"{key_dir / name} already exists; refusing to replace a key")
    keys = KioskKeys(SigningKey.generate(), secrets.token_bytes(32))
    _write_secret(key_dir / KIOSK_KEY_NAME, keys.kiosk_key.seed)
    _write_secret(key_dir / STORE_KEY_NAME, keys.store_key)
    return keys


def _write_secret(path: Path, secret: bytes) -> None:
    write_secret(path, (b64e(secret) + "\n").encode("ascii"))


def _read_pair(directory: Path, *, check_mode: bool) -> KioskKeys:
    return KioskKeys(
        SigningKey(_read_secret(directory / KIOSK_KEY_NAME, check_mode)),
        _read_secret(directory / STORE_KEY_NAME, check_mode),
    )


def _read_secret(path: Path, check_mode: bool) -> bytes:
    try:
        info = path.stat()
        text = path.read_text("ascii").strip()
    except FileNotFoundError as e:
        raise KeyFileError(f"key file {path} is missing: run `kiosk provision`") from e
    except (OSError, UnicodeDecodeError) as e:
        raise KeyFileError(f"key file {path} cannot be read: {e}") from e
    if check_mode and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key file {path} is readable by other users; chmod 600 it")
    try:
        return b64d(text, length=32, name=path.name)
    except EncodingError as e:
        raise KeyFileError(f"key file {path} is malformed: {e}") from e
