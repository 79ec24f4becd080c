"""Starting a sign-in (public) or a link (signed in): the state (32 random bytes), the PKCE S256
verifier and, for OpenID Connect providers, the nonce stay on the server (keyed by the state's
SHA-256, ~10 minutes, single use). The redirect URI and the optional returnTo must each equal one
of the configured allow-lists' entries exactly: no open redirect."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from integration_core import timeutil
from integration_core.errors import invalid
from integration_core.observability import logger
from integration_core.ports.signin import Authorization
from integration_core.principal import Principal, Role
from integration_core.services.signin import deps, limits
from integration_core.signin_config import signin_settings

SIGN_IN = "sign-in"
LINK = "link"


def digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def checked_redirect(redirect_uri: str, return_to: str | None) -> None:
    settings = signin_settings()
    if redirect_uri not in settings.redirect_uris:
        raise invalid("redirectUri", "not a registered redirect URI of this service (exact match)")
    if return_to is not None and return_to not in settings.return_to:
        raise invalid("returnTo", "not an allowed return address (exact match)")


def _begin(
    provider_name: str, redirect_uri: str, return_to: str | None, purpose: str, user_id: str | None
) -> dict[str, Any]:
    provider = deps.provider(provider_name)
    checked_redirect(redirect_uri, return_to)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters (RFC 7636: 43..128)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    nonce = secrets.token_urlsafe(24) if provider.uses_nonce else ""
    started = provider.start(Authorization(state, challenge, verifier, nonce, redirect_uri))
    expires = int(deps.now()) + signin_settings().state_ttl_seconds
    record: dict[str, Any] = {
        "provider": provider_name,
        "code_verifier": started.code_verifier,
        "nonce": started.nonce,
        "redirect_uri": redirect_uri,
        "purpose": purpose,
    }
    if return_to:
        record["return_to"] = return_to
    if user_id:
        record["user_id"] = user_id
    deps.store().put_pending(digest(state), record, expires)
    logger.info("sign-in started", extra={"provider": provider_name, "purpose": purpose})
    return {
        "authorization_url": started.url,
        "state": state,
        "expires_at": timeutil.iso_utc(datetime.fromtimestamp(expires, UTC)),
    }


def sign_in(provider: str, redirect_uri: str, return_to: str | None, client: str) -> dict[str, Any]:
    limits.per_client(client)
    return _begin(provider, redirect_uri, return_to, SIGN_IN, None)


def link(principal: Principal, provider: str, redirect_uri: str, return_to: str | None) -> dict[str, Any]:
    """A link started by the signed-in person, with its own state: only completing it links."""
    principal.require(Role.STUDENT, Role.TEACHER, Role.ADMIN)
    return _begin(provider, redirect_uri, return_to, LINK, principal.sub)
