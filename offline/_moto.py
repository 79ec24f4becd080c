"""The embedded AWS process: moto's WSGI application served on 127.0.0.1:PORT (as `moto.server`
serves it), run by `offline.aws.MotoServer` as a child of the stack.

It also answers SENT_EMAILS_PATH with the emails SES was asked to send (moto keeps them in its
backend and has no API for them), so the local stack can show its mailbox (GET /_local/aws/emails).

Ten things moto's own server cannot do:
- an outage that keeps the data: on SIGUSR1 the listening socket is closed and every open
  connection is cut (a client gets "connection refused", as when AWS is unreachable) while the
  in-memory backends stay; on SIGUSR2 the same port is bound again and serves the same data;
- a TransactWriteItems retried with its ClientRequestToken (after a timeout, say) is not
  written twice, as on DynamoDB (moto ignores the token);
- concurrent DynamoDB and SQS requests: neither of moto's backends is thread-safe (concurrent
  TransactWriteItems fail with "dictionary changed size during iteration"; two concurrent
  ReceiveMessage calls can hand one message to both consumers, which SQS never does within the
  visibility timeout), so each service's requests are served one at a time, a long poll giving
  SQS's turn up while it waits. Every other service is still served concurrently;
- a Query whose cost does not grow with the table (offline/moto_partitions.py: moto sorts the
  whole table for every Query);
- a transaction whose cost does not grow with the table: moto backs up a TransactWriteItems by
  copying the whole table once per item (a 75-item wave record against the soak's 50,000 items
  took minutes); here the items it touches are kept and written back if it is cancelled;
- a SendMessage and a ReceiveMessage whose cost does not grow with the queue: moto counts every
  message of the queue three times whenever any queue attribute is read, which both do for each
  message; here the counts are made only for a GetQueueAttributes that asks for them, and once
  (moto builds all the queue's attributes again for each name asked: ten times for three names);
- a prompt long poll: a ReceiveMessage waiting for messages wakes when one is sent (moto does
  that) and also, within RECHECK_SECONDS, when a delay or a visibility timeout ends (moto
  rechecks only once a second; SQS hands such a message over at once);
- a request whose routing costs nothing: moto works out a host's service again for every request,
  under a lock all requests share, by listing its own package (some 200 folders, each asked
  whether it is one) and then matching every service's URL patterns, about a quarter of the CPU
  of a GetQueueAttributes; here each host's answer is remembered, and so are the action's method
  name and the list of a response class's methods, which moto also works out again each time
  (with `inspect.getmembers`, some 5 % of a GetQueueAttributes);
- DynamoDB answers whose cost is the items': moto walks every attribute value of every item it
  returns through the service's shape model (two thirds of a 40-item BatchGetItem), and the local
  stack serves DynamoDB one request at a time; here an attribute value already in DynamoDB's JSON
  form (no binary) is written as it is;
- connections kept for the client's next request (werkzeug's server closes each one), and each
  answer sent in one write instead of its headers and then its body: _Handler.

python -m offline._moto PORT
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from offline import moto_partitions

HOST = "127.0.0.1"
# Answered by this launcher only: the stack polls it to know that its own AWS listens on the port
# (the pid tells it apart from another stack's AWS that took the same port first).
READY_PATH = "/_offline/ready"
READY_BODY = json.dumps({"aws": "moto", "serving": True, "pid": os.getpid()}).encode()
OUTAGE, RESUME = signal.SIGUSR1, signal.SIGUSR2
SENT_EMAILS_PATH = "/_offline/ses/sent"
TRANSACT_WRITE = "DynamoDB_20120810.TransactWriteItems"
RECHECK_SECONDS = 0.1
TOKEN_SECONDS = 600  # how long DynamoDB remembers a ClientRequestToken  # read by offline.aws.MotoServer.sent_emails

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def sent_emails() -> list[dict[str, Any]]:
    """Every email SES sent (SendEmail and SendRawEmail, SES v1 and v2 share the backend), oldest first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    found: list[dict[str, Any]] = []
    for region, backend in ses_backends[DEFAULT_ACCOUNT_ID].items():
        for message in backend.sent_messages:
            entry: dict[str, Any] = {"messageId": message.id, "region": region, "source": message.source}
            destinations = message.destinations
            if isinstance(destinations, dict):
                entry["to"] = list(destinations.get("ToAddresses", []))
                entry["cc"] = list(destinations.get("CcAddresses", []))
                entry["bcc"] = list(destinations.get("BccAddresses", []))
            else:
                entry["to"] = list(destinations or [])
            for name in ("subject", "body", "raw_data", "template", "template_data"):
                if hasattr(message, name):
                    entry["raw" if name == "raw_data" else name] = getattr(message, name)
            found.append(entry)
    return found


