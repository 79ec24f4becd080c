"""Directory CRUD through the function, as the center's back office and apps use it."""

import json

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


# ---------------------------------------------------------------- enrollment events (the outbox)
@pytest.fixture
def recorded(monkeypatch):
    """The events recorded by committed transactions ({"event_type", "data", "event_id", "tx"}:
    tx is the transaction's items), and the ids each dispatch was then asked to fan out."""
    from integration_core.adapters import dynamodb
    from integration_core.services import events

    found = {"events": [], "dispatched": []}
    real_transact, real_dispatch = dynamodb.Table.transact, events.dispatch

    def transact(self, operations, token=None):
        real_transact(self, operations, token)
        puts = [dynamodb.from_item(op["Put"]["Item"]) for op in operations if "Put" in op]
        for item in puts:
            if item["PK"].startswith("EVENT#"):
                data = json.loads(item["data_json"])
                found["events"].append({**item, "data": data, "tx": operations})

    def dispatch(event_ids):
        found["dispatched"].extend(event_ids)
        return real_dispatch(event_ids)

    monkeypatch.setattr(dynamodb.Table, "transact", transact)
    monkeypatch.setattr(events, "dispatch", dispatch)
    return found


def _of(recorded, event_type):
    return [e for e in recorded["events"] if e["event_type"] == event_type]


def _enrollment_rows(transaction) -> set[str]:
    return {op["Put"]["Item"]["SK"]["S"] for op in transaction if "Put" in op} | {
        op["Delete"]["Key"]["SK"]["S"] for op in transaction if "Delete" in op
    }


def test_an_admin_enrollment_publishes_student_enrolled_once_in_its_transaction(school, recorded):
    course_id, student_id = school["course"]["id"], school["student"]["id"]
    body = {"courseId": course_id, "studentId": student_id}
    assert call("POST", "/directory/enrollments", body=body).status == 201
    assert call("POST", "/directory/enrollments", body=body).status == 409  # a repeat publishes nothing
    [event] = _of(recorded, "student_enrolled")
    assert event["data"] == {
        "studentId": student_id,
        "courseId": course_id,
        "enrolledAt": event["data"]["enrolledAt"],
        "source": "admin",
    }
    assert {f"ENROLLMENT#{student_id}", f"ENROLLMENT#{course_id}"} <= _enrollment_rows(event["tx"])
    assert recorded["dispatched"] == [event["event_id"]]
    enrollment = call("GET", "/directory/enrollments", query={"courseId": course_id}).body["items"][0]
    assert enrollment["enrolledAt"] == event["data"]["enrolledAt"]


def test_an_unenrollment_publishes_student_unenrolled_removed_once(school, recorded):
    course_id, student_id = school["course"]["id"], school["student"]["id"]
    call("POST", "/directory/enrollments", body={"courseId": course_id, "studentId": student_id})
    assert call("DELETE", f"/directory/enrollments/{course_id}/{student_id}").status == 204
    assert call("DELETE", f"/directory/enrollments/{course_id}/{student_id}").status == 404
    [event] = _of(recorded, "student_unenrolled")
    assert event["data"] == {
        "studentId": student_id,
        "courseId": course_id,
        "unenrolledAt": event["data"]["unenrolledAt"],
        "reason": "removed",
    }
    assert {f"ENROLLMENT#{student_id}", f"ENROLLMENT#{course_id}"} <= _enrollment_rows(event["tx"])
    assert len(recorded["dispatched"]) == 2 and recorded["dispatched"][1] == event["event_id"]


def test_a_refused_enrollment_records_no_event(school, recorded):
    body = {"courseId": school["course"]["id"], "studentId": "stu_ghost000"}
    assert call("POST", "/directory/enrollments", body=body).status == 422
    assert call("DELETE", f"/directory/enrollments/{school['course']['id']}/stu_ghost000").status == 404
    assert recorded["events"] == [] and recorded["dispatched"] == []


