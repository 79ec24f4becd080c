"""GET /google-calendar/status: connected or not, the Google account, the last sync, the events in
the calendar, the broken reason, and the next reminder due (the earliest `start - offset` still
ahead over the synced classes and the template's CalendarReminderMinutes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from integration_core import timeutil
from integration_core.calendar_config import calendar_settings
from integration_core.principal import Principal
from integration_core.services.calendar import deps
from integration_core.stores.calendar import BROKEN, CONNECTED


def next_reminder_at(records: list[dict[str, Any]], offsets: tuple[int, ...]) -> str | None:
    now = timeutil.utc_now()
    due = [
        timeutil.parse_iso(r["starts_at"]) - timedelta(minutes=m)
        for r in records
        if r.get("status") == "confirmed" and r.get("starts_at")
        for m in offsets
    ]
    ahead = [d for d in due if d > now]
    return timeutil.iso_utc(min(ahead)) if ahead else None


def status(principal: Principal, user_id: str | None = None) -> dict[str, Any]:
    user_id = user_id or principal.sub
    principal.require_owner_or_admin(user_id)
    store = deps.store()
    found = store.connection(user_id, consistent=False)
    if found is None:
        return {"user_id": user_id, "connected": False, "status": "not_connected"}
    state = found.get("status", CONNECTED)
    reminder = None
    if state == CONNECTED:
        reminder = next_reminder_at(store.synced_events(user_id), calendar_settings().reminder_minutes)
    return {
        "user_id": user_id,
        "connected": state == CONNECTED,
        "status": state,
        "email": found.get("email"),
        "last_synced_at": found.get("last_synced_at"),
        "event_count": int(found.get("event_count", 0)),
        "broken_reason": found.get("broken_reason") if state == BROKEN else None,
        "authentication_date": found.get("authenticated_at"),
        "next_reminder_at": reminder,
    }
