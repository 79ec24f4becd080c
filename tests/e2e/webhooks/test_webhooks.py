"""Webhooks end to end through the local stack: owners register receivers over the API, events are
published with `POST /events`, fanned out, queued in the embedded SQS and delivered by the
dispatcher function (polled like Lambda's event source mapping) to a real HTTP receiver on
127.0.0.1. The session's stack has loopback receivers allowed and the retry schedule scaled down to
0, 1, 2 s apart with a 5 s queue visibility (tests/e2e/conftest.py)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from offline.testing import RunningStack
from tests.e2e.conftest import STACK_PARAMETERS
from tests.support.receiver import Answer, Received, Receiver

SCHEDULE = [int(s) for s in STACK_PARAMETERS["WebhookRetrySchedule"].split(",")]
VISIBILITY = int(STACK_PARAMETERS["WebhookQueueVisibilityTimeout"])
# How much later than its delay an attempt may come: the poll interval (0.2 s), the dispatcher's
# one-second batching window, and recording the previous attempt.
SLACK = 2.5


def started_course() -> dict[str, str]:
    return {"courseId": f"crs_{uuid.uuid4().hex[:12]}", "startedAt": "2025-03-03T18:00:00+00:00"}


def headers_of(request: Received) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def wait_for(predicate: Callable[[], Any], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


class Hooks:
    """One webhook owner (a service account of its own) and its receiver, as the API shows them."""

    def __init__(self, stack: RunningStack, api: str, receiver: Receiver, sub: str) -> None:
        self.stack, self.api, self.receiver, self.sub = stack, api, receiver, sub
        self.http = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {stack.token('service', sub)}"})
        self.registered: list[str] = []

    def register(self, path: str, events: tuple[str, ...] = ("course_started",), **extra: Any) -> dict[str, Any]:
        answer = self.http.post(
            f"{self.api}/webhooks", json={"url": self.receiver.url(path), "events": events, **extra}
        )
        assert answer.status_code == 201, answer.text
        self.registered.append(answer.json()["webhookId"])
        return answer.json()  # type: ignore[no-any-return]

    def publish(self, data: dict[str, Any], event_type: str = "course_started", **extra: Any) -> httpx.Response:
        return self.http.post(f"{self.api}/events", json={"eventType": event_type, "data": data, **extra})

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(f"{self.api}{path}", params=params)

    def deliveries(self, webhook_id: str) -> list[dict[str, Any]]:
        answer = self.get(f"/webhooks/{webhook_id}/deliveries")
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]  # type: ignore[no-any-return]

    def detail(self, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        return self.get(f"/webhooks/{webhook_id}/deliveries/{delivery_id}").json()  # type: ignore[no-any-return]

    def stats(self, webhook_id: str) -> dict[str, Any]:
        return self.get(f"/webhooks/{webhook_id}/statistics").json()  # type: ignore[no-any-return]

    def settled(self, webhook_id: str, count: int = 1, seconds: float = 15.0) -> list[dict[str, Any]]:
        """The webhook's deliveries once `count` of them are no longer pending."""

        def done() -> list[dict[str, Any]] | None:
            items = self.deliveries(webhook_id)
            return items if sum(d["status"] != "pending" for d in items) >= count else None

        items = wait_for(done, seconds)
        assert items, f"{count} deliveries of {webhook_id} still pending: {self.deliveries(webhook_id)}"
        return items  # type: ignore[no-any-return]

    def close(self) -> None:
        for webhook_id in self.registered:  # later events must not reach this test's receiver
            self.http.delete(f"{self.api}/webhooks/{webhook_id}")
        self.http.close()


@pytest.fixture
def hooks(local_stack: RunningStack, api_base: str) -> Iterator[Hooks]:
    with Receiver() as receiver:
        owner = Hooks(local_stack, api_base, receiver, f"svc_e2e{uuid.uuid4().hex[:8]}")
        try:
            yield owner
        finally:
            owner.close()


