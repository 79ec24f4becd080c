"""A provider sandbox serving only the Google emulator, on a free 127.0.0.1 port, for this module's
tests (no stack needed: the emulator is what is under test). State is reset before each test."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from offline.http import Server
from offline.sandbox.base import SandboxContext
from offline.sandbox.callbacks import Callbacks
from offline.sandbox.providers.google import Google
from offline.sandbox.providers.google_oauth import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET
from offline.sandbox.server import Sandbox

REDIRECT = "http://127.0.0.1:9/google/callback"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.events"
SCOPES = f"openid email {CALENDAR_SCOPE} https://www.googleapis.com/auth/calendar.app.created"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class GoogleSandbox:
    url: str
    http: httpx.Client

    @property
    def api(self) -> str:
        return f"{self.url}/google/calendar/v3"

    def authorize(self, scope: str = SCOPES, **extra: str) -> httpx.Response:
        params = {
            "client_id": LOCAL_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": scope,
            "access_type": "offline",
            **extra,
        }
        return self.http.get(f"{self.url}/google/o/oauth2/v2/auth", params=params)

    def consent(self, state: str, email: str, decision: str = "allow") -> dict[str, Any]:
        answer = self.http.post(
            f"{self.url}/_sandbox/google/consent", json={"state": state, "email": email, "decision": decision}
        )
        assert answer.status_code == 200, answer.text
        redirect = answer.json()["redirect"]
        assert redirect.startswith(REDIRECT)
        return {k: v[0] for k, v in parse_qs(urlsplit(redirect).query).items()}

    def exchange(self, code: str, verifier: str | None, **extra: str) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": LOCAL_CLIENT_ID,
            "client_secret": LOCAL_CLIENT_SECRET,
            "redirect_uri": REDIRECT,
            **({"code_verifier": verifier} if verifier is not None else {}),
            **extra,
        }
        return self.http.post(f"{self.url}/google/token", data=form)

    def refresh(self, refresh_token: str) -> httpx.Response:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": LOCAL_CLIENT_ID,
            "client_secret": LOCAL_CLIENT_SECRET,
        }
        return self.http.post(f"{self.url}/google/token", data=form)

    def connect(self, email: str, scope: str = SCOPES, **extra: str) -> dict[str, Any]:
        """The whole web-server flow as the service and the user go through it: the token answer."""
        verifier, challenge = pkce()
        state = secrets.token_urlsafe(8)
        page = self.authorize(scope, state=state, code_challenge=challenge, code_challenge_method="S256", **extra)
        assert page.status_code == 200, page.text
        query = self.consent(state, email)
        answer = self.exchange(query["code"], verifier)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def bearer(self, email: str, scope: str = SCOPES) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.connect(email, scope)['access_token']}"}


@pytest.fixture(scope="module")
def google_server() -> Iterator[str]:
    ctx = SandboxContext(Callbacks({}))
    server = Server("google-sandbox", 0, Sandbox(ctx, [Google]))
    ctx.base_url = server.url
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def google(google_server: str) -> Iterator[GoogleSandbox]:
    with httpx.Client(timeout=30) as client:
        assert client.post(f"{google_server}/_sandbox/reset").status_code == 200
        yield GoogleSandbox(google_server, client)
