"""Crash injection: each event consumer's worker process is SIGKILLed at each interesting point of
a batch (offline/_worker.py `CrashPoints`: before the provider or receiver call, after it and
before the record, after the record and before the acknowledgement), and once the system has
settled (the batch comes back after the queue's visibility timeout, a provider sends its callback
again, the sweeper's next run) nothing was lost and nothing happened twice beyond at-least-once
delivery: a receiver may get a `webhook-id` twice, never two ids for one event, and every record
(attempts, statistics, ledger, enrollments, provider objects) is there once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.faults.conftest import VISIBILITY, Caller, wait_for
from tests.support.receiver import Receiver

SETTLE = 4 * VISIBILITY + 20  # seconds: a batch killed once comes back after the visibility timeout


def headers_of(request: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def ids_sent(receiver: Receiver, path: str) -> list[str]:
    return [headers_of(r)["webhook-id"] for r in receiver.at(path)]


@pytest.fixture
def owner(crash_stack, api):
    stack, _ = crash_stack
    caller = Caller(api, stack.token("service", f"svc_crash{uuid.uuid4().hex[:8]}"))
    with Receiver() as receiver:
        caller.receiver = receiver  # type: ignore[attr-defined]
        caller.hooks = []  # type: ignore[attr-defined]
        yield caller
        for hook in caller.hooks:  # type: ignore[attr-defined]
            caller.delete(f"/webhooks/{hook}")


def register(owner: Caller, path: str, *events: str) -> str:
    answer = owner.post("/webhooks", {"url": owner.receiver.url(path), "events": list(events)})  # type: ignore[attr-defined]
    assert answer.status_code == 201, answer.text
    owner.hooks.append(answer.json()["webhookId"])  # type: ignore[attr-defined]
    return answer.json()["webhookId"]  # type: ignore[no-any-return]


def settled_deliveries(owner: Caller, webhook_id: str) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        items = owner.get(f"/webhooks/{webhook_id}/deliveries").json()["items"]
        return items if items and all(d["status"] != "pending" for d in items) else None

    items = wait_for(done, SETTLE)
    assert items, f"deliveries of {webhook_id} not settled: {owner.get(f'/webhooks/{webhook_id}/deliveries').text}"
    return items  # type: ignore[no-any-return]


def assert_heard_once(owner: Caller, path: str, webhook_id: str, event_type: str) -> dict[str, Any]:
    """The webhook's one delivery succeeded with one recorded attempt, statistics to match, and its
    receiver got it under one webhook-id (twice at most: sent, killed before the record, sent again)."""
    [delivery] = settled_deliveries(owner, webhook_id)
    assert (delivery["status"], delivery["attempts"], delivery["eventType"]) == ("succeeded", 1, event_type)
    detail = owner.get(f"/webhooks/{webhook_id}/deliveries/{delivery['deliveryId']}").json()
    assert [(a["attempt"], a["success"]) for a in detail["attemptHistory"]] == [(1, True)]
    stats = owner.get(f"/webhooks/{webhook_id}/statistics").json()
    assert (stats["total"], stats["succeeded"], stats["failed"], stats["pending"]) == (1, 1, 0, 0)
    sent = [i for i in ids_sent(owner.receiver, path) if i == delivery["deliveryId"]]  # type: ignore[attr-defined]
    assert 1 <= len(sent) <= 2, sent
    return delivery  # type: ignore[no-any-return]


# ------------------------------------------------------------------ the webhook dispatcher
DISPATCHER_POINTS = ["before:http", "after:http", "after:aws:dynamodb:TransactWriteItems", "return"]


@pytest.mark.parametrize("point", DISPATCHER_POINTS)
def test_the_dispatcher_killed_at_each_point_delivers_each_event_once_per_webhook(point, crash, owner):
    path = f"/dispatch-{uuid.uuid4().hex[:6]}"
    hooks = [register(owner, path, "course_started") for _ in range(3)]
    event_id = f"lms-crash-{uuid.uuid4().hex}"
    crash.arm("WebhookDispatcherFunction", point, event_id)
    data = {"courseId": f"crs_{uuid.uuid4().hex[:12]}", "startedAt": "2025-03-03T18:00:00+00:00"}
    assert owner.post("/events", {"eventType": "course_started", "data": data, "eventId": event_id}).status_code == 202
    assert crash.fired(), "the dispatcher never reached the crash point"
    deliveries = [assert_heard_once(owner, path, hook, "course_started") for hook in hooks]
    assert {d["eventId"] for d in deliveries} == {event_id}
    assert wait_for(lambda: crash.queue_empty("WebhookQueue"), SETTLE), "deliveries are still queued"
    assert crash.queue_empty("WebhookDeadLetterQueue")
    # Three deliveries, three webhook-ids, each sent once or twice; nothing arrives later.
    sent = ids_sent(owner.receiver, path)  # type: ignore[attr-defined]
    assert set(sent) == {d["deliveryId"] for d in deliveries}
    if point == "before:http":
        assert len(sent) == 3  # killed before anything was sent: each sent once, after the comeback


# ------------------------------------------------------------------ the outbox sweeper
SWEEPER_POINTS = [
    "before:aws:sqs:SendMessageBatch",
    "after:aws:sqs:SendMessageBatch",
    "after:aws:events:PutEvents",
    "return",
]


@pytest.mark.parametrize("point", SWEEPER_POINTS)
def test_the_sweeper_killed_at_each_point_dispatches_the_stranded_event_once(point, crash, owner, crash_stack):
    from integration_core import timeutil
    from integration_core.adapters.dynamodb import to_item
    from integration_core.services.events import event_item

    stack, _ = crash_stack
    path = f"/swept-{uuid.uuid4().hex[:6]}"
    hook = register(owner, path, "course_started")
    event_id = f"lms-stranded-{uuid.uuid4().hex}"
    data = {"courseId": f"crs_{uuid.uuid4().hex[:12]}", "startedAt": "2025-03-03T18:00:00+00:00"}
    # What a publisher leaves when it dies right after its transaction: the event in the outbox only.
    recorded = timeutil.iso_utc(datetime.now(UTC) - timedelta(minutes=5))
    item = event_item(event_id, "course_started", data, recorded, "crash test: died before enqueueing", outbox=True)
    table = stack.state["resources"]["AppTable"]["ref"]
    # The sweeper reads the whole outbox: the plan's match is what every sweep's input has.
    crash.arm("WebhookMaintenanceFunction", point, "sweep")
    stack.client("dynamodb").put_item(TableName=table, Item=to_item(item))
    crash.sweep()
    assert crash.fired(), "the sweeper never reached the crash point"
    crash.disarm()
    crash.sweep()  # its next run (every minute in the template)
    assert_heard_once(owner, path, hook, "course_started")
    assert wait_for(lambda: _out_of_outbox(stack, event_id), SETTLE), "the event is still in the outbox"
    assert wait_for(lambda: crash.queue_empty("WebhookQueue"), SETTLE)
    assert len(set(ids_sent(owner.receiver, path))) == 1  # type: ignore[attr-defined]


def _out_of_outbox(stack: Any, event_id: str) -> bool:
    from integration_core.adapters.dynamodb import from_item

    table = stack.state["resources"]["AppTable"]["ref"]
    key = {"PK": {"S": f"EVENT#{event_id}"}, "SK": {"S": "EVENT"}}
    event = from_item(stack.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)["Item"])
    return "GSI1PK" not in event and bool(event.get("dispatched_at")) and event.get("delivery_count") == 1
