"""The outbox's store: events recorded with the change they report (in the outbox index until
fanned out), the subscription rows fan-out reads, and the deliveries it creates. It owns their
item shapes, keys and conditions; services get records without keys."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from integration_core import keys
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings
from integration_core.domain.deliveries import DeliveryStatus
from integration_core.errors import ProviderUnavailable
from integration_core.ids import stable_id
from integration_core.stores.common import Outcome, public

TRANSACTION_LIMIT = 100


def db() -> Table:
    return table(settings().table_name)


def event_item(
    event_id: str, event_type: str, data: dict, created_at: str, cause: str | None, *, outbox: bool
) -> dict[str, Any]:
    """The stored event; `outbox`: in the outbox index until it is fanned out."""
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
        item |= {"GSI1PK": keys.OUTBOX, "GSI1SK": keys.listing_sk(created_at, event_id)}
    return item


def event_record(event_id: str, event_type: str, data: dict, created_at: str, cause: str | None) -> dict[str, Any]:
    """An event as services see it (never in the outbox: the test endpoint's)."""
    return public(event_item(event_id, event_type, data, created_at, cause, outbox=False))


def event_operations(store: Table, event: dict[str, Any]) -> list[dict]:
    """The write recording `event` (from event_item) on condition that its id is new, for the
    caller's transaction."""
    return [store.put_op(event, "attribute_not_exists(PK)")]


def delivery_record(delivery_id: str, webhook_id: str, event: dict[str, Any], now: str) -> dict[str, Any]:
    return {
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


def stored_delivery(delivery: dict[str, Any]) -> dict[str, Any]:
    return {
        "PK": keys.delivery_pk(delivery["delivery_id"]),
        "SK": keys.DELIVERY,
        "GSI1PK": keys.deliveries_pk(delivery["webhook_id"]),
        "GSI1SK": keys.listing_sk(delivery["created_at"], delivery["delivery_id"]),
        "kind": "delivery",
        **delivery,
    }


def record_test(event: dict[str, Any], delivery: dict[str, Any]) -> None:
    """A test event (never in the outbox) with its one delivery."""
    store = db()
    item = {"PK": keys.event_pk(event["event_id"]), "SK": keys.EVENT, "kind": "event", **event}
    store.transact(
        [
            store.put_op(item, "attribute_not_exists(PK)"),
            store.put_op(stored_delivery(delivery), "attribute_not_exists(PK)"),
        ]
    )


def event(store: Table, event_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    item = store.get(keys.event_pk(event_id), keys.EVENT, consistent=consistent)
    if item is None:
        return None
    return {**public(item), "in_outbox": "GSI1PK" in item}


def events(event_ids: list[str], store: Table | None = None) -> dict[str, dict[str, Any]]:
    """Up to 100 events by id (one BatchGetItem), each with `in_outbox`: not yet fanned out."""
    found = (store or db()).batch_get(list(dict.fromkeys((keys.event_pk(e), keys.EVENT) for e in event_ids)))
    return {item["event_id"]: {**public(item), "in_outbox": "GSI1PK" in item} for item in found}


def subscriber_ids(store: Table, event_type: str, count: Callable[[str], None] | None = None) -> list[str]:
    """The active webhooks subscribed to an event type (the rows exist only while active)."""
    found: list[str] = []
    after: dict[str, Any] | None = None
    while True:
        page = store.query(keys.subscriptions_pk(event_type), limit=100, after=after)
        if count:
            count("Query")
        found += [item["webhook_id"] for item in page.items]
        after = page.last_key
        if not after:
            return found


def create_deliveries(store: Table, deliveries: list[dict[str, Any]], count: Callable[[str], None]) -> None:
    """Conditional puts, 100 per transaction; a chunk that meets an existing delivery (a repeated
    dispatch) is written item by item so the existing ones keep their state."""
    items = [stored_delivery(d) for d in deliveries]
    for start in range(0, len(items), TRANSACTION_LIMIT):
        chunk = items[start : start + TRANSACTION_LIMIT]
        try:
            token = stable_id("delivery", *(item["delivery_id"] for item in chunk))
            store.transact([store.put_op(item, "attribute_not_exists(PK)") for item in chunk], token=token)
            count("TransactWriteItems")
        except ConditionFailed:
            count("TransactWriteItems")
            for item in chunk:
                with contextlib.suppress(ConditionFailed):  # it exists: keep its state
                    store.put(item, "attribute_not_exists(PK)")
                count("PutItem")


@dataclass(frozen=True)
class Mark:
    """What one dispatch did for one event: the webhook deliveries it enqueued (`delivery_count`,
    None when they were enqueued before), whether the event reached the bus now (`on_bus`), and
    whether both are done so that it leaves the outbox (`done`)."""

    event_id: str
    delivery_count: int | None
    on_bus: bool = False
    done: bool = True

    def update(self, now: str) -> tuple[tuple[str, str, str, str | None], dict[str, Any]] | None:
        """The arguments of its update ((key, expression, condition), expression values), or None
        when there is nothing to record. `bus_at` is never written twice: the first dispatch wins."""
        sets: list[str] = []
        values: dict[str, Any] = {":now": now}
        if self.delivery_count is not None:
            sets += ["dispatched_at = :now", "delivery_count = :n"]
            values[":n"] = self.delivery_count
        if self.on_bus:
            sets.append("bus_at = :now")
        update = (f"SET {', '.join(sets)}" if sets else "") + (" REMOVE GSI1PK, GSI1SK" if self.done else "")
        if not update:
            return None
        used = {k: v for k, v in values.items() if k in update}  # DynamoDB refuses unused values
        condition = "attribute_not_exists(bus_at)" if self.on_bus else None
        return (keys.event_pk(self.event_id), keys.EVENT, update.strip(), condition), ({"values": used} if used else {})


def mark_dispatched(store: Table, marks: list[Mark], now: str) -> tuple[str, int] | None:
    """Record what a dispatch did for each event: several at once in one transaction (at most 100),
    or each on its own when there is only one or the transaction is refused (another dispatch put
    one on the bus first, or is writing one now). The operation used and its calls, or None when
    nothing was to record."""
    updates = [update for mark in marks if (update := mark.update(now))]
    if len(updates) > 1:
        with contextlib.suppress(ConditionFailed, ProviderUnavailable):
            store.transact([store.update_op(*args, **values) for args, values in updates])
            return "TransactWriteItems", 1
    for args, values in updates:
        with contextlib.suppress(ConditionFailed):
            store.update(*args, **values)
    return ("UpdateItem", len(updates)) if updates else None


def in_outbox(store: Table) -> Iterator[dict[str, Any]]:
    """Events not yet fanned out, oldest first."""
    after: dict[str, Any] | None = None
    while True:
        page = store.query(keys.OUTBOX, index=keys.GSI1, limit=100, after=after)
        for item in page.items:
            yield public(item)
        after = page.last_key
        if not after:
            return


def record_event(store: Table, operations: list[dict]) -> Outcome:
    """An event's own transaction; ALREADY_EXISTS when its id was recorded before."""
    try:
        store.transact(operations)
    except ConditionFailed:
        return Outcome.ALREADY_EXISTS
    return Outcome.DONE
