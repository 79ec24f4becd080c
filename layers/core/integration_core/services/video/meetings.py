"""A course's meeting: created once (a pending record with our reference first, so that a retry
after a crash finds the provider's meeting again instead of making a second), its occurrences
matched to the course's sessions, students registered with personal join links, details, end,
delete, recordings and attendance. Admins manage; the course's teacher reads and ends; a student
reads the meeting of a course they are enrolled in (and gets their own join link).

A course whose sessions follow a weekly rule is one recurring meeting where the provider has them
(Zoom); otherwise (an irregular schedule, or a provider without recurring meetings: Teams) it is one
provider meeting per session, all under the course's one meeting record (`session_meetings`, and
`occurrences` maps each provider meeting to its session). Each session's meeting is stored as soon
as it is made, so a retry after a failure (Zoom's daily quota, an outage) resumes where it stopped.

Each link is also written where the capabilities that show classes find it (stores.join_links: a
student's personal link, the meeting's link for the course's teacher; one link per session for one
meeting per session), and `join_link_ready` says whose appeared, so calendars follow."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from integration_core import timeutil
from integration_core.adapters.dynamodb import ConditionFailed
from integration_core.domain import video as rules
from integration_core.errors import DomainError, Forbidden, NotFound, Unprocessable, invalid
from integration_core.ids import stable_id
from integration_core.observability import logger
from integration_core.ports.video import MeetingRequest, ProviderMeeting, VideoProvider
from integration_core.principal import Principal, Role
from integration_core.stores import directory as directory_store
from integration_core.stores import join_links as join_link_store
from integration_core.stores import video as video_store
from integration_core.video_config import video_settings

ADAPTERS = {"zoom": "integration_core.adapters.zoom_api", "teams": "integration_core.adapters.teams_graph"}


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


@dataclass(frozen=True)
class Plan:
    """What the course's schedule costs: one request (a weekly series or a single class), or one
    request per session (`per_session`: (session id, request) pairs)."""

    single: MeetingRequest | None
    per_session: tuple[tuple[str, MeetingRequest], ...]
    sessions: list[dict[str, Any]]


class CannotEnd(DomainError):
    status, slug, title = 409, "provider-cannot-end-meeting", "The provider cannot end a meeting in progress"


def _host(course: dict[str, Any]) -> str:
    host = video_settings().default_host
    if course.get("teacher_id"):
        teacher = _directory().person("teacher", course["teacher_id"])
        if teacher and teacher.get("email"):
            host = teacher["email"]
    return host


def _attendees(provider: VideoProvider, course_id: str) -> tuple[tuple[str, str], ...]:
    """The enrolled students, for a provider whose attendees are set with the meeting."""
    if not provider.attendees_in_meeting:
        return ()
    found = []
    for enrollment in _directory().all_enrollments_of_course(course_id):
        student = _directory().person("student", enrollment["student_id"])
        if student and student.get("email"):
            found.append((str(student["email"]).lower(), str(student.get("name", ""))))
    return tuple(found)


def _minutes(session: dict[str, Any]) -> int:
    start, end = datetime.fromisoformat(session["starts_at"]), datetime.fromisoformat(session["ends_at"])
    return max(1, int((end - start).total_seconds() // 60))


def session_reference(meeting_id: str, session_id: str) -> str:
    return f"{meeting_id}:{session_id}"


def _plan(
    provider: VideoProvider,
    meeting_id: str,
    course: dict[str, Any],
    title: str,
    recording: bool,
    start: datetime | None,
    end: datetime | None,
) -> Plan:
    sessions = _scheduled(course["id"])
    host = _host(course)
    fallback = video_settings().default_host
    zone = course.get("time_zone") or "UTC"
    attendees = _attendees(provider, course["id"])
    if sessions:
        weekly = rules.weekly_plan(sessions, zone) if provider.recurring else None
        if weekly is not None:
            request = MeetingRequest(
                meeting_id,
                title,
                host,
                fallback,
                weekly.start,
                weekly.duration_minutes,
                zone,
                recording,
                weekly.weekly,
                attendees,
            )
            return Plan(request, (), sessions)
        ordered = sorted(sessions, key=lambda s: datetime.fromisoformat(s["starts_at"]).astimezone(UTC))
        each = tuple(
            (
                str(s["id"]),
                MeetingRequest(
                    session_reference(meeting_id, str(s["id"])),
                    title,
                    host,
                    fallback,
                    datetime.fromisoformat(s["starts_at"]).astimezone(UTC),
                    _minutes(s),
                    zone,
                    recording,
                    None,
                    attendees,
                ),
            )
            for s in ordered
        )
        return Plan(None, each, sessions)
    if start is None or end is None or end <= start:
        raise invalid("start", "the course has no sessions: give start and end (end after start)")
    minutes = int((end - start).total_seconds() // 60)
    request = MeetingRequest(meeting_id, title, host, fallback, start, minutes, zone, recording, None, attendees)
    return Plan(request, (), [])


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


def _session_entry(found: ProviderMeeting) -> dict[str, Any]:
    return {
        "provider_meeting_id": found.provider_id,
        "join_url": found.join_url,
        "host": found.host,
        "start": timeutil.iso_utc(found.start),
        "duration": found.duration_minutes,
    }


def _per_session_fields(done: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The course's record over its session meetings: the first session's meeting stands for it."""
    ordered = sorted(done.items(), key=lambda kv: kv[1]["start"])
    first = ordered[0][1]
    return {
        "provider_meeting_id": first["provider_meeting_id"],
        "join_url": first["join_url"],
        "host": first["host"],
        "start": first["start"],
        "duration": first["duration"],
        "per_session": True,
        "occurrences": {entry["provider_meeting_id"]: sid for sid, entry in ordered},
        "status": "ready",
        "updated_at": timeutil.iso_utc(timeutil.utc_now()),
    }


