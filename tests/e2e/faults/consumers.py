"""The event consumers the crash tests kill, each with its crash point per phase and a scenario:
make the consumer work, let the plan kill its worker at the point, let the system settle (the
batch comes back after the queue's visibility timeout, a provider sends its callback again, a
schedule fires again, the sweeper runs), then check what a user would see: nothing lost, nothing
twice beyond at-least-once delivery (a receiver may get one `webhook-id` twice, never two ids for
one event) and every record (attempts, statistics, ledger, enrollments, provider objects) once.

Phases (the brief's points of a batch): `before_call` (before the provider or receiver call),
`after_call` (after it, before its record), `after_record` (a record written, the rest of the
batch and its acknowledgement not), `before_ack` (the handler returned, its answer was lost).
A consumer without a call or a separate record has no point in that phase."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from offline.testing import RunningStack
from tests.e2e.faults.conftest import VISIBILITY, Caller, Crash, at_soon, wait_for
from tests.support.receiver import Receiver

SETTLE = 4 * VISIBILITY + 60.0  # seconds: a killed batch back, handled (a cold start), its deliveries made
PHASES = ("before_call", "after_call", "after_record", "before_ack")


class World:
    """The school as the API shows it: an admin, and a teacher per scenario."""

    def __init__(self, stack: RunningStack, api: str) -> None:
        self.stack, self.api = stack, api
        self.admin = Caller(api, stack.token("admin", "adm_office"))

    def caller(self, role: str, sub: str) -> Caller:
        return Caller(self.api, self.stack.token(role, sub))

    def sandbox(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.stack.sandbox_url}{path}", json=body, timeout=30)

    def teacher(self) -> dict[str, Any]:
        email = f"t-{uuid.uuid4().hex[:10]}@school.example"
        answer = self.admin.post("/directory/teachers", {"email": email, "name": "Tess"})
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def course(self, teacher: dict[str, Any] | None = None, currency: str = "JPY", amount: str = "15000") -> str:
        answer = self.admin.post(
            "/directory/courses",
            {
                "title": f"English {uuid.uuid4().hex[:6]}",
                "price": {"amount": amount, "currency": currency},
                "timeZone": "Europe/London",
                "teacherId": (teacher or self.teacher())["id"],
            },
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]  # type: ignore[no-any-return]

    def student(self, name: str = "Sam") -> dict[str, Any]:
        email = f"s-{uuid.uuid4().hex[:10]}@example.com"
        answer = self.admin.post("/directory/students", {"email": email, "name": name})
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def enroll(self, course: str, student: str) -> None:
        answer = self.admin.post("/directory/enrollments", {"courseId": course, "studentId": student})
        assert answer.status_code == 201, answer.text

    def weekly_sessions(self, course: str, count: int) -> list[str]:
        answer = self.admin.post(
            f"/directory/courses/{course}/sessions",
            {
                "recurrence": {
                    "daysOfWeek": ["MO", "WE"],
                    "startTime": "18:00",
                    "durationMinutes": 60,
                    "fromDate": (date.today() + timedelta(days=14)).isoformat(),
                    "count": count,
                }
            },
        )
        assert answer.status_code == 201, answer.text
        return [s["id"] for s in answer.json()["created"]]


class Heard:
    """A webhook of its own service account and its receiver: what the center's systems hear."""

    def __init__(self, world: World, receiver: Receiver, events: list[str], path: str = "/heard") -> None:
        self.receiver, self.path = receiver, path
        self.owner = world.caller("service", f"svc_crash{uuid.uuid4().hex[:8]}")
        answer = self.owner.post("/webhooks", {"url": receiver.url(path), "events": events})
        assert answer.status_code == 201, answer.text
        self.webhook = answer.json()["webhookId"]

    def deliveries(self) -> list[dict[str, Any]]:
        return self.owner.get(f"/webhooks/{self.webhook}/deliveries").json()["items"]  # type: ignore[no-any-return]

    def once(self, event_type: str, count: int = 1) -> list[dict[str, Any]]:
        """`count` deliveries, each succeeded at its first recorded attempt, statistics to match,
        each sent under its own webhook-id once, or twice if a send was killed before its record."""

        def settled() -> list[dict[str, Any]] | None:
            items = self.deliveries()
            return items if len(items) >= count and all(d["status"] != "pending" for d in items) else None

        items = wait_for(settled, SETTLE)
        assert items, f"{count} {event_type} deliveries not settled: {self.deliveries()}"
        assert [(d["eventType"], d["status"], d["attempts"]) for d in items] == [(event_type, "succeeded", 1)] * count
        stats = self.owner.get(f"/webhooks/{self.webhook}/statistics").json()
        assert (stats["total"], stats["succeeded"], stats["failed"], stats["pending"]) == (count, count, 0, 0)
        for delivery in items:
            detail = self.owner.get(f"/webhooks/{self.webhook}/deliveries/{delivery['deliveryId']}").json()
            assert [(a["attempt"], a["success"]) for a in detail["attemptHistory"]] == [(1, True)]
        sent = [{k.lower(): v for k, v in r.headers.items()}["webhook-id"] for r in self.receiver.at(self.path)]
        assert set(sent) == {d["deliveryId"] for d in items}, sent
        assert all(1 <= sent.count(d["deliveryId"]) <= 2 for d in items), sent
        return items  # type: ignore[no-any-return]

    def close(self) -> None:
        self.owner.delete(f"/webhooks/{self.webhook}")


