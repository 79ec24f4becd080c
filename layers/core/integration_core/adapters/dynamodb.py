"""DynamoDB: the single table through the low-level client (lighter to import than the resource
API). Pages carry an opaque, authenticated cursor (integration_core.cursors) for callers, the raw
start key for code that pages itself; transactions are how state changes that belong together
happen at once. No Scan here: every read is GetItem, Query or BatchGetItem."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from integration_core import cursors
from integration_core.adapters import aws
from integration_core.adapters.dynamodb_types import deserialize, serialize
from integration_core.errors import BadRequest, ProviderUnavailable

_RETRYABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}
MAX_PAGE = 100


class ConditionFailed(Exception):
    """A conditional write did not apply; `reasons` has one entry per transaction item."""

    def __init__(self, reasons: list[str] | None = None) -> None:
        super().__init__("condition failed")
        self.reasons = reasons or []


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    last_key: dict[str, Any] | None  # raw: for code that pages itself (query(after=...))
    list_id: str = ""

    @property
    def next_cursor(self) -> str | None:
        """The cursor a caller passes for the next page (sealed on first use, for this list and caller)."""
        return cursors.seal(self.last_key, self.list_id) if self.last_key else None


@lru_cache(maxsize=1)
def client() -> Any:  # botocore is untyped (pyproject.toml [tool.mypy])
    return aws.client("dynamodb")


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: serialize(v) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def _call(operation: str, **kwargs: Any) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = getattr(client(), operation)(**kwargs)
        return answer
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed(["ConditionalCheckFailed"]) from None
        if code == "TransactionCanceledException":
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons:
                raise ConditionFailed(reasons) from None
            raise ProviderUnavailable("the database is busy; try again", retry_after=1) from None
        if code in _RETRYABLE:
            raise ProviderUnavailable("the database is busy; try again", retry_after=1) from None
        if code == "ValidationException" and "ExclusiveStartKey" in kwargs:
            raise BadRequest(
                "cursor does not belong to this list", errors=[{"field": "cursor", "reason": "foreign"}]
            ) from None
        raise
    except BotoCoreError:
        raise ProviderUnavailable("the database cannot be reached; try again", retry_after=2) from None


class Table:
    def __init__(self, name: str) -> None:
        self.name = name

    def get(self, pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
        answer = _call("get_item", TableName=self.name, Key=to_item({"PK": pk, "SK": sk}), ConsistentRead=consistent)
        return from_item(answer["Item"]) if "Item" in answer else None

    def put(self, item: dict[str, Any], condition: str | None = None, **expression: Any) -> None:
        _call("put_item", TableName=self.name, Item=to_item(item), **_condition(condition, **expression))

    def delete(self, pk: str, sk: str, condition: str | None = None, **expression: Any) -> None:
        key = to_item({"PK": pk, "SK": sk})
        _call("delete_item", TableName=self.name, Key=key, **_condition(condition, **expression))

    def update(self, pk: str, sk: str, update: str, condition: str | None = None, **expression: Any) -> dict[str, Any]:
        answer = _call(
            "update_item",
            TableName=self.name,
            Key=to_item({"PK": pk, "SK": sk}),
            UpdateExpression=update,
            ReturnValues="ALL_NEW",
            **_condition(condition, **expression),
        )
        return from_item(answer["Attributes"])

    def query(
        self,
        pk: str,
        *,
        sk_prefix: str | None = None,
        index: str | None = None,
        limit: int = 25,
        cursor: str | None = None,
        after: dict[str, Any] | None = None,
        newest_first: bool = False,
    ) -> Page:
        """One page; the next starts from `cursor` (a caller's, verified) or `after` (a raw last_key)."""
        pk_name, sk_name = ("GSI1PK", "GSI1SK") if index == "GSI1" else ("PK", "SK")
        condition = "#pk = :pk"
        names = {"#pk": pk_name}
        values: dict[str, Any] = {":pk": pk}
        if sk_prefix:
            condition += " AND begins_with(#sk, :sk)"
            names["#sk"] = sk_name
            values[":sk"] = sk_prefix
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
            "Limit": max(1, min(limit, MAX_PAGE)),
            "ScanIndexForward": not newest_first,
        }
        if index:
            kwargs["IndexName"] = index
        # The list a cursor belongs to: the query itself.
        list_id = "\x1f".join([self.name, index or "", pk, sk_prefix or "", "desc" if newest_first else "asc"])
        start = cursors.unseal(cursor, list_id) if cursor else after
        if start:
            kwargs["ExclusiveStartKey"] = start
        answer = _call("query", **kwargs)
        return Page(
            items=[from_item(i) for i in answer.get("Items", [])],
            last_key=answer.get("LastEvaluatedKey"),
            list_id=list_id,
        )

    def batch_get(self, keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Items for up to 100 keys, in the order asked, missing ones left out."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        pending = [to_item({"PK": pk, "SK": sk}) for pk, sk in dict.fromkeys(keys)]
        while pending:
            answer = _call("batch_get_item", RequestItems={self.name: {"Keys": pending[:100]}})
            for raw in answer["Responses"].get(self.name, []):
                item = from_item(raw)
                found[(item["PK"], item["SK"])] = item
            pending = pending[100:] + answer.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
        return [found[k] for k in keys if k in found]

    def transact(self, operations: list[dict[str, Any]], token: str | None = None) -> None:
        """All or nothing; build operations with put_op, delete_op, update_op and check_op."""
        kwargs: dict[str, Any] = {"TransactItems": operations}
        if token:
            kwargs["ClientRequestToken"] = token
        _call("transact_write_items", **kwargs)

    # Operation builders for transact().
    def put_op(self, item: dict[str, Any], condition: str | None = None, **expression: Any) -> dict:
        return {"Put": {"TableName": self.name, "Item": to_item(item), **_condition(condition, **expression)}}

    def delete_op(self, pk: str, sk: str, condition: str | None = None, **expression: Any) -> dict:
        key = to_item({"PK": pk, "SK": sk})
        return {"Delete": {"TableName": self.name, "Key": key, **_condition(condition, **expression)}}

    def update_op(self, pk: str, sk: str, update: str, condition: str | None = None, **expression: Any) -> dict:
        return {
            "Update": {
                "TableName": self.name,
                "Key": to_item({"PK": pk, "SK": sk}),
                "UpdateExpression": update,
                **_condition(condition, **expression),
            }
        }

    def check_op(self, pk: str, sk: str, condition: str, **expression: Any) -> dict:
        key = to_item({"PK": pk, "SK": sk})
        return {"ConditionCheck": {"TableName": self.name, "Key": key, **_condition(condition, **expression)}}


def _condition(
    condition: str | None, names: dict[str, str] | None = None, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if condition:
        kwargs["ConditionExpression"] = condition
    if names:
        kwargs["ExpressionAttributeNames"] = names
    if values:
        kwargs["ExpressionAttributeValues"] = to_item(values)
    return kwargs


@lru_cache(maxsize=4)
def table(name: str) -> Table:
    return Table(name)
