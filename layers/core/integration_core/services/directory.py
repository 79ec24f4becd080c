"""The directory: students, teachers, courses, class sessions and enrollments, with who may see
and change what. Admins manage everything; services read everything; teachers read their own
record and courses; students read their own record, courses and enrollments. The catalog shows
published courses to any caller (to anyone at all where the school makes it public).

Every enrollment and unenrollment publishes `student_enrolled` / `student_unenrolled` in the
transaction that writes it (the outbox of services.events), and keeps the course's
`enrolled_count` in the same transaction, so seats left never needs a count of the enrollments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar, overload

from integration_core import timeutil
from integration_core.adapters.dynamodb import ConditionFailed, Table
from integration_core.domain.directory import (
    CatalogCourse,
    ClassSession,
    Course,
    CourseCreate,
    CourseUpdate,
    Enrollment,
    Person,
    PersonCreate,
    PersonUpdate,
    PriceIn,
    SessionsCreate,
    SessionsCreated,
    SessionUpdate,
    Student,
    Teacher,
)
from integration_core.errors import Conflict, Forbidden, NotFound, invalid
from integration_core.ids import new_id, stable_id
from integration_core.models import ApiModel, PageOf
from integration_core.money import MoneyError, parse_amount
from integration_core.observability import logger
from integration_core.principal import Principal, Role
from integration_core.services.enrollments import enrolled_event_operations, unenrolled_event_operations
from integration_core.stores import directory as stores
from integration_core.stores import join_links
from integration_core.stores.common import Listing, Outcome

# The operations a payment composes into its own transaction live in the store; these names stay.
enrollment_operations = stores.enrollment_operations
unenrollment_operations = stores.unenrollment_operations
WITHIN_CAPACITY = stores.WITHIN_CAPACITY
READERS = (Role.ADMIN, Role.SERVICE)
PersonKind = Literal["student", "teacher"]
PEOPLE: dict[str, type[Person]] = {"student": Student, "teacher": Teacher}
M = TypeVar("M", bound=ApiModel)


def _store() -> stores.DirectoryStore:
    return stores.store()


def _db() -> Table:
    """The table under the store, for transactions composed with other capabilities' operations."""
    return _store().db


# The outbox and fan-out (services.events) are imported where an enrollment or a session changes,
# not in every directory read.
def _dispatch(event_ids: list[str]) -> None:
    """Fan out events committed with their change. If this fails the change stands and the events
    wait in the outbox for the sweeper: the caller is not told the enrollment failed."""
    from integration_core.services import events

    try:
        events.dispatch(event_ids)
    except Exception:
        logger.exception("dispatch failed; the sweeper will deliver", extra={"event_ids": event_ids})


def _records(model: type[M], page: Listing) -> list[M]:
    return [model.model_validate(item) for item in page.items]


# ---------------------------------------------------------------- people (students, teachers)
def _load(kind: str, entity_id: str) -> dict[str, Any]:
    item = _store().person(kind, entity_id)
    if item is None:
        raise NotFound(f"{kind} {entity_id} does not exist")
    return item


def _may_read_person(principal: Principal, kind: str, person_id: str) -> None:
    if principal.role in READERS:
        return
    if principal.role.value == kind and principal.owns(person_id):
        return
    raise Forbidden(f"you may only read your own {kind} record")


@overload
def create_person(principal: Principal, kind: Literal["student"], data: PersonCreate) -> Student: ...
@overload
def create_person(principal: Principal, kind: Literal["teacher"], data: PersonCreate) -> Teacher: ...
def create_person(principal: Principal, kind: PersonKind, data: PersonCreate) -> Person:
    principal.require(Role.ADMIN)
    person_id = getattr(data, "id", None) or new_id(kind)
    now = timeutil.iso_utc(timeutil.utc_now())
    email = data.email.lower()
    record = {
        "id": person_id,
        "email": email,
        "name": data.name,
        "time_zone": data.time_zone,
        "created_at": now,
        "updated_at": now,
    }
    outcome = _store().create_person(kind, record)
    if outcome is Outcome.ALREADY_EXISTS:
        raise Conflict(f"{kind} {person_id} already exists")
    if outcome is Outcome.TAKEN:
        raise Conflict(f"a {kind} with email {email} already exists")
    return PEOPLE[kind].model_validate(record)


