"""Publishing domain events: the outbox and the fan-out to webhooks.

A publisher records an event in its own transaction (`event_operations`), then calls `dispatch`
once that transaction has committed; `publish` does both for simple publishers. Dispatch creates
one delivery per active subscribed webhook (ids derived from event and webhook, so a repeat is a
no-op), enqueues them on SQS in batches and only then takes the event out of the outbox. If the
process dies in between, the scheduled `sweep` finds the event still in the outbox and dispatches
it again: no recorded event is lost, and duplicates collapse in the dispatcher.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from integration_core import idempotency_keys, keys, timeutil
from integration_core.adapters import sqs
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings
from integration_core.domain.events import TEST_EVENT, validate_data
from integration_core.domain.events import event_type as catalog_entry
from integration_core.domain.webhooks import DeliveryStatus
from integration_core.errors import Conflict, Unprocessable, field_error, invalid
from integration_core.ids import new_id, stable_id
from integration_core.observability import logger
from integration_core.principal import Principal, Role
from integration_core.webhook_config import webhook_settings

TRANSACTION_LIMIT = 100


@dataclass
class FanOutReport:
    """What one dispatch did, for logs and the benchmark."""

    events: int = 0
    deliveries: int = 0
    sqs_calls: int = 0
    dynamodb_calls: dict[str, int] = field(default_factory=dict)

    def count(self, operation: str, calls: int = 1) -> None:
        self.dynamodb_calls[operation] = self.dynamodb_calls.get(operation, 0) + calls


def _db() -> Table:
    return table(settings().table_name)


def event_operations(
    db: Table, event_type: str, data: dict, *, event_id: str | None = None, cause: str | None = None
) -> tuple[str, list[dict]]:
    """Validate `data` against the catalog and return the event id and the operations that record
    it in the outbox (conditional on the id being new), for the caller's TransactWriteItems."""
    if event_type == TEST_EVENT:
        raise invalid("eventType", f"{TEST_EVENT} is sent by the test endpoint only")
    validate_data(event_type, data)
    event_id = event_id or new_id("event")
    now = timeutil.iso_utc(timeutil.utc_now())
    return event_id, [
        db.put_op(event_item(event_id, event_type, data, now, cause, outbox=True), "attribute_not_exists(PK)")
    ]


def event_item(
    event_id: str, event_type: str, data: dict, created_at: str, cause: str | None, *, outbox: bool
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": keys.event_pk(event_id),
        "SK": keys.EVENT,
        "kind": "event",
        "event_id": event_id,
        "event_type": event_type,
        # JSON text keeps the data exactly as published (floats, nesting) without DynamoDB's number rules.
        "data_json": json.dumps(data, separators=(",", ":"), ensure_ascii=False),
        "cause": cause,
        "created_at": created_at,
    }
    if outbox:
        item |= {"GSI1PK": keys.OUTBOX, "GSI1SK": f"{created_at}#{event_id}"}
    return item


def publish_event(
    event_type: str, data: dict, *, event_id: str | None = None, cause: str | None = None
) -> tuple[str, bool]:
    """(event id, whether that id had been published before). A repeat with other content is a 409."""
    db = _db()
    event_id, operations = event_operations(db, event_type, data, event_id=event_id, cause=cause)
    duplicate = False
    try:
        db.transact(operations)
    except ConditionFailed:
        existing = db.get(keys.event_pk(event_id), keys.EVENT, consistent=True) or {}
        if existing.get("event_type") != event_type or json.loads(existing.get("data_json", "null")) != data:
            raise Conflict(f"event id {event_id} was already used for a different event") from None
        duplicate = True
    # A repeat dispatches again too: if the first publisher died before fanning out, this finishes it.
    dispatch([event_id])
    return event_id, duplicate


def announce(
    principal: Principal,
    event_type: str,
    data: dict,
    *,
    event_id: str | None = None,
    idempotency_key: str | None = None,
    cause: str | None = None,
) -> tuple[str, bool]:
    """`POST /events`: another system of the center announces a fact this service does not own.
    A type owned by one of this service's capabilities is refused whoever asks (422 naming
    eventType): only that capability publishes it, with the change it reports, so an event of it
    never goes out for a payment or an enrollment that was not recorded. Admins and services only;
    without an eventId, an Idempotency-Key names the event, so a repeat publishes nothing new."""
    principal.require(Role.ADMIN, Role.SERVICE)
    key = idempotency_keys.checked(idempotency_key)
    if event_id is None and key is not None:
        event_id = stable_id("event", principal.sub, key)
    cause = cause or f"published by {principal.role.value} {principal.sub}"
    entry = catalog_entry(event_type)
    if not entry.announceable:
        reason = (
            f"{event_type} is published only by this service's {entry.published_by} capability; "
            "POST /events takes the types marked publishedBy: external"
        )
        raise Unprocessable(
            f"eventType: {reason}", errors=[{**field_error("eventType", reason), "code": "not_announceable"}]
        )
    return publish_event(event_type, data, event_id=event_id, cause=cause)


def publish(event_type: str, data: dict, *, event_id: str | None = None, cause: str | None = None) -> str:
    return publish_event(event_type, data, event_id=event_id, cause=cause)[0]


