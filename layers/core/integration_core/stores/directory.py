"""The directory's store: people (students, teachers) with their unique-email locks, courses with
their teacher links and catalog rows, class sessions and enrollments. It owns their item shapes,
keys, conditions and transactions; services get public records (no keys) and named outcomes.

An enrollment is written with the course's `enrolled_count` (ADD, so seats left never needs a
count) and its event in one transaction; a payment that succeeds composes the same operations
(`enrollment_operations`) into its own transaction."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from integration_core import keys
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings
from integration_core.stores.common import Listing, Outcome, cancelled_at, public

# `capacity` is a reserved word in DynamoDB expressions: always #capacity.
WITHIN_CAPACITY = (
    "attribute_not_exists(#capacity) OR attribute_not_exists(enrolled_count) OR enrolled_count < #capacity"
)
TRANSACTION_LIMIT = 25  # sessions deleted per transaction


@dataclass(frozen=True)
class Enrolled:
    """What an enrollment came to; `capacity` is the course's when it was full."""

    outcome: Outcome
    capacity: int | None = None


# ---------------------------------------------------------------- operations other stores compose
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
    the course's count goes up by one (with `within_capacity`, only while seats are left), the
    student must exist, both enrollment rows are written. In this order: ENROLL_OUTCOMES names them."""
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


# What each of enrollment_operations' writes failing means (the course's: full or gone, told apart by a read).
ENROLL_OUTCOMES = (Outcome.FULL, Outcome.RELATED_NOT_FOUND, Outcome.ALREADY_EXISTS, Outcome.ALREADY_EXISTS)


def unenrollment_operations(db: Table, course_id: str, student_id: str, payment_id: str | None = None) -> list[dict]:
    """The writes of ending one enrollment: both rows (conditional on it existing and, with
    `payment_id`, on that payment having bought it: the refund of a payment ends only its own
    enrollment) and the course's count down by one. They fail (ConditionFailed) otherwise."""
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


def person_operations(db: Table, kind: str, record: dict[str, Any]) -> list[dict]:
    """The writes of a new person: the profile (absent) and its email lock (absent), in this order
    (ALREADY_EXISTS, TAKEN), for a transaction of their own or of a first sign-in's."""
    person_id, email, now = record["id"], record["email"], record["created_at"]
    item = {
        "PK": keys.entity_pk(kind, person_id),
        "SK": keys.PROFILE,
        "GSI1PK": keys.listing_pk(kind),
        "GSI1SK": keys.listing_sk(now, person_id),
        "kind": kind,
        **record,
    }
    lock = {"PK": keys.email_lock_pk(kind, email), "SK": keys.LOCK, "owner": person_id}
    return [db.put_op(item, "attribute_not_exists(PK)"), db.put_op(lock, "attribute_not_exists(PK)")]


def _catalog_row(course: dict[str, Any]) -> dict[str, Any]:
    return {"PK": keys.CATALOG, "SK": keys.catalog_sk(course["created_at"], course["id"]), "course_id": course["id"]}


