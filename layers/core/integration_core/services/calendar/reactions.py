"""What the calendar does when other capabilities' events happen (its internal event handlers):

- `student_enrolled`: the student's classes of the course appear in their calendar;
- `student_unenrolled`: they go (cancelled);
- `course_schedule_changed`: every enrolled, connected student's calendar (and the teacher's, when
  connected) follows the added, moved and cancelled sessions;
- `join_link_ready` (video): the named users' events of the course get their video link.

A user without a connection, or with a broken one, is skipped quietly: the event is handled, not
retried (a broken grant stays broken until the user connects again, so a retry would only ask Google
again for nothing). A Google outage raises, and SQS delivers the event again later. The writes are
upserts keyed by (user, session), so a repeated delivery changes nothing.

Run by CalendarEventsFunction from its queue (template.yaml: CalendarEventsRule lists these types).
"""

from __future__ import annotations

from integration_core.domain.calendar import ConnectionBroken, NotConnected
from integration_core.internal_events import InternalEvent, Reaction, consumer
from integration_core.observability import logger
from integration_core.services.calendar import deps, sync

CALENDAR = consumer("calendar")


def _sync(user_ids: list[str], course_id: str, *, removed: bool = False) -> None:
    course = deps.directory().course(course_id)
    if course is None:
        return  # deleted meanwhile
    connected, _ = sync._connected(user_ids)
    for user_id in connected:
        try:
            done = sync.sync_user_course(user_id, course, removed=removed)
        except (NotConnected, ConnectionBroken):
            continue  # revoked or broken meanwhile
        logger.info(
            "calendar followed the course",
            extra={"course_id": course_id, "synced": done.synced, "cancelled": done.cancelled},
        )


@CALENDAR.on("student_enrolled")
def enrolled(event: InternalEvent, reaction: Reaction) -> None:
    _sync([event.data["studentId"]], event.data["courseId"])


@CALENDAR.on("student_unenrolled")
def unenrolled(event: InternalEvent, reaction: Reaction) -> None:
    _sync([event.data["studentId"]], event.data["courseId"], removed=True)


@CALENDAR.on("course_schedule_changed")
def schedule_changed(event: InternalEvent, reaction: Reaction) -> None:
    course_id = event.data["courseId"]
    course = deps.directory().course(course_id)
    if course is None:
        return
    users = sync.enrolled_students(course_id)
    if course.get("teacher_id"):
        users.append(course["teacher_id"])
    _sync(users, course_id)


@CALENDAR.on("join_link_ready")
def links_ready(event: InternalEvent, reaction: Reaction) -> None:
    _sync(list(event.data["userIds"]), event.data["courseId"])
