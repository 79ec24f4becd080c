"""Webhooks end to end inside one process: the API, publisher, dispatcher and maintenance
handlers against moto, delivering to a real HTTP receiver on loopback, with the retry schedule
scaled down to seconds."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.support.lambdas import LambdaContext, api_event, invoke, load_function
from tests.support.receiver import Answer, Receiver

os.environ.update(
    {
        "WEBHOOKS_ALLOW_LOOPBACK": "true",
        "WEBHOOK_RETRY_SCHEDULE": "0,1,1",
        "WEBHOOK_MAX_RECEIVE_COUNT": "3",
        "WEBHOOK_SWEEP_GRACE_SECONDS": "0",
    }
)
SERVICE = ("svc_accounting", "service")
OTHER = ("svc_crm0001", "service")
ADMIN = ("adm_office", "admin")
# POST /events takes only the types other systems announce (publishedBy external): a grade.
GRADE = {
    "studentId": "stu_abcdabcdabcdabcdabcd",
    "courseId": "crs_abcdabcdabcdabcdabcd",
    "assessment": "Mid-term speaking test",
    "grade": "B2",
    "updatedAt": "2025-04-10T16:00:00+00:00",
}


def _reset() -> None:
    from integration_core.adapters import sqs
    from integration_core.webhook_config import webhook_settings

    webhook_settings.cache_clear()
    sqs.client.cache_clear()


@pytest.fixture
def hooks(aws, monkeypatch):
    client = boto3.client("sqs")
    dlq = client.create_queue(QueueName="webhooks-dlq")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = client.create_queue(
        QueueName="webhooks",
        Attributes={
            "VisibilityTimeout": "5",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", queue)
    monkeypatch.setenv("WEBHOOK_DLQ_URL", dlq)
    _reset()
    with Receiver() as receiver:
        yield Hooks(receiver, queue, dlq)
    _reset()


class Hooks:
    def __init__(self, receiver: Receiver, queue: str, dlq: str) -> None:
        self.receiver, self.queue, self.dlq = receiver, queue, dlq
        self.sqs = boto3.client("sqs")

    def register(self, path="/hook", events=("grade_updated",), caller=SERVICE, **extra):
        body = {"url": self.receiver.url(path), "events": list(events), **extra}
        answer = invoke("webhooks", api_event("POST", "/webhooks", caller=caller, body=body))
        assert answer.status == 201, answer.body
        return answer.body

    def publish(self, data=None, event_type="grade_updated", caller=SERVICE, **extra):
        body = {"eventType": event_type, "data": data or GRADE, **extra}
        return invoke("webhooks", api_event("POST", "/events", caller=caller, body=body))

    def drain(self, until=None, timeout: float = 12.0) -> int:
        """Poll the queue like Lambda's event source mapping until `until()` holds or, without
        `until`, until nothing is left: no message visible, in flight (a retry waiting for its
        visibility to end) or delayed. Fails if the queue still holds messages after `timeout`.

        The in-flight and delayed counts are read *before* each receive. Messages only ever move
        from in flight or delayed to receivable (no one else receives from this queue), so when
        both counts were zero and the receive that follows finds nothing, nothing is left. Read
        after an empty receive instead, a retry whose visibility ended between the two calls was
        neither received nor counted, and the queue looked empty while that retry was due."""
        deadline = time.monotonic() + timeout
        batches = 0
        while True:
            waiting = self.waiting() if until is None else 0
            messages = self.sqs.receive_message(
                QueueUrl=self.queue, MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if messages:
                batches += 1
                self.run_batch(messages)
                continue
            if (until is None and not waiting) or (until is not None and until()):
                return batches
            if time.monotonic() > deadline:
                assert until is not None, f"{waiting} message(s) still in flight or delayed after {timeout} s"
                return batches
            time.sleep(0.1)

    def waiting(self) -> int:
        """Messages in flight (received, not yet visible again) or delayed."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue,
            AttributeNames=["ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def run_batch(self, messages) -> dict:
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:webhooks",
                    "awsRegion": "eu-west-1",
                }
                for m in messages
            ]
        }
        result = load_function("webhook_dispatcher").handler(event, LambdaContext())
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])
        return result

    def get(self, path, caller=SERVICE, **query):
        return invoke("webhooks", api_event("GET", path, caller=caller, query=query or None))

    def stats(self, webhook_id, caller=SERVICE):
        return self.get(f"/webhooks/{webhook_id}/statistics", caller).body

    def deliveries(self, webhook_id):
        return self.get(f"/webhooks/{webhook_id}/deliveries").body["items"]


# ---------------------------------------------------------------- registration and ownership
def test_registration_returns_the_original_fields_and_the_owner_sees_it(hooks):
    created = hooks.register()
    assert set(created) >= {"webhookId", "userId", "url", "events", "isActive", "secret", "createdAt"}
    assert created["secret"].startswith("whsec_") and created["userId"] == "svc_accounting"
    listed = hooks.get("/webhooks/svc_accounting").body["items"]
    assert [w["webhookId"] for w in listed] == [created["webhookId"]]
    assert "secret" not in listed[0]
    assert hooks.get(f"/webhooks/{created['webhookId']}").body["url"] == created["url"]


