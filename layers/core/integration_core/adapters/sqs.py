"""SQS: batched sends (10 entries a call, the API's limit), delayed sends, and visibility changes
that turn a received message into a retry at a chosen time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from integration_core.adapters import aws
from integration_core.errors import ProviderUnavailable

BATCH = 10
MAX_DELAY = 900


@dataclass(frozen=True)
class Outgoing:
    id: str  # unique within one call; a delivery id fits
    body: dict[str, Any]
    delay_seconds: int = 0


@lru_cache(maxsize=1)
def client() -> Any:  # botocore is untyped (pyproject.toml [tool.mypy])
    return aws.client("sqs")


def _call(operation: str, **kwargs: Any) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = getattr(client(), operation)(**kwargs)
        return answer
    except (ClientError, BotoCoreError):
        raise ProviderUnavailable("the queue cannot be reached; try again", retry_after=2) from None


def send_batch(queue_url: str, messages: list[Outgoing]) -> int:
    """Send every message, 10 per call; entries SQS refuses are retried once, then it is an error.
    Returns the number of SendMessageBatch calls made."""
    calls = 0
    for start in range(0, len(messages), BATCH):
        chunk = {m.id: m for m in messages[start : start + BATCH]}
        for _ in range(2):
            entries = [
                {
                    "Id": m.id,
                    "MessageBody": json.dumps(m.body, separators=(",", ":")),
                    "DelaySeconds": max(0, min(MAX_DELAY, m.delay_seconds)),
                }
                for m in chunk.values()
            ]
            answer = _call("send_message_batch", QueueUrl=queue_url, Entries=entries)
            calls += 1
            chunk = {f["Id"]: chunk[f["Id"]] for f in answer.get("Failed", [])}
            if not chunk:
                break
        if chunk:
            raise ProviderUnavailable("the queue refused some messages; try again", retry_after=2)
    return calls


def send(queue_url: str, body: dict[str, Any], delay_seconds: int = 0) -> None:
    _call(
        "send_message",
        QueueUrl=queue_url,
        MessageBody=json.dumps(body, separators=(",", ":")),
        DelaySeconds=max(0, min(MAX_DELAY, delay_seconds)),
    )


def change_visibility(queue_url: str, receipts: dict[str, tuple[str, int]]) -> None:
    """receipts: entry id -> (receipt handle, seconds until the message is visible again)."""
    items = list(receipts.items())
    for start in range(0, len(items), BATCH):
        entries = [
            {"Id": entry_id, "ReceiptHandle": handle, "VisibilityTimeout": seconds}
            for entry_id, (handle, seconds) in items[start : start + BATCH]
        ]
        _call("change_message_visibility_batch", QueueUrl=queue_url, Entries=entries)


# ---------------------------------------------------------------- the admins' view of queues
@dataclass(frozen=True)
class Received:
    message_id: str
    receipt_handle: str
    body: str
    sent_at_ms: int  # SentTimestamp
    receive_count: int


COUNTS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")


def counts(queue_url: str) -> dict[str, int]:
    """The queue's approximate counts: visible, in flight (not visible), delayed."""
    answer = _call("get_queue_attributes", QueueUrl=queue_url, AttributeNames=list(COUNTS))
    attributes = answer.get("Attributes", {})
    return {name: int(attributes.get(name, 0)) for name in COUNTS}


def receive(queue_url: str, *, visibility: int, wait: int = 0, limit: int = BATCH) -> list[Received]:
    """Up to 10 messages, hidden for `visibility` seconds (a dead letter queue's: no redrive counts)."""
    answer = _call(
        "receive_message",
        QueueUrl=queue_url,
        MaxNumberOfMessages=max(1, min(BATCH, limit)),
        VisibilityTimeout=visibility,
        WaitTimeSeconds=wait,
        MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
    )
    return [
        Received(
            message_id=m["MessageId"],
            receipt_handle=m["ReceiptHandle"],
            body=m["Body"],
            sent_at_ms=int(m.get("Attributes", {}).get("SentTimestamp", 0)),
            receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
        )
        for m in answer.get("Messages", [])
    ]


def delete_batch(queue_url: str, receipt_handles: list[str]) -> None:
    for start in range(0, len(receipt_handles), BATCH):
        entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(receipt_handles[start : start + BATCH])]
        _call("delete_message_batch", QueueUrl=queue_url, Entries=entries)


def send_raw(queue_url: str, body: str) -> None:
    """A message body sent again as it was (an internal event back to its handler's queue)."""
    _call("send_message", QueueUrl=queue_url, MessageBody=body)
