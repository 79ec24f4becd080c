"""Webhooks for their owners: register, list, change, delete, rotate the secret, test, delivery
history, retry and replay, statistics, signature verification; and the scheduled auto-disable.

Only admins and service accounts own webhooks (the events carry center-wide data); an owner sees
and changes only their own, admins everything."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from integration_core import timeutil
from integration_core.adapters import sqs
from integration_core.domain import signatures
from integration_core.domain.deliveries import RESPONSE_EXCERPT_BYTES, DeliveryStatus
from integration_core.domain.events import CATALOG, TEST_EVENT
from integration_core.domain.ssrf import UnsafeUrl
from integration_core.domain.webhooks import (
    Delivery,
    DeliveryDetail,
    EventCatalog,
    EventTypeInfo,
    ReplayRequest,
    ReplayResult,
    SecretRotated,
    Statistics,
    TestResult,
    VerifyRequest,
    VerifyResult,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookUpdate,
)
from integration_core.errors import Conflict, Forbidden, NotFound, Unprocessable, field_error, invalid
from integration_core.ids import new_id
from integration_core.models import PageOf
from integration_core.observability import logger
from integration_core.principal import Principal, Role
from integration_core.services import events as outbox
from integration_core.services import webhook_secrets
from integration_core.stores import outbox as outbox_store
from integration_core.stores import webhooks as webhook_store
from integration_core.stores.common import Outcome
from integration_core.stores.webhooks import WebhookStore, public
from integration_core.webhook_config import webhook_settings

OWNERS = (Role.ADMIN, Role.SERVICE)
REPLAY_LIMIT = 100


def _store() -> WebhookStore:
    return webhook_store.store()


def _now() -> str:
    return timeutil.iso_utc(timeutil.utc_now())


def _check_url(url: str) -> None:
    # The HTTP sender's module (httpx) loads only where a URL is checked or a test is sent, not in
    # every function that reads webhooks (the list routes, the scheduled maintenance).
    from integration_core.adapters.webhook_http import check_url

    try:
        check_url(url, webhook_settings().allow_loopback)
    except UnsafeUrl as unsafe:
        raise Unprocessable(
            f"url: {unsafe.detail}", errors=[{**field_error("url", unsafe.detail), "code": unsafe.reason}]
        ) from None


def _check_events(events: list[str]) -> None:
    for index, name in enumerate(events):
        entry = CATALOG.get(name)
        if entry is None or not entry.subscribable:
            raise invalid(f"events[{index}]", f"{name!r} is not an event type one can subscribe to")


def _load(webhook_id: str) -> dict[str, Any]:
    item = _store().webhook(webhook_id)
    if item is None:
        raise NotFound(f"webhook {webhook_id} does not exist")
    return webhook_secrets.migrated(item)


def _owned(principal: Principal, webhook_id: str) -> dict[str, Any]:
    item = _load(webhook_id)
    principal.require_owner_or_admin(item["user_id"])
    return item


# ---------------------------------------------------------------- subscriptions
def register(principal: Principal, data: WebhookCreate) -> WebhookCreated:
    principal.require(*OWNERS)
    owner = data.user_id or principal.sub
    if not (principal.is_admin or principal.owns(owner)):
        raise Forbidden("only admins register webhooks for someone else")
    _check_events(data.events)
    _check_url(data.url)
    webhook_id = new_id("webhook")
    now = _now()
    secret = signatures.new_secret()
    item = {
        "webhook_id": webhook_id,
        "user_id": owner,
        "url": data.url,
        "events": data.events,
        "is_active": data.is_active,
        "description": data.description,
        "rate_limit_per_second": data.rate_limit_per_second,
        "secret_ciphertext": webhook_secrets.seal(webhook_id, secret),
        "created_at": now,
        "updated_at": now,
    }
    _store().create(item)
    logger.info("webhook registered", extra={"webhook_id": webhook_id, "user_id": owner, "events": data.events})
    return WebhookCreated.model_validate({**public(item), "secret": secret})


def registered(principal: Principal, webhook_id: str) -> WebhookCreated:
    """A registration's answer again (an Idempotency-Key repeat): the webhook with its secret."""
    item = _owned(principal, webhook_id)
    return WebhookCreated.model_validate({**public(item), "secret": webhook_secrets.current(item)})


def list_for_user(principal: Principal, user_id: str, limit: int, cursor: str | None) -> PageOf[Webhook]:
    principal.require(*OWNERS)
    principal.require_owner_or_admin(user_id)
    page = _store().webhooks_of(user_id, limit, cursor)
    return PageOf[Webhook](items=[Webhook.model_validate(w) for w in page.items], next_cursor=page.next_cursor)


def get(principal: Principal, webhook_id: str) -> Webhook:
    return Webhook.model_validate(public(_owned(principal, webhook_id)))