# ---------------------------------------------------------------- what a receiver gets
def test_a_delivered_event_verifies_with_standard_webhooks_and_the_legacy_header(hooks):
    created = hooks.register("/signed")
    data = started_course()
    published = hooks.publish(data, eventId=f"lms-{uuid.uuid4().hex}")
    assert published.status_code == 202 and published.json()["duplicate"] is False, published.text
    [request] = hooks.receiver.wait_for("/signed", 1)
    payload = json.loads(request.body)
    assert payload == {
        "webhookId": created["webhookId"],
        "eventId": published.json()["eventId"],
        "eventType": "course_started",
        "timestamp": payload["timestamp"],
        "data": data,
    }
    headers = headers_of(request)
    assert StandardWebhook(created["secret"]).verify(request.body, headers) == payload
    legacy = hmac.new(created["secret"].encode(), request.body, hashlib.sha256).hexdigest()
    assert headers["x-webhook-signature"] == f"sha256={legacy}"
    [delivery] = hooks.settled(created["webhookId"])
    assert (delivery["deliveryId"], delivery["status"], delivery["attempts"]) == (headers["webhook-id"], "succeeded", 1)
    # The service's own verify endpoint agrees on both schemes, and a changed byte is a bad signature.
    forwarded = {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    verify = f"/webhooks/{created['webhookId']}/verify"
    answer = hooks.http.post(f"{hooks.api}{verify}", json={"payload": request.body.decode(), "headers": forwarded})
    assert answer.json() == {"valid": True, "scheme": "standard-webhooks", "reason": None}
    legacy_only = {"payload": request.body.decode(), "signature": headers["x-webhook-signature"]}
    assert hooks.http.post(f"{hooks.api}{verify}", json=legacy_only).json()["valid"] is True
    tampered = {"payload": request.body.decode().replace("crs_", "crs_x"), "headers": forwarded}
    assert hooks.http.post(f"{hooks.api}{verify}", json=tampered).json()["reason"] == "bad_signature"


# ---------------------------------------------------------------- retries, DLQ, 410, Retry-After, redirects
def test_a_receiver_failing_twice_then_succeeding_gets_three_attempts_at_the_schedules_delays(hooks):
    created = hooks.register("/flaky")
    hooks.receiver.script("/flaky", Answer(500), Answer(502))
    assert hooks.publish(started_course()).status_code == 202
    requests = hooks.receiver.wait_for("/flaky", 3)
    assert len(requests) == 3
    assert len({headers_of(r)["webhook-id"] for r in requests}) == 1  # one delivery, stable id
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    for gap, delay in zip(gaps, SCHEDULE[1:3], strict=True):
        assert delay - 0.1 <= gap <= delay + SLACK, (gaps, SCHEDULE)
    [delivery] = hooks.settled(created["webhookId"])
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 3)
    attempts = hooks.detail(created["webhookId"], delivery["deliveryId"])["attemptHistory"]
    assert [(a["statusCode"], a["success"], a["errorClass"]) for a in attempts] == [
        (500, False, "http"),
        (502, False, "http"),
        (200, True, None),
    ]
    stats = hooks.stats(created["webhookId"])
    assert (stats["total"], stats["succeeded"], stats["failed"], stats["pending"]) == (1, 1, 0, 0)
    assert stats["consecutiveFailures"] == 0 and stats["successRate"] == 1.0


