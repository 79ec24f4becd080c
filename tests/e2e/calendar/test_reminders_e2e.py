"""Class reminders end to end through the local stack: syncing a course's reminders creates one
EventBridge Scheduler schedule per (session, offset) in the stack's group; a moved or cancelled
session moves or deletes them through the bus (course_schedule_changed -> RemindersEventsFunction);
a schedule due in a few seconds fires (the stack runs due schedules and deletes them after), the
student gets one email (GET /_local/aws/emails) and a receiver one class_reminder; firing twice
sends once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from offline.testing import RunningStack
from tests.support.receiver import Receiver

ZONE = "America/New_York"


def wait_for(predicate: Callable[[], Any], seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


class School:
    """An admin over the API, with a teacher, a student and a course of their own."""

    def __init__(self, stack: RunningStack, api: str) -> None:
        self.stack, self.api = stack, api
        self.admin = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {stack.token('admin', 'adm_office')}"})
        tag = uuid.uuid4().hex[:10]
        self.teacher = self._created("/directory/teachers", {"email": f"t{tag}@school.example", "name": "Tess Teacher"})
        self.student_email = f"s{tag}@school.example"
        self.student = self._created("/directory/students", {"email": self.student_email, "name": "Sam Student"})

    def _created(self, path: str, body: dict[str, Any]) -> str:
        answer = self.admin.post(f"{self.api}{path}", json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def course(self, title: str, starts: list[datetime], minutes: int = 90) -> tuple[str, list[str]]:
        course_id = self._created(
            "/directory/courses",
            {"title": title, "price": {"amount": "0", "currency": "EUR"}, "timeZone": ZONE, "teacherId": self.teacher},
        )
        answer = self.admin.post(
            f"{self.api}/directory/enrollments", json={"courseId": course_id, "studentId": self.student}
        )
        assert answer.status_code == 201, answer.text
        answer = self.admin.post(
            f"{self.api}/directory/courses/{course_id}/sessions",
            json={"sessions": [{"startsAt": s.isoformat(), "durationMinutes": minutes} for s in starts]},
        )
        assert answer.status_code == 201, answer.text
        created = sorted(answer.json()["created"], key=lambda s: s["startsAt"])
        return course_id, [s["id"] for s in created]

    def as_role(self, role: str, sub: str) -> httpx.Client:
        return httpx.Client(timeout=30, headers={"Authorization": f"Bearer {self.stack.token(role, sub)}"})


@pytest.fixture(scope="module")
def school(local_stack: RunningStack, api_base: str) -> Iterator[School]:
    yield School(local_stack, api_base)


def _group(local_stack: RunningStack) -> str:
    return str(local_stack.state["resources"]["ReminderScheduleGroup"]["ref"])


def _schedule(local_stack: RunningStack, name: str) -> dict[str, Any] | None:
    scheduler = local_stack.client("scheduler")
    try:
        return scheduler.get_schedule(Name=name, GroupName=_group(local_stack))  # type: ignore[no-any-return]
    except scheduler.exceptions.ResourceNotFoundException:
        return None


def _at(moment: datetime) -> str:
    return f"at({moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


def test_sync_creates_a_schedule_per_session_and_offset_and_moves_and_cancellations_follow(
    school: School, local_stack: RunningStack, api_base: str
) -> None:
    soon = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=3)
    course_id, (first, second) = school.course("Evening English", [soon, soon + timedelta(days=2)])
    answer = school.admin.post(f"{api_base}/google-calendar/sync-reminders/{course_id}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["created"] + body["unchanged"] == 4  # the bus's sync of the added sessions may have come first
    names = {f"reminder-{s}-{m}m" for s in (first, second) for m in (1440, 60)}
    assert {r["scheduleName"] for r in body["items"]} == names
    schedule = _schedule(local_stack, f"reminder-{first}-60m")
    assert schedule is not None
    assert schedule["ScheduleExpression"] == _at(soon - timedelta(hours=1))
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"] == local_stack.state["functions"]["ReminderFunction"]["arn"]
    assert json.loads(schedule["Target"]["Input"]) == {
        "courseId": course_id,
        "sessionId": first,
        "offsetMinutes": 60,
        "version": 1,
        "startsAt": soon.isoformat(),
    }

    again = school.admin.post(f"{api_base}/google-calendar/sync-reminders/{course_id}").json()
    assert (again["created"], again["moved"], again["deleted"], again["unchanged"]) == (0, 0, 0, 4)
    assert again["schedulerCalls"] == 0

    # A moved session moves its schedules, through the bus, without another sync asked for.
    moved_to = soon + timedelta(hours=2)
    answer = school.admin.patch(
        f"{api_base}/directory/courses/{course_id}/sessions/{first}", json={"startsAt": moved_to.isoformat()}
    )
    assert answer.status_code == 200, answer.text

    def moved() -> bool:
        found = _schedule(local_stack, f"reminder-{first}-1440m")
        return bool(found and found["ScheduleExpression"] == _at(moved_to - timedelta(days=1)))

    assert wait_for(moved), "the moved session's 24 h reminder moved with it"
    moved_input = json.loads(_schedule(local_stack, f"reminder-{first}-60m")["Target"]["Input"])  # type: ignore[index]
    assert (moved_input["version"], moved_input["startsAt"]) == (2, moved_to.isoformat())

    # A cancelled session's schedules are deleted.
    assert school.admin.delete(f"{api_base}/directory/courses/{course_id}/sessions/{second}").status_code == 204
    gone = wait_for(lambda: all(_schedule(local_stack, f"reminder-{second}-{m}m") is None for m in (1440, 60)))
    assert gone, "the cancelled session's reminders are deleted"

    listed = school.as_role("teacher", school.teacher).get(f"{api_base}/google-calendar/reminders/{course_id}")
    assert listed.status_code == 200, listed.text
    assert [(r["sessionId"], r["offsetMinutes"]) for r in listed.json()["items"]] == [(first, 1440), (first, 60)]
    other_teacher = school.as_role("teacher", "tch_someoneelse1")
    assert other_teacher.get(f"{api_base}/google-calendar/reminders/{course_id}").status_code == 403
    student = school.as_role("student", school.student)
    assert student.get(f"{api_base}/google-calendar/reminders/{course_id}").status_code == 403
    assert student.post(f"{api_base}/google-calendar/sync-reminders/{course_id}").status_code == 403


def test_a_reminder_due_now_emails_the_student_once_and_sends_one_class_reminder(
    school: School, local_stack: RunningStack, api_base: str
) -> None:
    with Receiver() as receiver:
        service = school.as_role("service", f"svc_rem{uuid.uuid4().hex[:8]}")
        hook = service.post(
            f"{api_base}/webhooks", json={"url": receiver.url("/reminders"), "events": ["class_reminder"]}
        )
        assert hook.status_code == 201, hook.text
        # The 1 h reminder of a class starting in 1 h and 6 s is due in 6 s; its 24 h one is past: none.
        starts = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1, seconds=6)
        course_id, [session_id] = school.course(f"Conversation {uuid.uuid4().hex[:6]}", [starts], minutes=60)
        synced = school.admin.post(f"{api_base}/google-calendar/sync-reminders/{course_id}").json()
        assert [(r["sessionId"], r["offsetMinutes"]) for r in synced["items"]] == [(session_id, 60)]
        name = f"reminder-{session_id}-60m"
        schedule = _schedule(local_stack, name)
        assert schedule is not None

        def emails() -> list[dict[str, Any]]:
            mailbox = httpx.get(f"{local_stack.api_url}/_local/aws/emails", params={"to": school.student_email})
            assert mailbox.status_code == 200, mailbox.text
            return list(mailbox.json()["items"])

        sent = wait_for(emails, 30)
        assert len(sent) == 1, sent
        assert "Conversation" in sent[0]["subject"] and "in 1 hour" in sent[0]["subject"]
        local = starts.astimezone(ZoneInfo(ZONE))
        assert f"{local:%H:%M}" in sent[0]["body"] and ZONE in sent[0]["body"]
        [delivery] = receiver.wait_for("/reminders", 1, timeout=20)
        payload = json.loads(delivery.body)
        assert payload["eventType"] == "class_reminder"
        assert payload["data"]["studentId"] == school.student and payload["data"]["minutesBefore"] == 60
        assert wait_for(lambda: _schedule(local_stack, name) is None, 10), "deleted after completion"

        # The same reminder firing again (Scheduler delivers at least once) sends nothing more.
        again = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        local_stack.client("scheduler").create_schedule(
            Name=f"again-{session_id}",
            GroupName=_group(local_stack),
            ScheduleExpression=_at(again),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target=schedule["Target"],
        )
        assert wait_for(lambda: _schedule(local_stack, f"again-{session_id}") is None, 15), "the repeat fired"
        # The schedule is deleted once its invocation returned: the repeat's emails are in the mailbox.
        assert len(emails()) == 1
        assert len(receiver.at("/reminders")) == 1
