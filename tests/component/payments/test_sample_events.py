"""The sample events in events/ (what `sam local invoke -e` would use) against the functions."""

from __future__ import annotations

import boto3

from tests.support.lambdas import invoke, sample_event


def test_history_sample_answers_an_empty_page(world):
    answer = invoke("payments", sample_event("payments/get_history.json"))
    assert (answer.status, answer.body) == (200, {"items": [], "nextCursor": None})


def test_callback_sample_with_a_signature_from_2023_is_refused_and_writes_nothing(world):
    answer = invoke("payment_callbacks", sample_event("payment_callbacks/stripe_event.json"))
    assert answer.status == 400
    assert answer.content_type == "application/problem+json"
    table = boto3.client("dynamodb")
    key = {"PK": {"S": "PROVIDER_EVENT#stripe#evt_sample"}, "SK": {"S": "EVENT"}}
    assert "Item" not in table.get_item(TableName="app-table", Key=key)
