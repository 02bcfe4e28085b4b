"""Pieces both hosts share: packages, the program's wheel and virtual environment, users,
systemd quoting, and secrets kept as systemd credentials."""

from __future__ import annotations

import base64
import hashlib
import pwd
import re
import secrets
import shutil
import subprocess
from pathlib import Path

from plan import Command, File, Plan, Target

SOURCE = Path(__file__).resolve().parents[1]  # the clone or unpacked release it runs from
CREDSTORE = "/etc/credstore"  # root-only files, when there is no TPM
CREDSTORE_ENCRYPTED = "/etc/credstore.encrypted"  # sealed with systemd-creds


def os_release(target: Target) -> dict[str, str]:
    for candidate in (target.path("/etc/os-release"), Path("/etc/os-release")):
        if candidate.is_file():
            pairs = (
                line.split("=", 1) for line in candidate.read_text().splitlines() if "=" in line
            )
            return {k: v.strip('"') for k, v in pairs}
    return {}


def package_names(names: list[str], target: Target) -> list[str]:
    """Debian 12 names; Ubuntu 24.04 renamed a few libraries in its 64-bit time move."""
    release = os_release(target)
    if release.get("ID") == "ubuntu" and release.get("VERSION_ID", "") >= "24.04":
        renamed = {"libglib2.0-0": "libglib2.0-0t64"}
        return [renamed.get(n, n) for n in names]
    return names


def install_packages(plan: Plan, names: list[str]) -> None:
    listed = " ".join(names)
    missing = lambda: bool(_missing_packages(names))  # noqa: E731
    plan.add(
        Command(
            ("apt-get", "update", "-qq"),
            "refresh the package lists",
            key=f"apt-update:{listed}",
            needed=missing,
        ),
        Command(
            ("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq",
             "--no-install-recommends", *names),
            "install the system packages",
            key=f"apt:{listed}",
            needed=missing,
        ),
    )  # fmt: skip


