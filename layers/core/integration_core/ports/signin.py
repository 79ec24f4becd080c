"""The sign-in port: one adapter per identity provider (Google, Microsoft, GitHub).

The service keeps the state, the PKCE verifier and the nonce; an adapter builds the provider's
authorization URL from them (or, like MSAL, makes its own verifier and nonce and says so in
`Started`), exchanges a code for a verified `Identity`, refreshes and revokes provider tokens.
Differences between providers are traits here (`uses_nonce`, `refresh_note`, `revoke_note`),
never a branch in a service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from integration_core.errors import Unauthorized, Unprocessable


@dataclass(frozen=True)
class Authorization:
    state: str
    code_challenge: str  # S256 of the verifier
    code_verifier: str
    nonce: str
    redirect_uri: str


@dataclass(frozen=True)
class Started:
    url: str
    code_verifier: str  # what the exchange must send (the service's, or the adapter's own)
    nonce: str


@dataclass(frozen=True)
class ProviderTokens:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_in: int | None = None  # None: the token does not expire (GitHub OAuth apps)
    scope: str = ""


@dataclass(frozen=True)
class Identity:
    """A verified account at a provider. `email` is only ever a verified one (None otherwise)."""

    provider: str
    external_id: str  # Google `sub`, Microsoft `tid.oid`, GitHub's numeric user id
    email: str | None
    name: str
    picture: str | None
    tokens: ProviderTokens


class IdTokenRefused(Unauthorized):
    """The provider's id_token failed verification (signature, key, algorithm, iss, aud, azp, exp, iat, nonce)."""


class CodeRefused(Unprocessable):
    """The provider refused the code (used, expired, another request's, or a wrong PKCE verifier)."""


class GrantGone(Unprocessable):
    """The provider no longer honours the refresh token (revoked, expired)."""


class SignInProvider(Protocol):
    name: str
    uses_nonce: bool
    refresh_note: str  # what "refresh" means at this provider
    revoke_note: str  # what "revoke" does at this provider

    def start(self, authorization: Authorization) -> Started: ...

    def exchange(self, code: str, started: Started, redirect_uri: str) -> Identity: ...

    def refresh(self, tokens: ProviderTokens) -> ProviderTokens: ...

    def revoke(self, tokens: ProviderTokens) -> None: ...
