"""The port probe of the local stack's start: a port whose last connections are only closing
(TIME_WAIT, right after a clean stop) is free; a port something listens on is not."""

from __future__ import annotations

import socket
import time

import pytest

from offline.http import PortInUse, check_port_free


def _listener(reuse: bool) -> socket.socket:
    listener = socket.socket()
    if reuse:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener


def _time_wait_port() -> int:
    """A port with no listener left and one connection in TIME_WAIT on it, as a stopped stack leaves it."""
    listener = _listener(reuse=True)
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server's side closes first, so its end (127.0.0.1:port) goes to TIME_WAIT
    client.settimeout(5)
    assert client.recv(1) == b""
    client.close()
    listener.close()
    time.sleep(0.05)
    return port


def test_a_port_with_only_closing_connections_is_free():
    port = _time_wait_port()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # the situation: a bind without SO_REUSEADDR is refused
    check_port_free("local API", port)


@pytest.mark.parametrize("reuse", [False, True], ids=["plain listener", "listener with SO_REUSEADDR"])
def test_a_port_something_listens_on_is_in_use(reuse):
    with _listener(reuse) as listener:
        port = listener.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} \\(local API\\) is already in use"):
            check_port_free("local API", port)
