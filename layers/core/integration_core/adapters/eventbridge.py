"""EventBridge: PutEvents in batches of 10 (the API's limit), answering which entries the bus took."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from integration_core.adapters import aws
from integration_core.observability import logger

BATCH = 10


@dataclass(frozen=True)
class BusEntry:
    id: str  # ours (the domain event id), to tell which entries the bus refused
    source: str
    detail_type: str
    detail: dict[str, Any]


@lru_cache(maxsize=1)
def client() -> Any:  # botocore is untyped (pyproject.toml [tool.mypy])
    return aws.client("events")


def put(bus_name: str, entries: list[BusEntry]) -> set[str]:
    """Put every entry on the bus; returns the ids of those it accepted. A refused entry or an
    unreachable bus is not an error here: the caller keeps what was not accepted for a later try."""
    accepted: set[str] = set()
    for start in range(0, len(entries), BATCH):
        chunk = entries[start : start + BATCH]
        request = [
            {
                "EventBusName": bus_name,
                "Source": e.source,
                "DetailType": e.detail_type,
                "Detail": json.dumps(e.detail, separators=(",", ":"), ensure_ascii=False),
            }
            for e in chunk
        ]
        try:
            answer = client().put_events(Entries=request)
        except (ClientError, BotoCoreError) as error:
            logger.warning("the event bus cannot be reached", extra={"error": type(error).__name__})
            continue
        # Results come back in the order of the request; a refused one carries an ErrorCode.
        for entry, result in zip(chunk, answer.get("Entries", []), strict=False):
            if result.get("EventId") and not result.get("ErrorCode"):
                accepted.add(entry.id)
            else:
                logger.warning(
                    "the event bus refused an event", extra={"event_id": entry.id, "code": result.get("ErrorCode")}
                )
    return accepted