@overload
def get_person(principal: Principal, kind: Literal["student"], person_id: str) -> Student: ...
@overload
def get_person(principal: Principal, kind: Literal["teacher"], person_id: str) -> Teacher: ...
def get_person(principal: Principal, kind: PersonKind, person_id: str) -> Person:
    _may_read_person(principal, kind, person_id)
    return PEOPLE[kind].model_validate(_load(kind, person_id))


@overload
def list_people(principal: Principal, kind: Literal["student"], limit: int, cursor: str | None) -> PageOf[Student]: ...
@overload
def list_people(principal: Principal, kind: Literal["teacher"], limit: int, cursor: str | None) -> PageOf[Teacher]: ...
def list_people(
    principal: Principal, kind: PersonKind, limit: int, cursor: str | None
) -> PageOf[Student] | PageOf[Teacher]:
    principal.require(*READERS)
    page = _store().people(kind, limit, cursor)
    if kind == "student":
        return PageOf[Student](items=_records(Student, page), next_cursor=page.next_cursor)
    return PageOf[Teacher](items=_records(Teacher, page), next_cursor=page.next_cursor)


@overload
def update_person(principal: Principal, kind: Literal["student"], person_id: str, changes: PersonUpdate) -> Student: ...
@overload
def update_person(principal: Principal, kind: Literal["teacher"], person_id: str, changes: PersonUpdate) -> Teacher: ...
def update_person(principal: Principal, kind: PersonKind, person_id: str, changes: PersonUpdate) -> Person:
    principal.require(Role.ADMIN)
    current = _load(kind, person_id)
    fields = changes.model_dump(exclude_unset=True, by_alias=False)
    if "email" in fields:
        fields["email"] = fields["email"].lower()
    fields["updated_at"] = timeutil.iso_utc(timeutil.utc_now())
    outcome = _store().update_person(kind, current, fields)
    if outcome is Outcome.RACED:
        raise Conflict(f"{kind} {person_id} changed meanwhile; read it again")
    if outcome is Outcome.TAKEN:
        raise Conflict(f"a {kind} with email {fields.get('email')} already exists")
    return PEOPLE[kind].model_validate({**current, **fields})


def delete_person(principal: Principal, kind: PersonKind, person_id: str) -> None:
    principal.require(Role.ADMIN)
    current = _load(kind, person_id)
    if _store().has_links(kind, person_id):
        what = "enrollments" if kind == "student" else "courses"
        raise Conflict(f"{kind} {person_id} still has {what}; remove them first")
    _store().delete_person(kind, current)


# ---------------------------------------------------------------- courses
def _price(price: PriceIn) -> dict[str, Any]:
    try:
        money = parse_amount(price.amount, price.currency, allow_zero=True)
    except MoneyError as error:
        raise invalid("price.amount", str(error)) from None
    return {
        "amount": money.to_decimal_string(),
        "currency": money.currency,
        "amount_minor": money.amount_minor,
    }


def seats_left(course: dict[str, Any]) -> int | None:
    """capacity - enrollments, never below 0 (an admin may lower the capacity under the count, and
    a paid enrollment is never refused for want of a seat)."""
    if course.get("capacity") is None:
        return None
    return max(0, int(course["capacity"]) - int(course.get("enrolled_count", 0)))


def _course_out(course: dict[str, Any]) -> Course:
    return Course.model_validate(
        {
            **course,
            "enrolled_count": max(0, int(course.get("enrolled_count", 0))),
            "seats_left": seats_left(course),
        }
    )


