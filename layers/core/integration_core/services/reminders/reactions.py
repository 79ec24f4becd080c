"""What the reminders do when other capabilities' events happen (their internal event handlers).

- `course_schedule_changed` (sessions added, moved or cancelled): the course's reminder schedules
  are synced, so a moved class's reminders move and a cancelled one's are deleted. A sync only
  makes the schedules match the sessions, so a redelivered event changes nothing.

Run by RemindersEventsFunction from its queue (template.yaml: RemindersEventsRule lists these
types); see integration_core.internal_events for the delivery, retries and the once-per-event rule."""

from __future__ import annotations

from integration_core.internal_events import InternalEvent, Reaction, consumer
from integration_core.services import reminders

REMINDERS = consumer("reminders")


@REMINDERS.on("course_schedule_changed")
def sync_on_schedule_change(event: InternalEvent, reaction: Reaction) -> None:
    data = event.data
    reminders.sync_course(data["courseId"], tuple(data.get("sessionIds") or ()))