def test_a_user_cannot_see_or_change_another_users_webhook(hooks):
    created = hooks.register()
    webhook_id = created["webhookId"]
    assert hooks.get("/webhooks/svc_accounting", caller=OTHER).status == 403
    assert hooks.get(f"/webhooks/{webhook_id}", caller=OTHER).status == 403
    assert hooks.get(f"/webhooks/{webhook_id}/statistics", caller=OTHER).status == 403
    patch = api_event("PATCH", f"/webhooks/{webhook_id}", caller=OTHER, body={"isActive": False})
    assert invoke("webhooks", patch).status == 403
    assert invoke("webhooks", api_event("DELETE", f"/webhooks/{webhook_id}", caller=OTHER)).status == 403
    assert hooks.get(f"/webhooks/{webhook_id}", caller=ADMIN).status == 200
    student = api_event(
        "POST",
        "/webhooks",
        caller=("stu_ana00001", "student"),
        body={"url": hooks.receiver.url(), "events": ["course_started"]},
    )
    assert invoke("webhooks", student).status == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://127.0.0.1.nip.invalid/x", "events": ["nope"]}, "events[0]"),
        ({"url": "ftp://example.com/x", "events": ["course_started"]}, "url"),
        ({"url": "https://169.254.169.254/latest/meta-data", "events": ["course_started"]}, "url"),
        ({"url": "https://user:pw@example.com/x", "events": ["course_started"]}, "url"),
        ({"events": ["course_started"]}, "url"),
    ],
)
def test_bad_registrations_are_refused_and_nothing_is_stored(hooks, body, field):
    answer = invoke("webhooks", api_event("POST", "/webhooks", caller=SERVICE, body=body))
    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == field
    assert hooks.get("/webhooks/svc_accounting").body["items"] == []


def test_the_catalog_lists_every_type_with_schema_and_example(hooks):
    items = {e["name"]: e for e in hooks.get("/webhooks/events").body["items"]}
    assert {
        "payment_completed",
        "student_enrolled",
        "grade_updated",
        "course_started",
        "course_ended",
        "webhook.test",
    } <= set(items)
    assert (
        items["payment_completed"]["schema"]["required"] and items["payment_completed"]["example"]["currency"] == "EUR"
    )


# ---------------------------------------------------------------- publishing and delivery
def test_a_delivered_event_verifies_with_standard_webhooks_and_the_legacy_header(hooks):
    created = hooks.register()
    published = hooks.publish(eventId="evt-ext-1")
    assert published.status == 202 and published.body["duplicate"] is False
    hooks.drain()
    [request] = hooks.receiver.at("/hook")
    payload = json.loads(request.body)
    assert payload == {
        "webhookId": created["webhookId"],
        "eventId": "evt-ext-1",
        "eventType": "grade_updated",
        "timestamp": payload["timestamp"],
        "data": GRADE,
    }
    headers = {k.lower(): v for k, v in request.headers.items()}
    StandardWebhook(created["secret"]).verify(request.body, headers)
    expected = hmac.new(created["secret"].encode(), request.body, hashlib.sha256).hexdigest()
    assert headers["x-webhook-signature"] == f"sha256={expected}"
    stats = hooks.stats(created["webhookId"])
    assert (stats["total"], stats["succeeded"], stats["failed"], stats["pending"]) == (1, 1, 0, 0)
    assert stats["successRate"] == 1.0 and stats["averageLatencyMs"] is not None and stats["lastSuccessAt"]


def test_the_same_event_id_published_twice_fans_out_once(hooks):
    hooks.register()
    assert hooks.publish(eventId="evt-dup").body["duplicate"] is False
    assert hooks.publish(eventId="evt-dup").body["duplicate"] is True
    assert hooks.publish(eventId="evt-dup", data={**GRADE, "grade": "C1"}).status == 409
    hooks.drain()
    assert len(hooks.receiver.at("/hook")) == 1


def test_data_not_matching_the_schema_is_a_422_naming_the_field_and_nothing_is_stored(hooks):
    webhook = hooks.register()
    answer = hooks.publish(data={k: v for k, v in GRADE.items() if k != "grade"}, eventId="evt-bad")
    assert answer.status == 422 and answer.body["errors"][0]["field"] == "data.grade"
    assert hooks.publish(event_type="no_such_event").status == 422
    assert hooks.publish(event_type="webhook.test", data={"message": "x", "webhookId": "whk_x"}).status == 422
    assert hooks.deliveries(webhook["webhookId"]) == []
    assert hooks.publish(caller=("stu_ana00001", "student")).status == 403


OWNED_TYPES = {
    "payment_completed": "payments",
    "payment_refunded": "payments",
    "subscription_activated": "payments",
    "subscription_canceled": "payments",
    "student_enrolled": "enrollments",
    "student_unenrolled": "enrollments",
    "course_schedule_changed": "directory",
    "class_reminder": "calendar",
    "calendar_connection_broken": "calendar",
    "webhook.test": "webhooks",
    "recording_ready": "video",
    "attendance_recorded": "video",
}


@pytest.mark.parametrize("caller", [ADMIN, SERVICE])
@pytest.mark.parametrize("event_type", sorted(OWNED_TYPES))
def test_post_events_refuses_a_type_owned_by_a_capability_of_this_service(hooks, caller, event_type):
    """A payment_completed for a payment that does not exist must not reach receivers, whoever
    asks: only the payments capability publishes it, with the payment it reports."""
    from integration_core.domain.events import CATALOG

    webhook = hooks.register(events=[event_type] if event_type != "webhook.test" else ["grade_updated"])
    event_id = f"evt-forged-{event_type.replace('.', '-')}"
    answer = hooks.publish(data=CATALOG[event_type].example, event_type=event_type, caller=caller, eventId=event_id)
    assert answer.status == 422, answer.body
    assert answer.content_type == "application/problem+json"
    [error] = answer.body["errors"]
    assert error["field"] == "eventType" and error["code"] == "not_announceable"
    assert OWNED_TYPES[event_type] in error["reason"]
    hooks.drain()
    assert hooks.deliveries(webhook["webhookId"]) == [] and hooks.receiver.at("/hook") == []
    stored = boto3.client("dynamodb").get_item(
        TableName="app-table", Key={"PK": {"S": f"EVENT#{event_id}"}, "SK": {"S": "EVENT"}}, ConsistentRead=True
    )
    assert "Item" not in stored