def test_always_failing_ends_failed_in_the_dlq_then_a_retry_delivers_it(hooks, local_stack):
    created = hooks.register("/down")
    webhook_id = created["webhookId"]
    hooks.receiver.script("/down", *[Answer(500, body=b"down for maintenance")] * len(SCHEDULE))
    assert hooks.publish(started_course()).status_code == 202
    [delivery] = hooks.settled(webhook_id, seconds=sum(SCHEDULE) + len(SCHEDULE) * SLACK)
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("failed", len(SCHEDULE), 500)
    assert len(hooks.receiver.at("/down")) == len(SCHEDULE)
    attempts = hooks.detail(webhook_id, delivery["deliveryId"])["attemptHistory"]
    assert [a["responseBody"] for a in attempts] == ["down for maintenance"] * len(SCHEDULE)

    sqs = local_stack.client("sqs")
    dlq = local_stack.state["resources"]["WebhookDeadLetterQueue"]["ref"]

    def dead_letter() -> dict[str, Any] | None:
        for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            if json.loads(message["Body"])["deliveryId"] == delivery["deliveryId"]:
                return message  # type: ignore[no-any-return]
        return None

    message = wait_for(dead_letter, 5)
    assert message, "the failed delivery's message is not in the DLQ"
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    stats = hooks.stats(webhook_id)
    assert (stats["failed"], stats["pending"], stats["consecutiveFailures"]) == (1, 0, len(SCHEDULE))

    retry = f"{hooks.api}/webhooks/{webhook_id}/deliveries/{delivery['deliveryId']}/retry"
    assert hooks.http.post(retry).status_code == 202
    assert hooks.http.post(retry).status_code == 409  # pending again, not failed
    delivered = hooks.receiver.wait_for("/down", len(SCHEDULE) + 1)
    assert headers_of(delivered[-1])["webhook-id"] == delivery["deliveryId"]
    [delivery] = hooks.settled(webhook_id)
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", len(SCHEDULE) + 1)
    stats = hooks.stats(webhook_id)
    assert (stats["succeeded"], stats["failed"], stats["pending"], stats["failingSince"]) == (1, 0, 0, None)


def test_a_410_disables_the_webhook_until_its_owner_enables_it_again(hooks):
    created = hooks.register("/gone")
    webhook_id = created["webhookId"]
    hooks.receiver.script("/gone", Answer(410))
    assert hooks.publish(started_course()).status_code == 202
    [delivery] = hooks.settled(webhook_id)
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("failed", 1, 410)
    # Disabled right after the attempt is recorded.
    webhook = wait_for(lambda: (w := hooks.get(f"/webhooks/{webhook_id}").json())["isActive"] is False and w, 5)
    assert webhook, hooks.get(f"/webhooks/{webhook_id}").json()
    assert "410" in webhook["disabledReason"]
    # Disabled: the next event is not fanned out to it at all (fan-out happens within POST /events).
    assert hooks.publish(started_course()).status_code == 202
    assert len(hooks.deliveries(webhook_id)) == 1
    enabled = hooks.http.patch(f"{hooks.api}/webhooks/{webhook_id}", json={"isActive": True})
    assert enabled.status_code == 200 and enabled.json()["isActive"] is True
    assert enabled.json().get("disabledReason") is None
    assert hooks.publish(started_course()).status_code == 202
    assert len(hooks.receiver.wait_for("/gone", 2)) == 2
    assert sorted(d["status"] for d in hooks.settled(webhook_id, 2)) == ["failed", "succeeded"]


def test_retry_after_is_honoured_over_a_shorter_schedule(hooks):
    created = hooks.register("/busy")
    wait = SCHEDULE[1] + 2
    hooks.receiver.script("/busy", Answer(429, headers={"Retry-After": str(wait)}))
    assert hooks.publish(started_course()).status_code == 202
    first, second = hooks.receiver.wait_for("/busy", 2, timeout=wait + 10)
    assert wait - 0.1 <= second.at - first.at <= wait + SLACK
    [delivery] = hooks.settled(created["webhookId"])
    attempts = hooks.detail(created["webhookId"], delivery["deliveryId"])["attemptHistory"]
    assert [a["statusCode"] for a in attempts] == [429, 200]