def load_course(course_id: str) -> dict[str, Any]:
    item = _store().course(course_id)
    if item is None:
        raise NotFound(f"course {course_id} does not exist")
    return item


def is_enrolled(student_id: str, course_id: str) -> bool:
    return enrollment(student_id, course_id) is not None


def enrollment(student_id: str, course_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    """The student's enrollment in the course (with the `payment_id` that bought it, if one did)."""
    return _store().enrollment(student_id, course_id, consistent=consistent)


def _may_read_course(principal: Principal, course: dict[str, Any]) -> None:
    if principal.role in READERS:
        return
    if principal.role is Role.TEACHER and principal.owns(course["teacher_id"]):
        return
    if principal.role is Role.STUDENT and is_enrolled(principal.sub, course["id"]):
        return
    raise Forbidden("you may only read courses you teach or attend")


def create_course(principal: Principal, data: CourseCreate) -> Course:
    principal.require(Role.ADMIN)
    price = _price(data.price)
    course_id = data.id or new_id("course")
    now = timeutil.iso_utc(timeutil.utc_now())
    record: dict[str, Any] = {
        "id": course_id,
        "title": data.title,
        "description": data.description,
        "price": price,
        "time_zone": data.time_zone,
        "teacher_id": data.teacher_id,
        "published": data.published,
        "enrolled_count": 0,
        "created_at": now,
        "updated_at": now,
    }
    if data.capacity is not None:  # absent, never null: the enrollment condition compares it
        record["capacity"] = data.capacity
    outcome = _store().create_course(record)
    if outcome is Outcome.ALREADY_EXISTS:
        raise Conflict(f"course {course_id} already exists")
    if outcome is Outcome.RELATED_NOT_FOUND:
        raise invalid("teacherId", f"teacher {data.teacher_id} does not exist")
    return _course_out(record)


def get_course(principal: Principal, course_id: str) -> Course:
    course = load_course(course_id)
    _may_read_course(principal, course)
    return _course_out(course)


def list_courses(principal: Principal, limit: int, cursor: str | None) -> PageOf[Course]:
    store = _store()
    if principal.role in READERS:
        page = store.all_courses(limit, cursor)
        return PageOf[Course](items=[_course_out(c) for c in page.items], next_cursor=page.next_cursor)
    if principal.role is Role.TEACHER:
        ids, next_cursor = store.teacher_course_ids(principal.sub, limit, cursor)
    else:
        links = store.enrollments_of_student(principal.sub, limit, cursor)
        ids, next_cursor = [link["course_id"] for link in links.items], links.next_cursor
    return PageOf[Course](items=[_course_out(c) for c in store.courses(ids)], next_cursor=next_cursor)


def update_course(principal: Principal, course_id: str, changes: CourseUpdate) -> Course:
    principal.require(Role.ADMIN)
    current = load_course(course_id)
    fields = changes.model_dump(exclude_unset=True, exclude={"price"}, by_alias=False)
    if "description" in fields and fields["description"] is None:
        fields["description"] = ""  # null clears the description (the one course field that may be empty)
    if changes.price is not None:
        fields["price"] = _price(changes.price)
    removes: tuple[str, ...] = ()
    if "capacity" in fields and fields["capacity"] is None:
        del fields["capacity"]
        removes = ("capacity",)  # no limit: absent, never null
    fields["updated_at"] = timeutil.iso_utc(timeutil.utc_now())
    outcome = _store().update_course(current, fields, removes)
    if outcome is Outcome.RACED:
        raise Conflict(f"course {course_id} changed meanwhile; read it again")
    if outcome is Outcome.RELATED_NOT_FOUND:
        raise invalid("teacherId", f"teacher {fields.get('teacher_id')} does not exist")
    updated = {k: v for k, v in {**current, **fields}.items() if k not in removes}
    return _course_out(updated)


def delete_course(principal: Principal, course_id: str) -> None:
    """Delete a course without enrollments, with its sessions; `course_deleted` is recorded in the
    transaction that deletes the course (video deletes its meetings on it) and fanned out."""
    principal.require(Role.ADMIN)
    current = load_course(course_id)
    store = _store()
    if store.has_enrollments(course_id):
        raise Conflict(f"course {course_id} has enrollments; remove them first")
    data = {"courseId": course_id, "deletedAt": timeutil.iso_utc(timeutil.utc_now())}
    if current.get("teacher_id"):
        data["teacherId"] = current["teacher_id"]
    from integration_core.services import events

    event_id, event_ops = events.event_operations(
        store.db, "course_deleted", data, cause=f"deleted by {principal.role.value} {principal.sub}"
    )
    if store.delete_course(current, event_ops) is Outcome.NOT_FOUND:
        raise NotFound(f"course {course_id} does not exist")
    _dispatch([event_id])


# ---------------------------------------------------------------- class sessions
SCHEDULED, CANCELLED = "scheduled", "cancelled"


def is_scheduled(session: dict[str, Any]) -> bool:
    return bool(session.get("status", SCHEDULED) == SCHEDULED)


def _schedule_changed(course_id: str, change: str, sessions: list[dict[str, Any]]) -> None:
    """Publish `course_schedule_changed` for sessions written already. Its id derives from the
    sessions and their versions: a retried request publishes the same event once."""
    ids = sorted(s["id"] for s in sessions)
    versions = [str(s.get("version", 1)) for s in sorted(sessions, key=lambda s: s["id"])]
    event_id = stable_id("event", "course_schedule_changed", course_id, change, *ids, *versions)
    data = {"courseId": course_id, "change": change, "sessionIds": ids}
    from integration_core.services import events

    try:
        events.publish_event("course_schedule_changed", data, event_id=event_id, cause=f"sessions {change}")
    except Exception:
        # The sessions stand; a repeat of the request publishes this event again (same id).
        logger.exception("schedule change not published", extra={"course_id": course_id})


def _session_item(course: dict[str, Any], starts_at_utc: datetime, duration_minutes: int) -> dict[str, Any]:
    starts = timeutil.iso_utc(starts_at_utc)
    # One id per course and start time: asking twice for the same class creates it once.
    session_id = stable_id("session", course["id"], starts)
    return {
        "id": session_id,
        "course_id": course["id"],
        "starts_at": starts,
        "ends_at": timeutil.iso_utc(timeutil.add_minutes(starts_at_utc, duration_minutes)),
        "local_starts_at": timeutil.local_iso(starts_at_utc, course["time_zone"]),
        "time_zone": course["time_zone"],
        "status": SCHEDULED,
        "version": 1,
        "updated_at": timeutil.iso_utc(timeutil.utc_now()),
    }


def create_sessions(principal: Principal, course_id: str, data: SessionsCreate) -> SessionsCreated:
    principal.require(Role.ADMIN)
    course = load_course(course_id)
    zone = course["time_zone"]
    if data.recurrence:
        rule = data.recurrence
        starts = timeutil.weekly_occurrences(
            zone=zone,
            days=list(rule.days_of_week),
            start_time=rule.start_time,
            first_day=rule.from_date,
            last_day=rule.until_date,
            count=rule.count,
        )
        if len(starts) > 366:
            raise invalid("recurrence", "expands to more than 366 sessions")
        wanted = [(s, rule.duration_minutes) for s in starts]
    else:
        wanted = [(timeutil.to_utc(s.starts_at, zone), s.duration_minutes) for s in data.sessions or []]
    items = {}
    for start, minutes in wanted:
        item = _session_item(course, start, minutes)
        items[item["id"]] = item
    store = _store()
    created, existed = [], 0
    for item in items.values():
        if store.add_session(item):
            created.append(item)
        else:
            existed += 1
    created.sort(key=lambda s: s["starts_at"])
    if created:
        _refresh_schedule(store, course, added=created)
    if items:
        # Every asked-for session, new or not: a retry after a failed publish publishes it again.
        _schedule_changed(course_id, "added", list(items.values()))
    return SessionsCreated(created=[ClassSession.model_validate(s) for s in created], already_existed=existed)


def _refresh_schedule(
    store: stores.DirectoryStore,
    course: dict[str, Any],
    added: list[dict[str, Any]] | tuple[()] = (),
    removed: str | None = None,
) -> None:
    """Store the course's schedule summary (count, first and last session) on its item, so the
    catalog shows it without reading sessions. Read from the index, with this writer's own change
    applied on top (the index may not show it yet)."""
    sessions = {s["id"]: s["starts_at"] for s in store.all_sessions(course["id"]) if is_scheduled(s)}
    sessions |= {s["id"]: s["starts_at"] for s in added if is_scheduled(s)}
    sessions.pop(removed or "", None)
    starts = sorted(sessions.values())
    summary = {
        "time_zone": course["time_zone"],
        "session_count": len(starts),
        "first_session_at": starts[0] if starts else None,
        "last_session_at": starts[-1] if starts else None,
    }
    store.set_schedule(course["id"], summary)


def _join_link_store() -> join_links.JoinLinkStore:
    return join_links.store()


def _join_links(principal: Principal, course: dict[str, Any]) -> join_links.Links:
    """The caller's video links of the course (written by video: no import of it here): an enrolled
    student's own, the course's teacher's; nobody else's (an admin reads meetings in the video API)."""
    if principal.role is Role.STUDENT:
        return _join_link_store().links(course["id"], principal.sub)
    if principal.role is Role.TEACHER and principal.owns(course["teacher_id"]):
        return _join_link_store().links(course["id"], join_links.TEACHER)
    return join_links.Links()


def list_sessions(principal: Principal, course_id: str, limit: int, cursor: str | None) -> PageOf[ClassSession]:
    """A course's scheduled sessions; with the caller's join link of each (one more Query)."""
    course = load_course(course_id)
    _may_read_course(principal, course)
    page = _store().sessions(course_id, limit, cursor)
    links = _join_links(principal, course) if page.items else join_links.Links()
    items = [ClassSession.model_validate({**s, "join_url": links.for_session(s["id"])}) for s in page.items]
    return PageOf[ClassSession](items=items, next_cursor=page.next_cursor)


def _change_session(
    course_id: str, session_id: str, change: str, changes_of: Callable[[dict, dict], dict | None]
) -> dict[str, Any]:
    """Apply `changes_of(course, session)` (the new attributes, or None for nothing to do) to a
    scheduled session with `course_schedule_changed` in the same transaction; a concurrent change
    is a 409."""
    store = _store()
    course = load_course(course_id)
    current = store.session(course_id, session_id)
    if current is None or not is_scheduled(current):  # a cancelled session is gone from this API
        raise NotFound(f"session {session_id} of course {course_id} does not exist")
    changes = changes_of(course, current)
    if not changes:
        return current
    changes = {**changes, "updated_at": timeutil.iso_utc(timeutil.utc_now())}  # calendar feeds' Last-Modified
    changed = {**current, **changes, "version": current.get("version", 1) + 1}
    event_id = stable_id("event", "course_schedule_changed", course_id, change, session_id, str(changed["version"]))
    data = {"courseId": course_id, "change": change, "sessionIds": [session_id]}
    from integration_core.services import events

    _, event_ops = events.event_operations(
        store.db, "course_schedule_changed", data, event_id=event_id, cause=f"session {change}"
    )
    if store.change_session(current, changes, event_ops) is Outcome.RACED:
        raise Conflict(f"session {session_id} changed meanwhile; read it again")
    _refresh_schedule(store, course, added=[changed], removed=None if is_scheduled(changed) else session_id)
    _dispatch([event_id])
    return changed


def move_session(principal: Principal, course_id: str, session_id: str, data: SessionUpdate) -> ClassSession:
    """Move a session (a new start, a new length, or both)."""
    principal.require(Role.ADMIN)

    def moved(course: dict[str, Any], current: dict[str, Any]) -> dict[str, Any] | None:
        zone = course["time_zone"]
        starts = timeutil.to_utc(data.starts_at, zone) if "starts_at" in data.model_fields_set else None
        old_start, old_end = timeutil.parse_iso(current["starts_at"]), timeutil.parse_iso(current["ends_at"])
        start = starts or old_start
        minutes = data.duration_minutes if "duration_minutes" in data.model_fields_set else None
        length = minutes if minutes is not None else int((old_end - old_start).total_seconds() // 60)
        changes = {
            "starts_at": timeutil.iso_utc(start),
            "ends_at": timeutil.iso_utc(timeutil.add_minutes(start, length)),
            "local_starts_at": timeutil.local_iso(start, zone),
        }
        return None if all(current.get(k) == v for k, v in changes.items()) else changes

    return ClassSession.model_validate(_change_session(course_id, session_id, "moved", moved))


def delete_session(principal: Principal, course_id: str, session_id: str) -> None:
    """Cancel a session: it leaves the course's listing but stays, `cancelled`, so calendars and
    feeds show the cancellation."""
    principal.require(Role.ADMIN)
    _change_session(course_id, session_id, "cancelled", lambda course, current: {"status": CANCELLED})


# ---------------------------------------------------------------- enrollments
def enroll(principal: Principal, course_id: str, student_id: str) -> Enrollment:
    """An admin enrolls a student, within the course's capacity; `student_enrolled` (source
    "admin") is recorded in the same transaction and fanned out once it commits."""
    principal.require(Role.ADMIN)
    store = _store()
    now = timeutil.iso_utc(timeutil.utc_now())
    event_id, event_ops = enrolled_event_operations(
        store.db, course_id, student_id, "admin", now, cause=f"enrolled by {principal.role.value} {principal.sub}"
    )
    enrolled = store.enroll(course_id, student_id, "admin", now, event_ops)
    if enrolled.outcome is Outcome.NOT_FOUND:
        raise invalid("courseId", f"course {course_id} does not exist")
    if enrolled.outcome is Outcome.FULL:
        raise Conflict(
            f"course {course_id} is full ({enrolled.capacity} seats, all taken)", capacity=enrolled.capacity or 0
        )
    if enrolled.outcome is Outcome.RELATED_NOT_FOUND:
        raise invalid("studentId", f"student {student_id} does not exist")
    if enrolled.outcome is Outcome.ALREADY_EXISTS:
        raise Conflict(f"student {student_id} is already enrolled in course {course_id}")
    _dispatch([event_id])
    return Enrollment(course_id=course_id, student_id=student_id, enrolled_at=now, source="admin")


def list_enrollments(
    principal: Principal, course_id: str | None, student_id: str | None, limit: int, cursor: str | None
) -> PageOf[Enrollment]:
    if course_id and student_id:
        raise invalid("courseId", "filter by courseId or by studentId, not both")
    if principal.role is Role.STUDENT:
        if course_id or (student_id and student_id != principal.sub):
            raise Forbidden("you may only list your own enrollments")
        student_id = principal.sub
    elif principal.role is Role.TEACHER:
        if not course_id:
            raise invalid("courseId", "teachers list the enrollments of one of their courses")
        _may_read_course(principal, load_course(course_id))
    elif not (course_id or student_id):
        raise invalid("courseId", "give courseId or studentId")
    store = _store()
    if course_id:
        page = store.enrollments_of_course(course_id, limit, cursor)
    else:
        page = store.enrollments_of_student(student_id or "", limit, cursor)
    return PageOf[Enrollment](items=_records(Enrollment, page), next_cursor=page.next_cursor)


def unenroll(principal: Principal, course_id: str, student_id: str) -> None:
    """An admin removes a student from a course; `student_unenrolled` (reason "removed") is
    recorded in the same transaction and fanned out once it commits."""
    principal.require(Role.ADMIN)
    store = _store()
    now = timeutil.iso_utc(timeutil.utc_now())
    event_id, event_ops = unenrolled_event_operations(
        store.db, course_id, student_id, "removed", now, cause=f"removed by {principal.role.value} {principal.sub}"
    )
    if store.unenroll(course_id, student_id, event_ops) is Outcome.NOT_FOUND:
        raise NotFound(f"student {student_id} is not enrolled in course {course_id}")
    _dispatch([event_id])


def end_refunded_enrollment(
    course_id: str, student_id: str, payment_id: str, commit: Callable[[list[dict[str, Any]]], None]
) -> bool:
    """End the enrollment that `payment_id` bought, because that payment was refunded in full:
    `student_unenrolled` (reason "refunded") in the same transaction, written by `commit` (an
    internal event handler's `Reaction.commit`, which adds its once-per-event marker), then fanned
    out. The event's id derives from the payment: one enrollment ended per payment, whatever the
    deliveries. False, with nothing written, when the enrollment is gone, was bought otherwise
    (another payment, an admin) or changed meanwhile."""
    found = enrollment(student_id, course_id, consistent=True)
    if found is None or found.get("payment_id") != payment_id:
        return False
    db = _db()
    now = timeutil.iso_utc(timeutil.utc_now())
    event_id, event_ops = unenrolled_event_operations(
        db,
        course_id,
        student_id,
        "refunded",
        now,
        payment_id=payment_id,
        event_id=stable_id("event", "student_unenrolled", payment_id),
        cause=f"refund:{payment_id}",
    )
    try:
        commit([*unenrollment_operations(db, course_id, student_id, payment_id), *event_ops])
    except ConditionFailed:
        return False  # the enrollment changed meanwhile (removed, or ended by an earlier delivery)
    _dispatch([event_id])
    return True


# ---------------------------------------------------------------- the catalog
def _catalog_entry(course: dict[str, Any], teacher: dict[str, Any] | None) -> dict[str, Any]:
    schedule = course.get("schedule") or {"time_zone": course["time_zone"], "session_count": 0}
    return {
        "id": course["id"],
        "title": course["title"],
        "description": course["description"],
        "price": course["price"],
        "teacher": {"id": course["teacher_id"], "name": teacher["name"] if teacher else ""},
        "schedule": dict(schedule),
        "capacity": course.get("capacity"),
        "seats_left": seats_left(course),
    }


def catalog(limit: int, cursor: str | None) -> PageOf[CatalogCourse]:
    """Published courses, oldest first: one Query of the catalog rows, one BatchGetItem of their
    courses and one of their teachers. Whoever may read it was decided at the edge."""
    store = _store()
    course_ids, next_cursor = store.catalog_course_ids(limit, cursor)
    courses = [c for c in store.courses(course_ids) if c.get("published")]
    teachers = {t["id"]: t for t in store.teachers([c["teacher_id"] for c in courses])}
    return PageOf[CatalogCourse](
        items=[CatalogCourse.model_validate(_catalog_entry(c, teachers.get(c["teacher_id"]))) for c in courses],
        next_cursor=next_cursor,
    )


def catalog_course(course_id: str) -> CatalogCourse:
    """One published course, with its next session; an unpublished one is not found (a draft's
    existence is not shown)."""
    store = _store()
    course = store.course(course_id)
    if course is None or not course.get("published"):
        raise NotFound(f"no published course {course_id}")
    teacher = store.person("teacher", course["teacher_id"])
    entry = _catalog_entry(course, teacher)
    now = timeutil.iso_utc(timeutil.utc_now())
    upcoming = [s["starts_at"] for s in store.all_sessions(course_id) if s["starts_at"] >= now and is_scheduled(s)]
    entry["schedule"]["next_session_at"] = upcoming[0] if upcoming else None
    return CatalogCourse.model_validate(entry)
