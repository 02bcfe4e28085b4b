"""`install-ledger.sh --standby-of URL`: a PostgreSQL standby host for the ledger, as a dry run
and under --root (what it would write and run), and its refusals."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

INSTALLER = Path(__file__).resolve().parents[2] / "installer"
PASSWORD = "s3cret-replication"  # noqa: S105 (made up for the test)
PRIMARY = "postgresql://hanpyo_replication@db1.internal:5433"


def run(root: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(INSTALLER / "hanpyo_install.py"), "ledger", "--root", str(root),
         "--tpm", "none", *options],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "replication-password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


def standby(password_file: Path) -> list[str]:
    return ["--standby-of", PRIMARY, "--replication-password-file", str(password_file),
            "--ledger-from", "10.0.0.5/32"]  # fmt: skip


def test_a_dry_run_says_what_the_standby_host_gets_and_changes_nothing(
    tmp_path: Path, password_file: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    done = run(root, *standby(password_file), "--dry-run")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "apt-get install" in out and " postgresql " in out
    assert "would write /etc/postgresql/15/main/conf.d/hanpyo-standby.conf" in out
    assert "would write /etc/postgresql/15/main/hanpyo_hba.conf" in out
    assert (
        "would run: /opt/hanpyo/ledger/hanpyo-standby-clone 'host=db1.internal port=5433 "
        "user=hanpyo_replication application_name=hanpyo_standby' (secret on standard input)"
    ) in out
    assert PASSWORD not in out + done.stderr
    assert "hanpyo-ledger.service" not in out  # the ledger itself is not installed here
    assert list(root.iterdir()) == []


def test_the_standby_host_files_then_no_changes(tmp_path: Path, password_file: Path) -> None:
    root = tmp_path / "root"
    first = run(root, *standby(password_file))
    assert first.returncode == 0, first.stderr
    conf = (root / "etc/postgresql/15/main/conf.d/hanpyo-standby.conf").read_text()
    assert "hot_standby = on" in conf
    assert "hba_file = '/etc/postgresql/15/main/hanpyo_hba.conf'" in conf
    hba = (root / "etc/postgresql/15/main/hanpyo_hba.conf").read_text()
    assert "host    hanpyo  hanpyo  10.0.0.5/32  scram-sha-256" in hba
    clone = root / "opt/hanpyo/ledger/hanpyo-standby-clone"
    assert stat.S_IMODE(clone.stat().st_mode) == 0o755
    script = clone.read_text()
    assert "--write-recovery-conf" in script and "before-standby" in script
    assert "rm -" not in script  # the cluster Debian made is moved aside, never deleted
    for written in root.rglob("*"):
        if written.is_file():
            assert PASSWORD not in written.read_text(errors="replace"), written
    if shutil.which("shellcheck"):
        checked = subprocess.run(
            ["shellcheck", "--shell=sh", str(clone)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout
    again = run(root, *standby(password_file))
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == "no changes", again.stdout
    removed = run(root, *standby(password_file), "--uninstall")
    assert removed.returncode == 0, removed.stderr
    assert "would run: pg_ctlcluster 15 main stop" in removed.stdout
    assert not clone.exists()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--standby-of", "postgresql://u:pw@db1/x"], "no password in the URL"),
        (["--standby-of", "http://db1"], "postgresql://REPLICATION_USER@HOST:PORT"),
        (["--standby-of", PRIMARY, "--ledger-from", "10.0.0.5/32"], "--replication-password"),
        (["--standby-of", PRIMARY, "--replication-password-file", "-"], "--ledger-from CIDR"),
        (
            ["--standby-of", PRIMARY, "--replication-password-file", "-", "--ledger-from", "x"],
            "not an address or network",
        ),
    ],
)
def test_the_standby_mode_refuses_what_it_cannot_use(
    tmp_path: Path, options: list[str], said: str
) -> None:
    done = run(tmp_path, *options, "--dry-run")
    assert done.returncode == 2 and said in done.stderr, done.stderr


def test_a_password_file_others_can_read_is_refused(tmp_path: Path, password_file: Path) -> None:
    password_file.chmod(0o644)
    done = run(tmp_path / "root", *standby(password_file), "--dry-run")
    assert done.returncode != 0 and "other users can read it" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr
