"""The directory: students, teachers, courses, class sessions and enrollments, with who may see
and change what. Admins manage everything; services read everything; teachers read their own
record and courses; students read their own record, courses and enrollments. The catalog shows
published courses to any caller (to anyone at all where the school makes it public).

Every enrollment and unenrollment publishes `student_enrolled` / `student_unenrolled` in the
transaction that writes it (the outbox of services.events), and keeps the course's
`enrolled_count` in the same transaction, so seats left never needs a count of the enrollments."""

from __future__ import annotations

import contextlib
from typing import Any

from integration_core import keys, timeutil
from integration_core.adapters.dynamodb import ConditionFailed, Page, Table, table
from integration_core.config import settings
from integration_core.domain.directory import (
    CourseCreate,
    CourseUpdate,
    PersonCreate,
    PersonUpdate,
    PriceIn,
    SessionsCreate,
)
from integration_core.errors import Conflict, Forbidden, NotFound, invalid
from integration_core.ids import new_id, stable_id
from integration_core.money import MoneyError, parse_amount
from integration_core.observability import logger
from integration_core.principal import Principal, Role

READERS = (Role.ADMIN, Role.SERVICE)
_INTERNAL = ("PK", "SK", "GSI1PK", "GSI1SK", "kind")


def _db() -> Table:
    return table(settings().table_name)


def _events():
    # The outbox and fan-out load where an enrollment changes, not in every directory read.
    from integration_core.services import events

    return events


def _dispatch(event_ids: list[str]) -> None:
    """Fan out events committed with their change. If this fails the change stands and the events
    wait in the outbox for the sweeper: the caller is not told the enrollment failed."""
    try:
        _events().dispatch(event_ids)
    except Exception:
        logger.exception("dispatch failed; the sweeper will deliver", extra={"event_ids": event_ids})


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _INTERNAL}


def _page(page: Page, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "items": [_public(i) for i in (page.items if items is None else items)],
        "next_cursor": page.next_cursor,
    }


# ---------------------------------------------------------------- people (students, teachers)
def _profile_update(
    db: Table, pk: str, fields: dict[str, Any], guard: str, seen: Any, removes: tuple[str, ...] = ()
) -> dict:
    """SET every changed field of a profile (REMOVE those in `removes`), provided `guard` still
    holds the value we read."""
    names = {f"#{k}": k for k in [*fields, *removes]} | {"#guard": guard}
    values = {f":{k}": v for k, v in fields.items()} | {":seen": seen}
    update = "SET " + ", ".join(f"#{k} = :{k}" for k in fields)
    if removes:
        update += " REMOVE " + ", ".join(f"#{k}" for k in removes)
    return db.update_op(pk, keys.PROFILE, update, "#guard = :seen", names=names, values=values)


def _load(kind: str, entity_id: str) -> dict[str, Any]:
    item = _db().get(keys.entity_pk(kind, entity_id), keys.PROFILE)
    if item is None:
        raise NotFound(f"{kind} {entity_id} does not exist")
    return item


def _may_read_person(principal: Principal, kind: str, person_id: str) -> None:
    if principal.role in READERS:
        return
    if principal.role.value == kind and principal.owns(person_id):
        return
    raise Forbidden(f"you may only read your own {kind} record")


def create_person(principal: Principal, kind: str, data: PersonCreate) -> dict[str, Any]:
    principal.require(Role.ADMIN)
    person_id = getattr(data, "id", None) or new_id(kind)
    now = timeutil.iso_utc(timeutil.utc_now())
    email = data.email.lower()
    item = {
        "PK": keys.entity_pk(kind, person_id),
        "SK": keys.PROFILE,
        "GSI1PK": keys.listing_pk(kind),
        "GSI1SK": keys.listing_sk(now, person_id),
        "kind": kind,
        "id": person_id,
        "email": email,
        "name": data.name,
        "time_zone": data.time_zone,
        "created_at": now,
        "updated_at": now,
    }
    db = _db()
    try:
        db.transact(
            [
                db.put_op(item, "attribute_not_exists(PK)"),
                db.put_op(
                    {"PK": keys.email_lock_pk(kind, email), "SK": keys.LOCK, "owner": person_id},
                    "attribute_not_exists(PK)",
                ),
            ]
        )
    except ConditionFailed as failed:
        if failed.reasons and failed.reasons[0] == "ConditionalCheckFailed":
            raise Conflict(f"{kind} {person_id} already exists") from None
        raise Conflict(f"a {kind} with email {email} already exists") from None
    return _public(item)


