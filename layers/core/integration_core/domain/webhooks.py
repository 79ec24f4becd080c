"""Webhooks: the API's models (subscriptions, deliveries, attempts, statistics, verification). The
queue message and the delivery rules, which the dispatcher and every publisher of events need
without these models, are domain.deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from integration_core.domain.deliveries import (
    EVENT_ID_PATTERN,
    RESPONSE_EXCERPT_BYTES,
    DeliveryStatus,
    ErrorClass,
)
from integration_core.ids import id_pattern
from integration_core.models import ApiModel, RequestModel, unchanged_if_absent

# Webhooks belong to admins and services: an owner is a caller's id (adm_..., svc_...).
OWNER_ID_PATTERN = id_pattern("admin", "service")
# GET /webhooks/{userId} shares its path with reading one webhook (whk_...); any caller's id is
# taken there, so that a student or teacher asking is refused for their role (403), not their id.
USER_ID_PATTERN = id_pattern("student", "teacher", "admin", "service", "webhook")
MAX_EVENTS_PER_WEBHOOK = 50

EventName = Annotated[str, Field(min_length=1, max_length=100)]


def _original_active(model: Any) -> Any:
    """The original's `active` is this service's `isActive`: either may be given, not two values."""
    fields = model.model_fields_set
    if "active" in fields:
        if model.active is None:
            raise ValueError("active must be true or false")
        if "is_active" in fields and model.is_active != model.active:
            raise ValueError("active and isActive say different things; give one")
        model.is_active = model.active
    return model


def _unique_events(events: list[str] | None) -> list[str] | None:
    if events is None:
        return None
    if len(set(events)) != len(events):
        raise ValueError("lists an event type twice")
    return events


# ---------------------------------------------------------------- subscriptions
class WebhookCreate(RequestModel):
    multi_line_fields = frozenset({"description"})

    url: str = Field(min_length=8, max_length=2048, description="https URL of the receiver")
    events: list[EventName] = Field(min_length=1, max_length=MAX_EVENTS_PER_WEBHOOK)
    user_id: str | None = Field(
        default=None, pattern=OWNER_ID_PATTERN, description="Owner (adm_..., svc_...); admins only, default the caller"
    )
    description: str | None = Field(default=None, max_length=500)
    is_active: bool = True
    active: bool | None = Field(default=None, description="The original's name for isActive")
    rate_limit_per_second: int | None = Field(default=None, ge=1, le=1000, description="Deliveries per second at most")

    _unique = field_validator("events")(_unique_events)
    _active = model_validator(mode="after")(_original_active)


class WebhookUpdate(RequestModel):
    """Fields left out stay as they are; null clears the description or the rate limit, and is
    refused for the others."""

    multi_line_fields = frozenset({"description"})

    url: str = unchanged_if_absent(min_length=8, max_length=2048)
    events: list[EventName] = unchanged_if_absent(min_length=1, max_length=MAX_EVENTS_PER_WEBHOOK)
    description: str | None = Field(default=None, max_length=500, description="null clears it")
    is_active: bool = unchanged_if_absent()
    active: bool = unchanged_if_absent(description="The original's name for isActive")
    rate_limit_per_second: int | None = Field(default=None, ge=1, le=1000, description="null removes the limit")

    _unique = field_validator("events")(_unique_events)

    @model_validator(mode="after")
    def _not_empty(self) -> WebhookUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        _original_active(self)
        if "active" in self.model_fields_set:
            self.model_fields_set.add("is_active")
            self.model_fields_set.discard("active")
        return self


def _mirror(values: Any, pairs: dict[str, str]) -> Any:
    """Fill the original's field names from this service's (`pairs`: original -> ours)."""
    if isinstance(values, dict):
        values = dict(values)
        for original, ours in pairs.items():
            if original not in values and ours in values:
                values[original] = values[ours]
    return values


class Webhook(ApiModel):
    """The original's Webhook (id, url, events, active, createdAt, updatedAt; secret at
    registration) beside this service's names for the same values (webhookId, isActive)."""

    id: str = Field(description="The original's name for webhookId")
    webhook_id: str
    user_id: str
    url: str
    events: list[str]
    active: bool = Field(description="The original's name for isActive")
    is_active: bool
    description: str | None = None
    rate_limit_per_second: int | None = None
    created_at: str
    updated_at: str
    disabled_reason: str | None = Field(default=None, description="Why the service disabled it, if it did")
    disabled_at: str | None = None
    secret_rotated_at: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _original_names(cls, values: Any) -> Any:
        return _mirror(values, {"id": "webhook_id", "active": "is_active"})


class WebhookCreated(Webhook):
    secret: str = Field(description="whsec_<base64>: shown once; verify signatures with it")


class SecretRotated(ApiModel):
    webhook_id: str
    secret: str
    previous_secret_valid_until: str = Field(description="Both signatures are sent until then")


# ---------------------------------------------------------------- the catalog and publishing
class EventTypeInfo(ApiModel):
    name: str
    description: str
    schema_: dict[str, Any] = Field(alias="schema")
    example: dict[str, Any]
    subscribable: bool
    published_by: str = Field(
        description="Who publishes it: a capability of this service (payments, enrollments, webhooks), "
        "or external (announced by the center's other systems through POST /events)"
    )
    announceable: bool = Field(description="True when POST /events accepts it (publishedBy external)")


class EventCatalog(ApiModel):
    items: list[EventTypeInfo]


class PublishEvent(RequestModel):
    event_type: EventName
    data: dict[str, Any]
    event_id: str | None = Field(
        default=None, pattern=EVENT_ID_PATTERN, description="Your id for the event: publishing it again is a no-op"
    )
    cause: str | None = Field(default=None, max_length=500, description="What caused it, for the record")