def settled(crash: Crash, queue: str) -> None:
    """The consumer's queue is empty (the killed batch came back and was acknowledged) and its
    dead-letter queue too."""
    assert wait_for(lambda: crash.queue_empty(queue), SETTLE), f"{queue} still holds messages"
    assert crash.queue_empty(queue.replace("Queue", "DeadLetterQueue")), f"{queue}: dead-lettered"


def sweeping(crash: Crash, check: Callable[[], Any], seconds: float = SETTLE) -> Any:
    """Poll `check`, running the outbox sweeper every few seconds meanwhile (the template runs it
    every minute): an event recorded by a handler killed before dispatching it is the sweeper's."""
    deadline = datetime.now(UTC) + timedelta(seconds=seconds)
    while datetime.now(UTC) < deadline:
        crash.sweep()
        found = wait_for(check, 5)
        if found:
            return found
    return check()


# ------------------------------------------------------------------ the webhook dispatcher
def dispatcher(world: World, crash: Crash, point: str, nth: int) -> None:
    with Receiver() as receiver:
        hooks = [Heard(world, receiver, ["course_started"], f"/hook{i}") for i in range(3)]
        event_id = f"lms-crash-{uuid.uuid4().hex}"
        crash.arm("WebhookDispatcherFunction", point, event_id, nth=nth)
        data = {"courseId": f"crs_{uuid.uuid4().hex[:12]}", "startedAt": "2025-03-03T18:00:00+00:00"}
        published = hooks[0].owner.post("/events", {"eventType": "course_started", "data": data, "eventId": event_id})
        assert published.status_code == 202, published.text
        assert crash.fired("WebhookDispatcherFunction"), "never reached the crash point"
        # One event, three webhooks: each hears it once under its own webhook-id (twice at most).
        for hook in hooks:
            [delivery] = hook.once("course_started")
            assert delivery["eventId"] == event_id
        if point == "before:http":  # killed before anything was sent: each sent once, after the comeback
            assert [len(receiver.at(h.path)) for h in hooks] == [1, 1, 1]
        for hook in hooks:
            hook.close()