def test_the_event_is_in_the_same_transaction_as_the_enrollment(school, monkeypatch):
    """When the transaction fails, neither the enrollment nor its event exists; when dispatch
    fails after it committed, both exist and the event waits in the outbox for the sweeper."""
    from integration_core.adapters import dynamodb
    from integration_core.errors import ProviderUnavailable
    from integration_core.services import events

    course_id, student_id = school["course"]["id"], school["student"]["id"]
    body = {"courseId": course_id, "studentId": student_id}
    real_transact = dynamodb.Table.transact

    def refused(self, operations, token=None):
        raise ProviderUnavailable("DynamoDB is throttling")

    monkeypatch.setattr(dynamodb.Table, "transact", refused)
    assert call("POST", "/directory/enrollments", body=body).status == 503
    monkeypatch.setattr(dynamodb.Table, "transact", real_transact)
    assert call("GET", "/directory/enrollments", query={"courseId": course_id}).body["items"] == []
    assert events.stranded_event_ids() == []

    def dispatch_down(event_ids):
        raise RuntimeError("SQS is down")

    monkeypatch.setattr(events, "dispatch", dispatch_down)
    monkeypatch.setenv("WEBHOOK_SWEEP_GRACE_SECONDS", "0")
    from integration_core.webhook_config import webhook_settings

    webhook_settings.cache_clear()
    try:
        assert call("POST", "/directory/enrollments", body=body).status == 201
        [stranded] = events.stranded_event_ids()
    finally:
        webhook_settings.cache_clear()
    from integration_core.adapters.dynamodb import table

    assert table("app-table").get(f"EVENT#{stranded}", "EVENT")["event_type"] == "student_enrolled"


# ---------------------------------------------------------------- the catalog
STUDENT = ("stu_visitor01", "student")


def _published_course(school, **extra):
    body = {
        "title": "IELTS evenings",
        "description": "Tuesdays, 19:00 London time.",
        "price": {"amount": "180.00", "currency": "GBP"},
        "timeZone": "Europe/London",
        "teacherId": school["teacher"]["id"],
        "published": True,
        "capacity": 2,
        **extra,
    }
    answer = call("POST", "/directory/courses", body=body)
    assert answer.status == 201, answer.body
    return answer.body


def test_a_student_who_bought_nothing_finds_published_courses_in_the_catalog(school):
    course = _published_course(school)
    rule = {"daysOfWeek": ["TU"], "startTime": "19:00", "durationMinutes": 90, "fromDate": "2030-01-01", "count": 4}
    assert call("POST", f"/directory/courses/{course['id']}/sessions", body={"recurrence": rule}).status == 201
    # The draft course of the fixture is not in it, and the full record stays staff-only.
    assert call("GET", f"/directory/courses/{course['id']}", caller=STUDENT).status == 403
    listed = call("GET", "/directory/catalog", caller=STUDENT)
    assert listed.status == 200
    [entry] = listed.body["items"]
    assert entry == {
        "id": course["id"],
        "title": "IELTS evenings",
        "description": "Tuesdays, 19:00 London time.",
        "price": {"amount": "180.00", "currency": "GBP", "amountMinor": 18000},
        "teacher": {"id": school["teacher"]["id"], "name": "James"},
        "schedule": {
            "timeZone": "Europe/London",
            "sessionCount": 4,
            "firstSessionAt": "2030-01-01T19:00:00+00:00",
            "lastSessionAt": "2030-01-22T19:00:00+00:00",
            "nextSessionAt": None,
        },
        "capacity": 2,
        "seatsLeft": 2,
    }
    one = call("GET", f"/directory/catalog/{course['id']}", caller=STUDENT).body
    assert one["schedule"]["nextSessionAt"] == "2030-01-01T19:00:00+00:00"
    assert {k: v for k, v in one.items() if k != "schedule"} == {k: v for k, v in entry.items() if k != "schedule"}
    assert call("GET", f"/directory/catalog/{school['course']['id']}", caller=STUDENT).status == 404  # a draft


def test_seats_left_follow_enrollments_and_a_full_course_refuses_an_admin_enrollment(school):
    course = _published_course(school)
    students = [
        call("POST", "/directory/students", body={"email": f"s{n}@example.com", "name": f"S{n}"}).body["id"]
        for n in range(3)
    ]
    for n, student_id in enumerate(students[:2]):
        assert (
            call("POST", "/directory/enrollments", body={"courseId": course["id"], "studentId": student_id}).status
            == 201
        )
        assert call("GET", f"/directory/catalog/{course['id']}", caller=STUDENT).body["seatsLeft"] == 1 - n
    full = call("POST", "/directory/enrollments", body={"courseId": course["id"], "studentId": students[2]})
    assert full.status == 409 and "full" in full.body["detail"] and full.body["capacity"] == 2
    assert call("DELETE", f"/directory/enrollments/{course['id']}/{students[0]}").status == 204
    assert call("GET", "/directory/catalog", caller=STUDENT).body["items"][0]["seatsLeft"] == 1
    staff = call("GET", f"/directory/courses/{course['id']}").body
    assert (staff["capacity"], staff["enrolledCount"], staff["seatsLeft"]) == (2, 1, 1)
    # No limit: seatsLeft is null.
    assert call("PATCH", f"/directory/courses/{course['id']}", body={"capacity": None}).body["seatsLeft"] is None
    assert call("GET", f"/directory/catalog/{course['id']}", caller=STUDENT).body["capacity"] is None