def update(principal: Principal, webhook_id: str, changes: WebhookUpdate) -> Webhook:
    current = _owned(principal, webhook_id)
    fields = changes.model_dump(exclude_unset=True, by_alias=False)
    if fields.get("events") is not None:
        _check_events(fields["events"])
    if fields.get("url") is not None:
        _check_url(fields["url"])
    fields = {k: v for k, v in fields.items() if v is not None or k in ("description", "rate_limit_per_second")}
    now = _now()
    reenabled = fields.get("is_active") is True and not current["is_active"]
    fields["updated_at"] = now
    sets = {k: v for k, v in fields.items() if v is not None}
    removes = [k for k, v in fields.items() if v is None]
    if reenabled:
        removes += ["disabled_reason", "disabled_at"]
    was = set(current["events"]) if current["is_active"] else set()
    will_active = fields.get("is_active", current["is_active"])
    will = set(fields.get("events") or current["events"]) if will_active else set()
    # Re-enabled: a fresh start for auto-disable, the failing period counts again from the next failure.
    outcome = _store().update(current, sets, removes, sorted(will - was), sorted(was - will), reset_failing=reenabled)
    if outcome is Outcome.RACED:
        raise Conflict(f"webhook {webhook_id} changed meanwhile; read it again")
    result = {**current, **sets}
    for name in removes:
        result.pop(name, None)
    return Webhook.model_validate(public(result))


def delete(principal: Principal, webhook_id: str) -> None:
    _store().delete(_owned(principal, webhook_id))


def rotate_secret(principal: Principal, webhook_id: str) -> SecretRotated:
    current = _owned(principal, webhook_id)
    overlap = webhook_settings().secret_overlap_seconds
    secret = signatures.new_secret()
    now = timeutil.utc_now()
    valid_until = int(now.timestamp()) + overlap
    sealed = webhook_secrets.seal(webhook_id, secret)
    if _store().rotate_secret(current, sealed, valid_until, timeutil.iso_utc(now)) is Outcome.RACED:
        raise Conflict("the secret was rotated meanwhile; try again")
    return SecretRotated(
        webhook_id=webhook_id,
        secret=secret,
        previous_secret_valid_until=timeutil.iso_utc(datetime.fromtimestamp(valid_until, now.tzinfo)),
    )


# ---------------------------------------------------------------- sending now
def test(principal: Principal, webhook_id: str) -> TestResult:
    """Send a webhook.test event now (one attempt, recorded in the history like any delivery)."""
    from integration_core.services import delivery as dispatcher  # the sender: see _check_url

    webhook = _owned(principal, webhook_id)
    now = _now()
    event_id = new_id("event")
    data = {"message": "This is a test event.", "webhookId": webhook_id, "requestedBy": principal.sub}
    event = outbox_store.event_record(event_id, TEST_EVENT, data, now, f"test requested by {principal.sub}")
    delivery_id = outbox.delivery_id_for(event_id, webhook_id)
    delivery = outbox_store.delivery_record(delivery_id, webhook_id, event, now)
    outbox_store.record_test(event, delivery)
    job = dispatcher.deliver_now(dispatcher.Job(None, delivery, webhook, event, final_on_failure=True))
    outcome = job.outcome
    assert outcome is not None
    return TestResult.model_validate(
        {
            "success": outcome.success,
            "status_code": outcome.status_code,
            "response_time_ms": outcome.latency_ms,
            "response_body": (outcome.body_excerpt or "")[:RESPONSE_EXCERPT_BYTES] or None,
            "tested_at": timeutil.iso_utc(datetime.fromtimestamp(outcome.started_at, UTC))
            if outcome.started_at
            else now,
            "error": outcome.error,
            "error_class": outcome.error_class,
            "delivery_id": delivery_id,
            "event_id": event_id,
        }
    )


