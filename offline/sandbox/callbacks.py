"""Outbound calls from the sandbox to the service: provider webhooks and notifications, sent to
the local Function URLs and signed the way the provider signs them (the emulator supplies the
signer, since every provider signs differently; `hmac_sha256_hex` covers the common case).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx

log = logging.getLogger("offline.sandbox")

Signer = Callable[[bytes], dict[str, str]]  # raw body -> headers to add


def hmac_sha256_hex(secret: str | bytes, message: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(key, data, hashlib.sha256).hexdigest()


@dataclass
class CallbackResult:
    provider: str
    url: str
    status: int  # 0 when the service could not be reached
    duration_ms: float
    request_headers: dict[str, str]
    request_body: str
    response_body: str
    response_content_type: str = ""


class Callbacks:
    """Sends and records outbound provider calls."""

    def __init__(self, function_urls: dict[str, str]) -> None:
        self.function_urls = function_urls  # function logical id -> its local Function URL
        self.sent: deque[CallbackResult] = deque(maxlen=500)
        self._lock = threading.Lock()

    def url_of(self, function: str, path: str = "/") -> str:
        """The local Function URL of a template function (by logical id), plus a path."""
        if function not in self.function_urls:
            raise KeyError(f"{function} has no Function URL in the template (known: {sorted(self.function_urls)})")
        return self.function_urls[function].rstrip("/") + path

    def send(
        self,
        provider: str,
        target: str,
        payload: bytes | dict[str, Any],
        headers: dict[str, str] | None = None,
        sign: Signer | None = None,
        timeout: float = 10.0,
    ) -> CallbackResult:
        """POST `payload` to `target` (a URL, or a function logical id), signed by `sign`."""
        url = target if target.startswith("http") else self.url_of(target)
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        all_headers = {"Content-Type": "application/json", "User-Agent": f"{provider}-sandbox", **(headers or {})}
        if sign is not None:
            all_headers.update(sign(body))
        started = time.perf_counter()
        try:
            response = httpx.post(url, content=body, headers=all_headers, timeout=timeout)
            status, text = response.status_code, response.text[:2000]
            content_type = response.headers.get("content-type", "")
        except httpx.HTTPError as exc:
            status, text, content_type = 0, f"{type(exc).__name__}: {exc}", ""
        result = CallbackResult(
            provider,
            url,
            status,
            (time.perf_counter() - started) * 1000,
            all_headers,
            body.decode(errors="replace")[:2000],
            text,
            content_type,
        )
        with self._lock:
            self.sent.append(result)
        log.info("callback %s -> %s: %s (%.0f ms)", provider, url, status or "unreachable", result.duration_ms)
        return result

    def history(self, provider: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self.sent if provider in (None, r.provider)]
