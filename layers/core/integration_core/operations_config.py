"""Settings of the operations capability (the admins' integration health and dead letters), read
once from the environment the template sets: for each queue the page watches, its URL and its dead
letter queue's, as OPERATIONS_QUEUE_<NAME> and OPERATIONS_DLQ_<NAME>. The webhook deliveries' set is
named WEBHOOKS; the internal event handlers' sets are named after their consumer (DIRECTORY,
CALENDAR, REMINDERS, VIDEO)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

QUEUE_PREFIX = "OPERATIONS_QUEUE_"
DLQ_PREFIX = "OPERATIONS_DLQ_"
DELIVERIES = "webhooks"


@dataclass(frozen=True)
class WatchedQueue:
    name: str  # webhooks, directory, calendar, ...
    queue_url: str
    dlq_url: str

    @property
    def carries_deliveries(self) -> bool:
        """Webhook deliveries (else internal events for the consumer of this name)."""
        return self.name == DELIVERIES


@lru_cache(maxsize=1)
def watched_queues() -> tuple[WatchedQueue, ...]:
    env = os.environ
    names = sorted(n.removeprefix(QUEUE_PREFIX) for n in env if n.startswith(QUEUE_PREFIX))
    return tuple(
        WatchedQueue(name.lower(), env[QUEUE_PREFIX + name], env.get(DLQ_PREFIX + name, ""))
        for name in names
        if env[QUEUE_PREFIX + name]
    )
