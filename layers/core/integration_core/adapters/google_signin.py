"""Sign in with Google (OpenID Connect, authorization code with PKCE S256, state and nonce) over
httpx (ProviderHttp). The id_token is verified against Google's JWKS (adapters/oidc): iss, aud,
azp, exp, iat, nonce; the email is used only when `email_verified` is true. The account is Google's
`sub`, never the email.

Client and endpoints come from one JSON secret (GoogleSignInSecret, read by adapters/google_client)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import httpx

from integration_core.adapters import oidc
from integration_core.adapters.google_client import GoogleClient, from_secret
from integration_core.adapters.provider_http import ProviderHttp
from integration_core.errors import ProviderRejected
from integration_core.observability import logger
from integration_core.ports.signin import (
    Authorization,
    CodeRefused,
    GrantGone,
    Identity,
    IdTokenRefused,
    ProviderTokens,
    Started,
)
from integration_core.signin_config import signin_settings

SCOPES = "openid email profile"


def client() -> GoogleClient:
    return from_secret(signin_settings().secret_names["google"])


@lru_cache(maxsize=2)
def http(timeout: float) -> ProviderHttp:
    return ProviderHttp("google-signin", title="Google", timeout=timeout)


def _http() -> ProviderHttp:
    return http(signin_settings().timeout_seconds)


def _error(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _fetch_jwks(url: str) -> dict[str, Any]:
    answer = _http().send("GET", url, what="jwks")
    if answer.status_code != 200:
        raise ProviderRejected(f"Google did not publish its keys ({answer.status_code})")
    body: dict[str, Any] = answer.json()
    return body


def _tokens(body: dict[str, Any]) -> ProviderTokens:
    return ProviderTokens(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token") or None,
        expires_in=int(body.get("expires_in", 3599)),
        scope=body.get("scope", ""),
    )


class GoogleSignIn:
    name = "google"
    uses_nonce = True
    refresh_note = "a new Google access token from the stored refresh token"
    revoke_note = "the grant revoked at Google's revoke endpoint, the stored tokens deleted"

    def start(self, authorization: Authorization) -> Started:
        google = client()
        query = {
            "client_id": google.client_id,
            "redirect_uri": authorization.redirect_uri,
            "response_type": "code",
            "scope": SCOPES,
            "access_type": "offline",
            "state": authorization.state,
            "nonce": authorization.nonce,
            "code_challenge": authorization.code_challenge,
            "code_challenge_method": "S256",
        }
        return Started(f"{google.auth_url}?{urlencode(query)}", authorization.code_verifier, authorization.nonce)

    def exchange(self, code: str, started: Started, redirect_uri: str) -> Identity:
        google = client()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": started.code_verifier,
            "redirect_uri": redirect_uri,
            "client_id": google.client_id,
            "client_secret": google.client_secret,
        }
        answer = _http().send("POST", google.token_url, what="token exchange", data=form)
        if answer.status_code != 200:
            error = _error(answer)
            if error in ("invalid_grant", "invalid_request", "redirect_uri_mismatch"):
                raise CodeRefused("code: Google refused the code (used, expired, or a wrong PKCE verifier)")
            logger.error("google token exchange refused", extra={"status": answer.status_code, "error": error})
            raise ProviderRejected("Google refused our OAuth client; the operator must fix the configuration")
        body = answer.json()
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise IdTokenRefused("Google answered no id_token")
        claims = oidc.verify(
            id_token,
            jwks_url=google.jwks_url,
            fetch=_fetch_jwks,
            client_id=google.client_id,
            issuer=google.issuer,
            nonce=started.nonce,
        )
        verified = claims.get("email_verified") is True
        email = str(claims["email"]).lower() if verified and claims.get("email") else None
        return Identity(
            provider=self.name,
            external_id=str(claims["sub"]),
            email=email,
            name=str(claims.get("name") or claims.get("email") or "Google user"),
            picture=claims.get("picture"),
            tokens=_tokens(body),
        )

    def refresh(self, tokens: ProviderTokens) -> ProviderTokens:
        if not tokens.refresh_token:
            raise GrantGone("Google gave no refresh token for this account; sign in with Google again")
        google = client()
        form = {
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "client_id": google.client_id,
            "client_secret": google.client_secret,
        }
        answer = _http().send("POST", google.token_url, what="token refresh", data=form)
        if answer.status_code != 200:
            if _error(answer) == "invalid_grant":
                raise GrantGone("Google no longer honours this grant; sign in with Google again")
            raise ProviderRejected(f"Google refused the refresh ({answer.status_code})")
        fresh = _tokens(answer.json())
        return ProviderTokens(
            fresh.access_token, fresh.refresh_token or tokens.refresh_token, fresh.expires_in, fresh.scope
        )

    def revoke(self, tokens: ProviderTokens) -> None:
        token = tokens.refresh_token or tokens.access_token
        answer = _http().send("POST", client().revoke_url, what="revoke", data={"token": token})
        if answer.status_code not in (200, 400):  # 400: revoked already
            raise ProviderRejected(f"Google did not revoke the grant ({answer.status_code})")


ADAPTER = GoogleSignIn()
