"""Class reminders of a course: sync them with its sessions (the original's "sync class reminders
(course)") and list those still to fire. Thin: the rules live in integration_core.services.reminders."""

from __future__ import annotations

from typing import Annotated

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from integration_core.domain.reminders import Reminder
from integration_core.http import caller, make_resolver
from integration_core.ids import id_pattern
from integration_core.models import ApiModel
from integration_core.observability import lambda_handler
from integration_core.services import reminders

app = make_resolver()

CourseId = Annotated[str, Path(pattern=id_pattern("course"))]


class ClassReminder(ApiModel):
    session_id: str
    offset_minutes: int = Field(description="Minutes before the session starts")
    fire_at: str = Field(description="When the reminder goes out (UTC)")
    session_starts_at: str = Field(description="The session's start it was planned for (UTC)")
    session_version: int
    schedule_name: str = Field(description="The EventBridge Scheduler schedule, in the stack's group")


class CourseReminders(ApiModel):
    course_id: str
    items: list[ClassReminder]


class RemindersSynced(ApiModel):
    course_id: str
    created: int = Field(description="Schedules created")
    moved: int = Field(description="Schedules moved (a session moved, or its version changed)")
    deleted: int = Field(description="Schedules deleted (a session cancelled or gone)")
    unchanged: int
    scheduler_calls: int
    items: list[ClassReminder] = Field(description="Every reminder still to fire, soonest first")


def _out(reminder: Reminder) -> ClassReminder:
    return ClassReminder(
        session_id=reminder.session_id,
        offset_minutes=reminder.offset_minutes,
        fire_at=reminder.fire_at,
        session_starts_at=reminder.starts_at,
        session_version=reminder.version,
        schedule_name=reminder.name,
    )


@app.post(
    "/google-calendar/sync-reminders/<courseId>",
    tags=["calendar"],
    summary="Sync a course's class reminders with its sessions (admin)",
)
def sync_reminders(courseId: CourseId) -> RemindersSynced:
    result = reminders.sync_reminders(caller(app), courseId)
    return RemindersSynced(
        course_id=result.course_id,
        created=result.created,
        moved=result.moved,
        deleted=result.deleted,
        unchanged=result.unchanged,
        scheduler_calls=result.scheduler_calls,
        items=[_out(r) for r in result.reminders],
    )


@app.get(
    "/google-calendar/reminders/<courseId>",
    tags=["calendar"],
    summary="A course's class reminders still to fire (admin, the course's teacher)",
)
def list_reminders(courseId: CourseId) -> CourseReminders:
    return CourseReminders(course_id=courseId, items=[_out(r) for r in reminders.list_reminders(caller(app), courseId)])


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
