"""A reminder schedule fires: the reminder function tells each student enrolled in the course.

The session is read again first: a reminder planned for a session since cancelled, moved or
changed (its version or start differ from the schedule's input) does nothing, since the sync that
followed the change has its own schedule. Each student gets one email (SES, from ReminderSender)
and one `class_reminder` event; a marker per (session, offset, version, student), written with
the event in one transaction, makes a reminder that fires twice send once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any, TypeGuard

from integration_core import timeutil
from integration_core.adapters import ses
from integration_core.ids import stable_id
from integration_core.observability import logger
from integration_core.reminder_config import reminder_settings
from integration_core.services import reminders
from integration_core.stores.reminders import Claim, SentKey


@dataclass(frozen=True)
class ReminderInput:
    """The schedule's input (domain.reminders.Reminder.input): ours, so a dataclass checked here
    rather than a pydantic model, whose import alone would be a third of this function's cold start."""

    course_id: str
    session_id: str
    offset_minutes: int
    version: int
    starts_at: str

    @classmethod
    def parse(cls, payload: Any) -> ReminderInput | None:
        """The input, or None when `payload` is not one (texts of 1 to 64 or 40 characters, positive integers)."""
        if not isinstance(payload, dict):
            return None
        course_id, session_id, starts_at = payload.get("courseId"), payload.get("sessionId"), payload.get("startsAt")
        offset_minutes, version = payload.get("offsetMinutes"), payload.get("version")
        if (
            _text(course_id, 64)
            and _text(session_id, 64)
            and _text(starts_at, 40)
            and _count(offset_minutes)
            and _count(version)
        ):
            return cls(course_id, session_id, offset_minutes, version, starts_at)
        return None


def _text(value: object, bound: int) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= bound


def _count(value: object) -> TypeGuard[int]:
    return type(value) is int and value >= 1  # not isinstance: True is an int


@dataclass
class Fired:
    """What one firing did."""

    skipped: str | None = None  # why nothing was sent (stale, cancelled, gone)
    emailed: list[str] = field(default_factory=list)  # student ids
    already_sent: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)  # claimed elsewhere, not sent yet
    events: list[str] = field(default_factory=list)


def _events() -> ModuleType:
    from integration_core.services import events

    return events


def _when(minutes: int) -> str:
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "tomorrow" if days == 1 else f"in {days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "in 1 hour" if hours == 1 else f"in {hours} hours"
    return f"in {minutes} minutes"


def _local(session: dict[str, Any]) -> datetime:
    return timeutil.parse_iso(session["local_starts_at"])


def email_text(
    course: dict[str, Any], session: dict[str, Any], student: dict[str, Any], minutes: int
) -> tuple[str, str]:
    """(subject, body) of one reminder."""
    title = course.get("title") or course["id"]
    local = _local(session)
    ends = timeutil.parse_iso(session["ends_at"]).astimezone(local.tzinfo)
    day = local.strftime("%A %d %B %Y")
    subject = f"Reminder: {title} starts {_when(minutes)}"
    lines = [
        f"Hello {student.get('name') or ''},".replace(" ,", ","),
        "",
        f"Your class {title} starts {_when(minutes)}:",
        f"{day}, {local:%H:%M} to {ends:%H:%M} ({session['time_zone']}).",
    ]
    if session.get("join_url"):
        lines.append(f"Join: {session['join_url']}")
    lines += ["", "See you there."]
    return subject, "\n".join(lines)


def fire(payload: Any) -> Fired:
    given = ReminderInput.parse(payload)
    if given is None:
        logger.error("reminder input is not a reminder; nothing sent")
        return Fired(skipped="bad input")
    directory = reminders._directory()
    session = directory.session(given.course_id, given.session_id)
    if session is None or session.get("status", "scheduled") != "scheduled":
        return _skip(given, "the session is gone or cancelled")
    if int(session.get("version", 1)) != given.version or session["starts_at"] != given.starts_at:
        return _skip(given, "the session changed since this reminder was planned")
    course = directory.course(given.course_id) or {"id": given.course_id}
    students = directory.students(directory.student_ids_of_course(given.course_id))
    store = reminders._store()
    events = _events()
    config = reminder_settings()
    result = Fired()
    for student in students:
        key = SentKey(given.session_id, given.offset_minutes, given.version, student["id"])
        data = {
            "courseId": given.course_id,
            "courseTitle": course.get("title", ""),
            "sessionId": given.session_id,
            "studentId": student["id"],
            "startsAt": session["starts_at"],
            "endsAt": session["ends_at"],
            "localStartsAt": session["local_starts_at"],
            "timeZone": session["time_zone"],
            "minutesBefore": given.offset_minutes,
            "sessionVersion": given.version,
            "joinUrl": session.get("join_url"),
        }
        event_id = stable_id(
            "event", "class_reminder", given.session_id, str(given.offset_minutes), str(given.version), student["id"]
        )
        _, event_ops = events.event_operations(
            store.db, "class_reminder", data, event_id=event_id, cause=f"reminder {given.offset_minutes} min"
        )
        now = timeutil.iso_utc(timeutil.utc_now())
        claim = store.claim(key, now, event_ops)
        if claim is Claim.DONE:
            result.already_sent.append(student["id"])
            continue
        if claim is Claim.BUSY:
            result.in_progress.append(student["id"])
            continue
        subject, body = email_text(course, session, student, given.offset_minutes)
        message_id = ses.send_text(config.sender, student["email"], subject, body)
        store.sent(key, timeutil.iso_utc(timeutil.utc_now()), message_id)
        result.emailed.append(student["id"])
        if claim is Claim.NEW:
            result.events.append(event_id)
    if result.events:
        try:
            events.dispatch(result.events)
        except Exception:
            logger.exception("dispatch failed; the sweeper will deliver", extra={"event_ids": result.events})
    logger.info(
        "reminder sent",
        extra={
            "session_id": given.session_id,
            "offset_minutes": given.offset_minutes,
            "emailed": len(result.emailed),
            "already_sent": len(result.already_sent),
            "in_progress": len(result.in_progress),
        },
    )
    if result.in_progress:
        # Claimed by an invocation that may have died before its email: failing makes Lambda try
        # this asynchronous invocation again (after about 1 and 3 minutes), and a try past the
        # send lease takes the claim over and sends. Returning would end the retries: an email lost.
        raise ReminderInProgress(given.session_id, len(result.in_progress))
    return result


class ReminderInProgress(RuntimeError):
    def __init__(self, session_id: str, students: int) -> None:
        super().__init__(
            f"reminder of session {session_id}: {students} student(s) claimed by another invocation and "
            "not sent yet; fail so that Lambda tries again after the send lease"
        )


def _skip(given: ReminderInput, why: str) -> Fired:
    logger.info("reminder skipped", extra={"session_id": given.session_id, "reason": why})
    return Fired(skipped=why)