def provider_ids(meeting: dict[str, Any]) -> list[str]:
    """Every provider meeting of the course: one, or one per session."""
    if meeting.get("per_session"):
        return list(meeting.get("occurrences") or {})
    return [meeting["provider_meeting_id"]] if meeting.get("provider_meeting_id") else []


def _ensure_session_meetings(
    provider_name: str, provider: VideoProvider, meeting_id: str, plan: Plan
) -> dict[str, dict[str, Any]]:
    store = _store()
    done: dict[str, dict[str, Any]] = dict((store.meeting(meeting_id) or {}).get("session_meetings") or {})
    for session_id, request in plan.per_session:
        if session_id in done:
            continue
        found = provider.ensure_meeting(request)
        entry = _session_entry(found)
        store.store_session_meeting(
            meeting_id, provider_name, session_id, entry, provider.callback_ids(found.provider_id)
        )
        done[session_id] = entry
        _follow(provider_name, provider, meeting_id, found, request)
    return done


def _follow(provider_name: str, provider: VideoProvider, meeting_id: str, found: ProviderMeeting, request: Any) -> None:
    """The attendance poll after the meeting's scheduled end (where the provider pushes no
    attendance), and subscriptions to its notifications when it starts within a subscription's
    lifetime (later ones are subscribed by the schedule as their start comes near)."""
    end = found.start + timedelta(minutes=found.duration_minutes)
    kinds = subscribe_if_near(provider_name, provider, meeting_id, found.provider_id, found.join_url, found.start, end)
    if provider.polls_attendance:
        _store().put_poll(meeting_id, provider_name, found.provider_id, end + POLL_DELAY, found.join_url, sorted(kinds))


def subscribe_if_near(
    provider_name: str,
    provider: VideoProvider,
    meeting_id: str,
    provider_id: str,
    join_url: str,
    start: datetime,
    end: datetime,
    have: frozenset[str] = frozenset(),
) -> frozenset[str]:
    """Subscriptions for a meeting that starts within a subscription's lifetime, of each kind not
    yet `have`: the kinds it has now. They are kept (renewed) until a day after `end`."""
    minutes = video_settings().graph_subscription_minutes
    if start > timeutil.utc_now() + timedelta(minutes=minutes) - SUBSCRIBE_AHEAD:
        return have
    try:
        made = provider.subscribe(provider_id, join_url, minutes, have)
    except DomainError as error:  # notifications are a convenience: the poll after the end still runs
        logger.warning("video subscription failed", extra={"problem": error.slug})
        return have
    for subscription in made:
        _store().put_subscription(
            subscription.subscription_id,
            {
                "meeting_id": meeting_id,
                "provider": provider_name,
                "provider_meeting_id": provider_id,
                "expires": timeutil.iso_utc(subscription.expires),
                "until": timeutil.iso_utc(end + SUBSCRIPTION_AFTER_END),
                "kind": subscription.kind,
            },
        )
    return have | {s.kind for s in made}


