"""Where the files shipped with Hanpyo live: fonts, sample elections.

They sit in ``assets/`` at the top of the repository, next to the ``kiosk`` package.
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def asset_path(*parts: str) -> Path:
    """The path of a shipped file, e.g. ``asset_path("fonts", "NanumGothic.ttf")``.

    Raises ``FileNotFoundError`` naming the path if the file is not there, so a broken
    install fails on the spot instead of later with a blank screen or a receipt in boxes.
    """
    path = ASSETS.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"asset {'/'.join(parts)} is missing: no file at {path}")
    return path
