"""What `ledger election create` reads and writes, for both protocols: the definition and roll
files, the checked ceremony result, the package's election_key section, the TLS pin, and new
files written once with owner-only permissions."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

from kiosk.core.errors import HanpyoError
from kiosk.core.secret_file import write_secret
from kiosk.core.tls_pin import pin_for_certificate


def ceremony_record(path: Path, election: str) -> dict[str, Any]:
    """The checked ceremony result for ``election``, with the summary the record states."""
    from ledger.service.ceremony_result import ceremony_section, verify_result

    result = load_json(path)
    verified = verify_result(result)
    if verified.setup.election_id != election:
        raise HanpyoError(
            f"the ceremony in {path} is for {verified.setup.election_id!r}, not {election!r}"
        )
    return dict(result) | {"record": ceremony_section(verified)}


def package_key(section: dict[str, Any]) -> dict[str, Any]:
    """The package's election_key section (kiosk/core/election_key.py) from the checked
    ceremony: signed by the authority with the rest of the package, naming the transcript."""
    names = ("index", "name", "signing_key", "box_key", "verification_key", "qualified")
    return {
        "key": section["election_key"],
        "threshold": section["threshold"],
        "setup_hash": section["setup_hash"],
        "transcript_hash": section["transcript_hash"],
        "trustees": [{n: t[n] for n in names} for t in section["trustees"]],
    }


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise HanpyoError(f"cannot read {path}: {e}") from e


def write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_secret(path, text.encode("utf-8"))


def tls_pin(cert: Path | None) -> str | None:
    """The pin of the certificate's DER bytes, the one kiosks check (kiosk/core/tls_pin.py)."""
    if cert is None:
        return None
    try:
        der = ssl.PEM_cert_to_DER_cert(cert.read_text("ascii"))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise HanpyoError(f"cannot read the certificate {cert}: {e}") from e
    return pin_for_certificate(der)
