"""The kiosk's configuration as the screen tests, the guide walk and the benches make it: a
data directory with the signed package and a proposal's picture, fresh keys and a USB folder.
Apart from kiosk_screens so that the UI driver can use it without importing the screens'
helpers, which import the driver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kiosk.app import KioskConfig, Timeouts
from kiosk.core.election import sign_package
from kiosk.store.keys import provision
from testkit.elections import SyntheticElection

PX_PER_MM = 96 / 25.4  # a 96-dpi panel: 1280 x 800 is then a 15.9-inch screen


def make_config(tmp: Path, election: SyntheticElection, **overrides: Any) -> KioskConfig:
    data = tmp / "data"
    (data / "media").mkdir(parents=True, exist_ok=True)
    signed = sign_package(election.package, election.authority)
    (data / "election.json").write_text(json.dumps(signed.to_json(), ensure_ascii=False))
    _picture(data / "media" / "p0001-02.png")
    provision(tmp / "keys")
    usb = tmp / "usb"
    usb.mkdir(exist_ok=True)
    options: dict[str, Any] = {
        "key_dir": tmp / "keys",
        "usb_dir": usb,
        "timeouts": Timeouts(idle_s=600, warning_s=60),
    } | overrides
    return KioskConfig(data, election.authority.public_key, **options)


def _picture(path: Path) -> None:
    """A small picture for one proposal's detail view."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 240), "#dbe8f5")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 120, 440, 200), fill="#5a7d3a")
    draw.ellipse((330, 30, 410, 110), fill="#f4c542")
    image.save(path)
