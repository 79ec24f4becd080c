"""Video rules without I/O: a course's sessions as one weekly series (or not), occurrences matched to
sessions by their start instant, and a person's join segments merged into one attendee."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from integration_core.ports.video import Occurrence, Segment, Weekly

MAX_OCCURRENCES = 60  # Zoom keeps at most 60 occurrences of a recurring meeting


@dataclass(frozen=True)
class Plan:
    """What a course's schedule costs at a recurring provider: one weekly meeting (`weekly`), or
    None when the sessions follow no weekly rule (one meeting per session: not built yet)."""

    start: datetime
    duration_minutes: int
    weekly: Weekly | None


def _start(session: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(session["starts_at"]).astimezone(UTC)


def _minutes(session: dict[str, Any]) -> int:
    return int(
        (datetime.fromisoformat(session["ends_at"]) - datetime.fromisoformat(session["starts_at"])).total_seconds()
        // 60
    )


def weekly_plan(sessions: list[dict[str, Any]], zone: str) -> Plan | None:
    """One weekly rule that yields exactly these sessions (same local time and length, weekdays
    repeating every week), or None."""
    if not sessions:
        return None
    ordered = sorted(sessions, key=_start)
    tz = ZoneInfo(zone)
    local = [_start(s).astimezone(tz) for s in ordered]
    durations = {_minutes(s) for s in ordered}
    if len(durations) != 1 or len({(m.hour, m.minute) for m in local}) != 1 or len(ordered) > MAX_OCCURRENCES:
        return None
    weekdays = tuple(sorted({m.weekday() for m in local}))
    expected: list[date] = []
    day = local[0].date()
    while len(expected) < len(local):
        if day.weekday() in weekdays:
            expected.append(day)
        day += timedelta(days=1)
    if expected != [m.date() for m in local]:
        return None
    return Plan(_start(ordered[0]), durations.pop(), Weekly(weekdays, 1, len(ordered)))


def match_occurrences(occurrences: tuple[Occurrence, ...], sessions: list[dict[str, Any]]) -> dict[str, str]:
    """occurrence id -> session id, by start instant (both in UTC)."""
    by_start = {_start(s): s["id"] for s in sessions}
    return {o.occurrence_id: by_start[o.start] for o in occurrences if o.start in by_start}


@dataclass(frozen=True)
class Attendee:
    key: str  # the student's id when matched, else the email or name
    student_id: str | None
    name: str
    email: str
    first_join: datetime
    last_leave: datetime | None
    minutes: float
    segments: int


def merge(segments: list[Segment], students: dict[str, str], registrants: dict[str, str]) -> list[Attendee]:
    """One attendee per person: first join, last leave, total minutes over the union of their
    segments (overlaps counted once). Matched to students by registrant id, then email
    (`registrants`: registrant id -> student id; `students`: email -> student id)."""
    by_email = dict(students)
    for s in segments:  # a registrant's other devices (no registrant id) share their email
        if s.registrant_id in registrants and s.email:
            by_email.setdefault(s.email.lower(), registrants[s.registrant_id])
    groups: dict[str, list[Segment]] = {}
    for s in segments:
        student = registrants.get(s.registrant_id) if s.registrant_id else None
        if student is None and s.email:
            student = by_email.get(s.email.lower())
        key = student or s.email.lower() or s.name
        groups.setdefault(key, []).append(s)
    found: list[Attendee] = []
    for key, parts in groups.items():
        parts.sort(key=lambda s: s.joined_at)
        total = 0.0
        end: datetime | None = None
        for part in parts:
            leave = part.left_at or part.joined_at
            if end is None or part.joined_at >= end:
                total += (leave - part.joined_at).total_seconds()
                end = leave
            elif leave > end:
                total += (leave - end).total_seconds()
                end = leave
        leaves = [p.left_at for p in parts if p.left_at]
        student_id = key if key.startswith("stu_") else None
        found.append(
            Attendee(
                key=key,
                student_id=student_id,
                name=parts[0].name,
                email=parts[0].email,
                first_join=parts[0].joined_at,
                last_leave=max(leaves) if leaves else None,
                minutes=round(total / 60, 2),
                segments=len(parts),
            )
        )
    return sorted(found, key=lambda a: a.first_join)
