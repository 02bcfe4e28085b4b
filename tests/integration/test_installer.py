"""The kiosk and ledger installers, run with --root into a temporary folder: the files they
write, systemd-analyze and shellcheck on them, idempotency, dry runs and uninstalls."""

from __future__ import annotations

import base64
import importlib.util
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.encoding import b64e
from testkit.elections import SyntheticElection
from testkit.ledger_server import LedgerServer

INSTALLER = Path(__file__).resolve().parents[2] / "installer"
AUTHORITY = b64e(bytes(range(32)))
KIOSK_OPTIONS = ["--authority", AUTHORITY, "--tpm", "none", "--printer", "usb:04b8:0e15"]
LEDGER_OPTIONS = ["--tpm", "none", "--backup-keep", "3"]


WHEEL: dict[str, Path] = {}  # the wheel this run built (the `release` fixture)


@pytest.fixture(autouse=True)
def _wheel(release: Path) -> None:
    WHEEL["path"] = next(release.glob("hanpyo-*.whl"))


def install(host: str, root: Path, *options: str) -> str:
    given = "--uninstall" in options or "--wheel" in options
    wheel = [] if given else ["--wheel", str(WHEEL["path"])]
    command = [sys.executable, str(INSTALLER / "hanpyo_install.py"), host, "--root", str(root)]
    done = subprocess.run(
        [*command, *options, *wheel],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def tool(name: str) -> str:
    """A checking tool; missing, the test skips on a desk and fails in CI."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing (./hanpyo installs it)")
        pytest.skip(f"{name} is not installed")
    return found


def text(root: Path, path: str) -> str:
    return (root / path.lstrip("/")).read_text()


def test_kiosk_host_files(tmp_path: Path) -> None:
    mirrors = ("--mirror", "https://mirror-a.example", "--mirror", "https://mirror-b.example")
    out = install("kiosk", tmp_path, *KIOSK_OPTIONS, "--reader", "ACS ACR39U 00 00", *mirrors)
    unit = text(tmp_path, "/etc/systemd/system/hanpyo-kiosk.service")
    assert (
        "ExecStart=/usr/bin/cage -d -- /opt/hanpyo/kiosk/venv/bin/kiosk run --data "
        f"/var/lib/hanpyo/kiosk --authority {AUTHORITY} --usb /media/hanpyo "
        '--printer usb:04b8:0e15 --leave-file /run/hanpyo-kiosk/left --reader "ACS ACR39U 00 00" '
        "--mirror https://mirror-a.example --mirror https://mirror-b.example"
    ) in unit
    # "Leave kiosk mode" keeps the kiosk down until a start or a reboot (see kiosk_unit)
    assert "RuntimeDirectory=hanpyo-kiosk\nRuntimeDirectoryPreserve=yes\n" in unit
    assert (
        "ExecCondition=/bin/sh -c 'if [ -e /run/hanpyo-kiosk/left ]; then "
        "rm -f /run/hanpyo-kiosk/left; exit 1; fi'"
    ) in unit
    for line in ("User=hanpyo", "TTYPath=/dev/tty1", "Restart=always", "Conflicts=getty@tty1"):
        assert line in unit
    assert "LoadCredential=hanpyo-kiosk-key:/etc/credstore/hanpyo-kiosk-key" in unit
    assert "LoadCredential=hanpyo-store-key:/etc/credstore/hanpyo-store-key" in unit
    enabled = tmp_path / "etc/systemd/system/graphical.target.wants/hanpyo-kiosk.service"
    assert os.readlink(enabled) == "/etc/systemd/system/hanpyo-kiosk.service"

    # no TPM: the keys are root-only files in the form `kiosk provision` writes
    for name in ("hanpyo-kiosk-key", "hanpyo-store-key"):
        key = tmp_path / "etc/credstore" / name
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert len(base64.urlsafe_b64decode(key.read_text().strip() + "=")) == 32
    seed = base64.urlsafe_b64decode(text(tmp_path, "/etc/credstore/hanpyo-kiosk-key").strip() + "=")
    public = SigningKey(seed).public_key
    assert f"kiosk {kiosk_id_for(public)}, public key {b64e(public)}" in out
    assert f"ledger kiosks enrol --public-key {b64e(public)}" in out
    assert "█" in out  # the enrolment QR code

    assert "NAutoVTs=0" in text(tmp_path, "/etc/systemd/logind.conf.d/hanpyo-kiosk.conf")
    for tty in range(1, 7):
        assert os.readlink(tmp_path / f"etc/systemd/system/getty@tty{tty}.service") == "/dev/null"
    assert os.readlink(tmp_path / "etc/systemd/system/udisks2.service") == "/dev/null"
    rule = text(tmp_path, "/etc/polkit-1/rules.d/60-hanpyo-pcscd.rules")
    assert "org.debian.pcsc-lite.access_pcsc" in rule and "org.debian.pcsc-lite.access_card" in rule
    assert 'subject.user == "hanpyo"' in rule
    assert text(tmp_path, "/etc/sysusers.d/hanpyo.conf").startswith("u hanpyo - ")
    assert (tmp_path / "opt/hanpyo/kiosk/wheels" / WHEEL["path"].name).is_file()
    assert "would run: timedatectl set-timezone Asia/Seoul" in out  # reports print +09:00
    # commands are printed, not run, under --root
    assert "would run: systemd-sysusers /etc/sysusers.d/hanpyo.conf" in out
    assert "apt-get install" in out and "pcscd libccid cage xwayland" in out


def test_the_program_is_installed_from_the_wheel(tmp_path: Path) -> None:
    wheel = WHEEL["path"]
    out = install("kiosk", tmp_path, *KIOSK_OPTIONS)
    kept = f"/opt/hanpyo/kiosk/wheels/{wheel.name}"
    assert (tmp_path / kept.lstrip("/")).read_bytes() == wheel.read_bytes()
    pip = "/opt/hanpyo/kiosk/venv/bin/python -m pip install -q --disable-pip-version-check"
    pip = f"would run: {pip}"
    assert f"{pip} '{kept}[kiosk]'    # install the program's dependencies" in out
    assert f"{pip} --force-reinstall --no-deps {kept}    # install the program" in out
    assert not (tmp_path / "opt/hanpyo/kiosk/src").exists()  # no copy of the source tree
    ledger = install("ledger", tmp_path, *LEDGER_OPTIONS)
    assert f"/opt/hanpyo/ledger/wheels/{wheel.name}[ledger]" in ledger


def test_a_host_without_internet_installs_from_the_wheelhouse(tmp_path: Path) -> None:
    house = tmp_path / "wheels"
    house.mkdir()
    out = install("ledger", tmp_path / "root", *LEDGER_OPTIONS, "--wheelhouse", str(house))
    assert f"--no-index --find-links {house} '/opt/hanpyo/ledger/wheels/" in out
    missing = subprocess.run(
        [sys.executable, str(INSTALLER / "hanpyo_install.py"), "ledger", "--root", str(tmp_path),
         "--wheel", str(tmp_path / "hanpyo-9.9.9-py3-none-any.whl")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert missing.returncode != 0 and "is not a Hanpyo wheel" in missing.stderr


def test_a_new_version_replaces_the_old_one(tmp_path: Path) -> None:
    install("kiosk", tmp_path, *KIOSK_OPTIONS)
    newer = tmp_path / "hanpyo-0.2.0-py3-none-any.whl"
    shutil.copy(WHEEL["path"], newer)
    with zipfile.ZipFile(newer, "a") as z:
        z.writestr("kiosk/CHANGED", "a change")
    out = install("kiosk", tmp_path, *KIOSK_OPTIONS, "--wheel", str(newer))
    old = f"/opt/hanpyo/kiosk/wheels/{WHEEL['path'].name}"
    assert f"remove {old}" in out
    assert not (tmp_path / old.lstrip("/")).exists()
    assert "--force-reinstall --no-deps /opt/hanpyo/kiosk/wheels/hanpyo-0.2.0-py3-none-any" in out
    assert "would run: systemctl restart hanpyo-kiosk.service" in out
    again = install("kiosk", tmp_path, *KIOSK_OPTIONS, "--wheel", str(newer))
    assert "no changes" in again.splitlines()


def test_kiosk_keys_sealed_when_there_is_a_tpm(tmp_path: Path) -> None:
    out = install("kiosk", tmp_path, *KIOSK_OPTIONS[:2], "--tpm", "tpm2")
    unit = text(tmp_path, "/etc/systemd/system/hanpyo-kiosk.service")
    cred = "/etc/credstore.encrypted/hanpyo-kiosk-key.cred"
    assert f"LoadCredentialEncrypted=hanpyo-kiosk-key:{cred}" in unit
    assert f"systemd-creds encrypt --with-key=tpm2 --name=hanpyo-kiosk-key - {cred}" in out
    assert "(secret on standard input)" in out
    assert not (tmp_path / "etc/credstore").exists()  # no plain copy of a sealed key


@pytest.mark.parametrize(
    ("host", "options"), [("kiosk", KIOSK_OPTIONS), ("ledger", LEDGER_OPTIONS)]
)
def test_second_run_reports_no_changes(tmp_path: Path, host: str, options: list[str]) -> None:
    first = install(host, tmp_path, *options)
    assert "would run: systemctl daemon-reload" in first
    keys = {p: p.read_bytes() for p in (tmp_path / "etc/credstore").iterdir()}
    second = install(host, tmp_path, *options)
    assert "no changes" in second.splitlines()
    assert "would run" not in second and "write" not in second
    assert keys == {p: p.read_bytes() for p in (tmp_path / "etc/credstore").iterdir()}


def token_file(folder: Path, token: str, mode: int = 0o600) -> Path:
    path = folder / "admin-token"
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


def test_a_changed_option_rewrites_only_the_unit(tmp_path: Path) -> None:
    install("kiosk", tmp_path, *KIOSK_OPTIONS)
    token = token_file(tmp_path, "t0ken")
    out = install("kiosk", tmp_path, *KIOSK_OPTIONS, "--ledger", "https://l.example", "--no-start",
                  "--admin-token-file", str(token))  # fmt: skip
    assert "write /etc/systemd/system/hanpyo-kiosk.service" in out
    assert "would run: systemctl daemon-reload" in out
    assert "made 2 changes" in out
    assert "would register kiosk" in out


def test_the_admin_token_never_comes_from_the_command_line(tmp_path: Path) -> None:
    command = [sys.executable, str(INSTALLER / "hanpyo_install.py"), "kiosk", "--root",
               str(tmp_path / "root"), *KIOSK_OPTIONS, "--wheel", str(WHEEL["path"]),
               "--ledger", "https://l.example", "--no-start"]  # fmt: skip

    def run(*options: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *options], input=stdin, capture_output=True, text=True, timeout=60
        )

    on_the_line = run("--admin-token", "s3cret")
    assert on_the_line.returncode == 2 and "never given on the command line" in on_the_line.stderr
    assert not (tmp_path / "root").exists()
    readable = run("--admin-token-file", str(token_file(tmp_path, "s3cret", 0o644)))
    assert readable.returncode == 2 and "chmod 600" in readable.stderr
    assert run("--admin-token-file", str(tmp_path / "missing")).returncode == 2
    assert run("--admin-token-file", "-").returncode == 2  # nothing on standard input
    from_stdin = run("--admin-token-file", "-", stdin="s3cret\n")
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert "would register kiosk" in from_stdin.stdout and "s3cret" not in from_stdin.stdout
    unit = (tmp_path / "root/etc/systemd/system/hanpyo-kiosk.service").read_text()
    assert "s3cret" not in unit


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    out = install("ledger", tmp_path, *LEDGER_OPTIONS, "--dry-run")
    assert "would write /etc/systemd/system/hanpyo-ledger.service" in out
    assert list(tmp_path.iterdir()) == []


def test_uninstall_keeps_keys_and_data(tmp_path: Path) -> None:
    install("kiosk", tmp_path, *KIOSK_OPTIONS)
    data = tmp_path / "var/lib/hanpyo/kiosk/store.db"
    data.parent.mkdir(parents=True)
    data.write_bytes(b"ballots")
    out = install("kiosk", tmp_path, "--uninstall")
    assert "would run: systemctl stop hanpyo-kiosk.service" in out
    assert "would run: userdel hanpyo" in out
    etc = tmp_path / "etc"
    left = sorted(str(p.relative_to(etc)) for p in etc.rglob("*") if not p.is_dir())
    assert left == ["credstore/hanpyo-kiosk-key", "credstore/hanpyo-store-key"]
    assert data.read_bytes() == b"ballots"
    assert not list((tmp_path / "opt").rglob("*.py"))
    assert install("kiosk", tmp_path, "--uninstall").splitlines() == ["no changes"]


def test_ledger_host_files(tmp_path: Path) -> None:
    url = "postgresql+psycopg://hanpyo:s3cret%25@db.internal/hanpyo"
    options = ["--tpm", "none", "--db", url, "--workers", "4", "--port", "443"]
    install("ledger", tmp_path, *options, "--tls-cert", "/etc/ssl/l.pem", "--tls-key", "/k.pem")
    unit = text(tmp_path, "/etc/systemd/system/hanpyo-ledger.service")
    assert (
        "ExecStart=/opt/hanpyo/ledger/venv/bin/ledger serve --data /var/lib/hanpyo-ledger "
        "--host 0.0.0.0 --port 443 --workers 4 --db ${HANPYO_DB} --tls-cert /etc/ssl/l.pem "
        "--tls-key %d/hanpyo-tls-key"
    ) in unit
    assert "LoadCredential=hanpyo-log-key:/etc/credstore/hanpyo-log-key" in unit
    assert "LoadCredential=hanpyo-tls-key:/k.pem" in unit
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in unit
    assert url not in unit  # the password stays in the root-only environment file
    env = tmp_path / "etc/hanpyo/ledger.env"
    assert f"HANPYO_DB={url}" in env.read_text()
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    key = tmp_path / "etc/credstore/hanpyo-log-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    timer = text(tmp_path, "/etc/systemd/system/hanpyo-ledger-backup.timer")
    assert "OnCalendar=daily" in timer
    assert "HANPYO_KEEP=14" in text(tmp_path, "/etc/systemd/system/hanpyo-ledger-backup.service")
    assert text(tmp_path, "/etc/sysusers.d/hanpyo-ledger.conf").startswith("u hanpyo-ledger - ")


def test_kiosk_refuses_an_unknown_time_zone(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(INSTALLER / "hanpyo_install.py"), "kiosk", "--root", str(tmp_path),
         *KIOSK_OPTIONS, "--timezone", "Asia/Nowhere"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "no such time zone" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_ledger_refuses_workers_on_sqlite(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(INSTALLER / "hanpyo_install.py"), "ledger", "--root", str(tmp_path),
         "--workers", "2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "several workers need PostgreSQL" in done.stderr


def _stub_executables(root: Path, unit: Path) -> None:
    """The programs the units start are installed by apt and pip, which --root does not
    run: stand-ins let systemd-analyze check every other part of the unit."""
    for line in unit.read_text().splitlines():
        if line.startswith(("ExecStart=", "ExecStartPre=", "ExecCondition=")):
            program = Path(line.split("=", 1)[1].lstrip("+-").split()[0])
            stub = root / program.relative_to("/")
            if not stub.exists():
                stub.parent.mkdir(parents=True, exist_ok=True)
                stub.write_text("#!/bin/sh\n")
                stub.chmod(0o755)


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    root = tmp_path / "root"
    install("kiosk", root, *KIOSK_OPTIONS)
    install("ledger", root, *LEDGER_OPTIONS, "--tls-cert", "/c.pem", "--tls-key", "/k.pem")
    # the standard units the ours depend on (targets, pcscd.socket, getty@...) come from this
    # machine's systemd
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    units = sorted((root / "etc/systemd/system").glob("hanpyo-*.[st]*"))
    units.append(root / "etc/systemd/system/media-hanpyo.mount")
    assert len(units) == 5
    for unit in units:
        _stub_executables(root, unit)
    done = subprocess.run(
        [analyze, "verify", f"--root={root}", *(f"/etc/systemd/system/{u.name}" for u in units)],
        capture_output=True,
        text=True,
        check=False,
    )
    ours = [line for line in done.stderr.splitlines() if "hanpyo" in line]
    assert done.returncode == 0 and ours == [], done.stderr
    # and it does look: a unit whose program is missing fails
    (root / "usr/bin/cage").unlink()
    done = subprocess.run(
        [analyze, "verify", f"--root={root}", "/etc/systemd/system/hanpyo-kiosk.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "/usr/bin/cage" in done.stderr


def test_shell_scripts_pass_shellcheck() -> None:
    scripts = sorted(INSTALLER.glob("*.sh"))
    assert [s.name for s in scripts] == [
        "hanpyo-ledger-backup.sh",
        "install-kiosk.sh",
        "install-ledger.sh",
        "make-release.sh",
    ]
    done = subprocess.run(
        [tool("shellcheck"), *map(str, scripts)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout


def test_backup_keeps_the_newest_copies(tmp_path: Path) -> None:
    data, backups = tmp_path / "data", tmp_path / "backups"
    data.mkdir()
    with sqlite3.connect(data / "ledger.db") as db:
        db.execute("pragma journal_mode=wal")
        db.execute("create table leaves (n integer)")
        db.execute("insert into leaves values (42)")
    env = {
        "PATH": os.environ["PATH"],
        "HANPYO_DATA": str(data),
        "HANPYO_BACKUPS": str(backups),
        "HANPYO_KEEP": "2",
        "HANPYO_PYTHON": sys.executable,
    }
    for _ in range(3):
        subprocess.run(
            ["sh", str(INSTALLER / "hanpyo-ledger-backup.sh")], env=env, check=True, timeout=30
        )
    copies = sorted(backups.iterdir())
    assert len(copies) == 2 and all(c.suffix == ".db" for c in copies)
    with sqlite3.connect(copies[-1]) as copy:
        assert copy.execute("select n from leaves").fetchall() == [(42,)]


def _installer_module() -> ModuleType:
    sys.path.insert(0, str(INSTALLER))
    spec = importlib.util.spec_from_file_location("hanpyo_install", INSTALLER / "hanpyo_install.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_register_enrols_the_kiosk_on_the_ledger(
    tmp_path: Path, election: SyntheticElection
) -> None:
    key = SigningKey.generate()
    register = _installer_module().register
    with LedgerServer(tmp_path / "ledger", election) as server:
        public = b64e(key.public_key)
        # The test election opened in 2017: registering now needs a reason, as it would on
        # election day.
        with pytest.raises(SystemExit, match=r"refused the kiosk \(409\).*enrolment_frozen"):
            register(server.url, server.admin_token, public, "hall-a-3", "A")
        why = "hall A kiosk 3 replaced"
        kiosk = register(server.url, server.admin_token, public, "hall-a-3", "A", why)
        assert kiosk == kiosk_id_for(key.public_key)
        listed = server.cli("kiosks", "list").stdout
        assert kiosk in listed and "hall-a-3" in listed
        with pytest.raises(SystemExit, match=r"refused the kiosk \((401|403)\)"):
            register(server.url, "wrong", b64e(SigningKey.generate().public_key), "x", "")


def test_the_ledger_uses_the_log_key_credential_the_installer_provisions(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """Under the installed unit, `ledger init` and `ledger serve` read the log key from
    $CREDENTIALS_DIRECTORY/hanpyo-log-key, and never write another one into the data dir."""
    from kiosk.core.checkpoint import NoteVerifier
    from kiosk.core.election import sign_package

    creds = tmp_path / "creds"
    creds.mkdir()
    key = SigningKey.generate()
    (creds / "hanpyo-log-key").write_text(b64e(key.seed) + "\n")
    signed = tmp_path / "election.json"
    import json

    signed.write_text(json.dumps(sign_package(election.package, election.authority).to_json()))
    done = subprocess.run(
        [
            sys.executable, "-m", "ledger.cli", "init", "--election", str(signed),
            f"--authority={b64e(election.authority.public_key)}", "--origin", "ledger.test/creds",
            "--data", str(tmp_path / "data"),
        ],
        env=os.environ | {"CREDENTIALS_DIRECTORY": str(creds)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    vkey = done.stdout.rsplit("log key (publish this): ", 1)[1].strip()
    assert NoteVerifier.parse(vkey).public_key == key.public_key
    assert not (tmp_path / "data" / "log.key").exists()
