"""Publishing domain events: the outbox and the fan-out to webhooks.

A publisher records an event in its own transaction (`event_operations`), then calls `dispatch`
once that transaction has committed; `publish` does both for simple publishers. Dispatch creates
one delivery per active subscribed webhook (ids derived from event and webhook, so a repeat is a
no-op), enqueues them on SQS in batches and only then takes the event out of the outbox. If the
process dies in between, the scheduled `sweep` finds the event still in the outbox and dispatches
it again: no recorded event is lost, and duplicates collapse in the dispatcher.

Every dispatched event also goes on the event bus (EVENT_BUS_NAME) once, for the capabilities that
react to it (integration_core.internal_events); the webhook fan-out stays direct, not behind the bus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from integration_core import idempotency_keys, timeutil
from integration_core.adapters import eventbridge, sqs
from integration_core.adapters.dynamodb import Table, table
from integration_core.config import settings
from integration_core.domain.deliveries import DeliveryMessage
from integration_core.domain.events import TEST_EVENT, validate_data
from integration_core.domain.events import event_type as catalog_entry
from integration_core.errors import Conflict, Unprocessable, field_error, invalid
from integration_core.ids import new_id, stable_id
from integration_core.observability import logger
from integration_core.principal import Principal, Role
from integration_core.stores import outbox as outbox_store
from integration_core.stores.common import Outcome
from integration_core.webhook_config import webhook_settings

TRANSACTION_LIMIT = 100
BUS_SOURCE = "school.integration"  # the source of every domain event on the bus


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
    return event_id, outbox_store.event_operations(db, event_item(event_id, event_type, data, now, cause, outbox=True))


event_item = outbox_store.event_item


def publish_event(
    event_type: str, data: dict, *, event_id: str | None = None, cause: str | None = None
) -> tuple[str, bool]:
    """(event id, whether that id had been published before). A repeat with other content is a 409."""
    db = _db()
    event_id, operations = event_operations(db, event_type, data, event_id=event_id, cause=cause)
    duplicate = False
    if outbox_store.record_event(db, operations) is Outcome.ALREADY_EXISTS:
        existing = outbox_store.event(db, event_id, consistent=True) or {}
        if existing.get("event_type") != event_type or json.loads(existing.get("data_json", "null")) != data:
            raise Conflict(f"event id {event_id} was already used for a different event")
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
    return outbox_store.subscriber_ids(db, event_type, report.count if report else None)


def delivery_id_for(event_id: str, webhook_id: str) -> str:
    return stable_id("delivery", event_id, webhook_id)


def delivery_item(delivery_id: str, webhook_id: str, event: dict[str, Any], now: str) -> dict[str, Any]:
    return outbox_store.delivery_record(delivery_id, webhook_id, event, now)


def payload(webhook_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """What a receiver gets as the body of a delivery of `event` (the same on every attempt)."""
    return {
        "webhookId": webhook_id,
        "eventId": event["event_id"],
        "eventType": event["event_type"],
        "timestamp": event["created_at"],
        "data": json.loads(event["data_json"]),
    }


def queue_message(delivery_id: str, webhook_id: str, event_id: str) -> DeliveryMessage:
    return DeliveryMessage(delivery_id=delivery_id, webhook_id=webhook_id, event_id=event_id)


def bus_entry(event: dict[str, Any]) -> eventbridge.BusEntry:
    """The event as internal consumers get it from the bus: detail-type is the event type (what
    each consumer's rule matches), detail the same envelope a webhook receiver gets, plus the cause."""
    return eventbridge.BusEntry(
        id=event["event_id"],
        source=BUS_SOURCE,
        detail_type=event["event_type"],
        detail={
            "eventId": event["event_id"],
            "eventType": event["event_type"],
            "timestamp": event["created_at"],
            "data": json.loads(event["data_json"]),
            "cause": event.get("cause"),
        },
    )


def _fan_out_to_webhooks(db: Table, event: dict[str, Any], report: FanOutReport) -> int:
    """Create and enqueue the event's deliveries; returns how many."""
    config = webhook_settings()
    now = timeutil.iso_utc(timeutil.utc_now())
    webhook_ids = subscriber_ids(db, event["event_type"], report)
    deliveries = [delivery_item(delivery_id_for(event["event_id"], w), w, event, now) for w in webhook_ids]
    outbox_store.create_deliveries(db, deliveries, report.count)
    messages = [
        sqs.Outgoing(
            d["delivery_id"],
            queue_message(d["delivery_id"], d["webhook_id"], d["event_id"]).body(),
            config.retry_schedule[0],
        )
        for d in deliveries
    ]
    if messages:
        report.sqs_calls += sqs.send_batch(config.queue_url, messages)
    return len(deliveries)


def fan_out(event_ids: list[str]) -> FanOutReport:
    """Each recorded event goes to its webhooks (directly: deliveries and the queue) and onto the
    event bus for internal consumers. It leaves the outbox only once both are done; the item records
    each part (`dispatched_at`, `bus_at`), so a later dispatch (the sweeper) redoes only what is missing."""
    db = _db()
    bus_name = settings().event_bus_name
    report = FanOutReport()
    unique = list(dict.fromkeys(event_ids))
    for start in range(0, len(unique), 100):
        found = outbox_store.events(unique[start : start + 100], db)
        report.count("BatchGetItem")
        pending = [e for e in found.values() if e["in_outbox"]]  # the others are fanned out already
        counts = {e["event_id"]: _fan_out_to_webhooks(db, e, report) for e in pending if "dispatched_at" not in e}
        unsent = [e for e in pending if "bus_at" not in e]
        # No bus configured (a deployment without internal consumers): the webhooks are everything.
        on_bus = eventbridge.put(bus_name, [bus_entry(e) for e in unsent]) if bus_name and unsent else set()
        marks = []
        for event in pending:
            event_id = event["event_id"]
            reached_bus = event_id in on_bus or not bus_name or "bus_at" in event
            if not reached_bus:
                logger.warning("event kept in the outbox for the bus", extra={"event_id": event_id})
            marks.append(outbox_store.Mark(event_id, counts.get(event_id), on_bus=event_id in on_bus, done=reached_bus))
        recorded = outbox_store.mark_dispatched(db, marks, timeutil.iso_utc(timeutil.utc_now()))
        if recorded:
            report.count(*recorded)
        for event_id, deliveries in counts.items():
            report.events += 1
            report.deliveries += deliveries
            logger.info(
                "event fanned out",
                extra={"event_id": event_id, "event_type": found[event_id]["event_type"], "deliveries": deliveries},
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
    for item in outbox_store.in_outbox(db):
        if len(found) >= limit or timeutil.parse_iso(item["created_at"]).timestamp() > cutoff:
            break
        found.append(item["event_id"])
    return found


def sweep(limit: int = 1000) -> int:
    """Dispatch what was stranded; the scheduled sweeper calls this."""
    stranded = stranded_event_ids(limit)
    if stranded:
        logger.warning("dispatching stranded events", extra={"count": len(stranded)})
        dispatch(stranded)
    return len(stranded)
