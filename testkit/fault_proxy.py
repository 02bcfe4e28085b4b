"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1, between a kiosk's LedgerClient and a real
``ledger serve``.

It understands just enough HTTP to find where each request and response ends, so that a fault
is drawn for every request, also the second and later ones on a kept-alive connection (a plain
per-connection draw would almost never hit a ``requests.Session``, which reuses its
connection). Each request gets a fresh upstream connection, so that a restarted ledger is
picked up at once. Faults, drawn from one seeded RNG:

- ``drop``: the request is read, then the connection is closed; nothing reaches the ledger.
- ``reset``: part of the request is forwarded, then both sides are reset (SO_LINGER 0, RST).
- ``delay``: up to ``max_delay_s`` of sleep, before forwarding the request or before relaying
  the answer (the ledger has committed by then); more or less than the client's read timeout.
- ``503``: a 503 answer without forwarding anything.
- ``cut``: the whole request is forwarded and the ledger's whole answer read (so whatever the
  request did is committed), then only a prefix of the answer, possibly empty, goes back
  before the connection is closed or reset.

A test may also ``rewrite`` the ledger's answers (a hostile network forging them): a function
of the method, the path and the whole answer that returns the answer to send instead.

It listens on and connects to 127.0.0.1 only, counts every fault by kind and every byte it
relays, and ``stop()`` closes every socket and joins every thread it started.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

LOOPBACK = "127.0.0.1"
KINDS = ("drop", "reset", "delay", "503", "cut")
MAX_HEADER = 64 * 1024
IO_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Fault:
    """One fault chosen by a test's ``plan`` instead of the RNG. ``kind`` None: no fault.
    ``fraction``: how much of the request (reset) or answer (cut) gets through, or ``keep``
    bytes of it; ``rst``: close with an RST (drop, cut) or delay before forwarding rather
    than after (delay)."""

    kind: str | None
    fraction: float = 0.0
    keep: int | None = None
    rst: bool = False
    delay: float = 0.0


Plan = Callable[[str, str], Fault | None]  # (method, path) -> a fault, or None: draw one
Rewrite = Callable[[str, str, bytes], bytes]  # (method, path, answer) -> the answer to send


def with_body(response: bytes, body: bytes) -> bytes:
    """``response`` (a whole HTTP/1.1 answer with a Content-Length) with ``body`` instead of
    its own, the length fixed to match."""
    head, _, _ = response.partition(b"\r\n\r\n")
    lines = [
        line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length:")
    ]
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def body_of(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]


def _endpoint(path: str) -> str:
    path = path.split("?", 1)[0]
    return "/".join("{id}" if len(p) == 32 and p.isalnum() else p for p in path.split("/"))


class _Closed(Exception):
    """The peer closed its side before a whole message arrived."""


