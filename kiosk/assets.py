"""Where the files shipped with Hanpyo live: fonts, translations, sample elections.

In a source checkout they sit in ``assets/`` at the top of the repository, next to the
``kiosk`` package. Installed from the wheel, the same directory is the package
``hanpyo_assets`` in site-packages (pyproject.toml maps one onto the other).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _find_assets() -> Path:
    checkout = Path(__file__).resolve().parents[1] / "assets"
    if (checkout / "fonts").is_dir():
        return checkout
    spec = importlib.util.find_spec("hanpyo_assets")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    # Neither: asset_path() names the missing file when the program asks for one.
    return checkout


ASSETS = _find_assets()


def asset_path(*parts: str) -> Path:
    """The path of a shipped file, e.g. ``asset_path("fonts", "NanumGothic.ttf")``.

    Raises ``FileNotFoundError`` naming the path if the file is not there, so a broken
    install fails on the spot instead of later with a blank screen or a receipt in boxes.
    """
    path = ASSETS.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"asset {'/'.join(parts)} is missing: no file at {path}")
    return path
