"""A Google OAuth client and Google's endpoints, read from one JSON secret: {"clientId",
"clientSecret", "redirectUri"?, "authUrl"?, "tokenUrl"?, "revokeUrl"?, "userinfoUrl"?, "issuer"?,
"jwksUrl"?, "calendarBaseUrl"?}. The URLs default to Google's and point at the provider sandbox in
the local stack. The calendar connection (GoogleOAuthSecret) and sign-in (GoogleSignInSecret) are
two OAuth clients with secrets of their own; both read them here."""

from __future__ import annotations

from dataclasses import dataclass, field

from integration_core.adapters.secrets import secret_json

AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
REVOKE_URL = "https://oauth2.googleapis.com/revoke"
USERINFO_URL = "https://www.googleapis.com/oauth2/v3/userinfo"
ISSUER = "https://accounts.google.com"
JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"
CALENDAR_BASE_URL = "https://www.googleapis.com/calendar/v3"


@dataclass(frozen=True)
class GoogleClient:
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str = ""
    auth_url: str = AUTH_URL
    token_url: str = TOKEN_URL
    revoke_url: str = REVOKE_URL
    userinfo_url: str = USERINFO_URL
    issuer: str = ISSUER
    jwks_url: str = JWKS_URL
    calendar_base_url: str = CALENDAR_BASE_URL


def from_secret(name: str, default_redirect_uri: str = "") -> GoogleClient:
    secret = secret_json(name)
    return GoogleClient(
        client_id=secret["clientId"],
        client_secret=secret["clientSecret"],
        redirect_uri=secret.get("redirectUri") or default_redirect_uri,
        auth_url=secret.get("authUrl") or AUTH_URL,
        token_url=secret.get("tokenUrl") or TOKEN_URL,
        revoke_url=secret.get("revokeUrl") or REVOKE_URL,
        userinfo_url=secret.get("userinfoUrl") or USERINFO_URL,
        issuer=secret.get("issuer") or ISSUER,
        jwks_url=secret.get("jwksUrl") or JWKS_URL,
        calendar_base_url=(secret.get("calendarBaseUrl") or CALENDAR_BASE_URL).rstrip("/"),
    )
