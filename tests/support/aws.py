"""The template's tables and the signing-key secret, created in moto (in-process) for component
tests: boto3 talks to moto, and the resources come from template.yaml itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from offline.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TABLE_NAMES = {"AppTable": "app-table", "IdempotencyTable": "idempotency-table"}
SIGNING_SECRET_NAME = "school-integration/token-signing-key"


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
