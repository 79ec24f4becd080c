"""Class reminders as EventBridge Scheduler schedules: which schedules a course's sessions call for,
and what a sync has to create, move or delete to get there (pure: no I/O, no clock of its own).

One one-time schedule per (session, offset): its name derives from both, so a repeat or a retry of
a sync finds the schedule it made before; it fires `offset` minutes before the session starts,
written as `at(yyyy-mm-ddThh:mm:ss)` in UTC (sessions are stored in UTC, expanded in the course's
zone when they were created, so an 18:00 class at a daylight-saving change still gets its reminder
24 h and 1 h before 18:00 local time). A schedule whose time has come is never created."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from integration_core import timeutil

MAX_OFFSET_MINUTES = 28 * 24 * 60  # four weeks before a class at most
DEFAULT_OFFSETS = "1440,60"  # CalendarReminderMinutes\' default: a day and an hour before
MIN_LEAD_SECONDS = 2  # a schedule this close to its time (or past it) is not created
NAME_PREFIX = "reminder-"


class OffsetsError(ValueError):
    """CalendarReminderMinutes is not a list of whole minutes."""


def parse_offsets(raw: str) -> tuple[int, ...]:
    """ "1440,60" -> (1440, 60): distinct whole minutes from 1 to four weeks, largest first."""
    values: set[int] = set()
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        if not text.isdigit() or not 1 <= int(text) <= MAX_OFFSET_MINUTES:
            raise OffsetsError(f"reminder minutes must be whole numbers from 1 to {MAX_OFFSET_MINUTES}: {text!r}")
        values.add(int(text))
    return tuple(sorted(values, reverse=True))


def schedule_name(session_id: str, offset_minutes: int) -> str:
    """Deterministic and within Scheduler's 64 characters ([0-9a-zA-Z-_.]): reminder-ses_..-1440m."""
    return f"{NAME_PREFIX}{session_id}-{offset_minutes}m"


def at_expression(moment: datetime) -> str:
    return f"at({timeutil.parse_iso(timeutil.iso_utc(moment)).strftime('%Y-%m-%dT%H:%M:%S')})"


@dataclass(frozen=True)
class Reminder:
    """One reminder schedule: when it fires and what it tells the reminder function."""

    course_id: str
    session_id: str
    offset_minutes: int
    fire_at: str  # UTC, ISO 8601
    starts_at: str  # the session's start it was planned for (UTC)
    version: int  # the session's version it was planned for

    @property
    def name(self) -> str:
        return schedule_name(self.session_id, self.offset_minutes)

    @property
    def expression(self) -> str:
        return at_expression(timeutil.parse_iso(self.fire_at))

    def input(self) -> dict[str, Any]:
        """The schedule's input: the reminder function re-reads the session and skips a stale one."""
        return {
            "courseId": self.course_id,
            "sessionId": self.session_id,
            "offsetMinutes": self.offset_minutes,
            "version": self.version,
            "startsAt": self.starts_at,
        }

    def same_as(self, other: Reminder) -> bool:
        return (self.fire_at, self.starts_at, self.version) == (other.fire_at, other.starts_at, other.version)


def wanted(
    course_id: str, sessions: Iterable[dict[str, Any]], offsets: Iterable[int], now: datetime
) -> dict[str, Reminder]:
    """The schedules a course's sessions call for now: one per scheduled session and offset whose
    time is still ahead (by more than MIN_LEAD_SECONDS), by name."""
    found: dict[str, Reminder] = {}
    horizon = now + timedelta(seconds=MIN_LEAD_SECONDS)
    for session in sessions:
        if session.get("status", "scheduled") != "scheduled":
            continue
        starts = timeutil.parse_iso(session["starts_at"])
        for offset in offsets:
            fire = starts - timedelta(minutes=offset)
            if fire <= horizon:
                continue
            reminder = Reminder(
                course_id=course_id,
                session_id=session["id"],
                offset_minutes=offset,
                fire_at=timeutil.iso_utc(fire),
                starts_at=session["starts_at"],
                version=int(session.get("version", 1)),
            )
            found[reminder.name] = reminder
    return found


@dataclass
class Plan:
    """What a sync does: create what is missing, update (move) what changed, delete what is no
    longer wanted; `expired` are records of schedules whose time has passed (they fired, or are
    firing, and Scheduler deletes them itself): forgotten, never touched."""

    create: list[Reminder] = field(default_factory=list)
    update: list[Reminder] = field(default_factory=list)
    delete: list[Reminder] = field(default_factory=list)
    expired: list[Reminder] = field(default_factory=list)
    unchanged: list[Reminder] = field(default_factory=list)


def plan(want: dict[str, Reminder], recorded: dict[str, Reminder], now: datetime) -> Plan:
    result = Plan()
    for name, record in sorted(recorded.items()):
        if name in want:
            continue
        if timeutil.parse_iso(record.fire_at) <= now:
            result.expired.append(record)
        else:
            result.delete.append(record)
    for name, reminder in sorted(want.items()):
        before = recorded.get(name)
        if before is None:
            result.create.append(reminder)
        elif timeutil.parse_iso(before.fire_at) <= now:
            # Its earlier schedule fired already (and is gone): a new one for the moved session.
            result.create.append(reminder)
        elif before.same_as(reminder):
            result.unchanged.append(reminder)
        else:
            result.update.append(reminder)
    return result