SUBSCRIBE_AHEAD = timedelta(hours=1)  # subscribed while a subscription made now still outlasts the class
POLL_DELAY = timedelta(minutes=15)  # Graph's attendance report appears minutes after the meeting ends
SUBSCRIPTION_AFTER_END = timedelta(days=1)


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
    if existing is not None and existing.get("provider") != provider:
        raise invalid("courseId", f"course {course_id} already has a {existing.get('provider')} meeting")
    video = adapter(provider)
    plan = _plan(video, meeting_id, course, title, recording, start, end)
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
                "session_meetings": {},
                "created_at": timeutil.iso_utc(timeutil.utc_now()),
            }
        )
    if plan.single is None:
        fields = _per_session_fields(_ensure_session_meetings(provider, video, meeting_id, plan))
        meeting = store.store_provider_meeting(meeting_id, provider, fields)
    else:
        found = video.ensure_meeting(plan.single)
        meeting = store.store_provider_meeting(
            meeting_id, provider, _provider_fields(found, plan.sessions), video.callback_ids(found.provider_id)
        )
        _follow(provider, video, meeting_id, found, plan.single)
    registered = register_enrolled(
        meeting, invited=plan.single.attendees if plan.single else plan.per_session[0][1].attendees
    )
    if meeting.get("join_url"):
        # The teacher's link: the meeting's (the host signs in to the provider; its start link
        # carries a short-lived host token and is never stored); one per session's meeting.
        _write_links(meeting, join_link_store.TEACHER, _teacher_record(meeting))
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
    found = load(meeting_id) if meeting_id.startswith("mtg_") else _store().meeting_by_provider(provider, meeting_id)
    if found is None or found.get("provider") != provider or found.get("status") != "ready":
        raise NotFound(f"{provider} meeting {meeting_id} does not exist")  # a deleted meeting is gone from the API
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
    if meeting.get("per_session"):  # one provider meeting per session: what is stored of each
        shown["occurrence_list"] = [
            {
                "occurrence_id": entry["provider_meeting_id"],
                "start": entry["start"],
                "session_id": session_id,
                "join_url": entry["join_url"],
            }
            for session_id, entry in sorted(
                (meeting.get("session_meetings") or {}).items(), key=lambda kv: kv[1]["start"]
            )
        ]
    if principal.role is Role.STUDENT:
        mine = _store().registrant(meeting["id"], principal.sub)
        shown["join_url"] = mine["join_url"] if mine else None
    return shown


def end(principal: Principal, provider: str, meeting_id: str) -> dict[str, Any]:
    meeting = _by_any_id(meeting_id, provider)
    if not (principal.role is Role.TEACHER and meeting.get("teacher_id") == principal.sub):
        _may_manage(principal)
    video = adapter(meeting["provider"])
    if not video.ends_meetings:
        raise CannotEnd(
            f"{video.name} has no operation that ends a meeting in progress (Microsoft Graph offers none for "
            "online meetings). What is possible: the organizer ends it for everyone in Teams (More -> End "
            "meeting); removing a participant (DELETE .../participants/{email}) takes them off the invited "
            "list so they wait in the lobby next time; the meeting's link stops working when the course's "
            "meeting is deleted.",
            provider=meeting["provider"],
            alternatives=["end in the Teams client (organizer)", "remove participants", "delete the meeting"],
        )
    video.end(_current(meeting))
    return {"meeting_id": meeting["id"], "ended": True}


def _current(meeting: dict[str, Any]) -> str:
    """The provider meeting of the class in progress: for one meeting per session, the session
    nearest to now."""
    if not meeting.get("per_session"):
        return str(meeting["provider_meeting_id"])
    now = timeutil.utc_now()
    entries = (meeting.get("session_meetings") or {}).values()
    nearest = min(entries, key=lambda e: abs((datetime.fromisoformat(e["start"]) - now).total_seconds()))
    return str(nearest["provider_meeting_id"])


def course_meetings(course_id: str) -> list[dict[str, Any]]:
    """The meetings of a course: one record (the course's meeting id is derived from the course),
    which holds one provider meeting, or one per session (`all_provider_ids`)."""
    found = _store().meeting(meeting_id_of(course_id))
    return [found] if found else []


