"""The sign-in services' seams: the one place they reach their store, the providers, the token
cipher, the service's access tokens and the clock. Unit tests replace these functions with fakes."""

from __future__ import annotations

import time
from importlib import import_module

from integration_core import tokens
from integration_core.adapters import kms
from integration_core.adapters.secrets import secret_text
from integration_core.config import settings
from integration_core.errors import NotFound, Unauthorized
from integration_core.ports.signin import SignInProvider
from integration_core.signin_config import PROVIDERS, signin_settings
from integration_core.stores.signin import SignInStore
from integration_core.stores.signin import store as signin_store

# provider -> adapter module (loaded on first use: a cold start imports only the one it needs)
ADAPTERS = {
    "google": "integration_core.adapters.google_signin",
    "microsoft": "integration_core.adapters.microsoft_signin",
    "github": "integration_core.adapters.github_signin",
}
assert set(ADAPTERS) == set(PROVIDERS)


def store() -> SignInStore:
    return signin_store()


def provider(name: str) -> SignInProvider:
    module = ADAPTERS.get(name)
    if module is None:
        raise NotFound(f"no sign-in provider {name!r}: one of {', '.join(PROVIDERS)}")
    adapter: SignInProvider = import_module(module).ADAPTER
    return adapter


class KmsCipher:
    """Provider tokens encrypted under UserTokenKey with the person and purpose as encryption context."""

    def encrypt(self, user_id: str, purpose: str, plaintext: str) -> str:
        return kms.encrypt(signin_settings().token_key_id, plaintext, kms.context(user_id, purpose))

    def decrypt(self, user_id: str, purpose: str, ciphertext: str) -> str:
        return kms.decrypt(signin_settings().token_key_id, ciphertext, kms.context(user_id, purpose))


def cipher() -> KmsCipher:
    return KmsCipher()


def access_token(sub: str, role: str) -> str:
    config = settings()
    return tokens.issue_token(
        sub,
        role,
        secret_text(config.signing_key_secret_name),
        config.token_issuer,
        config.token_audience,
        ttl_seconds=signin_settings().access_ttl_seconds,
    )


def bearer_subject(authorization: str | None) -> str | None:
    """The sub of the service's access token in an Authorization header, None without one; a
    header with a token that does not verify is refused, never ignored."""
    if not authorization:
        return None
    config = settings()
    try:
        token = tokens.bearer_token(authorization)
        key_set = tokens.load_key_set(secret_text(config.signing_key_secret_name))
        return tokens.verify_token(token, key_set, config.token_issuer, config.token_audience).sub
    except tokens.InvalidToken:
        raise Unauthorized("the bearer token is not a valid access token of this service") from None


def now() -> float:
    return time.time()
