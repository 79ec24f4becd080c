"""The directory's reaction to payment_refunded, through the bus as deployed: the outbox puts the
event on the bus, the directory's rule routes it to its queue, and DirectoryEventsFunction handles
the batch (tests/support/internal_events.py plays the event source mapping)."""

from __future__ import annotations

import json

import boto3
import pytest

from integration_core import timeutil
from tests.support.aws import consumer_queues
from tests.support.internal_events import deliver_bus_events
from tests.support.lambdas import LambdaContext, api_event, invoke, load_function

ADMIN = ("adm_office", "admin")
PAYMENT = "pay_refund0full0001"


def call(method, path, **kwargs):
    return invoke("directory", api_event(method, path, caller=ADMIN, **kwargs))


@pytest.fixture
def bought(aws, monkeypatch):
    """A course, a student enrolled in it by payment PAYMENT, and a log of what gets dispatched."""
    from integration_core.services import directory, events

    teacher = call("POST", "/directory/teachers", body={"email": "t@school.example", "name": "Tess"}).body
    course = call(
        "POST",
        "/directory/courses",
        body={
            "title": "B2",
            "price": {"amount": "100.00", "currency": "EUR"},
            "timeZone": "Europe/London",
            "teacherId": teacher["id"],
        },
    ).body["id"]
    student = call("POST", "/directory/students", body={"email": "s@school.example", "name": "Sam"}).body["id"]
    db = directory._db()
    now = timeutil.iso_utc(timeutil.utc_now())
    db.transact(directory.enrollment_operations(db, course, student, "payment", now, PAYMENT))
    dispatched: list[str] = []
    real = events.dispatch
    monkeypatch.setattr(events, "dispatch", lambda ids: (dispatched.extend(ids), real(ids)))
    return {"course": course, "student": student, "dispatched": dispatched}


def refunded(world, status="refunded", payment=PAYMENT, refund="re_full0001"):
    """Publish payment_refunded as the payments capability does (the outbox, then dispatch)."""
    from integration_core.services import events

    data = {
        "paymentId": payment,
        "transactionId": "pi_0001",
        "studentId": world["student"],
        "courseId": world["course"],
        "refundId": refund,
        "amount": "100.00",
        "amountMinor": 10000,
        "refundedTotal": "100.00" if status == "refunded" else "40.00",
        "currency": "EUR",
        "provider": "stripe",
        "status": status,
        "reason": None,
        "refundedAt": "2025-03-05T09:00:00+00:00",
    }
    events.publish_event("payment_refunded", data, event_id=f"evt_{refund.replace('_', '')}")


def enrolled(world) -> list[str]:
    items = call("GET", "/directory/enrollments", query={"courseId": world["course"]}).body["items"]
    return [e["studentId"] for e in items]


def seats_taken(world) -> int:
    return call("GET", f"/directory/courses/{world['course']}").body["enrolledCount"]


def unenrolled_events(world) -> list[dict]:
    from integration_core import keys
    from integration_core.services import directory

    db = directory._db()
    found = [db.get(keys.event_pk(e), keys.EVENT) for e in world["dispatched"]]
    return [json.loads(e["data_json"]) for e in found if e and e["event_type"] == "student_unenrolled"]


def test_a_full_refund_ends_the_enrollment_once_and_publishes_student_unenrolled_once(bought):
    assert enrolled(bought) == [bought["student"]] and seats_taken(bought) == 1
    refunded(bought)
    [answer] = deliver_bus_events()
    assert answer == {"batchItemFailures": []}
    assert enrolled(bought) == [] and seats_taken(bought) == 0
    [event] = unenrolled_events(bought)
    assert (event["reason"], event["paymentId"], event["studentId"], event["courseId"]) == (
        "refunded",
        PAYMENT,
        bought["student"],
        bought["course"],
    )


