"""A course's meeting: created once (a pending record with our reference first, so that a retry
after a crash finds the provider's meeting again instead of making a second), its occurrences
matched to the course's sessions, students registered with personal join links, details, end,
delete, recordings and attendance. Admins manage; the course's teacher reads and ends; a student
reads the meeting of a course they are enrolled in (and gets their own join link).

Each link is also written where the capabilities that show classes find it (stores.join_links: a
student's personal link, the meeting's link for the course's teacher), and `join_link_ready` says
whose appeared, so calendars follow."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from integration_core import timeutil
from integration_core.adapters.dynamodb import ConditionFailed
from integration_core.domain import video as rules
from integration_core.errors import Forbidden, NotFound, Unprocessable, invalid
from integration_core.ids import stable_id
from integration_core.ports.video import MeetingRequest, ProviderMeeting, VideoProvider
from integration_core.principal import Principal, Role
from integration_core.stores import directory as directory_store
from integration_core.stores import join_links as join_link_store
from integration_core.stores import video as video_store
from integration_core.video_config import video_settings

ADAPTERS = {"zoom": "integration_core.adapters.zoom_api"}


def adapter(provider: str) -> VideoProvider:
    module = importlib.import_module(ADAPTERS[provider])
    return module.ADAPTER  # type: ignore[no-any-return]


def _store() -> video_store.VideoStore:
    return video_store.store()


def _directory() -> directory_store.DirectoryStore:
    return directory_store.store()


def _links() -> join_link_store.JoinLinkStore:
    return join_link_store.store()


def _publish(event_type: str, data: dict[str, Any], event_id: str) -> None:
    """An event of video's own (its id derived from what caused it: a repeat publishes it once)."""
    from integration_core.services import events

    events.publish_event(event_type, data, event_id=event_id, cause="video")


def _link_record(meeting: dict[str, Any], join_url: str) -> dict[str, Any]:
    return {
        "join_url": join_url,
        "meeting_id": meeting["id"],
        "provider": meeting["provider"],
        "updated_at": timeutil.iso_utc(timeutil.utc_now()),
    }


def _links_ready(meeting: dict[str, Any], user_ids: list[str], *cause: str) -> None:
    if not user_ids:
        return
    data = {
        "courseId": meeting["course_id"],
        "meetingId": meeting["id"],
        "provider": meeting["provider"],
        "userIds": sorted(user_ids),
    }
    _publish("join_link_ready", data, stable_id("event", "join_link_ready", meeting["id"], *cause))


def meeting_id_of(course_id: str) -> str:
    return stable_id("meeting", course_id)


def _course(course_id: str) -> dict[str, Any]:
    course = _directory().course(course_id, consistent=True)
    if course is None:
        raise invalid("courseId", f"course {course_id} does not exist")
    return course


def _may_manage(principal: Principal) -> None:
    principal.require(Role.ADMIN, Role.SERVICE)


def _may_read(principal: Principal, meeting: dict[str, Any]) -> None:
    if principal.role in (Role.ADMIN, Role.SERVICE):
        return
    if principal.role is Role.TEACHER and meeting.get("teacher_id") == principal.sub:
        return
    if principal.role is Role.STUDENT and _directory().enrollment(principal.sub, meeting["course_id"]):
        return
    raise Forbidden("you may only read the meetings of your own courses")


def _scheduled(course_id: str) -> list[dict[str, Any]]:
    return [s for s in _directory().all_sessions(course_id) if s.get("status", "scheduled") == "scheduled"]