class _Reader:
    """Buffered reads of HTTP messages from one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise _Closed
        self.buffer += data

    def until(self, marker: bytes) -> bytes:
        while (end := self.buffer.find(marker)) < 0:
            if len(self.buffer) > MAX_HEADER:
                raise _Closed
            self._fill()
        end += len(marker)
        head, self.buffer = self.buffer[:end], self.buffer[end:]
        return head

    def exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def rest(self) -> bytes:
        try:
            while True:
                self._fill()
        except _Closed:
            pass
        data, self.buffer = self.buffer, b""
        return data


def _headers(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
    return lines[0], fields


def _read_request(reader: _Reader) -> tuple[bytes, str, str]:
    """One whole request from the client: its bytes, method and path."""
    head = reader.until(b"\r\n\r\n")
    first, fields = _headers(head)
    if "chunked" in fields.get("transfer-encoding", "").lower():
        raise _Closed  # requests sends bodies with a Content-Length; nothing else here does
    body = reader.exactly(int(fields.get("content-length", "0")))
    parts = first.split(" ")
    return head + body, parts[0], parts[1] if len(parts) > 1 else ""


def _read_response(reader: _Reader, method: str) -> bytes:
    """One whole response from the ledger, however its end is marked."""
    head = reader.until(b"\r\n\r\n")
    first, fields = _headers(head)
    status = int(first.split(" ")[1])
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return head
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = b""
        while True:
            size_line = reader.until(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            body += size_line + reader.exactly(size + 2)
            if size == 0:
                return head + body
    if "content-length" in fields:
        return head + reader.exactly(int(fields["content-length"]))
    return head + reader.rest()


def _part(size: int, fraction: float | int) -> int:
    """How many of ``size`` bytes get through: a fraction, or an int count of bytes."""
    return min(size, fraction) if isinstance(fraction, int) else int(size * fraction)


def _reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class FaultProxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        fault_rate: float = 0.3,
        seed: int | str = 0,
        weights: dict[str, float] | None = None,
        max_delay_s: float = 2.0,
        plan: Plan | None = None,
        rewrite: Rewrite | None = None,
    ) -> None:
        weights = dict.fromkeys(KINDS, 1.0) if weights is None else weights
        unknown = set(weights) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        self.upstream = (LOOPBACK, upstream_port)  # never anything but the loopback address
        self.fault_rate = fault_rate  # may be changed while running; 0 stops the faults
        self.kinds = [k for k in KINDS if weights.get(k, 0) > 0]
        self.weights = [weights[k] for k in self.kinds]
        self.max_delay_s = max_delay_s
        self.plan = plan
        self.rewrite = rewrite
        self.rewritten = 0  # answers that ``rewrite`` changed
        self.requests: Counter[str] = Counter()  # "METHOD /path" with ids and queries elided
        self.counts: Counter[str] = Counter()  # fault kinds, and "forwarded" / "upstream_down"
        self.delays: list[float] = []
        self.bytes_from_clients = 0
        self.bytes_to_clients = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._uploads = threading.Condition(self._lock)
        self._uploads_in_flight = 0
        self._stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._acceptor = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self.errors: list[BaseException] = []  # anything unexpected in the proxy itself

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._acceptor.is_alive():
            self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
            self._uploads.notify_all()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=10)
        alive = [t.name for t in threads if t.is_alive()]
        with self._lock:
            left = list(self._sockets)
        for sock in left:
            sock.close()
        if alive:
            raise RuntimeError(f"fault proxy threads did not stop: {alive}")

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the tests read -----------------------------------------------------------------
    @property
    def faults(self) -> int:
        with self._lock:
            return sum(self.counts[k] for k in KINDS)

    def fault_counts(self) -> dict[str, int]:
        with self._lock:
            return {k: self.counts[k] for k in KINDS}

    def wait_for_upload(self, timeout: float) -> bool:
        """Wait until a block upload has been forwarded and its answer not yet come back."""
        deadline = time.monotonic() + timeout
        with self._uploads:
            while self._uploads_in_flight == 0 and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._uploads.wait(left)
            return self._uploads_in_flight > 0

    # -- the work ----------------------------------------------------------------------------
    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.add(sock)
        return sock

    def _forget(self, sock: socket.socket, *, rst: bool = False) -> None:
        with self._lock:
            self._sockets.discard(sock)
        if rst:
            _reset(sock)
        else:
            sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(IO_TIMEOUT_S)
            self._track(client)
            thread = threading.Thread(
                target=self._connection, args=(client,), name="fault-proxy-conn", daemon=True
            )
            with self._lock:
                self._threads = {t for t in self._threads if t.is_alive()}
                self._threads.add(thread)
            thread.start()

    def _draw(self, method: str, path: str) -> tuple[str | None, float, float | int, bool]:
        """A fault kind (None: none), a delay, a fraction and a coin, from the seeded RNG, or
        from ``plan`` when it has a say about this request."""
        with self._lock:
            rng = self._rng
            self.requests[f"{method} {_endpoint(path)}"] += 1
            drawn = rng.choices(self.kinds, self.weights)[0]
            kind: str | None = drawn if rng.random() < self.fault_rate else None
            delay, fraction = rng.uniform(0, self.max_delay_s), rng.random()
            coin = rng.random() < 0.5
            planned = self.plan(method, path) if self.plan is not None else None
            if planned is not None:
                kind, coin, delay = planned.kind, planned.rst, planned.delay
                fraction = planned.fraction if planned.keep is None else planned.keep
            if kind is not None:
                self.counts[kind] += 1
                if kind == "delay":
                    self.delays.append(delay)
            return kind, delay, fraction, coin

    def _connection(self, client: socket.socket) -> None:
        rst = False
        try:
            reader = _Reader(client)
            while not self._stop.is_set():
                request, method, path = _read_request(reader)
                with self._lock:
                    self.bytes_from_clients += len(request)
                keep, rst = self._one(client, request, method, path)
                if not keep:
                    break
        except (_Closed, OSError):
            pass
        except Exception as e:  # a bug in the proxy: the test reports it
            self.errors.append(e)
        finally:
            self._forget(client, rst=rst)

    def _send(self, client: socket.socket, data: bytes) -> None:
        client.sendall(data)
        with self._lock:
            self.bytes_to_clients += len(data)

    def _one(
        self, client: socket.socket, request: bytes, method: str, path: str
    ) -> tuple[bool, bool]:
        """Handle one request; return (keep the client connection, close it with an RST)."""
        kind, delay, fraction, coin = self._draw(method, path)
        if kind == "drop":
            return False, coin
        if kind == "503":
            body = b'{"reason":"unavailable","detail":"injected by the fault proxy"}'
            self._send(
                client,
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body),
            )
            return False, False
        if kind == "delay" and coin and self._stop.wait(delay):
            return False, True  # delay before forwarding: the request may reach the ledger late
        upload = method == "POST" and path.endswith("/blocks")
        try:
            upstream = self._track(socket.create_connection(self.upstream, timeout=5))
        except OSError:
            with self._lock:
                self.counts["upstream_down"] += 1
            return False, True
        upstream.settimeout(IO_TIMEOUT_S)
        if upload:
            with self._uploads:
                self._uploads_in_flight += 1
                self._uploads.notify_all()
        try:
            if kind == "reset":
                upstream.sendall(request[: max(1, _part(len(request), fraction))])
                self._stop.wait(0.01)  # let the ledger read the part it got
                self._forget(upstream, rst=True)
                return False, True
            try:
                upstream.sendall(request)
                response = _read_response(_Reader(upstream), method)
            except (_Closed, OSError):
                with self._lock:
                    self.counts["upstream_down"] += 1
                return False, True
            finally:
                self._forget(upstream)
        finally:
            if upload:
                with self._uploads:
                    self._uploads_in_flight -= 1
        if self.rewrite is not None:
            forged = self.rewrite(method, path, response)
            with self._lock:
                self.rewritten += forged != response
            response = forged
        if kind == "cut":
            self._send(client, response[: _part(len(response), fraction)])
            return False, coin
        if kind == "delay" and not coin and self._stop.wait(delay):
            return False, True  # delay after the ledger answered
        self._send(client, response)
        with self._lock:
            self.counts["forwarded"] += 1
        return True, False
