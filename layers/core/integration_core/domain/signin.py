"""The request and response models of /oauth (sign-in). No model carries a provider token."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from integration_core.models import ApiModel, RequestModel

Provider = Literal["google", "microsoft", "github"]
PROVIDER_PATTERN = r"^(google|microsoft|github)$"
URI = Field(min_length=1, max_length=2048)


class SignInCallback(RequestModel):
    """The callback's fields (the original's code, provider and redirectUri, plus the state); a
    provider's refusal comes as `error` (e.g. access_denied) instead of a code."""

    provider: Provider
    redirect_uri: str = URI
    state: str = Field(min_length=16, max_length=256)
    code: str | None = Field(default=None, min_length=1, max_length=4096)
    error: str | None = Field(default=None, max_length=256)


class SignInLinkStart(RequestModel):
    redirect_uri: str = URI
    return_to: str | None = Field(default=None, min_length=1, max_length=2048)


class SignInRefresh(RequestModel):
    refresh_token: str = Field(min_length=20, max_length=256)


class SignInStarted(ApiModel):
    authorization_url: str
    state: str
    expires_at: str


class SignInSession(ApiModel):
    user_id: str
    role: str
    access_token: str = Field(description="This service's ES256 access token, never the provider's")
    token_type: str
    expires_in: int
    refresh_token: str = Field(description="Opaque; rotated on every use; reuse revokes the session")


class SignedIn(SignInSession):
    external_id: str
    provider: Provider
    email: str | None = Field(description="A verified email only")
    name: str
    picture: str | None
    is_new_user: bool
    created_at: str
    linked: bool = False
    return_to: str | None = None


class LinkedAccount(ApiModel):
    provider: Provider
    external_id: str
    email: str | None
    linked_at: str
    last_used_at: str | None
    has_provider_token: bool


class LinkedAccounts(ApiModel):
    user_id: str
    accounts: list[LinkedAccount]


class ProviderTokenRefreshed(ApiModel):
    provider: Provider
    refreshed: bool
    access_expires_at: int | None
    note: str


class ProviderRevoked(ApiModel):
    provider: Provider
    revoked: bool
    note: str
