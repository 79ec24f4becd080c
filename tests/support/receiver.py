"""A real HTTP receiver on 127.0.0.1 for webhook tests and benchmarks: scripted answers per path
(status, headers, delay, or held until a test releases it), every request recorded with its headers,
raw body and the sender's port."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    peer_port: int = 0  # the sender's side of the connection (which process sent it)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0
    hold: threading.Event | None = None  # answer only once this is set (at most 30 s)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A dispatcher opens a connection per delivery of a batch at once; the default listen backlog
    # (5) drops the SYNs beyond it while the accept loop catches up, and a dropped SYN is retried
    # only a second later, by when a short connect timeout has passed.
    request_queue_size = 128


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.scripts: dict[str, list[Answer]] = {}
        self.default = Answer()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                answer = receiver._record(self.path, dict(self.headers.items()), body, self.client_address[1])
                if answer.hold is not None:
                    answer.hold.wait(30)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the sender went away while we held its request

            def log_message(self, *args) -> None:
                return

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        # A short poll interval: shutting down waits for it, and tests start and stop many receivers.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _record(self, path: str, headers: dict[str, str], body: bytes, peer_port: int) -> Answer:
        with self._lock:
            self.received.append(Received(path, headers, body, time.time(), peer_port))
            script = self.scripts.get(path)
            return script.pop(0) if script else self.default

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *answers: Answer) -> None:
        self.scripts[path] = list(answers)

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 15.0) -> list[Received]:
        """The requests at `path` once there are at least `count` (fewer if `timeout` passes first)."""
        deadline = time.monotonic() + timeout
        while len(found := self.at(path)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