# ------------------------------------------------------------------ the outbox sweeper
def sweeper(world: World, crash: Crash, point: str, nth: int) -> None:
    from integration_core import timeutil
    from integration_core.adapters.dynamodb import from_item, to_item
    from integration_core.services.events import event_item

    stack = world.stack
    with Receiver() as receiver:
        hook = Heard(world, receiver, ["course_started"])
        event_id = f"lms-stranded-{uuid.uuid4().hex}"
        data = {"courseId": f"crs_{uuid.uuid4().hex[:12]}", "startedAt": "2025-03-03T18:00:00+00:00"}
        # What a publisher leaves when it dies right after its transaction: the event in the outbox.
        recorded = timeutil.iso_utc(datetime.now(UTC) - timedelta(minutes=5))
        item = event_item(event_id, "course_started", data, recorded, "crash test: publisher died", outbox=True)
        table = stack.state["resources"]["AppTable"]["ref"]
        crash.arm("WebhookMaintenanceFunction", point, "sweep", nth=nth)  # a sweep reads the whole outbox
        stack.client("dynamodb").put_item(TableName=table, Item=to_item(item))
        crash.sweep()
        assert crash.fired("WebhookMaintenanceFunction"), "never reached the crash point"
        key = {"PK": {"S": f"EVENT#{event_id}"}, "SK": {"S": "EVENT"}}

        def out_of_outbox() -> bool:
            event = from_item(stack.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)["Item"])
            return "GSI1PK" not in event and bool(event.get("dispatched_at")) and event.get("delivery_count") == 1

        assert sweeping(crash, out_of_outbox), "the event is still in the outbox"
        [delivery] = hook.once("course_started")
        assert delivery["eventId"] == event_id
        hook.close()


# ------------------------------------------------------------------ directory: a full refund ends the enrollment
def directory(world: World, crash: Crash, point: str, nth: int) -> None:
    course, student = world.course(), world.student()
    me = world.caller("student", student["id"])
    with Receiver() as receiver:
        hook = Heard(world, receiver, ["student_unenrolled"])
        paid = me.post("/payments/stripe/initialize", {"courseId": course, "paymentMethod": "pm_card_visa"})
        assert paid.status_code == 201 and paid.json()["status"] == "succeeded", paid.text
        payment = paid.json()["paymentId"]
        crash.arm("DirectoryEventsFunction", point, "payment_refunded", payment, nth=nth)
        refund = world.admin.post("/payments/refund", {"transactionId": payment, "provider": "stripe"})
        assert refund.status_code == 201 and refund.json()["paymentStatus"] == "refunded", refund.text
        assert crash.fired("DirectoryEventsFunction"), "never reached the crash point"
        ended = lambda: me.get("/directory/enrollments", studentId=student["id"]).json()["items"] == []  # noqa: E731
        assert wait_for(ended, SETTLE), "the enrollment was not ended"
        settled(crash, "DirectoryEventsQueue")
        assert sweeping(crash, lambda: receiver.at("/heard")), "student_unenrolled never heard"
        [delivery] = hook.once("student_unenrolled")
        body = json.loads(receiver.at("/heard")[0].body)
        assert (body["data"]["paymentId"], body["data"]["reason"]) == (payment, "refunded")
        assert delivery["eventId"] == body["eventId"]
        hook.close()


# ------------------------------------------------------------------ calendar: an enrollment reaches Google
def _connect(world: World, me: Caller, email: str) -> None:
    started = me.get("/google-calendar/authorize").json()
    url = urlsplit(started["authorizationUrl"])
    assert parse_qs(url.query)["state"] == [started["state"]]
    assert world.sandbox("GET", f"{url.path}?{url.query}").status_code == 200
    consent = world.sandbox(
        "POST", "/_sandbox/google/consent", {"state": started["state"], "email": email, "decision": "allow"}
    )
    assert consent.status_code == 200, consent.text
    answer = me.post(
        "/google-calendar/authenticate", {"code": consent.json()["code"], "state": started["state"], "email": email}
    )
    assert answer.status_code == 200, answer.text


def calendar(world: World, crash: Crash, point: str, nth: int) -> None:
    course = world.course()
    world.weekly_sessions(course, 4)
    student = world.student()
    me = world.caller("student", student["id"])
    _connect(world, me, student["email"])
    crash.arm("CalendarEventsFunction", point, "student_enrolled", student["id"], nth=nth)
    world.enroll(course, student["id"])
    assert crash.fired("CalendarEventsFunction"), "never reached the crash point"
    settled(crash, "CalendarEventsQueue")

    def classes() -> list[dict[str, Any]]:
        calendars = world.sandbox("GET", f"/_sandbox/google/calendars/{student['email']}").json()["calendars"]
        assert [c["summary"] for c in calendars if c.get("summary") == "Classes"] == ["Classes"]
        return [e for c in calendars if c.get("summary") == "Classes" for e in c["events"]]

    events = wait_for(lambda: len(classes()) >= 4 and classes(), 30)
    assert events and len(events) == 4, events  # each class once
    assert len({e["id"] for e in events}) == 4 and {e["status"] for e in events} == {"confirmed"}


