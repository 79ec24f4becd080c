"""The small HTTP layer every local server uses (API, Function URLs, provider sandbox): a threaded
HTTP/1.1 server on 127.0.0.1 that hands a `Request` to an app and writes back its `Response`.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit


class PortInUse(Exception):
    def __init__(self, name: str, port: int) -> None:
        super().__init__(f"port {port} ({name}) is already in use")
        self.name = name
        self.port = port


@dataclass
class Request:
    method: str
    path: str  # as sent, without the query string
    query: str  # raw query string, without '?'
    headers: list[tuple[str, str]]
    body: bytes
    client_ip: str
    host: str

    def header(self, name: str, default: str | None = None) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else default

    def query_params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(status, [("Content-Type", "application/json"), *(headers or [])], json.dumps(payload).encode())


App = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and delayed
    # ACKs hold the body back ~40 ms on every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # every app logs its own structured line

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(data)
                data.extend(self.rfile.read(size))
                self.rfile.readline()
                if len(data) > self.server.max_body:
                    return None
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.server.max_body:
            return None
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._write(self.server.too_large())
            return
        path, _, query = self.path.partition("?")
        request = Request(
            method=self.command,
            path=path,
            query=query,
            headers=list(self.headers.items()),
            body=body,
            client_ip=self.client_address[0],
            host=self.headers.get("Host", f"127.0.0.1:{self.server.server_port}"),
        )
        try:
            response = self.server.app(request)
        except Exception:
            self.server.on_error(request)
            response = Response.json(500, {"message": "Internal Server Error"})
        self._write(response)

    def _write(self, response: Response) -> None:
        self.send_response_only(response.status)
        names = {k.lower() for k, _ in response.headers}
        for key, value in response.headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        if "date" not in names:
            self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler answers a method without a do_<METHOD> with its own HTML 501: every
        # method (TRACE, PROPFIND, ...) goes to the app instead, which answers as its AWS service does.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, port: int, app: App, max_body: int, too_large: Callable[[], Response], on_error: Callable[[Request], None]
    ):
        self.app = app
        self.max_body = max_body
        self.too_large = too_large
        self.on_error = on_error
        super().__init__(("127.0.0.1", port), _Handler)


class Server:
    """One app served on 127.0.0.1:port in a background thread (port 0 picks a free one)."""

    def __init__(
        self,
        name: str,
        port: int,
        app: App,
        max_body: int = MAX_BODY,
        too_large: Callable[[], Response] | None = None,
        on_error: Callable[[Request], None] | None = None,
    ) -> None:
        self.name = name
        try:
            self._server = _Server(
                port,
                app,
                max_body,
                too_large or (lambda: Response.json(413, {"message": "Request Entity Too Large"})),
                on_error or (lambda request: None),
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(name, port) from exc
            raise
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a serve_forever that never began otherwise
            self._server.shutdown()
        self._server.server_close()


def check_port_free(name: str, port: int) -> None:
    """Raise PortInUse when something already listens on 127.0.0.1:port (0 is always free)."""
    if port == 0:
        return
    with socket.socket() as probe:
        # As the servers bind: connections of a stopped stack still closing (TIME_WAIT, for about a
        # minute) leave the port free; a listener still makes the bind fail.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortInUse(name, port) from exc


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