def test_a_redirect_is_not_followed(hooks):
    created = hooks.register("/moved")
    moved = Answer(302, headers={"Location": hooks.receiver.url("/elsewhere")})
    hooks.receiver.script("/moved", *[moved] * (len(SCHEDULE) + 1))
    assert hooks.publish(started_course()).status_code == 202
    hooks.receiver.wait_for("/moved", 1)
    [delivery] = wait_for(lambda: [d for d in hooks.deliveries(created["webhookId"]) if d["attempts"] >= 1])
    assert delivery["lastStatusCode"] == 302 and "redirects are not followed" in delivery["lastError"]
    tested = hooks.http.post(f"{hooks.api}/webhooks/{created['webhookId']}/test").json()
    assert (tested["success"], tested["statusCode"], tested["errorClass"]) == (False, 302, "http")
    assert hooks.receiver.at("/elsewhere") == []


# ---------------------------------------------------------------- crashes and the outbox
def _children(pid: int) -> list[int]:
    """Every process started by `pid`, directly or not."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _sender_of(stack: RunningStack, receiver_port: int, sender_port: int) -> int | None:
    """The process of the stack that holds the TCP connection sender_port -> receiver_port."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
        if (local, remote) == (sender_port, receiver_port):
            inodes.add(f"socket:[{fields[9]}]")
    for pid in _children(stack.process.pid):
        try:
            if any(os.readlink(fd) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir()):
                return pid
        except OSError:
            continue
    return None


def _function_of(pid: int) -> str:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return next((v.split(b"=", 1)[1].decode() for v in environ if v.startswith(b"AWS_LAMBDA_FUNCTION_NAME=")), "")


def test_a_dispatcher_killed_mid_batch_still_delivers_everything_and_records_each_success_once(hooks, local_stack):
    count = 6
    webhooks = [hooks.register("/crash")["webhookId"] for _ in range(count)]
    release = threading.Event()
    # Two receivers answer at once, the others hold their request until the dispatcher is killed:
    # the held deliveries cannot have been recorded, the two quick ones may have been (each outcome
    # is recorded as it arrives), and the batch was never acknowledged.
    hooks.receiver.script("/crash", Answer(200), Answer(200), *[Answer(hold=release) for _ in range(count - 2)])
    published_at = time.time()
    assert hooks.publish(started_course()).status_code == 202  # one event, six deliveries, one batch
    try:
        first = hooks.receiver.wait_for("/crash", count, timeout=10)
        assert len(first) == count
        held = {headers_of(r)["webhook-id"] for r in first[2:]}
        worker = _sender_of(local_stack, hooks.receiver.port, first[-1].peer_port)
        assert (
            worker is not None
            and _function_of(worker) == local_stack.state["functions"]["WebhookDispatcherFunction"]["name"]
        )
        os.kill(worker, signal.SIGKILL)
    finally:
        release.set()
    # SQS shows the batch again once the visibility timeout has passed since it was received, which
    # was after the event was published; what was recorded is not sent again.
    delivered = hooks.receiver.wait_for("/crash", count + len(held), timeout=VISIBILITY + 15)
    assert delivered[count].at - published_at >= VISIBILITY
    settled = {webhook_id: hooks.settled(webhook_id)[0] for webhook_id in webhooks}
    # A delivery is recorded after its receiver answered, so once all are settled every send has
    # arrived (a quick one that was not recorded before the kill is sent again too).
    received = hooks.receiver.at("/crash")
    for webhook_id, delivery in settled.items():
        sent = [r for r in received if headers_of(r)["webhook-id"] == delivery["deliveryId"]]
        # The killed attempt and the one that was recorded share a webhook-id; a quick one recorded
        # before the kill is not sent again.
        assert len(sent) in ((2,) if delivery["deliveryId"] in held else (1, 2)), sent
        assert (delivery["status"], delivery["attempts"]) == ("succeeded", 1)
        attempts = hooks.detail(webhook_id, delivery["deliveryId"])["attemptHistory"]
        assert [(a["attempt"], a["success"]) for a in attempts] == [(1, True)]
        stats = hooks.stats(webhook_id)
        assert (stats["total"], stats["succeeded"], stats["failed"], stats["pending"]) == (1, 1, 0, 0)
    # Nothing is left to arrive: once the queue holds no message (visible, in flight or delayed),
    # every one was acknowledged, and nothing was sent a third time.
    assert wait_for(lambda: queue_is_empty(local_stack), VISIBILITY + 15), "messages are still queued"
    final = hooks.receiver.at("/crash")
    assert count + len(held) <= len(final) <= 2 * count
    assert all(
        sum(headers_of(r)["webhook-id"] == i for r in final) <= 2 for i in {headers_of(r)["webhook-id"] for r in final}
    )


