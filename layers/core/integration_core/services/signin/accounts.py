"""Completing a sign-in or a link: the callback's state taken (single use), the code exchanged by
the provider's adapter for a verified identity, then the account rules.

- A known external account (provider + its id, never an email) signs its owner in.
- A first sign-in creates the person in the directory, of the configured kind (student unless
  SignInNewAccountRole says teacher; never the provider's say), in the same transaction as the
  identity and the link: `isNewUser` is true.
- A verified email that matches an existing person is refused, never linked silently: that
  person signs in with the method they used before, then links. An unverified email matches no one
  (and is not written into the directory: the new person gets a stand-in address).
- A link completes only the authorization its signed-in person started (its own state); an
  external account that signs in someone else is refused, and so is a second account of a
  provider the person has linked.

Nothing is stored before every check has passed: a refusal leaves no identity, link or person."""

from __future__ import annotations

import hashlib
from typing import Any

from integration_core import timeutil
from integration_core.errors import Conflict, Forbidden, Unauthorized, invalid
from integration_core.ids import new_id
from integration_core.observability import logger
from integration_core.ports.signin import Identity, ProviderTokens, Started
from integration_core.services.signin import deps, limits, sessions
from integration_core.services.signin.start import LINK, digest
from integration_core.signin_config import signin_settings
from integration_core.stores.common import Outcome
from integration_core.stores.directory import person_operations

DIRECTORY_KINDS = ("student", "teacher")
NO_VERIFIED_EMAIL_DOMAIN = "no-verified-email.school.example"
EMAIL_EXISTS = "an account with this email exists: sign in with the method you used before, then link"


def purpose(provider: str, kind: str) -> str:
    """The KMS encryption context's purpose of a provider token (the template allows signin-*)."""
    return f"signin-{provider}-{kind}"


def sealed_tokens(person_id: str, provider: str, tokens: ProviderTokens) -> dict[str, Any]:
    cipher = deps.cipher()
    sealed: dict[str, Any] = {
        "access_token": cipher.encrypt(person_id, purpose(provider, "access"), tokens.access_token),
        "scope": tokens.scope,
        "access_expires_at": int(deps.now()) + tokens.expires_in if tokens.expires_in else None,
    }
    if tokens.refresh_token:
        sealed["refresh_token"] = cipher.encrypt(person_id, purpose(provider, "refresh"), tokens.refresh_token)
    return sealed


def opened_tokens(person_id: str, provider: str, link: dict[str, Any]) -> ProviderTokens | None:
    if not link.get("access_token"):
        return None
    cipher = deps.cipher()
    refresh = link.get("refresh_token")
    return ProviderTokens(
        access_token=cipher.decrypt(person_id, purpose(provider, "access"), link["access_token"]),
        refresh_token=cipher.decrypt(person_id, purpose(provider, "refresh"), refresh) if refresh else None,
        scope=str(link.get("scope", "")),
    )


def authenticate(
    provider_name: str,
    code: str | None,
    state: str,
    redirect_uri: str | None,
    client: str,
    error: str | None = None,
    authorization: str | None = None,
) -> dict[str, Any]:
    """A provider's callback. A sign-in completes for whoever brings the code back; a link only for
    the person who started it, proven by their access token (the `authorization` header): otherwise someone could
    start a link, hand its authorization URL to a victim, and have the victim's provider account
    joined to their own person (docs/sign-in.md, "Linking")."""
    limits.per_client(client)
    provider = deps.provider(provider_name)
    pending = deps.store().take_pending(digest(state), int(deps.now()))
    if pending is None:
        raise invalid("state", "unknown, used or expired: start again at GET /oauth/{provider}/authorize")
    if pending["provider"] != provider_name:
        raise invalid("provider", "not the provider this authorization was started with")
    if redirect_uri is None:  # the GET callback: the browser came to the URI recorded with the state
        redirect_uri = str(pending["redirect_uri"])
    if pending["redirect_uri"] != redirect_uri:
        raise invalid("redirectUri", "not the redirect URI this authorization was started with")
    if error:
        raise Unauthorized(f"the provider did not authorize the sign-in ({error[:64]})", error=error[:64])
    if not code:
        raise invalid("code", "the provider's authorization code is required")
    linking = pending["purpose"] == LINK
    if linking and deps.bearer_subject(authorization) != pending["user_id"]:
        raise Forbidden(
            "completing a link needs the access token of the person who started it "
            "(Authorization: Bearer <access token>); start the link again"
        )
    started = Started("", str(pending["code_verifier"]), str(pending.get("nonce", "")))
    identity = provider.exchange(code, started, redirect_uri)
    limits.per_account(identity.provider, identity.external_id)
    answer = _link(str(pending["user_id"]), identity) if linking else _sign_in(identity)
    if pending.get("return_to"):
        answer["return_to"] = pending["return_to"]
    return answer


