"""Directory CRUD through the function, as the center's back office and apps use it."""

import boto3
import pytest

from tests.support.lambdas import api_event, invoke

ADMIN = ("adm_office", "admin")


def call(method, path, caller=ADMIN, **kwargs):
    return invoke("directory", api_event(method, path, caller=caller, **kwargs))


def _items_in_table() -> int:
    # Counting through Query on the listing index (scans are forbidden in tests too).
    client = boto3.client("dynamodb")
    total = 0
    for kind in ("student", "teacher", "course"):
        total += client.query(
            TableName="app-table",
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :p",
            ExpressionAttributeValues={":p": {"S": f"TYPE#{kind}"}},
            Select="COUNT",
        )["Count"]
    return total


@pytest.fixture
def school(aws):
    teacher = call(
        "POST",
        "/directory/teachers",
        body={"id": "tch_james0001", "email": "james@school.example", "name": "James", "timeZone": "America/New_York"},
    ).body
    student = call(
        "POST",
        "/directory/students",
        body={"id": "stu_ana00001", "email": "Ana@Example.com", "name": "Ana", "timeZone": "America/Sao_Paulo"},
    ).body
    course = call(
        "POST",
        "/directory/courses",
        body={
            "id": "crs_business0001",
            "title": "Business English B2",
            "price": {"amount": "249.00", "currency": "USD"},
            "timeZone": "America/New_York",
            "teacherId": teacher["id"],
        },
    ).body
    return {"teacher": teacher, "student": student, "course": course}


def test_create_read_update_delete_a_student(aws):
    created = call(
        "POST", "/directory/students", body={"email": "kenji@example.jp", "name": "Kenji", "timeZone": "Asia/Tokyo"}
    )
    assert created.status == 201
    sid = created.body["id"]
    assert sid.startswith("stu_")
    assert call("GET", f"/directory/students/{sid}").body["timeZone"] == "Asia/Tokyo"
    updated = call("PATCH", f"/directory/students/{sid}", body={"name": "Kenji Sato", "email": "k.sato@example.jp"})
    assert (updated.status, updated.body["name"], updated.body["email"]) == (200, "Kenji Sato", "k.sato@example.jp")
    # the old email is free again, the new one is taken
    again = call("POST", "/directory/students", body={"email": "k.sato@example.jp", "name": "Other"})
    assert again.status == 409
    assert call("POST", "/directory/students", body={"email": "kenji@example.jp", "name": "Other"}).status == 201
    moved = call("PATCH", f"/directory/students/{sid}", body={"timeZone": "Europe/London"})
    assert moved.body["timeZone"] == "Europe/London"
    assert call("GET", f"/directory/students/{sid}").body["timeZone"] == "Europe/London"
    assert call("DELETE", f"/directory/students/{sid}").status == 204
    assert call("GET", f"/directory/students/{sid}").status == 404


def test_emails_are_unique_case_insensitively(aws):
    assert call("POST", "/directory/students", body={"email": "ana@example.com", "name": "Ana"}).status == 201
    duplicate = call("POST", "/directory/students", body={"email": "ANA@example.com", "name": "Ana 2"})
    assert duplicate.status == 409
    assert "ana@example.com" in duplicate.body["detail"]


def test_course_price_is_kept_in_minor_units_of_its_currency(school):
    for amount, currency, minor in (("30000", "JPY", 30000), ("45.500", "KWD", 45500)):
        answer = call(
            "POST",
            "/directory/courses",
            body={
                "title": f"Course in {currency}",
                "price": {"amount": amount, "currency": currency},
                "timeZone": "Asia/Tokyo",
                "teacherId": school["teacher"]["id"],
            },
        )
        assert answer.status == 201
        assert answer.body["price"] == {"amount": amount, "currency": currency, "amountMinor": minor}


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        ("10.5", "JPY", "price.amount"),
        ("1.001", "USD", "price.amount"),
        ("10", "XYZ", "price.amount"),
        ("-1", "USD", "price.amount"),
        ("10", "usd", "price.currency"),
    ],
)
def test_prices_the_currency_cannot_represent_are_refused_naming_the_field(school, amount, currency, field):
    before = _items_in_table()
    answer = call(
        "POST",
        "/directory/courses",
        body={
            "title": "Bad price",
            "price": {"amount": amount, "currency": currency},
            "timeZone": "UTC",
            "teacherId": school["teacher"]["id"],
        },
    )
    assert answer.status == 422
    assert answer.content_type == "application/problem+json"
    assert field in [e["field"] for e in answer.body["errors"]]
    assert _items_in_table() == before


def test_course_needs_an_existing_teacher(aws):
    answer = call(
        "POST",
        "/directory/courses",
        body={
            "title": "Orphan",
            "price": {"amount": "1", "currency": "USD"},
            "timeZone": "UTC",
            "teacherId": "tch_nobody00",
        },
    )
    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == "teacherId"
    assert call("GET", "/directory/courses").body["items"] == []


def test_weekly_recurrence_is_expanded_in_the_course_zone_and_is_idempotent(school):
    path = f"/directory/courses/{school['course']['id']}/sessions"
    rule = {
        "recurrence": {
            "daysOfWeek": ["MO"],
            "startTime": "18:00",
            "durationMinutes": 90,
            "fromDate": "2026-03-02",
            "count": 3,
        }
    }
    first = call("POST", path, body=rule)
    assert first.status == 201
    assert [s["localStartsAt"] for s in first.body["created"]] == [
        "2026-03-02T18:00:00-05:00",
        "2026-03-09T18:00:00-04:00",
        "2026-03-16T18:00:00-04:00",
    ]
    assert [s["startsAt"] for s in first.body["created"]] == [
        "2026-03-02T23:00:00+00:00",
        "2026-03-09T22:00:00+00:00",
        "2026-03-16T22:00:00+00:00",
    ]
    second = call("POST", path, body=rule)
    assert (second.body["created"], second.body["alreadyExisted"]) == ([], 3)
    listed = call("GET", path, query={"limit": "2"})
    assert [s["startsAt"][:10] for s in listed.body["items"]] == ["2026-03-02", "2026-03-09"]
    rest = call("GET", path, query={"limit": "2", "cursor": listed.body["nextCursor"]})
    assert [s["startsAt"][:10] for s in rest.body["items"]] == ["2026-03-16"]
    session_id = first.body["created"][0]["id"]
    assert call("DELETE", f"{path}/{session_id}").status == 204
    assert call("DELETE", f"{path}/{session_id}").status == 404


