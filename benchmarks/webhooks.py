"""Webhook figures (docs/webhooks.md):

1. fan-out of one event to 1,000 subscribed webhooks: AWS calls by operation (counted by a botocore
   event hook), wall time, and how much of it is spent inside AWS calls (moto here) versus the
   service's own work;
2. dispatcher throughput against a receiver on loopback, in deliveries per second, and its ratio
   to a plain httpx loop posting the same payloads to the same receiver (with and without the time
   inside AWS calls); the dispatcher's sender alone posting them 25 at once (its HTTP cost without
   the dispatcher's reads, signing and recording), and httpx's AsyncClient doing the same (the
   sender the dispatcher had before);
3. latency from `POST /events` to the receiver's first byte through the local stack, p50/p99,
   with where the time goes.

1 and 2 run the service's code in this process against moto in-process. The 1,000 webhooks are
written directly (BatchWriteItem, cloned from one registered through the service), not registered
one by one: moto deep-copies the whole table for every item of a TransactWriteItems, which makes
a thousand registrations take minutes and says nothing about DynamoDB. For the same reason moto is
made to take that rollback copy once per table and transaction instead of once per item (the same
state: nothing changes between those copies). The dispatcher gets the messages the fan-out sent
(taken from its SendMessageBatch calls) rather than receiving them back from moto's SQS, which
takes half a minute for a thousand. Time inside AWS calls is reported apart from the rest, so
moto's speed does not pass for the service's. The whole run takes about 3 minutes on 2 cores.

    .venv/bin/python -m benchmarks.webhooks [--webhooks 1000] [--samples 100] [--skip-stack]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from benchmarks.support import FUNCTION_ENV, ROOT, free_port, sdk_events
from offline._moto import undo_log_transactions

EVENT_TYPE = "course_started"
CHUNK = 25  # the sender alone and httpx's AsyncClient post this many at once
BATCH = 10  # the dispatcher's SQS batch size in template.yaml (WebhookDispatcherFunction's BatchSize)


# ---------------------------------------------------------------- a receiver in its own process
def _serve(port: int, arrivals: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

        def parse_request(self) -> bool:
            self.first_byte = time.time()  # the request line has just been read
            return super().parse_request()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            event_id = json.loads(body).get("eventId")
            if arrivals is not None and event_id:  # not the readiness probe
                arrivals.put((event_id, self.first_byte))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the dispatcher opens 20 connections at once; the default backlog is 5

    server = Server(("127.0.0.1", port), Handler)
    server.serve_forever()


@contextlib.contextmanager
def receiver(arrivals: Any = None) -> Iterator[str]:
    """http://127.0.0.1:<port> of a receiver answering 200 to every POST; stopped on exit."""
    port = free_port()
    process = multiprocessing.Process(target=_serve, args=(port, arrivals), daemon=True)
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.post(url, content=b"{}", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.join(5)


# ---------------------------------------------------------------- counting AWS calls
class AwsCalls:
    """Every AWS call the service makes in this process, by service and operation, with the time
    spent inside them (serializing, moto's work, parsing): botocore events on the adapters' session,
    so every client the service creates afterwards reports here."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.units: Counter[str] = Counter()  # items a call writes or asks for (what request units count)
        self.items_read: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()
        self.seconds = 0.0
        events = sdk_events()
        events.register("before-parameter-build.*.*", self._started)
        events.register("after-call.*.*", self._finished)
        events.register("after-call-error.*.*", self._finished)

    def _started(self, model: Any, context: dict[str, Any], params: dict[str, Any] | None = None, **_: Any) -> None:
        name = f"{model.service_model.service_name}:{model.name}"
        context["benchmark_call"] = (name, time.perf_counter())
        self.calls[name] += 1
        self.units[name] += _items_written_or_asked(params or {})

    def _finished(self, context: dict[str, Any], parsed: dict[str, Any] | None = None, **_: Any) -> None:
        name, started = context.pop("benchmark_call", (None, None))
        if name is not None and isinstance(parsed, dict) and isinstance(parsed.get("Items"), list):
            self.items_read[name] += len(parsed["Items"])  # a Query's items (read units follow their size)
        if name is not None:
            elapsed = time.perf_counter() - started
            self.seconds += elapsed
            self.by_operation[name] += elapsed

    def reset(self) -> None:
        self.calls.clear()
        self.units.clear()
        self.items_read.clear()
        self.by_operation.clear()
        self.seconds = 0.0

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.calls.items()))

    def seconds_by_operation(self) -> dict[str, float]:
        return {name: round(seconds, 3) for name, seconds in sorted(self.by_operation.items())}


def _items_written_or_asked(params: dict[str, Any]) -> int:
    """Items of one call: a transaction's, a batch's (writes, keys, messages, events); else 1."""
    if "TransactItems" in params:
        return len(params["TransactItems"])
    if "RequestItems" in params:
        return sum(len(v["Keys"]) if isinstance(v, dict) else len(v) for v in params["RequestItems"].values())
    if "Entries" in params:
        return len(params["Entries"])
    return 1


# ---------------------------------------------------------------- 1 and 2: fan-out and dispatcher
def _seed_webhooks(count: int, url: str) -> None:
    """One webhook registered through the service, `count - 1` clones of its items written with
    BatchWriteItem (profile, statistics and subscription row each)."""
    from integration_core import keys
    from integration_core.adapters.dynamodb import client, table, to_item
    from integration_core.domain.signatures import new_secret
    from integration_core.domain.webhooks import WebhookCreate
    from integration_core.principal import Principal
    from integration_core.services import webhook_secrets, webhooks
    from integration_core.tokens import Role

    db = table(FUNCTION_ENV["TABLE_NAME"])
    first = webhooks.register(Principal("svc_bench", Role.SERVICE), WebhookCreate(url=url, events=[EVENT_TYPE]))
    profile = db.get(keys.webhook_pk(first.webhook_id), keys.PROFILE)
    stats = db.get(keys.webhook_pk(first.webhook_id), keys.STATS)
    assert profile and stats
    items: list[dict[str, Any]] = []
    for n in range(count - 1):
        webhook_id = f"whk_bench{n:06d}"
        pk = keys.webhook_pk(webhook_id)
        items += [
            {
                **profile,
                "PK": pk,
                "webhook_id": webhook_id,
                "GSI1SK": f"{profile['created_at']}#{webhook_id}",
                # Its own secret: a ciphertext is bound to its webhook (the encryption context).
                "secret_ciphertext": webhook_secrets.seal(webhook_id, new_secret()),
            },
            {**stats, "PK": pk, "webhook_id": webhook_id},
            {"PK": keys.subscriptions_pk(EVENT_TYPE), "SK": keys.subscription_sk(webhook_id), "webhook_id": webhook_id},
        ]
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": to_item(item)}} for item in items[start : start + 25]]
        pending: dict[str, Any] = {FUNCTION_ENV["TABLE_NAME"]: requests}
        while pending:
            pending = client().batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


class SentMessages:
    """The bodies the service sends with SendMessageBatch, taken from the SDK call itself: the
    dispatcher gets exactly what the fan-out enqueued, without receiving a thousand messages back
    from moto's SQS (which takes it half a minute)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, str]] = []
        sdk_events().register("before-parameter-build.sqs.SendMessageBatch", self._sent)

    def _sent(self, params: dict[str, Any], **_: Any) -> None:
        self.bodies += [json.loads(entry["MessageBody"]) for entry in params["Entries"]]

    def records(self) -> list[Any]:
        """As the dispatcher's event source mapping hands them over (first receive, so no receipt
        handle is needed: a success changes nothing on the queue)."""
        from integration_core.services.delivery import QueuedDelivery

        return [
            QueuedDelivery(b["deliveryId"], "", 1, b["deliveryId"], b["webhookId"], b["eventId"]) for b in self.bodies
        ]


def _split(wall: float, aws: AwsCalls) -> dict[str, Any]:
    calls = aws.snapshot()
    return {
        "seconds": round(wall, 3),
        "inside_aws_calls_seconds": round(aws.seconds, 3),
        "service_own_seconds": round(wall - aws.seconds, 3),
        "aws_calls": calls,
        "aws_calls_total": sum(calls.values()),
        "aws_call_items": dict(sorted(aws.units.items())),
        "aws_items_read": dict(sorted(aws.items_read.items())),
        "aws_seconds_by_operation": aws.seconds_by_operation(),
    }


def fan_out_and_dispatch(webhooks: int, batch: int = BATCH) -> dict[str, Any]:
    """1 and 2, with the dispatcher invoked once per `batch` messages."""
    from moto import mock_aws

    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(FUNCTION_ENV | {"WEBHOOKS_ALLOW_LOOPBACK": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"})
    # moto copies a whole table per item of a transaction; the local stack's AWS rolls back from the
    # items touched instead, and so does this process's.
    undo_log_transactions()
    with receiver() as base, mock_aws():
        import boto3

        from integration_core.adapters.dynamodb import table
        from integration_core.services import delivery, events
        from tests.support.aws import create_tables

        aws = AwsCalls()
        sent = SentMessages()
        create_tables()
        os.environ["WEBHOOK_SECRET_KEY_ID"] = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
        queue = boto3.client("sqs").create_queue(QueueName="webhooks", Attributes={"VisibilityTimeout": "300"})
        os.environ["WEBHOOK_QUEUE_URL"] = queue["QueueUrl"]
        url = f"{base}/hook"
        started = time.perf_counter()
        _seed_webhooks(webhooks, url)
        seed_seconds = time.perf_counter() - started
        db = table(FUNCTION_ENV["TABLE_NAME"])
        event_id, operations = events.event_operations(
            db, EVENT_TYPE, {"courseId": "crs_bench", "startedAt": "2025-03-03T18:00:00+00:00"}
        )
        db.transact(operations)

        # 1. Fan-out: what POST /events does after recording the event.
        aws.reset()
        started = time.perf_counter()
        report = events.fan_out([event_id])
        fan_out = _split(time.perf_counter() - started, aws)
        assert report.deliveries == webhooks, report
        assert not any("Scan" in call for call in fan_out["aws_calls"]), fan_out

        # 2. The dispatcher: one invocation per `batch` messages, as the event source mapping batches them,
        # with the process's shared sender as the dispatcher function uses it (a warm environment).
        records = sent.records()
        assert len(records) == webhooks, len(records)
        sender = delivery.shared_sender()
        aws.reset()
        started = time.perf_counter()
        delivered = sum(
            delivery.process_batch(records[start : start + batch]).delivered for start in range(0, len(records), batch)
        )
        dispatch_wall, dispatch_aws = time.perf_counter() - started, aws.seconds
        dispatched = _split(dispatch_wall, aws)
        assert delivered == webhooks, delivered

        # The same payloads, posted one after another with a plain httpx client.
        event = db.get(f"EVENT#{event_id}", "EVENT")
        assert event is not None
        bodies = [delivery.payload_bytes(r.webhook_id, event) for r in records]
        with httpx.Client() as client:
            client.post(url, content=bodies[0], headers={"Content-Type": "application/json"})  # connect first
            started = time.perf_counter()
            for body in bodies:
                client.post(url, content=body, headers={"Content-Type": "application/json"}).raise_for_status()
            plain_seconds = time.perf_counter() - started
        # The dispatcher's sender alone, 25 at once (its connections are warm from the run above).
        started = time.perf_counter()
        for start in range(0, len(bodies), CHUNK):
            outcomes = sender.post_many([(url, body, {}) for body in bodies[start : start + CHUNK]])
            assert all(o.success for o in outcomes), outcomes
        sender_seconds = time.perf_counter() - started
        # The sender it replaced: httpx's AsyncClient, 25 at once, 20 connections.
        async_seconds = asyncio.run(_async_posts(url, bodies))

    per_second = webhooks / dispatch_wall
    own_per_second = webhooks / (dispatch_wall - dispatch_aws)
    plain_per_second = webhooks / plain_seconds
    return {
        "setup": {"webhooks": webhooks, "seeded_with_batch_write_seconds": round(seed_seconds, 2)},
        "fan_out": {"webhooks": webhooks, "deliveries": report.deliveries, **fan_out},
        "dispatcher": {
            "deliveries": delivered,
            "batch_size": batch,
            "invocations": -(-webhooks // batch),
            **dispatched,
            "deliveries_per_second": round(per_second, 1),
            "deliveries_per_second_without_aws_time": round(own_per_second, 1),
            "plain_httpx_loop_per_second": round(plain_per_second, 1),
            "ratio_to_plain_httpx": round(per_second / plain_per_second, 2),
            "ratio_to_plain_httpx_without_aws_time": round(own_per_second / plain_per_second, 2),
            "sender_alone_25_at_once_per_second": round(webhooks / sender_seconds, 1),
            "httpx_async_25_at_once_per_second": round(webhooks / async_seconds, 1),
        },
    }


async def _async_posts(url: str, bodies: list[bytes]) -> float:
    """Seconds to post `bodies` with httpx's AsyncClient in groups of 25 (a batch), 20 connections:
    the dispatcher's HTTP client before the thread-pool sender, for comparison."""
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
    async with httpx.AsyncClient(limits=limits) as client:

        async def post(body: bytes) -> None:
            (await client.post(url, content=body, headers={"Content-Type": "application/json"})).raise_for_status()

        await asyncio.gather(*(post(body) for body in bodies[:CHUNK]))  # connect first
        started = time.perf_counter()
        for start in range(0, len(bodies), CHUNK):
            await asyncio.gather(*(post(body) for body in bodies[start : start + CHUNK]))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--skip-stack", action="store_true", help="leave out 3 (the local stack)")
    args = parser.parse_args()
    started = time.perf_counter()
    figures = fan_out_and_dispatch(args.webhooks)
    print(json.dumps(figures, indent=2), flush=True)
    if not args.skip_stack:
        from benchmarks.first_delivery import stack_latency

        figures["local_stack"] = stack_latency(args.samples)
        print(json.dumps({"local_stack": figures["local_stack"]}, indent=2), flush=True)
    figures["run_seconds"] = round(time.perf_counter() - started, 1)
    figures["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    (ROOT / "benchmarks" / "results" / "webhooks.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"run: {figures['run_seconds']} s", flush=True)


if __name__ == "__main__":
    main()
