"""The wheel and the release: `installer/make-release.sh` builds them with `python -m build`;
installed into a fresh virtual environment, away from the checkout, the kiosk finds its
screens, font and translations and the ledger serves its pages and font."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import requests

from testkit.elections import SyntheticElection
from testkit.ledger_server import LedgerServer
from testkit.online_web import built_bundle

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PROJECT["project"]["version"]
WHEEL = f"hanpyo-{VERSION}-py3-none-any.whl"
# top folder in the checkout -> package name in the wheel
TOPS = {"kiosk": "kiosk", "ledger": "ledger", "online": "online", "assets": "hanpyo_assets"}
# the voting page's npm project, not a Python package: installer/make-release.sh puts only what
# it builds into the wheel (test_the_wheel_carries_the_built_voting_page)
NOT_PYTHON = (ROOT / "online" / "web",)


def tracked(top: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", top], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    paths = [ROOT / line for line in listed]
    return [p for p in paths if not any(p.is_relative_to(n) for n in NOT_PYTHON)]


def test_the_package_list_covers_every_folder_of_the_program() -> None:
    setuptools = PROJECT["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"hanpyo_assets": "assets"}
    folders = {
        ".".join([TOPS[top], *folder.relative_to(ROOT / top).parts])
        for top in TOPS
        for path in tracked(top)
        for folder in path.parents
        if folder.is_relative_to(ROOT / top)
    }
    assert set(setuptools["packages"]) == folders


def test_the_wheel_carries_every_file_the_program_uses(release: Path) -> None:
    wheel = zipfile.ZipFile(release / WHEEL)
    names = set(wheel.namelist())
    expected = {
        "/".join([TOPS[top], *path.relative_to(ROOT / top).parts])
        for top in TOPS
        for path in tracked(top)
        if path.suffix != ".ts"  # translation sources; the compiled .qm files ship
    }
    assert expected - names == set()
    assert not [n for n in names if n.split("/")[0] in ("tests", "bench", "installer", "docs")]
    # the test kit (synthetic elections, helper servers) and the demo built on it stay in
    # the checkout
    assert not [n for n in names if n.split("/")[0] == "testkit"]
    test_kit = ("demo", "demo_ui", "synthetic", "robot", "driver", "ui_driver")
    assert not [n for n in names if Path(n).stem in test_kit]
    metadata = Parser().parsestr(wheel.read(f"hanpyo-{VERSION}.dist-info/METADATA").decode())
    assert metadata["Version"] == VERSION
    assert {"kiosk", "ledger"} <= set(metadata.get_all("Provides-Extra") or [])
    requires = metadata.get_all("Requires-Dist") or []
    assert any(r.lower().startswith("pyside6-essentials") and 'extra == "kiosk"' in r
               for r in requires)  # fmt: skip
    assert not any("pyside6" in r.lower() and 'extra == "ledger"' in r for r in requires)
    entry_points = wheel.read(f"hanpyo-{VERSION}.dist-info/entry_points.txt").decode()
    assert "kiosk = kiosk.cli:main" in entry_points and "ledger = ledger.cli:main" in entry_points


def test_the_wheel_carries_the_built_voting_page(release: Path) -> None:
    """make-release builds the page with npm from the lockfile: the wheel carries what `npm run
    build` makes in the checkout, byte for byte, so an observer can rebuild it and compare it
    with what a platform serves; and nothing else of the npm project."""
    wheel = zipfile.ZipFile(release / WHEEL)
    built = built_bundle()
    assert wheel.read("online/web/dist/app.js") == built.read_bytes()
    assert wheel.read("online/web/dist/app.css") == (built.parent / "app.css").read_bytes()
    index = (ROOT / "online" / "web" / "index.html").read_bytes()
    assert wheel.read("online/web/index.html") == index
    web = sorted(n for n in wheel.namelist() if n.startswith("online/web/"))
    assert web == ["online/web/dist/app.css", "online/web/dist/app.js", "online/web/index.html"]


def test_the_release_carries_installers_wheel_and_guides(release: Path) -> None:
    top = f"hanpyo-{VERSION}"
    with tarfile.open(release / f"{top}.tar.gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        for name in (
            "installer/install-kiosk.sh",
            "installer/install-ledger.sh",
            "installer/hanpyo_install.py",
            f"dist/{WHEEL}",
            "docs/guide-staff.ko.md",
            "docs/guide-admin.en.md",
            "docs/installer.md",
        ):
            assert f"{top}/{name}" in members, name
        assert members[f"{top}/installer/install-kiosk.sh"].mode & 0o111
        inside = tar.extractfile(members[f"{top}/dist/{WHEEL}"])
        assert inside is not None and inside.read() == (release / WHEEL).read_bytes()
        assert not [n for n in members if "__pycache__" in n]


def test_a_second_build_gives_the_same_wheel(release: Path, tmp_path: Path) -> None:
    """File times come from the last commit, so the installer sees "no changes" when the
    same sources are built again on another day."""
    done = subprocess.run(
        [str(ROOT / "installer" / "make-release.sh"), "--out", str(tmp_path)],
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / WHEEL).read_bytes() == (release / WHEEL).read_bytes()


@pytest.fixture(scope="module")
def installed(release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a new virtual environment, as the installers do. Its
    dependencies come from this run's environment (a .pth line) rather than the index;
    the program itself only from the wheel."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-index", "--no-deps", str(release / WHEEL)],
        check=True,
        timeout=300,
    )  # fmt: skip
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "hanpyo-test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


WHERE = """\
import json, sys
from PySide6.QtCore import QTranslator
from PySide6.QtGui import QFontDatabase, QGuiApplication
app = QGuiApplication([])
import kiosk, ledger
from hanpyo_assets import ASSETS, asset_path
from kiosk.ui.main import FONT_FAMILY, QML_DIR, load_fonts
from ledger.publish.results_report import TEMPLATES
load_fonts()
translator = QTranslator()
print(json.dumps({
    "kiosk": kiosk.__file__, "ledger": ledger.__file__, "assets": str(ASSETS),
    "qml": str(QML_DIR / "Main.qml"), "qml_exists": (QML_DIR / "Main.qml").is_file(),
    "screens": sorted(p.name for p in (QML_DIR / "screens").glob("*.qml")),
    "templates": str(TEMPLATES), "font": FONT_FAMILY in QFontDatabase.families(),
    "korean": translator.load(str(asset_path("i18n", "hanpyo_ko.qm"))),
    "sample": asset_path("elections", "provincial-review-2017.json").is_file(),
}))
"""


def test_the_installed_kiosk_finds_its_screens_font_and_translations(installed: Path) -> None:
    done = subprocess.run(
        [str(installed), "-c", WHERE],
        cwd=installed.parents[1],
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": "/root"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    site = str(installed.parents[1])
    for key in ("kiosk", "ledger", "assets", "qml", "templates"):
        assert found[key].startswith(site), (key, found[key])
    assert found["assets"].endswith("hanpyo_assets")
    assert found["qml_exists"] and found["font"] and found["korean"] and found["sample"]
    shipped = sorted(p.name for p in (ROOT / "kiosk" / "ui" / "qml" / "screens").glob("*.qml"))
    assert found["screens"] == shipped
    for command in ("kiosk", "ledger", "kiosk-simulator"):
        helped = subprocess.run(
            [str(installed.parent / command), "--help"], capture_output=True, text=True,
            check=False, timeout=60,
        )  # fmt: skip
        assert helped.returncode == 0, helped.stderr


def test_the_installed_platform_finds_its_voting_page(installed: Path) -> None:
    """`hanpyo-online serve` serves the page the wheel carries (its default --web)."""
    found = subprocess.run(
        [str(installed), "-c", "from online.cli import WEB_DIR; print(WEB_DIR)"],
        cwd=installed.parents[1], env={"PATH": "/usr/bin:/bin", "HOME": "/root"},
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    web = Path(found.stdout.strip())
    assert not web.is_relative_to(ROOT), web  # the installed copy, not the checkout's
    assert (web / "index.html").is_file() and (web / "dist" / "app.js").is_file()


def test_the_installed_ledger_serves_its_pages_and_font(
    installed: Path, tmp_path: Path, election: SyntheticElection
) -> None:
    with LedgerServer(tmp_path / "data", election, python=str(installed)) as server:
        font = requests.get(f"{server.url}/assets/fonts/NanumGothic.ttf", timeout=10)
        assert font.status_code == 200
        assert font.content == (ROOT / "assets" / "fonts" / "NanumGothic.ttf").read_bytes()
        page = requests.get(f"{server.url}/checkpoint", timeout=10)
        assert page.status_code == 200 and "<html" in page.text
        dashboard = requests.get(f"{server.url}/admin/dashboard", timeout=10)
        assert dashboard.status_code == 200
