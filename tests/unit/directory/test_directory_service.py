"""The directory's rules against an in-memory store: enrollment within capacity, its refusals by
name, unenrollment, and the catalog (published courses only, seats left)."""

from __future__ import annotations

from typing import Any

import pytest

from integration_core.adapters.dynamodb import ConditionFailed, Table
from integration_core.errors import Conflict, NotFound, Unprocessable
from integration_core.ids import stable_id
from integration_core.principal import Principal, Role
from integration_core.services import directory
from integration_core.stores.common import Outcome
from integration_core.stores.directory import Enrolled

ADMIN = Principal("adm_boss", Role.ADMIN)


class FakeDirectoryStore:
    """The DirectoryStore's methods the services use, over dicts; `also` (the event's writes) is kept
    with the change it came with, as the real store writes both in one transaction."""

    def __init__(self) -> None:
        self.db = Table("unused")  # builds the event's operations; nothing is sent
        self.people: dict[tuple[str, str], dict[str, Any]] = {}
        self.courses_by_id: dict[str, dict[str, Any]] = {}
        self.enrollments: dict[tuple[str, str], dict[str, Any]] = {}
        self.committed: list[list[dict]] = []

    def person(self, kind: str, person_id: str) -> dict[str, Any] | None:
        return self.people.get((kind, person_id))

    def course(self, course_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        return self.courses_by_id.get(course_id)

    def courses(self, course_ids: list[str]) -> list[dict[str, Any]]:
        return [self.courses_by_id[i] for i in course_ids if i in self.courses_by_id]

    def teachers(self, teacher_ids: list[str]) -> list[dict[str, Any]]:
        return [self.people[("teacher", t)] for t in dict.fromkeys(teacher_ids) if ("teacher", t) in self.people]

    def catalog_course_ids(self, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        published = [c["id"] for c in sorted(self.courses_by_id.values(), key=lambda c: c["created_at"])]
        return [i for i in published if self.courses_by_id[i].get("published")][:limit], None

    def enroll(self, course_id: str, student_id: str, source: str, now: str, also: list[dict]) -> Enrolled:
        course = self.courses_by_id.get(course_id)
        if course is None:
            return Enrolled(Outcome.NOT_FOUND)
        capacity = course.get("capacity")
        if capacity is not None and course["enrolled_count"] >= capacity:
            return Enrolled(Outcome.FULL, capacity)
        if ("student", student_id) not in self.people:
            return Enrolled(Outcome.RELATED_NOT_FOUND)
        if (course_id, student_id) in self.enrollments:
            return Enrolled(Outcome.ALREADY_EXISTS)
        course["enrolled_count"] += 1
        self.enrollments[(course_id, student_id)] = {"course_id": course_id, "student_id": student_id, "source": source}
        self.committed.append(also)
        return Enrolled(Outcome.DONE)

    def enrollment(self, student_id: str, course_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        return self.enrollments.get((course_id, student_id))

    def unenroll(self, course_id: str, student_id: str, also: list[dict]) -> Outcome:
        if self.enrollments.pop((course_id, student_id), None) is None:
            return Outcome.NOT_FOUND
        self.courses_by_id[course_id]["enrolled_count"] -= 1
        self.committed.append(also)
        return Outcome.DONE


@pytest.fixture
def store(monkeypatch):
    fake = FakeDirectoryStore()
    dispatched: list[list[str]] = []
    monkeypatch.setattr(directory, "_store", lambda: fake)
    monkeypatch.setattr(directory, "_dispatch", dispatched.append)
    fake.dispatched = dispatched  # type: ignore[attr-defined]
    fake.people[("teacher", "tch_ada1")] = {"id": "tch_ada1", "name": "Ada"}
    for student in ("stu_one1", "stu_two2", "stu_three3"):
        fake.people[("student", student)] = {"id": student}
    fake.courses_by_id["crs_small"] = _course("crs_small", capacity=2, published=True, created_at="2026-01-01")
    fake.courses_by_id["crs_open"] = _course("crs_open", capacity=None, published=True, created_at="2026-01-02")
    fake.courses_by_id["crs_draft"] = _course("crs_draft", capacity=5, published=False, created_at="2026-01-03")
    return fake


def _course(course_id: str, *, capacity: int | None, published: bool, created_at: str) -> dict[str, Any]:
    course = {
        "id": course_id,
        "title": course_id,
        "description": "",
        "price": {"amount": "10.00", "currency": "EUR", "amount_minor": 1000},
        "time_zone": "Europe/Madrid",
        "teacher_id": "tch_ada1",
        "published": published,
        "enrolled_count": 0,
        "created_at": created_at,
    }
    if capacity is not None:
        course["capacity"] = capacity
    return course


def test_enrollment_fills_a_course_to_capacity_and_then_is_refused_naming_the_capacity(store):
    for student in ("stu_one1", "stu_two2"):
        answer = directory.enroll(ADMIN, "crs_small", student)
        assert (answer.student_id, answer.source) == (student, "admin")
    with pytest.raises(Conflict) as full:
        directory.enroll(ADMIN, "crs_small", "stu_three3")
    assert full.value.extensions == {"capacity": 2}
    assert "is full (2 seats, all taken)" in full.value.detail
    assert store.courses_by_id["crs_small"]["enrolled_count"] == 2
    # Each enrollment was committed with its student_enrolled event, and only those were dispatched.
    assert len(store.committed) == 2 and all(len(ops) == 1 for ops in store.committed)
    assert len(store.dispatched) == 2


def test_an_enrollment_refused_writes_no_event_and_dispatches_nothing(store):
    with pytest.raises(Unprocessable) as no_course:
        directory.enroll(ADMIN, "crs_none", "stu_one1")
    assert no_course.value.errors[0]["field"] == "courseId"
    with pytest.raises(Unprocessable) as no_student:
        directory.enroll(ADMIN, "crs_open", "stu_nobody")
    assert no_student.value.errors[0]["field"] == "studentId"
    directory.enroll(ADMIN, "crs_open", "stu_one1")
    with pytest.raises(Conflict, match="already enrolled"):
        directory.enroll(ADMIN, "crs_open", "stu_one1")
    assert len(store.committed) == 1 and len(store.dispatched) == 1


def test_a_course_without_capacity_takes_everyone(store):
    for student in ("stu_one1", "stu_two2", "stu_three3"):
        directory.enroll(ADMIN, "crs_open", student)
    assert store.courses_by_id["crs_open"]["enrolled_count"] == 3


def test_unenrollment_frees_the_seat_and_a_second_one_is_not_found(store):
    directory.enroll(ADMIN, "crs_small", "stu_one1")
    directory.enroll(ADMIN, "crs_small", "stu_two2")
    directory.unenroll(ADMIN, "crs_small", "stu_one1")
    assert store.courses_by_id["crs_small"]["enrolled_count"] == 1
    with pytest.raises(NotFound):
        directory.unenroll(ADMIN, "crs_small", "stu_one1")
    directory.enroll(ADMIN, "crs_small", "stu_three3")  # the freed seat is taken again
    assert len(store.dispatched) == 4


def test_only_an_admin_enrolls():
    from integration_core.errors import Forbidden

    with pytest.raises(Forbidden):
        directory.enroll(Principal("stu_one1", Role.STUDENT), "crs_small", "stu_one1")


def test_the_catalog_shows_published_courses_with_their_teacher_and_seats_left(store):
    directory.enroll(ADMIN, "crs_small", "stu_one1")
    page = directory.catalog(25, None)
    assert [(e.id, e.teacher.name, e.seats_left) for e in page.items] == [
        ("crs_small", "Ada", 1),
        ("crs_open", "Ada", None),
    ]
    with pytest.raises(NotFound):
        directory.catalog_course("crs_draft")  # a draft's existence is not shown


def test_seats_left_never_goes_below_zero_when_capacity_is_lowered_under_the_count():
    assert directory.seats_left({"capacity": 1, "enrolled_count": 3}) == 0
    assert directory.seats_left({"enrolled_count": 3}) is None


def test_a_full_refund_ends_only_the_enrollment_its_payment_bought_in_one_commit(store):
    bought = {"course_id": "crs_small", "student_id": "stu_one1", "source": "payment", "payment_id": "pay_one00001"}
    store.enrollments[("crs_small", "stu_one1")] = bought
    by_admin = {"course_id": "crs_small", "student_id": "stu_two2", "source": "admin"}
    store.enrollments[("crs_small", "stu_two2")] = by_admin
    commits: list[list[dict]] = []

    assert directory.end_refunded_enrollment("crs_small", "stu_one1", "pay_one00001", commits.append)
    # Bought by an admin, or no enrollment at all: not this payment's to end, nothing written.
    assert not directory.end_refunded_enrollment("crs_small", "stu_two2", "pay_one00001", commits.append)
    assert not directory.end_refunded_enrollment("crs_open", "stu_one1", "pay_one00001", commits.append)

    # Both enrollment rows, the course's count and the student_unenrolled event in one commit;
    # the event's id derives from the payment, and only it is fanned out.
    [operations] = commits
    assert len(operations) == 4
    assert store.dispatched == [[stable_id("event", "student_unenrolled", "pay_one00001")]]


def test_a_refunded_enrollment_changed_meanwhile_is_left_alone(store):
    bought = {"course_id": "crs_small", "student_id": "stu_one1", "source": "payment", "payment_id": "pay_one00001"}
    store.enrollments[("crs_small", "stu_one1")] = bought

    def raced(operations: list[dict]) -> None:
        raise ConditionFailed(["ConditionalCheckFailed", "None", "None", "None"])

    assert not directory.end_refunded_enrollment("crs_small", "stu_one1", "pay_one00001", raced)
    assert store.dispatched == []
