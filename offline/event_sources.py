"""Event sources: SQS event source mappings (polled, batched, partial batch failures) and schedules
(the template's Schedule/ScheduleV2 events and Scheduler schedules, plus the EventBridge Scheduler
schedules an application creates at runtime), each invoking its Lambda target when due.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from offline import console
from offline.aws import client
from offline.model import ScheduleSpec, SqsMappingSpec, StackModel
from offline.schedule_expressions import ScheduleExpressionError, next_fire
from offline.template import REGION
from offline.workers import Workers

log = logging.getLogger("offline.events")
_AWS_ERRORS = (BotoCoreError, ClientError)
LONG_POLL_SECONDS = 2  # short enough for the stack to stop promptly


# ------------------------------------------------------------------------------------ SQS
def _record(message: dict[str, Any], mapping: SqsMappingSpec) -> dict[str, Any]:
    attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value["DataType"],
        }
        if isinstance(attributes[name]["binaryValue"], bytes):
            import base64

            attributes[name]["binaryValue"] = base64.b64encode(attributes[name]["binaryValue"]).decode()
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": mapping.queue_arn,
        "awsRegion": REGION,
    }


class SqsPoller:
    """One event source mapping: receive a batch, invoke, delete what succeeded; up to the mapping's
    MaximumConcurrency batches at once, each on its own thread."""

    def __init__(self, mapping: SqsMappingSpec, workers: Workers, endpoint: str, poll_interval: float) -> None:
        self.mapping = mapping
        self.workers = workers
        self.sqs = client("sqs", endpoint)
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(max(1, mapping.max_concurrency))
        self.queue_name = mapping.queue_arn.rsplit(":", 1)[-1]
        self._thread = threading.Thread(target=self._run, name=f"sqs-{self.queue_name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _receive(self, count: int, wait: int = 0) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=max(1, min(10, count)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=wait,
        ).get("Messages", [])

    def _batch(self) -> list[dict[str, Any]]:
        # A long poll, as Lambda's pollers make: a message sent is received at once, and an idle
        # queue costs the embedded AWS one request per LONG_POLL_SECONDS instead of five a second.
        batch = self._receive(self.mapping.batch_size, LONG_POLL_SECONDS)
        if not batch or self.mapping.batching_window <= 0:
            return batch
        # MaximumBatchingWindowInSeconds: gather until the batch is full or the window closes.
        window_end = time.monotonic() + self.mapping.batching_window
        while len(batch) < self.mapping.batch_size and time.monotonic() < window_end and not self._stop.is_set():
            more = self._receive(self.mapping.batch_size - len(batch))
            batch.extend(more)
            if not more:
                time.sleep(min(self.poll_interval, max(0.0, window_end - time.monotonic())))
        return batch

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            # A batch is received only when one of the mapping's concurrent slots is free.
            if not self._slots.acquire(timeout=self.poll_interval):
                continue
            try:
                batch = self._batch()
                failing = False
            except _AWS_ERRORS as exc:
                self._slots.release()
                if not failing:
                    log.warning("sqs %s: cannot receive (%s); retrying", self.queue_name, type(exc).__name__)
                failing = True
                self._stop.wait(1.0)
                continue
            if not batch:
                self._slots.release()
                continue
            threading.Thread(
                target=self._deliver_and_release, args=(batch,), name=f"sqs-{self.queue_name}-batch", daemon=True
            ).start()

    def _deliver_and_release(self, batch: list[dict[str, Any]]) -> None:
        try:
            self._deliver(batch)
        except _AWS_ERRORS as exc:
            log.warning("sqs %s: cannot delete a processed batch (%s)", self.queue_name, exc)
        except RuntimeError:
            if not self._stop.is_set():  # the function's pool shuts down with the stack
                raise
        finally:
            self._slots.release()

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        event = {"Records": [_record(m, self.mapping) for m in batch]}
        result = self.workers.invoke(self.mapping.function, event)
        ids = {m["MessageId"] for m in batch}
        failed: set[str] = set()
        detail = f"{len(batch)} message(s)"
        if not result.ok:
            failed = ids  # the whole batch comes back after the visibility timeout
            detail += f", function error: {result.error.get('errorType')}: {result.error.get('errorMessage')}"[:200]
        elif (
            self.mapping.report_failures
            and isinstance(result.payload, dict)
            and result.payload.get("batchItemFailures")
        ):
            reported = [
                f.get("itemIdentifier") if isinstance(f, dict) else None for f in result.payload["batchItemFailures"]
            ]
            # An unknown or empty identifier fails the whole batch, as Lambda does.
            failed = ids if any(r not in ids for r in reported) else set(reported)  # type: ignore[arg-type]
            detail += f", {len(failed)} reported failed"
        done = [m for m in batch if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        status = "ok" if not failed else ("error" if failed == ids else "partial")
        console.invocation(
            "sqs", self.mapping.function, status, result.duration_ms, result.cold, self.queue_name, detail
        )


# ------------------------------------------------------------------------------------ schedules
@dataclass
class _Entry:
    key: str
    name: str
    function: str
    expression: str
    timezone: str
    payload: Any
    kind: str  # rule | scheduler
    anchor: datetime
    start: datetime | None = None
    end: datetime | None = None
    delete_after: bool = False
    group: str | None = None
    next_at: datetime | None = None


def _payload(raw: str | None, kind: str, name: str) -> Any:
    if raw is not None:
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    if kind == "rule":
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:123456789012:rule/{name}"],
            "detail": {},
        }
    return {}


class Scheduler:
    """Fires template schedules and runtime Scheduler schedules (read from the embedded AWS)."""

    def __init__(self, model: StackModel, workers: Workers, endpoint: str, poll_interval: float = 0.5) -> None:
        self.model = model
        self.workers = workers
        self.endpoint = endpoint
        self.poll_interval = poll_interval
        self.entries: dict[str, _Entry] = {}
        self._seen: dict[str, Any] = {}  # runtime schedule key -> its LastModificationDate
        self._warned: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._tick, name="schedules", daemon=True),
            threading.Thread(target=self._sync, name="schedules-sync", daemon=True),
        ]
        now = datetime.now(UTC)
        for spec in model.schedules:
            if spec.enabled:
                self._add(self._template_entry(spec, now))

    @staticmethod
    def _template_entry(spec: ScheduleSpec, now: datetime) -> _Entry:
        return _Entry(
            key=f"template/{spec.function}/{spec.name}",
            name=spec.name,
            function=spec.function,
            expression=spec.expression,
            timezone=spec.timezone,
            payload=spec.input,
            kind=spec.kind,
            anchor=now,
        )

    def _add(self, entry: _Entry) -> None:
        after = datetime.now(UTC)
        if entry.kind == "scheduler" and entry.expression.lstrip().startswith("at("):
            # The mirror polls, so it may first see a one-time schedule after its time: AWS would
            # have fired it then, so it is due now rather than never.
            after = min(after, entry.anchor)
        try:
            entry.next_at = self._next(entry, after)
        except (ScheduleExpressionError, ValueError, KeyError) as exc:
            log.warning("schedule %s: %s; not scheduled", entry.name, exc)
            return
        with self._lock:
            self.entries[entry.key] = entry

    @staticmethod
    def _next(entry: _Entry, after: datetime) -> datetime | None:
        if entry.start and after < entry.start:
            after = entry.start
        fire = next_fire(entry.expression, after, entry.timezone, entry.start or entry.anchor)
        if fire is not None and entry.end is not None and fire > entry.end:
            return None
        return fire

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)

    def _tick(self) -> None:
        while not self._stop.wait(0.1):
            now = datetime.now(UTC)
            with self._lock:
                due = [e for e in self.entries.values() if e.next_at is not None and e.next_at <= now]
                for entry in due:
                    entry.next_at = self._next(entry, entry.next_at or now)
            for entry in due:
                threading.Thread(target=self._fire, args=(entry,), daemon=True).start()

    def _fire(self, entry: _Entry) -> None:
        payload = entry.payload if entry.kind == "scheduler" else _payload(None, "rule", entry.name)
        if entry.kind == "rule" and entry.payload is not None:
            payload = _payload(entry.payload, "rule", entry.name)
        elif entry.kind == "scheduler":
            payload = _payload(entry.payload, "scheduler", entry.name)
        result = self.workers.invoke(entry.function, payload)
        detail = "" if result.ok else f"{result.error.get('errorType')}: {result.error.get('errorMessage')}"[:160]
        console.invocation(
            "schedule",
            entry.function,
            "ok" if result.ok else "error",
            result.duration_ms,
            result.cold,
            f"{entry.name} {entry.expression}",
            detail,
        )
        if entry.next_at is None and entry.group is not None and entry.delete_after:
            try:
                client("scheduler", self.endpoint).delete_schedule(Name=entry.name, GroupName=entry.group)
            except _AWS_ERRORS as exc:
                log.warning("schedule %s: cannot delete after completion (%s)", entry.name, exc)

    def _sync(self) -> None:
        """Mirror the Scheduler schedules of the embedded AWS (created by the application at runtime)."""
        scheduler = client("scheduler", self.endpoint)
        while not self._stop.wait(self.poll_interval):
            try:
                summaries = scheduler.list_schedules().get("Schedules", [])
            except _AWS_ERRORS:
                continue
            present = set()
            for summary in summaries:
                key = f"runtime/{summary.get('GroupName', 'default')}/{summary['Name']}"
                present.add(key)
                if self._seen.get(key) == summary.get("LastModificationDate"):
                    continue
                self._seen[key] = summary.get("LastModificationDate")
                try:
                    detail = scheduler.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
                except _AWS_ERRORS:
                    self._seen.pop(key, None)
                    continue
                self._runtime_entry(key, detail)
            with self._lock:
                for key in [k for k in self.entries if k.startswith("runtime/") and k not in present]:
                    del self.entries[key]
                    self._seen.pop(key, None)

    def _runtime_entry(self, key: str, detail: dict[str, Any]) -> None:
        with self._lock:
            self.entries.pop(key, None)
        if detail.get("State", "ENABLED") != "ENABLED":
            return
        target = detail.get("Target") or {}
        function = self.model.function_by_arn(target.get("Arn", ""))
        if function is None:
            if key not in self._warned:
                log.warning("schedule %s targets %s, which is not a function of the template", key, target.get("Arn"))
                self._warned.add(key)
            return

        def aware(value: Any) -> datetime | None:
            if value is None:
                return None
            return value if isinstance(value, datetime) and value.tzinfo else value.replace(tzinfo=UTC)

        self._add(
            _Entry(
                key=key,
                name=detail["Name"],
                function=function.logical_id,
                expression=detail["ScheduleExpression"],
                timezone=detail.get("ScheduleExpressionTimezone") or "UTC",
                payload=target.get("Input"),
                kind="scheduler",
                anchor=aware(detail.get("CreationDate")) or datetime.now(UTC),
                start=aware(detail.get("StartDate")),
                end=aware(detail.get("EndDate")),
                delete_after=detail.get("ActionAfterCompletion") == "DELETE",
                group=detail.get("GroupName", "default"),
            )
        )


class EventSources:
    """Every SQS mapping and schedule of the model, started and stopped together."""

    def __init__(self, model: StackModel, workers: Workers, endpoint: str, sqs_poll_interval: float = 0.2) -> None:
        self.pollers = [SqsPoller(m, workers, endpoint, sqs_poll_interval) for m in model.sqs if m.enabled]
        self.scheduler = Scheduler(model, workers, endpoint)

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()
        self.scheduler.start()

    def stop(self) -> None:
        for poller in self.pollers:
            poller._stop.set()
        self.scheduler.stop()
        for poller in self.pollers:
            poller.stop()
