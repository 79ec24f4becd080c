"""Deliveries: the message on the delivery queue and the pure delivery rules (when the next attempt
is due). The dispatcher, the fan-out and every publisher of events import this, not
domain.webhooks: the API's twenty models cost them ~20 ms of cold start to define, unused.

The queue message is a plain dataclass, not a pydantic model: this service writes it and only its
three ids are checked, while importing pydantic costs ~130 ms of the cold start of every function
that sends or reads one (the dispatcher, the callbacks, the reminder), a third of a bare boto3
function's whole cold start. The API's models stay pydantic (integration_core.models)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from integration_core.ids import id_pattern

WEBHOOK_ID_PATTERN = id_pattern("webhook")
DELIVERY_ID_PATTERN = id_pattern("delivery")
EVENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,100}$"
RESPONSE_EXCERPT_BYTES = 2048


class MalformedMessage(ValueError):
    """A queue body that is not a delivery message: the dispatcher leaves it to the DLQ."""


# Each field: its name on the wire and the pattern its value must match whole.
_WIRE = {
    "delivery_id": ("deliveryId", re.compile(DELIVERY_ID_PATTERN)),
    "webhook_id": ("webhookId", re.compile(WEBHOOK_ID_PATTERN)),
    "event_id": ("eventId", re.compile(EVENT_ID_PATTERN)),
}


@dataclass(frozen=True)
class DeliveryMessage:
    """The one message on the delivery queue (and its DLQ): which delivery of which webhook and
    event to attempt. Fan-out, retry, replay and the dispatcher's re-sends build it; the
    dispatcher parses it (`parse`). An id that does not match its pattern is refused either way."""

    delivery_id: str
    webhook_id: str
    event_id: str

    def __post_init__(self) -> None:
        for name, (wire, pattern) in _WIRE.items():
            value = getattr(self, name)
            if not isinstance(value, str) or not pattern.fullmatch(value):
                raise MalformedMessage(f"{wire}: {value!r} does not match {pattern.pattern}")

    @classmethod
    def parse(cls, body: str | bytes) -> DeliveryMessage:
        """The message in a queue body (JSON; fields besides the three ids are ignored)."""
        try:
            data = json.loads(body)
        except ValueError:
            raise MalformedMessage("the body is not JSON") from None
        if not isinstance(data, dict):
            raise MalformedMessage("the body is not a JSON object")
        missing = [wire for wire, _ in _WIRE.values() if wire not in data]
        if missing:
            raise MalformedMessage(f"{', '.join(missing)}: missing")
        return cls(**{name: data[wire] for name, (wire, _) in _WIRE.items()})

    def body(self) -> dict[str, str]:
        return {wire: getattr(self, name) for name, (wire, _) in _WIRE.items()}


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