def all_provider_ids(meeting: dict[str, Any]) -> list[str]:
    """Every provider meeting made for the record, also those of a creation that stopped half way
    (a pending record's session meetings)."""
    made = [str(e["provider_meeting_id"]) for e in (meeting.get("session_meetings") or {}).values()]
    return list(dict.fromkeys([*provider_ids(meeting), *made]))


def _drop_subscriptions(meeting: dict[str, Any], video: VideoProvider) -> None:
    """The deleted meeting's notification subscriptions (Graph): unsubscribed, their rows dropped.
    One that cannot be unsubscribed now is left to the schedule (it drops it after its `until`)."""
    store = _store()
    for sub in store.subscriptions():
        if sub.get("meeting_id") != meeting["id"]:
            continue
        try:
            video.unsubscribe(sub["subscription_id"])
        except DomainError as error:
            logger.warning("video unsubscribe failed", extra={"problem": error.slug})
            continue
        store.drop_subscription(sub["subscription_id"])


def delete_for_course(course_id: str, commit: Callable[[list[dict[str, Any]]], None] | None = None) -> int:
    """The course was deleted: each of its meetings deleted at the provider (every session's
    meeting where the course has one per session; one the provider no longer has counts as
    deleted), its subscriptions, registrants and everyone's join links removed, and the stored
    meeting marked `deleted` by `commit` (an internal event handler's Reaction.commit, which adds its
    once-per-event marker). Every step may repeat: a redelivery after a failure finishes the job,
    and one after success finds the meeting deleted and does nothing. How many were deleted now."""
    store = _store()
    now = timeutil.iso_utc(timeutil.utc_now())
    operations: list[dict[str, Any]] = []
    for meeting in course_meetings(course_id):
        if meeting.get("status") == video_store.DELETED:
            continue
        video = adapter(meeting["provider"])
        for provider_id in all_provider_ids(meeting):
            video.delete_meeting(provider_id)
        if video.subscription_kinds:
            _drop_subscriptions(meeting, video)
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


def _register(meeting: dict[str, Any], email: str, first: str, last: str) -> dict[str, Any]:
    """Register a person with every provider meeting of the course: their registrant id and join
    link of each (`registrations`); `join_url` is the link of the first (or only) one."""
    video = adapter(meeting["provider"])
    registrations = {}
    for provider_id in provider_ids(meeting):
        found = video.register(provider_id, email, first, last)
        registrations[provider_id] = {"registrant_id": found.registrant_id, "join_url": found.join_url}
    first_one = registrations[meeting["provider_meeting_id"]]
    record: dict[str, Any] = {
        "email": email,
        "registrant_id": first_one["registrant_id"],
        "join_url": first_one["join_url"],
        "registered_at": timeutil.iso_utc(timeutil.utc_now()),
    }
    if meeting.get("per_session"):
        record["registrations"] = registrations
    return record


def _invited_record(meeting: dict[str, Any], email: str) -> dict[str, Any]:
    """A person invited with the meeting itself (attendees_in_meeting): no call of their own."""
    record: dict[str, Any] = {
        "email": email,
        "registrant_id": email,
        "join_url": meeting.get("join_url", ""),
        "registered_at": timeutil.iso_utc(timeutil.utc_now()),
    }
    if meeting.get("per_session"):
        sessions = meeting.get("session_meetings") or {}
        record["registrations"] = {
            e["provider_meeting_id"]: {"registrant_id": email, "join_url": e["join_url"]} for e in sessions.values()
        }
    return record


def _session_links(meeting: dict[str, Any], record: dict[str, Any]) -> dict[str, str]:
    """session id -> join link of a registration (or the teacher's record): one per session's
    meeting, or `*` (every session) for one meeting."""
    if not meeting.get("per_session"):
        return {join_link_store.ALL_SESSIONS: record["join_url"]} if record.get("join_url") else {}
    sessions = meeting.get("occurrences") or {}
    return {
        str(sessions[provider_id]): str(registration["join_url"])
        for provider_id, registration in (record.get("registrations") or {}).items()
        if provider_id in sessions and registration.get("join_url")
    }


def _write_links(meeting: dict[str, Any], who: str, record: dict[str, Any]) -> None:
    for session_id, join_url in _session_links(meeting, record).items():
        _links().put(meeting["course_id"], who, _link_record(meeting, join_url), session_id)


