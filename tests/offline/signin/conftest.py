"""A provider sandbox serving the sign-in emulators (Google, Microsoft, GitHub) on a free 127.0.0.1
port, for this folder's tests (no stack needed: the emulators are what is under test). State is reset
before each test."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import requests

from offline.http import Server
from offline.sandbox.base import SandboxContext
from offline.sandbox.callbacks import Callbacks
from offline.sandbox.providers.github import GitHub
from offline.sandbox.providers.google import Google
from offline.sandbox.providers.microsoft import Microsoft
from offline.sandbox.server import Sandbox

REDIRECT = "http://127.0.0.1:9/signin/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def verify(token: str, jwks_url: str, audience: str, issuer: str, http: httpx.Client) -> dict[str, Any]:
    """The id_token's claims, verified with PyJWT against the published JWKS (kid, RS256, aud, iss, exp)."""
    keys = jwt.PyJWKSet.from_dict(http.get(jwks_url).json())
    kid = jwt.get_unverified_header(token).get("kid")
    key = next((k for k in keys.keys if k.key_id == kid), None)
    if key is None:
        raise jwt.InvalidKeyError(f"kid {kid!r} is not in the JWKS")
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=issuer)


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    ctx = SandboxContext(Callbacks({}))
    server = Server("signin-sandbox", 0, Sandbox(ctx, [Google, Microsoft, GitHub]))
    ctx.base_url = server.url
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def http(sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        assert client.post(f"{sandbox_url}/_sandbox/reset").status_code == 200
        yield client


class TlsProxySession(requests.Session):
    """What a TLS-terminating proxy in front of the sandbox does, for MSAL (which takes only https
    authorities): https://127.0.0.1:<port>/... goes to http://127.0.0.1:<port>/... with
    X-Forwarded-Proto: https, so the emulator answers https URLs; and Microsoft's own host, which MSAL
    asks for instance metadata whatever its authority, goes to the emulator (<sandbox>/microsoft)."""

    MICROSOFT = "https://login.microsoftonline.com"

    def __init__(self, sandbox_url: str) -> None:
        super().__init__()
        self.plain = sandbox_url
        self.secure = sandbox_url.replace("http://", "https://", 1)
        self.seen: list[str] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if url.startswith(self.MICROSOFT):
            url = f"{self.secure}/microsoft{url[len(self.MICROSOFT) :]}"
        assert url.startswith(self.secure), f"MSAL called outside the sandbox: {url}"
        self.seen.append(f"{method} {url[len(self.secure) :]}")
        headers = dict(kwargs.pop("headers", None) or {})
        headers["X-Forwarded-Proto"] = "https"
        return super().request(method, self.plain + url[len(self.secure) :], *args, headers=headers, **kwargs)
