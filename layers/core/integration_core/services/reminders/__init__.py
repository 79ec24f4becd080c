"""Class reminders: one EventBridge Scheduler schedule per class session and reminder offset, kept
matching the course's sessions.

`sync_course` (on demand, `POST /google-calendar/sync-reminders/{courseId}`, and on each
`course_schedule_changed`, services.reminders.reactions) reads the course's scheduled sessions and
what was scheduled before, and creates, moves (UpdateSchedule) or deletes schedules to match
(domain.reminders.plan): a repeat changes nothing, and no schedule is created whose time has come.
When one fires, services.reminders.firing tells each enrolled student."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from integration_core import timeutil
from integration_core.adapters.scheduler import Calls, Schedules, Target
from integration_core.domain.reminders import Plan, Reminder, plan, wanted
from integration_core.errors import Forbidden, NotFound
from integration_core.observability import logger
from integration_core.principal import Principal, Role
from integration_core.reminder_config import reminder_settings
from integration_core.stores import directory as directory_store
from integration_core.stores import reminders as reminder_store


def _store() -> reminder_store.ReminderStore:
    return reminder_store.store()


def _directory() -> directory_store.DirectoryStore:
    return directory_store.store()


def _schedules(calls: Calls) -> Schedules:
    config = reminder_settings()
    return Schedules(config.schedule_group, Target(config.target_arn, config.scheduler_role_arn), calls)


@dataclass
class SyncResult:
    course_id: str
    created: int = 0
    moved: int = 0
    deleted: int = 0
    unchanged: int = 0
    scheduler_calls: int = 0
    reminders: list[Reminder] = field(default_factory=list)


def _course(course_id: str) -> dict[str, Any]:
    course = _directory().course(course_id, consistent=True)
    if course is None:
        raise NotFound(f"course {course_id} does not exist")
    return course


def sync_course(course_id: str, changed_ids: tuple[str, ...] = ()) -> SyncResult:
    """Make the course's schedules match its scheduled sessions now. A course that no longer exists
    keeps no schedules. `changed_ids` (an event's sessions) are read again from the table itself:
    the index the listing comes from may not show a move or a cancellation made a moment ago."""
    directory = _directory()
    store = _store()
    now = timeutil.utc_now()
    course = directory.course(course_id, consistent=True)
    sessions = {s["id"]: s for s in directory.all_sessions(course_id)} if course else {}
    for session_id in changed_ids if course else ():
        current = directory.session(course_id, session_id)
        if current is None:
            sessions.pop(session_id, None)
        else:
            sessions[session_id] = current
    want = wanted(course_id, sessions.values(), reminder_settings().offsets_minutes, now)
    steps: Plan = plan(want, store.recorded(course_id), now)
    calls = Calls()
    schedules = _schedules(calls)
    for reminder in steps.create:
        schedules.create(reminder.name, reminder.expression, reminder.input())
        store.record(reminder)
    for reminder in steps.update:
        schedules.update(reminder.name, reminder.expression, reminder.input())
        store.record(reminder)
    for reminder in steps.delete:
        schedules.delete(reminder.name)
        store.forget(reminder)
    for reminder in steps.expired:
        store.forget(reminder)
    result = SyncResult(
        course_id=course_id,
        created=len(steps.create),
        moved=len(steps.update),
        deleted=len(steps.delete),
        unchanged=len(steps.unchanged),
        scheduler_calls=calls.total,
        reminders=sorted(want.values(), key=lambda r: (r.fire_at, r.session_id)),
    )
    logger.info(
        "reminders synced",
        extra={
            "course_id": course_id,
            "schedules_created": result.created,
            "schedules_moved": result.moved,
            "schedules_deleted": result.deleted,
            "scheduler_calls": result.scheduler_calls,
        },
    )
    return result


def sync_reminders(principal: Principal, course_id: str) -> SyncResult:
    """The original's "sync class reminders (course)": admins only."""
    principal.require(Role.ADMIN)
    _course(course_id)
    return sync_course(course_id)


def list_reminders(principal: Principal, course_id: str) -> list[Reminder]:
    """The course's reminders still to fire, soonest first: admins and the course's teacher."""
    principal.require(Role.ADMIN, Role.TEACHER)
    course = _course(course_id)
    if principal.role is Role.TEACHER and not principal.owns(course["teacher_id"]):
        raise Forbidden("you may only see the reminders of courses you teach")
    now = timeutil.utc_now()
    upcoming = [r for r in _store().recorded(course_id).values() if timeutil.parse_iso(r.fire_at) > now]
    return sorted(upcoming, key=lambda r: (r.fire_at, r.session_id))


def next_due(course_ids: list[str]) -> Reminder | None:
    """The soonest reminder still to fire among these courses (a user's sync status shows it)."""
    now = timeutil.utc_now()
    store = _store()
    upcoming = [
        r for course_id in course_ids for r in store.recorded(course_id).values() if timeutil.parse_iso(r.fire_at) > now
    ]
    return min(upcoming, key=lambda r: (r.fire_at, r.session_id), default=None)
