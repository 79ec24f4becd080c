"""The template's tables and the signing-key secret, created in moto (in-process) for component
tests: boto3 talks to moto, and the resources come from template.yaml itself."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import boto3
import botocore.client
from moto.dynamodb.responses import DynamoHandler

from offline.template import load_template

# Captured at import, before the test fixtures forbid Scans on request paths: a test may read a
# whole table to prove that a refused request wrote nothing.
_UNGUARDED_CALL = botocore.client.BaseClient._make_api_call

ROOT = Path(__file__).resolve().parents[2]
TABLE_NAMES = {"AppTable": "app-table", "IdempotencyTable": "idempotency-table"}
SIGNING_SECRET_NAME = "school-integration/token-signing-key"
CURSOR_SECRET_NAME = "school-integration/cursor-key"


def serve_dynamodb_one_request_at_a_time() -> None:
    """DynamoDB applies each request atomically; moto's backend is not safe for threads calling it at
    once (a conditional write's check and its write can interleave; concurrent transactions fail
    with "dictionary changed size during iteration"), which the race tests do. Its requests are
    served one at a time here, as the local stack's embedded AWS serves them (offline/_moto.py)."""
    if getattr(DynamoHandler.call_action, "one_at_a_time", False):
        return
    turn, original = threading.Lock(), DynamoHandler.call_action

    def call_action(handler: DynamoHandler) -> Any:
        with turn:
            return original(handler)

    call_action.one_at_a_time = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def table_definitions() -> dict[str, dict[str, Any]]:
    resources = load_template(ROOT / "template.yaml")["Resources"]
    return {
        logical_id: resources[logical_id]["Properties"]
        for logical_id in TABLE_NAMES
        if resources[logical_id]["Type"] == "AWS::DynamoDB::Table"
    }


def create_tables() -> None:
    client = boto3.client("dynamodb")
    for logical_id, props in table_definitions().items():
        kwargs: dict[str, Any] = {
            "TableName": TABLE_NAMES[logical_id],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        client.create_table(**kwargs)


def table_contents(name: str) -> list[dict[str, Any]]:
    """Every item of a table (a Scan, for tests only), sorted, to compare before and after."""
    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"TableName": name}
    while True:
        page = _UNGUARDED_CALL(client, "Scan", params)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=repr)


EVENT_BUS_NAME = "domain-events"
ACCOUNT = "123456789012"  # moto's


def _logical(value: Any) -> str:
    """The logical id a `!Ref X` / `!GetAtt X.Arn` of the loaded template names."""
    return value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]


def consumer_queues() -> dict[str, str]:
    """Each internal event consumer's queue, by the function its SQS event feeds: function logical
    id -> queue logical id (the queue's name in moto)."""
    resources = load_template(ROOT / "template.yaml")["Resources"]
    found = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "SQS" and _logical(event["Properties"]["Queue"]) != "WebhookQueue":
                found[logical_id] = _logical(event["Properties"]["Queue"])
    return found


def create_event_bus() -> None:
    """The template's bus and, for each rule on it, the rule (its own pattern) and its target queue."""
    resources = load_template(ROOT / "template.yaml")["Resources"]
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=EVENT_BUS_NAME)
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        props = resource["Properties"]
        events.put_rule(Name=logical_id, EventBusName=EVENT_BUS_NAME, EventPattern=json.dumps(props["EventPattern"]))
        for target in props["Targets"]:
            queue = _logical(target["Arn"])
            arn = f"arn:aws:sqs:{boto3.session.Session().region_name}:{ACCOUNT}:{queue}"
            sqs.create_queue(QueueName=queue)
            events.put_targets(
                Rule=logical_id,
                EventBusName=EVENT_BUS_NAME,
                Targets=[{"Id": target["Id"], "Arn": arn}],
            )
