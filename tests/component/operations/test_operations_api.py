"""The operations function against moto: the sample event answers, a non-admin is refused, and a
provider outcome noted by an adapter shows on the health page, and so do the watched queues'
backlogs and their oldest messages' ages."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from integration_core.adapters import cloudwatch
from integration_core.adapters import sqs as sqs_adapter
from integration_core.operations_config import watched_queues
from integration_core.stores import provider_health
from tests.support.lambdas import api_event, invoke, sample_event


def test_the_sample_shows_every_known_provider_unknown_and_no_trouble(aws):
    answer = invoke("operations", sample_event("operations/get_integrations.json"))
    assert answer.status == 200, answer.body
    assert {p["provider"]: p["healthy"] for p in answer.body["providers"]}["stripe"] is None
    assert (answer.body["brokenCalendars"], answer.body["webhooks"]) == ([], [])


def test_a_noted_failure_after_a_success_shows_the_provider_unhealthy(aws):
    provider_health.note("paypal", True)
    provider_health.note("paypal", False, "answered 503 (create order)")
    answer = invoke("operations", api_event("GET", "/admin/integrations", caller=("adm_office", "admin")))
    paypal = next(p for p in answer.body["providers"] if p["provider"] == "paypal")
    assert paypal["healthy"] is False and paypal["lastFailure"] == "answered 503 (create order)"
    assert paypal["lastSuccessAt"] <= paypal["lastFailureAt"]


def test_a_student_is_refused(aws):
    answer = invoke("operations", api_event("GET", "/admin/integrations", caller=("stu_ana00001", "student")))
    assert answer.status == 403


@pytest.fixture
def watched(aws, monkeypatch):
    """Two watched queues with dead letter queues, in the environment the template gives the function."""
    sqs = boto3.client("sqs")
    for name in ("DIRECTORY", "WEBHOOKS"):
        monkeypatch.setenv(f"OPERATIONS_QUEUE_{name}", sqs.create_queue(QueueName=f"{name.lower()}-q")["QueueUrl"])
        monkeypatch.setenv(f"OPERATIONS_DLQ_{name}", sqs.create_queue(QueueName=f"{name.lower()}-dlq")["QueueUrl"])
    for cached in (watched_queues, sqs_adapter.client, cloudwatch.client):
        cached.cache_clear()
    yield sqs
    for cached in (watched_queues, sqs_adapter.client, cloudwatch.client):
        cached.cache_clear()


def _oldest_message_age(queue_name: str, seconds: float) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=1),
                "Value": seconds,
                "Unit": "Seconds",
            }
        ],
    )


def test_a_queue_holding_old_messages_is_behind_and_an_emptied_one_shows_no_past_age(watched):
    watched.send_message(QueueUrl=watched.get_queue_url(QueueName="webhooks-q")["QueueUrl"], MessageBody="{}")
    _oldest_message_age("webhooks-q", 240)
    _oldest_message_age("directory-q", 300)  # from before it was emptied: CloudWatch lags by minutes
    answer = invoke("operations", api_event("GET", "/admin/integrations", caller=("adm_office", "admin")))
    assert answer.status == 200, answer.body
    queues = {q["name"]: q for q in answer.body["queues"]}
    assert (queues["webhooks"]["backlog"], queues["webhooks"]["oldestMessageAgeSeconds"]) == (1, 240)
    assert queues["webhooks"]["behind"] is True
    assert (queues["directory"]["oldestMessageAgeSeconds"], queues["directory"]["behind"]) == (None, False)
