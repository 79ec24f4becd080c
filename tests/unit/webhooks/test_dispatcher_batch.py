"""The dispatcher's answer to SQS (a partial batch response built by the handler itself) and the
one typed queue message every sender builds and the dispatcher parses."""

from __future__ import annotations

import json

import pytest

from integration_core.domain.deliveries import DeliveryMessage, MalformedMessage
from integration_core.services import delivery
from tests.support.lambdas import LambdaContext, load_function

GOOD = {"deliveryId": "dlv_aaaa1111", "webhookId": "whk_bbbb2222", "eventId": "evt_cccc3333"}


def _record(message_id: str, body: str, receive_count: int = 1) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "eventSource": "aws:sqs",
    }


@pytest.fixture
def batches(monkeypatch):
    """process_batch replaced: the message ids given are the ones it asks to see again."""
    seen: list[list[delivery.QueuedDelivery]] = []
    later: set[str] = set()

    def fake_process(records):
        seen.append(list(records))
        return delivery.BatchResult(failed_message_ids=[r.message_id for r in records if r.message_id in later])

    dispatcher = load_function("webhook_dispatcher")
    monkeypatch.setattr(dispatcher, "process_batch", fake_process)
    return dispatcher, seen, later


def test_only_the_messages_to_retry_and_the_malformed_are_batch_item_failures(batches):
    dispatcher, seen, later = batches
    later.add("m2")
    event = {
        "Records": [
            _record("m1", json.dumps(GOOD)),
            _record("m2", json.dumps({**GOOD, "deliveryId": "dlv_dddd4444"}), receive_count=3),
            _record("m3", "{not json"),
            _record("m4", json.dumps({**GOOD, "webhookId": "nope"})),
        ]
    }
    answer = dispatcher.handler(event, LambdaContext())
    assert answer == {
        "batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}, {"itemIdentifier": "m4"}]
    }
    [records] = seen
    assert [(r.message_id, r.delivery_id, r.receive_count) for r in records] == [
        ("m1", "dlv_aaaa1111", 1),
        ("m2", "dlv_dddd4444", 3),
    ]


def test_a_batch_that_all_succeeds_reports_no_failures(batches):
    dispatcher, _, _ = batches
    answer = dispatcher.handler({"Records": [_record("m1", json.dumps(GOOD))]}, LambdaContext())
    assert answer == {"batchItemFailures": []}


def test_a_batch_that_all_fails_is_reported_item_by_item_not_raised(batches):
    dispatcher, _, later = batches
    later.update({"m1", "m2"})
    event = {"Records": [_record("m1", json.dumps(GOOD)), _record("m2", json.dumps(GOOD))]}
    assert dispatcher.handler(event, LambdaContext()) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]
    }


def test_the_queue_message_round_trips_and_refuses_foreign_ids():
    message = DeliveryMessage.parse(json.dumps({**GOOD, "extra": 1}))
    assert message.body() == GOOD
    assert DeliveryMessage(delivery_id="dlv_aaaa1111", webhook_id="whk_bbbb2222", event_id="evt_cccc3333") == message
    with pytest.raises(MalformedMessage, match="deliveryId"):
        DeliveryMessage.parse(json.dumps({**GOOD, "deliveryId": "whk_aaaa1111"}))


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        "null",
        json.dumps({k: v for k, v in GOOD.items() if k != "eventId"}),
        json.dumps({**GOOD, "webhookId": 12345678}),
        json.dumps({**GOOD, "webhookId": None}),
        json.dumps({**GOOD, "deliveryId": "dlv_aaaa1111\n"}),  # a pattern's $ would take the newline
        json.dumps({**GOOD, "eventId": "evt " + "x" * 10}),
        json.dumps({**GOOD, "eventId": "e" * 101}),
    ],
)
def test_a_body_that_is_not_a_delivery_message_is_refused(body):
    with pytest.raises(MalformedMessage):
        DeliveryMessage.parse(body)


def test_a_retry_sent_again_carries_the_same_message():
    queued = delivery.QueuedDelivery("m1", "rh", 5, "dlv_aaaa1111", "whk_bbbb2222", "evt_cccc3333")
    assert queued.message.body() == GOOD
