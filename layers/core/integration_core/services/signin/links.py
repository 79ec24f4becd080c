"""A person's linked sign-in methods: the list (provider, external id, email, linked at, last
used), unlinking (never the last method), and the provider tokens kept for later calls: refresh
(what it means is the provider's `refresh_note`) and revoke (`revoke_note`). No answer carries a
provider token."""

from __future__ import annotations

from typing import Any

from integration_core import timeutil
from integration_core.errors import Conflict, NotFound, invalid
from integration_core.observability import logger
from integration_core.principal import Principal
from integration_core.services.signin import deps
from integration_core.services.signin.accounts import opened_tokens, sealed_tokens
from integration_core.stores.common import Outcome

REMOVED_TOKENS = {"access_token": None, "refresh_token": None, "access_expires_at": None}


def _out(link: dict[str, Any]) -> dict[str, Any]:
    return {
        "provider": link["provider"],
        "external_id": link["external_id"],
        "email": link.get("email"),
        "linked_at": link["linked_at"],
        "last_used_at": link.get("last_used_at"),
        "has_provider_token": bool(link.get("access_token")),
    }


def linked_accounts(principal: Principal, user_id: str) -> dict[str, Any]:
    principal.require_owner_or_admin(user_id)
    links = sorted(deps.store().links(user_id), key=lambda link: str(link["linked_at"]))
    return {"user_id": user_id, "accounts": [_out(link) for link in links]}


def _link_of(principal: Principal, user_id: str, provider: str) -> dict[str, Any]:
    principal.require_owner_or_admin(user_id)
    deps.provider(provider)  # an unknown provider is a 404 of its own
    link = deps.store().link(user_id, provider)
    if link is None:
        raise NotFound(f"{user_id} has not linked {provider}")
    return link


def unlink(principal: Principal, user_id: str, provider: str) -> None:
    link = _link_of(principal, user_id, provider)
    outcome = deps.store().remove_link(user_id, provider, str(link["external_id"]))
    if outcome is Outcome.FULL:
        raise Conflict(
            f"{provider} is the last way {user_id} can sign in: link another method before unlinking this one"
        )
    if outcome is Outcome.NOT_FOUND:
        raise NotFound(f"{user_id} has not linked {provider}")
    if outcome is not Outcome.DONE:
        raise Conflict("the link changed meanwhile; try again")
    tokens = opened_tokens(user_id, provider, link)
    if tokens:
        try:
            deps.provider(provider).revoke(tokens)
        except Exception:
            logger.warning("provider grant not revoked on unlink", extra={"provider": provider})
    logger.info("account unlinked", extra={"provider": provider, "user_id": user_id})


def refresh_provider_token(principal: Principal, user_id: str, provider: str) -> dict[str, Any]:
    link = _link_of(principal, user_id, provider)
    tokens = opened_tokens(user_id, provider, link)
    if tokens is None:
        raise invalid("provider", f"no {provider} token is kept (revoked): sign in with {provider} again")
    adapter = deps.provider(provider)
    fresh = adapter.refresh(tokens)
    sealed = sealed_tokens(user_id, provider, fresh)
    deps.store().touch_link(user_id, provider, {**sealed, "refreshed_at": timeutil.iso_utc(timeutil.utc_now())})
    expires = sealed.get("access_expires_at")
    return {"provider": provider, "refreshed": True, "access_expires_at": expires, "note": adapter.refresh_note}


def revoke(principal: Principal, user_id: str, provider: str) -> dict[str, Any]:
    link = _link_of(principal, user_id, provider)
    adapter = deps.provider(provider)
    tokens = opened_tokens(user_id, provider, link)
    if tokens:
        adapter.revoke(tokens)
    deps.store().touch_link(user_id, provider, REMOVED_TOKENS)
    logger.info("provider authorization revoked", extra={"provider": provider, "user_id": user_id})
    return {"provider": provider, "revoked": True, "note": adapter.revoke_note}