# ------------------------------------------------------------------ video: an enrollment registers at Zoom
def _zoom(world: World, method: str, path: str, **kwargs: Any) -> httpx.Response:
    token = httpx.post(
        f"{world.stack.sandbox_url}/zoom/oauth/token",
        params={"grant_type": "account_credentials", "account_id": "local-zoom-account"},
        auth=("local-zoom-client", "local-zoom-secret"),
        timeout=30,
    ).json()["access_token"]
    url = f"{world.stack.sandbox_url}/zoom/v2{path}"
    return httpx.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs)


def _meeting(world: World) -> tuple[str, dict[str, Any]]:
    teacher = world.teacher()
    world.sandbox("POST", "/_sandbox/zoom/users", {"email": teacher["email"]})
    course = world.course(teacher, "EUR", "100.00")
    world.weekly_sessions(course, 2)
    created = world.admin.post("/video/zoom", {"title": "English B1", "courseId": course})
    assert created.status_code == 201, created.text
    return course, created.json()


def video(world: World, crash: Crash, point: str, nth: int) -> None:
    course, meeting = _meeting(world)
    student = world.student("Cleo")
    crash.arm("VideoEventsFunction", point, "student_enrolled", student["id"], nth=nth)
    world.enroll(course, student["id"])
    assert crash.fired("VideoEventsFunction"), "never reached the crash point"
    settled(crash, "VideoEventsQueue")

    def listed() -> list[dict[str, Any]]:
        items = world.admin.get(f"/video/zoom/{meeting['meetingId']}/participants").json()["items"]
        return [p for p in items if p["studentId"] == student["id"]]

    mine = wait_for(listed, 30)
    assert len(mine) == 1, mine
    path = f"/meetings/{meeting['providerMeetingId']}/registrants"
    registrants = _zoom(world, "GET", path, params={"status": "approved"}).json()["registrants"]
    at_zoom = [r for r in registrants if r["email"] == student["email"]]
    assert len(at_zoom) == 1 and at_zoom[0]["join_url"] == mine[0]["joinUrl"]


# ------------------------------------------------------------------ reminders: added sessions get their schedules
def reminders(world: World, crash: Crash, point: str, nth: int) -> None:
    course, student = world.course(currency="EUR", amount="0"), world.student()
    world.enroll(course, student["id"])
    soon = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=3)
    crash.arm("RemindersEventsFunction", point, "course_schedule_changed", course, nth=nth)
    answer = world.admin.post(
        f"/directory/courses/{course}/sessions",
        {"sessions": [{"startsAt": s.isoformat(), "durationMinutes": 60} for s in (soon, soon + timedelta(days=2))]},
    )
    assert answer.status_code == 201, answer.text
    sessions = [s["id"] for s in answer.json()["created"]]
    assert crash.fired("RemindersEventsFunction"), "never reached the crash point"
    settled(crash, "RemindersEventsQueue")
    group = world.stack.state["resources"]["ReminderScheduleGroup"]["ref"]
    scheduler = world.stack.client("scheduler")
    wanted = sorted((s, m) for s in sessions for m in (1440, 60))
    for session, minutes in wanted:
        found = scheduler.get_schedule(Name=f"reminder-{session}-{minutes}m", GroupName=group)
        assert json.loads(found["Target"]["Input"])["version"] == 1
    listed = world.admin.get(f"/google-calendar/reminders/{course}").json()["items"]
    assert sorted((r["sessionId"], r["offsetMinutes"]) for r in listed) == wanted
    again = world.admin.post(f"/google-calendar/sync-reminders/{course}", None).json()
    assert (again["created"], again["moved"], again["deleted"], again["unchanged"]) == (0, 0, 0, 4)


