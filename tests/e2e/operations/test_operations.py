"""The admins' operations API end to end through the local stack: a calendar connection Google
broke shows on the health page (and leaves it once revoked), a delivery to a receiver that always
fails is dead-lettered, listed with its attempts and replayed, once, to the receiver now healthy;
internal events dead-lettered by a consumer go back to its queue 20 a call with the progress
counted down; nobody but an admin gets in. The session's stack scales the webhook retries to three
attempts 0, 1 and 2 s apart (tests/e2e/conftest.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from offline.testing import RunningStack
from tests.e2e.conftest import STACK_PARAMETERS
from tests.support.receiver import Answer, Receiver

ATTEMPTS = len(STACK_PARAMETERS["WebhookRetrySchedule"].split(","))
POLL_SECONDS = 40


def until(check: Callable[[], Any], what: str, seconds: float = POLL_SECONDS) -> Any:
    """A bounded poll: the check's first truthy answer, or a failure naming what never happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"never: {what}")


class Caller:
    def __init__(self, api: str, token: str) -> None:
        self.api = api
        self.http = httpx.Client(timeout=60, headers={"Authorization": f"Bearer {token}"})

    def request(self, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
        return self.http.request(method, self.api + path, json=body, params=params)

    def ok(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        answer = self.request(method, path, body, **params)
        assert answer.status_code in (200, 201, 202), answer.text
        return answer.json()


@pytest.fixture(scope="module")
def admin(api_base: str, role_tokens: dict[str, str]) -> Caller:
    return Caller(api_base, role_tokens["admin"])


@pytest.fixture(scope="module", autouse=True)
def warm(admin: Caller) -> None:
    """On a loaded machine the authorizer's cold start can pass its 5 s timeout (a 500 from the
    gateway); what these tests check starts once it and the function answer."""
    until(lambda: admin.request("GET", "/admin/integrations").status_code == 200, "the operations API answered")


def sandbox(stack: RunningStack, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, f"{stack.sandbox_url}{path}", json=body, timeout=30)


# ---------------------------------------------------------------- who may look
@pytest.mark.parametrize("role", ["student", "teacher", "service"])
def test_only_an_admin_sees_the_health_and_the_dead_letters(api_base, role_tokens, role):
    someone = Caller(api_base, role_tokens[role])
    assert someone.request("GET", "/admin/integrations").status_code == 403
    assert someone.request("GET", "/admin/dead-letters", queue="webhooks").status_code == 403
    replay = someone.request("POST", "/admin/dead-letters/replay", {"queue": "webhooks"})
    assert replay.status_code == 403
    assert replay.headers["content-type"].startswith("application/problem+json")
    assert httpx.get(f"{api_base}/admin/integrations", timeout=30).status_code == 401


def test_an_unknown_queue_is_a_404_naming_the_known_ones(admin):
    answer = admin.request("GET", "/admin/dead-letters", queue="nosuchqueue")
    assert answer.status_code == 404
    assert "webhooks" in answer.json()["detail"] and "calendar" in answer.json()["detail"]
    bad = admin.request("POST", "/admin/dead-letters/replay", {"queue": "webhooks", "messageIds": ["x" * 200]})
    assert bad.status_code == 422 and "messageIds" in bad.text


# ---------------------------------------------------------------- a broken calendar connection
def test_a_calendar_connection_google_broke_shows_until_it_is_revoked(local_stack, api_base, admin):
    tag = uuid.uuid4().hex[:8]
    email = f"ops-{tag}@example.com"
    student = admin.ok("POST", "/directory/students", {"email": email, "name": "Olga"})
    me = Caller(api_base, local_stack.token("student", student["id"]))
    started = me.ok("GET", "/google-calendar/authorize")
    url = urlsplit(started["authorizationUrl"])
    assert sandbox(local_stack, "GET", f"{url.path}?{url.query}").status_code == 200
    assert parse_qs(url.query)["access_type"] == ["offline"]
    consent = sandbox(
        local_stack,
        "POST",
        "/_sandbox/google/consent",
        {"state": started["state"], "email": email, "decision": "allow"},
    ).json()
    me.ok("POST", "/google-calendar/authenticate", {"code": consent["code"], "state": started["state"], "email": email})

    def broken() -> list[dict[str, Any]]:
        return [c for c in admin.ok("GET", "/admin/integrations")["brokenCalendars"] if c["userId"] == student["id"]]

    assert broken() == []
    # The student removes the app at Google: the next refresh answers invalid_grant.
    assert sandbox(local_stack, "POST", "/_sandbox/google/grants/revoke", {"email": email}).status_code == 200
    assert sandbox(local_stack, "POST", "/_sandbox/google/tokens/expire", {"email": email}).status_code == 200
    event = {
        "title": "Office hour",
        "start": {"dateTime": "2027-06-01T10:00:00", "timeZone": "Europe/London"},
        "end": {"dateTime": "2027-06-01T11:00:00", "timeZone": "Europe/London"},
    }
    refused = me.request("POST", "/google-calendar/events", event)  # needs Google, so a new token
    assert refused.status_code == 409, refused.text

    health = admin.ok("GET", "/admin/integrations")
    [shown] = [c for c in health["brokenCalendars"] if c["userId"] == student["id"]]
    assert shown["googleEmail"] == email and "invalid_grant" in shown["brokenReason"] and shown["brokenAt"]
    google = next(p for p in health["providers"] if p["provider"] == "google")
    assert google["lastSuccessAt"]  # Google answered (it refused the grant: Google is up)
    assert {p["provider"] for p in health["providers"]} >= {"stripe", "paypal", "google", "zoom"}

    me_revoked = me.request("DELETE", "/google-calendar/authorize")
    assert me_revoked.status_code == 204, me_revoked.text
    assert broken() == []


# ---------------------------------------------------------------- a dead-lettered delivery
@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def test_a_dead_lettered_delivery_is_listed_and_replayed_once_to_the_receiver_now_healthy(
    local_stack, api_base, admin, receiver
):
    crm = Caller(api_base, local_stack.token("service", f"svc_ops{uuid.uuid4().hex[:8]}"))
    receiver.default = Answer(500, body=b"down for maintenance")  # always failing, for now
    hook = crm.ok("POST", "/webhooks", {"url": receiver.url("/crm"), "events": ["course_started"]})
    webhook_id = hook["webhookId"]
    try:
        data = {"courseId": f"crs_{uuid.uuid4().hex[:12]}", "startedAt": "2026-03-03T18:00:00+00:00"}
        assert crm.request("POST", "/events", {"eventType": "course_started", "data": data}).status_code == 202

        def failed() -> dict[str, Any] | None:
            items = crm.ok("GET", f"/webhooks/{webhook_id}/deliveries")["items"]
            return items[0] if items and items[0]["status"] == "failed" else None

        delivery = until(failed, "the delivery failed for good")
        assert delivery["attempts"] == ATTEMPTS and len(receiver.at("/crm")) == ATTEMPTS

        def listed() -> dict[str, Any] | None:
            page = admin.ok("GET", "/admin/dead-letters", queue="webhooks")
            mine = [d for d in page["items"] if d["deliveryId"] == delivery["deliveryId"]]
            return {"page": page, "letter": mine[0]} if mine else None

        found = until(listed, "the delivery was listed among the dead letters")
        letter, count_before = found["letter"], found["page"]["approximateCount"]
        assert letter["carries"] == "deliveries" and letter["webhookId"] == webhook_id
        assert (letter["status"], letter["attempts"], letter["lastStatusCode"]) == ("failed", ATTEMPTS, 500)
        assert letter["webhookUrl"] == receiver.url("/crm") and letter["eventType"] == "course_started"
        assert count_before >= 1

        health = admin.ok("GET", "/admin/integrations")
        webhooks_queue = next(q for q in health["queues"] if q["name"] == "webhooks")
        assert webhooks_queue["deadLetters"] >= 1 and webhooks_queue["behind"] is True
        assert health["deadLetters"] >= webhooks_queue["deadLetters"]
        [troubled] = [w for w in health["webhooks"] if w["webhookId"] == webhook_id]
        assert (troubled["state"], troubled["consecutiveFailures"]) == ("failing", ATTEMPTS)
        assert {q["name"] for q in health["queues"]} == {"webhooks", "directory", "calendar", "reminders", "video"}

        receiver.default = Answer(200)  # the receiver is back
        replayed = admin.ok(
            "POST", "/admin/dead-letters/replay", {"queue": "webhooks", "messageIds": [letter["messageId"]]}
        )
        assert (replayed["replayed"], replayed["replayedIds"], replayed["notFound"]) == (1, [letter["messageId"]], [])
        assert replayed["remaining"] == count_before - 1

        requests = receiver.wait_for("/crm", ATTEMPTS + 1)
        assert len(requests) == ATTEMPTS + 1
        assert {k.lower(): v for k, v in requests[-1].headers.items()}["webhook-id"] == delivery["deliveryId"]

        def delivered() -> dict[str, Any] | None:
            items = crm.ok("GET", f"/webhooks/{webhook_id}/deliveries")["items"]
            return items[0] if items[0]["status"] == "succeeded" else None

        assert until(delivered, "the replayed delivery succeeded")["attempts"] == ATTEMPTS + 1

        # Once: the same replay again finds nothing, and the receiver gets nothing more.
        again = admin.ok(
            "POST", "/admin/dead-letters/replay", {"queue": "webhooks", "messageIds": [letter["messageId"]]}
        )
        assert (again["replayed"], again["notFound"]) == (0, [letter["messageId"]])
        # A dispatcher slower than the queue's visibility (a loaded machine) can leave a second
        # message of the same delivery in the DLQ: it shows as delivered, and replaying it only
        # takes it off.
        page = admin.ok("GET", "/admin/dead-letters", queue="webhooks")
        copies = [d for d in page["items"] if d["deliveryId"] == delivery["deliveryId"]]
        assert {d["status"] for d in copies} <= {"succeeded"}
        if copies:
            cleared = admin.ok(
                "POST",
                "/admin/dead-letters/replay",
                {"queue": "webhooks", "messageIds": [d["messageId"] for d in copies]},
            )
            assert (cleared["replayed"], cleared["alreadyDone"]) == (0, len(copies))
        assert len(receiver.at("/crm")) == ATTEMPTS + 1
        stats = crm.ok("GET", f"/webhooks/{webhook_id}/statistics")
        assert (stats["succeeded"], stats["failed"], stats["pending"], stats["failingSince"]) == (1, 0, 0, None)
        assert webhook_id not in [w["webhookId"] for w in admin.ok("GET", "/admin/integrations")["webhooks"]]
    finally:
        crm.request("DELETE", f"/webhooks/{webhook_id}")


# ---------------------------------------------------------------- dead-lettered internal events
def test_dead_lettered_internal_events_go_back_to_their_consumer_twenty_a_call(local_stack, admin):
    sqs = local_stack.client("sqs")
    resources = local_stack.state["resources"]
    dlq, queue = resources["DirectoryEventsDeadLetterQueue"]["ref"], resources["DirectoryEventsQueue"]["ref"]
    # What EventBridge put on the directory's queue, dead-lettered there (a type the directory does
    # not react to, so that its handler consumes them once they are back).
    before = admin.ok("GET", "/admin/dead-letters", queue="directory")["approximateCount"]  # 0 unless a test left some
    event_ids = [f"evt_{uuid.uuid4().hex[:20]}" for _ in range(25)]
    for event_id in event_ids:
        envelope = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "course_started",
            "source": "school.integration",
            "time": "2026-03-03T18:00:00Z",
            "detail": {
                "eventId": event_id,
                "eventType": "course_started",
                "timestamp": "2026-03-03T18:00:00+00:00",
                "data": {"courseId": "crs_ops00001", "startedAt": "2026-03-03T18:00:00+00:00"},
            },
        }
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(envelope))

    page = admin.ok("GET", "/admin/dead-letters", queue="directory")
    assert page["approximateCount"] == before + 25
    mine = [d for d in page["items"] if d["eventId"] in event_ids]
    assert len(mine) == 25 and {(d["carries"], d["eventType"]) for d in mine} == {("events", "course_started")}
    directory = next(q for q in admin.ok("GET", "/admin/integrations")["queues"] if q["name"] == "directory")
    assert directory["deadLetters"] == before + 25 and directory["behind"] is True

    first = admin.ok("POST", "/admin/dead-letters/replay", {"queue": "directory"})
    assert (first["replayed"], first["remaining"]) == (20, before + 5)
    calls = [first]
    while calls[-1]["remaining"] and len(calls) < 10:  # what the console does, the bar counting down
        calls.append(admin.ok("POST", "/admin/dead-letters/replay", {"queue": "directory"}))
    assert calls[-1]["remaining"] == 0 and sum(c["replayed"] for c in calls) == before + 25
    assert len({m for c in calls for m in c["replayedIds"]}) == before + 25
    last = admin.ok("POST", "/admin/dead-letters/replay", {"queue": "directory"})
    assert (last["replayed"], last["remaining"]) == (0, 0)

    def consumed() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]) == 0
            and int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 0
        )

    until(consumed, "the directory's handler took the replayed events off its queue")
    directory = next(q for q in admin.ok("GET", "/admin/integrations")["queues"] if q["name"] == "directory")
    assert (directory["deadLetters"], directory["backlog"]) == (0, 0)