def _teacher_record(meeting: dict[str, Any]) -> dict[str, Any]:
    """The course's teacher joins with the meeting's link (each session meeting's)."""
    sessions = (meeting.get("session_meetings") or {}).values()
    return {
        "join_url": meeting.get("join_url", ""),
        "registrations": {e["provider_meeting_id"]: {"join_url": e["join_url"]} for e in sessions},
    }


def register_student(
    meeting: dict[str, Any], student_id: str, invited: tuple[tuple[str, str], ...] = (), *, announce: bool = False
) -> dict[str, Any] | None:
    """The student's registration (made once) and their join link(s) where the directory and
    calendar find them; with `announce`, `join_link_ready` for them (an enrollment after the
    meeting was made)."""
    store = _store()
    known = store.registrant(meeting["id"], student_id)
    if known is None:
        known = _register_student(meeting, student_id, invited)
        if known is None:
            return None
    _write_links(meeting, student_id, known)
    if announce:
        _links_ready(meeting, [student_id], student_id, known["registrant_id"])
    return known


def _register_student(
    meeting: dict[str, Any], student_id: str, invited: tuple[tuple[str, str], ...]
) -> dict[str, Any] | None:
    store = _store()
    student = _directory().person("student", student_id)
    if student is None:
        return None
    email = str(student["email"]).lower()
    if any(email == address for address, _ in invited):
        record = _invited_record(meeting, email)
    else:
        first, last = _split(student.get("name", ""))
        record = _register(meeting, email, first, last)
    record["student_id"] = student_id
    store.put_registrant(meeting["id"], student_id, record)
    return record


