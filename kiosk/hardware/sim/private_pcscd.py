"""A private pcscd for tests, the demo and benches: its own config and socket, vpcd readers.

The vpcd driver keeps its state in globals indexed by slot, so a second vpcd reader entry
would overwrite the first one's slots: there is one entry, "Hanpyo Virtual Reader", whose
VPCD_SLOTS slots are the readers, slot n served on port P+n ("... 00 00", "... 00 01").

Debian's pcscd 1.9.9 ignores PCSCLITE_CSOCK_NAME and always listens on /run/pcscd/pcscd.comm,
so it runs in a mount namespace of its own in which /run/pcscd is a private directory; the
client library does honour PCSCLITE_CSOCK_NAME and finds the socket there. libpcsclite reads
that variable once per process, at its first use, so every private pcscd a process talks to
must use the same ``socket_dir``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
SOCKET_NAME = "pcscd.comm"
READER_NAME = "Hanpyo Virtual Reader"
VPCD_SLOTS = 2  # as Debian builds the driver (VPCDSLOTS)
STOP_TIMEOUT = 5.0
# In its own mount namespace, /run/pcscd is the directory given as $1; the rest is pcscd's
# command line. exec keeps the process id, so the helper can stop pcscd by it.
NAMESPACE_SCRIPT = 'mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd && shift && exec "$@"'


class PcscdError(RuntimeError):
    """The private pcscd could not be started: a missing program, driver or permission."""


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` adjacent TCP ports that are free now, for vpcd's slots."""
    for _ in range(100):
        with contextlib.ExitStack() as stack:
            probes = [stack.enter_context(socket.socket()) for _ in range(count)]
            probes[0].bind((host, 0))
            first = int(probes[0].getsockname()[1])
            try:
                for offset, probe in enumerate(probes[1:], start=1):
                    probe.bind((host, first + offset))
            except (OSError, OverflowError):
                continue
            return list(range(first, first + count))
    raise PcscdError(f"found no {count} adjacent free TCP ports")


def reader_config(port: int) -> str:
    """The vpcd reader entry: slot n listens on ``port`` + n."""
    return (
        f'FRIENDLYNAME "{READER_NAME}"\n'
        f"DEVICENAME /dev/null:{port}\n"
        f"LIBPATH {VPCD_DRIVER}\n"
        f"CHANNELID {port}\n"
    )


def reader_name(slot: int) -> str:
    """The PC/SC name of the reader the card simulator serves on port P + ``slot``."""
    return f"{READER_NAME} 00 {slot:02X}"


def _pcscd_program() -> str:
    path = shutil.which("pcscd", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if path is None:
        raise PcscdError("pcscd is not installed (Debian package pcscd)")
    if not VPCD_DRIVER.is_file():
        raise PcscdError(f"{VPCD_DRIVER} is missing (Debian package vsmartcard-vpcd)")
    if shutil.which("unshare") is None:
        raise PcscdError("unshare is not installed (Debian package util-linux)")
    return path


def _namespace_command() -> list[str]:
    # Root may mount in a new mount namespace; anyone else needs a user namespace too.
    command = ["unshare", "--mount", "--propagation", "private"]
    return command if os.geteuid() == 0 else [*command, "--map-root-user"]


class PrivatePcscd:
    """pcscd with ``readers`` vpcd readers, for one test; a context manager.

    ``env`` is the environment for a client process, ``socket`` the socket it talks to,
    ``ports`` the vpcd port of each reader, ``reader_names`` their PC/SC names.
    """

    def __init__(
        self, root: Path, readers: int = 2, *, socket_dir: Path | None = None, debug: bool = False
    ) -> None:
        self.root = root
        self.debug = debug
        self.config_dir = root / "reader.conf.d"
        self.socket_dir = socket_dir or root / "run"
        self.socket = self.socket_dir / SOCKET_NAME
        self.log_path = root / "pcscd.log"
        if not 1 <= readers <= VPCD_SLOTS:
            raise PcscdError(f"the vpcd driver serves 1 to {VPCD_SLOTS} readers, not {readers}")
        # All of vpcd's slots listen, used or not, so all their ports must be free.
        self.ports = free_ports(VPCD_SLOTS)[:readers]
        self.reader_names = [reader_name(i) for i in range(readers)]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "PCSCLITE_CSOCK_NAME": str(self.socket)}

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> PrivatePcscd:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> None:
        """Start pcscd and return once its socket answers."""
        if self._process is not None:
            raise PcscdError("this pcscd is running already")
        program = _pcscd_program()
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "hanpyo-vpcd.conf").write_text(reader_config(self.ports[0]))
        for leftover in (self.socket, self.socket_dir / "pcscd.pid"):  # after a SIGKILL
            leftover.unlink(missing_ok=True)
        pcscd = [program, "--foreground", "--config", str(self.config_dir)]
        if self.debug:
            pcscd += ["--debug", "--apdu"]
        command = [*_namespace_command(), "sh", "-c", NAMESPACE_SCRIPT, "sh", str(self.socket_dir)]
        with self.log_path.open("ab") as log:
            # Every argument is ours: fixed programs, our own directories and ports.
            self._process = subprocess.Popen(  # noqa: S603
                [*command, *pcscd], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_ready(timeout)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop pcscd by its process id: SIGTERM, then SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _wait_until_ready(self, timeout: float) -> None:
        if self._process is None:
            raise PcscdError("pcscd is not running")
        deadline = time.monotonic() + timeout
        while not self._socket_answers():
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise PcscdError(f"pcscd exited with status {code}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise PcscdError(f"pcscd did not open {self.socket} in {timeout} s:\n{self.log()}")
            time.sleep(0.02)

    def _socket_answers(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket))
            except OSError:
                return False
            return True


@contextlib.contextmanager
def private_pcscd(readers: int = 2, *, socket_dir: Path | None = None) -> Iterator[PrivatePcscd]:
    """A private pcscd in a temporary directory, stopped and cleaned up on exit."""
    with (
        tempfile.TemporaryDirectory(prefix="hanpyo-pcscd-") as root,
        PrivatePcscd(Path(root), readers, socket_dir=socket_dir) as pcscd,
    ):
        yield pcscd
