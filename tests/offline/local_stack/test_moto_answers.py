"""The embedded AWS's shortcuts answer as moto does: DynamoDB's attribute values written as they
are give the answers moto's own serializer gives, for every type of attribute value (binaries
included) nested in maps and lists; a queue's attributes built once per GetQueueAttributes give
the answers moto gives, counts included, and never an earlier call's."""

from __future__ import annotations

import json

import boto3
import pytest
from moto.core.serialize import BaseJSONSerializer
from moto.sqs.models import Queue, SQSBackend

from offline import _moto

TABLE = "app-table"
ITEM = {
    "PK": {"S": "P#1"},
    "SK": {"S": "A#1"},
    "text": {"S": "naïve ✓"},
    "number": {"N": "-12.5"},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
    "blob": {"B": b"\x00\xffbytes"},
    "blobs": {"BS": [b"a", b"\x01"]},
    "texts": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "nested": {
        "M": {
            "list": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"deep": {"BOOL": False}, "bin": {"B": b"z"}}}, {"L": []}]},
            "empty": {"M": {}},
        }
    },
}
KEY = {"PK": ITEM["PK"], "SK": ITEM["SK"]}


def _answers(client) -> list:
    def clean(answer: dict) -> dict:
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"}

    client.put_item(TableName=TABLE, Item=ITEM)
    client.put_item(TableName=TABLE, Item={"PK": {"S": "P#1"}, "SK": {"S": "A#2"}, "text": {"S": "second"}})
    return [
        clean(client.get_item(TableName=TABLE, Key=KEY)),
        clean(client.get_item(TableName=TABLE, Key={"PK": {"S": "P#none"}, "SK": {"S": "x"}})),
        clean(client.batch_get_item(RequestItems={TABLE: {"Keys": [KEY, {"PK": {"S": "P#1"}, "SK": {"S": "A#2"}}]}})),
        clean(
            client.query(
                TableName=TABLE,
                KeyConditionExpression="PK = :p",
                ExpressionAttributeValues={":p": {"S": "P#1"}},
                Limit=1,
            )
        ),
        clean(client.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": KEY}}])),
        clean(
            client.update_item(
                TableName=TABLE,
                Key=KEY,
                UpdateExpression="SET #n = #n + :one",
                ExpressionAttributeNames={"#n": "number"},
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
            )
        ),
        clean(client.delete_item(TableName=TABLE, Key=KEY, ReturnValues="ALL_OLD")),
    ]


@pytest.fixture
def moto_as_it_is():
    walk = BaseJSONSerializer._serialize_type_structure
    yield
    BaseJSONSerializer._serialize_type_structure = walk


def test_every_dynamodb_answer_is_the_one_motos_serializer_gives(aws, moto_as_it_is):
    client = boto3.client("dynamodb")
    expected = _answers(client)
    assert expected[0]["Item"] == ITEM and expected[2]["Responses"][TABLE]  # the answers hold the items
    _moto._attribute_values_as_they_are()
    assert _answers(client) == expected


@pytest.mark.parametrize(
    "value",
    [{"S": "a"}, {"M": {"l": {"L": [{"NS": ["1"]}, {"NULL": True}]}}}, {"BOOL": False}],
    ids=["string", "nested", "boolean"],
)
def test_a_value_without_binaries_is_plain(value):
    assert _moto._plain(value)


@pytest.mark.parametrize(
    "value",
    [{"B": "YQ=="}, {"M": {"b": {"BS": ["YQ=="]}}}, {"S": 1}, {"BOOL": "true"}, {"S": "a", "N": "1"}, {}],
    ids=["binary", "nested-binary", "number-as-string", "boolean-as-text", "two-kinds", "empty"],
)
def test_a_value_with_binaries_or_unexpected_content_goes_through_motos_serializer(value):
    assert not _moto._plain(value)


COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]


def _queue_answers(client) -> list:
    def attributes(url: str, names: list[str]) -> dict:
        return client.get_queue_attributes(QueueUrl=url, AttributeNames=names).get("Attributes", {})

    dlq = client.create_queue(QueueName="answers-dlq")["QueueUrl"]
    dlq_arn = attributes(dlq, ["QueueArn"])["QueueArn"]
    url = client.create_queue(
        QueueName="answers",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})},
    )["QueueUrl"]
    for body in ("a", "b", "c"):
        client.send_message(QueueUrl=url, MessageBody=body)
    client.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
    client.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=600)
    answers = [attributes(url, ["All"]), attributes(url, COUNTS), attributes(url, ["RedrivePolicy", "QueueArn"])]
    client.send_message(QueueUrl=url, MessageBody="d")
    return [*answers, attributes(url, COUNTS), attributes(dlq, COUNTS)]


@pytest.fixture
def sqs_as_it_is():
    kept = {name: getattr(Queue, name) for name in ["attributes", *map(_snake, COUNTS)]}
    asked = SQSBackend.get_queue_attributes
    yield
    for name, value in kept.items():
        setattr(Queue, name, value)
    SQSBackend.get_queue_attributes = asked


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def test_every_queue_attributes_answer_is_the_one_moto_gives(aws, sqs_as_it_is):
    client = boto3.client("sqs")
    expected = _queue_answers(client)
    assert [expected[1][name] for name in COUNTS] == ["2", "1", "1"]
    assert expected[3]["ApproximateNumberOfMessages"] == "3"
    client.delete_queue(QueueUrl=client.get_queue_url(QueueName="answers")["QueueUrl"])
    client.delete_queue(QueueUrl=client.get_queue_url(QueueName="answers-dlq")["QueueUrl"])
    _moto._queue_counts_when_asked()
    answers = _queue_answers(client)
    times = ("CreatedTimestamp", "LastModifiedTimestamp")
    assert [{k: v for k, v in a.items() if k not in times} for a in answers] == [
        {k: v for k, v in e.items() if k not in times} for e in expected
    ]