class DirectoryStore:
    """The directory's records in the single table."""

    def __init__(self, db: Table) -> None:
        self.db = db

    # ------------------------------------------------------------ people
    def person(self, kind: str, person_id: str) -> dict[str, Any] | None:
        item = self.db.get(keys.entity_pk(kind, person_id), keys.PROFILE)
        return public(item) if item else None

    def people(self, kind: str, limit: int, cursor: str | None) -> Listing:
        return Listing.of(self.db.query(keys.listing_pk(kind), index=keys.GSI1, limit=limit, cursor=cursor))

    def create_person(self, kind: str, record: dict[str, Any]) -> Outcome:
        """The profile and its email lock; ALREADY_EXISTS (the id) or TAKEN (the email)."""
        try:
            self.db.transact(person_operations(self.db, kind, record))
        except ConditionFailed as failed:
            return cancelled_at(failed, [Outcome.ALREADY_EXISTS], Outcome.TAKEN)
        return Outcome.DONE

    def update_person(self, kind: str, current: dict[str, Any], fields: dict[str, Any]) -> Outcome:
        """SET the changed fields on condition that the email is still the one read (a concurrent
        change cannot orphan an email lock), moving the lock with a new email; RACED or TAKEN."""
        person_id = current["id"]
        ops = [self._profile_update(keys.entity_pk(kind, person_id), fields, "email", current["email"])]
        new_email = fields.get("email")
        if new_email and new_email != current["email"]:
            ops.append(self.db.delete_op(keys.email_lock_pk(kind, current["email"]), keys.LOCK))
            ops.append(
                self.db.put_op(
                    {"PK": keys.email_lock_pk(kind, new_email), "SK": keys.LOCK, "owner": person_id},
                    "attribute_not_exists(PK)",
                )
            )
        try:
            self.db.transact(ops)
        except ConditionFailed as failed:
            return cancelled_at(failed, [Outcome.RACED], Outcome.TAKEN)
        return Outcome.DONE

    def has_links(self, kind: str, person_id: str) -> bool:
        """A student's enrollments or a teacher's courses: whether there is any."""
        related = keys.ENROLLMENT_PREFIX if kind == "student" else keys.COURSE_LINK_PREFIX
        return bool(self.db.query(keys.entity_pk(kind, person_id), sk_prefix=related, limit=1).items)

    def delete_person(self, kind: str, person: dict[str, Any]) -> None:
        self.db.transact(
            [
                self.db.delete_op(keys.entity_pk(kind, person["id"]), keys.PROFILE),
                self.db.delete_op(keys.email_lock_pk(kind, person["email"]), keys.LOCK),
            ]
        )

    def _profile_update(
        self, pk: str, fields: dict[str, Any], guard: str, seen: Any, removes: tuple[str, ...] = ()
    ) -> dict:
        """SET every changed field of a profile (REMOVE those in `removes`), provided `guard` still
        holds the value we read."""
        names = {f"#{k}": k for k in [*fields, *removes]} | {"#guard": guard}
        values = {f":{k}": v for k, v in fields.items()} | {":seen": seen}
        update = "SET " + ", ".join(f"#{k} = :{k}" for k in fields)
        if removes:
            update += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        return self.db.update_op(pk, keys.PROFILE, update, "#guard = :seen", names=names, values=values)

    # ------------------------------------------------------------ courses
    def course(self, course_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        item = self.db.get(keys.entity_pk("course", course_id), keys.PROFILE, consistent=consistent)
        return public(item) if item else None

    def courses(self, course_ids: list[str]) -> list[dict[str, Any]]:
        """The courses that exist among these ids, in their order."""
        return [public(c) for c in self.db.batch_get([(keys.entity_pk("course", i), keys.PROFILE) for i in course_ids])]

    def teachers(self, teacher_ids: list[str]) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys((keys.entity_pk("teacher", t), keys.PROFILE) for t in teacher_ids))
        return [public(t) for t in self.db.batch_get(wanted)]

    def all_courses(self, limit: int, cursor: str | None) -> Listing:
        return Listing.of(self.db.query(keys.listing_pk("course"), index=keys.GSI1, limit=limit, cursor=cursor))

    def teacher_course_ids(self, teacher_id: str, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        links = self.db.query(
            keys.entity_pk("teacher", teacher_id), sk_prefix=keys.COURSE_LINK_PREFIX, limit=limit, cursor=cursor
        )
        return [keys.course_id_of_link(link["SK"]) for link in links.items], links.next_cursor

    def create_course(self, record: dict[str, Any]) -> Outcome:
        """The course, its teacher's link (the teacher must exist) and, when published, its catalog
        row; ALREADY_EXISTS or RELATED_NOT_FOUND (the teacher)."""
        course_id, teacher_id = record["id"], record["teacher_id"]
        item = {
            "PK": keys.entity_pk("course", course_id),
            "SK": keys.PROFILE,
            "GSI1PK": keys.listing_pk("course"),
            "GSI1SK": keys.listing_sk(record["created_at"], course_id),
            "kind": "course",
            **record,
        }
        ops = [
            self.db.put_op(item, "attribute_not_exists(PK)"),
            self.db.check_op(keys.entity_pk("teacher", teacher_id), keys.PROFILE, "attribute_exists(PK)"),
            self.db.put_op({"PK": keys.entity_pk("teacher", teacher_id), "SK": keys.course_link_sk(course_id)}),
        ]
        if record.get("published"):
            ops.append(self.db.put_op(_catalog_row(record)))
        try:
            self.db.transact(ops)
        except ConditionFailed as failed:
            return cancelled_at(failed, [Outcome.ALREADY_EXISTS], Outcome.RELATED_NOT_FOUND)
        return Outcome.DONE

    def update_course(self, current: dict[str, Any], fields: dict[str, Any], removes: tuple[str, ...] = ()) -> Outcome:
        """Conditional on the teacher read, so a concurrent change cannot orphan a teacher link (and
        on the same read, a publish or unpublish adds or removes the catalog row once); RACED, or
        RELATED_NOT_FOUND for a new teacher that does not exist."""
        course_id = current["id"]
        pk = keys.entity_pk("course", course_id)
        ops = [self._profile_update(pk, fields, "teacher_id", current["teacher_id"], removes)]
        was_published, published = bool(current.get("published")), fields.get("published", current.get("published"))
        if published and not was_published:
            ops.append(self.db.put_op(_catalog_row(current)))
        elif was_published and not published:
            ops.append(self.db.delete_op(keys.CATALOG, keys.catalog_sk(current["created_at"], course_id)))
        new_teacher = fields.get("teacher_id")
        if new_teacher and new_teacher != current["teacher_id"]:
            ops += [
                self.db.check_op(keys.entity_pk("teacher", new_teacher), keys.PROFILE, "attribute_exists(PK)"),
                self.db.delete_op(keys.entity_pk("teacher", current["teacher_id"]), keys.course_link_sk(course_id)),
                self.db.put_op({"PK": keys.entity_pk("teacher", new_teacher), "SK": keys.course_link_sk(course_id)}),
            ]
        try:
            self.db.transact(ops)
        except ConditionFailed as failed:
            return cancelled_at(failed, [Outcome.RACED], Outcome.RELATED_NOT_FOUND)
        return Outcome.DONE

    def has_enrollments(self, course_id: str) -> bool:
        return bool(self.db.query(keys.entity_pk("course", course_id), sk_prefix=keys.ENROLLMENT_PREFIX, limit=1).items)

    def delete_course(self, course: dict[str, Any], also: list[dict] | tuple[()] = ()) -> Outcome:
        """The course with its sessions, its teacher's link and its catalog row; `also` (its event)
        in the transaction that deletes the course itself, on condition that it still exists:
        NOT_FOUND when a concurrent deletion came first (its event is that one's)."""
        course_id = course["id"]
        pk = keys.entity_pk("course", course_id)
        while True:
            sessions = self.db.query(pk, sk_prefix=keys.SESSION_PREFIX, limit=100)
            for chunk in range(0, len(sessions.items), TRANSACTION_LIMIT):
                batch = sessions.items[chunk : chunk + TRANSACTION_LIMIT]
                self.db.transact([self.db.delete_op(s["PK"], s["SK"]) for s in batch])
            if not sessions.last_key:
                break
        try:
            self.db.transact(
                [
                    self.db.delete_op(pk, keys.PROFILE, "attribute_exists(PK)"),
                    self.db.delete_op(keys.entity_pk("teacher", course["teacher_id"]), keys.course_link_sk(course_id)),
                    self.db.delete_op(keys.CATALOG, keys.catalog_sk(course["created_at"], course_id)),
                    *also,
                ]
            )
        except ConditionFailed:
            return Outcome.NOT_FOUND
        return Outcome.DONE

    def set_schedule(self, course_id: str, summary: dict[str, Any]) -> None:
        """The course's schedule summary; a course deleted meanwhile keeps none."""
        with contextlib.suppress(ConditionFailed):
            self.db.update(
                keys.entity_pk("course", course_id),
                keys.PROFILE,
                "SET #schedule = :s",
                "attribute_exists(PK)",
                names={"#schedule": "schedule"},
                values={":s": summary},
            )

    # ------------------------------------------------------------ class sessions
    def add_session(self, session: dict[str, Any]) -> bool:
        """Write a session; False when it existed (same course and start: the same id)."""
        item = {
            "PK": keys.entity_pk("course", session["course_id"]),
            "SK": keys.session_sk(session["id"]),
            "GSI1PK": keys.sessions_pk(session["course_id"]),
            "GSI1SK": keys.listing_sk(session["starts_at"], session["id"]),
            "kind": "session",
            **session,
        }
        try:
            self.db.put(item, "attribute_not_exists(PK)")
        except ConditionFailed:
            return False
        return True

    def sessions(self, course_id: str, limit: int, cursor: str | None, *, cancelled: bool = False) -> Listing:
        """A course's sessions in time order (scheduled ones, or the cancelled ones)."""
        pk = keys.cancelled_sessions_pk(course_id) if cancelled else keys.sessions_pk(course_id)
        return Listing.of(self.db.query(pk, index=keys.GSI1, limit=limit, cursor=cursor))

    def all_sessions(self, course_id: str, *, cancelled: bool = False) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after = None
        pk = keys.cancelled_sessions_pk(course_id) if cancelled else keys.sessions_pk(course_id)
        while True:
            page = self.db.query(pk, index=keys.GSI1, limit=100, after=after)
            found += [public(item) for item in page.items]
            after = page.last_key
            if not after:
                return found

    def session(self, course_id: str, session_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        item = self.db.get(keys.entity_pk("course", course_id), keys.session_sk(session_id), consistent=consistent)
        return public(item) if item else None

    def change_session(self, current: dict[str, Any], changes: dict[str, Any], also: list[dict]) -> Outcome:
        """Move or cancel a session (`changes`: its new attributes), one version up, with `also` (its
        event) in the same transaction: RACED when it changed since `current` was read."""
        course_id, starts_at = current["course_id"], changes.get("starts_at", current["starts_at"])
        cancelled = changes.get("status") == "cancelled"
        listed_under = keys.cancelled_sessions_pk(course_id) if cancelled else keys.sessions_pk(course_id)
        changes = {**changes, "GSI1PK": listed_under, "GSI1SK": keys.listing_sk(starts_at, current["id"])}
        names = {f"#{name}": name for name in changes} | {"#version": "version"}
        values = {f":{name}": value for name, value in changes.items()}
        values |= {":read": current.get("version", 1), ":next": current.get("version", 1) + 1}
        sets = ", ".join(f"#{name} = :{name}" for name in changes)
        update = self.db.update_op(
            keys.entity_pk("course", course_id),
            keys.session_sk(current["id"]),
            f"SET {sets}, #version = :next",
            "attribute_exists(PK) AND (#version = :read OR (attribute_not_exists(#version) AND :read = :one))",
            names=names,
            values=values | {":one": 1},
        )
        try:
            self.db.transact([update, *also])
        except ConditionFailed:
            return Outcome.RACED
        return Outcome.DONE

    # ------------------------------------------------------------ enrollments
    def enrollment(self, student_id: str, course_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        item = self.db.get(keys.entity_pk("student", student_id), keys.enrollment_sk(course_id), consistent=consistent)
        return public(item) if item else None

    def enrollments_of_course(self, course_id: str, limit: int, cursor: str | None) -> Listing:
        pk = keys.entity_pk("course", course_id)
        return Listing.of(self.db.query(pk, sk_prefix=keys.ENROLLMENT_PREFIX, limit=limit, cursor=cursor))

    def all_enrollments_of_course(self, course_id: str) -> list[dict[str, Any]]:
        """Every enrollment of a course, paged here (no caller's cursor: for event handlers)."""
        pk, found, after = keys.entity_pk("course", course_id), [], None
        while True:
            page = self.db.query(pk, sk_prefix=keys.ENROLLMENT_PREFIX, limit=100, after=after)
            found += [public(item) for item in page.items]
            after = page.last_key
            if not after:
                return found

    def enrollments_of_student(self, student_id: str, limit: int, cursor: str | None) -> Listing:
        pk = keys.entity_pk("student", student_id)
        return Listing.of(self.db.query(pk, sk_prefix=keys.ENROLLMENT_PREFIX, limit=limit, cursor=cursor))

    def enroll(self, course_id: str, student_id: str, source: str, now: str, also: list[dict]) -> Enrolled:
        """One enrollment within the course's capacity, with `also` (its event) in the same
        transaction: FULL (with the capacity), NOT_FOUND (the course), RELATED_NOT_FOUND (the
        student) or ALREADY_EXISTS."""
        ops = enrollment_operations(self.db, course_id, student_id, source, now, within_capacity=True)
        try:
            self.db.transact([*ops, *also])
        except ConditionFailed as failed:
            outcome = cancelled_at(failed, ENROLL_OUTCOMES, Outcome.ALREADY_EXISTS)
            if outcome is not Outcome.FULL:
                return Enrolled(outcome)
            course = self.course(course_id, consistent=True)
            if course is None:
                return Enrolled(Outcome.NOT_FOUND)
            return Enrolled(Outcome.FULL, int(course.get("capacity", 0)))
        return Enrolled(Outcome.DONE)

    def unenroll(self, course_id: str, student_id: str, also: list[dict]) -> Outcome:
        """End an enrollment with `also` (its event) in the same transaction; NOT_FOUND if none."""
        try:
            self.db.transact([*unenrollment_operations(self.db, course_id, student_id), *also])
        except ConditionFailed:
            return Outcome.NOT_FOUND
        return Outcome.DONE

    def _all_ids(self, pk: str, prefix: str) -> list[str]:
        found: list[str] = []
        after = None
        while True:
            page = self.db.query(pk, sk_prefix=prefix, limit=100, after=after)
            found += [item["SK"].removeprefix(prefix) for item in page.items]
            after = page.last_key
            if not after:
                return found

    def student_ids_of_course(self, course_id: str) -> list[str]:
        """Every student enrolled in the course (pages read here, for reminders and calendars)."""
        return self._all_ids(keys.entity_pk("course", course_id), keys.ENROLLMENT_PREFIX)

    def course_ids_of_student(self, student_id: str) -> list[str]:
        return self._all_ids(keys.entity_pk("student", student_id), keys.ENROLLMENT_PREFIX)

    def course_ids_of_teacher(self, teacher_id: str) -> list[str]:
        return self._all_ids(keys.entity_pk("teacher", teacher_id), keys.COURSE_LINK_PREFIX)

    def students(self, student_ids: list[str]) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys((keys.entity_pk("student", s), keys.PROFILE) for s in student_ids))
        return [public(s) for s in self.db.batch_get(wanted)]

    # ------------------------------------------------------------ the catalog
    def catalog_course_ids(self, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        """Published courses, oldest first (the rows exist only while a course is published)."""
        rows = self.db.query(keys.CATALOG, limit=limit, cursor=cursor)
        return [r["course_id"] for r in rows.items], rows.next_cursor


def store() -> DirectoryStore:
    return DirectoryStore(table(settings().table_name))