def undo_log_transactions() -> None:
    """TransactWriteItems rolled back from the old versions of the items it touches, instead of
    moto's copies of whole tables (also used by the benchmarks' in-process moto). DynamoDB requests
    are served one at a time, so a module-wide switch is safe."""
    import copy as real_copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    class NoTableCopies:
        """What moto's DynamoDB module sees as `copy` during a transaction: a table is not copied."""

        active = False

        def __getattr__(self, name: str) -> Any:
            return getattr(real_copy, name)

        def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
            return value if self.active and isinstance(value, Table) else real_copy.deepcopy(value, memo)

    shim = NoTableCopies()
    original = models.DynamoDBBackend.transact_write_items

    def touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], Any]]:
        found = []
        for entry in transact_items:
            op = next(iter(entry.values()), None) if isinstance(entry, dict) else None
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue  # moto refuses it and writes nothing for it
            key = op.get("Key") or {
                name: op.get("Item", {}).get(name) for name in (table.hash_key_attr, table.range_key_attr) if name
            }
            try:
                old = backend.get_item(table.name, key)
            except Exception:  # noqa: S112 (a malformed key: moto refuses that operation, writing nothing)
                continue
            found.append((table.name, key, real_copy.deepcopy(old)))
        return found

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        before = touched(backend, transact_items)
        shim.active = True
        try:
            original(backend, transact_items)
        except Exception:
            for table_name, key, old in reversed(before):
                if old is None:
                    backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, old.to_json()["Attributes"])
            raise
        finally:
            shim.active = False

    models.copy = shim  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _queue_counts_when_asked() -> None:
    from moto.sqs.models import Queue, SQSBackend

    asked = threading.local()
    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    ):
        count = getattr(Queue, name).fget

        def counted(queue: Any, count: Callable[[Any], int] = count) -> int:
            return count(queue) if getattr(asked, "counts", False) else 0

        setattr(Queue, name, property(counted))
    built = Queue.attributes.fget

    def attributes(queue: Any) -> dict[str, Any]:
        once = getattr(asked, "attributes", None)
        if once is None:
            return built(queue)
        if id(queue) not in once:
            once[id(queue)] = built(queue)
        return once[id(queue)]

    Queue.attributes = property(attributes)  # type: ignore[method-assign]
    original = SQSBackend.get_queue_attributes

    def get_queue_attributes(backend: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        asked.counts = any(n == "All" or n.startswith("Approximate") for n in attribute_names or [])
        asked.attributes = {}
        try:
            return original(backend, queue_name, attribute_names)
        finally:
            asked.counts, asked.attributes = False, None

    SQSBackend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]


# An attribute value in DynamoDB's JSON form, by its one key: what its content must be to be
# written as it is (the shape walk would write the same; binaries are encoded by it).
_PLAIN_VALUE: dict[str, Callable[[Any], bool]] = {
    "S": lambda v: isinstance(v, str),
    "N": lambda v: isinstance(v, str),
    "BOOL": lambda v: isinstance(v, bool),
    "NULL": lambda v: v is True,
    "SS": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "NS": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "M": lambda v: isinstance(v, dict) and all(isinstance(k, str) and _plain(x) for k, x in v.items()),
    "L": lambda v: isinstance(v, list) and all(_plain(x) for x in v),
}


def _plain(value: Any) -> bool:
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, content),) = value.items()
    check = _PLAIN_VALUE.get(kind)
    return check is not None and check(content)