def subscriber_ids(db: Table, event_type: str, report: FanOutReport | None = None) -> list[str]:
    found: list[str] = []
    after: dict[str, Any] | None = None
    while True:
        page = db.query(keys.subscriptions_pk(event_type), limit=100, after=after)
        if report:
            report.count("Query")
        found += [item["webhook_id"] for item in page.items]
        after = page.last_key
        if not after:
            return found


def delivery_id_for(event_id: str, webhook_id: str) -> str:
    return stable_id("delivery", event_id, webhook_id)


def delivery_item(delivery_id: str, webhook_id: str, event: dict[str, Any], now: str) -> dict[str, Any]:
    return {
        "PK": keys.delivery_pk(delivery_id),
        "SK": keys.DELIVERY,
        "GSI1PK": keys.deliveries_pk(webhook_id),
        "GSI1SK": f"{now}#{delivery_id}",
        "kind": "delivery",
        "delivery_id": delivery_id,
        "webhook_id": webhook_id,
        "event_id": event["event_id"],
        "event_type": event["event_type"],
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "series_start": 0,
        "created_at": now,
        "updated_at": now,
    }


def payload(webhook_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """What a receiver gets as the body of a delivery of `event` (the same on every attempt)."""
    return {
        "webhookId": webhook_id,
        "eventId": event["event_id"],
        "eventType": event["event_type"],
        "timestamp": event["created_at"],
        "data": json.loads(event["data_json"]),
    }


def queue_message(delivery_id: str, webhook_id: str, event_id: str) -> dict[str, str]:
    return {"deliveryId": delivery_id, "webhookId": webhook_id, "eventId": event_id}


def _create_deliveries(db: Table, items: list[dict[str, Any]], report: FanOutReport) -> None:
    """Conditional puts, 100 per transaction; a chunk that meets an existing delivery (a repeated
    dispatch) is written item by item so the existing ones keep their state."""
    for start in range(0, len(items), TRANSACTION_LIMIT):
        chunk = items[start : start + TRANSACTION_LIMIT]
        try:
            token = stable_id("delivery", *(item["delivery_id"] for item in chunk))
            db.transact([db.put_op(item, "attribute_not_exists(PK)") for item in chunk], token=token)
            report.count("TransactWriteItems")
        except ConditionFailed:
            report.count("TransactWriteItems")
            for item in chunk:
                with contextlib.suppress(ConditionFailed):  # it exists: keep its state
                    db.put(item, "attribute_not_exists(PK)")
                report.count("PutItem")


def fan_out(event_ids: list[str]) -> FanOutReport:
    db = _db()
    config = webhook_settings()
    report = FanOutReport()
    unique = list(dict.fromkeys(event_ids))
    for start in range(0, len(unique), 100):
        events = db.batch_get([(keys.event_pk(e), keys.EVENT) for e in unique[start : start + 100]])
        report.count("BatchGetItem")
        for event in events:
            if "GSI1PK" not in event:
                continue  # already fanned out
            now = timeutil.iso_utc(timeutil.utc_now())
            webhook_ids = subscriber_ids(db, event["event_type"], report)
            deliveries = [delivery_item(delivery_id_for(event["event_id"], w), w, event, now) for w in webhook_ids]
            _create_deliveries(db, deliveries, report)
            messages = [
                sqs.Outgoing(
                    d["delivery_id"],
                    queue_message(d["delivery_id"], d["webhook_id"], d["event_id"]),
                    config.retry_schedule[0],
                )
                for d in deliveries
            ]
            if messages:
                report.sqs_calls += sqs.send_batch(config.queue_url, messages)
            # Out of the outbox only once everything is enqueued; until then the sweeper sees it.
            db.update(
                keys.event_pk(event["event_id"]),
                keys.EVENT,
                "SET dispatched_at = :now, delivery_count = :n REMOVE GSI1PK, GSI1SK",
                values={":now": now, ":n": len(deliveries)},
            )
            report.count("UpdateItem")
            report.events += 1
            report.deliveries += len(deliveries)
            logger.info(
                "event fanned out",
                extra={"event_id": event["event_id"], "event_type": event["event_type"], "deliveries": len(deliveries)},
            )
    return report


def dispatch(event_ids: list[str]) -> None:
    """Fan out recorded events to their webhooks and enqueue the deliveries. Safe to call twice."""
    fan_out(event_ids)


def stranded_event_ids(limit: int = 1000) -> list[str]:
    """Events still in the outbox after the grace period: their publisher died before dispatching."""
    db = _db()
    cutoff = timeutil.utc_now().timestamp() - webhook_settings().sweep_grace_seconds
    found: list[str] = []
    after: dict[str, Any] | None = None
    while len(found) < limit:
        page = db.query(keys.OUTBOX, index=keys.GSI1, limit=100, after=after)
        for item in page.items:
            if timeutil.parse_iso(item["created_at"]).timestamp() > cutoff:
                return found
            found.append(item["event_id"])
        after = page.last_key
        if not after:
            break
    return found[:limit]


def sweep(limit: int = 1000) -> int:
    """Dispatch what was stranded; the scheduled sweeper calls this."""
    stranded = stranded_event_ids(limit)
    if stranded:
        logger.warning("dispatching stranded events", extra={"count": len(stranded)})
        dispatch(stranded)
    return len(stranded)
