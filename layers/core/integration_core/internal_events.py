"""Internal event handlers: how one capability reacts to another's domain events without calling it.

The outbox puts every dispatched event on the event bus (services/events.py). Each consuming
capability declares, in its own module, the event types it reacts to and a handler for each:

    DIRECTORY = consumer("directory")

    @DIRECTORY.on("payment_refunded")
    def end_enrollment(event: InternalEvent, reaction: Reaction) -> None: ...

The template gives each consumer one rule on the bus (its EventPattern lists exactly the declared
types; tests/unit/events/test_internal_events_template.py holds them equal), one SQS queue with its dead
letter queue, and a function whose handler is `run(CONSUMER, event)`. The runner calls the declared
handler once per event id: a marker per (consumer, event id) is written conditionally, in the same
transaction as the handler's own writes when it uses `reaction.commit`, so a redelivered or
duplicated event changes nothing twice. A handler that raises reports its message as a batch item
failure: SQS shows it again and, after the queue's maxReceiveCount, dead-letters it. Metrics
`InternalEventHandled`, `InternalEventDuplicate`, `InternalEventFailed` (and `InternalEventIgnored`
for a type the consumer did not declare) carry the dimensions Consumer and EventType.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from integration_core import keys, timeutil
from integration_core.adapters.dynamodb import ConditionFailed, Table
from integration_core.observability import logger

MARKER_TTL_SECONDS = 90 * 24 * 3600  # longer than the queue and its DLQ keep a message


class InternalEvent(BaseModel):
    """The bus event's detail: the domain event as the outbox recorded it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    event_id: str = Field(alias="eventId", min_length=1, max_length=64)
    event_type: str = Field(alias="eventType", min_length=1, max_length=128)
    timestamp: str
    data: dict[str, Any]
    cause: str | None = None


class BusEnvelope(BaseModel):
    """What EventBridge puts on a consumer's queue (the body of each SQS record)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    detail_type: str = Field(alias="detail-type")
    source: str
    detail: InternalEvent


class AlreadyHandled(Exception):
    """The consumer's marker for this event exists: another delivery of it was handled first."""


class Markers(Protocol):
    """Where a consumer records the events it handled (DynamoDB in the product, a dict in tests)."""

    def seen(self, consumer: str, event_id: str) -> bool: ...

    def mark(self, consumer: str, event_id: str) -> bool:
        """Record it; False when it was recorded already."""
        ...

    def commit(self, consumer: str, event_id: str, operations: list[dict[str, Any]]) -> None:
        """The operations and the marker in one transaction; AlreadyHandled when the marker
        existed, ConditionFailed (reasons of `operations` only) when one of them did not hold."""
        ...


class TableMarkers:
    """Markers as items of the single table (keys.handled_pk), expiring after 90 days."""

    def __init__(self, db: Table) -> None:
        self.db = db

    def _item(self, consumer: str, event_id: str) -> dict[str, Any]:
        now = timeutil.utc_now()
        return {
            "PK": keys.handled_pk(consumer, event_id),
            "SK": keys.HANDLED,
            "kind": "handled_event",
            "consumer": consumer,
            "event_id": event_id,
            "handled_at": timeutil.iso_utc(now),
            "expiresAt": int(now.timestamp()) + MARKER_TTL_SECONDS,
        }

    def seen(self, consumer: str, event_id: str) -> bool:
        return self.db.get(keys.handled_pk(consumer, event_id), keys.HANDLED, consistent=True) is not None

    def mark(self, consumer: str, event_id: str) -> bool:
        try:
            self.db.put(self._item(consumer, event_id), "attribute_not_exists(PK)")
        except ConditionFailed:
            return False
        return True

    def commit(self, consumer: str, event_id: str, operations: list[dict[str, Any]]) -> None:
        marker = self.db.put_op(self._item(consumer, event_id), "attribute_not_exists(PK)")
        try:
            self.db.transact([*operations, marker])
        except ConditionFailed as failed:
            reasons = failed.reasons + ["None"] * (len(operations) + 1 - len(failed.reasons))
            if reasons[len(operations)] == "ConditionalCheckFailed":
                raise AlreadyHandled(event_id) from None
            raise ConditionFailed(reasons[: len(operations)]) from None


