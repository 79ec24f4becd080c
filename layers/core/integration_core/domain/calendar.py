"""The calendar capability's rules and shapes: Google event ids derived from (user, session), the
event a class session becomes, the request and response models of /google-calendar, and its errors.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import EmailStr, Field, field_validator

from integration_core import timeutil
from integration_core.errors import Conflict
from integration_core.models import ApiModel, RequestModel, unchanged_if_absent

CALENDAR_NAME = "Classes"
# Google's rule for client-chosen event ids: base32hex characters (a-v, 0-9), 5 to 1024 long.
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
MAX_DAY_COUNT = 365
DEFAULT_DAY_COUNT = 30
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32HEX = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
_TO_HEX = str.maketrans(_B32, _B32HEX)


class NotConnected(Conflict):
    """The user has no Google Calendar connection (never made, or revoked)."""


class ConnectionBroken(Conflict):
    """Google refused the user's grant (invalid_grant): nothing is called until they connect again."""


def event_id(user_id: str, session_id: str) -> str:
    """The Google event id of a session in a user's calendar: base32hex (lowercase, no padding) of
    SHA-256 over (user, session), 52 characters. The same pair always gives the same id, so an
    insert that repeats is a 409, never a second event."""
    digest = hashlib.sha256(f"{user_id}\x1f{session_id}".encode()).digest()
    return base64.b32encode(digest).decode().translate(_TO_HEX).rstrip("=").lower()


def is_event_id(value: str) -> bool:
    return bool(EVENT_ID.fullmatch(value))


def _wall_time(utc_iso: str, zone: str) -> str:
    """A UTC instant as the zone's wall clock ("2026-03-09T18:00:00"): with `timeZone` next to it,
    Google places the event by the zone's rules, so an 18:00 class stays 18:00 across DST."""
    moment = timeutil.parse_iso(utc_iso).astimezone(ZoneInfo(zone))
    return moment.replace(tzinfo=None, microsecond=0).isoformat()


def session_event(
    course: dict[str, Any],
    session: dict[str, Any],
    user_id: str,
    reminder_minutes: tuple[int, ...],
    join_url: str | None = None,
) -> dict[str, Any]:
    """The Google event of a scheduled class session (all its fields: an insert, or the patch that
    brings an existing one up to date). The user's video link, when they have one, is the event's
    location (calendar apps make it a link) and a line of its description."""
    zone = session.get("time_zone") or course.get("time_zone") or "UTC"
    joining = f"\n\nJoin the class: {join_url}" if join_url else ""
    event: dict[str, Any] = {
        "summary": course.get("title") or "Class",
        "description": (course.get("description") or "")[:2000]
        + joining
        + "\n\nScheduled by the school; changes made here are replaced at the next sync.",
        "start": {"dateTime": _wall_time(session["starts_at"], zone), "timeZone": zone},
        "end": {"dateTime": _wall_time(session["ends_at"], zone), "timeZone": zone},
        "status": "confirmed",
        "transparency": "opaque",
        "reminders": {
            "useDefault": False,
            "overrides": [{"method": "popup", "minutes": m} for m in reminder_minutes],
        },
        "extendedProperties": {"private": {"courseId": course["id"], "sessionId": session["id"], "userId": user_id}},
    }
    if join_url:
        event["location"] = join_url
    return event