def _request(
    meeting_id: str, course: dict[str, Any], title: str, recording: bool, start: datetime | None, end: datetime | None
) -> tuple[MeetingRequest, list[dict[str, Any]]]:
    sessions = _scheduled(course["id"])
    host = video_settings().default_host
    if course.get("teacher_id"):
        teacher = _directory().person("teacher", course["teacher_id"])
        if teacher and teacher.get("email"):
            host = teacher["email"]
    zone = course.get("time_zone") or "UTC"
    if sessions:
        plan = rules.weekly_plan(sessions, zone)
        if plan is None:
            raise Unprocessable(
                f"course {course['id']}: its sessions follow no weekly rule; an irregular schedule costs one "
                "meeting per session (up to 100 creates a day per host), which is not built yet",
                errors=[{"field": "courseId", "reason": "irregular schedule"}],
            )
        return (
            MeetingRequest(
                meeting_id,
                title,
                host,
                video_settings().default_host,
                plan.start,
                plan.duration_minutes,
                zone,
                recording,
                plan.weekly,
            ),
            sessions,
        )
    if start is None or end is None or end <= start:
        raise invalid("start", "the course has no sessions: give start and end (end after start)")
    minutes = int((end - start).total_seconds() // 60)
    return MeetingRequest(meeting_id, title, host, video_settings().default_host, start, minutes, zone, recording), []


def _provider_fields(found: ProviderMeeting, sessions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "provider_meeting_id": found.provider_id,
        "join_url": found.join_url,
        "host": found.host,
        "start": timeutil.iso_utc(found.start),
        "duration": found.duration_minutes,
        "occurrences": rules.match_occurrences(found.occurrences, sessions),
        "status": "ready",
        "updated_at": timeutil.iso_utc(timeutil.utc_now()),
    }


def create_meeting(
    principal: Principal,
    provider: str,
    *,
    course_id: str,
    title: str,
    start: datetime | None,
    end: datetime | None,
    recording: bool,
) -> dict[str, Any]:
    """The course's meeting (made once): a repeat answers the same meeting."""
    _may_manage(principal)
    course = _course(course_id)
    store = _store()
    meeting_id = meeting_id_of(course_id)
    existing = store.meeting(meeting_id)
    if existing and existing.get("status") == "ready":
        return existing
    request, sessions = _request(meeting_id, course, title, recording, start, end)
    if existing is None:
        store.reserve(
            {
                "id": meeting_id,
                "course_id": course_id,
                "teacher_id": course.get("teacher_id"),
                "provider": provider,
                "topic": title,
                "recording": recording,
                "status": "pending",
                "created_at": timeutil.iso_utc(timeutil.utc_now()),
            }
        )
    found = adapter(provider).ensure_meeting(request)
    meeting = store.store_provider_meeting(meeting_id, provider, _provider_fields(found, sessions))
    registered = register_enrolled(meeting)
    if meeting.get("join_url"):
        # The teacher's link: the meeting's (the host signs in to the provider; its start link
        # carries a short-lived host token and is never stored).
        _links().put(course_id, join_link_store.TEACHER, _link_record(meeting, meeting["join_url"]))
        if meeting.get("teacher_id"):
            registered.append(meeting["teacher_id"])
    _links_ready(meeting, registered, str(meeting["provider_meeting_id"]))
    return meeting


def load(meeting_id: str) -> dict[str, Any]:
    meeting = _store().meeting(meeting_id)
    if meeting is None or meeting.get("status") != "ready":
        raise NotFound(f"meeting {meeting_id} does not exist")
    return meeting


def _by_any_id(meeting_id: str, provider: str) -> dict[str, Any]:
    if meeting_id.startswith("mtg_"):
        return load(meeting_id)
    found = _store().meeting_by_provider(provider, meeting_id)
    if found is None or found.get("status") != "ready":  # a deleted meeting is gone from the API
        raise NotFound(f"meeting {meeting_id} does not exist")
    return found


def details(principal: Principal, provider: str, meeting_id: str) -> dict[str, Any]:
    """What is stored merged with the provider's answer (status, occurrences, settings)."""
    meeting = _by_any_id(meeting_id, provider)
    _may_read(principal, meeting)
    live = adapter(meeting["provider"]).meeting(meeting["provider_meeting_id"])
    shown = {**meeting, "provider_status": live.status, "settings": live.raw_settings}
    shown["occurrence_list"] = [
        {
            "occurrence_id": o.occurrence_id,
            "start": timeutil.iso_utc(o.start),
            "session_id": meeting.get("occurrences", {}).get(o.occurrence_id),
        }
        for o in live.occurrences
    ]
    if principal.role is Role.STUDENT:
        mine = _store().registrant(meeting["id"], principal.sub)
        shown["join_url"] = mine["join_url"] if mine else None
    return shown


def end(principal: Principal, provider: str, meeting_id: str) -> dict[str, Any]:
    meeting = _by_any_id(meeting_id, provider)
    if not (principal.role is Role.TEACHER and meeting.get("teacher_id") == principal.sub):
        _may_manage(principal)
    adapter(meeting["provider"]).end(meeting["provider_meeting_id"])
    return {"meeting_id": meeting["id"], "ended": True}


def course_meetings(course_id: str) -> list[dict[str, Any]]:
    """The meetings of a course (one: the course's meeting id is derived from the course)."""
    found = _store().meeting(meeting_id_of(course_id))
    return [found] if found else []


def delete_for_course(course_id: str, commit: Callable[[list[dict[str, Any]]], None] | None = None) -> int:
    """The course was deleted: each of its meetings deleted at the provider (one the provider no
    longer has counts as deleted), its registrants and everyone's join links removed, and the stored
    meeting marked `deleted` by `commit` (an internal event handler's Reaction.commit, which adds its
    once-per-event marker). Every step may repeat: a redelivery after a failure finishes the job,
    and one after success finds the meeting deleted and does nothing. How many were deleted now."""
    store = _store()
    now = timeutil.iso_utc(timeutil.utc_now())
    operations: list[dict[str, Any]] = []
    for meeting in course_meetings(course_id):
        if meeting.get("status") == video_store.DELETED:
            continue
        if meeting.get("provider_meeting_id"):
            adapter(meeting["provider"]).delete_meeting(meeting["provider_meeting_id"])
        store.remove_registrants(meeting["id"])
        operations += store.deleted_operations(meeting["id"], now)
    _links().remove_course(course_id)
    if not operations:
        return 0
    try:
        (commit or store.db.transact)(operations)
    except ConditionFailed:
        return 0  # marked deleted meanwhile by another delivery
    return len(operations)


# ---------------------------------------------------------------- participants
def _split(name: str) -> tuple[str, str]:
    first, _, last = (name or "").partition(" ")
    return first, last


def register_student(meeting: dict[str, Any], student_id: str, *, announce: bool = False) -> dict[str, Any] | None:
    """The student's registration (made once) and their join link where the directory and calendar
    find it; with `announce`, `join_link_ready` for them (an enrollment after the meeting was made)."""
    store = _store()
    known = store.registrant(meeting["id"], student_id)
    if known is None:
        known = _register(meeting, student_id)
        if known is None:
            return None
    _links().put(meeting["course_id"], student_id, _link_record(meeting, known["join_url"]))
    if announce:
        _links_ready(meeting, [student_id], student_id, known["registrant_id"])
    return known


def _register(meeting: dict[str, Any], student_id: str) -> dict[str, Any] | None:
    store = _store()
    student = _directory().person("student", student_id)
    if student is None:
        return None
    first, last = _split(student.get("name", ""))
    registration = adapter(meeting["provider"]).register(meeting["provider_meeting_id"], student["email"], first, last)
    record = {
        "student_id": student_id,
        "email": student["email"],
        "registrant_id": registration.registrant_id,
        "join_url": registration.join_url,
        "registered_at": timeutil.iso_utc(timeutil.utc_now()),
    }
    store.put_registrant(meeting["id"], student_id, record)
    return record


def register_enrolled(meeting: dict[str, Any]) -> list[str]:
    """Every enrolled student registered; the ids of those who have a link."""
    registered = []
    for enrollment in _directory().all_enrollments_of_course(meeting["course_id"]):
        if register_student(meeting, enrollment["student_id"]) is not None:
            registered.append(enrollment["student_id"])
    return registered


def cancel_student(meeting: dict[str, Any], who: str) -> bool:
    store = _store()
    known = store.registrant(meeting["id"], who)
    if known is None:
        return False
    adapter(meeting["provider"]).cancel(meeting["provider_meeting_id"], known["registrant_id"], known["email"])
    store.remove_registrant(meeting["id"], who)
    if known.get("student_id"):
        _links().remove(meeting["course_id"], known["student_id"])
    return True


def add_participant(principal: Principal, provider: str, meeting_id: str, email: str, name: str) -> dict[str, Any]:
    """Register a person (a guest, or a student by email) and answer their personal join link."""
    _may_manage(principal)
    meeting = _by_any_id(meeting_id, provider)
    email = email.lower()
    store = _store()
    known = store.registrant(meeting["id"], email)
    if known:
        return known
    first, last = _split(name or email.split("@")[0])
    registration = adapter(meeting["provider"]).register(meeting["provider_meeting_id"], email, first, last)
    record = {
        "email": email,
        "registrant_id": registration.registrant_id,
        "join_url": registration.join_url,
        "registered_at": timeutil.iso_utc(timeutil.utc_now()),
    }
    store.put_registrant(meeting["id"], email, record)
    return record


def remove_participant(principal: Principal, provider: str, meeting_id: str, email: str) -> None:
    _may_manage(principal)
    meeting = _by_any_id(meeting_id, provider)
    email = email.lower()
    for registrant in _store().registrants(meeting["id"]):
        if registrant["email"] == email:
            cancel_student(meeting, registrant.get("student_id") or email)
            return
    raise NotFound(f"{email} is not registered for meeting {meeting['id']}")


def participants(principal: Principal, provider: str, meeting_id: str) -> list[dict[str, Any]]:
    meeting = _by_any_id(meeting_id, provider)
    if principal.role is Role.STUDENT:
        raise Forbidden("students see their own join link in the meeting's details")
    _may_read(principal, meeting)
    return _store().registrants(meeting["id"])


# ---------------------------------------------------------------- recordings and attendance
def recordings(principal: Principal, provider: str, meeting_id: str) -> dict[str, Any]:
    meeting = _by_any_id(meeting_id, provider)
    _may_read(principal, meeting)
    for found in adapter(meeting["provider"]).recordings(meeting["provider_meeting_id"]):
        _store().put_recording(meeting["id"], recording_record(meeting, found))
    return {
        "meeting_id": meeting["id"],
        "note": "Zoom's download links need the meeting's download_token or an OAuth token",
        "items": _store().recordings(meeting["id"]),
    }


SESSION_MATCH_SECONDS = 3600  # a class started up to an hour early or late is still that session


def session_at(meeting: dict[str, Any], moment: datetime) -> str | None:
    """The course's session a class started (or ended) at `moment` belongs to, if any: the one whose
    scheduled start or end is nearest within an hour."""
    best: tuple[float, str] | None = None
    for session in _scheduled(meeting["course_id"]):
        for edge in (session["starts_at"], session["ends_at"]):
            gap = abs((moment - datetime.fromisoformat(edge).astimezone(UTC)).total_seconds())
            if gap <= SESSION_MATCH_SECONDS and (best is None or gap < best[0]):
                best = (gap, str(session["id"]))
    return best[1] if best else None


def _session_of(meeting: dict[str, Any], start: str) -> str | None:
    """The session an occurrence (by its start) belongs to."""
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None
    return session_at(meeting, moment)


def recording_record(meeting: dict[str, Any], found: Any) -> dict[str, Any]:
    return {
        "occurrence_uuid": found.occurrence_uuid,
        "start": found.start,
        "duration": found.duration_minutes,
        "session_id": _session_of(meeting, found.start),
        "files": [
            {
                "file_type": f.file_type,
                "size": f.size,
                "play_url": f.play_url,
                "download_url": f.download_url,
                "recording_start": f.recording_start,
                "recording_end": f.recording_end,
            }
            for f in found.files
        ],
    }


def attendance_record(meeting: dict[str, Any], occurrence_uuid: str) -> dict[str, Any]:
    """The occurrence's attendance from the provider's participants report, rejoins merged."""
    provider = adapter(meeting["provider"])
    segments = provider.participants(occurrence_uuid)
    registrants = _store().registrants(meeting["id"])
    by_registrant = {r["registrant_id"]: r["student_id"] for r in registrants if r.get("student_id")}
    by_email = {r["email"]: r["student_id"] for r in registrants if r.get("student_id")}
    attendees = rules.merge(segments, by_email, by_registrant)
    scheduled = int(meeting.get("duration") or 60)
    present = {a.student_id for a in attendees if a.student_id}
    return {
        "occurrence_uuid": occurrence_uuid,
        "scheduled_minutes": scheduled,
        "attendees": [
            {
                "student_id": a.student_id,
                "name": a.name,
                "email": a.email,
                "first_join": timeutil.iso_utc(a.first_join),
                "last_leave": timeutil.iso_utc(a.last_leave) if a.last_leave else None,
                "minutes": str(a.minutes),
                "segments": a.segments,
                "attended_share": str(round(min(1.0, a.minutes / scheduled), 3)) if scheduled else "0",
            }
            for a in attendees
        ],
        "absent": sorted(
            r["student_id"] for r in registrants if r.get("student_id") and r["student_id"] not in present
        ),
    }


def analytics(principal: Principal, provider: str, meeting_id: str) -> dict[str, Any]:
    meeting = _by_any_id(meeting_id, provider)
    if principal.role is Role.STUDENT:
        raise Forbidden("attendance is for the course's teacher and the school")
    _may_read(principal, meeting)
    occurrences = []
    for uuid in adapter(meeting["provider"]).ended_occurrences(meeting["provider_meeting_id"]):
        record = attendance_record(meeting, uuid)
        _store().put_attendance(meeting["id"], record)
        occurrences.append(record)
    return {"meeting_id": meeting["id"], "occurrences": occurrences}


def follow_schedule(meeting: dict[str, Any]) -> dict[str, Any]:
    """The sessions changed: one update of the provider's series, occurrences matched again."""
    course = _course(meeting["course_id"])
    request, sessions = _request(meeting["id"], course, meeting["topic"], bool(meeting.get("recording")), None, None)
    found = adapter(meeting["provider"]).update_meeting(meeting["provider_meeting_id"], request)
    return _store().store_provider_meeting(meeting["id"], meeting["provider"], _provider_fields(found, sessions))
