from __future__ import annotations

from dataclasses import dataclass

import pytest

from integration_core.services.signin import deps
from tests.unit.signin.fakes import FakeAccount, FakeCipher, FakeProvider, FakeStore

REDIRECT = "https://app.school.example/signin/callback"
RETURN_TO = "https://app.school.example/"


@dataclass
class World:
    store: FakeStore
    providers: dict[str, FakeProvider]
    clock: list[float]

    def account(self, provider: str, external_id: str, email: str | None) -> None:
        self.providers[provider].accounts[external_id] = FakeAccount(external_id, email)

    def advance(self, seconds: float) -> None:
        self.clock[0] += seconds


@pytest.fixture
def world(monkeypatch) -> World:
    store = FakeStore()
    providers = {name: FakeProvider(name, uses_nonce=name != "github") for name in ("google", "microsoft", "github")}
    clock = [1_800_000_000.0]
    monkeypatch.setattr(deps, "store", lambda: store)
    monkeypatch.setattr(deps, "provider", lambda name: providers[name])
    monkeypatch.setattr(deps, "cipher", lambda: FakeCipher())
    monkeypatch.setattr(deps, "access_token", lambda sub, role: f"access:{role}:{sub}")
    monkeypatch.setattr(deps, "now", lambda: clock[0])
    # the fake access token above, brought back as "Bearer access:<role>:<sub>"
    monkeypatch.setattr(deps, "bearer_subject", lambda header: header.rsplit(":", 1)[-1] if header else None)
    monkeypatch.setenv("SIGNIN_REDIRECT_URIS", REDIRECT)
    monkeypatch.setenv("SIGNIN_RETURN_TO", RETURN_TO)
    monkeypatch.setenv("SIGNIN_CLIENT_ATTEMPTS", "1000")
    monkeypatch.setenv("SIGNIN_ACCOUNT_ATTEMPTS", "1000")
    return World(store, providers, clock)
