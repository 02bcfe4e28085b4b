"""`ledger serve` listens on a socket it binds itself with TCP_NODELAY (issue 18, first cheap
fix): uvicorn's multi-worker socket had protocol 0, so asyncio never set TCP_NODELAY and every
answer's body waited ~40 ms for the client's delayed ACK. Accepted connections inherit the
option from the listener on Linux, so the listener is what the test looks at."""

from __future__ import annotations

import socket

import pytest

from kiosk.core.errors import HanpyoError
from ledger.cli.host import listening_socket


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_the_listening_socket_has_tcp_nodelay_and_is_tcp(host: str) -> None:
    with listening_socket(host, 0) as sock:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert sock.proto == socket.IPPROTO_TCP and sock.type == socket.SOCK_STREAM
        assert sock.get_inheritable()  # the worker processes serve it
        sock.listen()
        with socket.create_connection(sock.getsockname()[:2]) as client:
            accepted, _ = sock.accept()
            with accepted:  # what a worker answers on: the option came with it
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
                client.sendall(b"x")


def test_a_port_in_use_is_a_clear_error() -> None:
    with listening_socket("127.0.0.1", 0) as taken:
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(HanpyoError, match=f"cannot listen on 127.0.0.1:{port}"):
            listening_socket("127.0.0.1", port).close()
