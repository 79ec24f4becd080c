"""What the Google emulator's parts share: Google's JSON error shape, its event id rules, RFC 3339
times, and the expansion of recurring events into instances (python-dateutil's rrule over the
event's IANA zone, so a weekly 18:00 stays 18:00 local across daylight-saving changes)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule

from offline.http import Response
from offline.sandbox.base import Abort

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def google_error(
    status: int,
    reason: str,
    message: str,
    domain: str = "global",
    location: str | None = None,
    location_type: str = "parameter",
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    """Google's JSON error: {"error": {"errors": [{domain, reason, message}], "code", "message", "status"}}."""
    item: dict[str, Any] = {"domain": domain, "reason": reason, "message": message}
    if location:
        item |= {"locationType": location_type, "location": location}
    body = {"error": {"errors": [item], "code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}
    return Response.json(status, body, headers)


def fail(status: int, reason: str, message: str, **extra: Any) -> Abort:
    return Abort(google_error(status, reason, message, **extra))


# ------------------------------------------------------------------ ids
_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"


def valid_event_id(event_id: str) -> bool:
    """Google's rule for an id the client chooses: base32hex (a-v, 0-9), 5 to 1024 characters."""
    return bool(_EVENT_ID.fullmatch(event_id))


def new_event_id() -> str:
    return "".join(secrets.choice(_BASE32HEX) for _ in range(26))


# ------------------------------------------------------------------ times
def rfc3339(moment: datetime) -> str:
    """UTC with milliseconds, as Google writes created/updated."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now() -> str:
    return rfc3339(datetime.now(UTC))


def parse_instant(text: str) -> datetime | None:
    """An RFC 3339 time with a mandatory offset (timeMin, timeMax, updatedMin), else None."""
    try:
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def event_time(value: dict[str, Any], default_zone: str) -> datetime:
    """An EventDateTime ({dateTime, timeZone} or {date}) as an aware datetime in its zone."""
    tz = zone(value.get("timeZone") or default_zone) or ZoneInfo("UTC")
    if value.get("date"):
        return datetime.combine(date.fromisoformat(value["date"]), time(), tz)
    moment = datetime.fromisoformat(value["dateTime"].upper().replace("Z", "+00:00"))
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


def shown_time(value: dict[str, Any], default_zone: str) -> dict[str, Any]:
    """An EventDateTime as Google answers it: a dateTime with the offset of its zone on that day."""
    if value.get("date") or not value.get("dateTime"):
        return dict(value)
    shown = {"dateTime": event_time(value, default_zone).isoformat()}
    return shown | ({"timeZone": value["timeZone"]} if value.get("timeZone") else {})


def check_times(event: dict[str, Any]) -> None:
    """Google's 400s for an event's start and end (and its recurrence)."""
    start, end = event.get("start"), event.get("end")
    if not start or not (start.get("date") or start.get("dateTime")):
        raise fail(400, "required", "Missing start time.")
    if not end or not (end.get("date") or end.get("dateTime")):
        raise fail(400, "required", "Missing end time.")
    if bool(start.get("date")) != bool(end.get("date")):
        raise fail(400, "invalid", "Start and end times must either both be date or both be dateTime.")
    for name, value in (("start", start), ("end", end)):
        if value.get("timeZone") and zone(value["timeZone"]) is None:
            raise fail(400, "invalid", f"Invalid time zone definition for {name} time.")
        if value.get("dateTime") and not value.get("timeZone") and parse_instant(value["dateTime"]) is None:
            raise fail(400, "required", f"Missing time zone definition for {name} time.")
    if event.get("recurrence") and not start.get("timeZone") and not start.get("date"):
        raise fail(400, "required", "Missing time zone definition for start time.")
    if event_time(end, "UTC") < event_time(start, "UTC"):
        raise fail(400, "timeRangeEmpty", "The specified time range is empty.", location="end.dateTime")
    if event.get("recurrence"):
        try:
            recurrence_set(event, event_time(start, "UTC"))
        except (ValueError, TypeError) as exc:
            raise fail(400, "invalid", "Invalid recurrence rule.") from exc


# ------------------------------------------------------------------ recurrence
def recurrence_set(event: dict[str, Any], first: datetime) -> rrule.rruleset:
    lines = [line for line in event.get("recurrence") or [] if not line.upper().startswith("DTSTART")]
    tz = first.tzinfo
    return rrule.rrulestr("\n".join(lines), dtstart=first, forceset=True, tzids=lambda name: zone(name) or tz)


def instances(event: dict[str, Any], after: datetime | None, before: datetime | None, cap: int = 2500) -> list[dict]:
    """The instances of a recurring event starting in [after - duration, before), as Google lists
    them with singleEvents=true: id "<id>_<UTC start>", recurringEventId, originalStartTime."""
    zone_name = event["start"].get("timeZone", "UTC")
    first = event_time(event["start"], zone_name)
    duration = event_time(event["end"], zone_name) - first
    rules = recurrence_set(event, first)
    low = (after - duration) if after else first
    high = before or (max(first, low) + timedelta(days=730))
    found = []
    for start in rules.xafter(low.astimezone(first.tzinfo), count=cap, inc=True):
        if start >= high:
            break
        if after is not None and start + duration <= after:
            continue
        stamp = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        shown_start = {"dateTime": start.isoformat(), "timeZone": zone_name}
        instance = {k: v for k, v in event.items() if k not in ("recurrence",)}
        instance |= {
            "id": f"{event['id']}_{stamp}",
            "recurringEventId": event["id"],
            "originalStartTime": dict(shown_start),
            "start": shown_start,
            "end": {"dateTime": (start + duration).isoformat(), "timeZone": event["end"].get("timeZone", zone_name)},
        }
        found.append(instance)
    return found


# ------------------------------------------------------------------ paging
def page_token(offset: int, query_key: str) -> str:
    raw = json.dumps({"o": offset, "k": query_key}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page_offset(token: str | None, query_key: str) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["k"] != query_key:
            raise ValueError("another query's token")
        return int(data["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise fail(400, "invalid", "Invalid page token value.", location="pageToken") from exc


def page(items: list[Any], query: dict[str, str], size: int = 250, cap: int = 2500) -> tuple[list[Any], str | None]:
    """One page of `items` for maxResults / pageToken; the next page's token, or None at the end."""
    rest = json.dumps({k: v for k, v in sorted(query.items()) if k not in ("pageToken", "maxResults")})
    key = hashlib.sha256(rest.encode()).hexdigest()[:16]
    size = min(int(query.get("maxResults", size)), cap)
    offset = page_offset(query.get("pageToken"), key)
    chunk = items[offset : offset + size]
    return chunk, (page_token(offset + size, key) if offset + size < len(items) else None)