def utc_iso(moment: datetime) -> str:
    """RFC 3339 as Google takes it in timeMin/timeMax."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- requests
class Authenticate(RequestModel):
    """The code and state Google sent back to the redirect URI. `email` is the original API's field:
    when given, the connected Google account must be that one."""

    code: str = Field(min_length=1, max_length=2048)
    state: str = Field(min_length=16, max_length=256)
    email: EmailStr | None = None


class EventTime(RequestModel):
    """A start or end: `dateTime` with an offset, or a local wall time with `timeZone`."""

    date_time: str = Field(max_length=64, description="RFC 3339, e.g. 2026-03-09T18:00:00-04:00 or 2026-03-09T18:00:00")
    time_zone: str | None = Field(default=None, max_length=64, description="IANA zone, e.g. America/New_York")

    @field_validator("date_time")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("not an RFC 3339 date-time") from None
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not timeutil.is_valid_zone(value):
            raise ValueError("not an IANA time zone")
        return value

    def google(self) -> dict[str, Any]:
        moment = datetime.fromisoformat(self.date_time.replace("Z", "+00:00"))
        if moment.tzinfo is None and self.time_zone is None:
            raise ValueError("a local time needs a timeZone")
        body: dict[str, Any] = {"dateTime": self.date_time}
        if self.time_zone:
            body["timeZone"] = self.time_zone
        return body


class EventCreate(RequestModel):
    multi_line_fields = frozenset({"description"})

    title: str = Field(min_length=1, max_length=1024)
    description: str | None = Field(default=None, max_length=8000)
    start: EventTime
    end: EventTime
    location: str | None = Field(default=None, max_length=1024)
    attendees: list[EmailStr] = Field(default_factory=list, max_length=100)


class EventUpdate(RequestModel):
    """A partial change: what is left out stays; description and location clear with null."""

    multi_line_fields = frozenset({"description"})

    title: str = unchanged_if_absent(min_length=1, max_length=1024)
    description: str | None = Field(default=None, max_length=8000)
    start: EventTime = unchanged_if_absent()
    end: EventTime = unchanged_if_absent()
    location: str | None = Field(default=None, max_length=1024)
    attendees: list[EmailStr] = unchanged_if_absent(max_length=100)
    status: Literal["confirmed", "tentative", "cancelled"] = unchanged_if_absent()


# ---------------------------------------------------------------- answers
class AuthorizationStarted(ApiModel):
    authorization_url: str = Field(description="Send the user here; Google sends them back with code and state")
    state: str
    expires_at: str


class Authenticated(ApiModel):
    """The original's answer without its tokens: they stay encrypted on the server."""

    email: str
    expires_at: str = Field(description="When the current access token expires (it is refreshed on its own)")
    is_authenticated: bool
    authentication_date: str


class CalendarEvent(ApiModel):
    event_id: str
    title: str
    description: str | None = None
    start: str | None = None
    end: str | None = None
    time_zone: str | None = None
    location: str | None = None
    status: str
    attendees: list[str] = Field(default_factory=list)
    html_link: str | None = None


class UpcomingEvents(ApiModel):
    items: list[CalendarEvent]
    day_count: int


class CourseSynced(ApiModel):
    course_id: str
    students: int = Field(description="Calendars synced (students connected to Google)")
    events_synced: int = Field(description="Events of scheduled sessions now in the calendars")
    events_cancelled: int = Field(description="Events of cancelled sessions cancelled by this sync")
    skipped: list[str] = Field(default_factory=list, description="Users not synced: not connected, or broken")


class SyncStatus(ApiModel):
    user_id: str
    connected: bool
    status: Literal["connected", "broken", "not_connected"]
    email: str | None = None
    last_synced_at: str | None = None
    event_count: int = 0
    broken_reason: str | None = None
    authentication_date: str | None = None
    next_reminder_at: str | None = Field(
        default=None, description="The next class's start minus the largest reminder offset (UTC)"
    )


def shown_event(event: dict[str, Any]) -> dict[str, Any]:
    """A Google event as the API shows it."""
    start, end = event.get("start") or {}, event.get("end") or {}
    return {
        "event_id": event["id"],
        "title": event.get("summary") or "",
        "description": event.get("description"),
        "start": start.get("dateTime") or start.get("date"),
        "end": end.get("dateTime") or end.get("date"),
        "time_zone": start.get("timeZone"),
        "location": event.get("location"),
        "status": event.get("status", "confirmed"),
        "attendees": [a["email"] for a in event.get("attendees") or [] if a.get("email")],
        "html_link": event.get("htmlLink"),
    }