def get_person(principal: Principal, kind: str, person_id: str) -> dict[str, Any]:
    _may_read_person(principal, kind, person_id)
    return _public(_load(kind, person_id))


def list_people(principal: Principal, kind: str, limit: int, cursor: str | None) -> dict[str, Any]:
    principal.require(*READERS)
    return _page(_db().query(keys.listing_pk(kind), index=keys.GSI1, limit=limit, cursor=cursor))


def update_person(principal: Principal, kind: str, person_id: str, changes: PersonUpdate) -> dict[str, Any]:
    principal.require(Role.ADMIN)
    current = _load(kind, person_id)
    fields = changes.model_dump(exclude_unset=True, by_alias=False)
    if "email" in fields:
        fields["email"] = fields["email"].lower()
    fields["updated_at"] = timeutil.iso_utc(timeutil.utc_now())
    db = _db()
    # Conditional on the email we read, so a concurrent change cannot orphan an email lock.
    ops = [_profile_update(db, keys.entity_pk(kind, person_id), fields, "email", current["email"])]
    new_email = fields.get("email")
    if new_email and new_email != current["email"]:
        ops.append(db.delete_op(keys.email_lock_pk(kind, current["email"]), keys.LOCK))
        ops.append(
            db.put_op(
                {"PK": keys.email_lock_pk(kind, new_email), "SK": keys.LOCK, "owner": person_id},
                "attribute_not_exists(PK)",
            )
        )
    try:
        db.transact(ops)
    except ConditionFailed as failed:
        if failed.reasons and failed.reasons[0] == "ConditionalCheckFailed":
            raise Conflict(f"{kind} {person_id} changed meanwhile; read it again") from None
        raise Conflict(f"a {kind} with email {new_email} already exists") from None
    return _public({**current, **fields})


def delete_person(principal: Principal, kind: str, person_id: str) -> None:
    principal.require(Role.ADMIN)
    current = _load(kind, person_id)
    related = "ENROLLMENT#" if kind == "student" else "COURSE#"
    if _db().query(keys.entity_pk(kind, person_id), sk_prefix=related, limit=1).items:
        what = "enrollments" if kind == "student" else "courses"
        raise Conflict(f"{kind} {person_id} still has {what}; remove them first")
    db = _db()
    db.transact(
        [
            db.delete_op(keys.entity_pk(kind, person_id), keys.PROFILE),
            db.delete_op(keys.email_lock_pk(kind, current["email"]), keys.LOCK),
        ]
    )


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


def _require_teacher(teacher_id: str) -> None:
    if _db().get(keys.entity_pk("teacher", teacher_id), keys.PROFILE) is None:
        raise invalid("teacherId", f"teacher {teacher_id} does not exist")


def seats_left(course: dict[str, Any]) -> int | None:
    """capacity - enrollments, never below 0 (an admin may lower the capacity under the count, and
    a paid enrollment is never refused for want of a seat)."""
    if course.get("capacity") is None:
        return None
    return max(0, int(course["capacity"]) - int(course.get("enrolled_count", 0)))


def _course_out(course: dict[str, Any]) -> dict[str, Any]:
    return {
        **_public(course),
        "enrolled_count": max(0, int(course.get("enrolled_count", 0))),
        "seats_left": seats_left(course),
    }


def _catalog_row(course: dict[str, Any]) -> dict[str, Any]:
    return {"PK": keys.CATALOG, "SK": keys.catalog_sk(course["created_at"], course["id"]), "course_id": course["id"]}


def load_course(course_id: str) -> dict[str, Any]:
    item = _db().get(keys.entity_pk("course", course_id), keys.PROFILE)
    if item is None:
        raise NotFound(f"course {course_id} does not exist")
    return item


def is_enrolled(student_id: str, course_id: str) -> bool:
    return enrollment(student_id, course_id) is not None


