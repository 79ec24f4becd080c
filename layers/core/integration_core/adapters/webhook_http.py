"""Outbound webhook HTTP: POST to receivers with the SSRF rules enforced at connection time.

The host is resolved here, every address it resolves to is vetted (integration_core.domain.ssrf),
and the connection goes to that vetted address while the request keeps the receiver's Host header
and TLS SNI (certificates are checked against the host name). A DNS answer that changes after the
check therefore cannot redirect a delivery to an internal address. Proxies from the environment are
ignored for the same reason. Redirects are never followed; only 2xx is a success.

One connection pool per (host, port, address), so a TLS session made for one host name is never
reused for another that happens to share the address."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from integration_core.domain.ssrf import Target, UnsafeUrl, vet_address, vet_url
from integration_core.domain.webhooks import RESPONSE_EXCERPT_BYTES, ErrorClass

Resolver = Callable[[str, int], Awaitable[list[str]]]
USER_AGENT = "school-integration-webhooks/1.0"
MAX_POOLS = 256


@dataclass(frozen=True)
class HttpOutcome:
    status_code: int | None
    latency_ms: float
    error_class: ErrorClass | None
    error: str | None
    body_excerpt: str | None
    retry_after: str | None
    address: str | None  # the address actually connected to

    @property
    def success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class WebhookSender:
    def __init__(
        self,
        *,
        connect_timeout: float,
        total_timeout: float,
        allow_loopback: bool,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.allow_loopback = allow_loopback
        self.resolver = resolver or system_resolver
        self.verify = verify
        self._clients: dict[tuple[str, str, int, str], httpx.AsyncClient] = {}

    def _client(self, target: Target, address: str) -> httpx.AsyncClient:
        key = (target.scheme, target.host, target.port, address)
        client = self._clients.get(key)
        if client is None:
            if len(self._clients) >= MAX_POOLS:
                # Drop the oldest pool; its connections close when it is collected.
                self._clients.pop(next(iter(self._clients)))
            client = httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                verify=self.verify,
                timeout=httpx.Timeout(self.total_timeout, connect=self.connect_timeout),
                limits=httpx.Limits(max_connections=20, max_keepalive_connections=20),
                headers={"User-Agent": USER_AGENT},
            )
            self._clients[key] = client
        return client

    async def _vetted_address(self, target: Target) -> str:
        if target.literal is not None:
            return str(target.literal)
        try:
            addresses = await self.resolver(target.host, target.port)
        except (OSError, UnicodeError) as error:
            raise _DnsFailure(str(error)) from None
        if not addresses:
            raise _DnsFailure("no address")
        # Every address must pass: a name that also points inward is refused as a whole.
        for address in addresses:
            vet_address(address, self.allow_loopback)
        return addresses[0]

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpOutcome:
        started = time.perf_counter()
        address: str | None = None

        def outcome(status=None, error_class=None, error=None, excerpt=None, retry_after=None) -> HttpOutcome:
            latency = round((time.perf_counter() - started) * 1000, 1)
            return HttpOutcome(status, latency, error_class, error, excerpt, retry_after, address)

        try:
            target = vet_url(url, self.allow_loopback)
            address = await self._vetted_address(target)
            request_url = httpx.URL(url).copy_with(host=address)
            default_port = 443 if target.scheme == "https" else 80
            host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
            if ":" in target.host:
                host_header = f"[{target.host}]" if target.port == default_port else f"[{target.host}]:{target.port}"
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            client = self._client(target, address)
            request = client.build_request(
                "POST",
                request_url,
                content=body,
                headers={**headers, "Host": host_header, "Content-Type": "application/json"},
                extensions=extensions,
            )
            async with asyncio.timeout(self.total_timeout):
                response = await client.send(request, stream=True)
                try:
                    excerpt = await _excerpt(response)
                finally:
                    await response.aclose()
            status = response.status_code
            if 200 <= status < 300:
                return outcome(status, excerpt=excerpt)
            reason = f"HTTP {status}"
            if 300 <= status < 400:
                reason += " (redirects are not followed)"
            return outcome(status, ErrorClass.HTTP, reason, excerpt, response.headers.get("retry-after"))
        except UnsafeUrl as unsafe:
            return outcome(error_class=ErrorClass.SSRF, error=f"refused: {unsafe.detail}")
        except _DnsFailure as failure:
            return outcome(error_class=ErrorClass.DNS, error=f"the host name does not resolve ({failure})")
        except (TimeoutError, httpx.TimeoutException):
            return outcome(error_class=ErrorClass.TIMEOUT, error="the receiver did not answer in time")
        except httpx.ConnectError as error:
            if _is_tls(error):
                return outcome(error_class=ErrorClass.TLS, error="TLS handshake or certificate check failed")
            return outcome(error_class=ErrorClass.CONNECTION, error="could not connect to the receiver")
        except (httpx.TransportError, OSError) as error:
            if _is_tls(error):
                return outcome(error_class=ErrorClass.TLS, error="TLS error")
            return outcome(error_class=ErrorClass.CONNECTION, error=f"connection failed ({type(error).__name__})")

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


class _DnsFailure(Exception):
    pass


def _is_tls(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "SSL" in str(error) or "certificate" in str(error).lower()


async def _excerpt(response: httpx.Response) -> str | None:
    collected = bytearray()
    async for chunk in response.aiter_raw():
        collected.extend(chunk)
        if len(collected) >= RESPONSE_EXCERPT_BYTES:
            break
    if not collected:
        return None
    return bytes(collected[:RESPONSE_EXCERPT_BYTES]).decode("utf-8", errors="replace")


class EventLoop:
    """One event loop per process, so connection pools survive between Lambda invocations."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()

    def run(self, coroutine: Awaitable):
        return self._loop.run_until_complete(coroutine)


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