def _link_record(person_id: str, identity: Identity, now: str) -> dict[str, Any]:
    return {
        "provider": identity.provider,
        "external_id": identity.external_id,
        "email": identity.email,
        "name": identity.name,
        "picture": identity.picture,
        "linked_at": now,
        "last_used_at": now,
        **sealed_tokens(person_id, identity.provider, identity.tokens),
    }


def _profile(person_id: str, identity: Identity, link: dict[str, Any], is_new: bool) -> dict[str, Any]:
    return {
        "user_id": person_id,
        "external_id": identity.external_id,
        "provider": identity.provider,
        "email": identity.email,
        "name": identity.name,
        "picture": identity.picture,
        "is_new_user": is_new,
        "created_at": link.get("person_created_at") or link["linked_at"],
    }


def _known(person_id: str, identity: Identity) -> dict[str, Any]:
    now = timeutil.iso_utc(timeutil.utc_now())
    store = deps.store()
    store.touch_link(
        person_id,
        identity.provider,
        {"last_used_at": now, **sealed_tokens(person_id, identity.provider, identity.tokens)},
    )
    link = store.link(person_id, identity.provider) or {"linked_at": now}
    logger.info("signed in", extra={"provider": identity.provider, "user_id": person_id})
    return {**_profile(person_id, identity, link, False), **sessions.start(person_id, identity.provider)}


def _sign_in(identity: Identity) -> dict[str, Any]:
    store = deps.store()
    known = store.identity(identity.provider, identity.external_id)
    if known:
        return _known(str(known["person_id"]), identity)
    if identity.email and any(store.email_owner(kind, identity.email) for kind in DIRECTORY_KINDS):
        raise Conflict(EMAIL_EXISTS, errors=[{"field": "email", "reason": EMAIL_EXISTS}])
    kind = signin_settings().new_account_role
    person_id = new_id(kind)
    now = timeutil.iso_utc(timeutil.utc_now())
    alias = hashlib.sha256(f"{identity.provider}:{identity.external_id}".encode()).hexdigest()[:20]
    person = {
        "id": person_id,
        "email": identity.email or f"{identity.provider}-{alias}@{NO_VERIFIED_EMAIL_DOMAIN}",
        "name": identity.name[:200],
        "time_zone": "UTC",
        "created_at": now,
        "updated_at": now,
    }
    link = {**_link_record(person_id, identity, now), "person_created_at": now}
    outcome = store.add_link(person_id, link, also=person_operations(store.db, kind, person))
    if outcome is Outcome.TAKEN:  # the same account signed in concurrently: it exists now
        raced = store.identity(identity.provider, identity.external_id)
        if raced:
            return _known(str(raced["person_id"]), identity)
    if outcome is Outcome.ALREADY_EXISTS:  # the email's lock was taken meanwhile
        raise Conflict(EMAIL_EXISTS, errors=[{"field": "email", "reason": EMAIL_EXISTS}])
    if outcome is not Outcome.DONE:
        raise Conflict("the sign-in raced with another; try again")
    logger.info("first sign-in: person created", extra={"provider": identity.provider, "user_id": person_id})
    return {**_profile(person_id, identity, link, True), **sessions.start(person_id, identity.provider)}


def _link(user_id: str, identity: Identity) -> dict[str, Any]:
    store = deps.store()
    known = store.identity(identity.provider, identity.external_id)
    if known and known["person_id"] != user_id:
        raise Conflict(f"this {identity.provider} account signs in another person; it cannot be linked to you")
    if known:  # linked already: a repeat refreshes the stored tokens
        return {**_known(user_id, identity), "linked": True}
    if store.link(user_id, identity.provider):
        raise Conflict(f"you have linked another {identity.provider} account: unlink it first")
    now = timeutil.iso_utc(timeutil.utc_now())
    link = _link_record(user_id, identity, now)
    outcome = store.add_link(user_id, link)
    if outcome is Outcome.TAKEN:
        raise Conflict(f"this {identity.provider} account signs in another person; it cannot be linked to you")
    if outcome is not Outcome.DONE:
        raise Conflict(f"you have linked another {identity.provider} account: unlink it first")
    logger.info("account linked", extra={"provider": identity.provider, "user_id": user_id})
    return {**_profile(user_id, identity, link, False), **sessions.start(user_id, identity.provider), "linked": True}
