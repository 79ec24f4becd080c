"""The internal event runner against in-memory markers: once per event id, partial batch failures
for SQS to retry and dead-letter, and the metrics an operator alarms on."""

from __future__ import annotations

import json

import pytest

from integration_core.adapters.dynamodb import ConditionFailed
from integration_core.internal_events import AlreadyHandled, Consumer, InternalEvent, Reaction, run


class FakeMarkers:
    """Markers in a set; `commit` records the operations it wrote with the marker."""

    def __init__(self) -> None:
        self.marked: set[tuple[str, str]] = set()
        self.written: list[list[dict]] = []

    def seen(self, consumer: str, event_id: str) -> bool:
        return (consumer, event_id) in self.marked

    def mark(self, consumer: str, event_id: str) -> bool:
        if (consumer, event_id) in self.marked:
            return False
        self.marked.add((consumer, event_id))
        return True

    def commit(self, consumer: str, event_id: str, operations: list[dict]) -> None:
        if (consumer, event_id) in self.marked:
            raise AlreadyHandled(event_id)
        if any(op.get("fails") for op in operations):
            raise ConditionFailed(["ConditionalCheckFailed"])
        self.marked.add((consumer, event_id))
        self.written.append(operations)


def record(message_id: str, event_id: str, event_type: str = "payment_refunded", **data) -> dict:
    detail = {"eventId": event_id, "eventType": event_type, "timestamp": "2025-03-05T09:00:00+00:00", "data": data}
    body = {"version": "0", "detail-type": event_type, "source": "school.integration", "detail": detail}
    return {"messageId": message_id, "receiptHandle": f"rh-{message_id}", "body": json.dumps(body)}


@pytest.fixture
def world():
    calls: list[str] = []
    metrics: list[tuple[str, str, str, int]] = []
    owner = Consumer("directory")

    @owner.on("payment_refunded")
    def react(event: InternalEvent, reaction: Reaction) -> None:
        calls.append(event.event_id)
        if event.data.get("boom"):
            raise RuntimeError("the store is down")
        reaction.commit([{"Put": event.event_id}])

    markers = FakeMarkers()

    def batch(*records):
        return run(owner, {"Records": list(records)}, markers, emit=lambda *m: metrics.append(m))

    return owner, markers, calls, metrics, batch


def test_an_event_is_handled_once_whatever_the_deliveries(world):
    _, markers, calls, metrics, batch = world
    assert batch(record("m1", "evt_1")) == {"batchItemFailures": []}
    # Redelivered (SQS at least once), then duplicated by two dispatches of the outbox:
    assert batch(record("m2", "evt_1"), record("m3", "evt_1")) == {"batchItemFailures": []}
    assert calls == ["evt_1"]
    assert markers.written == [[{"Put": "evt_1"}]]
    assert metrics == [
        ("InternalEventHandled", "directory", "payment_refunded", 1),
        ("InternalEventDuplicate", "directory", "payment_refunded", 2),
    ]


def test_only_the_failed_records_of_a_batch_come_back_and_they_are_retried(world):
    _, markers, calls, metrics, batch = world
    answer = batch(record("m1", "evt_1"), record("m2", "evt_2", boom=True), record("m3", "evt_3"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert ("directory", "evt_2") not in markers.marked  # nothing says it was handled
    assert sorted(metrics) == [
        ("InternalEventFailed", "directory", "payment_refunded", 1),
        ("InternalEventHandled", "directory", "payment_refunded", 2),
    ]
    # SQS shows it again: now the handler succeeds, and the others are not run twice.
    assert batch(record("m2", "evt_2"), record("m1", "evt_1")) == {"batchItemFailures": []}
    assert calls == ["evt_1", "evt_2", "evt_3", "evt_2"]
    assert ("directory", "evt_2") in markers.marked


def test_a_malformed_message_is_reported_failed_so_that_the_queue_dead_letters_it(world):
    _, _, calls, metrics, batch = world
    bad = {"messageId": "m9", "receiptHandle": "rh", "body": '{"detail-type": "payment_refunded"}'}
    assert batch(bad, record("m1", "evt_1")) == {"batchItemFailures": [{"itemIdentifier": "m9"}]}
    assert calls == ["evt_1"]
    assert ("InternalEventFailed", "directory", "unknown", 1) in metrics


def test_a_type_the_consumer_did_not_declare_is_ignored_not_retried(world):
    _, markers, calls, metrics, batch = world
    assert batch(record("m1", "evt_1", event_type="grade_updated")) == {"batchItemFailures": []}
    assert calls == [] and markers.marked == set()
    assert metrics == [("InternalEventIgnored", "directory", "grade_updated", 1)]


def test_a_handler_that_writes_nothing_is_still_marked_once(world):
    owner, markers, _, _metrics, batch = world
    seen: list[str] = []
    owner.on("course_ended")(lambda event, reaction: seen.append(event.event_id))
    batch(record("m1", "evt_5", event_type="course_ended"))
    batch(record("m2", "evt_5", event_type="course_ended"))
    assert seen == ["evt_5"] and ("directory", "evt_5") in markers.marked
    assert owner.event_types == ["course_ended", "payment_refunded"]


def test_a_race_lost_at_commit_counts_as_a_duplicate_not_a_failure(world):
    owner, markers, _, metrics, batch = world

    @owner.on("course_started")
    def racing(event: InternalEvent, reaction: Reaction) -> None:
        markers.marked.add(("directory", event.event_id))  # another delivery committed meanwhile
        reaction.commit([{"Put": "late"}])

    assert batch(record("m1", "evt_7", event_type="course_started")) == {"batchItemFailures": []}
    assert metrics == [("InternalEventDuplicate", "directory", "course_started", 1)]
    assert markers.written == []


def test_a_type_is_declared_once_per_consumer():
    owner = Consumer("calendar")
    owner.on("student_enrolled")(lambda event, reaction: None)
    with pytest.raises(ValueError, match="already handles"):
        owner.on("student_enrolled")(lambda event, reaction: None)


def test_the_default_metrics_are_powertools_emf_with_consumer_and_type(monkeypatch, capsys):
    from integration_core.internal_events import emit_metric

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    emit_metric("InternalEventFailed", "directory", "payment_refunded", 3)
    emitted = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert emitted["InternalEventFailed"] == [3.0] or emitted["InternalEventFailed"] == 3.0
    assert (emitted["Consumer"], emitted["EventType"]) == ("directory", "payment_refunded")
    [directive] = emitted["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "SchoolIntegration"
    assert sorted(directive["Dimensions"][0]) == ["Consumer", "EventType", "service"]
