"""A sign-in as a browser makes it, against a running local stack and its provider sandbox: start
at the API, open the provider's authorization page (so the emulator holds the request), pick an
account and consent through the emulator's control endpoint, and bring the code back to the
callback. The e2e sign-in tests and benchmarks/signin.py share it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

REDIRECT = "http://127.0.0.1:9/signin/callback"
RETURN_TO = "http://127.0.0.1:9/signed-in"
PROVIDERS = ("google", "microsoft", "github")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class SignInFlow:
    api: str
    sandbox: str

    def call(self, method: str, path: str, body: Any = None, token: str | None = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, self.api + path, json=body, params=params, headers=headers, timeout=60)

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.sandbox}/_sandbox{path}", json=body, timeout=30)

    def add_account(self, provider: str, who: str, *, verified: bool = True, name: str = "Ana Lima") -> None:
        if provider == "google":
            body: dict[str, Any] = {"email": who, "emailVerified": verified, "name": name}
        elif provider == "microsoft":
            body = {"email": who, "name": name}
        else:
            login = who.split("@")[0]
            body = {"login": login, "name": name, "emails": [{"email": who, "primary": True, "verified": verified}]}
        answer = self.control("POST", f"/{provider}/accounts", body)
        assert answer.status_code in (200, 201), answer.text

    def open_provider_page(self, url: str) -> None:
        """What the browser does with the 302: the emulator now holds the authorization request."""
        plain = url.replace("https://", "http://", 1)
        page = httpx.get(plain, headers={"X-Forwarded-Proto": "https"}, timeout=30)
        assert page.status_code == 200, page.text

    def consent(self, provider: str, state: str, who: str | None, decision: str = "allow") -> dict[str, str]:
        body: dict[str, Any] = {"state": state, "decision": decision}
        if who:
            body["login" if provider == "github" else "email"] = who.split("@")[0] if provider == "github" else who
        answer = self.control("POST", f"/{provider}/consent", body)
        assert answer.status_code == 200, answer.text
        redirect = answer.json()["redirect"]
        assert redirect.startswith(REDIRECT), redirect
        return query_of(redirect)

    def start(self, provider: str, **params: Any) -> httpx.Response:
        return self.call("GET", f"/oauth/{provider}/authorize", redirectUri=REDIRECT, **params)

    def authorize(self, provider: str, who: str | None, decision: str = "allow", **params: Any) -> dict[str, str]:
        """Start, open the page, consent: what the provider sends back to the redirect URI."""
        started = self.start(provider, **params)
        assert started.status_code == 302, started.text
        location = started.headers["location"]
        state = query_of(location)["state"]
        self.open_provider_page(location)
        back = self.consent(provider, state, who, decision)
        assert back["state"] == state
        return back

    def authenticate(
        self, provider: str, back: dict[str, str], token: str | None = None, **extra: Any
    ) -> httpx.Response:
        body = {"provider": provider, "redirectUri": REDIRECT, "state": back["state"], **extra}
        if "code" in back:
            body["code"] = back["code"]
        if "error" in back:
            body["error"] = back["error"]
        return self.call("POST", "/oauth/authenticate", body, token=token)

    def sign_in(self, provider: str, who: str | None) -> dict[str, Any]:
        answer = self.authenticate(provider, self.authorize(provider, who))
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body
