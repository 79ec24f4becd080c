"""Settings of the sign-in capability, read from the environment the template sets (the three
providers' secrets, `UserTokenKey`, the `SignIn*` parameters)."""

from __future__ import annotations

import os
from dataclasses import dataclass

PROVIDERS = ("google", "microsoft", "github")
NEW_ACCOUNT_ROLES = ("student", "teacher")


@dataclass(frozen=True)
class SignInSettings:
    secret_names: dict[str, str]  # provider -> Secrets Manager secret name of its OAuth client
    token_key_id: str  # UserTokenKey: provider tokens are KMS-encrypted under it
    redirect_uris: tuple[str, ...]  # exact-match allow-list of the redirect URIs a client may name
    return_to: tuple[str, ...]  # exact-match allow-list of where a browser goes once signed in
    new_account_role: str  # the directory kind of a first sign-in: never the provider's say
    access_ttl_seconds: int  # the service's access token
    refresh_ttl_seconds: int  # a refresh-token family lives this long from its sign-in
    state_ttl_seconds: int  # a pending authorization (state, PKCE verifier, nonce)
    client_attempts: int  # sign-in attempts per client (source IP) per window
    account_attempts: int  # sign-in attempts per external account per window
    rate_window_seconds: int
    timeout_seconds: float  # one provider call


def _list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def signin_settings() -> SignInSettings:
    # Read on every call (a handful of lookups): a test may point a warm process at other values.
    env = os.environ
    role = env.get("SIGNIN_NEW_ACCOUNT_ROLE", "student")
    if role not in NEW_ACCOUNT_ROLES:
        raise ValueError(f"SignInNewAccountRole is one of {NEW_ACCOUNT_ROLES}, not {role!r}")
    return SignInSettings(
        secret_names={
            "google": env.get("GOOGLE_SIGNIN_SECRET_NAME", ""),
            "microsoft": env.get("MICROSOFT_SIGNIN_SECRET_NAME", ""),
            "github": env.get("GITHUB_SIGNIN_SECRET_NAME", ""),
        },
        token_key_id=env.get("USER_TOKEN_KEY_ID", ""),
        redirect_uris=_list(env.get("SIGNIN_REDIRECT_URIS", "")),
        return_to=_list(env.get("SIGNIN_RETURN_TO", "")),
        new_account_role=role,
        access_ttl_seconds=int(env.get("SIGNIN_ACCESS_TTL_SECONDS", "900")),
        refresh_ttl_seconds=int(env.get("SIGNIN_REFRESH_TTL_SECONDS", str(30 * 86400))),
        state_ttl_seconds=int(env.get("SIGNIN_STATE_TTL_SECONDS", "600")),
        client_attempts=int(env.get("SIGNIN_CLIENT_ATTEMPTS", "30")),
        account_attempts=int(env.get("SIGNIN_ACCOUNT_ATTEMPTS", "10")),
        rate_window_seconds=int(env.get("SIGNIN_RATE_WINDOW_SECONDS", "300")),
        timeout_seconds=float(env.get("PROVIDER_TIMEOUT_SECONDS", "5")),
    )
