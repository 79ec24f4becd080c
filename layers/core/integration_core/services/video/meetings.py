"""A course's meeting: created once (a pending record with our reference first, so that a retry
after a crash finds the provider's meeting again instead of making a second), its occurrences
matched to the course's sessions, students registered with personal join links, details, end,
delete, recordings and attendance. Admins manage; the course's teacher reads and ends; a student
reads the meeting of a course they are enrolled in (and gets their own join link)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any

from integration_core import timeutil
from integration_core.domain import video as rules
from integration_core.errors import Forbidden, NotFound, Unprocessable, invalid
from integration_core.ids import stable_id
from integration_core.ports.video import MeetingRequest, ProviderMeeting, VideoProvider
from integration_core.principal import Principal, Role
from integration_core.stores import directory as directory_store
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
    register_enrolled(meeting)
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
    if found is None:
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


def delete_for_course(course_id: str) -> None:
    meeting = _store().meeting(meeting_id_of(course_id))
    if meeting is None:
        return
    if meeting.get("provider_meeting_id"):
        adapter(meeting["provider"]).delete(meeting["provider_meeting_id"])
    _store().delete_meeting(meeting)


# ---------------------------------------------------------------- participants
def _split(name: str) -> tuple[str, str]:
    first, _, last = (name or "").partition(" ")
    return first, last


def register_student(meeting: dict[str, Any], student_id: str) -> dict[str, Any] | None:
    store = _store()
    known = store.registrant(meeting["id"], student_id)
    if known is not None:
        return known
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


def register_enrolled(meeting: dict[str, Any]) -> None:
    for enrollment in _directory().all_enrollments_of_course(meeting["course_id"]):
        register_student(meeting, enrollment["student_id"])


def cancel_student(meeting: dict[str, Any], who: str) -> bool:
    store = _store()
    known = store.registrant(meeting["id"], who)
    if known is None:
        return False
    adapter(meeting["provider"]).cancel(meeting["provider_meeting_id"], known["registrant_id"], known["email"])
    store.remove_registrant(meeting["id"], who)
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