def queue_is_empty(stack: RunningStack) -> bool:
    """The delivery queue holds nothing, read twice 0.2 s apart: a message the event source mapping
    receives while the counts are being read could be missed by one reading, not by the next (it
    stays in flight at least for the batching window)."""
    sqs, queue = stack.client("sqs"), stack.state["resources"]["WebhookQueue"]["ref"]
    counts = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    for reading in range(2):
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=counts)["Attributes"]
        if any(int(attributes[name]) for name in counts):
            return False
        if reading == 0:
            time.sleep(0.2)
    return True


def test_the_sweeper_recovers_an_event_stranded_between_recording_and_enqueueing(hooks, local_stack):
    from integration_core import timeutil
    from integration_core.adapters.dynamodb import from_item, to_item
    from integration_core.services.events import event_item

    created = hooks.register("/swept")
    table = local_stack.state["resources"]["AppTable"]["ref"]
    dynamodb = local_stack.client("dynamodb")
    # What a publisher leaves when it dies right after its transaction: the event in the outbox,
    # no delivery, nothing queued. Recorded five minutes ago, so past the sweeper's grace period.
    event_id = f"lms-stranded-{uuid.uuid4().hex}"
    recorded = timeutil.iso_utc(datetime.now(UTC) - timedelta(minutes=5))
    stranded = event_item(
        event_id, "course_started", started_course(), recorded, "e2e: died before enqueueing", outbox=True
    )
    dynamodb.put_item(TableName=table, Item=to_item(stranded))
    # The template runs the sweeper every minute (SweepOutbox, rate(1 minute)); a one-off schedule
    # with the same input makes the embedded scheduler run it now.
    maintenance = local_stack.state["functions"]["WebhookMaintenanceFunction"]["arn"]
    local_stack.client("scheduler").create_schedule(
        Name=f"e2e-sweep-{uuid.uuid4().hex[:8]}",
        ScheduleExpression=f"at({(datetime.now(UTC) + timedelta(seconds=2)):%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": maintenance,
            "RoleArn": "arn:aws:iam::123456789012:role/e2e-scheduler",
            "Input": json.dumps({"task": "sweep"}),
        },
        ActionAfterCompletion="DELETE",
    )
    [request] = hooks.receiver.wait_for("/swept", 1, timeout=15)
    assert json.loads(request.body)["eventId"] == event_id
    [delivery] = hooks.settled(created["webhookId"])
    assert (delivery["eventId"], delivery["status"]) == (event_id, "succeeded")
    key = {"PK": {"S": f"EVENT#{event_id}"}, "SK": {"S": "EVENT"}}
    event = from_item(dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"])
    # One delivery per webhook subscribed to the type (the session's stack may hold other tests' too).
    subscribers = dynamodb.query(
        TableName=table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "SUBS#course_started"}},
        Select="COUNT",
    )["Count"]
    assert subscribers >= 1
    # Out of the outbox, with its deliveries counted.
    assert "GSI1PK" not in event and event["dispatched_at"] and event["delivery_count"] == subscribers