# ------------------------------------------------------------------ the reminder: a due schedule emails the class
def _past_the_send_lease(stack: Any, session: str, student: str) -> None:
    """Lambda tries a failed asynchronous invocation again after about 1 and 3 minutes; a claim not
    sent within its lease (2 minutes) is then taken over. The retry here comes at once, so the
    killed invocation's claim is made as old as the lease first, where it was written at all."""
    from integration_core.stores.reminders import SEND_LEASE_SECONDS, SentKey

    ddb = stack.client("dynamodb")
    with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):  # killed before its claim
        ddb.update_item(
            TableName=stack.state["resources"]["AppTable"]["ref"],
            Key={"PK": {"S": SentKey(session, 60, 1, student).pk}, "SK": {"S": "SENT"}},
            UpdateExpression="SET claimed_epoch = claimed_epoch - :lease",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":lease": {"N": str(SEND_LEASE_SECONDS + 1)}},
        )


def reminder(world: World, crash: Crash, point: str, nth: int) -> None:
    stack = world.stack
    with Receiver() as receiver:
        hook = Heard(world, receiver, ["class_reminder"])
        course, student = world.course(currency="EUR", amount="0"), world.student()
        world.enroll(course, student["id"])
        starts = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
        answer = world.admin.post(
            f"/directory/courses/{course}/sessions",
            {"sessions": [{"startsAt": starts.isoformat(), "durationMinutes": 60}]},
        )
        assert answer.status_code == 201, answer.text
        [session] = [s["id"] for s in answer.json()["created"]]
        reminder_input = {
            "courseId": course,
            "sessionId": session,
            "offsetMinutes": 60,
            "version": 1,
            "startsAt": starts.isoformat(),
        }
        crash.arm("ReminderFunction", point, session, nth=nth)
        # The 1 h reminder's schedule fires (now, rather than in an hour); Scheduler invokes the
        # function asynchronously, and Lambda tries a failed asynchronous invocation again.
        for _ in range(2):
            stack.client("scheduler").create_schedule(
                Name=f"crash-reminder-{uuid.uuid4().hex[:8]}",
                GroupName=stack.state["resources"]["ReminderScheduleGroup"]["ref"],
                ScheduleExpression=at_soon(),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": stack.state["functions"]["ReminderFunction"]["arn"],
                    "RoleArn": "arn:aws:iam::123456789012:role/crash-scheduler",
                    "Input": json.dumps(reminder_input),
                },
            )
            if _ == 0:
                assert crash.fired("ReminderFunction"), "never reached the crash point"
                _past_the_send_lease(stack, session, student["id"])

        def emails() -> list[dict[str, Any]]:
            mailbox = httpx.get(f"{stack.api_url}/_local/aws/emails", params={"to": student["email"]}, timeout=30)
            return list(mailbox.json()["items"])

        assert sweeping(crash, lambda: emails() and receiver.at("/heard")), "no reminder arrived"
        # The email is sent once, or twice when the kill came after SES took it and before it was
        # recorded (at-least-once, like every delivery); the class_reminder event once.
        assert 1 <= len(emails()) <= (2 if point == "after:aws:ses:SendEmail" else 1), emails()
        hook.once("class_reminder")
        assert json.loads(receiver.at("/heard")[0].body)["data"]["sessionId"] == session
        hook.close()


# ------------------------------------------------------------------ payment callbacks: Stripe says a payment succeeded
def payment_callbacks(world: World, crash: Crash, point: str, nth: int) -> None:
    course, student = world.course(), world.student()
    me = world.caller("student", student["id"])
    with Receiver() as receiver:
        hook = Heard(world, receiver, ["payment_completed"])
        started = me.post("/payments/stripe/initialize", {"courseId": course})
        assert started.status_code == 201, started.text
        intent, payment = started.json()["paymentIntentId"], started.json()["paymentId"]
        crash.arm("PaymentCallbacksFunction", point, "payment_intent.succeeded", intent, nth=nth)
        # The buyer completes the payment at Stripe (a wallet, 3-D Secure): only the callback tells us.
        confirmed = httpx.post(
            f"{world.stack.sandbox_url}/stripe/v1/payment_intents/{intent}/confirm",
            data={"payment_method": "pm_card_visa"},
            headers={"Authorization": "Bearer sk_test_local"},
            timeout=30,
        )
        assert confirmed.status_code == 200, confirmed.text
        assert crash.fired("PaymentCallbacksFunction"), "never reached the crash point"
        # Stripe sends a callback that failed again (the emulator: 1, 2, 4, 8 s later).
        succeeded = lambda: [p for p in me.get(f"/payments/history/{student['id']}").json()["items"]]  # noqa: E731
        history = wait_for(lambda: [p for p in succeeded() if p["status"] == "succeeded"], SETTLE)
        assert [(p["paymentId"], p["status"]) for p in history] == [(payment, "succeeded")], history
        enrollments = me.get("/directory/enrollments", studentId=student["id"]).json()["items"]
        assert [e["courseId"] for e in enrollments] == [course]
        assert sweeping(crash, lambda: receiver.at("/heard")), "payment_completed never heard"
        hook.once("payment_completed")
        assert json.loads(receiver.at("/heard")[0].body)["data"]["paymentId"] == payment
        hook.close()


