"""The moto shim of the local stack's embedded AWS and of the benchmarks answers every Query
exactly as moto does (items, order, LastEvaluatedKey), page after page, on the table and on GSI1,
forwards and backwards, with and without a sort-key condition or a filter, and after writes that
move items between partitions."""

from __future__ import annotations

import random

import boto3
import pytest

from offline import moto_partitions

TABLE = "app-table"


def _pages(client, **query) -> list[tuple[list[dict], dict | None]]:
    pages, start = [], None
    while True:
        answer = client.query(TableName=TABLE, **query, **({"ExclusiveStartKey": start} if start else {}))
        start = answer.get("LastEvaluatedKey")
        pages.append((answer["Items"], start))
        if not start:
            return pages


def _queries(limits: tuple[int, ...] = (2, 25)) -> list[dict]:
    found = []
    for pk, attr, index in (("P#1", "PK", None), ("G#1", "GSI1PK", "GSI1"), ("P#empty", "PK", None)):
        sk = "SK" if index is None else "GSI1SK"
        for condition, values in (
            (None, {}),
            ("begins_with(#sk, :a)", {":a": {"S": "A#"}}),
            ("#sk BETWEEN :a AND :b", {":a": {"S": "A#03"}, ":b": {"S": "B#07"}}),
            ("#sk > :a", {":a": {"S": "B#"}}),
            ("#sk <= :a", {":a": {"S": "A#10"}}),
        ):
            for limit in limits:
                for forward in (True, False):
                    names = {"#pk": attr} | ({"#sk": sk} if condition else {})
                    query = {
                        "KeyConditionExpression": "#pk = :pk" + (f" AND {condition}" if condition else ""),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": {":pk": {"S": pk}} | values,
                        "Limit": limit,
                        "ScanIndexForward": forward,
                    }
                    found.append(query | ({"IndexName": index} if index else {}))
                    if condition is None:  # a filter applies after the limit
                        filtered = query | {"FilterExpression": "n > :ten"}
                        filtered["ExpressionAttributeValues"] = query["ExpressionAttributeValues"] | {
                            ":ten": {"N": "10"}
                        }
                        found.append(filtered | ({"IndexName": index} if index else {}))
    return found


def _answers(client, limits: tuple[int, ...] = (2, 25)) -> list:
    return [_pages(client, **q) for q in _queries(limits)]


@pytest.fixture
def table(aws):
    client = boto3.client("dynamodb")
    rng = random.Random(15)
    for n in range(60):
        item = {"PK": {"S": f"P#{n % 3}"}, "SK": {"S": f"{rng.choice('AB')}#{n:02d}"}, "n": {"N": str(n)}}
        if n % 2:
            item |= {"GSI1PK": {"S": f"G#{n % 4}"}, "GSI1SK": {"S": f"{rng.choice('AB')}#{n % 17:02d}"}}
        client.put_item(TableName=TABLE, Item=item)
    yield client
    moto_partitions.uninstall()


def test_the_shim_answers_every_query_as_moto_does(table):
    expected = _answers(table)
    assert any(len(pages) > 3 for pages in expected) and any(len(p[0][0]) > 5 for p in expected)  # the queries do page
    moto_partitions.install()
    assert _answers(table) == expected


def test_writes_that_move_items_are_seen_by_the_next_query(table):
    moto_partitions.install()
    _answers(table, (25,))  # every partition is cached now
    moto_partitions.uninstall()
    table.put_item(TableName=TABLE, Item={"PK": {"S": "P#1"}, "SK": {"S": "A#000"}, "GSI1PK": {"S": "G#1"},
                                          "GSI1SK": {"S": "A#000"}})  # fmt: skip
    expected_after_put = _answers(table, (25,))
    moto_partitions.install()
    table.put_item(TableName=TABLE, Item={"PK": {"S": "P#1"}, "SK": {"S": "A#000"}, "GSI1PK": {"S": "G#1"},
                                          "GSI1SK": {"S": "A#000"}})  # fmt: skip
    assert _answers(table, (25,)) == expected_after_put

    moved = {"PK": {"S": "P#1"}, "SK": {"S": "A#01"}}
    for client_call in (
        lambda: table.update_item(TableName=TABLE, Key=moved, UpdateExpression="SET GSI1PK = :g, GSI1SK = :s",
                                  ExpressionAttributeValues={":g": {"S": "G#1"}, ":s": {"S": "A#999"}}),
        lambda: table.update_item(TableName=TABLE, Key=moved, UpdateExpression="REMOVE GSI1PK, GSI1SK"),
        lambda: table.delete_item(TableName=TABLE, Key={"PK": {"S": "P#1"}, "SK": {"S": "B#04"}}),
        lambda: table.batch_write_item(RequestItems={TABLE: [
            {"PutRequest": {"Item": {"PK": {"S": "P#1"}, "SK": {"S": "B#05x"}}}},
            {"DeleteRequest": {"Key": {"PK": {"S": "P#1"}, "SK": {"S": "A#000"}}}},
        ]}),
        lambda: table.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {"PK": {"S": "P#1"}, "SK": {"S": "A#05y"}, "GSI1PK": {"S": "G#1"},
                                                  "GSI1SK": {"S": "A#05y"}}}},
        ]),
    ):  # fmt: skip
        client_call()
        shimmed = _answers(table, (25,))
        moto_partitions.uninstall()
        assert shimmed == _answers(table, (25,))
        moto_partitions.install()