def enrollment(student_id: str, course_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    """The student's enrollment in the course (with the `payment_id` that bought it, if one did)."""
    return _db().get(keys.entity_pk("student", student_id), keys.enrollment_sk(course_id), consistent=consistent)


def _may_read_course(principal: Principal, course: dict[str, Any]) -> None:
    if principal.role in READERS:
        return
    if principal.role is Role.TEACHER and principal.owns(course["teacher_id"]):
        return
    if principal.role is Role.STUDENT and is_enrolled(principal.sub, course["id"]):
        return
    raise Forbidden("you may only read courses you teach or attend")


def create_course(principal: Principal, data: CourseCreate) -> dict[str, Any]:
    principal.require(Role.ADMIN)
    price = _price(data.price)
    db = _db()
    course_id = data.id or new_id("course")
    now = timeutil.iso_utc(timeutil.utc_now())
    item = {
        "PK": keys.entity_pk("course", course_id),
        "SK": keys.PROFILE,
        "GSI1PK": keys.listing_pk("course"),
        "GSI1SK": keys.listing_sk(now, course_id),
        "kind": "course",
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
        item["capacity"] = data.capacity
    ops = [
        db.put_op(item, "attribute_not_exists(PK)"),
        db.check_op(keys.entity_pk("teacher", data.teacher_id), keys.PROFILE, "attribute_exists(PK)"),
        db.put_op({"PK": keys.entity_pk("teacher", data.teacher_id), "SK": keys.course_link_sk(course_id)}),
    ]
    if data.published:
        ops.append(db.put_op(_catalog_row(item)))
    try:
        db.transact(ops)
    except ConditionFailed as failed:
        if failed.reasons[:1] == ["ConditionalCheckFailed"]:
            raise Conflict(f"course {course_id} already exists") from None
        raise invalid("teacherId", f"teacher {data.teacher_id} does not exist") from None
    return _course_out(item)


def get_course(principal: Principal, course_id: str) -> dict[str, Any]:
    course = load_course(course_id)
    _may_read_course(principal, course)
    return _course_out(course)


def list_courses(principal: Principal, limit: int, cursor: str | None) -> dict[str, Any]:
    db = _db()
    if principal.role in READERS:
        page = db.query(keys.listing_pk("course"), index=keys.GSI1, limit=limit, cursor=cursor)
        return {"items": [_course_out(c) for c in page.items], "next_cursor": page.next_cursor}
    if principal.role is Role.TEACHER:
        links = db.query(keys.entity_pk("teacher", principal.sub), sk_prefix="COURSE#", limit=limit, cursor=cursor)
        ids = [link["SK"].removeprefix("COURSE#") for link in links.items]
    else:
        links = db.query(keys.entity_pk("student", principal.sub), sk_prefix="ENROLLMENT#", limit=limit, cursor=cursor)
        ids = [link["course_id"] for link in links.items]
    courses = db.batch_get([(keys.entity_pk("course", i), keys.PROFILE) for i in ids])
    return {"items": [_course_out(c) for c in courses], "next_cursor": links.next_cursor}


def update_course(principal: Principal, course_id: str, changes: CourseUpdate) -> dict[str, Any]:
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
    db = _db()
    # Conditional on the teacher we read, so a concurrent change cannot orphan a teacher link
    # (and on the same read, a publish or unpublish adds or removes the catalog row once).
    pk = keys.entity_pk("course", course_id)
    ops = [_profile_update(db, pk, fields, "teacher_id", current["teacher_id"], removes)]
    was_published, published = bool(current.get("published")), fields.get("published", current.get("published"))
    if published and not was_published:
        ops.append(db.put_op(_catalog_row(current)))
    elif was_published and not published:
        ops.append(db.delete_op(keys.CATALOG, keys.catalog_sk(current["created_at"], course_id)))
    new_teacher = fields.get("teacher_id")
    if new_teacher and new_teacher != current["teacher_id"]:
        old_link = (keys.entity_pk("teacher", current["teacher_id"]), keys.course_link_sk(course_id))
        ops += [
            db.check_op(keys.entity_pk("teacher", new_teacher), keys.PROFILE, "attribute_exists(PK)"),
            db.delete_op(*old_link),
            db.put_op({"PK": keys.entity_pk("teacher", new_teacher), "SK": keys.course_link_sk(course_id)}),
        ]
    try:
        db.transact(ops)
    except ConditionFailed as failed:
        if failed.reasons[:1] == ["ConditionalCheckFailed"]:
            raise Conflict(f"course {course_id} changed meanwhile; read it again") from None
        raise invalid("teacherId", f"teacher {new_teacher} does not exist") from None
    updated = {k: v for k, v in {**current, **fields}.items() if k not in removes}
    return _course_out(updated)


def delete_course(principal: Principal, course_id: str) -> None:
    principal.require(Role.ADMIN)
    current = load_course(course_id)
    db = _db()
    if db.query(keys.entity_pk("course", course_id), sk_prefix="ENROLLMENT#", limit=1).items:
        raise Conflict(f"course {course_id} has enrollments; remove them first")
    sessions = db.query(keys.entity_pk("course", course_id), sk_prefix="SESSION#", limit=100)
    while True:
        for chunk in range(0, len(sessions.items), 25):
            db.transact([db.delete_op(s["PK"], s["SK"]) for s in sessions.items[chunk : chunk + 25]])
        if not sessions.last_key:
            break
        sessions = db.query(keys.entity_pk("course", course_id), sk_prefix="SESSION#", limit=100)
    db.transact(
        [
            db.delete_op(keys.entity_pk("course", course_id), keys.PROFILE),
            db.delete_op(keys.entity_pk("teacher", current["teacher_id"]), keys.course_link_sk(course_id)),
            db.delete_op(keys.CATALOG, keys.catalog_sk(current["created_at"], course_id)),
        ]
    )


# ---------------------------------------------------------------- class sessions
def _session_item(course: dict[str, Any], starts_at_utc, duration_minutes: int) -> dict[str, Any]:
    starts = timeutil.iso_utc(starts_at_utc)
    # One id per course and start time: asking twice for the same class creates it once.
    session_id = stable_id("session", course["id"], starts)
    return {
        "PK": keys.entity_pk("course", course["id"]),
        "SK": keys.session_sk(session_id),
        "GSI1PK": keys.sessions_pk(course["id"]),
        "GSI1SK": f"{starts}#{session_id}",
        "kind": "session",
        "id": session_id,
        "course_id": course["id"],
        "starts_at": starts,
        "ends_at": timeutil.iso_utc(timeutil.add_minutes(starts_at_utc, duration_minutes)),
        "local_starts_at": timeutil.local_iso(starts_at_utc, course["time_zone"]),
        "time_zone": course["time_zone"],
    }


def create_sessions(principal: Principal, course_id: str, data: SessionsCreate) -> dict[str, Any]:
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
    db = _db()
    created, existed = [], 0
    for item in items.values():
        try:
            db.put(item, "attribute_not_exists(PK)")
            created.append(_public(item))
        except ConditionFailed:
            existed += 1
    created.sort(key=lambda s: s["starts_at"])
    if created:
        _refresh_schedule(db, course, added=created)
    return {"created": created, "already_existed": existed}


def _all_sessions(db: Table, course_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = db.query(keys.sessions_pk(course_id), index=keys.GSI1, limit=100, cursor=cursor)
        found += page.items
        cursor = page.next_cursor
        if not cursor:
            return found


def _refresh_schedule(
    db: Table, course: dict[str, Any], added: list[dict[str, Any]] = (), removed: str | None = None
) -> None:
    """Store the course's schedule summary (count, first and last session) on its item, so the
    catalog shows it without reading sessions. Read from the index, with this writer's own change
    applied on top (the index may not show it yet)."""
    sessions = {s["id"]: s["starts_at"] for s in _all_sessions(db, course["id"])}
    sessions |= {s["id"]: s["starts_at"] for s in added}
    sessions.pop(removed or "", None)
    starts = sorted(sessions.values())
    summary = {
        "time_zone": course["time_zone"],
        "session_count": len(starts),
        "first_session_at": starts[0] if starts else None,
        "last_session_at": starts[-1] if starts else None,
    }
    # A course deleted meanwhile keeps no summary.
    with contextlib.suppress(ConditionFailed):
        db.update(
            keys.entity_pk("course", course["id"]),
            keys.PROFILE,
            "SET #schedule = :s",
            "attribute_exists(PK)",
            names={"#schedule": "schedule"},
            values={":s": summary},
        )


def list_sessions(principal: Principal, course_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    _may_read_course(principal, load_course(course_id))
    return _page(_db().query(keys.sessions_pk(course_id), index=keys.GSI1, limit=limit, cursor=cursor))


def delete_session(principal: Principal, course_id: str, session_id: str) -> None:
    principal.require(Role.ADMIN)
    db = _db()
    try:
        db.delete(keys.entity_pk("course", course_id), keys.session_sk(session_id), "attribute_exists(PK)")
    except ConditionFailed:
        raise NotFound(f"session {session_id} of course {course_id} does not exist") from None
    course = db.get(keys.entity_pk("course", course_id), keys.PROFILE)
    if course is not None:
        _refresh_schedule(db, course, removed=session_id)


# ---------------------------------------------------------------- enrollments
# `capacity` is a reserved word in DynamoDB expressions: always #capacity.
WITHIN_CAPACITY = (
    "attribute_not_exists(#capacity) OR attribute_not_exists(enrolled_count) OR enrolled_count < #capacity"
)


def enrollment_operations(
    db: Table,
    course_id: str,
    student_id: str,
    source: str,
    now: str,
    payment_id: str | None = None,
    *,
    within_capacity: bool = False,
) -> list[dict]:
    """The writes of one enrollment, for a transaction of their own or of a larger change (a payment
    that succeeds enrolls its student in the same transaction, and names itself as `payment_id`):
    the course's count goes up by one (with `within_capacity`, only while seats are left), both
    enrollment rows are written. The caller adds the `student_enrolled` event
    (`enrolled_event_operations`) to the same transaction."""
    record = {"course_id": course_id, "student_id": student_id, "enrolled_at": now, "source": source}
    if payment_id:
        record["payment_id"] = payment_id
    condition = "attribute_exists(PK)" + (f" AND ({WITHIN_CAPACITY})" if within_capacity else "")
    names = {"#capacity": "capacity"} if within_capacity else None
    return [
        db.update_op(
            keys.entity_pk("course", course_id),
            keys.PROFILE,
            "ADD enrolled_count :one",
            condition,
            names=names,
            values={":one": 1},
        ),
        db.check_op(keys.entity_pk("student", student_id), keys.PROFILE, "attribute_exists(PK)"),
        db.put_op(
            {"PK": keys.entity_pk("course", course_id), "SK": keys.enrollment_sk(student_id), **record},
            "attribute_not_exists(PK)",
        ),
        db.put_op({"PK": keys.entity_pk("student", student_id), "SK": keys.enrollment_sk(course_id), **record}),
    ]


def enrolled_event_operations(
    db: Table, course_id: str, student_id: str, source: str, now: str, *, event_id: str | None = None, cause: str
) -> tuple[str, list[dict]]:
    data = {"studentId": student_id, "courseId": course_id, "enrolledAt": now, "source": source}
    return _events().event_operations(db, "student_enrolled", data, event_id=event_id, cause=cause)


def unenrollment_operations(db: Table, course_id: str, student_id: str, payment_id: str | None = None) -> list[dict]:
    """The writes of ending one enrollment: both rows (conditional on it existing and, with
    `payment_id`, on that payment having bought it: the refund of a payment ends only its own
    enrollment) and the course's count down by one. They fail (ConditionFailed) otherwise. The
    caller adds `student_unenrolled` (`unenrolled_event_operations`) to the same transaction."""
    guard, values = ("payment_id = :p", {":p": payment_id}) if payment_id else ("attribute_exists(PK)", None)
    return [
        db.delete_op(keys.entity_pk("course", course_id), keys.enrollment_sk(student_id), guard, values=values),
        db.delete_op(keys.entity_pk("student", student_id), keys.enrollment_sk(course_id), guard, values=values),
        db.update_op(
            keys.entity_pk("course", course_id),
            keys.PROFILE,
            "ADD enrolled_count :minus",
            "attribute_exists(PK)",
            values={":minus": -1},
        ),
    ]


def unenrolled_event_operations(
    db: Table,
    course_id: str,
    student_id: str,
    reason: str,
    now: str,
    *,
    payment_id: str | None = None,
    event_id: str | None = None,
    cause: str,
) -> tuple[str, list[dict]]:
    data = {"studentId": student_id, "courseId": course_id, "unenrolledAt": now, "reason": reason}
    if payment_id:
        data["paymentId"] = payment_id
    return _events().event_operations(db, "student_unenrolled", data, event_id=event_id, cause=cause)


def enroll(principal: Principal, course_id: str, student_id: str) -> dict[str, Any]:
    """An admin enrolls a student, within the course's capacity; `student_enrolled` (source
    "admin") is recorded in the same transaction and fanned out once it commits."""
    principal.require(Role.ADMIN)
    db = _db()
    now = timeutil.iso_utc(timeutil.utc_now())
    event_id, event_ops = enrolled_event_operations(
        db, course_id, student_id, "admin", now, cause=f"enrolled by {principal.role.value} {principal.sub}"
    )
    try:
        db.transact([*enrollment_operations(db, course_id, student_id, "admin", now, within_capacity=True), *event_ops])
    except ConditionFailed as failed:
        reasons = failed.reasons + ["None"] * 5
        if reasons[0] == "ConditionalCheckFailed":
            course = db.get(keys.entity_pk("course", course_id), keys.PROFILE, consistent=True)
            if course is None:
                raise invalid("courseId", f"course {course_id} does not exist") from None
            raise Conflict(
                f"course {course_id} is full ({course.get('capacity')} seats, all taken)",
                capacity=int(course.get("capacity", 0)),
            ) from None
        if reasons[1] == "ConditionalCheckFailed":
            raise invalid("studentId", f"student {student_id} does not exist") from None
        raise Conflict(f"student {student_id} is already enrolled in course {course_id}") from None
    _dispatch([event_id])
    return {"course_id": course_id, "student_id": student_id, "enrolled_at": now, "source": "admin"}


def list_enrollments(
    principal: Principal, course_id: str | None, student_id: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
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
    pk = keys.entity_pk("course", course_id) if course_id else keys.entity_pk("student", student_id or "")
    return _page(_db().query(pk, sk_prefix="ENROLLMENT#", limit=limit, cursor=cursor))


def unenroll(principal: Principal, course_id: str, student_id: str) -> None:
    """An admin removes a student from a course; `student_unenrolled` (reason "removed") is
    recorded in the same transaction and fanned out once it commits."""
    principal.require(Role.ADMIN)
    db = _db()
    now = timeutil.iso_utc(timeutil.utc_now())
    event_id, event_ops = unenrolled_event_operations(
        db, course_id, student_id, "removed", now, cause=f"removed by {principal.role.value} {principal.sub}"
    )
    try:
        db.transact([*unenrollment_operations(db, course_id, student_id), *event_ops])
    except ConditionFailed:
        raise NotFound(f"student {student_id} is not enrolled in course {course_id}") from None
    _dispatch([event_id])


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


def catalog(limit: int, cursor: str | None) -> dict[str, Any]:
    """Published courses, oldest first: one Query of the catalog rows, one BatchGetItem of their
    courses and one of their teachers. Whoever may read it was decided at the edge."""
    db = _db()
    rows = db.query(keys.CATALOG, limit=limit, cursor=cursor)
    courses = db.batch_get([(keys.entity_pk("course", r["course_id"]), keys.PROFILE) for r in rows.items])
    courses = [c for c in courses if c.get("published")]
    teachers = {
        t["id"]: t
        for t in db.batch_get(
            list(dict.fromkeys((keys.entity_pk("teacher", c["teacher_id"]), keys.PROFILE) for c in courses))
        )
    }
    return {
        "items": [_catalog_entry(c, teachers.get(c["teacher_id"])) for c in courses],
        "next_cursor": rows.next_cursor,
    }


def catalog_course(course_id: str) -> dict[str, Any]:
    """One published course, with its next session; an unpublished one is not found (a draft's
    existence is not shown)."""
    db = _db()
    course = db.get(keys.entity_pk("course", course_id), keys.PROFILE)
    if course is None or not course.get("published"):
        raise NotFound(f"no published course {course_id}")
    teacher = db.get(keys.entity_pk("teacher", course["teacher_id"]), keys.PROFILE)
    entry = _catalog_entry(course, teacher)
    now = timeutil.iso_utc(timeutil.utc_now())
    upcoming = [s["starts_at"] for s in _all_sessions(db, course_id) if s["starts_at"] >= now]
    entry["schedule"]["next_session_at"] = upcoming[0] if upcoming else None
    return entry
