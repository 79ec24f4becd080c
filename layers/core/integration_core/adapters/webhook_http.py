"""Outbound webhook HTTP: POST to receivers with the SSRF rules enforced at connection time.

Every new connection resolves the host here, vets every address it resolves to
(integration_core.domain.ssrf) and connects to that vetted address; the request keeps the receiver's
Host header and TLS SNI, and certificates are checked against the host name. A DNS answer that
changes after the check therefore cannot redirect a delivery to an internal address. A kept-alive
connection is reused only for the same scheme, host and port, so it always goes to an address that
was vetted when it was opened, and a TLS session made for one host name never serves another.

The client is httpcore, the transport under httpx, used directly: it reads no proxy settings from
the environment, follows no redirects and keeps no cookies, so none of that can be switched on by
accident (and httpx itself is not loaded). The request is built from the URL as vetted: host and
port from the same parse, the Host header from them. Only 2xx is a success.

Requests run synchronously on a bounded pool of threads that lives as long as the process (warm
Lambda invocations reuse it and its connections): a synchronous request costs a fraction of the CPU
an asyncio one does. A batch starts on a few threads and grows to one per request while requests
wait, so slow receivers are all waited on at once while fast ones are served without dozens of
threads contending for the interpreter. `post_in_waves` hands the outcomes back as they finish, so
a caller can act on a fast answer while a slow receiver is still being waited on.

Timeouts: resolving and connecting within the connect timeout (and the TLS handshake within it
too), and the whole exchange (resolving, connecting, sending, the status and up to 2 KB of the
answer) within the total timeout, however slowly the receiver trickles its bytes. The system
resolver cannot be interrupted: a lookup that answers late is counted when it answers."""

from __future__ import annotations

import ipaddress
import queue
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import certifi
import httpcore

from integration_core.domain.deliveries import RESPONSE_EXCERPT_BYTES, ErrorClass
from integration_core.domain.ssrf import Target, UnsafeUrl, vet_address, vet_url

Resolver = Callable[[str, int], list[str]]
USER_AGENT = "school-integration-webhooks/1.0"
KEEPALIVE_SECONDS = 5.0  # idle connections older than this are closed, not reused
FIRST_THREADS = 4  # a batch starts on this many threads...
GROW_AFTER = 0.01  # ...doubled every 10 ms while requests wait, up to the sender's concurrency
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"  # kept as they are in a request target (RFC 3986 pchar, and escapes)


@dataclass(frozen=True)
class HttpOutcome:
    status_code: int | None
    latency_ms: float
    error_class: ErrorClass | None
    error: str | None
    body_excerpt: str | None
    retry_after: str | None
    address: str | None  # the address actually connected to
    started_at: float = 0.0  # epoch seconds when the attempt began (the request went out)
    finished_at: float = 0.0  # epoch seconds when its outcome was known
    headers: dict[str, str] | None = None  # the receiver's answer headers (response_headers: bounded)

    @property
    def success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _DnsFailure(Exception):
    pass


# The request a thread is working on: its deadline, and the address a new connection went to.
_current = threading.local()


def _within_deadline(timeout: float | None, timeout_error: type[Exception]) -> float:
    """`timeout` shortened to what is left of the current request's total time."""
    left: float = _current.deadline - time.monotonic()
    if left <= 0:
        raise timeout_error("the total timeout passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection to a vetted address whose every read, write and handshake ends by the current
    request's deadline (the request using a kept-alive connection sets it, in its own thread)."""

    def __init__(self, stream: httpcore.NetworkStream, address: str) -> None:
        self._stream = stream
        self.address = address

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _within_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _within_deadline(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout), self.address)

    def get_extra_info(self, info: str) -> Any:
        if info == "vetted_address":
            return self.address
        return self._stream.get_extra_info(info)