# ------------------------------------------------------------------ video callbacks: Zoom says a class started
def video_callbacks(world: World, crash: Crash, point: str, nth: int) -> None:
    _, meeting = _meeting(world)
    zoom_id = meeting["providerMeetingId"]
    with Receiver() as receiver:
        hook = Heard(world, receiver, ["course_started"])
        crash.arm("VideoCallbacksFunction", point, "meeting.started", str(zoom_id), nth=nth)
        assert world.sandbox("POST", f"/_sandbox/zoom/meetings/{zoom_id}/start").status_code == 200
        assert crash.fired("VideoCallbacksFunction"), "never reached the crash point"
        # Zoom sends a notification that failed again; the class started once.
        assert sweeping(crash, lambda: receiver.at("/heard")), "course_started never heard"
        hook.once("course_started")
        body = json.loads(receiver.at("/heard")[0].body)
        assert body["data"]["meetingId"] == meeting["meetingId"]
        hook.close()


@dataclass(frozen=True)
class Consumer:
    name: str
    scenario: Callable[[World, Crash, str, int], None]
    points: dict[str, tuple[str, int]]  # phase -> (point, nth)


DDB_TRANSACTION = "aws:dynamodb:TransactWriteItems"
CONSUMERS = [
    Consumer(
        "webhook dispatcher",
        dispatcher,
        {
            "before_call": ("before:http", 1),
            "after_call": ("after:http", 1),
            "after_record": (f"after:{DDB_TRANSACTION}", 1),
            "before_ack": ("return", 1),
        },
    ),
    Consumer(
        "outbox sweeper",
        sweeper,
        {
            "before_call": ("before:aws:sqs:SendMessageBatch", 1),
            "after_call": ("after:aws:sqs:SendMessageBatch", 1),
            "after_record": ("after:aws:events:PutEvents", 1),
            "before_ack": ("return", 1),
        },
    ),
    Consumer(
        "directory events",
        directory,
        {
            "before_call": (f"before:{DDB_TRANSACTION}", 1),
            "after_record": (f"after:{DDB_TRANSACTION}", 1),
            "before_ack": ("return", 1),
        },
    ),
    Consumer(
        "calendar events",
        calendar,
        {"before_call": ("before:http", 1), "after_call": ("after:http", 2), "before_ack": ("return", 1)},
    ),
    Consumer(
        "video events",
        video,
        {"before_call": ("before:http", 1), "after_call": ("after:http", 1), "before_ack": ("return", 1)},
    ),
    Consumer(
        "reminders events",
        reminders,
        {
            "before_call": ("before:aws:scheduler:CreateSchedule", 1),
            "after_call": ("after:aws:scheduler:CreateSchedule", 1),
            "before_ack": ("return", 1),
        },
    ),
    Consumer(
        "reminder",
        reminder,
        {
            "before_call": ("before:aws:ses:SendEmail", 1),
            "after_call": ("after:aws:ses:SendEmail", 1),
            "before_ack": ("return", 1),
        },
    ),
    Consumer(
        "payment callbacks",
        payment_callbacks,
        {
            "before_call": (f"before:{DDB_TRANSACTION}", 1),
            "after_record": (f"after:{DDB_TRANSACTION}", 1),
            "before_ack": ("return", 1),
        },
    ),
    Consumer(
        "video callbacks",
        video_callbacks,
        {
            "before_call": (f"before:{DDB_TRANSACTION}", 1),
            "after_record": (f"after:{DDB_TRANSACTION}", 1),
            "before_ack": ("return", 1),
        },
    ),
]
