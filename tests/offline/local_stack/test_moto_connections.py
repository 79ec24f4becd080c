"""The embedded AWS's connections (offline._moto._Handler): a connection is kept for the client's
next request, and each answer leaves in one write, its headers with its body (written apart, the
client woke for the headers and then again for the body)."""

from __future__ import annotations

import http.client
import socket

import pytest

from offline import _moto
from offline.http import free_port

BODY = b'{"Attributes": {"ApproximateNumberOfMessages": "0"}}' * 40  # about 2 KB, as moto's answers are


def _app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(BODY)))])
    return [BODY]


@pytest.fixture
def server():
    served = _moto._Server(free_port(), _app)
    assert served.up()
    yield served
    served.down()


@pytest.fixture
def writes(server, monkeypatch):
    """The writes the server made on its connections, one entry per send."""
    made: list[int] = []
    send = socket.socket.send

    def counted(sock: socket.socket, data, *flags):
        if sock.getsockname()[1] == server.port:
            made.append(len(data))
        return send(sock, data, *flags)

    monkeypatch.setattr(socket.socket, "send", counted)
    return made


def test_each_answer_leaves_in_one_write_on_a_kept_connection(server, writes):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for _ in range(3):
            connection.request("POST", "/", body=b'{"QueueUrl": "q"}', headers={"Content-Type": "application/json"})
            answer = connection.getresponse()
            assert answer.status == 200 and answer.read() == BODY
            assert not answer.will_close  # the same connection serves the next request
    finally:
        connection.close()
    assert len(writes) == 3, writes
    assert all(size > len(BODY) for size in writes)  # the headers went with the body