def test_explicit_sessions_take_local_or_offset_times(school):
    path = f"/directory/courses/{school['course']['id']}/sessions"
    answer = call(
        "POST",
        path,
        body={
            "sessions": [
                {"startsAt": "2026-07-01T18:00:00", "durationMinutes": 60},
                {"startsAt": "2026-07-02T18:00:00+02:00", "durationMinutes": 60},
            ]
        },
    )
    assert [s["startsAt"] for s in answer.body["created"]] == ["2026-07-01T22:00:00+00:00", "2026-07-02T16:00:00+00:00"]


def test_enrollment_gives_students_and_teachers_their_views(school):
    course_id, student_id = school["course"]["id"], school["student"]["id"]
    student = (student_id, "student")
    teacher = (school["teacher"]["id"], "teacher")
    assert call("GET", f"/directory/courses/{course_id}", caller=student).status == 403
    enrolled = call("POST", "/directory/enrollments", body={"courseId": course_id, "studentId": student_id})
    assert enrolled.status == 201
    assert call("POST", "/directory/enrollments", body={"courseId": course_id, "studentId": student_id}).status == 409
    assert call("GET", f"/directory/courses/{course_id}", caller=student).status == 200
    assert [c["id"] for c in call("GET", "/directory/courses", caller=student).body["items"]] == [course_id]
    assert [c["id"] for c in call("GET", "/directory/courses", caller=teacher).body["items"]] == [course_id]
    by_course = call("GET", "/directory/enrollments", caller=teacher, query={"courseId": course_id})
    assert [e["studentId"] for e in by_course.body["items"]] == [student_id]
    mine = call("GET", "/directory/enrollments", caller=student)
    assert [e["courseId"] for e in mine.body["items"]] == [course_id]
    # a student with enrollments cannot be deleted; unenroll first
    assert call("DELETE", f"/directory/students/{student_id}").status == 409
    assert call("DELETE", f"/directory/enrollments/{course_id}/{student_id}").status == 204
    assert call("GET", "/directory/courses", caller=student).body["items"] == []


def test_enrolling_unknown_people_names_the_field(school):
    answer = call(
        "POST", "/directory/enrollments", body={"courseId": school["course"]["id"], "studentId": "stu_ghost000"}
    )
    assert (answer.status, answer.body["errors"][0]["field"]) == (422, "studentId")


def test_changing_a_course_teacher_moves_it_between_teachers(school):
    other = call("POST", "/directory/teachers", body={"email": "maria@school.example", "name": "Maria"}).body
    course_id = school["course"]["id"]
    moved = call("PATCH", f"/directory/courses/{course_id}", body={"teacherId": other["id"]})
    assert moved.status == 200
    assert call("GET", "/directory/courses", caller=(other["id"], "teacher")).body["items"][0]["id"] == course_id
    assert call("GET", "/directory/courses", caller=(school["teacher"]["id"], "teacher")).body["items"] == []
    assert call("DELETE", f"/directory/teachers/{school['teacher']['id']}").status == 204
    assert call("DELETE", f"/directory/teachers/{other['id']}").status == 409


def test_lists_are_paginated_with_opaque_cursors(aws):
    for n in range(5):
        call("POST", "/directory/students", body={"email": f"s{n}@example.com", "name": f"Student {n}"})
    seen, cursor = [], None
    while True:
        page = call("GET", "/directory/students", query={"limit": "2", **({"cursor": cursor} if cursor else {})}).body
        seen += [s["email"] for s in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"s{n}@example.com" for n in range(5)]
    assert call("GET", "/directory/students", query={"cursor": "not-a-cursor!"}).status == 400


# ---------------------------------------------------------------- bad input: 400/422, nothing written
@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        ('{"email": "a@example.com", "name": ', 400, "body"),
        ('{"email": "a@example.com", "name": 42}', 422, "name"),
        ('{"email": "a@example.com", "name": "A", "isAdmin": true}', 422, "isAdmin"),
        ('{"email": "a@example.com", "name": "' + "x" * 201 + '"}', 422, "name"),
        ('{"email": "not-an-email", "name": "A"}', 422, "email"),
        ('{"email": "a@example.com", "name": "A", "timeZone": "Mars/Base"}', 422, "timeZone"),
        ('{"name": "A"}', 422, "email"),
        ("[]", 422, "body"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(aws, raw, status, field):
    answer = call("POST", "/directory/students", raw_body=raw)
    assert answer.status == status
    assert answer.content_type == "application/problem+json"
    assert field in [e["field"] for e in answer.body["errors"]], answer.body
    assert _items_in_table() == 0


def test_bad_query_and_path_parameters_are_refused(aws):
    assert call("GET", "/directory/students", query={"limit": "1000"}).body["errors"][0]["field"] == "limit"
    assert call("GET", "/directory/students/not-an-id").status == 422
    assert call("PATCH", "/directory/students/stu_ana00001", body={}).status == 422
    assert call("GET", "/directory/nothing-here").status == 404
