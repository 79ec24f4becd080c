"""What the admins' operations page shows: every integration's health at a glance, the dead
letters of the delivery queue and of the internal event handlers' queues, and replaying them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from integration_core.models import ApiModel, RequestModel

QUEUE_NAME = r"^[a-z][a-z0-9_]{1,40}$"
MESSAGE_ID = r"^[A-Za-z0-9-]{1,100}$"
MessageId = Annotated[str, StringConstraints(pattern=MESSAGE_ID)]
REPLAY_BATCH = 20  # messages one replay call takes from a dead letter queue
LISTED = 50  # items a part of the health, or a listing of dead letters, shows at most
DELIVERIES, EVENTS = "deliveries", "events"  # what a queue carries


class ProviderHealth(ApiModel):
    provider: str = Field(description="The provider's name as its adapter calls it (stripe, paypal, google, ...)")
    title: str
    last_success_at: str | None = Field(description="When it last answered (any answer below 500)")
    last_failure_at: str | None = Field(description="When it last could not be reached, timed out, failed or throttled")
    last_failure: str | None = Field(description="What failed then (no provider body)")
    healthy: bool | None = Field(description="False when its last outcome was a failure; None when never called")


class BrokenCalendar(ApiModel):
    user_id: str
    google_email: str | None
    broken_at: str | None
    broken_reason: str | None


class TroubledWebhook(ApiModel):
    webhook_id: str
    user_id: str | None
    url: str | None
    state: str = Field(description="failing (every recent delivery failed) or disabled")
    failing_since: str | None
    consecutive_failures: int
    last_failure_at: str | None
    disabled_reason: str | None


class QueueHealth(ApiModel):
    name: str = Field(description="webhooks (deliveries) or the consumer of internal events")
    carries: str = Field(description="deliveries or events")
    backlog: int = Field(description="Messages waiting (visible and delayed)")
    in_flight: int
    oldest_message_age_seconds: int | None = Field(
        description="CloudWatch's ApproximateAgeOfOldestMessage (last 5 min); null when unknown or empty"
    )
    dead_letters: int = Field(description="Approximate count of its dead letter queue")
    behind: bool = Field(description="Waiting messages older than a minute, or dead letters present")


class IntegrationHealth(ApiModel):
    checked_at: str
    providers: list[ProviderHealth]
    broken_calendars: list[BrokenCalendar]
    webhooks: list[TroubledWebhook]
    queues: list[QueueHealth]
    dead_letters: int = Field(description="All dead letters, every queue")


class DeadLetter(ApiModel):
    message_id: str
    queue: str
    carries: str = Field(description="deliveries or events")
    first_queued_at: str | None = Field(description="When the message was first sent (SQS SentTimestamp)")
    receive_count: int
    # a delivery's
    delivery_id: str | None = None
    webhook_id: str | None = None
    webhook_url: str | None = None
    status: str | None = Field(default=None, description="The delivery's status now")
    attempts: int | None = None
    last_error: str | None = None
    last_status_code: int | None = None
    # an event's (the delivery's event too)
    event_id: str | None = None
    event_type: str | None = None


class DeadLetters(ApiModel):
    queue: str
    items: list[DeadLetter]
    approximate_count: int = Field(description="The dead letter queue's approximate count")
    more: bool = Field(description="More dead letters than listed")


class ReplayDeadLetters(RequestModel):
    queue: str = Field(pattern=QUEUE_NAME, description="webhooks, or an internal consumer (directory, calendar, ...)")
    message_ids: list[MessageId] | None = Field(
        default=None,
        max_length=REPLAY_BATCH,
        description="These dead letters only; leave out to replay all (20 a call: call again while remaining > 0)",
    )


class ReplayedDeadLetters(ApiModel):
    queue: str
    replayed: int = Field(description="Sent back as fresh attempts (a delivery) or to the handler's queue (an event)")
    already_done: int = Field(
        description="Taken off the dead letter queue with nothing to do (replayed or delivered before, webhook deleted)"
    )
    kept: int = Field(description="Left in the dead letter queue (its webhook is disabled)")
    replayed_ids: list[str]
    not_found: list[str] = Field(description="Asked-for message ids not in the dead letter queue (now)")
    remaining: int = Field(description="The dead letter queue's approximate count after this call")