class _VettingBackend(httpcore.NetworkBackend):
    """Opens connections only to vetted addresses: the host is resolved, every address it
    resolves to must pass, and the socket connects to the first of them."""

    def __init__(self, allow_loopback: bool, resolver: Resolver) -> None:
        self.allow_loopback = allow_loopback
        self.resolver = resolver
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        started = time.monotonic()
        address = self._vetted_address(host, port)
        _current.address = address
        if timeout is not None:  # what the lookup left of the connect timeout
            timeout -= time.monotonic() - started
            if timeout <= 0:
                raise httpcore.ConnectTimeout("the host name took the whole connect timeout to resolve")
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        stream = self._sockets.connect_tcp(address, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream, address)

    def _vetted_address(self, host: str, port: int) -> str:
        try:
            addresses = [str(ipaddress.ip_address(host))]  # a literal, vetted with the URL and again here
        except ValueError:
            try:
                addresses = self.resolver(host, port)
            except (OSError, UnicodeError) as error:
                raise _DnsFailure(str(error)) from None
        if not addresses:
            raise _DnsFailure("no address")
        # Every address must pass: a name that also points inward is refused as a whole.
        for address in addresses:
            vet_address(address, self.allow_loopback)
        return addresses[0]

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class WebhookSender:
    """POSTs to receivers; `post` for one, `post_many` for a batch at once on the sender's threads
    (at most `concurrency` in flight). One per process: its connections and threads are reused."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        total_timeout: float,
        allow_loopback: bool,
        concurrency: int = 25,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.allow_loopback = allow_loopback
        self.concurrency = max(1, concurrency)
        self._backend = _VettingBackend(allow_loopback, resolver or system_resolver)
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(verify),
            max_connections=self.concurrency,
            max_keepalive_connections=self.concurrency,
            keepalive_expiry=KEEPALIVE_SECONDS,
            retries=0,
            network_backend=self._backend,
        )
        self._threads = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="webhook-sender")

    def post_many(self, requests: list[tuple[str, bytes, dict[str, str]]]) -> list[HttpOutcome]:
        """(url, body, headers) each; the outcomes in the same order, once all have finished."""
        outcomes: list[HttpOutcome | None] = [None] * len(requests)
        for wave in self.post_in_waves(requests):
            for index, outcome in wave:
                outcomes[index] = outcome
        finished = [outcome for outcome in outcomes if outcome is not None]
        assert len(finished) == len(requests)
        return finished

    def post_in_waves(
        self, requests: list[tuple[str, bytes, dict[str, str]]], linger: float = 0.1
    ) -> Iterator[list[tuple[int, HttpOutcome]]]:
        """Post all of `requests` at once and yield their outcomes as they finish, (index, outcome)
        in groups: a group is what finished within `linger` seconds of its first outcome, so a
        batch of fast receivers comes back as one group while one that hangs comes later, alone.

        A few threads take the requests in turn; while requests are still waiting, the number of
        threads doubles every GROW_AFTER seconds up to `concurrency`. Receivers that answer within
        milliseconds are served by those few (many threads all runnable at once would spend their
        time handing the interpreter lock to each other); slow ones soon have a thread each."""
        if not requests:
            return
        finished: queue.SimpleQueue[tuple[int, HttpOutcome | BaseException]] = queue.SimpleQueue()
        waiting = deque(enumerate(requests))

        def take_turns() -> None:
            while True:
                try:
                    index, request = waiting.popleft()
                except IndexError:
                    return
                try:
                    finished.put((index, self.post(*request)))
                except BaseException as error:  # an unexpected failure fails the batch, not hangs it
                    finished.put((index, error))
                    return

        most = min(len(requests), self.concurrency)
        workers = [self._threads.submit(take_turns) for _ in range(min(most, FIRST_THREADS))]
        last_growth = time.monotonic()

        def grow() -> None:
            nonlocal last_growth
            if waiting and len(workers) < most and time.monotonic() - last_growth >= GROW_AFTER:
                workers.extend(self._threads.submit(take_turns) for _ in range(min(len(workers), most - len(workers))))
                last_growth = time.monotonic()

        def next_outcome(timeout: float) -> tuple[int, HttpOutcome] | None:
            try:
                index, outcome = finished.get(timeout=max(0.0, min(timeout, GROW_AFTER)))
            except queue.Empty:
                return None
            if isinstance(outcome, BaseException):
                raise outcome
            return index, outcome

        left = len(requests)
        while left:
            grow()
            first = next_outcome(GROW_AFTER)
            if first is None:
                continue
            group, deadline = [first], time.monotonic() + linger
            while len(group) < left and (remaining := deadline - time.monotonic()) > 0:
                grow()
                found = next_outcome(remaining)
                if found is not None:
                    group.append(found)
            left -= len(group)
            yield group

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpOutcome:
        started, started_at = time.monotonic(), time.time()
        _current.deadline = started + self.total_timeout
        _current.address = None

        def outcome(
            status: int | None = None,
            error_class: ErrorClass | None = None,
            error: str | None = None,
            excerpt: str | None = None,
            retry_after: str | None = None,
            address: str | None = None,
            headers: dict[str, str] | None = None,
        ) -> HttpOutcome:
            latency = round((time.monotonic() - started) * 1000, 1)
            address = address or _current.address
            return HttpOutcome(
                status, latency, error_class, error, excerpt, retry_after, address, started_at, time.time(), headers
            )

        try:
            target = vet_url(url, self.allow_loopback)
            path = _request_target(url)
            request = httpcore.Request(
                "POST",
                httpcore.URL(scheme=target.scheme.encode(), host=target.host.encode(), port=target.port, target=path),
                headers=[
                    *((name.encode(), value.encode()) for name, value in headers.items()),
                    (b"Host", _host_header(target).encode()),
                    (b"User-Agent", USER_AGENT.encode()),
                    (b"Content-Type", b"application/json"),
                    (b"Content-Length", str(len(body)).encode()),
                ],
                content=body,
                extensions={
                    "timeout": {
                        "connect": min(self.connect_timeout, self.total_timeout),
                        "read": self.total_timeout,
                        "write": self.total_timeout,
                        "pool": self.total_timeout,
                    }
                },
            )
            response = self._pool.handle_request(request)
            try:
                stream = response.extensions.get("network_stream")
                address = stream.get_extra_info("vetted_address") if stream is not None else None
                excerpt = _excerpt(response)
            finally:
                response.close()
            status = response.status
            answered = response_headers(response.headers)
            if 200 <= status < 300:
                return outcome(status, excerpt=excerpt, address=address, headers=answered)
            reason = f"HTTP {status}"
            if 300 <= status < 400:
                reason += " (redirects are not followed)"
            retry_after = next((v.decode("latin-1") for k, v in response.headers if k.lower() == b"retry-after"), None)
            return outcome(status, ErrorClass.HTTP, reason, excerpt, retry_after, address, answered)
        except UnsafeUrl as unsafe:
            return outcome(error_class=ErrorClass.SSRF, error=f"refused: {unsafe.detail}")
        except _DnsFailure as failure:
            return outcome(error_class=ErrorClass.DNS, error=f"the host name does not resolve ({failure})")
        except (TimeoutError, httpcore.TimeoutException):
            return outcome(error_class=ErrorClass.TIMEOUT, error="the receiver did not answer in time")
        except httpcore.ConnectError as error:
            if _is_tls(error):
                return outcome(error_class=ErrorClass.TLS, error="TLS handshake or certificate check failed")
            return outcome(error_class=ErrorClass.CONNECTION, error="could not connect to the receiver")
        except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as error:
            if _is_tls(error):
                return outcome(error_class=ErrorClass.TLS, error="TLS error")
            return outcome(error_class=ErrorClass.CONNECTION, error=f"connection failed ({type(error).__name__})")

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._pool.close()


def _ssl_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    # Mozilla's roots (certifi), as httpx's default: httpcore's own default loads the system's
    # store as well as certifi's, twice the cost of a cold start's TLS set-up for the same trust.
    context = ssl.create_default_context(cafile=certifi.where())
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _request_target(url: str) -> bytes:
    """Path and query, percent-encoded where they must be, from the same parse that vetted the URL
    (its host and port are taken from that parse too, so no second parser can read another host)."""
    parts = urlsplit(url)
    target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_PATH_SAFE + "?")
    return target.encode("ascii")


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default_port = 443 if target.scheme == "https" else 80
    return host if target.port == default_port else f"{host}:{target.port}"


def _is_tls(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "SSL" in str(error) or "certificate" in str(error).lower()


# What of a receiver's answer headers an attempt keeps: the first MAX_RESPONSE_HEADERS, names
# lower-cased, values cut to MAX_HEADER_VALUE characters; credentials a receiver might send back
# (cookies, auth challenges) are not kept.
MAX_RESPONSE_HEADERS = 20
MAX_HEADER_VALUE = 200
WITHHELD_HEADERS = frozenset(
    {b"set-cookie", b"set-cookie2", b"authorization", b"proxy-authenticate", b"www-authenticate"}
)


def response_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in raw:
        key = name.lower()
        if key in WITHHELD_HEADERS:
            continue
        text = key.decode("latin-1")
        if text not in kept and len(kept) >= MAX_RESPONSE_HEADERS:
            break
        line = value.decode("latin-1")[:MAX_HEADER_VALUE]
        kept[text] = f"{kept[text]}, {line}"[:MAX_HEADER_VALUE] if text in kept else line
    return kept


def _excerpt(response: httpcore.Response) -> str | None:
    collected = bytearray()
    for chunk in response.iter_stream():
        collected.extend(chunk)
        if len(collected) >= RESPONSE_EXCERPT_BYTES:
            break
    if not collected:
        return None
    return bytes(collected[:RESPONSE_EXCERPT_BYTES]).decode("utf-8", errors="replace")


def check_url(url: str, allow_loopback: bool) -> None:
    """Registration-time check: the URL's shape and every address its host resolves to now.
    Raises UnsafeUrl; a host that does not resolve is refused as `unresolvable`."""
    target = vet_url(url, allow_loopback)
    if target.literal is not None:
        return
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl("unresolvable", f"{target.host} does not resolve") from None
    for info in infos:
        vet_address(str(info[4][0]), allow_loopback)