def test_the_catalog_says_who_publishes_each_type_and_post_events_takes_exactly_the_external_ones(hooks):
    items = {e["name"]: e for e in hooks.get("/webhooks/events").body["items"]}
    for name, owner in OWNED_TYPES.items():
        assert (items[name]["publishedBy"], items[name]["announceable"]) == (owner, False), name
    external = {n for n, e in items.items() if e["publishedBy"] == "external"}
    assert external >= {"grade_updated", "course_started", "course_ended"}
    assert all(e["announceable"] is (e["publishedBy"] == "external") for e in items.values())
    hooks.register(events=sorted(external))
    for name in sorted(external):
        answer = hooks.publish(data=items[name]["example"], event_type=name)
        assert answer.status == 202, (name, answer.body)
    hooks.drain()
    assert sorted(json.loads(r.body)["eventType"] for r in hooks.receiver.at("/hook")) == sorted(external)


def test_a_publish_naming_several_bad_fields_is_told_of_every_one(hooks):
    webhook = hooks.register()
    data = {"studentId": "", "grade": {"not": "a grade"}, "updatedAt": 5}  # courseId missing as well
    answer = hooks.publish(data=data, eventId="evt-many-bad")
    assert answer.status == 422
    fields = {e["field"] for e in answer.body["errors"]}
    assert fields == {"data.courseId", "data.studentId", "data.grade", "data.updatedAt"}, answer.body
    for name in fields:
        assert name in answer.body["detail"]
    assert hooks.deliveries(webhook["webhookId"]) == []


