"""Google's OAuth 2.0 web-server flow over httpx (ProviderHttp): the authorization URL (offline
access, PKCE S256, state), the code exchange, refresh, revoke and the account's email (userinfo).

Client and endpoints come from one JSON secret (GoogleOAuthSecret, read by adapters/google_client). `invalid_grant` on a
refresh is `GrantInvalid` (never retried: the grant is gone); 429 and 5xx are retried by ProviderHttp.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import httpx

from integration_core.adapters.google_client import GoogleClient, from_secret
from integration_core.adapters.provider_http import ProviderHttp
from integration_core.calendar_config import calendar_settings
from integration_core.errors import ProviderRejected
from integration_core.observability import logger
from integration_core.ports.calendar import AccessExpired, Authorization, CodeRefused, GrantInvalid, TokenGrant

DEFAULT_REDIRECT_URI = "https://app.school.example/google-calendar/callback"
# Calendars the app creates (the "Classes" calendar) and their events, nothing of the user's own
# calendars; openid + email to learn which Google account was connected.
SCOPES = ("openid", "email", "https://www.googleapis.com/auth/calendar.app.created")


def client() -> GoogleClient:
    return from_secret(calendar_settings().google_secret_name, DEFAULT_REDIRECT_URI)


def _reasons(answer: httpx.Response) -> set[str]:
    """Google's error reasons: {"error": {"errors": [{"reason"}], "status"}} (APIs) or "error" (OAuth)."""
    try:
        body = answer.json()
    except ValueError:
        return set()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return {error}
    if not isinstance(error, dict):
        return set()
    found = {e.get("reason", "") for e in error.get("errors") or [] if isinstance(e, dict)}
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("reason"):
            found.add(detail["reason"])
    return found - {""}


RATE_LIMITS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
QUOTAS = frozenset({"quotaExceeded", "dailyLimitExceeded"})


def is_rate_limited(answer: httpx.Response) -> bool:
    """Google's 403 for a passing per-user or per-project rate limit: back off and retry."""
    return answer.status_code == 403 and bool(_reasons(answer) & RATE_LIMITS)


def is_quota(answer: httpx.Response) -> bool:
    return answer.status_code == 403 and bool(_reasons(answer) & QUOTAS)


@lru_cache(maxsize=2)
def http(timeout: float) -> ProviderHttp:
    return ProviderHttp("google", title="Google", timeout=timeout, quota=is_quota, throttled=is_rate_limited)


def _http() -> ProviderHttp:
    return http(calendar_settings().timeout_seconds)


def authorization_url(google: GoogleClient, authorization: Authorization) -> str:
    query = {
        "client_id": google.client_id,
        "redirect_uri": authorization.redirect_uri,
        "response_type": "code",
        "scope": " ".join(SCOPES),
        "access_type": "offline",  # a refresh token, so syncs run without the user
        "include_granted_scopes": "true",
        "prompt": "consent",  # a refresh token on every connection, also a second one
        "state": authorization.state,
        "code_challenge": authorization.code_challenge,
        "code_challenge_method": "S256",
    }
    if authorization.login_hint:
        query["login_hint"] = authorization.login_hint
    return f"{google.auth_url}?{urlencode(query)}"


def _grant(answer: httpx.Response) -> TokenGrant:
    body = answer.json()
    return TokenGrant(
        access_token=body["access_token"],
        expires_in=int(body.get("expires_in", 3599)),
        refresh_token=body.get("refresh_token") or None,
        scope=body.get("scope", ""),
    )


def exchange_code(google: GoogleClient, code: str, code_verifier: str, redirect_uri: str) -> TokenGrant:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": code_verifier,
        "redirect_uri": redirect_uri,
        "client_id": google.client_id,
        "client_secret": google.client_secret,
    }
    answer = _http().send("POST", google.token_url, what="token exchange", data=form)
    if answer.status_code == 200:
        return _grant(answer)
    reasons = _reasons(answer)
    if reasons & {"invalid_grant", "invalid_request", "redirect_uri_mismatch"}:
        raise CodeRefused("Google refused the authorization code (used, expired or not this request's); connect again")
    logger.error("google token exchange refused", extra={"status": answer.status_code, "reasons": sorted(reasons)})
    raise ProviderRejected("Google refused our OAuth client; the operator must fix the configuration")


def refresh(google: GoogleClient, refresh_token: str) -> TokenGrant:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": google.client_id,
        "client_secret": google.client_secret,
    }
    answer = _http().send("POST", google.token_url, what="token refresh", data=form)
    if answer.status_code == 200:
        return _grant(answer)
    reasons = _reasons(answer)
    if "invalid_grant" in reasons:
        raise GrantInvalid("invalid_grant: the Google grant was revoked or has expired")
    logger.error("google token refresh refused", extra={"status": answer.status_code, "reasons": sorted(reasons)})
    raise ProviderRejected("Google refused our OAuth client; the operator must fix the configuration")


def revoke(google: GoogleClient, token: str) -> None:
    answer = _http().send("POST", google.revoke_url, what="revoke", data={"token": token})
    # 400 invalid_token: revoked already (the user removed the app), which is what we want.
    if answer.status_code not in (200, 400):
        raise ProviderRejected(f"Google did not revoke the grant ({answer.status_code})")


def account_email(google: GoogleClient, access_token: str) -> str:
    answer = _http().send(
        "GET", google.userinfo_url, what="userinfo", headers={"Authorization": f"Bearer {access_token}"}
    )
    if answer.status_code == 401:
        raise AccessExpired()
    if answer.status_code != 200:
        raise ProviderRejected(f"Google did not tell the account's email ({answer.status_code})")
    body: dict[str, Any] = answer.json()
    return str(body.get("email", "")).lower()
