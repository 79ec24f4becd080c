"""Events of the API in the user's "Classes" calendar: create, partial update, upcoming.

The calendar is the dedicated one the sync writes too (connection.calendar_of): the app's scope
(`calendar.app.created`) reaches only calendars it created, so the user's own calendars are never
read or touched; see docs/calendar.md for the choice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from integration_core import timeutil
from integration_core.domain.calendar import (
    DEFAULT_DAY_COUNT,
    MAX_DAY_COUNT,
    EventCreate,
    EventTime,
    EventUpdate,
    shown_event,
    utc_iso,
)
from integration_core.errors import invalid
from integration_core.principal import Principal
from integration_core.services.calendar import connection, deps
from integration_core.services.calendar.connection import Access


def _time(value: EventTime, field: str) -> dict[str, Any]:
    try:
        return value.google()
    except ValueError as problem:
        raise invalid(field, str(problem)) from None


def _zone_of(data: EventCreate | EventUpdate) -> str:
    start = getattr(data, "start", None)
    return (start.time_zone if start else None) or "UTC"


def create_event(principal: Principal, data: EventCreate) -> dict[str, Any]:
    user_id = connection._owner(principal)
    body: dict[str, Any] = {
        "summary": data.title,
        "start": _time(data.start, "start"),
        "end": _time(data.end, "end"),
    }
    if data.description is not None:
        body["description"] = data.description
    if data.location is not None:
        body["location"] = data.location
    if data.attendees:
        body["attendees"] = [{"email": str(a)} for a in data.attendees]

    def insert(current: Access) -> dict[str, Any]:
        calendar_id = connection.calendar_of(current, _zone_of(data))
        return deps.provider().insert_event(current.token, calendar_id, body)

    return shown_event(connection.with_access(user_id, insert))


def update_event(principal: Principal, event_id: str, data: EventUpdate) -> dict[str, Any]:
    user_id = connection._owner(principal)
    given = data.model_fields_set
    changes: dict[str, Any] = {}
    if "title" in given and data.title is not None:
        changes["summary"] = data.title
    if "description" in given:
        changes["description"] = data.description
    if "location" in given:
        changes["location"] = data.location
    if "start" in given and data.start is not None:
        changes["start"] = _time(data.start, "start")
    if "end" in given and data.end is not None:
        changes["end"] = _time(data.end, "end")
    if "attendees" in given and data.attendees is not None:
        changes["attendees"] = [{"email": str(a)} for a in data.attendees]
    if "status" in given and data.status is not None:
        changes["status"] = data.status
    if not changes:
        raise invalid("body", "name at least one field to change")

    def patch(current: Access) -> dict[str, Any]:
        calendar_id = connection.calendar_of(current, _zone_of(data))
        return deps.provider().patch_event(current.token, calendar_id, event_id, changes)

    return shown_event(connection.with_access(user_id, patch))


def upcoming(principal: Principal, day_count: int = DEFAULT_DAY_COUNT) -> dict[str, Any]:
    user_id = connection._owner(principal)
    if not 1 <= day_count <= MAX_DAY_COUNT:
        raise invalid("dayCount", f"1 to {MAX_DAY_COUNT}")
    now = timeutil.utc_now()
    time_min, time_max = utc_iso(now), utc_iso(now + timedelta(days=day_count))

    def listed(current: Access) -> list[dict[str, Any]]:
        if not current.calendar_id:
            return []  # nothing written yet: no calendar either
        return deps.provider().list_events(current.token, current.calendar_id, time_min, time_max)

    items = connection.with_access(user_id, listed)
    return {"items": [shown_event(e) for e in items if e.get("status") != "cancelled"], "day_count": day_count}
