"""Time rules: everything stored in UTC (ISO 8601 with offset); schedules carry an IANA zone and
are expanded in that zone, so a weekly 18:00 class stays at 18:00 local time across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """UTC, second precision, with an explicit offset: 2026-03-02T17:00:00+00:00."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def is_valid_zone(name: str) -> bool:
    # "Local"/"localtime" and bare offsets are not IANA names a calendar can use.
    if name not in _known_zones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_ZONES: set[str] = set()


def _known_zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def to_utc(moment: datetime, zone: str) -> datetime:
    """A naive time is local time in `zone`; an aware one keeps its own offset."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


def weekly_occurrences(
    *,
    zone: str,
    days: list[str],
    start_time: time,
    first_day: date,
    last_day: date | None = None,
    count: int | None = None,
) -> list[datetime]:
    """Start times (UTC) of a weekly rule, expanded in the course's own zone.

    dateutil's rrule keeps the wall-clock time of `dtstart` and attaches the zone to every
    occurrence, and zoneinfo resolves each one's own offset: that is what keeps 18:00 at 18:00.
    """
    from dateutil.rrule import WEEKLY, rrule, weekday  # only the session endpoints need it

    tz = ZoneInfo(zone)
    dtstart = datetime.combine(first_day, start_time, tzinfo=tz)
    until = datetime.combine(last_day, time(23, 59, 59), tzinfo=tz) if last_day else None
    rule = rrule(
        WEEKLY,
        dtstart=dtstart,
        byweekday=[weekday(WEEKDAYS[d]) for d in days],
        until=until,
        count=count,
    )
    return [occurrence.astimezone(UTC) for occurrence in rule]


def add_minutes(moment: datetime, minutes: int) -> datetime:
    return moment + timedelta(minutes=minutes)


def local_iso(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).replace(microsecond=0).isoformat()


def parse_retry_after(value: str | None, now: datetime) -> int | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0, int((moment - now).total_seconds() + 0.999))
