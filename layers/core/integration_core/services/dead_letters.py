"""The dead letters of the webhook deliveries and of the internal event handlers, listed and
replayed by the admins.

Dead letters are read from the dead letter queues themselves (ReceiveMessage, hidden while the
listing pages through them and made visible again as it ends), at most 50 per listing. Replaying is
idempotent message by message, and a message leaves its dead letter queue only once it is back:
- a delivery: a failed one goes back to pending for a fresh series of attempts (the store's
  conditional requeue, as a retry from the webhook portal does) and its message to the delivery
  queue; a pending one (dead-lettered before it was ever recorded) is queued as it is; a delivered
  one is only taken off; one whose webhook is disabled stays until its owner enables it;
- an internal event: its message back to its consumer's queue as it was; the handler's marker per
  event id makes a second delivery change nothing.
A replay call takes at most 20 messages and answers how many remain, so a page shows progress by
calling again until none remain."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from integration_core import timeutil
from integration_core.adapters import sqs
from integration_core.domain.deliveries import DeliveryMessage, DeliveryStatus, MalformedMessage
from integration_core.domain.operations import (
    DELIVERIES,
    EVENTS,
    LISTED,
    REPLAY_BATCH,
    DeadLetter,
    DeadLetters,
    ReplayDeadLetters,
    ReplayedDeadLetters,
)
from integration_core.errors import NotFound
from integration_core.observability import logger
from integration_core.operations_config import WatchedQueue, watched_queues
from integration_core.principal import Principal, Role
from integration_core.services import events as outbox
from integration_core.stores import webhooks as webhook_store

LIST_VISIBILITY = 10  # seconds a dead letter stays hidden while a listing pages (then released)
REPLAY_VISIBILITY = 30  # seconds a dead letter being replayed stays hidden


def _now() -> str:
    return timeutil.iso_utc(timeutil.utc_now())


def _queue(name: str) -> WatchedQueue:
    for queue in watched_queues():
        if queue.name == name and queue.dlq_url:
            return queue
    known = ", ".join(q.name for q in watched_queues())
    raise NotFound(f"no dead letter queue named {name!r} (known: {known})")


def _delivery_message(body: str) -> DeliveryMessage | None:
    try:
        return DeliveryMessage.parse(body)
    except MalformedMessage:
        return None


def _event_head(body: str) -> tuple[str | None, str | None]:
    try:
        detail = json.loads(body).get("detail") or {}
        return detail.get("eventId"), detail.get("eventType")
    except (ValueError, AttributeError):
        return None, None


def _sent_at(ms: int) -> str | None:
    return timeutil.iso_utc(datetime.fromtimestamp(ms / 1000, UTC)) if ms else None


def dead_letters(principal: Principal, queue_name: str) -> DeadLetters:
    principal.require(Role.ADMIN)
    queue = _queue(queue_name)
    seen: dict[str, sqs.Received] = {}
    try:
        for _ in range(LISTED // sqs.BATCH):
            got = sqs.receive(queue.dlq_url, visibility=LIST_VISIBILITY)
            if not got:
                break
            seen |= {m.message_id: m for m in got}  # the latest receipt of each
    finally:
        # Hidden only while the listing pages through them: visible again at once.
        if seen:
            sqs.change_visibility(queue.dlq_url, {str(i): (m.receipt_handle, 0) for i, m in enumerate(seen.values())})
    messages = sorted(seen.values(), key=lambda m: m.sent_at_ms, reverse=True)[:LISTED]
    items = _described(queue, messages)
    counts = sqs.counts(queue.dlq_url)
    total = counts["ApproximateNumberOfMessages"] + counts["ApproximateNumberOfMessagesNotVisible"]
    return DeadLetters(queue=queue.name, items=items, approximate_count=total, more=total > len(items))


def _described(queue: WatchedQueue, messages: list[sqs.Received]) -> list[DeadLetter]:
    if not queue.carries_deliveries:
        shown = []
        for m in messages:
            event_id, event_type = _event_head(m.body)
            shown.append(
                DeadLetter(
                    message_id=m.message_id,
                    queue=queue.name,
                    carries=EVENTS,
                    first_queued_at=_sent_at(m.sent_at_ms),
                    receive_count=m.receive_count,
                    event_id=event_id,
                    event_type=event_type,
                )
            )
        return shown
    parsed = {m.message_id: _delivery_message(m.body) for m in messages}
    store = webhook_store.store()
    wanted = [p for p in parsed.values() if p is not None]
    heads = {d["delivery_id"]: d for d in store.deliveries([p.delivery_id for p in wanted])}
    hooks = {w["webhook_id"]: w for w in store.webhooks(sorted({p.webhook_id for p in wanted}))}
    shown = []
    for m in messages:
        message = parsed[m.message_id]
        head = heads.get(message.delivery_id, {}) if message else {}
        hook = hooks.get(message.webhook_id, {}) if message else {}
        shown.append(
            DeadLetter(
                message_id=m.message_id,
                queue=queue.name,
                carries=DELIVERIES,
                first_queued_at=_sent_at(m.sent_at_ms),
                receive_count=m.receive_count,
                delivery_id=message.delivery_id if message else None,
                webhook_id=message.webhook_id if message else None,
                webhook_url=hook.get("url"),
                status=head.get("status"),
                attempts=int(head["attempts"]) if "attempts" in head else None,
                last_error=head.get("last_error"),
                last_status_code=head.get("last_status_code"),
                event_id=message.event_id if message else None,
                event_type=head.get("event_type"),
            )
        )
    return shown


def _replay_delivery(queue: WatchedQueue, message: sqs.Received) -> str:
    """replayed, done (nothing to do: off the DLQ) or kept (stays in the DLQ)."""
    parsed = _delivery_message(message.body)
    if parsed is None:
        logger.warning("dead letter kept: not a delivery message", extra={"message_id": message.message_id})
        return "kept"
    store = webhook_store.store()
    webhook = store.webhook(parsed.webhook_id)
    heads = store.deliveries([parsed.delivery_id])
    if webhook is None or not heads:
        return "done"  # its webhook was deleted: the dispatcher would drop it too
    if not webhook.get("is_active"):
        return "kept"  # its owner enables the webhook first; then it can be replayed
    head = heads[0]
    status = head["status"]
    if status == DeliveryStatus.SUCCEEDED:
        return "done"
    if status == DeliveryStatus.FAILED and not store.requeue(head, _now()):
        return "done"  # requeued meanwhile by another replay or a retry from the portal
    # failed (requeued just now) or pending (dead-lettered before an attempt was recorded)
    sqs.send(queue.queue_url, outbox.queue_message(parsed.delivery_id, parsed.webhook_id, parsed.event_id).body())
    return "replayed"


def _replay_one(queue: WatchedQueue, message: sqs.Received) -> str:
    if queue.carries_deliveries:
        return _replay_delivery(queue, message)
    sqs.send_raw(queue.queue_url, message.body)
    return "replayed"


def replay(principal: Principal, request: ReplayDeadLetters) -> ReplayedDeadLetters:
    principal.require(Role.ADMIN)
    queue = _queue(request.queue)
    wanted = set(request.message_ids) if request.message_ids is not None else None
    tally = {"replayed": 0, "done": 0, "kept": 0}
    replayed_ids: list[str] = []
    handled: set[str] = set()
    # All: until 20 are taken or the queue answers none. Some: until each is found, waiting up to a
    # second a round for those a listing hides for a moment.
    rounds = 2 if wanted is None else 6
    for _ in range(rounds):
        if wanted is not None and wanted <= handled:
            break
        got = sqs.receive(queue.dlq_url, visibility=REPLAY_VISIBILITY, wait=0 if wanted is None else 1)
        if not got and wanted is None:
            break
        taken, release = [], []
        for message in got:
            if message.message_id in handled or (wanted is not None and message.message_id not in wanted):
                release.append(message.receipt_handle)
                continue
            handled.add(message.message_id)
            outcome = _replay_one(queue, message)
            tally[outcome] += 1
            if outcome == "kept":
                release.append(message.receipt_handle)
            else:
                taken.append(message.receipt_handle)
                if outcome == "replayed":
                    replayed_ids.append(message.message_id)
        if taken:
            sqs.delete_batch(queue.dlq_url, taken)
        if release:
            sqs.change_visibility(queue.dlq_url, {str(i): (h, 0) for i, h in enumerate(release)})
        if wanted is None and len(handled) >= REPLAY_BATCH:
            break
    counts = sqs.counts(queue.dlq_url)
    logger.info("dead letters replayed", extra={"queue": queue.name, **tally})
    return ReplayedDeadLetters(
        queue=queue.name,
        replayed=tally["replayed"],
        already_done=tally["done"],
        kept=tally["kept"],
        replayed_ids=replayed_ids,
        not_found=sorted(wanted - handled) if wanted is not None else [],
        remaining=counts["ApproximateNumberOfMessages"] + counts["ApproximateNumberOfMessagesNotVisible"],
    )