def register_enrolled(meeting: dict[str, Any], invited: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """Every enrolled student registered; the ids of those who have a link."""
    registered = []
    for enrollment in _directory().all_enrollments_of_course(meeting["course_id"]):
        if register_student(meeting, enrollment["student_id"], invited) is not None:
            registered.append(enrollment["student_id"])
    return registered


def cancel_student(meeting: dict[str, Any], who: str) -> bool:
    store = _store()
    known = store.registrant(meeting["id"], who)
    if known is None:
        return False
    video = adapter(meeting["provider"])
    registrations = known.get("registrations") or {meeting["provider_meeting_id"]: known}
    for provider_id, registration in registrations.items():
        video.cancel(provider_id, registration["registrant_id"], known["email"])
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
    record = _register(meeting, email, first, last)
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
    video = adapter(meeting["provider"])
    for provider_id in provider_ids(meeting):
        for found in video.recordings(provider_id):
            _store().put_recording(meeting["id"], recording_record(meeting, found, provider_id))
    return {
        "meeting_id": meeting["id"],
        "note": NOTES.get(meeting["provider"], ""),
        "items": _store().recordings(meeting["id"]),
    }


NOTES = {
    "zoom": "Zoom's download links need the meeting's download_token or an OAuth token",
    "teams": "Graph's recording content URLs need an app token with OnlineMeetingRecording.Read.All",
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


def session_of_provider_meeting(meeting: dict[str, Any], provider_id: str | None) -> str | None:
    """The session a provider meeting is for, when the course has one meeting per session."""
    if not meeting.get("per_session") or not provider_id:
        return None
    return (meeting.get("occurrences") or {}).get(provider_id)


def recording_record(meeting: dict[str, Any], found: Any, provider_id: str | None = None) -> dict[str, Any]:
    return {
        "occurrence_uuid": found.occurrence_uuid,
        "start": found.start,
        "duration": found.duration_minutes,
        "session_id": session_of_provider_meeting(meeting, provider_id) or _session_of(meeting, found.start),
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


def attendance_record(meeting: dict[str, Any], occurrence_uuid: str, provider_id: str | None = None) -> dict[str, Any]:
    """The occurrence's attendance from the provider's participants report, rejoins merged."""
    provider = adapter(meeting["provider"])
    segments = provider.participants(occurrence_uuid)
    registrants = _store().registrants(meeting["id"])
    by_registrant = {r["registrant_id"]: r["student_id"] for r in registrants if r.get("student_id")}
    for r in registrants:  # one registrant id per session meeting
        for registration in (r.get("registrations") or {}).values():
            if r.get("student_id"):
                by_registrant[registration["registrant_id"]] = r["student_id"]
    by_email = {r["email"]: r["student_id"] for r in registrants if r.get("student_id")}
    attendees = rules.merge(segments, by_email, by_registrant)
    session_id = session_of_provider_meeting(meeting, provider_id)
    entry = (meeting.get("session_meetings") or {}).get(session_id or "")
    scheduled = int((entry or meeting).get("duration") or 60)
    present = {a.student_id for a in attendees if a.student_id}
    return {
        "occurrence_uuid": occurrence_uuid,
        "session_id": session_id,
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
    video = adapter(meeting["provider"])
    for provider_id in provider_ids(meeting):
        for uuid in video.ended_occurrences(provider_id):
            record = attendance_record(meeting, uuid, provider_id)
            _store().put_attendance(meeting["id"], record)
            occurrences.append(record)
    return {"meeting_id": meeting["id"], "occurrences": occurrences}


def follow_schedule(meeting: dict[str, Any]) -> dict[str, Any]:
    """The sessions changed: one update of the provider's series, occurrences matched again; for
    one meeting per session: a meeting made for each new session, updated for each moved one,
    deleted for each session gone."""
    course = _course(meeting["course_id"])
    video = adapter(meeting["provider"])
    plan = _plan(video, meeting["id"], course, meeting["topic"], bool(meeting.get("recording")), None, None)
    store = _store()
    if plan.single is not None and not meeting.get("per_session"):
        found = video.update_meeting(meeting["provider_meeting_id"], plan.single)
        return store.store_provider_meeting(meeting["id"], meeting["provider"], _provider_fields(found, plan.sessions))
    if plan.single is not None or not meeting.get("per_session"):
        # A series cannot become meetings per session (nor back) without new join links for all.
        raise Unprocessable(
            f"course {course['id']}: its schedule changed kind (weekly <-> irregular); its meeting stays as it "
            "is: delete the course's meeting and make it again",
            errors=[{"field": "courseId", "reason": "schedule kind changed"}],
        )
    done = dict(meeting.get("session_meetings") or {})
    wanted = dict(plan.per_session)
    for session_id, entry in list(done.items()):
        if session_id not in wanted:
            video.delete_meeting(entry["provider_meeting_id"])
            store.remove_session_meeting(
                meeting["id"], meeting["provider"], session_id, video.callback_ids(entry["provider_meeting_id"])
            )
            _links().remove_session(meeting["course_id"], session_id)
            del done[session_id]
        elif (
            entry["start"] != timeutil.iso_utc(wanted[session_id].start)
            or int(entry["duration"]) != wanted[session_id].duration_minutes
        ):
            found = video.update_meeting(entry["provider_meeting_id"], wanted[session_id])
            done[session_id] = {**_session_entry(found), "join_url": entry["join_url"]}
            store.store_session_meeting(meeting["id"], meeting["provider"], session_id, done[session_id], ())
    done = _ensure_session_meetings(meeting["provider"], video, meeting["id"], plan)
    updated = store.store_provider_meeting(meeting["id"], meeting["provider"], _per_session_fields(done))
    linked: list[str] = []
    new_ids = sorted(p for p in provider_ids(updated) if p not in provider_ids(meeting))
    for registrant in store.registrants(meeting["id"]):  # new sessions' meetings: everyone registered again
        missing = [p for p in provider_ids(updated) if p not in (registrant.get("registrations") or {})]
        if missing:
            first, last = _split(registrant.get("email", ""))
            registrations = dict(registrant.get("registrations") or {})
            for provider_id in missing:
                found_reg = video.register(provider_id, registrant["email"], first, last)
                registrations[provider_id] = {"registrant_id": found_reg.registrant_id, "join_url": found_reg.join_url}
            who = registrant.get("student_id") or registrant["email"]
            store.put_registrant(meeting["id"], who, {**registrant, "registrations": registrations})
            if registrant.get("student_id"):
                _write_links(updated, registrant["student_id"], {**registrant, "registrations": registrations})
                linked.append(registrant["student_id"])
    if new_ids:  # the teacher's links of the new sessions, and everyone's announced
        _write_links(updated, join_link_store.TEACHER, _teacher_record(updated))
        if updated.get("teacher_id"):
            linked.append(updated["teacher_id"])
        _links_ready(updated, linked, "sessions", *new_ids)
    return updated