def _attribute_values_as_they_are() -> None:
    from moto.core.serialize import BaseJSONSerializer

    walk = BaseJSONSerializer._serialize_type_structure

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and self.service_model.service_name == "dynamodb" and _plain(value):
            serialized[key] = value
            return
        walk(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = serialize_structure  # type: ignore[method-assign]


class _Turn:
    """One request at a time, with a way for the request holding the turn to give it up while it
    waits (a long poll); giving it up outside a request (moto in-process, in tests) does nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._here = threading.local()

    @contextlib.contextmanager
    def taken(self) -> Iterator[None]:
        with self._lock:
            self._here.holds = True
            try:
                yield
            finally:
                self._here.holds = False

    @contextlib.contextmanager
    def given_up(self) -> Iterator[None]:
        if not getattr(self._here, "holds", False):
            yield
            return
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()


SQS_TURN = _Turn()


def _prompt_long_polls() -> None:
    from moto.sqs.models import Queue

    def wait_for_messages(queue: Any, timeout: float) -> None:
        # Without the turn, then the queue's own lock: a sender takes them in that order.
        with SQS_TURN.given_up(), queue._messages_lock:
            queue._messages_lock.wait_for(lambda: queue.messages, timeout=min(timeout, RECHECK_SECONDS))

    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, each host's backend remembered (a pure function of the host: moto's
    package and its URL patterns do not change while it runs)."""

    def __init__(self, create_app: Callable[[Any], Any]) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:  # called under the dispatcher's own lock
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


def _json(start_response: Callable[..., Any], body: bytes) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class LocalAws:
    """moto's application, DynamoDB and SQS serialised, plus the ready probe."""

    def __init__(self, app: Wsgi) -> None:
        self.app = app
        self._dynamodb = threading.Lock()
        self._transactions: dict[str, tuple[float, str, list[tuple[str, str]], bytes]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == READY_PATH:
            return _json(start_response, READY_BODY)
        if environ.get("PATH_INFO") == SENT_EMAILS_PATH:
            return _json(start_response, json.dumps({"items": sent_emails()}).encode())
        # DynamoDB_20120810.* and DynamoDBStreams_20120810.* share the tables' dictionaries.
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB"):
            with self._dynamodb:
                if target == TRANSACT_WRITE:
                    return self._transact_write(environ, start_response)
                return self._whole(environ, start_response)
        if target.startswith("AmazonSQS."):
            with SQS_TURN.taken():
                return self._whole(environ, start_response)
        return self.app(environ, start_response)

    def _whole(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = self.app(environ, start_response)
        try:
            # The whole answer is produced under the lock: a lazy body would read the backend
            # after it is released.
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close:
                close()

    def _transact_write(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """TransactWriteItems with DynamoDB's idempotency, which moto lacks: a repeat of a token that
        succeeded in the last ten minutes answers that success again without writing. botocore sends
        a token with every call and the same one on its retries, so a retry after a read timeout
        (the first attempt having written) succeeds as on AWS instead of failing its conditions."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            token = json.loads(raw or b"{}").get("ClientRequestToken")
        except ValueError:
            token = None
        now = time.monotonic()
        for old in [t for t, answer in self._transactions.items() if now - answer[0] > TOKEN_SECONDS]:
            del self._transactions[old]
        if token and token in self._transactions:
            _, status, headers, body = self._transactions[token]
            start_response(status, headers)
            return [body]
        seen: list[Any] = []

        def recording(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            seen[:] = [status, headers]
            return start_response(status, headers, *rest)

        answer = self._whole(environ, recording)
        if token and seen and seen[0].startswith("200"):
            self._transactions[token] = (now, seen[0], seen[1], answer[0])
        return answer


def _names_remembered() -> None:
    """moto's action name -> method name, and a response class's methods: pure functions of their
    argument (the classes are not patched after the server starts), remembered."""
    import functools

    import moto.core.responses as responses

    method_names = responses.method_names_from_class
    responses.camelcase_to_underscores = functools.lru_cache(maxsize=1024)(responses.camelcase_to_underscores)
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(lambda c: frozenset(method_names(c)))


class _Handler(MotoRequestHandler):
    """Registers its connection with the launcher, so that an outage cuts the keep-alive ones too.

    And keeps each connection for the client's next request (HTTP/1.1 keep-alive, as AWS does):
    werkzeug's server closes every one, so each AWS call paid a new TCP connection and a new
    thread. It closes them because, after each answer, it discards whatever the client sent that
    the application did not read, which would be the next request. Here the body is read whole
    before moto sees it, and that discarding reads from an empty file; a chunked body (which
    botocore does not send) is left to werkzeug, and closes.

    Its writes are buffered (werkzeug flushes once it has written the body), so an answer leaves in
    one write: unbuffered, the headers went first and the client woke for them, then for the body."""

    keep_alive = False
    wbufsize = -1  # buffered: see above

    def make_environ(self) -> dict[str, Any]:
        self.wfile.flush()  # werkzeug's "100 Continue", if it wrote one: the client waits for it
        environ = super().make_environ()
        self.keep_alive = False
        length = environ.get("CONTENT_LENGTH") or "0"
        if environ.get("wsgi.input_terminated") or not length.isdigit():
            return environ
        environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length)))
        self.keep_alive = True
        self.connection_file, self.rfile = self.rfile, io.BufferedReader(io.BytesIO())
        return environ

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            if self.keep_alive:
                self.rfile = self.connection_file

    def send_header(self, keyword: str, value: str) -> None:
        if self.keep_alive and keyword.lower() == "connection" and value.lower() == "close":
            return  # open unless the client asked to close (HTTP/1.1)
        super().send_header(keyword, value)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if isinstance(code, int) and code < 400:
            return  # a line per answered call ("POST / 200", a fifth of moto's time) says nothing
        super().log_request(code, size)

    def handle(self) -> None:
        connections: _Connections = self.server.connections  # type: ignore[attr-defined]
        connections.add(self.connection)
        # An answer larger than the write buffer still goes in two parts (headers, body): without
        # this, on a kept connection the second waits for the client's delayed acknowledgement of
        # the first (some 40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            super().handle()
        finally:
            connections.discard(self.connection)


class _Connections:
    def __init__(self) -> None:
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def add(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.add(connection)

    def discard(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.discard(connection)

    def cut(self) -> None:
        with self._lock:
            open_now = list(self._open)
        for connection in open_now:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RDWR)  # idle keep-alive and in-flight requests alike


class _Server:
    """At most one listening socket on the port; `down()` and `up()` switch it."""

    def __init__(self, port: int, app: Wsgi) -> None:
        self.port = port
        self.app = app
        self.connections = _Connections()
        self._wsgi: BaseWSGIServer | None = None

    def up(self) -> bool:
        if self._wsgi is not None:
            return True
        try:
            wsgi = make_server(HOST, self.port, self.app, threaded=True, request_handler=_Handler)
        except SystemExit:  # werkzeug has printed why it cannot bind (the port taken meanwhile)
            return False
        wsgi.connections = self.connections  # type: ignore[attr-defined]
        threading.Thread(target=wsgi.serve_forever, name="aws", daemon=True).start()
        self._wsgi = wsgi
        print(f"embedded AWS serving on {HOST}:{self.port}", flush=True)
        return True

    def down(self) -> None:
        if self._wsgi is None:
            return
        self._wsgi.shutdown()  # the accept loop ends
        self._wsgi.server_close()  # the port refuses connections from now on
        self.connections.cut()
        self._wsgi = None
        print("embedded AWS down (outage): the port refuses connections, the data is kept", flush=True)


def main(argv: list[str]) -> int:
    port = int(argv[0])
    # Signals are taken one at a time by this thread (sigwait), never in the middle of a request;
    # blocked before any thread starts, so the server threads inherit the mask.
    handled = {OUTAGE, RESUME, signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    _prompt_long_polls()
    _queue_counts_when_asked()
    _attribute_values_as_they_are()
    undo_log_transactions()
    moto_partitions.install()
    _names_remembered()
    server = _Server(port, LocalAws(_Dispatcher(create_backend_app)))
    if not server.up():
        return 1
    while True:
        received = signal.sigwait(handled)
        if received == OUTAGE:
            server.down()
        elif received == RESUME:
            server.up()
        else:
            server.down()
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