def test_a_replayed_or_duplicated_refund_event_changes_nothing_twice(bought):
    refunded(bought)
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=consumer_queues()["DirectoryEventsFunction"])["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    # The same bus event three times (SQS redelivery, a second dispatch), and a publisher's repeat.
    sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
    sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
    deliver_bus_events()
    refunded(bought)  # the outbox takes the same event id once: nothing new reaches the bus
    deliver_bus_events()
    # The student buys the course again (a new payment) and the old refund event is replayed.
    from integration_core.services import directory

    db = directory._db()
    db.transact(
        directory.enrollment_operations(db, bought["course"], bought["student"], "payment", "t", "pay_again0001")
    )
    sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
    deliver_bus_events()
    assert enrolled(bought) == [bought["student"]] and seats_taken(bought) == 1
    assert len(unenrolled_events(bought)) == 1


def test_a_partial_refund_leaves_the_enrollment(bought):
    refunded(bought, status="partially_refunded", refund="re_part0001")
    assert deliver_bus_events() == [{"batchItemFailures": []}]
    assert enrolled(bought) == [bought["student"]] and seats_taken(bought) == 1
    assert unenrolled_events(bought) == []


def test_a_refund_of_another_payment_leaves_the_enrollment(bought):
    refunded(bought, payment="pay_someother0001", refund="re_other0001")
    deliver_bus_events()
    assert enrolled(bought) == [bought["student"]] and unenrolled_events(bought) == []


def test_an_enrollment_already_gone_is_left_alone(bought):
    assert call("DELETE", f"/directory/enrollments/{bought['course']}/{bought['student']}").status == 204
    refunded(bought)
    assert deliver_bus_events() == [{"batchItemFailures": []}]
    assert seats_taken(bought) == 0  # not pushed below zero
    assert [e["reason"] for e in unenrolled_events(bought)] == ["removed"]


def test_schools_that_keep_enrollments_after_a_full_refund(bought, monkeypatch):
    from integration_core.payment_config import payment_settings

    monkeypatch.setenv("FULL_REFUND_ENDS_ENROLLMENT", "false")
    payment_settings.cache_clear()
    try:
        refunded(bought)
        deliver_bus_events()
    finally:
        payment_settings.cache_clear()
    assert enrolled(bought) == [bought["student"]] and unenrolled_events(bought) == []


def test_the_sample_event_of_the_function_is_consumed(aws):
    """events/directory_events/payment_refunded.json: a full refund of an enrollment that is not there."""
    from tests.support.lambdas import sample_event

    answer = load_function("directory_events").handler(
        sample_event("directory_events/payment_refunded.json"), LambdaContext()
    )
    assert answer == {"batchItemFailures": []}


def test_an_event_the_bus_missed_stays_in_the_outbox_and_the_sweeper_puts_it_there_once(bought, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    from integration_core import keys
    from integration_core.adapters import eventbridge
    from integration_core.services import directory, events
    from integration_core.webhook_config import webhook_settings

    class Unreachable:
        def put_events(self, **_):
            raise EndpointConnectionError(endpoint_url="https://events.eu-west-1.amazonaws.com")

    real = eventbridge.client
    monkeypatch.setattr(eventbridge, "client", lambda: Unreachable())
    refunded(bought)  # the refund stands; the webhooks got it; the bus did not
    assert deliver_bus_events() == []
    assert enrolled(bought) == [bought["student"]]
    db = directory._db()
    item = db.get(keys.event_pk("evt_refull0001"), keys.EVENT, consistent=True)
    assert "dispatched_at" in item and "bus_at" not in item and item["GSI1PK"] == keys.OUTBOX
    webhooks_done_at = item["dispatched_at"]

    monkeypatch.setattr(eventbridge, "client", real)
    monkeypatch.setenv("WEBHOOK_SWEEP_GRACE_SECONDS", "0")
    webhook_settings.cache_clear()
    try:
        assert events.sweep() == 1
        assert events.sweep() == 0  # out of the outbox now: not put on the bus twice
    finally:
        webhook_settings.cache_clear()
    item = db.get(keys.event_pk("evt_refull0001"), keys.EVENT, consistent=True)
    assert "bus_at" in item and "GSI1PK" not in item
    assert item["dispatched_at"] == webhooks_done_at  # the webhook part was not redone
    assert deliver_bus_events() == [{"batchItemFailures": []}]
    assert enrolled(bought) == [] and len(unenrolled_events(bought)) == 1
