"""Google Calendar API v3 over httpx (ProviderHttp), as the calendar port asks: the app's own
calendar (calendars.insert / delete), events insert with our id (409 when it exists, then patch:
an upsert), patch, delete (Google keeps it as `cancelled`), and list with `singleEvents`,
`orderBy=startTime`, following `nextPageToken`. 429, 5xx and 403 `rateLimitExceeded` /
`userRateLimitExceeded` are retried with backoff by ProviderHttp; a 403 quota answer is a 503 with a
retry hint; a 401 is `AccessExpired` (the service refreshes the token once and tries again).

`GoogleCalendar` is the port's implementation, OAuth included (adapters/google_oauth.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from integration_core.adapters import google_oauth
from integration_core.errors import NotFound, ProviderRejected, Unprocessable
from integration_core.observability import logger
from integration_core.ports.calendar import AccessExpired, Authorization, TokenGrant

PAGE_SIZE = 250


def _checked(answer: httpx.Response, what: str) -> dict[str, Any]:
    if answer.status_code < 300:
        return answer.json() if answer.content else {}
    if answer.status_code == 401:
        raise AccessExpired()
    if answer.status_code in (404, 410):
        raise NotFound(f"Google has no such {what.split()[-1]}")
    reasons = sorted(google_oauth._reasons(answer))
    logger.warning("google calendar refused", extra={"call": what, "status": answer.status_code, "reasons": reasons})
    if answer.status_code == 400:
        raise Unprocessable(f"Google refused the {what}: {', '.join(reasons) or 'bad request'}")
    raise ProviderRejected(f"Google refused the {what} ({answer.status_code})")


class GoogleCalendar:
    """The CalendarProvider for Google (its client and URLs read from the secret on each use)."""

    name = "Google Calendar"

    # ---------------------------------------------------------------- OAuth
    def authorization_url(self, authorization: Authorization) -> str:
        return google_oauth.authorization_url(google_oauth.client(), authorization)

    def redirect_uri(self) -> str:
        return google_oauth.client().redirect_uri

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> TokenGrant:
        return google_oauth.exchange_code(google_oauth.client(), code, code_verifier, redirect_uri)

    def refresh(self, refresh_token: str) -> TokenGrant:
        return google_oauth.refresh(google_oauth.client(), refresh_token)

    def revoke(self, token: str) -> None:
        google_oauth.revoke(google_oauth.client(), token)

    def account_email(self, access_token: str) -> str:
        return google_oauth.account_email(google_oauth.client(), access_token)

    # ---------------------------------------------------------------- calls
    def _send(self, access_token: str, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        base = google_oauth.client().calendar_base_url
        headers = {"Authorization": f"Bearer {access_token}"}
        return google_oauth._http().send(method, base + path, what=what, headers=headers, **kwargs)

    @staticmethod
    def _events_path(calendar_id: str, event_id: str | None = None) -> str:
        path = f"/calendars/{quote(calendar_id, safe='')}/events"
        return path + (f"/{quote(event_id, safe='')}" if event_id else "")

    def create_calendar(self, access_token: str, summary: str, time_zone: str) -> str:
        body = {"summary": summary, "timeZone": time_zone, "description": "Your classes, kept in sync by the school."}
        created = _checked(self._send(access_token, "POST", "/calendars", what="calendar", json=body), "calendar")
        return str(created["id"])

    def delete_calendar(self, access_token: str, calendar_id: str) -> None:
        answer = self._send(access_token, "DELETE", f"/calendars/{quote(calendar_id, safe='')}", what="calendar")
        if answer.status_code not in (404, 410):
            _checked(answer, "calendar")

    def insert_event(self, access_token: str, calendar_id: str, event: dict[str, Any]) -> dict[str, Any]:
        answer = self._send(access_token, "POST", self._events_path(calendar_id), what="event insert", json=event)
        return _checked(answer, "event")

    def upsert_event(self, access_token: str, calendar_id: str, event_id: str, event: dict[str, Any]) -> dict[str, Any]:
        body = {**event, "id": event_id}
        answer = self._send(access_token, "POST", self._events_path(calendar_id), what="event insert", json=body)
        if answer.status_code == 409:  # ours already (a repeat, a retry, a concurrent sync): bring it up to date
            return self.patch_event(
                access_token, calendar_id, event_id, {**event, "status": event.get("status", "confirmed")}
            )
        return _checked(answer, "event")

    def patch_event(
        self, access_token: str, calendar_id: str, event_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        answer = self._send(
            access_token, "PATCH", self._events_path(calendar_id, event_id), what="event patch", json=changes
        )
        return _checked(answer, "event")

    def cancel_event(self, access_token: str, calendar_id: str, event_id: str) -> None:
        answer = self._send(access_token, "DELETE", self._events_path(calendar_id, event_id), what="event delete")
        if answer.status_code not in (404, 410):  # gone already: what we wanted
            _checked(answer, "event")

    def list_events(self, access_token: str, calendar_id: str, time_min: str, time_max: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "timeMin": time_min,
            "timeMax": time_max,
            "singleEvents": "true",
            "orderBy": "startTime",
            "maxResults": PAGE_SIZE,
        }
        while True:
            answer = self._send(access_token, "GET", self._events_path(calendar_id), what="event list", params=params)
            page = _checked(answer, "event")
            found += page.get("items") or []
            token = page.get("nextPageToken")
            if not token:
                return found
            params = {**params, "pageToken": token}
