"""Files Hanpyo ships: the Korean font, the translations, the sample elections.

This directory is the package ``hanpyo_assets`` both in a source checkout (pyproject.toml maps
``assets/`` onto that name, and the editable install or PYTHONPATH finds it) and in the wheel.
"""

from __future__ import annotations

from pathlib import Path

# The package is the assets folder itself, so its files sit next to this module.
ASSETS = Path(__file__).resolve().parent


def asset_path(*parts: str) -> Path:
    """The path of a shipped file, e.g. ``asset_path("fonts", "NanumGothic.ttf")``.

    Raises ``FileNotFoundError`` naming the path if the file is not there, so a broken
    install fails on the spot instead of later with a blank screen or a receipt in boxes.
    """
    path = ASSETS.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"asset {'/'.join(parts)} is missing: no file at {path}")
    return path