def test_a_receiver_failing_twice_then_succeeding_gets_three_attempts_at_the_schedule(hooks):
    created = hooks.register()
    hooks.receiver.script("/hook", Answer(500), Answer(502))
    hooks.publish()
    hooks.drain()
    requests = hooks.receiver.at("/hook")
    assert len(requests) == 3
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    assert all(gap >= 0.9 for gap in gaps), gaps
    [delivery] = hooks.deliveries(created["webhookId"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 3
    detail = hooks.get(f"/webhooks/{created['webhookId']}/deliveries/{delivery['deliveryId']}").body
    assert [a["statusCode"] for a in detail["attemptHistory"]] == [500, 502, 200]
    assert detail["attemptHistory"][0]["errorClass"] == "http"
    stats = hooks.stats(created["webhookId"])
    assert (stats["total"], stats["succeeded"], stats["failed"], stats["pending"]) == (1, 1, 0, 0)
    assert stats["consecutiveFailures"] == 0


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_a_hanging_receiver_holds_up_neither_the_record_nor_the_retry_of_a_fast_failing_one(hooks):
    """One batch, two deliveries: /slow hangs, /fast fails at once. The fast one's attempt is
    recorded at once with the time it was made, and its retry comes 1 s later (the schedule is
    0, 1, 1) while /slow is still hanging; the slow one's attempt is recorded with the time the
    receiver got it, not the time it answered."""
    slow, fast = hooks.register(path="/slow"), hooks.register(path="/fast")
    release = threading.Event()
    hooks.receiver.script("/slow", Answer(200, hold=release))
    hooks.receiver.script("/fast", Answer(500), Answer(200))
    hooks.publish()
    messages: list = []
    while len(messages) < 2:
        messages += hooks.sqs.receive_message(QueueUrl=hooks.queue, MaxNumberOfMessages=10).get("Messages", [])
    batch = threading.Thread(target=hooks.run_batch, args=(messages,))
    batch.start()
    try:
        [first_fast] = hooks.receiver.wait_for("/fast", 1, timeout=5)
        deadline = time.monotonic() + 4
        while len(hooks.receiver.at("/fast")) < 2 and time.monotonic() < deadline:
            retry = hooks.sqs.receive_message(QueueUrl=hooks.queue, MaxNumberOfMessages=10).get("Messages", [])
            if retry:
                hooks.run_batch(retry)
            time.sleep(0.05)
        fast_requests = hooks.receiver.at("/fast")
        assert len(fast_requests) == 2, "the fast delivery's retry waited for the hanging receiver"
        assert 0.9 <= fast_requests[1].at - first_fast.at < 2.5
        assert not release.is_set() and len(hooks.receiver.at("/slow")) == 1  # still hanging meanwhile
        [fast_delivery] = hooks.deliveries(fast["webhookId"])
        detail = hooks.get(f"/webhooks/{fast['webhookId']}/deliveries/{fast_delivery['deliveryId']}").body
        assert [a["statusCode"] for a in detail["attemptHistory"]] == [500, 200]
        for attempt, received in zip(detail["attemptHistory"], fast_requests, strict=True):
            assert abs(_epoch(attempt["at"]) - received.at) < 1.5, (attempt["at"], received.at)
        time.sleep(max(0.0, first_fast.at + 3 - time.time()))  # /slow hangs 3 s at least
    finally:
        release.set()
        batch.join(20)
    [slow_request] = hooks.receiver.at("/slow")
    [slow_delivery] = hooks.deliveries(slow["webhookId"])
    assert slow_delivery["status"] == "succeeded"
    slow_detail = hooks.get(f"/webhooks/{slow['webhookId']}/deliveries/{slow_delivery['deliveryId']}").body
    [slow_attempt] = slow_detail["attemptHistory"]
    assert abs(_epoch(slow_attempt["at"]) - slow_request.at) < 1.5, (slow_attempt["at"], slow_request.at)
    assert slow_attempt["latencyMs"] >= 2500
    assert _epoch(slow_delivery["deliveredAt"]) >= slow_request.at + 2
    hooks.drain()
    assert hooks.stats(fast["webhookId"])["succeeded"] == hooks.stats(slow["webhookId"])["succeeded"] == 1


def test_always_failing_ends_failed_in_the_dlq_and_is_replayed(hooks):
    created = hooks.register()
    answered = {"X-Receiver": "crm-7", "Set-Cookie": "session=secret", "X-Long": "v" * 500}
    hooks.receiver.default = Answer(500, headers=answered, body=b"x" * 5000)
    hooks.publish()
    hooks.drain(timeout=15)
    [delivery] = hooks.deliveries(created["webhookId"])
    assert delivery["status"] == "failed" and delivery["attempts"] == 3
    dead = hooks.sqs.receive_message(QueueUrl=hooks.dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["deliveryId"] for m in dead] == [delivery["deliveryId"]]
    detail = hooks.get(f"/webhooks/{created['webhookId']}/deliveries/{delivery['deliveryId']}").body
    assert len(detail["attemptHistory"][0]["responseBody"]) == 2048
    # The receiver's answer headers are kept with each attempt, bounded, without its cookies.
    kept = detail["attemptHistory"][0]["responseHeaders"]
    assert kept["x-receiver"] == "crm-7" and kept["x-long"] == "v" * 200
    assert "set-cookie" not in kept and kept["content-length"] == "5000"
    stats = hooks.stats(created["webhookId"])
    assert (stats["failed"], stats["pending"], stats["consecutiveFailures"]) == (1, 0, 3) and stats["failingSince"]

    hooks.receiver.default = Answer(200)
    retry = api_event(
        "POST", f"/webhooks/{created['webhookId']}/deliveries/{delivery['deliveryId']}/retry", caller=SERVICE
    )
    assert invoke("webhooks", retry).status == 202
    assert invoke("webhooks", retry).status == 409  # no longer failed
    hooks.drain()
    [delivery] = hooks.deliveries(created["webhookId"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 4
    stats = hooks.stats(created["webhookId"])
    assert (stats["succeeded"], stats["failed"], stats["pending"], stats["failingSince"]) == (1, 0, 0, None)


def test_replay_retries_every_failed_delivery_since_a_time(hooks):
    created = hooks.register(events=["course_started"])
    hooks.receiver.default = Answer(404)
    for n in range(3):
        hooks.publish(
            event_type="course_started", data={"courseId": f"crs_{n}aaaa", "startedAt": "2025-03-03T18:00:00+00:00"}
        )
    hooks.drain(timeout=15)
    assert {d["status"] for d in hooks.deliveries(created["webhookId"])} == {"failed"}
    hooks.receiver.default = Answer(204)
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    replay = api_event("POST", f"/webhooks/{created['webhookId']}/replay", caller=SERVICE, body={"since": since})
    answer = invoke("webhooks", replay)
    assert answer.status == 202 and answer.body["replayed"] == 3
    hooks.drain()
    assert {d["status"] for d in hooks.deliveries(created["webhookId"])} == {"succeeded"}


def test_410_disables_the_webhook_and_reenabling_restores_it(hooks):
    created = hooks.register()
    hooks.receiver.script("/hook", Answer(410))
    hooks.publish()
    hooks.drain()
    webhook = hooks.get(f"/webhooks/{created['webhookId']}").body
    assert webhook["isActive"] is False and "410" in webhook["disabledReason"]
    hooks.publish(data={**GRADE, "assessment": "second"})
    hooks.drain()
    assert len(hooks.receiver.at("/hook")) == 1  # not subscribed while disabled
    patch = api_event("PATCH", f"/webhooks/{created['webhookId']}", caller=SERVICE, body={"isActive": True})
    answer = invoke("webhooks", patch)
    assert answer.status == 200 and answer.body["isActive"] is True and answer.body.get("disabledReason") is None
    hooks.publish(data={**GRADE, "assessment": "third"})
    hooks.drain()
    assert len(hooks.receiver.at("/hook")) == 2


def test_a_dispatcher_dying_between_recording_a_410_and_disabling_disables_on_the_redelivery(hooks, monkeypatch):
    from integration_core.stores import webhooks as webhook_store

    created = hooks.register()
    hooks.receiver.script("/hook", Answer(410))
    hooks.publish()
    real_disable = webhook_store.disable
    calls = {"n": 0}

    def dies_once(store, webhook, reason):
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemExit("killed after recording the 410, before disabling")
        return real_disable(store, webhook, reason)

    monkeypatch.setattr(webhook_store, "disable", dies_once)
    messages = hooks.sqs.receive_message(QueueUrl=hooks.queue, MaxNumberOfMessages=10, VisibilityTimeout=1)["Messages"]
    with pytest.raises(SystemExit):
        hooks.run_batch(messages)
    [delivery] = hooks.deliveries(created["webhookId"])
    assert (delivery["status"], delivery["lastStatusCode"]) == ("failed", 410)
    assert hooks.get(f"/webhooks/{created['webhookId']}").body["isActive"] is True  # the crash's window
    hooks.drain()
    webhook = hooks.get(f"/webhooks/{created['webhookId']}").body
    assert webhook["isActive"] is False and "410" in webhook["disabledReason"]
    assert len(hooks.receiver.at("/hook")) == 1  # the redelivered message was not sent again

    # Re-enabled by its owner, a stale copy of that message no longer disables it.
    time.sleep(1.05)  # the owner's change comes after the recorded 410 (timestamps in seconds)
    patch = api_event("PATCH", f"/webhooks/{created['webhookId']}", caller=SERVICE, body={"isActive": True})
    assert invoke("webhooks", patch).status == 200
    body = {"deliveryId": delivery["deliveryId"], "webhookId": created["webhookId"], "eventId": delivery["eventId"]}
    hooks.sqs.send_message(QueueUrl=hooks.queue, MessageBody=json.dumps(body))
    hooks.drain()
    assert hooks.get(f"/webhooks/{created['webhookId']}").body["isActive"] is True


def test_retry_after_is_honoured(hooks):
    hooks.register()
    hooks.receiver.script("/hook", Answer(429, headers={"Retry-After": "3"}))
    hooks.publish()
    hooks.drain(timeout=15)
    first, second = hooks.receiver.at("/hook")
    assert second.at - first.at >= 2.9


def test_redirects_are_not_followed(hooks):
    created = hooks.register()
    hooks.receiver.script("/hook", Answer(302, headers={"Location": hooks.receiver.url("/elsewhere")}))
    hooks.receiver.script("/elsewhere", Answer(200))
    hooks.publish()
    hooks.drain(until=lambda: len(hooks.receiver.at("/hook")) >= 1)
    assert hooks.receiver.at("/elsewhere") == []
    [delivery] = hooks.deliveries(created["webhookId"])
    assert delivery["lastStatusCode"] == 302


def test_a_dispatcher_killed_mid_batch_delivers_everything_and_records_each_success_once(hooks, monkeypatch):
    from integration_core.services import delivery as dispatcher

    created = hooks.register()
    for n in range(6):
        hooks.publish(data={**GRADE, "assessment": f"kill{n}"})
    real_record = dispatcher.record
    calls = {"n": 0}

    def dies_once(store, jobs, stats=None):
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemExit("killed after sending, before recording")
        return real_record(store, jobs, stats)

    monkeypatch.setattr(dispatcher, "record", dies_once)
    messages = hooks.sqs.receive_message(QueueUrl=hooks.queue, MaxNumberOfMessages=10, VisibilityTimeout=1)["Messages"]
    with pytest.raises(SystemExit):
        hooks.run_batch(messages)
    # A duplicate message for a delivery as well (a publisher retrying its dispatch).
    from integration_core.services import events

    events.fan_out([json.loads(messages[0]["Body"])["eventId"]])
    hooks.drain(timeout=15)
    stats = hooks.stats(created["webhookId"])
    assert stats["succeeded"] == 6 and stats["total"] == 6 and stats["pending"] == 0
    delivered = {json.loads(r.body)["data"]["assessment"] for r in hooks.receiver.at("/hook")}
    assert delivered == {f"kill{n}" for n in range(6)}


def test_a_record_failing_once_after_the_sends_is_made_again_and_nothing_is_sent_twice(hooks, monkeypatch):
    from integration_core.errors import ProviderUnavailable
    from integration_core.services import delivery as dispatcher
    from integration_core.stores import webhooks as webhook_store

    created = hooks.register()
    for n in range(3):
        hooks.publish(data={**GRADE, "assessment": f"busy{n}"})
    real_record_wave = webhook_store.record_wave
    calls = {"n": 0}

    def busy_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ProviderUnavailable("the database cannot be reached; try again", retry_after=2)
        return real_record_wave(*args, **kwargs)

    monkeypatch.setattr(webhook_store, "record_wave", busy_once)
    monkeypatch.setattr(dispatcher, "RECORD_RETRY_WAITS", (0.01,))
    hooks.drain(timeout=15)
    assert calls["n"] == 2
    # One request per event at the receiver, one attempt recorded for each.
    delivered = sorted(json.loads(r.body)["data"]["assessment"] for r in hooks.receiver.at("/hook"))
    assert delivered == ["busy0", "busy1", "busy2"]
    assert [d["attempts"] for d in hooks.deliveries(created["webhookId"])] == [1, 1, 1]
    assert hooks.stats(created["webhookId"])["succeeded"] == 3


def test_the_worst_latency_stays_the_slowest_answer_when_a_concurrent_batch_records_first(hooks, monkeypatch):
    """Two batches for one webhook: the first is answered quickly but records last, after the
    second, whose receiver took 0.3 s. Both deliveries count and the slow answer stays the worst."""
    from integration_core.services import delivery as dispatcher

    created = hooks.register()
    hooks.receiver.script("/hook", Answer(200), Answer(200, delay=0.3))
    hooks.publish(data={**GRADE, "assessment": "fast"})
    hooks.publish(data={**GRADE, "assessment": "slow"})
    real_record = dispatcher.record
    answered, carry_on = threading.Event(), threading.Event()

    def held_in_the_first_batch(store, jobs, stats=None):
        if threading.current_thread() is not threading.main_thread():
            answered.set()
            carry_on.wait(10)
        return real_record(store, jobs, stats)

    monkeypatch.setattr(dispatcher, "record", held_in_the_first_batch)
    first = hooks.sqs.receive_message(QueueUrl=hooks.queue, MaxNumberOfMessages=1)["Messages"]
    worker = threading.Thread(target=hooks.run_batch, args=(first,))
    worker.start()
    try:
        assert answered.wait(10)
        second = hooks.sqs.receive_message(QueueUrl=hooks.queue, MaxNumberOfMessages=1)["Messages"]
        hooks.run_batch(second)
    finally:
        carry_on.set()
        worker.join(10)
    fast, slow = (json.loads(r.body)["data"]["assessment"] for r in hooks.receiver.at("/hook"))
    assert (fast, slow) == ("fast", "slow")
    deliveries = hooks.deliveries(created["webhookId"])
    assert [d["status"] for d in deliveries] == ["succeeded", "succeeded"]
    latencies = [
        attempt["latencyMs"]
        for d in deliveries
        for attempt in hooks.get(f"/webhooks/{created['webhookId']}/deliveries/{d['deliveryId']}").body[
            "attemptHistory"
        ]
    ]
    stats = hooks.stats(created["webhookId"])
    assert (stats["total"], stats["succeeded"], stats["pending"]) == (2, 2, 0)
    assert stats["worstLatencyMs"] == max(latencies) >= 300 > min(latencies)


def test_the_sweeper_recovers_an_event_stranded_between_recording_and_enqueueing(hooks):
    from integration_core.adapters.dynamodb import table
    from integration_core.services import events

    hooks.register()
    db = table(os.environ["TABLE_NAME"])
    event_id, operations = events.event_operations(db, "grade_updated", GRADE, cause="test: crash before dispatch")
    db.transact(operations)  # recorded, and the process "dies" here
    result = load_function("webhook_maintenance").handler({"task": "sweep"}, LambdaContext())
    assert result == {"task": "sweep", "dispatched": 1}
    hooks.drain()
    [request] = hooks.receiver.at("/hook")
    assert json.loads(request.body)["eventId"] == event_id
    assert load_function("webhook_maintenance").handler({"task": "sweep"}, LambdaContext())["dispatched"] == 0


# ---------------------------------------------------------------- test, verify, rotation, auto-disable
def test_the_test_endpoint_sends_now_and_reports(hooks):
    created = hooks.register()
    answer = invoke("webhooks", api_event("POST", f"/webhooks/{created['webhookId']}/test", caller=SERVICE))
    assert answer.status == 200
    assert answer.body["success"] is True and answer.body["statusCode"] == 200 and answer.body["responseTimeMs"] > 0
    assert json.loads(hooks.receiver.at("/hook")[0].body)["eventType"] == "webhook.test"
    hooks.receiver.script("/hook", Answer(500, delay=0.2))
    failed = invoke("webhooks", api_event("POST", f"/webhooks/{created['webhookId']}/test", caller=SERVICE)).body
    assert failed["success"] is False and failed["statusCode"] == 500 and failed["errorClass"] == "http"
    stats = hooks.stats(created["webhookId"])
    assert stats["worstLatencyMs"] == failed["responseTimeMs"] >= 200 and stats["total"] == 2


def test_verify_answers_valid_or_the_reason(hooks):
    created = hooks.register()
    webhook_id, secret = created["webhookId"], created["secret"]
    body = '{"hello":"world"}'
    now = int(time.time())
    signer = StandardWebhook(secret)
    good = signer.sign("msg_1", datetime.fromtimestamp(now, UTC), body)

    def verify(headers=None, signature=None, caller=SERVICE, target=webhook_id):
        payload = {"payload": body, "headers": headers or {}, **({"signature": signature} if signature else {})}
        return invoke("webhooks", api_event("POST", f"/webhooks/{target}/verify", caller=caller, body=payload)).body

    standard = {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": good}
    assert verify(standard) == {"valid": True, "scheme": "standard-webhooks", "reason": None}
    assert (
        verify({**standard, "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()})["reason"]
        == "bad_signature"
    )
    old = signer.sign("msg_1", datetime.fromtimestamp(now - 600, UTC), body)
    assert (
        verify({**standard, "webhook-timestamp": str(now - 600), "webhook-signature": old})["reason"]
        == "timestamp_too_old"
    )
    legacy = "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    assert verify(signature=legacy)["valid"] is True
    assert verify(signature="sha256=00")["reason"] == "bad_signature"
    assert verify(standard, target="whk_doesnotexist0000")["reason"] == "unknown_webhook"
    assert verify(standard, caller=OTHER)["reason"] == "unknown_webhook"


def test_after_a_rotation_both_secrets_sign(hooks):
    created = hooks.register()
    rotate = api_event("POST", f"/webhooks/{created['webhookId']}/rotate-secret", caller=SERVICE)
    rotated = invoke("webhooks", rotate).body
    assert rotated["secret"] != created["secret"] and rotated["previousSecretValidUntil"]
    hooks.publish()
    hooks.drain()
    [request] = hooks.receiver.at("/hook")
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert len(headers["webhook-signature"].split()) == 2
    StandardWebhook(created["secret"]).verify(request.body, headers)
    StandardWebhook(rotated["secret"]).verify(request.body, headers)
    # What a receiver of the original's header gets: one sha256= value, the new secret's, which a
    # receiver comparing the whole header accepts once it holds the new secret.
    newest = hmac.new(rotated["secret"].encode(), request.body, hashlib.sha256).hexdigest()
    assert headers["x-webhook-signature"] == f"sha256={newest}"
    assert hmac.compare_digest(headers["x-webhook-signature"], f"sha256={newest}")


# ---------------------------------------------------------------- secrets at rest
def _profile_key(webhook_id: str) -> dict:
    from integration_core import keys

    return {"PK": {"S": keys.webhook_pk(webhook_id)}, "SK": {"S": keys.PROFILE}}


def _raw_profile(webhook_id: str) -> dict:
    """The webhook's item as DynamoDB holds it (read with boto3, not through the store)."""
    item = boto3.client("dynamodb").get_item(TableName=os.environ["TABLE_NAME"], Key=_profile_key(webhook_id))["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def _kms_decrypt(ciphertext: str, webhook_id: str) -> str:
    context = {"webhookId": webhook_id, "purpose": "webhook-signing-secret"}
    blob = base64.b64decode(ciphertext)
    return boto3.client("kms").decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"].decode()


def test_the_stored_webhook_holds_its_secrets_only_encrypted_under_its_own_context(hooks):
    created = hooks.register()
    webhook_id, secret = created["webhookId"], created["secret"]
    stored = _raw_profile(webhook_id)
    assert "secret" not in stored and not any(secret in str(value) for value in stored.values())
    assert _kms_decrypt(stored["secret_ciphertext"], webhook_id) == secret
    other = hooks.register(path="/other")["webhookId"]
    with pytest.raises(boto3.client("kms").exceptions.InvalidCiphertextException):
        _kms_decrypt(stored["secret_ciphertext"], other)  # another webhook's context
    rotated = invoke("webhooks", api_event("POST", f"/webhooks/{webhook_id}/rotate-secret", caller=SERVICE)).body
    stored = _raw_profile(webhook_id)
    assert not any(s in str(v) for v in stored.values() for s in (secret, rotated["secret"]))
    assert _kms_decrypt(stored["secret_ciphertext"], webhook_id) == rotated["secret"]
    assert _kms_decrypt(stored["previous_secret_ciphertext"], webhook_id) == secret
    # The repeat of a registration (same Idempotency-Key) shows the secret it made, decrypted.
    body = {"url": hooks.receiver.url("/again"), "events": ["grade_updated"]}
    first = api_event("POST", "/webhooks", caller=SERVICE, body=body, headers={"Idempotency-Key": "register-again-1"})
    made = invoke("webhooks", first).body
    assert invoke("webhooks", first).body["secret"] == made["secret"]
    assert made["secret"] not in str(_raw_profile(made["webhookId"]).values())


def test_a_secret_copied_from_another_webhook_signs_nothing_and_the_others_are_delivered(hooks):
    copied, honest = hooks.register(path="/copied"), hooks.register(path="/honest")
    ciphertext = _raw_profile(honest["webhookId"])["secret_ciphertext"]
    boto3.client("dynamodb").update_item(
        TableName=os.environ["TABLE_NAME"],
        Key=_profile_key(copied["webhookId"]),
        UpdateExpression="SET secret_ciphertext = :c",
        ExpressionAttributeValues={":c": {"S": ciphertext}},
    )
    hooks.publish()
    hooks.drain(until=lambda: hooks.receiver.at("/honest"), timeout=5)
    [request] = hooks.receiver.at("/honest")
    StandardWebhook(honest["secret"]).verify(request.body, {k.lower(): v for k, v in request.headers.items()})
    assert hooks.receiver.at("/copied") == []  # nothing is signed with a secret that is not its own
    verify = {"payload": "{}", "headers": {}, "signature": "sha256=00"}
    path = f"/webhooks/{copied['webhookId']}/verify"
    answer = invoke("webhooks", api_event("POST", path, caller=SERVICE, body=verify))
    assert answer.status == 409 and "rotate the secret" in answer.body["detail"]


def test_a_webhook_stored_before_secrets_were_encrypted_is_sealed_when_read_and_keeps_its_secret(hooks):
    created = hooks.register()
    webhook_id = created["webhookId"]
    legacy = "whsec_" + base64.b64encode(b"k" * 32).decode()
    boto3.client("dynamodb").update_item(
        TableName=os.environ["TABLE_NAME"],
        Key=_profile_key(webhook_id),
        UpdateExpression="SET secret = :s REMOVE secret_ciphertext",
        ExpressionAttributeValues={":s": {"S": legacy}},
    )
    hooks.publish()
    hooks.drain()  # the dispatcher seals it, and signs with it
    [request] = hooks.receiver.at("/hook")
    StandardWebhook(legacy).verify(request.body, {k.lower(): v for k, v in request.headers.items()})
    stored = _raw_profile(webhook_id)
    assert "secret" not in stored and _kms_decrypt(stored["secret_ciphertext"], webhook_id) == legacy


def test_a_webhook_failing_for_the_whole_period_is_disabled_with_a_reason(hooks, monkeypatch):
    created = hooks.register()
    hooks.receiver.default = Answer(503)
    hooks.publish()
    hooks.drain(timeout=15)
    monkeypatch.setenv("WEBHOOK_DISABLE_AFTER_SECONDS", "3600")
    _reset()
    maintenance = load_function("webhook_maintenance")
    assert maintenance.handler({"task": "auto_disable"}, LambdaContext())["disabled"] == []  # failing for seconds only
    monkeypatch.setenv("WEBHOOK_DISABLE_AFTER_SECONDS", "0")
    _reset()
    time.sleep(1.1)
    assert maintenance.handler({"task": "auto_disable"}, LambdaContext())["disabled"] == [created["webhookId"]]
    webhook = hooks.get(f"/webhooks/{created['webhookId']}").body
    assert webhook["isActive"] is False and "failed" in webhook["disabledReason"]


def test_history_is_paginated_newest_first(hooks):
    created = hooks.register(events=["course_ended"])
    for n in range(3):
        hooks.publish(
            event_type="course_ended", data={"courseId": f"crs_{n}bbbb", "endedAt": "2025-06-30T19:30:00+00:00"}
        )
        time.sleep(1.05)  # distinct creation seconds
    hooks.drain()
    first = hooks.get(f"/webhooks/{created['webhookId']}/deliveries", limit="2").body
    assert len(first["items"]) == 2 and first["nextCursor"]
    rest = hooks.get(f"/webhooks/{created['webhookId']}/deliveries", limit="2", cursor=first["nextCursor"]).body
    created_at = [d["createdAt"] for d in first["items"] + rest["items"]]
    assert created_at == sorted(created_at, reverse=True) and len(created_at) == 3


# ---------------------------------------------------------------- the original specification's DTOs
def test_answers_carry_every_field_of_the_originals_webhook_dtos(hooks):
    # WebhookRegistration: the original's `active` is accepted for isActive.
    created = hooks.register(active=True, description="accounting")
    webhook_id = created["webhookId"]
    assert created["id"] == webhook_id and created["active"] is True and created["isActive"] is True
    assert {"id", "url", "events", "active", "secret", "createdAt", "updatedAt"} <= set(created)
    listed = hooks.get("/webhooks").body["items"][0]
    assert (listed["id"], listed["active"]) == (webhook_id, True) and "secret" not in listed
    # Webhook after a change through the original's name.
    patch = api_event("PATCH", f"/webhooks/{webhook_id}", caller=SERVICE, body={"active": False})
    changed = invoke("webhooks", patch).body
    assert (changed["active"], changed["isActive"]) == (False, False)
    patch = api_event("PATCH", f"/webhooks/{webhook_id}", caller=SERVICE, body={"active": True})
    assert invoke("webhooks", patch).body["active"] is True

    # WebhookDelivery: one failed attempt, then a success.
    hooks.receiver.script("/hook", Answer(503, body=b"busy"), Answer(200, body=b"thanks"))
    hooks.publish(eventId="evt-dto-1")
    hooks.drain(until=lambda: len(hooks.receiver.at("/hook")) >= 1)
    [pending] = hooks.deliveries(webhook_id)
    assert {"id", "webhookId", "eventType", "payload", "status", "attempts", "responseStatus", "responseBody"} <= set(
        pending
    )
    assert (pending["id"], pending["status"], pending["attempts"]) == (pending["deliveryId"], "pending", 1)
    assert (pending["responseStatus"], pending["responseBody"]) == (503, "busy")
    assert pending["nextRetryAt"] == pending["nextAttemptAt"] and pending["nextRetryAt"]
    assert pending["deliveredAt"] is None
    hooks.drain()
    [delivered] = hooks.deliveries(webhook_id)
    [request] = hooks.receiver.at("/hook")[-1:]
    assert delivered["payload"] == json.loads(request.body)  # exactly what the receiver got
    assert (delivered["status"], delivered["responseStatus"], delivered["responseBody"]) == ("succeeded", 200, "thanks")
    assert delivered["deliveredAt"] and delivered["nextRetryAt"] is None
    detail = hooks.get(f"/webhooks/{webhook_id}/deliveries/{delivered['id']}").body
    assert detail["payload"] == delivered["payload"] and len(detail["attemptHistory"]) == 2

    # WebhookStatistics
    stats = hooks.stats(webhook_id)
    assert (stats["totalDeliveries"], stats["successfulDeliveries"], stats["failedDeliveries"]) == (1, 1, 0)
    assert stats["pendingDeliveries"] == 0 and stats["successRate"] == 1.0
    assert stats["averageResponseTime"] == stats["averageLatencyMs"] is not None
    assert stats["lastDeliveryAt"] == max(stats["lastSuccessAt"], stats["lastFailureAt"])

    # WebhookTestResult
    hooks.receiver.script("/hook", Answer(200, body=b"pong"))
    tested = invoke("webhooks", api_event("POST", f"/webhooks/{webhook_id}/test", caller=SERVICE)).body
    assert tested["success"] is True and tested["statusCode"] == 200 and tested["responseBody"] == "pong"
    assert tested["responseTime"] == tested["responseTimeMs"] > 0 and tested["timestamp"] == tested["testedAt"]

    # WebhookEventType
    [entry] = [e for e in hooks.get("/webhooks/events").body["items"] if e["name"] == "grade_updated"]
    assert {"name", "description", "schema", "example"} <= set(entry)


def test_active_and_is_active_saying_different_things_is_refused(hooks):
    body = {"url": hooks.receiver.url(), "events": ["grade_updated"], "active": True, "isActive": False}
    answer = invoke("webhooks", api_event("POST", "/webhooks", caller=SERVICE, body=body))
    assert answer.status == 422 and "active" in answer.body["detail"]
    assert hooks.get("/webhooks").body["items"] == []


# ---------------------------------------------------------------- the one Idempotency-Key policy
@pytest.mark.parametrize("key", ["short7!", "x" * 256, "with space", "ключ-ключ-ключ"])
def test_a_registration_key_outside_the_api_policy_is_422_and_stores_nothing(hooks, key):
    body = {"url": hooks.receiver.url("/hook"), "events": ["grade_updated"]}
    answer = invoke(
        "webhooks", api_event("POST", "/webhooks", caller=SERVICE, body=body, headers={"Idempotency-Key": key})
    )
    assert answer.status == 422, answer.body
    assert answer.body["errors"] == [{"field": "Idempotency-Key", "reason": "8 to 255 visible ASCII characters"}]
    listed = invoke("webhooks", api_event("GET", "/webhooks", caller=SERVICE))
    assert listed.body["items"] == []


def test_a_registration_key_the_payments_routes_take_is_taken_here_too(hooks):
    key = "k" * 255  # the longest key a payment change takes
    body = {"url": hooks.receiver.url("/hook"), "events": ["grade_updated"]}
    first, again = (
        invoke("webhooks", api_event("POST", "/webhooks", caller=SERVICE, body=body, headers={"Idempotency-Key": key}))
        for _ in range(2)
    )
    assert first.status == again.status == 201, (first.body, again.body)
    assert first.body["webhookId"] == again.body["webhookId"]