# ---------------------------------------------------------------- history, retry, replay
def _with_payloads(heads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each delivery with the body its receiver gets (the original's `payload`), from its event:
    one BatchGetItem for a page, the event kept once rather than copied into every delivery."""
    found = outbox_store.events([h["event_id"] for h in heads])
    return [
        {
            **public(h),
            "payload": outbox.payload(h["webhook_id"], found[h["event_id"]]) if h["event_id"] in found else None,
        }
        for h in heads
    ]


def deliveries(principal: Principal, webhook_id: str, limit: int, cursor: str | None) -> PageOf[Delivery]:
    _owned(principal, webhook_id)
    page = _store().deliveries_of(webhook_id, limit, cursor)
    items = [Delivery.model_validate(d) for d in _with_payloads(page.items)]
    return PageOf[Delivery](items=items, next_cursor=page.next_cursor)


def _delivery_of(webhook_id: str, delivery_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    head, attempts = _store().delivery_with_attempts(delivery_id)
    if head is None or head["webhook_id"] != webhook_id:
        raise NotFound(f"delivery {delivery_id} of webhook {webhook_id} does not exist")
    return head, attempts


def delivery(principal: Principal, webhook_id: str, delivery_id: str) -> DeliveryDetail:
    _owned(principal, webhook_id)
    head, attempts = _delivery_of(webhook_id, delivery_id)
    [with_payload] = _with_payloads([head])
    return DeliveryDetail.model_validate({**with_payload, "attempt_history": attempts})


def _require_active(webhook: dict[str, Any]) -> None:
    if not webhook["is_active"]:
        reason = webhook.get("disabled_reason") or "it was deactivated"
        raise Conflict(f"webhook {webhook['webhook_id']} is disabled ({reason}); set isActive to true first")


def retry(principal: Principal, webhook_id: str, delivery_id: str) -> Delivery:
    webhook = _owned(principal, webhook_id)
    _require_active(webhook)
    head, _ = _delivery_of(webhook_id, delivery_id)
    if head["status"] != DeliveryStatus.FAILED or not _store().requeue(head, _now()):
        raise Conflict(f"delivery {delivery_id} is {head['status']}; only failed deliveries can be retried")
    sqs.send(webhook_settings().queue_url, outbox.queue_message(delivery_id, webhook_id, head["event_id"]).body())
    return Delivery.model_validate(
        {**public(head), "status": DeliveryStatus.PENDING.value, "series_start": head["attempts"]}
    )


def replay(principal: Principal, webhook_id: str, request: ReplayRequest) -> ReplayResult:
    """Every failed delivery created since a time, newest first, up to 100 per call."""
    webhook = _owned(principal, webhook_id)
    _require_active(webhook)
    store = _store()
    delivery_ids, more = store.failed_since(webhook_id, timeutil.iso_utc(request.since), REPLAY_LIMIT)
    heads = store.deliveries(delivery_ids)
    replayed = [h for h in heads if h["status"] == DeliveryStatus.FAILED and store.requeue(h, _now())]
    sqs.send_batch(
        webhook_settings().queue_url,
        [
            sqs.Outgoing(h["delivery_id"], outbox.queue_message(h["delivery_id"], webhook_id, h["event_id"]).body())
            for h in replayed
        ],
    )
    return ReplayResult(replayed=len(replayed), delivery_ids=[h["delivery_id"] for h in replayed], more=more)


# ---------------------------------------------------------------- statistics, verification
def statistics(principal: Principal, webhook_id: str) -> Statistics:
    _owned(principal, webhook_id)
    stats = _store().stats(webhook_id)
    succeeded, failed = int(stats.get("succeeded", 0)), int(stats.get("failed", 0))
    count = int(stats.get("latency_count", 0))
    return Statistics.model_validate(
        {
            "webhook_id": webhook_id,
            "total": int(stats.get("total", 0)),
            "succeeded": succeeded,
            "failed": failed,
            "pending": max(0, int(stats.get("pending", 0))),
            "success_rate": round(succeeded / (succeeded + failed), 4) if succeeded + failed else None,
            "average_latency_ms": round(float(stats.get("latency_total_ms", 0)) / count, 1) if count else None,
            "worst_latency_ms": stats.get("worst_latency_ms"),
            "last_success_at": stats.get("last_success_at"),
            "last_failure_at": stats.get("last_failure_at"),
            "consecutive_failures": int(stats.get("consecutive_failures", 0)),
            "failing_since": stats.get("failing_since"),
        }
    )


def verify(principal: Principal, webhook_id: str, request: VerifyRequest) -> VerifyResult:
    """Valid or not, with the reason; another owner's webhook answers as unknown (no existence leak)."""
    item = _store().webhook(webhook_id)
    if item is None or not (principal.is_admin or principal.owns(item["user_id"])):
        return VerifyResult(valid=False, scheme=None, reason=signatures.Invalid.UNKNOWN_WEBHOOK.value)
    headers = dict(request.headers)
    if request.signature:
        headers[signatures.LEGACY_HEADER] = request.signature
    verdict = signatures.verify(
        webhook_secrets.in_use(webhook_secrets.migrated(item), time.time()),
        headers,
        request.payload.encode(),
        int(time.time()),
    )
    return VerifyResult(
        valid=verdict.valid, scheme=verdict.scheme, reason=verdict.reason.value if verdict.reason else None
    )


def catalog() -> EventCatalog:
    return EventCatalog(
        items=[
            EventTypeInfo.model_validate(
                {
                    "name": e.name,
                    "description": e.description,
                    "schema": e.schema,
                    "example": e.example,
                    "subscribable": e.subscribable,
                    "published_by": e.published_by,
                    "announceable": e.announceable,
                }
            )
            for e in CATALOG.values()
        ]
    )


# ---------------------------------------------------------------- scheduled
def auto_disable(limit: int = 500) -> list[str]:
    """Disable webhooks whose deliveries have all failed for the configured period."""
    store = _store()
    period = webhook_settings().disable_after_seconds
    cutoff = timeutil.utc_now().timestamp() - period
    disabled: list[str] = []
    for stats in store.failing():
        if len(disabled) >= limit or timeutil.parse_iso(stats["failing_since"]).timestamp() > cutoff:
            break
        webhook = store.webhook(stats["webhook_id"])
        if webhook is None:
            continue
        days = round(period / 86400, 1)
        reason = f"every delivery failed for {days:g} days (since {stats['failing_since']})"
        if webhook_store.disable(store.db, webhook, reason):
            disabled.append(webhook["webhook_id"])
            logger.warning("webhook auto-disabled", extra={"webhook_id": webhook["webhook_id"], "reason": reason})
    return disabled
