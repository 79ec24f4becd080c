"""The embedded AWS of the local stack: an outage keeps the data, a reset starts afresh,
concurrent DynamoDB requests (TransactWriteItems among them) all succeed, and concurrent receives
never hand one SQS message to two consumers."""

from __future__ import annotations

import socket
import threading
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from offline.aws import LOCAL_CREDENTIALS, MotoServer
from offline.template import REGION

TABLE = "school-integration-EventsTable"


def _strict_dynamodb(endpoint: str):
    """No retries: one failed request is one failure."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=30),
    )


def _put(stack, key: str) -> None:
    stack.client("dynamodb").put_item(TableName=TABLE, Item={"PK": {"S": key}, "SK": {"S": "record"}})


def _get(stack, key: str):
    return stack.client("dynamodb").get_item(TableName=TABLE, Key={"PK": {"S": key}, "SK": {"S": "record"}}).get("Item")


def test_an_aws_outage_refuses_connections_and_keeps_every_record(fixture_stack):
    key = f"outage-{uuid.uuid4().hex}"
    _put(fixture_stack, key)
    assert fixture_stack.control("aws/stop") == {"aws": "stopped"}
    try:
        with pytest.raises(EndpointConnectionError):
            _strict_dynamodb(fixture_stack.aws_endpoint).describe_table(TableName=TABLE)
        assert fixture_stack.control("status")["awsRunning"] is False
    finally:
        assert fixture_stack.control("aws/start") == {"aws": "running"}
    assert fixture_stack.control("status")["awsRunning"] is True
    assert _get(fixture_stack, key) == {"PK": {"S": key}, "SK": {"S": "record"}}


def test_an_aws_reset_starts_empty_and_provisioned_again(fixture_stack):
    key = f"reset-{uuid.uuid4().hex}"
    _put(fixture_stack, key)
    assert fixture_stack.control("aws/reset") == {"aws": "reset"}
    assert _get(fixture_stack, key) is None
    # Provisioned again from the template: the table is there, empty of what was written before.
    assert fixture_stack.client("dynamodb").describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"
    _put(fixture_stack, key)
    assert _get(fixture_stack, key) is not None


def test_concurrent_transactions_puts_and_queries_all_succeed(fixture_stack):
    threads, rounds = 16, 12
    errors: list[str] = []
    run = uuid.uuid4().hex[:8]

    def work(n: int) -> None:
        ddb = _strict_dynamodb(fixture_stack.aws_endpoint)
        for i in range(rounds):
            try:
                ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": TABLE,
                                "Item": {"PK": {"S": f"tx-{run}-{n}"}, "SK": {"S": f"item#{i}"}},
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        },
                        {"Put": {"TableName": TABLE, "Item": {"PK": {"S": f"tx-{run}-{n}-{i}"}, "SK": {"S": "pair"}}}},
                    ]
                )
                ddb.put_item(TableName=TABLE, Item={"PK": {"S": f"put-{run}-{n}"}, "SK": {"S": f"item#{i}"}})
                ddb.query(
                    TableName=TABLE,
                    KeyConditionExpression="PK = :pk",
                    ExpressionAttributeValues={":pk": {"S": f"tx-{run}-{n}"}},
                )
            except Exception as exc:  # every failure is collected and reported
                errors.append(f"{type(exc).__name__}: {exc}"[:300])

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    ddb = fixture_stack.client("dynamodb")
    for n in range(threads):
        items = ddb.query(
            TableName=TABLE,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"tx-{run}-{n}"}},
        )["Items"]
        assert len(items) == rounds


def test_an_embedded_aws_that_cannot_start_names_its_log(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        moto = MotoServer(port, tmp_path / "aws.log")
        with pytest.raises(RuntimeError, match=f"embedded AWS \\(moto\\) exited at start; see {tmp_path}/aws.log"):
            moto.start(timeout=30)
    assert f"Port {port} is in use" in (tmp_path / "aws.log").read_text()


def test_a_transaction_repeated_with_its_token_is_written_once_as_on_dynamodb(fixture_stack):
    """botocore retries a timed-out TransactWriteItems with the same ClientRequestToken; DynamoDB
    answers the repeat with the first success (moto alone would apply it again, failing its
    conditions, and a first sign-in under load would answer 409 for a person it had just made)."""
    dynamodb = _strict_dynamodb(fixture_stack.aws_endpoint)
    key = f"token-{uuid.uuid4().hex}"
    item = {"PK": {"S": key}, "SK": {"S": "record"}}
    counter = {
        "Update": {
            "TableName": TABLE,
            "Key": {"PK": {"S": key}, "SK": {"S": "count"}},
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    put = {"Put": {"TableName": TABLE, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}
    for _ in range(2):
        dynamodb.transact_write_items(TransactItems=[put, counter], ClientRequestToken=f"{key}-first")
    count = dynamodb.get_item(TableName=TABLE, Key={"PK": {"S": key}, "SK": {"S": "count"}})["Item"]["n"]
    assert count == {"N": "1"}
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):  # a new token is a new write
        dynamodb.transact_write_items(TransactItems=[put, counter], ClientRequestToken=f"{key}-second")


def test_a_cancelled_transaction_leaves_every_item_as_it_was(fixture_stack):
    """The embedded AWS rolls a transaction back from the items it touched (not from copies of the
    table): a put, an update and a delete before a failing condition are all undone."""
    ddb = fixture_stack.client("dynamodb")
    run = uuid.uuid4().hex[:8]

    def key(name: str) -> dict:
        return {"PK": {"S": f"undo-{run}-{name}"}, "SK": {"S": "record"}}

    ddb.put_item(TableName=TABLE, Item={**key("updated"), "n": {"N": "1"}, "tags": {"SS": ["a", "b"]}})
    ddb.put_item(TableName=TABLE, Item={**key("deleted"), "blob": {"B": b"\x00\xff"}})
    before = {name: ddb.get_item(TableName=TABLE, Key=key(name)).get("Item") for name in ("new", "updated", "deleted")}
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key("new"), "n": {"N": "9"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key("updated"),
                        "UpdateExpression": "SET n = :n REMOVE tags",
                        "ExpressionAttributeValues": {":n": {"N": "2"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": key("deleted")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": key("absent"),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
            ]
        )
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    after = {name: ddb.get_item(TableName=TABLE, Key=key(name)).get("Item") for name in before}
    assert after == before and before["new"] is None and before["updated"]["n"] == {"N": "1"}
    # The same transaction without the failing check applies all three.
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**key("new"), "n": {"N": "9"}}}},
            {"Delete": {"TableName": TABLE, "Key": key("deleted")}},
        ]
    )
    assert ddb.get_item(TableName=TABLE, Key=key("new"))["Item"]["n"] == {"N": "9"}
    assert "Item" not in ddb.get_item(TableName=TABLE, Key=key("deleted"))


def test_a_queue_counts_its_messages_when_asked(fixture_stack):
    sqs = fixture_stack.client("sqs")
    url = sqs.create_queue(QueueName=f"counts-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "60"})[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="taken")
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]) == 1
    counts = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    asked = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=counts)["Attributes"]
    assert asked == dict.fromkeys(counts, "1")
    every = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert {k: every[k] for k in counts} == asked and every["VisibilityTimeout"] == "60"
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "60"
    }


def test_concurrent_receives_never_hand_one_message_to_two_consumers(fixture_stack):
    """As on SQS: a received message stays hidden from every other consumer for its visibility timeout."""
    sqs = fixture_stack.client("sqs")
    url = sqs.create_queue(QueueName=f"consumers-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "60"})[
        "QueueUrl"
    ]
    sent = [str(n) for n in range(300)]
    for start in range(0, len(sent), 10):
        entries = [{"Id": body, "MessageBody": body} for body in sent[start : start + 10]]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    received: list[str] = []

    def consume() -> None:
        client = fixture_stack.client("sqs")
        while True:
            messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return
            received.extend(m["Body"] for m in messages)

    consumers = [threading.Thread(target=consume) for _ in range(12)]
    for consumer in consumers:
        consumer.start()
    for consumer in consumers:
        consumer.join()
    assert sorted(received, key=int) == sent
