"""Settings of the webhooks capability, read once from the environment the template sets. Tests
and the local stack scale the delays down through the same variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_RETRY_SCHEDULE = (0, 5, 30, 300, 900)
SQS_MAX_DELAY = 900  # DelaySeconds limit; the schedule stays within it


@dataclass(frozen=True)
class WebhookSettings:
    queue_url: str
    dlq_url: str
    retry_schedule: tuple[int, ...]  # delay before each attempt, seconds; len = attempts
    retry_after_cap: int  # the most a receiver's Retry-After can push an attempt back
    max_receive_count: int  # the queue's redrive maxReceiveCount
    attempt_retention_days: int
    secret_overlap_seconds: int
    disable_after_seconds: int
    sweep_grace_seconds: int  # an outbox item younger than this is still being dispatched
    connect_timeout: float
    total_timeout: float
    concurrency: int
    allow_loopback: bool


def _schedule(raw: str | None) -> tuple[int, ...]:
    if not raw:
        return DEFAULT_RETRY_SCHEDULE
    delays = tuple(int(part) for part in raw.replace(" ", "").split(",") if part)
    if not delays or any(d < 0 or d > SQS_MAX_DELAY for d in delays):
        raise ValueError(f"WEBHOOK_RETRY_SCHEDULE must be 1+ delays between 0 and {SQS_MAX_DELAY} s")
    return delays


@lru_cache(maxsize=1)
def webhook_settings() -> WebhookSettings:
    env = os.environ
    schedule = _schedule(env.get("WEBHOOK_RETRY_SCHEDULE"))
    return WebhookSettings(
        queue_url=env.get("WEBHOOK_QUEUE_URL", ""),
        dlq_url=env.get("WEBHOOK_DLQ_URL", ""),
        retry_schedule=schedule,
        retry_after_cap=int(env.get("WEBHOOK_RETRY_AFTER_CAP_SECONDS", str(SQS_MAX_DELAY))),
        max_receive_count=int(env.get("WEBHOOK_MAX_RECEIVE_COUNT", str(len(schedule)))),
        attempt_retention_days=int(env.get("WEBHOOK_ATTEMPT_RETENTION_DAYS", "30")),
        secret_overlap_seconds=int(env.get("WEBHOOK_SECRET_OVERLAP_SECONDS", str(24 * 3600))),
        disable_after_seconds=int(env.get("WEBHOOK_DISABLE_AFTER_SECONDS", str(3 * 24 * 3600))),
        sweep_grace_seconds=int(env.get("WEBHOOK_SWEEP_GRACE_SECONDS", "60")),
        connect_timeout=float(env.get("WEBHOOK_CONNECT_TIMEOUT_SECONDS", "5")),
        total_timeout=float(env.get("WEBHOOK_TOTAL_TIMEOUT_SECONDS", "15")),
        concurrency=int(env.get("WEBHOOK_CONCURRENCY", "50")),
        allow_loopback=env.get("WEBHOOKS_ALLOW_LOOPBACK", "").lower() == "true",
    )


def secret_key_id() -> str:
    """The KMS key webhook signing secrets are encrypted with (the template's UserTokenKey). Read on
    each use rather than cached with the settings: it names a key, not a value to keep."""
    return os.environ.get("WEBHOOK_SECRET_KEY_ID", "")
