"""Deliveries: the message on the delivery queue and the pure delivery rules (when the next attempt
is due). The dispatcher, the fan-out and every publisher of events import this, not
domain.webhooks: the API's twenty models cost them ~20 ms of cold start to define, unused."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from integration_core.ids import id_pattern

WEBHOOK_ID_PATTERN = id_pattern("webhook")
DELIVERY_ID_PATTERN = id_pattern("delivery")
EVENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,100}$"
RESPONSE_EXCERPT_BYTES = 2048


class DeliveryMessage(BaseModel):
    """The one message on the delivery queue (and its DLQ): which delivery of which webhook and
    event to attempt. Fan-out, retry, replay and the dispatcher's re-sends build it; the
    dispatcher parses it. Built on first use, as the API models are (models.py says why)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)
    delivery_id: str = Field(alias="deliveryId", pattern=DELIVERY_ID_PATTERN)
    webhook_id: str = Field(alias="webhookId", pattern=WEBHOOK_ID_PATTERN)
    event_id: str = Field(alias="eventId", pattern=EVENT_ID_PATTERN)

    def body(self) -> dict[str, str]:
        return self.model_dump(by_alias=True)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ErrorClass(StrEnum):
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    DNS = "dns"
    TLS = "tls"
    HTTP = "http"
    SSRF = "ssrf"
    DISABLED = "disabled"


# ---------------------------------------------------------------- the rules
def next_delay(schedule: tuple[int, ...], attempts_made: int, retry_after: int | None, cap: int) -> int | None:
    """Seconds until the next attempt after `attempts_made` failed ones, or None when that was the
    last. A Retry-After wins when it is longer than the schedule, up to `cap`."""
    if attempts_made >= len(schedule):
        return None
    delay = schedule[attempts_made]
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay
