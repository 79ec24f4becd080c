"""The classes of one student or teacher as an RFC 5545 calendar (the secret feed), with icalendar.

Each class session is a VEVENT whose UID derives from the session alone, so a calendar app that
reads the feed again updates the event rather than adding one; DTSTART and DTEND carry the course's
IANA zone as TZID (an 18:00 class stays 18:00 across daylight-saving changes) with a VTIMEZONE for
each zone used; SEQUENCE is the session's version (it goes up with each move or cancellation);
a cancelled session stays in the feed as STATUS:CANCELLED, so apps remove it. Nothing in the body
depends on the time of the request (DTSTAMP is the session's last change): the same classes give
the same bytes, which the feed's ETag is taken from. A session's `join_url` (a video meeting, once
video lands) becomes the event's URL and a line of its description.

icalendar is a dependency of the feed function only (functions/calendar_feed/requirements.in)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone

from integration_core import timeutil

PRODID = "-//English Training Center//Class schedule feed//EN"
UID_DOMAIN = "classes.school-integration"


@dataclass(frozen=True)
class FeedEntry:
    """One session with its course, as the feed shows it."""

    course: dict[str, Any]
    session: dict[str, Any]


def uid(session_id: str) -> str:
    return f"{session_id}@{UID_DOMAIN}"


def _changed_at(entry: FeedEntry) -> datetime:
    stamp = entry.session.get("updated_at") or entry.course.get("updated_at") or entry.course.get("created_at")
    return timeutil.parse_iso(stamp) if stamp else datetime(2000, 1, 1, tzinfo=UTC)


def last_modified(entries: Iterable[FeedEntry]) -> datetime | None:
    """The latest change among the entries (second precision, UTC), None for an empty feed."""
    stamps = [_changed_at(e).astimezone(UTC).replace(microsecond=0) for e in entries]
    return max(stamps) if stamps else None


def _event(entry: FeedEntry) -> Event:
    course, session = entry.course, entry.session
    zone = ZoneInfo(session.get("time_zone") or course["time_zone"])
    event = Event()
    event.add("uid", uid(session["id"]))
    event.add("dtstamp", _changed_at(entry).astimezone(UTC))
    event.add("last-modified", _changed_at(entry).astimezone(UTC))
    event.add("dtstart", timeutil.parse_iso(session["starts_at"]).astimezone(zone))
    event.add("dtend", timeutil.parse_iso(session["ends_at"]).astimezone(zone))
    event.add("summary", course.get("title") or course["id"])
    event.add("sequence", int(session.get("version", 1)))
    cancelled = session.get("status", "scheduled") == "cancelled"
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    description = [course["description"]] if course.get("description") else []
    if session.get("join_url"):
        event.add("url", session["join_url"])
        description.append(f"Join: {session['join_url']}")
    if description:
        event.add("description", "\n\n".join(description))
    if course.get("location"):
        event.add("location", course["location"])
    return event


def render(name: str, entries: list[FeedEntry]) -> bytes:
    """The calendar, named `name` (X-WR-CALNAME), its events in time order."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    ordered = sorted(entries, key=lambda e: (e.session["starts_at"], e.session["id"]))
    zones: dict[str, list[date]] = {}
    for entry in ordered:
        zone = entry.session.get("time_zone") or entry.course["time_zone"]
        zones.setdefault(zone, []).append(timeutil.parse_iso(entry.session["starts_at"]).date())
    for zone, days in sorted(zones.items()):
        # Only the transitions around the classes: a small, stable VTIMEZONE.
        first, last = min(days), max(days)
        calendar.add_component(
            Timezone.from_tzid(zone, first_date=date(first.year - 1, 1, 1), last_date=date(last.year + 1, 12, 31))
        )
    for entry in ordered:
        calendar.add_component(_event(entry))
    return bytes(calendar.to_ical())