def test_the_same_event_id_published_twice_fans_out_once(hooks):
    created = hooks.register("/once")
    data = started_course()
    event_id = f"lms-{uuid.uuid4().hex}"
    first, again = hooks.publish(data, eventId=event_id), hooks.publish(data, eventId=event_id)
    assert (first.status_code, first.json()["duplicate"]) == (202, False)
    assert (again.status_code, again.json()["duplicate"], again.json()["eventId"]) == (202, True, event_id)
    assert hooks.publish({**data, "teacherId": "tch_other"}, eventId=event_id).status_code == 409
    racing_id, racing = f"lms-{uuid.uuid4().hex}", started_course()
    with ThreadPoolExecutor(2) as pool:
        raced = list(pool.map(lambda _: hooks.publish(racing, eventId=racing_id), range(2)))
    assert sorted(r.json()["duplicate"] for r in raced) == [False, True]
    deliveries = hooks.settled(created["webhookId"], 2)
    assert sorted(d["eventId"] for d in deliveries) == sorted([event_id, racing_id])
    assert {d["status"] for d in deliveries} == {"succeeded"}
    received = [json.loads(r.body)["eventId"] for r in hooks.receiver.at("/once")]
    assert sorted(received) == sorted([event_id, racing_id])


# ---------------------------------------------------------------- ownership, SSRF, bad input
def test_a_user_cannot_see_or_change_another_users_webhook(hooks, local_stack, api_base, role_tokens):
    created = hooks.register("/mine")
    webhook_id = created["webhookId"]
    other = httpx.Client(
        timeout=30, headers={"Authorization": f"Bearer {local_stack.token('service', 'svc_e2eintruder')}"}
    )
    base = f"{api_base}/webhooks"
    with other:
        refused = [
            other.get(f"{base}/{hooks.sub}"),
            other.get(f"{base}/{webhook_id}"),
            other.get(f"{base}/{webhook_id}/deliveries"),
            other.get(f"{base}/{webhook_id}/statistics"),
            other.patch(f"{base}/{webhook_id}", json={"url": "http://127.0.0.1:9/stolen", "isActive": False}),
            other.delete(f"{base}/{webhook_id}"),
            other.post(f"{base}/{webhook_id}/test"),
            other.post(f"{base}/{webhook_id}/rotate-secret"),
            other.post(f"{base}/{webhook_id}/replay", json={"since": "2025-01-01T00:00:00Z"}),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
        verify = other.post(f"{base}/{webhook_id}/verify", json={"payload": "{}", "signature": "sha256=00"})
        assert verify.json() == {"valid": False, "scheme": None, "reason": "unknown_webhook"}
        assert other.get(base).json()["items"] == []
    admin = httpx.get(f"{base}/{webhook_id}", headers={"Authorization": f"Bearer {role_tokens['admin']}"})
    assert admin.status_code == 200 and admin.json()["userId"] == hooks.sub
    mine = hooks.get(f"/webhooks/{webhook_id}").json()
    assert (mine["url"], mine["isActive"], mine.get("secretRotatedAt")) == (created["url"], True, None)
    assert hooks.receiver.at("/mine") == []  # the refused test sent nothing
    student = httpx.post(
        base,
        json={"url": hooks.receiver.url("/student"), "events": ["course_started"]},
        headers={"Authorization": f"Bearer {role_tokens['student']}"},
    )
    assert student.status_code == 403


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://169.254.169.254/latest/meta-data/iam/", "link_local"),
        ("https://10.1.2.3/hook", "private"),
        ("https://100.64.0.1/hook", "cgnat"),
        ("https://224.0.0.251/hook", "multicast"),
        ("https://2130706433/hook", "numeric_host_encoding"),
        ("https://0x7f.0.0.1/hook", "numeric_host_encoding"),
        ("https://[::ffff:169.254.169.254]/hook", "ipv4_mapped"),
        ("https://user:secret@127.0.0.1/hook", "credentials_in_url"),
        ("http://93.184.216.34/hook", "scheme_not_https"),
        ("ftp://127.0.0.1/hook", "scheme_not_https"),
    ],
)
def test_unsafe_urls_are_refused_at_registration(hooks, url, code):
    answer = hooks.http.post(f"{hooks.api}/webhooks", json={"url": url, "events": ["course_started"]})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    [error] = answer.json()["errors"]
    assert (error["field"], error["code"]) == ("url", code)
    assert hooks.get("/webhooks").json()["items"] == []


