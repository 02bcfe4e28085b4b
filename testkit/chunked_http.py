"""A raw chunked HTTP/1.1 upload to a loopback server, for tests of what a server does before
the body ends: send the head and some chunks, read the answer while most is still unsent, push
on like a client that ignores it. Also the resident memory of a server process."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from types import TracebackType

LOOPBACK = "127.0.0.1"
MIB = 2**20


def resident_bytes(pid: int) -> int:
    """VmRSS of process ``pid``, in bytes (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class ChunkedUpload:
    """``POST path`` with ``Transfer-Encoding: chunked`` and no Content-Length."""

    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        self.sock = socket.create_connection((LOOPBACK, port), timeout=30)
        self.sent = 0
        fields = {"Host": f"{LOOPBACK}:{port}", "Transfer-Encoding": "chunked"} | headers
        head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        self.sock.sendall(head.encode("latin-1") + b"\r\n")

    def send(self, data: bytes) -> bool:
        """Send one chunk; False once the server has closed the connection."""
        try:
            self.sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        except (BrokenPipeError, ConnectionResetError):
            return False
        self.sent += len(data)
        return True

    def send_until(self, total: int, chunk: int = MIB) -> int:
        """Push chunks until ``total`` bytes were sent or the server closed; the bytes sent."""
        while self.sent < total and self.send(b"x" * min(chunk, total - self.sent)):
            pass
        return self.sent

    def finish(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.sock.sendall(b"0\r\n\r\n")

    def answer(self, timeout: float = 30.0) -> tuple[int, bytes]:
        """The status and body of the server's answer (Content-Length framed)."""
        self.sock.settimeout(timeout)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self._recv()
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        length = int(fields.get("content-length", "0"))
        while len(body) < length:
            body += self._recv()
        return int(lines[0].split(" ")[1]), body[:length]

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection without a whole answer")
        return data

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> ChunkedUpload:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
