"""The ceremony's public files: the organiser's setup (made from the trustees' public identity
files) and the JSON files the tool writes for people to hand on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kiosk.core.errors import EncodingError
from kiosk.core.secret_file import write_secret
from kiosk.core.verifiable.ceremony import CeremonySetup, TrusteeIdentity
from ledger.service.ceremony_medium import PublicIdentity, TrusteeToolError


def make_setup(
    election: str, threshold: int, identity_files: list[Path]
) -> tuple[CeremonySetup, list[str]]:
    """The setup of ``election``: trustee i is the i-th identity file. Also each identity's
    fingerprint, for the organiser to read back to its trustee."""
    identities = [PublicIdentity.from_json(read_json(p), str(p)) for p in identity_files]
    try:
        setup = CeremonySetup(
            election,
            threshold,
            tuple(
                TrusteeIdentity(i, p.name, p.signing_key, p.box_key)
                for i, p in enumerate(identities, start=1)
            ),
        )
    except EncodingError as e:
        raise TrusteeToolError(
            f"the setup is refused: {e}",
            "설정을 만들 수 없습니다: 신탁인 수와 기준 수를 확인하세요.",
            "The setup cannot be made: check the trustees and the threshold.",
        ) from e
    return setup, [p.fingerprint() for p in identities]


def read_setup(path: Path) -> CeremonySetup:
    try:
        return CeremonySetup.from_json(read_json(path))
    except EncodingError as e:
        raise TrusteeToolError(
            f"{path} is not a ceremony setup: {e}",
            "설정 파일이 아니거나 망가졌습니다.",
            "This is not a ceremony setup file, or it is damaged.",
        ) from e


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise TrusteeToolError(
            f"cannot read {path}: {e}",
            "파일을 읽을 수 없습니다. 경로를 확인하세요.",
            "The file cannot be read. Check the path.",
        ) from e


def write_new_json(path: Path, value: Any) -> None:
    """A new file (never over an existing one), owner-only and on disk before we go on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(value, ensure_ascii=False, indent=1) + "\n"
    write_secret(path, text.encode("utf-8"))