def test_an_unsafe_url_is_refused_at_update_and_the_webhook_keeps_its_url(hooks):
    created = hooks.register("/kept")
    answer = hooks.http.patch(
        f"{hooks.api}/webhooks/{created['webhookId']}", json={"url": "https://169.254.169.254/latest/"}
    )
    assert answer.status_code == 422 and answer.json()["errors"][0]["code"] == "link_local"
    assert hooks.get(f"/webhooks/{created['webhookId']}").json()["url"] == created["url"]


def test_bad_input_is_a_clear_4xx_and_nothing_is_stored(hooks, local_stack, role_tokens):
    url = f"{hooks.api}/webhooks"
    bad_registrations = [
        ({"url": hooks.receiver.url("/bad"), "events": ["course_exploded"]}, "events[0]"),
        ({"url": "not a url at all", "events": ["course_started"]}, "url"),
        ({"events": ["course_started"]}, "url"),
        ({"url": hooks.receiver.url("/bad"), "events": []}, "events"),
    ]
    for body, field in bad_registrations:
        answer = hooks.http.post(url, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["errors"][0]["field"] == field, (body, answer.json())
    malformed = hooks.http.post(url, content=b'{"url": ', headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert hooks.get("/webhooks").json()["items"] == []

    created = hooks.register("/bad", events=("payment_completed", "course_started", "grade_updated"))
    event_ids = [f"lms-bad-{uuid.uuid4().hex[:8]}-{n}" for n in range(4)]
    unknown = hooks.publish(started_course(), event_type="course_exploded", eventId=event_ids[0])
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "eventType"
    grade = {"studentId": "stu_1", "courseId": "crs_1", "updatedAt": "2025-04-10T16:00:00Z"}
    missing = hooks.publish(grade, event_type="grade_updated", eventId=event_ids[1])
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "data.grade", missing.text
    # A payment that does not exist cannot be announced: payments publishes payment_completed itself.
    payment = {"paymentId": "pay_1", "studentId": "stu_1", "amount": "1.00", "currency": "EUR"}
    forged = hooks.publish(
        {**payment, "completedAt": "2025-03-01T10:15:00Z"}, event_type="payment_completed", eventId=event_ids[3]
    )
    assert forged.status_code == 422 and forged.json()["errors"][0]["code"] == "not_announceable", forged.text
    wrong_type = hooks.publish({"courseId": 42, "startedAt": "2025-03-03T18:00:00Z"}, eventId=event_ids[2])
    assert wrong_type.status_code == 422 and wrong_type.json()["errors"][0]["field"].startswith("data.courseId")
    reserved = hooks.publish({"message": "hi", "webhookId": created["webhookId"]}, event_type="webhook.test")
    assert reserved.status_code == 422
    student = httpx.post(
        f"{hooks.api}/events",
        json={"eventType": "course_started", "data": started_course()},
        headers={"Authorization": f"Bearer {role_tokens['student']}"},
    )
    assert student.status_code == 403
    table = local_stack.state["resources"]["AppTable"]["ref"]
    dynamodb = local_stack.client("dynamodb")
    for event_id in event_ids:
        key = {"PK": {"S": f"EVENT#{event_id}"}, "SK": {"S": "EVENT"}}
        assert "Item" not in dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
    assert hooks.deliveries(created["webhookId"]) == []
    assert hooks.receiver.at("/bad") == []
