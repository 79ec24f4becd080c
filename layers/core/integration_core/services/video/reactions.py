"""What video does when the directory's events happen (its internal event handlers):
- `student_enrolled` registers the student for the course's meeting (a personal join link, written
  where the directory and calendar find it, and `join_link_ready`);
- `student_unenrolled` cancels that registration;
- `course_schedule_changed` brings the meeting's series up to date with the sessions (one update
  call) and matches the occurrences again;
- `course_deleted` deletes the course's meeting at the provider (already gone is fine), removes its
  registrants and join links and marks the stored meeting `deleted`, once.
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
    meetings.register_student(meeting, event.data["studentId"], announce=True)


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


@VIDEO.on("course_deleted")
def delete_with_course(event: InternalEvent, reaction: Reaction) -> None:
    meetings.delete_for_course(event.data["courseId"], reaction.commit)
