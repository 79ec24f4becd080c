"""Webhook figures (docs/webhooks.md):

1. fan-out of one event to 1,000 subscribed webhooks: AWS calls by operation and wall time;
2. dispatcher throughput against a receiver on loopback, deliveries per second, and its ratio to a
   plain httpx loop posting the same payloads to the same receiver;
3. latency from `POST /events` to the receiver's first byte through the local stack, p50/p99.

The receiver runs in its own process; moto runs in-process (its calls share the GIL with the
dispatcher, so the throughput figure is a floor).
Run: `python -m benchmarks.webhooks` (add `--skip-stack` to leave out 3).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.support import FUNCTION_ENV, ROOT, free_port, summary

WEBHOOKS = 1000


def _serve(port: int, arrivals) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            if arrivals is not None:
                arrivals.put((self.headers.get("webhook-id", ""), time.time()))
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def start_receiver(arrivals=None) -> tuple[multiprocessing.Process, int]:
    port = free_port()
    process = multiprocessing.Process(target=_serve, args=(port, arrivals), daemon=True)
    process.start()
    time.sleep(0.5)
    return process, port


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(100):
        try:
            httpx.get(endpoint + "/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return moto, endpoint


def count_calls() -> Counter:
    import botocore.client

    calls: Counter = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counted(self, operation, params):
        calls[f"{self.meta.service_model.service_name}:{operation}"] += 1
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = counted
    return calls


def fan_out_and_dispatch() -> dict:
    receiver, port = start_receiver()
    # moto in-process: its server answers a 100-item transaction on a 3,000-item table slower than
    # the SDK's 5 s read timeout, which says nothing about DynamoDB; calls are counted the same way.
    from moto import mock_aws

    moto = mock_aws()
    moto.start()
    try:
        import boto3

        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ.update(FUNCTION_ENV | {"WEBHOOKS_ALLOW_LOOPBACK": "true"})
        from tests.support.aws import create_tables

        create_tables()
        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="webhooks", Attributes={"VisibilityTimeout": "120"})["QueueUrl"]
        os.environ["WEBHOOK_QUEUE_URL"] = queue
        from integration_core.adapters.dynamodb import table
        from integration_core.adapters.webhook_http import EventLoop, WebhookSender
        from integration_core.domain.webhooks import WebhookCreate
        from integration_core.principal import Principal
        from integration_core.services import delivery, events, webhooks
        from integration_core.tokens import Role

        owner = Principal("bench-service", Role.SERVICE)
        url = f"http://127.0.0.1:{port}/hook"
        # Setup outside the measurement: 1,000 webhooks written in batches (moto slows down on
        # a thousand conditional transactions into one partition; DynamoDB does not).
        from integration_core.adapters.dynamodb import client as dynamodb_client
        from integration_core.adapters.dynamodb import to_item
        from integration_core.services.webhook_store import subscription_ops

        db = table(FUNCTION_ENV["TABLE_NAME"])
        template = webhooks.register(owner, WebhookCreate(url=url, events=["course_started"]))
        profile = table(FUNCTION_ENV["TABLE_NAME"]).get(f"WEBHOOK#{template['webhook_id']}", "PROFILE")
        items = []
        for n in range(WEBHOOKS - 1):
            webhook_id = f"whk_bench{n:06d}"
            items += [
                {**profile, "PK": f"WEBHOOK#{webhook_id}", "webhook_id": webhook_id, "GSI1SK": f"x#{webhook_id}"},
                {"PK": f"WEBHOOK#{webhook_id}", "SK": "STATS", "webhook_id": webhook_id},
                subscription_ops(table(FUNCTION_ENV["TABLE_NAME"]), webhook_id, ["course_started"], add=True)[0]["Put"][
                    "Item"
                ],
            ]
        for start in range(0, len(items), 25):
            requests = [
                {"PutRequest": {"Item": i if "PK" in i and isinstance(i["PK"], dict) else to_item(i)}}
                for i in items[start : start + 25]
            ]
            dynamodb_client().batch_write_item(RequestItems={FUNCTION_ENV["TABLE_NAME"]: requests})
        db = table(FUNCTION_ENV["TABLE_NAME"])
        event_id, ops = events.event_operations(
            db, "course_started", {"courseId": "crs_bench", "startedAt": "2025-03-03T18:00:00+00:00"}
        )
        db.transact(ops)

        calls = count_calls()
        started = time.perf_counter()
        report = events.fan_out([event_id])
        fan_out_seconds = time.perf_counter() - started
        fan_out_calls = dict(calls)
        assert report.deliveries == WEBHOOKS and not any("Scan" in c for c in calls)

        messages = []
        while len(messages) < WEBHOOKS:
            batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"])
            messages += batch.get("Messages", [])
        queued = [
            delivery.QueuedDelivery(
                m["MessageId"],
                m["ReceiptHandle"],
                1,
                **{
                    k: v
                    for k, v in zip(
                        ("delivery_id", "webhook_id", "event_id"), json.loads(m["Body"]).values(), strict=True
                    )
                },
            )
            for m in messages
        ]
        loop = EventLoop()
        sender = WebhookSender(connect_timeout=5, total_timeout=15, allow_loopback=True)
        calls.clear()
        started = time.perf_counter()
        delivered = 0
        for start in range(0, len(queued), 25):
            delivered += delivery.process_batch(queued[start : start + 25], sender, loop.run).delivered
        dispatch_seconds = time.perf_counter() - started
        dispatch_calls = dict(calls)
        assert delivered == WEBHOOKS, delivered

        import httpx

        body = delivery.payload_bytes("whk_bench", db.get(f"EVENT#{event_id}", "EVENT"))
        with httpx.Client() as client:
            started = time.perf_counter()
            for _ in range(WEBHOOKS):
                client.post(url, content=body, headers={"Content-Type": "application/json"})
            plain_seconds = time.perf_counter() - started
        return {
            "fan_out": {
                "webhooks": WEBHOOKS,
                "seconds": round(fan_out_seconds, 3),
                "aws_calls": fan_out_calls,
                "aws_calls_total": sum(fan_out_calls.values()),
            },
            "dispatcher": {
                "deliveries": delivered,
                "seconds": round(dispatch_seconds, 3),
                "per_second": round(delivered / dispatch_seconds, 1),
                "aws_calls": dispatch_calls,
                "plain_httpx_per_second": round(WEBHOOKS / plain_seconds, 1),
                "ratio_to_plain_httpx": round((delivered / dispatch_seconds) / (WEBHOOKS / plain_seconds), 2),
            },
        }
    finally:
        moto.stop()
        receiver.terminate()


def stack_latency(samples: int = 100) -> dict:
    import httpx

    from offline.testing import start_stack

    arrivals: multiprocessing.Queue = multiprocessing.Queue()
    receiver, port = start_receiver(arrivals)
    stack = start_stack(
        ROOT / "template.yaml",
        Path(tempfile.mkdtemp(prefix="bench-webhooks-")),
        "--parameter",
        "WebhooksAllowLoopback=true",
    )
    try:
        api = f"{stack.api_url}/api/v1/integration"
        headers = {"Authorization": f"Bearer {stack.token('service', 'bench-service')}"}
        with httpx.Client(timeout=30, headers=headers) as client:
            answer = client.post(
                f"{api}/webhooks", json={"url": f"http://127.0.0.1:{port}/hook", "events": ["course_started"]}
            )
            answer.raise_for_status()
            latencies = []
            for n in range(samples):
                sent = time.time()
                published = client.post(
                    f"{api}/events",
                    json={
                        "eventType": "course_started",
                        "data": {"courseId": f"crs_{n}", "startedAt": "2025-03-03T18:00:00+00:00"},
                    },
                )
                published.raise_for_status()
                _, arrived = arrivals.get(timeout=30)
                latencies.append((arrived - sent) * 1000)
        return {"post_events_to_receiver_ms": summary(latencies)}
    finally:
        stack.stop()
        receiver.terminate()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-stack", action="store_true")
    args = parser.parse_args()
    figures = fan_out_and_dispatch()
    print(json.dumps(figures, indent=2), flush=True)
    if not args.skip_stack:
        try:
            print(json.dumps(stack_latency(), indent=2))
        except Exception as error:  # the local stack is optional for figures 1 and 2
            print(json.dumps({"post_events_to_receiver_ms": f"local stack unavailable: {error}"[:400]}))


if __name__ == "__main__":
    main()
