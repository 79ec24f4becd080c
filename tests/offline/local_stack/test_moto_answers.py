"""The embedded AWS writes DynamoDB's attribute values as they are: every read and write answer is
the one moto's own serializer gives, for every type of attribute value (binaries included) nested
in maps and lists."""

from __future__ import annotations

import boto3
import pytest
from moto.core.serialize import BaseJSONSerializer

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
