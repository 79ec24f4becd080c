"""Google Calendar API v3, as the `google` emulator serves it (see google.py), below /google/calendar/v3:

    GET    /users/me/calendarList                          the user's calendars (primary first)
    POST   /calendars            GET|DELETE /calendars/{calendarId}        ("primary" works)
    POST   /calendars/{calendarId}/events                  insert (a client id: base32hex a-v0-9, 5..1024
                                                           long, else 400; an existing one, even
                                                           cancelled, 409 duplicate)
    GET|PATCH|PUT|DELETE /calendars/{calendarId}/events/{eventId}
                                                           delete = status "cancelled", still gettable;
                                                           a change increments `sequence`
    GET    /calendars/{calendarId}/events                  timeMin/timeMax, singleEvents (RRULE
                                                           expansion), orderBy, showDeleted, q,
                                                           private/sharedExtendedProperty, iCalUID,
                                                           maxResults + pageToken -> nextPageToken

An instance of a recurring event can be read by its id "<id>_<UTC start, 20260302T230000Z>" (events.get).
Every call needs a live bearer token from the OAuth half (401 otherwise) with a scope that allows it
(403 insufficientPermissions). Not emulated: instance exceptions of recurring events, syncToken,
watch channels, ACLs, free/busy.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from offline.http import Response
from offline.sandbox.base import Emulator, SandboxRequest, route
from offline.sandbox.providers import google_shared as g

_CAL = "https://www.googleapis.com/auth/calendar"
_SCOPES = {
    "read": {_CAL, f"{_CAL}.readonly", f"{_CAL}.events", f"{_CAL}.events.readonly", f"{_CAL}.app.created"},
    "write": {_CAL, f"{_CAL}.events", f"{_CAL}.events.owned", f"{_CAL}.app.created"},
    "calendars": {_CAL, f"{_CAL}.app.created", f"{_CAL}.calendars"},
    "list": {_CAL, f"{_CAL}.readonly", f"{_CAL}.calendarlist", f"{_CAL}.calendarlist.readonly", f"{_CAL}.app.created"},
}
_SCOPES["read"] |= _SCOPES["write"] | {f"{_CAL}.events.owned.readonly", f"{_CAL}.calendars.readonly"}
_SCOPES["calendar_read"] = _SCOPES["calendars"] | {f"{_CAL}.readonly", f"{_CAL}.calendars.readonly"}
# Server fields a client cannot set (Google ignores them on insert, update and patch).
_SERVER_FIELDS = {
    *("kind", "etag", "htmlLink", "created", "updated", "creator", "organizer", "iCalUID", "recurringEventId"),
}
_STATUSES = {"confirmed", "tentative", "cancelled"}
_DEFAULT_REMINDERS = [{"method": "popup", "minutes": 10}]


def _merge(target: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics: objects merge key by key, arrays and scalars replace, null clears."""
    merged = dict(target)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in ("start", "end"):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class GoogleCalendar(Emulator):
    """The Calendar half of the Google emulator (a mixin of google.Google)."""

    # from the OAuth half
    def bearer_identity(self, request: SandboxRequest) -> dict[str, Any] | None:
        raise NotImplementedError

    # ------------------------------------------------------------------ who and where
    def _user(self, request: SandboxRequest, need: str, operation: str) -> str:
        identity = self.bearer_identity(request)
        if identity is None:
            raise g.fail(
                401,
                "authError",
                "Invalid Credentials",
                location="Authorization",
                location_type="header",
            )
        if not _SCOPES[need] & set(identity["scopes"]):
            raise g.fail(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
        email = identity["email"]
        calls = self.store.collection("calls").setdefault(email, {})
        calls[operation] = calls.get(operation, 0) + 1
        return email

    def _etag(self) -> str:
        counter = self.store.collection("counters")
        counter["etag"] = counter.get("etag", 3_000_000_000_000_000) + 1
        return f'"{counter["etag"]}"'

    def primary_calendar(self, email: str) -> dict[str, Any]:
        calendars = self.store.collection("calendars")
        if email not in calendars:
            tz = self.store.collection("accounts").get(email, {}).get("timeZone", "UTC")
            calendars[email] = {
                "kind": "calendar#calendar",
                "etag": self._etag(),
                "id": email,
                "summary": email,
                "timeZone": tz,
                "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
                "_owner": email,
                "_primary": True,
            }
        return calendars[email]

    def _calendar(self, email: str, calendar_id: str) -> dict[str, Any]:
        calendar_id = unquote(calendar_id)
        if calendar_id in ("primary", email):
            return self.primary_calendar(email)
        found = self.store.collection("calendars").get(calendar_id)
        if found is None or found["_owner"] != email:
            raise g.fail(404, "notFound", "Not Found")
        return found

    def _events_of(self, calendar: dict[str, Any]) -> list[dict[str, Any]]:
        return [e for e in self.store.collection("events").values() if e["_calendar"] == calendar["id"]]

    def _event(self, calendar: dict[str, Any], event_id: str) -> dict[str, Any]:
        found = self.store.collection("events").get(f"{calendar['id']}/{unquote(event_id)}")
        if found is None:
            raise g.fail(404, "notFound", "Not Found")
        return found

    def _shown(self, event: dict[str, Any], calendar: dict[str, Any]) -> dict[str, Any]:
        shown = self._public(event)
        for name in ("start", "end", "originalStartTime"):
            if name in shown:
                shown[name] = g.shown_time(shown[name], calendar["timeZone"])
        return shown

    # ------------------------------------------------------------------ calendars
    @route("GET", "/calendar/v3/users/me/calendarList")
    def calendar_list(self, request: SandboxRequest) -> Response:
        email = self._user(request, "list", "calendarList.list")
        self.primary_calendar(email)
        owned = [c for c in self.store.collection("calendars").values() if c["_owner"] == email]
        owned.sort(key=lambda c: not c.get("_primary"))
        entries = [
            {
                **{k: v for k, v in self._public(c).items() if k != "conferenceProperties"},
                "kind": "calendar#calendarListEntry",
                "accessRole": "owner",
                "defaultReminders": _DEFAULT_REMINDERS if c.get("_primary") else [],
                **({"primary": True} if c.get("_primary") else {}),
            }
            for c in owned
        ]
        chunk, next_token = g.page(entries, request.query)
        body: dict[str, Any] = {"kind": "calendar#calendarList", "etag": self._etag(), "items": chunk}
        return Response.json(200, body | ({"nextPageToken": next_token} if next_token else {}))

    @route("POST", "/calendar/v3/calendars")
    def insert_calendar(self, request: SandboxRequest) -> Response:
        email = self._user(request, "calendars", "calendars.insert")
        body = request.json() or {}
        if not body.get("summary"):
            raise g.fail(400, "required", "Missing title.")
        if body.get("timeZone") and g.zone(body["timeZone"]) is None:
            raise g.fail(400, "invalid", "Invalid time zone definition.")
        calendar_id = f"c_{g.new_event_id()}@group.calendar.google.com"
        calendar = {
            "kind": "calendar#calendar",
            "etag": self._etag(),
            "id": calendar_id,
            "summary": body["summary"],
            "timeZone": body.get("timeZone") or self.primary_calendar(email)["timeZone"],
            **{k: body[k] for k in ("description", "location") if k in body},
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
            "_owner": email,
            "_primary": False,
        }
        self.store.collection("calendars")[calendar_id] = calendar
        return Response.json(200, self._public(calendar))

    @route("GET", "/calendar/v3/calendars/{calendarId}")
    def get_calendar(self, request: SandboxRequest) -> Response:
        email = self._user(request, "calendar_read", "calendars.get")
        return Response.json(200, self._public(self._calendar(email, request.params["calendarId"])))

    @route("DELETE", "/calendar/v3/calendars/{calendarId}")
    def delete_calendar(self, request: SandboxRequest) -> Response:
        email = self._user(request, "calendars", "calendars.delete")
        calendar = self._calendar(email, request.params["calendarId"])
        if calendar.get("_primary"):
            raise g.fail(400, "cannotDeletePrimaryCalendar", "Cannot delete primary calendar.")
        del self.store.collection("calendars")[calendar["id"]]
        events = self.store.collection("events")
        for key in [k for k, e in events.items() if e["_calendar"] == calendar["id"]]:
            del events[key]
        return Response(204)

    # ------------------------------------------------------------------ events
    def _checked(self, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("status", "confirmed") not in _STATUSES:
            raise g.fail(400, "invalid", "Invalid value for: status")
        g.check_times(event)
        reminders = event.get("reminders") or {}
        overrides = reminders.get("overrides") or []
        if reminders.get("useDefault") and overrides:
            raise g.fail(
                400,
                "cannotUseDefaultRemindersAndSpecifyOverride",
                "Cannot specify both default reminders and overrides at the same time.",
            )
        if len(overrides) > 5:
            raise g.fail(400, "invalid", "The maximum number of override reminders is 5.")
        for reminder in overrides:
            if reminder.get("method") not in ("email", "popup") or not 0 <= int(reminder.get("minutes", -1)) <= 40320:
                raise g.fail(400, "invalid", "Invalid value for: reminders.overrides")
        for attendee in event.get("attendees") or []:
            if not attendee.get("email"):
                raise g.fail(400, "required", "Missing attendee email.")
        return event

    @route("POST", "/calendar/v3/calendars/{calendarId}/events")
    def insert_event(self, request: SandboxRequest) -> Response:
        email = self._user(request, "write", "events.insert")
        calendar = self._calendar(email, request.params["calendarId"])
        body = {k: v for k, v in (request.json() or {}).items() if k not in _SERVER_FIELDS}
        event_id = body.get("id") or g.new_event_id()
        if not g.valid_event_id(str(event_id)):
            raise g.fail(400, "invalid", "Invalid resource id value.")
        key = f"{calendar['id']}/{event_id}"
        if key in self.store.collection("events"):
            raise g.fail(409, "duplicate", "The requested identifier already exists.")
        stamp = g.now()
        event = self._checked(
            {
                "kind": "calendar#event",
                "etag": self._etag(),
                "id": event_id,
                "status": "confirmed",
                "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
                "created": stamp,
                "updated": stamp,
                "creator": {"email": email, "self": True},
                "organizer": {"email": calendar["id"], "self": True},
                "iCalUID": f"{event_id}@google.com",
                "sequence": 0,
                "reminders": {"useDefault": True},
                "eventType": "default",
                **body,
                "_calendar": calendar["id"],
            }
        )
        if "summary" in calendar and not calendar.get("_primary"):
            event["organizer"] = {"email": calendar["id"], "displayName": calendar["summary"], "self": True}
        self.store.collection("events")[key] = event
        return Response.json(200, self._shown(event, calendar))

    @route("GET", "/calendar/v3/calendars/{calendarId}/events/{eventId}")
    def get_event(self, request: SandboxRequest) -> Response:
        email = self._user(request, "read", "events.get")
        calendar = self._calendar(email, request.params["calendarId"])
        event_id = unquote(request.params["eventId"])
        master_id, _, stamp = event_id.partition("_")
        if stamp and f"{calendar['id']}/{event_id}" not in self.store.collection("events"):
            return Response.json(200, self._instance(self._event(calendar, master_id), stamp, calendar))
        return Response.json(200, self._shown(self._event(calendar, event_id), calendar))

    def _instance(self, master: dict[str, Any], stamp: str, calendar: dict[str, Any]) -> dict[str, Any]:
        """One instance of a recurring event by its id "<id>_<UTC start>" (read only here)."""
        try:
            moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            moment = None
        if not master.get("recurrence") or moment is None:
            raise g.fail(404, "notFound", "Not Found")
        found = [i for i in g.instances(master, moment, moment + timedelta(seconds=1)) if i["id"].endswith(stamp)]
        if not found:
            raise g.fail(404, "notFound", "Not Found")
        return self._shown(found[0], calendar)

    def _change(self, request: SandboxRequest, operation: str, replace: bool) -> Response:
        email = self._user(request, "write", operation)
        calendar = self._calendar(email, request.params["calendarId"])
        event = self._event(calendar, request.params["eventId"])
        body = {k: v for k, v in (request.json() or {}).items() if k not in _SERVER_FIELDS and k != "id"}
        if body.get("sequence") is not None and int(body["sequence"]) < event["sequence"]:
            raise g.fail(
                400,
                "invalidSequenceValue",
                "Invalid sequence value. The specified sequence number is below the current sequence number "
                "of the resource.",
            )
        kept = {k: v for k, v in event.items() if k in _SERVER_FIELDS or k.startswith("_") or k in ("id", "sequence")}
        replaced = {**kept, **{k: v for k, v in body.items() if v is not None}}
        changed = self._checked(replaced if replace else _merge(event, body))
        if {k: v for k, v in changed.items() if k != "sequence"} != {k: v for k, v in event.items() if k != "sequence"}:
            changed["sequence"] = max(event["sequence"] + 1, int(body.get("sequence") or 0))
            changed |= {"updated": g.now(), "etag": self._etag()}
        changed.setdefault("status", "confirmed")
        event.clear()
        event.update(changed)
        return Response.json(200, self._shown(event, calendar))

    @route("PATCH", "/calendar/v3/calendars/{calendarId}/events/{eventId}")
    def patch_event(self, request: SandboxRequest) -> Response:
        return self._change(request, "events.patch", replace=False)

    @route("PUT", "/calendar/v3/calendars/{calendarId}/events/{eventId}")
    def update_event(self, request: SandboxRequest) -> Response:
        return self._change(request, "events.update", replace=True)

    @route("DELETE", "/calendar/v3/calendars/{calendarId}/events/{eventId}")
    def delete_event(self, request: SandboxRequest) -> Response:
        email = self._user(request, "write", "events.delete")
        calendar = self._calendar(email, request.params["calendarId"])
        event = self._event(calendar, request.params["eventId"])
        if event["status"] == "cancelled":
            raise g.fail(410, "deleted", "Resource has been deleted")
        event |= {"status": "cancelled", "updated": g.now(), "etag": self._etag(), "sequence": event["sequence"] + 1}
        return Response(204)

    @route("GET", "/calendar/v3/calendars/{calendarId}/events")
    def list_events(self, request: SandboxRequest) -> Response:
        email = self._user(request, "read", "events.list")
        calendar = self._calendar(email, request.params["calendarId"])
        q = request.query
        bounds = {}
        for name in ("timeMin", "timeMax", "updatedMin"):
            if name in q:
                bounds[name] = g.parse_instant(q[name])
                if bounds[name] is None:
                    raise g.fail(400, "badRequest", "Bad Request", location=name)
        low, high = bounds.get("timeMin"), bounds.get("timeMax")
        if low and high and high <= low:
            raise g.fail(400, "timeRangeEmpty", "The specified time range is empty.", location="timeMax")
        single = q.get("singleEvents", "false").lower() == "true"
        if q.get("orderBy") == "startTime" and not single:
            raise g.fail(400, "badRequest", "The requested ordering is not available for the particular query.")
        show_deleted = q.get("showDeleted", "false").lower() == "true"
        tz = calendar["timeZone"]
        found: list[dict[str, Any]] = []
        for event in self._events_of(calendar):
            if event["status"] == "cancelled" and not show_deleted:
                continue
            if not self._matches(event, q, bounds.get("updatedMin")):
                continue
            if single and event.get("recurrence"):
                found += g.instances(event, low, high)
                continue
            start, end = g.event_time(event["start"], tz), g.event_time(event["end"], tz)
            if event.get("recurrence"):
                later = low is None or bool(g.instances(event, low, high, cap=2))
                overlaps = (high is None or start < high) and later
            else:
                overlaps = (high is None or start < high) and (low is None or end > low)
            if overlaps:
                found.append(event)
        if q.get("orderBy") == "startTime":
            found.sort(key=lambda e: (g.event_time(e["start"], tz).astimezone(UTC), e["id"]))
        elif q.get("orderBy") == "updated":
            found.sort(key=lambda e: (e["updated"], e["id"]))
        chunk, next_token = g.page(found, q)
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": self._etag(),
            "summary": calendar["summary"],
            "description": calendar.get("description", ""),
            "updated": max([e["updated"] for e in found], default=g.now()),
            "timeZone": tz,
            "accessRole": "owner",
            "defaultReminders": _DEFAULT_REMINDERS if calendar.get("_primary") else [],
            "items": [self._shown(e, calendar) for e in chunk],
        }
        return Response.json(200, body | ({"nextPageToken": next_token} if next_token else {}))

    @staticmethod
    def _matches(event: dict[str, Any], q: dict[str, str], updated_min: Any) -> bool:
        properties = event.get("extendedProperties") or {}
        for param, kind in (("privateExtendedProperty", "private"), ("sharedExtendedProperty", "shared")):
            if param in q:
                name, _, value = q[param].partition("=")
                if (properties.get(kind) or {}).get(name) != value:
                    return False
        if "iCalUID" in q and event.get("iCalUID") != q["iCalUID"]:
            return False
        if "q" in q:
            text = json.dumps([event.get(k) for k in ("summary", "description", "location", "attendees")]).lower()
            if not all(term in text for term in q["q"].lower().split()):
                return False
        return updated_min is None or g.parse_instant(event["updated"]) >= updated_min
