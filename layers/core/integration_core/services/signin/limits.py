"""Sign-in rate limits: attempts per client (its source address) and per external account, each
counted in a fixed window (SignInClientAttempts, SignInAccountAttempts, SignInRateWindowSeconds).
The keys are hashed before they are stored; an attempt over a limit is a 429 with the seconds
left in the window as its retry hint (never a 500, never stored anything else)."""

from __future__ import annotations

import hashlib

from integration_core.errors import TooManyRequests
from integration_core.services.signin import deps
from integration_core.signin_config import signin_settings


def _check(scope: str, key: str, limit: int) -> None:
    settings = signin_settings()
    window_length = settings.rate_window_seconds
    now = int(deps.now())
    window = now // window_length
    digest = hashlib.sha256(key.encode()).hexdigest()
    expires = (window + 1) * window_length + 60
    if not deps.store().count_attempt(scope, digest, window, limit, expires):
        raise TooManyRequests(
            f"too many sign-in attempts from this {scope}; try again later",
            retry_after=(window + 1) * window_length - now,
        )


def per_client(client: str) -> None:
    _check("client", client or "unknown", signin_settings().client_attempts)


def per_account(provider: str, external_id: str) -> None:
    _check("account", f"{provider}:{external_id}", signin_settings().account_attempts)