class PublishedEvent(ApiModel):
    event_id: str
    event_type: str
    duplicate: bool = Field(description="True when this event id had been published before")


# ---------------------------------------------------------------- deliveries
class Attempt(ApiModel):
    attempt: int
    at: str
    success: bool
    status_code: int | None = None
    latency_ms: float
    error_class: ErrorClass | None = None
    error: str | None = None
    response_body: str | None = Field(default=None, description=f"At most {RESPONSE_EXCERPT_BYTES} bytes")
    response_headers: dict[str, str] | None = Field(
        default=None,
        description="The receiver's answer headers (names lower-cased; at most 20, values cut to 200 "
        "characters; cookies and authentication headers are not kept); absent when nothing answered",
    )


class Delivery(ApiModel):
    """The original's WebhookDelivery (id, webhookId, eventType, payload, status, attempts,
    responseStatus, responseBody, deliveredAt, nextRetryAt, createdAt) beside this service's names."""

    id: str = Field(description="The original's name for deliveryId")
    delivery_id: str
    webhook_id: str
    event_id: str
    event_type: str
    payload: dict[str, Any] | None = Field(default=None, description="The body the receiver gets, as sent")
    status: DeliveryStatus
    attempts: int
    created_at: str
    updated_at: str
    next_attempt_at: str | None = None
    next_retry_at: str | None = Field(default=None, description="The original's name for nextAttemptAt")
    delivered_at: str | None = None
    last_status_code: int | None = None
    response_status: int | None = Field(default=None, description="The last attempt's HTTP status (lastStatusCode)")
    response_body: str | None = Field(
        default=None, description=f"The last attempt's answer, at most {RESPONSE_EXCERPT_BYTES} bytes"
    )
    last_error: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _original_names(cls, values: Any) -> Any:
        return _mirror(
            values,
            {
                "id": "delivery_id",
                "next_retry_at": "next_attempt_at",
                "response_status": "last_status_code",
                "response_body": "last_response_body",
            },
        )


class DeliveryDetail(Delivery):
    attempt_history: list[Attempt]


class ReplayRequest(RequestModel):
    since: datetime = Field(description="Replay the failed deliveries created at or after this time")

    @field_validator("since")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time with an offset, e.g. 2025-03-01T00:00:00Z")
        return value


class ReplayResult(ApiModel):
    replayed: int
    delivery_ids: list[str]
    more: bool = Field(description="True when more failed deliveries remain; call again")


class Statistics(ApiModel):
    """The original's WebhookStatistics (totalDeliveries, successfulDeliveries, failedDeliveries,
    pendingDeliveries, successRate, averageResponseTime, lastDeliveryAt) beside this service's names."""

    webhook_id: str
    total: int
    total_deliveries: int = Field(description="The original's name for total")
    succeeded: int
    successful_deliveries: int = Field(description="The original's name for succeeded")
    failed: int
    failed_deliveries: int = Field(description="The original's name for failed")
    pending: int
    pending_deliveries: int = Field(description="The original's name for pending")
    success_rate: float | None = Field(description="succeeded / (succeeded + failed), 0 to 1; null before any outcome")
    average_latency_ms: float | None
    average_response_time: float | None = Field(description="Milliseconds: averageLatencyMs")
    worst_latency_ms: float | None
    last_success_at: str | None = None
    last_failure_at: str | None = None
    last_delivery_at: str | None = Field(default=None, description="The later of lastSuccessAt and lastFailureAt")
    consecutive_failures: int
    failing_since: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _original_names(cls, values: Any) -> Any:
        values = _mirror(
            values,
            {
                "total_deliveries": "total",
                "successful_deliveries": "succeeded",
                "failed_deliveries": "failed",
                "pending_deliveries": "pending",
                "average_response_time": "average_latency_ms",
            },
        )
        if isinstance(values, dict) and "last_delivery_at" not in values:
            moments = [m for m in (values.get("last_success_at"), values.get("last_failure_at")) if m]
            values["last_delivery_at"] = max(moments) if moments else None
        return values


class TestResult(ApiModel):
    """The original's WebhookTestResult (success, statusCode, responseTime, responseBody, error,
    timestamp) beside this service's names."""

    success: bool
    status_code: int | None
    response_time_ms: float
    response_time: float = Field(description="Milliseconds: the original's name for responseTimeMs")
    response_body: str | None = Field(
        default=None, description=f"The receiver's answer, at most {RESPONSE_EXCERPT_BYTES} bytes"
    )
    error: str | None
    error_class: ErrorClass | None
    delivery_id: str
    event_id: str
    timestamp: str = Field(description="When the test was sent (testedAt)")
    tested_at: str

    @model_validator(mode="before")
    @classmethod
    def _original_names(cls, values: Any) -> Any:
        return _mirror(values, {"response_time": "response_time_ms", "timestamp": "tested_at"})


class VerifyRequest(RequestModel):
    verbatim_fields = frozenset({"payload"})  # the bytes a signature was computed over, whatever they hold

    payload: str = Field(max_length=256_000, description="The raw body exactly as received")
    headers: dict[str, str] = Field(
        default_factory=dict, description="webhook-id, webhook-timestamp, webhook-signature, or X-Webhook-Signature"
    )
    signature: str | None = Field(default=None, max_length=4000, description="Shorthand for X-Webhook-Signature")


class VerifyResult(ApiModel):
    valid: bool
    scheme: str | None = None
    reason: str | None = None