@dataclass
class Reaction:
    """What a handler gets besides the event: `commit(operations)` writes its change together with
    the consumer's marker, so the change and "handled" are one fact."""

    consumer: str
    event: InternalEvent
    markers: Markers
    committed: bool = False

    def commit(self, operations: list[dict[str, Any]]) -> None:
        self.markers.commit(self.consumer, self.event.event_id, operations)
        self.committed = True


Handler = Callable[[InternalEvent, Reaction], None]


@dataclass
class Consumer:
    """A capability that reacts to events: its name (in markers and metrics) and its handlers."""

    name: str
    handlers: dict[str, Handler] = field(default_factory=dict)

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                if event_type in self.handlers:
                    raise ValueError(f"{self.name} already handles {event_type}")
                self.handlers[event_type] = handler
            return handler

        return register

    @property
    def event_types(self) -> list[str]:
        """What its rule on the bus must match, no more and no less."""
        return sorted(self.handlers)


CONSUMERS: dict[str, Consumer] = {}


def consumer(name: str) -> Consumer:
    if name in CONSUMERS:
        raise ValueError(f"consumer {name!r} is declared twice")
    CONSUMERS[name] = Consumer(name)
    return CONSUMERS[name]


Emit = Callable[[str, str, str, int], None]  # metric name, consumer, event type, count


def emit_metric(name: str, consumer_name: str, event_type: str, count: int) -> None:
    # Powertools' (imported here: only the consumers' functions pay for it). One EMF record per
    # (outcome, consumer, type) and batch, so the dimensions are exactly these two.
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=count,
        default_dimensions={"Consumer": consumer_name, "EventType": event_type},
    ):
        pass


@dataclass
class BatchOutcome:
    handled: int = 0
    duplicates: int = 0
    failed: list[str] = field(default_factory=list)  # SQS message ids


def _handle_one(owner: Consumer, event: InternalEvent, markers: Markers) -> str:
    """'handled', 'duplicate' or 'ignored' (a type it did not declare); raises when the handler failed."""
    handler = owner.handlers.get(event.event_type)
    if handler is None:
        # The rule matches only declared types; anything else is not this consumer's business.
        logger.warning("event type not handled here", extra={"consumer": owner.name, "event_type": event.event_type})
        return "ignored"
    if markers.seen(owner.name, event.event_id):
        return "duplicate"
    reaction = Reaction(owner.name, event, markers)
    try:
        handler(event, reaction)
    except AlreadyHandled:
        return "duplicate"
    if not reaction.committed and not markers.mark(owner.name, event.event_id):
        return "duplicate"
    return "handled"


def run(owner: Consumer, sqs_event: dict[str, Any], markers: Markers, emit: Emit = emit_metric) -> dict[str, Any]:
    """Handle an SQS batch of bus events for `owner`; returns the `batchItemFailures` answer."""
    outcome = BatchOutcome()
    counts: Counter[tuple[str, str]] = Counter()
    for record in sqs_event.get("Records", []):
        message_id = record["messageId"]
        try:
            event = BusEnvelope.model_validate_json(record["body"]).detail
        except ValidationError:
            # Never valid however often it is retried: the DLQ keeps it for a person to look at.
            logger.error("malformed bus event", extra={"consumer": owner.name, "message_id": message_id})
            outcome.failed.append(message_id)
            counts[("InternalEventFailed", "unknown")] += 1
            continue
        try:
            result = _handle_one(owner, event, markers)
        except Exception:
            logger.exception(
                "event handler failed; SQS retries it",
                extra={"consumer": owner.name, "event_id": event.event_id, "event_type": event.event_type},
            )
            outcome.failed.append(message_id)
            counts[("InternalEventFailed", event.event_type)] += 1
            continue
        if result == "handled":
            outcome.handled += 1
        elif result == "duplicate":
            outcome.duplicates += 1
        counts[(f"InternalEvent{result.capitalize()}", event.event_type)] += 1
    for (name, event_type), count in sorted(counts.items()):
        emit(name, owner.name, event_type, count)
    logger.info(
        "bus events processed",
        extra={
            "consumer": owner.name,
            "handled": outcome.handled,
            "duplicates": outcome.duplicates,
            "failed": len(outcome.failed),
        },
    )
    return {"batchItemFailures": [{"itemIdentifier": m} for m in outcome.failed]}