def _missing_packages(names: list[str]) -> list[str]:
    missing = []
    for name in names:
        done = subprocess.run(  # noqa: S603
            ["dpkg-query", "-W", "-f=${Status}", name],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        if "install ok installed" not in done.stdout:
            missing.append(name)
    return missing


def system_user(plan: Plan, user: str, gecos: str, home: str, groups: tuple[str, ...]) -> None:
    """A locked system user with no shell, declared for systemd-sysusers."""
    lines = [f'u {user} - "{gecos}" {home} /usr/sbin/nologin']
    lines += [f"m {user} {group}" for group in groups]
    conf = f"/etc/sysusers.d/{user}.conf"
    plan.add(
        File(conf, ("\n".join(lines) + "\n").encode()),
        Command(
            ("systemd-sysusers", conf),
            f"create the system user {user}",
            key=f"user:{user}",
            after=(conf,),
            needed=lambda: not _user_exists(user),
        ),
    )
    plan.facts["user"] = user


def _user_exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def find_wheel(given: Path | None) -> Path:
    """The program's wheel: ``given``, else the newest ``dist/hanpyo-*.whl`` beside the
    installer (where `installer/make-release.sh` puts it, and where a release unpacks)."""
    if given is not None:
        if not given.is_file() or not WHEEL_NAME.fullmatch(given.name):
            raise ValueError(f"{given} is not a Hanpyo wheel (hanpyo-VERSION-py3-none-any.whl)")
        return given.resolve()
    found = [p for p in (SOURCE / "dist").glob("hanpyo-*.whl") if WHEEL_NAME.fullmatch(p.name)]
    if not found:
        raise ValueError(
            f"no Hanpyo wheel in {SOURCE / 'dist'}: build one with installer/make-release.sh "
            "(or pass --wheel FILE)"
        )
    return max(found, key=_wheel_version)


WHEEL_NAME = re.compile(r"hanpyo-(\d+(?:\.\d+)*)-py3-none-any\.whl")


def _wheel_version(path: Path) -> tuple[int, ...]:
    match = WHEEL_NAME.fullmatch(path.name)
    assert match is not None  # noqa: S101 (filtered by the caller)
    return tuple(int(part) for part in match.group(1).split("."))


def program(
    plan: Plan, prefix: str, extra: str, wheel: Path, wheelhouse: Path | None
) -> tuple[str, ...]:
    """Install the program's wheel, with the host's extra, into ``prefix/venv``.

    The wheel is kept in ``prefix/wheels``; returns its path there, so a service restarts
    when the program changes. ``wheelhouse`` holds every dependency's wheel for a host
    without internet (`make-release.sh --with-dependencies`); without it pip uses the index.
    """
    content = wheel.read_bytes()
    kept = f"{prefix}/wheels/{wheel.name}"
    plan.add(File(kept, content))
    digest = hashlib.sha256(content).hexdigest()[:16]
    venv = f"{prefix}/venv"
    pip = (f"{venv}/bin/python", "-m", "pip", "install", "-q", "--disable-pip-version-check")
    index = ("--no-index", "--find-links", str(wheelhouse)) if wheelhouse else ()
    missing = lambda: not Path(venv, "bin", extra).exists()  # noqa: E731
    plan.add(
        Command(
            # the system Python the packages bring, not whatever python3 is first on PATH
            # (a pyenv under /root would leave an environment the service user cannot run)
            ("/usr/bin/python3", "-m", "venv", venv),
            "create the program's virtual environment",
            key=f"venv:{venv}",
            needed=lambda: not Path(venv, "bin", "python").exists(),
        ),
        # pip skips a wheel whose version is already installed, so the program itself is
        # reinstalled from this exact wheel once its dependencies are in place.
        Command(
            (*pip, *index, f"{kept}[{extra}]"),
            "install the program's dependencies",
            key=f"deps:{extra}:{digest}",
            needed=missing,
        ),
        Command(
            (*pip, *index, "--force-reinstall", "--no-deps", kept),
            "install the program",
            key=f"wheel:{extra}:{digest}",
            needed=missing,
        ),
    )
    plan.facts["program"] = wheel.name
    return (kept,)


def credential(plan: Plan, name: str, seal: str, secret: bytes) -> tuple[str, str]:
    """Keep ``secret`` as the systemd credential ``name``; returns the unit line to load it.

    ``seal`` is "tpm2" or "host" (systemd-creds encrypt) or "none" (a root-only file).
    An existing credential is never replaced: a new key would orphan the kiosk's chain or
    lock its store.
    """
    if seal == "none":
        path = f"{CREDSTORE}/{name}"
        plan.add(File(path, secret, mode=0o600, keep=True))
        return path, f"LoadCredential={name}:{path}"
    path = f"{CREDSTORE_ENCRYPTED}/{name}.cred"
    plan.add(
        Command(
            ("systemd-creds", "encrypt", f"--with-key={seal}", f"--name={name}", "-", path),
            f"seal {name} to this machine ({seal})",
            key=f"cred:{name}:{seal}",
            needed=lambda: not Path(path).exists(),
            stdin=secret,
        )
    )
    return path, f"LoadCredentialEncrypted={name}:{path}"


def existing_secret(target: Target, name: str) -> bytes | None:
    """A credential an earlier run left as a root-only file, reused when sealing it."""
    where = target.path(f"{CREDSTORE}/{name}")
    return where.read_bytes() if where.is_file() else None


def new_secret() -> bytes:
    """32 random bytes in the form `kiosk provision` writes: unpadded base64url."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=") + b"\n"


def choose_seal(option: str) -> str:
    if option != "auto":
        return option
    has_tpm = Path("/dev/tpmrm0").exists() and shutil.which("systemd-creds") is not None
    return "tpm2" if has_tpm else "none"


_PLAIN = re.compile(r"[A-Za-z0-9_./:=+@,-]+")


def unit_word(word: str) -> str:
    """One argument of an Exec line, quoted for systemd (specifiers and variables too)."""
    escaped = word.replace("%", "%%").replace("$", "$$")
    if _PLAIN.fullmatch(word):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_line(argv: list[str]) -> str:
    return " ".join(unit_word(w) for w in argv)
