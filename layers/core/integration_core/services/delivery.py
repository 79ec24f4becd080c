"""Delivering webhooks: the dispatcher's work on one batch of queued deliveries.

For a batch it reads every delivery, webhook, event and statistics item in one BatchGetItem,
POSTs concurrently (the process's WebhookSender: a bounded pool of threads and kept-alive
connections), and records the attempts as they finish, in waves: the outcomes that come back
within 0.1 s of each other are recorded together (attempts, delivery states and statistics, worst
latencies included) in one TransactWriteItems whose conditions (the delivery is still pending at
the attempt count read) make a duplicate message or a re-run after a crash unable to record
anything twice. A batch of fast receivers is one wave; a receiver that hangs is a later wave of its
own and holds up no one else's record or retry. When a wave's transaction meets a duplicate it
falls back to one transaction per delivery.

Each attempt is recorded with the time it was made, and its retry is scheduled from the time its
outcome was known: a failed attempt with attempts left makes its message visible again once the
retry schedule's delay has passed since then (ChangeMessageVisibility, made as soon as its wave is
recorded and reported as a batch item failure), so SQS carries the retry; after the last attempt
the delivery is marked failed and the message goes to the DLQ (by the redrive policy when its
receive count says so, else sent there directly).
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from integration_core import timeutil
from integration_core.adapters import sqs
from integration_core.adapters.dynamodb import Table
from integration_core.adapters.webhook_http import HttpOutcome, WebhookSender
from integration_core.domain.deliveries import (
    RESPONSE_EXCERPT_BYTES,
    DeliveryMessage,
    DeliveryStatus,
    ErrorClass,
    next_delay,
)
from integration_core.domain.signatures import signature_headers
from integration_core.errors import ProviderUnavailable
from integration_core.ids import stable_id
from integration_core.observability import logger
from integration_core.services import events as outbox
from integration_core.services import webhook_secrets
from integration_core.stores import webhooks as webhook_store
from integration_core.stores.common import Outcome
from integration_core.webhook_config import webhook_settings

CHUNK = 25  # 25 deliveries: at most 3 + 1 operations each, within one 100-item transaction
THROTTLE_DELAY = 1
WAVE_LINGER = 0.1  # outcomes within this long of a wave's first are recorded with it
_sender: tuple[tuple[float, float, bool, int], WebhookSender] | None = None  # (settings, sender)


@dataclass(frozen=True)
class QueuedDelivery:
    message_id: str
    receipt_handle: str
    receive_count: int
    delivery_id: str
    webhook_id: str
    event_id: str

    @property
    def message(self) -> DeliveryMessage:
        """The queue message to send again (a fresh retry, or to the DLQ)."""
        return DeliveryMessage(delivery_id=self.delivery_id, webhook_id=self.webhook_id, event_id=self.event_id)


@dataclass
class Job:
    record: QueuedDelivery | None
    delivery: dict[str, Any]
    webhook: dict[str, Any]
    event: dict[str, Any]
    final_on_failure: bool = False
    outcome: HttpOutcome | None = None
    # decided after the attempt
    status: DeliveryStatus = DeliveryStatus.PENDING
    delay: int | None = None
    gone: bool = False

    @property
    def attempt_number(self) -> int:
        return int(self.delivery["attempts"]) + 1


@dataclass
class BatchResult:
    failed_message_ids: list[str] = field(default_factory=list)
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    duplicates: int = 0


def _number(value: float) -> Decimal:
    # DynamoDB numbers go through Decimal; a tenth of a millisecond is precise enough.
    return Decimal(str(round(value, 1)))


def payload_bytes(webhook_id: str, event: dict[str, Any]) -> bytes:
    """The body a receiver gets, identical across attempts."""
    return json.dumps(outbox.payload(webhook_id, event), separators=(",", ":"), ensure_ascii=False).encode()


def shared_sender() -> WebhookSender:
    """The process's sender for the current settings: its threads and kept-alive connections serve
    every invocation of a warm Lambda environment (a new one only when the settings change)."""
    global _sender
    config = webhook_settings()
    wanted = (config.connect_timeout, config.total_timeout, config.allow_loopback, config.concurrency)
    previous = current = _sender
    if current is None or current[0] != wanted:
        _sender = current = (
            wanted,
            WebhookSender(
                connect_timeout=config.connect_timeout,
                total_timeout=config.total_timeout,
                allow_loopback=config.allow_loopback,
                concurrency=config.concurrency,
            ),
        )
        if previous is not None:
            previous[1].close()
    return current[1]


def _send_in_waves(sender: WebhookSender, jobs: list[Job]) -> Iterator[list[Job]]:
    """Sign every job's payload, POST them all at once (the sender bounds how many are in flight)
    and yield the jobs in groups as their outcomes come back (a disabled webhook's at once)."""
    sending: list[Job] = []
    requests: list[tuple[str, bytes, dict[str, str]]] = []
    skipped: list[Job] = []
    for job in jobs:
        if not job.webhook.get("is_active", False) and not job.final_on_failure:
            now = time.time()
            job.outcome = HttpOutcome(
                None, 0.0, ErrorClass.DISABLED, "the webhook is disabled", None, None, None, now, now
            )
            skipped.append(job)
            continue
        body = payload_bytes(job.webhook["webhook_id"], job.event)
        now = time.time()
        headers = signature_headers(
            webhook_secrets.in_use(job.webhook, now), job.delivery["delivery_id"], int(now), body
        )
        sending.append(job)
        requests.append((job.webhook["url"], body, headers))
    if skipped:
        yield skipped
    for wave in sender.post_in_waves(requests, WAVE_LINGER):
        done = []
        for index, outcome in wave:
            sending[index].outcome = outcome
            done.append(sending[index])
        yield done


def _send_all(sender: WebhookSender, jobs: list[Job]) -> None:
    for _ in _send_in_waves(sender, jobs):
        pass


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _attempted_at(job: Job) -> datetime:
    """When the attempt was made (the request went out)."""
    outcome = job.outcome
    return _moment(outcome.started_at) if outcome and outcome.started_at else timeutil.utc_now()


def _answered_at(job: Job) -> datetime:
    """When the attempt's outcome was known: its retry delay counts from here."""
    outcome = job.outcome
    return _moment(outcome.finished_at) if outcome and outcome.finished_at else timeutil.utc_now()


def remaining_delay(job: Job) -> int:
    """The job's retry delay less the time already passed since its outcome was known."""
    assert job.delay is not None
    passed = max(0.0, time.time() - _answered_at(job).timestamp())
    return max(0, math.ceil(job.delay - passed))


def _decide(job: Job) -> None:
    config = webhook_settings()
    outcome = job.outcome
    assert outcome is not None
    if outcome.success:
        job.status = DeliveryStatus.SUCCEEDED
        return
    job.gone = outcome.status_code == 410
    if job.gone or job.final_on_failure or outcome.error_class is ErrorClass.DISABLED:
        job.status = DeliveryStatus.FAILED
        return
    retry_after = None
    if outcome.status_code in (429, 503):
        retry_after = timeutil.parse_retry_after(outcome.retry_after, timeutil.utc_now())
    series_attempts = job.attempt_number - int(job.delivery.get("series_start", 0))
    job.delay = next_delay(config.retry_schedule, series_attempts, retry_after, config.retry_after_cap)
    job.status = DeliveryStatus.PENDING if job.delay is not None else DeliveryStatus.FAILED


def _attempt_record(job: Job, expires_at: int) -> webhook_store.AttemptRecord:
    outcome = job.outcome
    assert outcome is not None
    number = job.attempt_number
    # The attempt's own times, not the recording's: a slow neighbour in the batch changes neither.
    now = timeutil.iso_utc(_answered_at(job))
    excerpt = (outcome.body_excerpt or "")[:RESPONSE_EXCERPT_BYTES] or None
    attempt = {
        "at": timeutil.iso_utc(_attempted_at(job)),
        "success": outcome.success,
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
        "error_class": outcome.error_class.value if outcome.error_class else None,
        "error": outcome.error,
        "response_body": excerpt,
    }
    if outcome.headers:
        attempt["response_headers"] = outcome.headers
    sets: dict[str, Any] = {
        "attempts": number,
        "status": job.status.value,
        "updated_at": now,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "last_response_body": excerpt,
    }
    removes = []
    if job.status is DeliveryStatus.SUCCEEDED:
        sets["delivered_at"] = now
        removes.append("next_attempt_at")
    elif job.delay is not None:
        sets["next_attempt_at"] = timeutil.iso_utc(_answered_at(job) + timedelta(seconds=job.delay))
    else:
        removes.append("next_attempt_at")
    return webhook_store.AttemptRecord(
        delivery=job.delivery,
        number=number,
        attempt=attempt,
        sets=sets,
        removes=removes,
        failed=job.status is DeliveryStatus.FAILED,
        expires_at=expires_at,
    )


def _stats_change(webhook_id: str, jobs: list[Job], now: str, worst: float | None = None) -> webhook_store.StatsChange:
    """One change for all of a webhook's outcomes in this batch (counters by ADD, so concurrent
    batches compose). With `worst`, the worst latency is set to it on condition that it is higher
    than the one stored (a concurrent batch may have stored a higher one since it was read)."""
    adds: dict[str, float] = defaultdict(float)
    for job in jobs:
        first = int(job.delivery["attempts"]) == 0
        adds["total"] += first
        if job.status is DeliveryStatus.SUCCEEDED:
            adds["succeeded"] += 1
            adds["pending"] -= not first
        elif job.status is DeliveryStatus.FAILED:
            adds["failed"] += 1
            adds["pending"] -= not first
        else:
            adds["pending"] += first
    receiver_jobs = sorted(
        (j for j in jobs if j.outcome and j.outcome.error_class is not ErrorClass.DISABLED),
        key=lambda j: j.outcome.latency_ms if j.outcome else 0,
    )
    for job in receiver_jobs:
        adds["latency_total_ms"] += job.outcome.latency_ms if job.outcome else 0
        adds["latency_count"] += 1
    sets: dict[str, Any] = {}
    failing = None
    successes = [i for i, j in enumerate(receiver_jobs) if j.outcome and j.outcome.success]
    failures_after = len(receiver_jobs) - 1 - successes[-1] if successes else 0
    if successes:
        sets["last_success_at"] = now
        sets["consecutive_failures"] = failures_after
    elif receiver_jobs:
        adds["consecutive_failures"] += len(receiver_jobs)
    if receiver_jobs and (not successes or failures_after):
        sets["last_failure_at"] = now
        failing = "restart" if successes else "start"  # after a success: failing again since now
    elif successes:
        failing = "stop"
    return webhook_store.StatsChange(webhook_id, dict(adds), sets, failing, worst)


def record(store: Table, jobs: list[Job], stats: dict[str, dict[str, Any]] | None = None) -> set[str]:
    """Record attempts, delivery states and statistics; the delivery ids whose record applied.

    `stats`: the webhooks' statistics items as read before sending. A worst latency rising above
    the one read is then set in the same transaction, conditionally: when a concurrent batch has
    stored a higher one since, the transaction is cancelled by that condition alone and made again
    without that webhook's worst latency (the stored one is higher, so it stands). Without `stats`,
    or when the batch falls back to one transaction per delivery, each rising worst latency takes
    one conditional UpdateItem afterwards."""
    if not jobs:
        return set()
    now = timeutil.iso_utc(timeutil.utc_now())
    expires_at = int(time.time()) + webhook_settings().attempt_retention_days * 86400
    by_webhook: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        by_webhook[job.webhook["webhook_id"]].append(job)
    rising = _rising_worst(jobs, stats) if stats is not None else {}
    attempts = [_attempt_record(job, expires_at) for job in jobs]
    tokens = sorted(f"{j.delivery['delivery_id']}:{j.attempt_number}" for j in jobs)
    while True:
        changes = [_stats_change(w, group, now, rising.get(w)) for w, group in by_webhook.items()]
        token = stable_id("delivery", *tokens, *(f"worst:{w}" for w in sorted(rising)))
        recorded = _record_wave_after_sending(store, attempts, changes, now, token)
        if recorded.outcome is Outcome.RACED and recorded.outrun:
            rising = {w: latency for w, latency in rising.items() if w not in recorded.outrun}
            continue
        if recorded.outcome is Outcome.RACED:
            break
        if stats is None:
            _raise_worst_latency(store, jobs, {})
        return {job.delivery["delivery_id"] for job in jobs}
    if len(jobs) == 1:
        return set()  # recorded already by another run
    applied: set[str] = set()
    for job in jobs:
        change = _stats_change(job.webhook["webhook_id"], [job], now)
        if webhook_store.record_one(store, _attempt_record(job, expires_at), change, now):
            applied.add(job.delivery["delivery_id"])
        # else: another run recorded this attempt already
    _raise_worst_latency(store, [j for j in jobs if j.delivery["delivery_id"] in applied], stats or {})
    return applied


# The sends are made: a record lost to a passing database error would send the whole wave again
# (the message comes back), so it is tried again after these waits; the transaction's token makes a
# repeat of one that did apply a no-op.
RECORD_RETRY_WAITS = (1.0, 3.0)


def _record_wave_after_sending(
    store: Table,
    attempts: list[webhook_store.AttemptRecord],
    changes: list[webhook_store.StatsChange],
    now: str,
    token: str,
) -> webhook_store.Recorded:
    for wait in RECORD_RETRY_WAITS:
        try:
            return webhook_store.record_wave(store, attempts, changes, now, token)
        except ProviderUnavailable:
            logger.warning("recording a wave failed; trying again", extra={"wait_seconds": wait})
            time.sleep(wait)
    return webhook_store.record_wave(store, attempts, changes, now, token)


def _worst_latencies(jobs: list[Job]) -> dict[str, float]:
    """The slowest answer per webhook among these attempts (a disabled webhook's are not answers)."""
    worst: dict[str, float] = {}
    for job in jobs:
        if job.outcome and job.outcome.error_class is not ErrorClass.DISABLED:
            webhook_id = job.webhook["webhook_id"]
            worst[webhook_id] = max(worst.get(webhook_id, 0.0), job.outcome.latency_ms)
    return worst


def _rising_worst(jobs: list[Job], stats: dict[str, dict[str, Any]]) -> dict[str, float]:
    return {
        webhook_id: latency
        for webhook_id, latency in _worst_latencies(jobs).items()
        if latency > float(stats.get(webhook_id, {}).get("worst_latency_ms", -1))
    }


def _raise_worst_latency(store: Table, jobs: list[Job], stats: dict[str, dict[str, Any]]) -> None:
    for webhook_id, latency in _rising_worst(jobs, stats).items():
        webhook_store.raise_worst_latency(store, webhook_id, latency)


def _gone_but_active(delivery: dict[str, Any], webhook: dict[str, Any]) -> bool:
    """A delivery whose last answer was 410 while its webhook is still active and unchanged since:
    the run that recorded the 410 died before disabling (its message is back). Once the owner has
    changed the webhook (re-enabled it, say), that old 410 no longer counts."""
    return (
        delivery["status"] == DeliveryStatus.FAILED
        and delivery.get("last_status_code") == 410
        and bool(webhook.get("is_active"))
        and str(webhook.get("updated_at", "")) <= str(delivery.get("updated_at", ""))
    )


def _throttled(webhook: dict[str, Any], counts: dict[str, int]) -> bool:
    limit = webhook.get("rate_limit_per_second")
    webhook_id = webhook["webhook_id"]
    counts[webhook_id] = counts.get(webhook_id, 0) + 1
    return bool(limit) and counts[webhook_id] > int(limit or 0)


def _later(record: QueuedDelivery, delay: int, result: BatchResult, visibility: dict[str, tuple[str, int]]) -> None:
    """Make the message come back after `delay`. When its receive count would let the redrive
    policy take it on the next receive, a fresh message is sent instead and this one is dropped."""
    config = webhook_settings()
    if record.receive_count >= config.max_receive_count:
        sqs.send(config.queue_url, record.message.body(), delay)
        return
    visibility[record.message_id] = (record.receipt_handle, delay)
    result.failed_message_ids.append(record.message_id)


def _to_dlq(record: QueuedDelivery, result: BatchResult, visibility: dict[str, tuple[str, int]]) -> None:
    config = webhook_settings()
    if record.receive_count >= config.max_receive_count:
        # Visible now and over maxReceiveCount: the redrive policy moves it to the DLQ.
        visibility[record.message_id] = (record.receipt_handle, 0)
        result.failed_message_ids.append(record.message_id)
    else:
        sqs.send(config.dlq_url, record.message.body())


def process_batch(records: list[QueuedDelivery], sender: WebhookSender | None = None) -> BatchResult:
    """Deliver one batch from the queue (with the process's shared sender unless given one)."""
    result = BatchResult()
    sender = sender or shared_sender()
    for start in range(0, len(records), CHUNK):
        _process_chunk(records[start : start + CHUNK], sender, result)
    return result


def _process_chunk(records: list[QueuedDelivery], sender: WebhookSender, result: BatchResult) -> None:
    store = webhook_store.db()
    config = webhook_settings()
    found = webhook_store.read_batch(store, [(r.delivery_id, r.webhook_id, r.event_id) for r in records])
    unreadable = _unseal(found.webhooks)
    jobs: list[Job] = []
    seen: set[str] = set()
    counts: dict[str, int] = {}
    visibility: dict[str, tuple[str, int]] = {}
    gone: dict[str, dict[str, Any]] = {}
    for r in records:
        delivery = found.deliveries.get(r.delivery_id)
        webhook = found.webhooks.get(r.webhook_id)
        event = found.events.get(r.event_id)
        if delivery is not None and webhook is not None and _gone_but_active(delivery, webhook):
            gone[webhook["webhook_id"]] = webhook  # a run died between recording a 410 and disabling
        if delivery is None or delivery["status"] != DeliveryStatus.PENDING or r.delivery_id in seen:
            result.duplicates += 1  # done already, or a second message for the same delivery
            continue
        if webhook is None or event is None:
            logger.info("delivery dropped: its webhook was deleted", extra={"delivery_id": r.delivery_id})
            continue
        seen.add(r.delivery_id)
        if r.webhook_id in unreadable:
            result.failed_message_ids.append(r.message_id)  # back after the visibility timeout, then the DLQ
            continue
        if webhook.get("is_active") and _throttled(webhook, counts):
            _later(r, THROTTLE_DELAY, result, visibility)
            continue
        jobs.append(Job(r, delivery, webhook, event))
    stats = {r.webhook_id: found.stats.get(r.webhook_id, {}) for r in records}
    # Throttled messages are put off now, not after the batch's slowest receiver.
    _flush_visibility(config.queue_url, visibility)
    for wave in _send_in_waves(sender, jobs):
        for job in wave:
            _decide(job)
        applied = record(store, wave, stats)
        for job in wave:
            assert job.record is not None
            if job.delivery["delivery_id"] not in applied:
                result.duplicates += 1
                continue
            if job.gone:
                gone[job.webhook["webhook_id"]] = job.webhook
            if job.status is DeliveryStatus.SUCCEEDED:
                result.delivered += 1
            elif job.status is DeliveryStatus.PENDING and job.delay is not None:
                result.retried += 1
                _later(job.record, remaining_delay(job), result, visibility)
            else:
                result.dead += 1
                _to_dlq(job.record, result, visibility)
        _remember_worst(stats, [j for j in wave if j.delivery["delivery_id"] in applied])
        # Each wave's retries start their delay now, from their own attempt.
        _flush_visibility(config.queue_url, visibility)
    for webhook in gone.values():
        if webhook_store.disable(store, webhook, "the receiver answered 410 Gone"):
            logger.warning("webhook disabled by a 410", extra={"webhook_id": webhook["webhook_id"]})


def _unseal(webhooks: dict[str, dict[str, Any]]) -> set[str]:
    """Decrypt the secrets of the batch's active webhooks once each (the signing then finds them in
    the process's cache), sealing any still stored in plaintext; the ids of those whose secret does
    not decrypt: their deliveries wait, the others go out."""
    unreadable: set[str] = set()
    now = time.time()
    for webhook_id, webhook in list(webhooks.items()):
        if not webhook.get("is_active"):
            continue
        try:
            webhooks[webhook_id] = webhook_secrets.migrated(webhook)
            webhook_secrets.in_use(webhooks[webhook_id], now)
        except webhook_secrets.Unreadable:
            unreadable.add(webhook_id)
            logger.error(
                "a webhook's signing secret does not decrypt; its deliveries wait", extra={"webhook_id": webhook_id}
            )
    return unreadable


def _flush_visibility(queue_url: str, visibility: dict[str, tuple[str, int]]) -> None:
    if visibility:
        sqs.change_visibility(queue_url, dict(visibility))
        visibility.clear()


def _remember_worst(stats: dict[str, dict[str, Any]], recorded: list[Job]) -> None:
    """Carry the worst latencies a wave stored into the statistics read before sending, so the
    next wave of the batch compares against them."""
    for webhook_id, latency in _worst_latencies(recorded).items():
        current = stats.setdefault(webhook_id, {})
        if latency > float(current.get("worst_latency_ms", -1)):
            stats[webhook_id] = {**current, "worst_latency_ms": _number(latency)}


def deliver_now(job: Job, sender: WebhookSender | None = None) -> Job:
    """One attempt right away, recorded like any other (the test endpoint)."""
    _send_all(sender or shared_sender(), [job])
    _decide(job)
    record(webhook_store.db(), [job])
    if job.gone:
        webhook_store.disable(webhook_store.db(), job.webhook, "the receiver answered 410 Gone")
    return job
