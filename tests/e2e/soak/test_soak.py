"""A soak of webhook delivery through the local stack: SOAK_EVENTS deliveries (events published with
`POST /events`, each fanned out to 20 webhooks, one loopback receiver each), 30 % of the receivers'
answers failing at random (5xx, a timeout, 429 with Retry-After, a connection reset) with the retry
schedule scaled down to 0, 1, 2 s (three attempts) and the receivers' timeout to 2 s. Once settled,
every delivery ended delivered or dead-lettered, none is lost, each attempt is recorded, each
webhook's statistics equal its receiver's own counts, and every dead-lettered delivery is replayed
and delivered.

`make test` runs 300 deliveries; `make soak` runs 10,000 (`make soak SOAK_EVENTS=...`)."""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from offline.testing import RunningStack, start_stack
from tests.e2e.conftest import ROOT, STACK_PARAMETERS

RECEIVERS = 20
DELIVERIES = int(os.environ.get("SOAK_EVENTS", "300"))
EVENTS = max(1, DELIVERIES // RECEIVERS)
FAILING = 0.30
SCHEDULE = "0,1,2"
ATTEMPTS = len(SCHEDULE.split(","))
# The receivers' timeout scaled down with the schedule (WebhookReceiverTimeoutSeconds, 15 s by
# default): a batch waits for its slowest receiver, so at 15 s most batches of 10 would take 15 s.
RECEIVER_TIMEOUT = 2
HOLD = RECEIVER_TIMEOUT + 1.0  # a "timeout" answer comes after the dispatcher gave up
# A message stays hidden longer than a batch with a timed-out receiver takes, so that it comes back
# only when its retry delay says (ChangeMessageVisibility), never while it is being delivered.
VISIBILITY = 20
SETTLE_SECONDS = 120 + DELIVERIES * 0.06  # bounded: a few minutes at 10,000
KINDS = ("5xx", "timeout", "429", "reset")


@dataclass
class Answered:
    webhook_id: str
    outcome: str  # "ok" or one of KINDS


@dataclass
class SoakReceivers:
    """20 receivers in one server, one path each; every answer drawn at random (seeded) and recorded."""

    seed: int
    failing: float = FAILING
    log: dict[str, list[Answered]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.lock = threading.Lock()
        soak = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outcome = soak.draw(self.path, self.headers.get("webhook-id", ""))
                if outcome == "reset":  # RST instead of an answer
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if outcome == "timeout":
                    time.sleep(HOLD)
                status, headers = {"ok": (200, {}), "5xx": (503, {}), "timeout": (200, {}), "429": (429, {})}[outcome]
                if outcome == "429":
                    headers = {"Retry-After": "1"}
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                return

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def draw(self, path: str, webhook_id: str) -> str:
        with self.lock:
            outcome = "ok" if self.random.random() >= self.failing else self.random.choice(KINDS)
            self.log[path].append(Answered(webhook_id, outcome))
            return outcome

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/r{index}"

    def answered(self, index: int) -> list[Answered]:
        with self.lock:
            return list(self.log[f"/r{index}"])

    def __enter__(self) -> SoakReceivers:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def soak_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    parameters = {
        **STACK_PARAMETERS,
        "WebhookRetrySchedule": SCHEDULE,
        "WebhookMaxReceiveCount": str(ATTEMPTS),
        "WebhookQueueVisibilityTimeout": str(VISIBILITY),
        "WebhookReceiverTimeoutSeconds": str(RECEIVER_TIMEOUT),
    }
    arguments = [arg for k, v in parameters.items() for arg in ("--parameter", f"{k}={v}")]
    stack = start_stack(ROOT / "template.yaml", tmp_path_factory.mktemp("offline-soak"), "--no-seed", *arguments)
    yield stack
    stack.stop()


def _all(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(url, params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json().get("nextCursor")
        if not cursor:
            return items


def test_a_soak_with_failing_receivers_ends_every_delivery_delivered_or_dead_lettered_and_replayable(soak_stack):
    stack = soak_stack
    api = f"{stack.api_url}/api/v1/integration"
    owners = [
        httpx.Client(timeout=60, headers={"Authorization": f"Bearer {stack.token('service', f'svc_soak{i:02d}')}"})
        for i in range(RECEIVERS)
    ]
    with SoakReceivers(seed=20261201) as receivers:
        hooks = []
        for index, owner in enumerate(owners):
            created = owner.post(f"{api}/webhooks", json={"url": receivers.url(index), "events": ["course_started"]})
            assert created.status_code == 201, created.text
            hooks.append(created.json()["webhookId"])

        def publish(n: int) -> str:
            event_id = f"soak-{uuid.uuid4().hex}"
            data = {"courseId": f"crs_{uuid.uuid4().hex[:12]}", "startedAt": "2025-03-03T18:00:00+00:00"}
            body = {"eventType": "course_started", "data": data, "eventId": event_id}
            # As a producer does: a 5xx or a timeout is retried with the same eventId, which the
            # service records once (the local stack's DynamoDB serves one request at a time, so a
            # publish can wait behind the dispatcher's writes past its function's timeout).
            answer = None
            for _ in range(3):
                try:
                    answer = owners[n % RECEIVERS].post(f"{api}/events", json=body)
                except httpx.TimeoutException:
                    continue
                if answer.status_code < 500:
                    break
            assert answer is not None, "three publishes timed out"
            assert answer.status_code == 202, answer.text
            return event_id

        with ThreadPoolExecutor(4) as pool:
            published = set(pool.map(publish, range(EVENTS)))

        # Settled: every webhook has a delivery per event and none is pending (a bounded poll).
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            stats = [owners[i].get(f"{api}/webhooks/{hooks[i]}/statistics").json() for i in range(RECEIVERS)]
            if all(s["total"] == EVENTS and s["pending"] == 0 for s in stats) or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert all(s["total"] == EVENTS and s["pending"] == 0 for s in stats), [
            (s["total"], s["pending"]) for s in stats
        ]

        failed: list[tuple[int, str]] = []
        for index in range(RECEIVERS):
            deliveries = _all(owners[index], f"{api}/webhooks/{hooks[index]}/deliveries")
            answered = receivers.answered(index)
            # None lost: one delivery per published event, each ended delivered or failed.
            assert sorted(d["eventId"] for d in deliveries) == sorted(published)
            assert {d["status"] for d in deliveries} <= {"succeeded", "failed"}
            # Every attempt recorded: the attempts the service counts are the requests the receiver got.
            assert sum(d["attempts"] for d in deliveries) == len(answered)
            per_delivery = Counter(a.webhook_id for a in answered)
            for delivery in deliveries:
                assert per_delivery[delivery["deliveryId"]] == delivery["attempts"]
            # The statistics are the receiver's own counts: a delivery succeeded when it answered 200 in
            # time, failed when it never did in ATTEMPTS tries.
            ok = {a.webhook_id for a in answered if a.outcome == "ok"}
            succeeded = {d["deliveryId"] for d in deliveries if d["status"] == "succeeded"}
            dead = {d["deliveryId"] for d in deliveries if d["status"] == "failed"}
            assert succeeded == ok
            assert all(per_delivery[d] == ATTEMPTS for d in dead)
            assert (stats[index]["succeeded"], stats[index]["failed"]) == (len(succeeded), len(dead))
            failed += [(index, d) for d in dead]
        outcomes = Counter(a.outcome for i in range(RECEIVERS) for a in receivers.answered(i))
        assert set(outcomes) == {"ok", *KINDS}, outcomes  # every kind of failure happened

        # Dead-lettered, and replayable: the DLQ holds each failed delivery once; each replayed
        # (the receivers up again) is delivered.
        sqs, dlq = stack.client("sqs"), stack.state["resources"]["WebhookDeadLetterQueue"]["ref"]
        attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        assert int(attributes["Attributes"]["ApproximateNumberOfMessages"]) == len(failed)
        receivers.failing = 0.0
        for index, delivery_id in failed:
            retry = owners[index].post(f"{api}/webhooks/{hooks[index]}/deliveries/{delivery_id}/retry")
            assert retry.status_code == 202, retry.text
        deadline = time.monotonic() + 60 + len(failed) * 0.2
        while True:
            stats = [owners[i].get(f"{api}/webhooks/{hooks[i]}/statistics").json() for i in range(RECEIVERS)]
            if all(s["succeeded"] == EVENTS for s in stats) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert [(s["succeeded"], s["failed"], s["pending"]) for s in stats] == [(EVENTS, 0, 0)] * RECEIVERS
    for owner in owners:
        owner.close()
