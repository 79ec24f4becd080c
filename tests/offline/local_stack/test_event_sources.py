"""SQS event source mappings and schedules of the local stack."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

from boto3.dynamodb.conditions import Key


def _deliveries(stack, body: str) -> list[dict]:
    table = stack.client("dynamodb")
    items = table.query(
        TableName="school-integration-EventsTable",
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"msg#{body}"}},
    )["Items"]
    return items


def _wait(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def test_sqs_batches_partial_failures_and_the_dlq(fixture_stack):
    sqs = fixture_stack.client("sqs")
    queue = fixture_stack.state["resources"]["WorkQueue"]["ref"]
    dlq = fixture_stack.state["resources"]["WorkDlq"]["ref"]
    tag = uuid.uuid4().hex[:6]
    # A warm consumer first: a cold start (a new process importing boto3) can take most of the 1 s
    # visibility timeout on a busy machine, which would hide when the redelivery came.
    sqs.send_message(QueueUrl=queue, MessageBody=f"warm-{tag}")
    assert _wait(lambda: _deliveries(fixture_stack, f"warm-{tag}"), 10)
    ok, once, always = f"ok-{tag}", f"fail-once-{tag}", f"fail-always-{tag}"
    sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[{"Id": "1", "MessageBody": ok}, {"Id": "2", "MessageBody": once}, {"Id": "3", "MessageBody": always}],
    )

    assert _wait(lambda: len(_deliveries(fixture_stack, once)) >= 2, 8), "a reported failure comes back"
    first_two = sorted(_deliveries(fixture_stack, once), key=lambda i: i["SK"]["S"])
    assert [i["SK"]["S"] for i in first_two] == ["receive#1", "receive#2"]
    # It came back only after the queue's visibility timeout (1 s from the receive, which came a
    # little before the handler wrote its first record).
    assert float(first_two[1]["at"]["S"]) - float(first_two[0]["at"]["S"]) >= 0.5
    assert max(int(i["batchSize"]["N"]) for i in _deliveries(fixture_stack, ok)) >= 1

    def in_dlq():
        messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        return [m for m in messages if m["Body"] == always]

    assert _wait(in_dlq, 10), "a message failing maxReceiveCount (2) times lands in the DLQ"
    assert len(_deliveries(fixture_stack, always)) == 2
    assert len(_deliveries(fixture_stack, ok)) == 1  # succeeded once, deleted, never redelivered


def test_a_runtime_at_schedule_fires_its_target_once_on_time(fixture_stack):
    scheduler = fixture_stack.client("scheduler")
    marker = uuid.uuid4().hex
    due = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    scheduler.create_schedule(
        Name=f"once-{marker[:8]}",
        GroupName="school-integration-reminders",
        ScheduleExpression=f"at({due.strftime('%Y-%m-%dT%H:%M:%S')})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": fixture_stack.state["functions"]["ScheduledFunction"]["arn"],
            "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
            "Input": json.dumps({"marker": marker}),
        },
        ActionAfterCompletion="DELETE",
    )
    ddb = fixture_stack.client("dynamodb")

    def fired():
        return ddb.query(
            TableName="school-integration-EventsTable",
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"fired#{marker}"}},
        )["Items"]

    items = _wait(fired, 8)
    assert len(items) == 1
    lateness = float(items[0]["SK"]["S"]) - due.timestamp()
    # The mirror polls every 0.5 s; the rest is the function's cold start (longer on a loaded machine).
    assert -0.2 <= lateness <= 4.0
    time.sleep(1.5)
    assert len(fired()) == 1  # once only
    names = [s["Name"] for s in scheduler.list_schedules(GroupName="school-integration-reminders")["Schedules"]]
    assert f"once-{marker[:8]}" not in names  # ActionAfterCompletion DELETE


def test_query_helper_is_not_a_scan():
    assert Key("PK").eq("x") is not None


def test_an_sqs_mapping_runs_up_to_its_maximum_concurrency_batches_at_once(fixture_stack):
    # ParallelQueue's mapping: BatchSize 1, ScalingConfig.MaximumConcurrency 3; each message takes ~1 s.
    sqs = fixture_stack.client("sqs")
    queue = fixture_stack.state["resources"]["ParallelQueue"]["ref"]
    ddb = fixture_stack.client("dynamodb")

    def handled(bodies: list[str]) -> list[dict] | None:
        found = []
        for body in bodies:
            found += ddb.query(
                TableName="school-integration-EventsTable",
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": f"parallel#{body}"}},
            )["Items"]
        return found if len(found) == len(bodies) else None

    # A first round makes the three environments (the local stack starts cold ones one init per core
    # at a time, which is not what is tested); the second round runs on them.
    for round_ in ("warm", "measured"):
        bodies = [f"{round_}{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
        sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        done = _wait(lambda bodies=bodies: handled(bodies), 40)
        assert done, f"every message of the {round_} round was handled"
    starts = [float(i["started"]["S"]) for i in done]
    ends = [float(i["ended"]["S"]) for i in done]
    # All three were running at one moment: the last to start started before the first to end ended.
    assert max(starts) < min(ends), sorted(zip(starts, ends, strict=True))
