"""The calendar port: what the calendar services ask of a calendar provider (Google now), and the
provider-neutral shapes of its answers. The adapter (adapters/google_calendar.py, on
adapters/google_oauth.py) implements it; unit tests replace it with an in-memory fake."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from integration_core.errors import Conflict, ProviderRejected


class GrantInvalid(Exception):
    """The provider refused the refresh token (`invalid_grant`): revoked, expired or unknown.
    A domain outcome (the connection is broken), never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccessExpired(ProviderRejected):
    """The provider refused the access token (401): the services refresh it and try once more; one
    that escapes (refused again with a fresh token) is a 502."""

    def __init__(self) -> None:
        super().__init__("Google refused the access token, a fresh one too")


class CodeRefused(Conflict):
    """The authorization code (or its PKCE verifier) was refused: the user connects again."""


@dataclass(frozen=True)
class TokenGrant:
    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str | None = field(default=None, repr=False)  # absent on most refreshes
    scope: str = ""


@dataclass(frozen=True)
class Authorization:
    """What the authorization URL is built from: PKCE S256 challenge, state, where to come back."""

    state: str
    code_challenge: str
    redirect_uri: str
    login_hint: str | None = None


@dataclass(frozen=True)
class EventWrite:
    """An event as we write it (all fields, for an insert; the set ones, for a patch)."""

    fields: dict[str, Any]


class CalendarProvider(Protocol):
    name: str

    # ---------------------------------------------------------------- OAuth
    def authorization_url(self, authorization: Authorization) -> str: ...

    def redirect_uri(self) -> str:
        """Where the provider sends the user back (registered with the OAuth client)."""
        ...

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> TokenGrant:
        """CodeRefused when the code is used, expired or the verifier does not match."""
        ...

    def refresh(self, refresh_token: str) -> TokenGrant:
        """GrantInvalid on `invalid_grant`."""
        ...

    def revoke(self, token: str) -> None: ...

    def account_email(self, access_token: str) -> str: ...

    # ---------------------------------------------------------------- calendars and events
    # Each raises AccessExpired on a 401.
    def create_calendar(self, access_token: str, summary: str, time_zone: str) -> str:
        """The new calendar's id."""
        ...

    def delete_calendar(self, access_token: str, calendar_id: str) -> None: ...

    def upsert_event(self, access_token: str, calendar_id: str, event_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """Insert under our id; when the id exists (409), patch it with the same fields (a repeat,
        a retry or a concurrent writer ends in one event)."""
        ...

    def insert_event(self, access_token: str, calendar_id: str, event: dict[str, Any]) -> dict[str, Any]: ...

    def patch_event(
        self, access_token: str, calendar_id: str, event_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """NotFound when there is no such event."""
        ...

    def cancel_event(self, access_token: str, calendar_id: str, event_id: str) -> None:
        """Cancelled (deleted) at the provider; an event already gone is fine."""
        ...

    def list_events(self, access_token: str, calendar_id: str, time_min: str, time_max: str) -> list[dict[str, Any]]:
        """Single (expanded) events between the times, by start, every page followed."""
        ...