def test_publishing_and_unpublishing_moves_a_course_in_and_out_of_the_catalog(school):
    draft_id = school["course"]["id"]
    assert call("GET", "/directory/catalog", caller=STUDENT).body["items"] == []
    published = call("PATCH", f"/directory/courses/{draft_id}", body={"published": True})
    assert published.status == 200 and published.body["published"] is True
    assert [c["id"] for c in call("GET", "/directory/catalog", caller=STUDENT).body["items"]] == [draft_id]
    assert call("PATCH", f"/directory/courses/{draft_id}", body={"published": False}).status == 200
    assert call("GET", "/directory/catalog", caller=STUDENT).body["items"] == []
    assert call("GET", f"/directory/catalog/{draft_id}", caller=STUDENT).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": 10_001}, "capacity"),
        ({"capacity": "ten"}, "capacity"),
        ({"published": "yes"}, "published"),
        ({"published": None}, "published"),
    ],
)
def test_bad_published_or_capacity_is_refused_naming_the_field(school, body, field):
    course_id = school["course"]["id"]
    answer = call("PATCH", f"/directory/courses/{course_id}", body=body)
    assert answer.status == 422 and answer.body["errors"][0]["field"] == field, answer.body
    stored = call("GET", f"/directory/courses/{course_id}").body
    assert (stored["published"], stored["capacity"]) == (False, None)


def test_the_catalog_needs_a_token_unless_the_school_makes_it_public(school, monkeypatch):
    from integration_core.config import settings

    _published_course(school)
    assert call("GET", "/directory/catalog", caller=None).status == 401
    for caller in (("tch_other0001", "teacher"), ("adm_office", "admin"), ("svc_crm0001", "service")):
        assert call("GET", "/directory/catalog", caller=caller).status == 200
    monkeypatch.setenv("CATALOG_PUBLIC", "true")
    settings.cache_clear()
    try:
        anonymous = call("GET", "/directory/catalog", caller=None)
        assert anonymous.status == 200 and len(anonymous.body["items"]) == 1
    finally:
        settings.cache_clear()


def test_sessions_move_and_cancel_and_each_change_publishes_course_schedule_changed(school, recorded):
    course_id = school["course"]["id"]
    path = f"/directory/courses/{course_id}/sessions"
    body = {"sessions": [{"startsAt": "2026-07-01T18:00:00", "durationMinutes": 60}]}
    [session] = call("POST", path, body=body).body["created"]
    assert call("POST", path, body=body).body["alreadyExisted"] == 1  # a repeat publishes the same event id
    added = _of(recorded, "course_schedule_changed")
    assert [e["data"] for e in added] == [{"courseId": course_id, "change": "added", "sessionIds": [session["id"]]}]

    moved = call("PATCH", f"{path}/{session['id']}", body={"startsAt": "2026-07-02T19:30:00", "durationMinutes": 90})
    assert moved.status == 200, moved.body
    assert (moved.body["startsAt"], moved.body["endsAt"], moved.body["version"]) == (
        "2026-07-02T23:30:00+00:00",
        "2026-07-03T01:00:00+00:00",
        2,
    )
    assert moved.body["localStartsAt"] == "2026-07-02T19:30:00-04:00"
    assert [s["startsAt"] for s in call("GET", path).body["items"]] == ["2026-07-02T23:30:00+00:00"]
    assert call("GET", f"/directory/courses/{course_id}").body["schedule"]["firstSessionAt"] == moved.body["startsAt"]
    assert call("PATCH", f"{path}/{session['id']}", body={"startsAt": None}).status == 422

    assert call("DELETE", f"{path}/{session['id']}").status == 204
    assert call("GET", path).body["items"] == []
    assert call("PATCH", f"{path}/{session['id']}", body={"durationMinutes": 30}).status == 404
    assert call("GET", f"/directory/courses/{course_id}").body["schedule"]["sessionCount"] == 0
    changes = [(e["data"]["change"], e["data"]["sessionIds"]) for e in _of(recorded, "course_schedule_changed")]
    assert changes == [("added", [session["id"]]), ("moved", [session["id"]]), ("cancelled", [session["id"]])]
    # Move and cancel record their event in the session's own transaction.
    for event in _of(recorded, "course_schedule_changed")[1:]:
        assert f"SESSION#{session['id']}" in {op["Update"]["Key"]["SK"]["S"] for op in event["tx"] if "Update" in op}
    assert call("PATCH", f"{path}/{session['id']}", caller=("stu_ana00001", "student"), body={}).status == 403
