"""What video does when the directory's events happen (its internal event handlers):
- `student_enrolled` registers the student for the course's meeting (a personal join link);
- `student_unenrolled` cancels that registration;
- `course_schedule_changed` brings the meeting's series up to date with the sessions (one update
  call) and matches the occurrences again.
A course without a meeting is left alone. Run by VideoEventsFunction (template: VideoEventsRule)."""

from __future__ import annotations

from integration_core.internal_events import InternalEvent, Reaction, consumer
from integration_core.services.video import meetings

VIDEO = consumer("video")


@VIDEO.on("student_enrolled")
def register_on_enrollment(event: InternalEvent, reaction: Reaction) -> None:
    meeting = meetings._store().meeting(meetings.meeting_id_of(event.data["courseId"]))
    if meeting is None or meeting.get("status") != "ready":
        return
    meetings.register_student(meeting, event.data["studentId"])


@VIDEO.on("student_unenrolled")
def cancel_on_unenrollment(event: InternalEvent, reaction: Reaction) -> None:
    meeting = meetings._store().meeting(meetings.meeting_id_of(event.data["courseId"]))
    if meeting is None or meeting.get("status") != "ready":
        return
    meetings.cancel_student(meeting, event.data["studentId"])


@VIDEO.on("course_schedule_changed")
def follow_schedule(event: InternalEvent, reaction: Reaction) -> None:
    meeting = meetings._store().meeting(meetings.meeting_id_of(event.data["courseId"]))
    if meeting is None or meeting.get("status") != "ready":
        return
    meetings.follow_schedule(meeting)
