"""EventBridge schedule expressions: `at(...)`, `rate(...)` and the six-field `cron(...)`, evaluated
in a schedule's IANA time zone. `next_fire(expression, after, tz)` is all the scheduler needs.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_MONTHS = {
    m: i
    for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}  # AWS: SUN=1
_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


class ScheduleExpressionError(ValueError):
    pass


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    result: set[int] = set()
    for part in field.split(","):
        for name, number in (names or {}).items():
            part = re.sub(rf"\b{name}\b", str(number), part.upper())
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
            if part in ("*", ""):
                part = f"{low}-{high}"
            elif "-" not in part:
                part = f"{part}-{high}"
        if part == "*":
            start, end = low, high
        elif "-" in part:
            start_text, end_text = part.split("-")
            start, end = int(start_text), int(end_text)
        else:
            start = end = int(part)
        if not (low <= start <= high and low <= end <= high):
            raise ScheduleExpressionError(f"{field!r} is out of range {low}-{high}")
        result.update(range(start, end + 1, step))
    return result


class Cron:
    """cron(minutes hours day-of-month month day-of-week year), AWS flavour (one of dom/dow is '?')."""

    def __init__(self, body: str) -> None:
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleExpressionError(f"cron needs 6 fields, got {len(fields)}: {body!r}")
        minute, hour, dom, month, dow, year = fields
        self.minutes = sorted(_values(minute, 0, 59))
        self.hours = sorted(_values(hour, 0, 23))
        self.months = _values(month, 1, 12, _MONTHS)
        self.years = None if year == "*" else _values(year, 1970, 2199)
        self.dom, self.dow = dom.upper(), dow.upper()
        if "W" in self.dom:
            raise ScheduleExpressionError("cron day-of-month 'W' is not supported offline")

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        last_day = calendar.monthrange(day.year, day.month)[1]
        if self.dom not in ("?", "*"):
            if self.dom == "L":
                return day.day == last_day
            return day.day in _values(self.dom, 1, 31)
        if self.dow in ("?", "*"):
            return True
        aws_dow = (day.isoweekday() % 7) + 1  # Python Monday=1..Sunday=7 -> AWS Sunday=1..Saturday=7
        if "#" in self.dow:
            wanted, nth = self.dow.split("#")
            return aws_dow == next(iter(_values(wanted, 1, 7, _DAYS))) and (day.day - 1) // 7 + 1 == int(nth)
        if self.dow.endswith("L"):
            wanted = next(iter(_values(self.dow[:-1] or "7", 1, 7, _DAYS)))
            return aws_dow == wanted and day.day + 7 > last_day
        return aws_dow in _values(self.dow, 1, 7, _DAYS)

    def next_after(self, after: datetime) -> datetime | None:
        """The first matching wall-clock minute strictly after `after` (naive, in the schedule's zone)."""
        day = after.replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(366 * 5):
            if self._day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate > after:
                            return candidate
            day += timedelta(days=1)
        return None


def parse_rate(body: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+)\s+(\w+)\s*", body)
    if not match or match.group(2) not in _RATE_UNITS or int(match.group(1)) < 1:
        raise ScheduleExpressionError(f"bad rate expression: rate({body})")
    return timedelta(seconds=int(match.group(1)) * _RATE_UNITS[match.group(2)])


def validate(expression: str) -> None:
    next_fire(expression, datetime.now(UTC), "UTC", datetime.now(UTC))


def next_fire(expression: str, after: datetime, timezone: str, anchor: datetime) -> datetime | None:
    """When `expression` fires next strictly after `after` (aware, UTC); `anchor` starts rate()s.

    Returns None when it never fires again (an `at` in the past, a cron with no future match).
    """
    match = re.fullmatch(r"\s*(at|rate|cron)\((.*)\)\s*", expression)
    if not match:
        raise ScheduleExpressionError(f"unknown schedule expression {expression!r}")
    kind, body = match.groups()
    zone = ZoneInfo(timezone or "UTC")
    if kind == "at":
        try:
            when = datetime.fromisoformat(body.strip()).replace(tzinfo=zone).astimezone(UTC)
        except ValueError as exc:
            raise ScheduleExpressionError(f"bad at expression: {expression}") from exc
        return when if when > after else None
    if kind == "rate":
        period = parse_rate(body)
        if after < anchor:
            return anchor + period
        periods = int((after - anchor) / period) + 1
        return anchor + periods * period
    local_after = after.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    candidate = Cron(body).next_after(local_after)
    if candidate is None:
        return None
    fire = candidate.replace(tzinfo=zone).astimezone(UTC)
    return fire if fire > after else Cron(body).next_after(candidate).replace(tzinfo=zone).astimezone(UTC)  # type: ignore[union-attr]
