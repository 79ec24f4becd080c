"""Reminders and the feed against moto in-process: the sync route creates Scheduler schedules as
the template's parameters say, a moved or cancelled session moves or deletes them through the bus
(RemindersEventsFunction), the reminder function emails each enrolled student once through SES and
records one class_reminder, a stale reminder sends nothing, and the feed answers 200/304/404."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from integration_core.ids import stable_id
from tests.support.internal_events import deliver_bus_events
from tests.support.lambdas import LambdaContext, api_event, invoke, load_function

ADMIN = ("adm_office", "admin")
GROUP = "school-integration-reminders"
TARGET = "arn:aws:lambda:eu-west-1:123456789012:function:school-integration-ReminderFunction"
SENDER = "classes@school.example"


@pytest.fixture
def reminders_env(aws, monkeypatch):
    from integration_core.adapters import scheduler, ses
    from integration_core.reminder_config import reminder_settings

    monkeypatch.setenv("REMINDER_SCHEDULE_GROUP", GROUP)
    monkeypatch.setenv("REMINDER_TARGET_ARN", TARGET)
    monkeypatch.setenv("REMINDER_SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/reminders")
    monkeypatch.setenv("REMINDER_SENDER", SENDER)
    monkeypatch.setenv("CALENDAR_REMINDER_MINUTES", "1440,60")
    for cached in (reminder_settings, scheduler.client, ses.client):
        cached.cache_clear()
    boto3.client("scheduler").create_schedule_group(Name=GROUP)
    boto3.client("ses").verify_email_identity(EmailAddress=SENDER)
    yield
    for cached in (reminder_settings, scheduler.client, ses.client):
        cached.cache_clear()


def _created(path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = invoke("directory", api_event("POST", path, caller=ADMIN, body=body))
    assert answer.status == 201, answer.body
    return answer.body  # type: ignore[no-any-return]


def _course_with_student(starts: list[datetime], students: int = 1) -> tuple[str, list[str], list[str]]:
    teacher = _created("/directory/teachers", {"email": "tess@school.example", "name": "Tess"})["id"]
    course = _created(
        "/directory/courses",
        {
            "title": "Evening English",
            "price": {"amount": "0", "currency": "EUR"},
            "timeZone": "America/New_York",
            "teacherId": teacher,
        },
    )["id"]
    student_ids = []
    for n in range(students):
        student = _created("/directory/students", {"email": f"ana{n}@school.example", "name": f"Ana {n}"})["id"]
        _created("/directory/enrollments", {"courseId": course, "studentId": student})
        student_ids.append(student)
    created = _created(
        f"/directory/courses/{course}/sessions",
        {"sessions": [{"startsAt": s.isoformat(), "durationMinutes": 60} for s in starts]},
    )["created"]
    return course, [s["id"] for s in sorted(created, key=lambda s: s["startsAt"])], student_ids


def _schedules() -> dict[str, dict[str, Any]]:
    client = boto3.client("scheduler")
    names = [s["Name"] for s in client.list_schedules(GroupName=GROUP)["Schedules"]]
    return {n: client.get_schedule(Name=n, GroupName=GROUP) for n in names}


def _sent() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages)


def test_sync_creates_schedules_and_the_bus_moves_and_deletes_them(reminders_env):
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    course, (first, second), _ = _course_with_student([starts, starts + timedelta(days=7)])
    answer = invoke("reminders", api_event("POST", f"/google-calendar/sync-reminders/{course}", caller=ADMIN))
    assert answer.status == 200, answer.body
    assert (answer.body["created"], answer.body["schedulerCalls"]) == (4, 4)
    schedules = _schedules()
    assert set(schedules) == {f"reminder-{s}-{m}m" for s in (first, second) for m in (1440, 60)}
    one = schedules[f"reminder-{first}-60m"]
    assert one["ScheduleExpression"] == f"at({(starts - timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%S')})"
    assert (one["ScheduleExpressionTimezone"], one["FlexibleTimeWindow"]["Mode"]) == ("UTC", "OFF")
    assert one["ActionAfterCompletion"] == "DELETE" and one["Target"]["Arn"] == TARGET
    again = invoke("reminders", api_event("POST", f"/google-calendar/sync-reminders/{course}", caller=ADMIN))
    assert (again.body["created"], again.body["unchanged"], again.body["schedulerCalls"]) == (0, 4, 0)

    deliver_bus_events("RemindersEventsFunction")  # the sessions' "added" event: nothing to change
    moved_to = starts + timedelta(hours=3)
    patched = invoke(
        "directory",
        api_event(
            "PATCH",
            f"/directory/courses/{course}/sessions/{first}",
            caller=ADMIN,
            body={"startsAt": moved_to.isoformat()},
        ),
    )
    assert patched.status == 200, patched.body
    deleted = invoke("directory", api_event("DELETE", f"/directory/courses/{course}/sessions/{second}", caller=ADMIN))
    assert deleted.status == 204
    answers = deliver_bus_events("RemindersEventsFunction")
    assert answers and all(a == {"batchItemFailures": []} for a in answers)
    schedules = _schedules()
    assert set(schedules) == {f"reminder-{first}-1440m", f"reminder-{first}-60m"}
    moved = json.loads(schedules[f"reminder-{first}-1440m"]["Target"]["Input"])
    assert (moved["version"], moved["startsAt"]) == (2, moved_to.isoformat())
    assert schedules[f"reminder-{first}-1440m"]["ScheduleExpression"] == (
        f"at({(moved_to - timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%S')})"
    )


def test_a_reminder_firing_twice_emails_each_student_once_and_records_one_class_reminder_each(reminders_env):
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    course, [session], students = _course_with_student([starts], students=2)
    invoke("reminders", api_event("POST", f"/google-calendar/sync-reminders/{course}", caller=ADMIN))
    payload = json.loads(_schedules()[f"reminder-{session}-60m"]["Target"]["Input"])
    handler = load_function("reminder").handler
    assert handler(payload, LambdaContext())["emailed"] == 2
    assert handler(payload, LambdaContext()) == {"skipped": None, "emailed": 0, "alreadySent": 2, "events": 0}
    sent = _sent()
    assert sorted(m.destinations["ToAddresses"][0] for m in sent) == ["ana0@school.example", "ana1@school.example"]
    assert all(m.source == SENDER and "Evening English" in m.subject for m in sent)
    # One class_reminder per student, recorded with its marker (ids derive from the reminder).
    table = boto3.resource("dynamodb").Table("app-table")
    for student in students:
        event_id = stable_id("event", "class_reminder", session, "60", "1", student)
        item = table.get_item(Key={"PK": f"EVENT#{event_id}", "SK": "EVENT"}, ConsistentRead=True).get("Item")
        assert item is not None and item["event_type"] == "class_reminder"
        assert json.loads(item["data_json"])["studentId"] == student


def test_a_reminder_whose_first_invocation_died_before_the_email_is_sent_by_a_retry_past_the_lease(
    reminders_env, monkeypatch
):
    from integration_core.services.reminders import firing
    from integration_core.stores import reminders as reminder_store

    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    course, [session], [student] = _course_with_student([starts])
    invoke("reminders", api_event("POST", f"/google-calendar/sync-reminders/{course}", caller=ADMIN))
    payload = json.loads(_schedules()[f"reminder-{session}-60m"]["Target"]["Input"])
    handler = load_function("reminder").handler
    send_text = firing.ses.send_text

    def dies(*args, **kwargs):
        raise SystemExit("killed after the claim, before the email")

    monkeypatch.setattr(firing.ses, "send_text", dies)
    with pytest.raises(SystemExit):
        handler(payload, LambdaContext())
    monkeypatch.setattr(firing.ses, "send_text", send_text)
    # Lambda's first retry comes within the send lease: the claim may be a live invocation's, so
    # nothing is sent, and the invocation fails so that Lambda tries again (returning would end it).
    with pytest.raises(firing.ReminderInProgress):
        handler(payload, LambdaContext())
    assert _sent() == []
    # The next retry comes after the lease: it takes the claim over and sends the email once.
    table = boto3.resource("dynamodb").Table("app-table")
    marker = reminder_store.SentKey(session, 60, 1, student)
    table.update_item(
        Key={"PK": marker.pk, "SK": "SENT"},
        UpdateExpression="SET claimed_epoch = claimed_epoch - :lease",
        ExpressionAttributeValues={":lease": reminder_store.SEND_LEASE_SECONDS + 1},
    )
    assert handler(payload, LambdaContext())["emailed"] == 1
    assert handler(payload, LambdaContext())["alreadySent"] == 1
    assert [m.destinations["ToAddresses"][0] for m in _sent()] == ["ana0@school.example"]


def test_a_reminder_for_a_moved_or_cancelled_session_sends_nothing(reminders_env):
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    course, [session], _ = _course_with_student([starts])
    stale = {
        "courseId": course,
        "sessionId": session,
        "offsetMinutes": 60,
        "version": 1,
        "startsAt": "2020-01-01T00:00:00+00:00",
    }
    assert load_function("reminder").handler(stale, LambdaContext())["skipped"]
    invoke("directory", api_event("DELETE", f"/directory/courses/{course}/sessions/{session}", caller=ADMIN))
    cancelled = {**stale, "startsAt": starts.isoformat()}
    assert load_function("reminder").handler(cancelled, LambdaContext())["skipped"]
    assert load_function("reminder").handler({"not": "a reminder"}, LambdaContext())["skipped"] == "bad input"
    assert _sent() == []


def test_the_feed_is_created_read_with_304_and_revoked(reminders_env):
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    _, [session], [student] = _course_with_student([starts])
    me = (student, "student")
    created = invoke("calendar_feed", api_event("POST", "/calendar/feed", caller=me))
    assert created.status == 201, created.body
    token_file = created.body["url"].rsplit("/", 1)[1]
    read = invoke("calendar_feed", api_event("GET", f"/calendar/feed/{token_file}"))
    assert read.status == 200 and read.content_type == "text/calendar; charset=utf-8"
    assert f"UID:{session}@" in read.body and "SEQUENCE:1" in read.body
    etag = read.headers["ETag"]
    not_modified = invoke(
        "calendar_feed", api_event("GET", f"/calendar/feed/{token_file}", headers={"if-none-match": etag})
    )
    assert not_modified.status == 304 and not not_modified.body
    # Only the token's hash is stored: no item holds the token itself.
    token = token_file.removesuffix(".ics")
    feed_row = (
        boto3.resource("dynamodb").Table("app-table").get_item(Key={"PK": f"STUDENT#{student}", "SK": "CALENDAR_FEED"})
    )
    assert token not in json.dumps(feed_row["Item"], default=str)
    assert invoke("calendar_feed", api_event("DELETE", "/calendar/feed", caller=me)).status == 204
    assert invoke("calendar_feed", api_event("GET", f"/calendar/feed/{token_file}")).status == 404
    assert invoke("calendar_feed", api_event("GET", "/calendar/feed/not-a-token.ics")).status == 404
    assert invoke("calendar_feed", api_event("GET", "/calendar/feed", caller=ADMIN)).status == 403


def test_the_next_reminder_due_among_a_users_courses_is_the_soonest_still_to_fire(reminders_env):
    from integration_core.services import reminders

    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    course, [first, _], _ = _course_with_student([soon + timedelta(days=1), soon + timedelta(days=8)])
    assert reminders.next_due([course]) is None  # nothing synced yet
    reminders.sync_course(course)
    due = reminders.next_due([course, "crs_nothing0001"])
    assert due is not None and (due.session_id, due.offset_minutes) == (first, 1440)
