"""A user's Google Calendar connection.

- `authorize`: Google's authorization URL. The state (32 random bytes) and the PKCE S256 verifier
  stay on the server (the state's SHA-256 is the key, the item expires after ~10 minutes, and it
  is taken by a conditional delete, so a state serves once).
- `authenticate`: the code exchanged with the verifier of that state, for the user who asked for
  the URL only; both tokens are KMS-encrypted (context: user and purpose) before they are stored.
  The answer never carries a token.
- `access`: a usable access token. One refreshed ~5 minutes before it expires, by one caller at a
  time (a conditional-write lease): the others wait briefly and read what the refresher stored.
  A refresh answer without a refresh token keeps the old one. `invalid_grant` breaks the
  connection (status, reason, `calendar_connection_broken` in the same transaction) and nothing
  is asked of Google for that user until they connect again.
- `revoke`: Google's revoke endpoint, then the tokens and synced-event records deleted.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from integration_core import timeutil
from integration_core.calendar_config import calendar_settings
from integration_core.domain.calendar import CALENDAR_NAME, ConnectionBroken, NotConnected
from integration_core.errors import Forbidden, ProviderUnavailable, Unprocessable, invalid
from integration_core.ids import stable_id
from integration_core.observability import logger
from integration_core.ports.calendar import AccessExpired, Authorization, GrantInvalid
from integration_core.principal import Principal, Role
from integration_core.services import events as domain_events
from integration_core.services.calendar import deps
from integration_core.stores.calendar import BROKEN, CONNECTED

ACCESS = "google-calendar-access-token"
REFRESH = "google-calendar-refresh-token"
LEASE_SECONDS = 15.0  # a refresher that dies frees the lease after this
WAIT_SECONDS = 0.2
WAIT_ROUNDS = 40  # how long the others wait for the refresher: 8 s at most
T = TypeVar("T")


def _iso(epoch: float) -> str:
    return timeutil.iso_utc(datetime.fromtimestamp(epoch, UTC))


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _owner(principal: Principal) -> str:
    """Only students and teachers have calendars of their own (an admin connects none)."""
    principal.require(Role.STUDENT, Role.TEACHER)
    return principal.sub


# ---------------------------------------------------------------- connecting
def authorize(principal: Principal, login_hint: str | None = None) -> dict[str, Any]:
    user_id = _owner(principal)
    settings = calendar_settings()
    provider = deps.provider()
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-] (RFC 7636: 43..128)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    redirect_uri = provider.redirect_uri()
    expires = int(deps.now()) + settings.state_ttl_seconds
    deps.store().put_state(
        _digest(state), {"user_id": user_id, "code_verifier": verifier, "redirect_uri": redirect_uri}, expires
    )
    url = provider.authorization_url(Authorization(state, challenge, redirect_uri, login_hint))
    return {"authorization_url": url, "state": state, "expires_at": _iso(expires)}


def authenticate(principal: Principal, code: str, state: str, email: str | None = None) -> dict[str, Any]:
    user_id = _owner(principal)
    store, provider, cipher = deps.store(), deps.provider(), deps.cipher()
    pending = store.take_state(_digest(state), int(deps.now()))
    if pending is None:
        raise invalid("state", "unknown, used or expired: start again at GET /google-calendar/authorize")
    if pending["user_id"] != user_id:
        raise Forbidden("this authorization was started by another user")
    grant = provider.exchange_code(code, pending["code_verifier"], pending["redirect_uri"])
    account = provider.account_email(grant.access_token)
    if email and account != email.lower():
        provider.revoke(grant.refresh_token or grant.access_token)
        raise Unprocessable(
            f"email: the Google account connected is not {email}",
            errors=[{"field": "email", "reason": "not the Google account that consented"}],
        )
    if not grant.refresh_token:
        raise invalid("code", "Google gave no refresh token (offline access was not granted); connect again")
    now = deps.now()
    previous = store.connection(user_id)
    record: dict[str, Any] = {
        "user_id": user_id,
        "email": account,
        "status": CONNECTED,
        "access_token": cipher.encrypt(user_id, ACCESS, grant.access_token),
        "refresh_token": cipher.encrypt(user_id, REFRESH, grant.refresh_token),
        "access_expires_at": int(now) + grant.expires_in,
        "access_lifetime": grant.expires_in,
        "token_version": int((previous or {}).get("token_version", 0)) + 1,
        "scope": grant.scope,
        "authenticated_at": _iso(now),
        "event_count": 0,
    }
    if previous and previous.get("email") == account and previous.get("calendar_id"):
        # The same Google account again: its Classes calendar and events are still ours.
        record |= {"calendar_id": previous["calendar_id"], "event_count": previous.get("event_count", 0)}
        record |= {k: previous[k] for k in ("last_synced_at",) if k in previous}
    elif previous:
        store.forget_synced(user_id)  # another account: its events are not in this calendar
    store.save_connection(record)
    logger.info("google calendar connected", extra={"user_id": user_id})
    return {
        "email": account,
        "expires_at": _iso(record["access_expires_at"]),
        "is_authenticated": True,
        "authentication_date": record["authenticated_at"],
    }


# ---------------------------------------------------------------- a usable access token
@dataclass(frozen=True)
class Access:
    user_id: str
    token: str  # never logged, never answered
    connection: dict[str, Any]

    @property
    def calendar_id(self) -> str | None:
        return self.connection.get("calendar_id")


def connection_of(user_id: str) -> dict[str, Any]:
    found = deps.store().connection(user_id)
    if found is None:
        raise NotConnected(f"{user_id} has not connected Google Calendar: GET /google-calendar/authorize first")
    if found.get("status") == BROKEN:
        raise ConnectionBroken(
            f"the Google connection of {user_id} is broken ({found.get('broken_reason')}); connect again"
        )
    return found


def _fresh(connection: dict[str, Any]) -> bool:
    """Usable for a while yet: more than the margin (5 minutes, or half the token's lifetime when
    Google gives shorter ones) before it expires."""
    lifetime = int(connection.get("access_lifetime", 3600))
    margin = min(calendar_settings().refresh_margin_seconds, lifetime // 2)
    return int(connection.get("access_expires_at", 0)) - margin > deps.now()


def _access_of(connection: dict[str, Any]) -> Access:
    user_id = connection["user_id"]
    return Access(user_id, deps.cipher().decrypt(user_id, ACCESS, connection["access_token"]), connection)


def access(user_id: str) -> Access:
    connection = connection_of(user_id)
    if _fresh(connection):
        return _access_of(connection)
    return _refreshed(connection)


def _refreshed(seen: dict[str, Any], *, refused: bool = False) -> Access:
    """A new access token for the connection `seen` (one whose token is about to expire, or that
    Google `refused`): refreshed here under the lease, or read from whoever refreshed first."""
    user_id, store = seen["user_id"], deps.store()
    owner = secrets.token_hex(8)
    for _ in range(WAIT_ROUNDS):
        current = connection_of(user_id)
        if current["token_version"] != seen["token_version"] and (refused or _fresh(current)):
            return _access_of(current)  # another caller refreshed meanwhile
        if store.take_lease(user_id, owner, deps.now(), LEASE_SECONDS):
            try:
                return _refresh_under_lease(user_id, owner, seen, refused)
            finally:
                store.release_lease(user_id, owner)
        deps.sleep(WAIT_SECONDS)
    raise ProviderUnavailable("the Google token is being refreshed; try again", retry_after=2)


def _refresh_under_lease(user_id: str, owner: str, seen: dict[str, Any], refused: bool) -> Access:
    store, cipher = deps.store(), deps.cipher()
    current = connection_of(user_id)  # read again under the lease: the last refresher may be done
    if current["token_version"] != seen["token_version"] and (refused or _fresh(current)):
        return _access_of(current)
    refresh_token = cipher.decrypt(user_id, REFRESH, current["refresh_token"])
    try:
        grant = deps.provider().refresh(refresh_token)
    except GrantInvalid as refused_grant:
        _break(current, refused_grant.reason)
        raise ConnectionBroken(
            f"Google refused the connection of {user_id} ({refused_grant.reason}); connect again"
        ) from None
    tokens: dict[str, Any] = {
        "access_token": cipher.encrypt(user_id, ACCESS, grant.access_token),
        "access_expires_at": int(deps.now()) + grant.expires_in,
        "access_lifetime": grant.expires_in,
    }
    if grant.refresh_token:  # Google rotates it rarely; without one, the old one stays
        tokens["refresh_token"] = cipher.encrypt(user_id, REFRESH, grant.refresh_token)
    if not store.save_tokens(user_id, current["token_version"], tokens):
        raise ProviderUnavailable("the Google connection changed meanwhile; try again", retry_after=1)
    logger.info("google token refreshed", extra={"user_id": user_id})
    updated = {**current, **tokens, "token_version": current["token_version"] + 1}
    return Access(user_id, grant.access_token, updated)


def _break(connection: dict[str, Any], reason: str) -> None:
    user_id, version = connection["user_id"], int(connection["token_version"])
    at = timeutil.iso_utc(timeutil.utc_now())
    store = deps.store()
    data = {"userId": user_id, "email": connection.get("email", ""), "reason": reason, "brokenAt": at}
    event_id = stable_id("event", "calendar_connection_broken", user_id, str(version))
    _, event_ops = domain_events.event_operations(
        store.db, "calendar_connection_broken", data, event_id=event_id, cause="google refused the grant"
    )
    if store.mark_broken(user_id, version, reason, at, event_ops):
        logger.warning("google calendar connection broken", extra={"user_id": user_id, "reason": reason})
        domain_events.dispatch([event_id])


def with_access(user_id: str, call: Callable[[Access], T]) -> T:
    """`call` with a usable token; a 401 from Google refreshes it once and calls again."""
    current = access(user_id)
    try:
        return call(current)
    except AccessExpired:
        return call(_refreshed(current.connection, refused=True))


# ---------------------------------------------------------------- the dedicated calendar
def calendar_of(current: Access, time_zone: str = "UTC") -> str:
    """The user's "Classes" calendar, created once: a concurrent creator that loses the
    conditional write deletes its duplicate and uses the winner's."""
    if current.calendar_id:
        return current.calendar_id
    store, provider = deps.store(), deps.provider()
    created = provider.create_calendar(current.token, CALENDAR_NAME, time_zone)
    if store.set_calendar(current.user_id, created):
        return created
    provider.delete_calendar(current.token, created)
    winner = connection_of(current.user_id).get("calendar_id")
    if not winner:
        raise ProviderUnavailable("the calendar is being created; try again", retry_after=1)
    return str(winner)


# ---------------------------------------------------------------- revoking
def revoke(principal: Principal) -> None:
    user_id = _owner(principal)
    store, provider, cipher = deps.store(), deps.provider(), deps.cipher()
    found = store.connection(user_id)
    if found is None:
        return  # nothing to revoke: a repeat of DELETE is fine
    token_field, purpose = ("refresh_token", REFRESH) if found.get("refresh_token") else ("access_token", ACCESS)
    if found.get(token_field):
        provider.revoke(cipher.decrypt(user_id, purpose, found[token_field]))
    store.forget_synced(user_id)
    store.delete_connection(user_id)
    logger.info("google calendar revoked", extra={"user_id": user_id})
