"""CloudWatch: the age of the oldest message of SQS queues (ApproximateAgeOfOldestMessage, the
only place SQS says it), in one GetMetricData call. No datapoint (a quiet queue, or the local
stack, whose embedded AWS has no SQS metrics) is None: unknown, not zero."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from integration_core.adapters import aws
from integration_core.observability import logger
from integration_core.timeutil import utc_now


@lru_cache(maxsize=1)
def client() -> Any:  # botocore is untyped (pyproject.toml [tool.mypy])
    return aws.client("cloudwatch", max_attempts=2)


def oldest_message_ages(queue_names: dict[str, str]) -> dict[str, int | None]:
    """key -> the oldest message's age in seconds over the last five minutes (None: unknown)."""
    ages: dict[str, int | None] = dict.fromkeys(queue_names)
    if not queue_names:
        return ages
    ids = {f"q{i}": key for i, key in enumerate(queue_names)}
    queries = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": queue_names[key]}],
                },
                "Period": 60,
                "Stat": "Maximum",
            },
        }
        for query_id, key in ids.items()
    ]
    now = utc_now()
    try:
        answer = client().get_metric_data(
            MetricDataQueries=queries, StartTime=now - timedelta(minutes=5), EndTime=now, ScanBy="TimestampDescending"
        )
    except (ClientError, BotoCoreError):
        logger.warning("queue ages unknown: CloudWatch cannot be reached")
        return ages
    for result in answer.get("MetricDataResults", []):
        values = result.get("Values") or []
        if result.get("Id") in ids and values:
            ages[ids[result["Id"]]] = int(values[0])
    return ages
