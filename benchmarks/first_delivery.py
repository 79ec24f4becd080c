"""First delivery latency and batch throughput (issue 15, item 10; README, docs/webhooks.md):

1. latency from `POST /events` to the receiver's first byte through the local stack (the functions
   from template.yaml, its queue and its event source mapping with the template's BatchSize and
   MaximumBatchingWindowInSeconds), p50/p99 over events sent one at a time, with where the time goes;
   and in the same run the same through a copy of the template with the mapping it had (BatchSize
   25, a 1 s window), so that the difference does not depend on how loaded the machine is;
2. the dispatcher's throughput with the template's batch size against 25 (the batch size it had,
   with a 1 s window), in the same run: the same fan-out to the same receiver, one invocation per
   batch, so the ratio says what the smaller batches cost (benchmarks/webhooks.py part 2).

Public tools only: httpx against the local stack, a receiver on loopback (http.server), moto.

    .venv/bin/python -m benchmarks.first_delivery [--samples 100] [--webhooks 500] [--skip-throughput]
                                                  [--skip-previous]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.support import ROOT, summary
from benchmarks.webhooks import EVENT_TYPE, fan_out_and_dispatch, receiver

TARGET_P50_MS = 300.0
PREVIOUS_BATCH = 25
# The copy of the template with the previous mapping, beside it (CodeUri paths are relative to it).
PREVIOUS_TEMPLATE = ROOT / "template.first-delivery-previous.tmp.yaml"


def _mapping() -> dict[str, Any]:
    from offline.template import load_template

    function = load_template(ROOT / "template.yaml")["Resources"]["WebhookDispatcherFunction"]
    return dict(function["Properties"]["Events"]["Deliveries"]["Properties"])


def _previous_template() -> Path:
    """template.yaml with the dispatcher's mapping as it was: 25 a batch, gathered for 1 s."""
    text = (ROOT / "template.yaml").read_text()
    start = text.index("            Queue: !GetAtt WebhookQueue.Arn\n")
    end = text.index("            FunctionResponseTypes:", start)
    previous = (
        "            Queue: !GetAtt WebhookQueue.Arn\n"
        f"            BatchSize: {PREVIOUS_BATCH}\n"
        "            MaximumBatchingWindowInSeconds: 1\n"
    )
    PREVIOUS_TEMPLATE.write_text(text[:start] + previous + text[end:])
    return PREVIOUS_TEMPLATE


def stack_latency(samples: int, template: Path | None = None) -> dict[str, Any]:
    """`POST /events` to the receiver's first byte through the local stack, one event at a time."""
    from offline.template import load_template
    from offline.testing import start_stack

    template = template or ROOT / "template.yaml"

    arrivals: Any = multiprocessing.Queue()
    with receiver(arrivals) as base:
        stack = start_stack(
            template,
            Path(tempfile.mkdtemp(prefix="bench-first-delivery-")),
            "--parameter",
            "WebhooksAllowLoopback=true",
            timeout=300,  # a loaded machine starts the stack slowly; the figures start after it
        )
        try:
            api = f"{stack.api_url}/api/v1/integration"
            headers = {"Authorization": f"Bearer {stack.token('service', 'svc_bench')}"}
            with httpx.Client(timeout=30, headers=headers) as client:
                hook = {"url": f"{base}/hook", "events": [EVENT_TYPE]}
                for _ in range(5):  # a loaded machine's cold authorizer may time out (5 s) once
                    registered = client.post(f"{api}/webhooks", json=hook)
                    if registered.status_code != 500:
                        break
                registered.raise_for_status()
                latencies, answered = [], []
                for n in range(samples + 3):  # the first three warm the functions up
                    event_id = f"bench-{n}-{time.time_ns()}"
                    data = {"courseId": f"crs_{n}", "startedAt": "2025-03-03T18:00:00+00:00"}
                    sent = time.time()
                    answer = client.post(
                        f"{api}/events", json={"eventType": EVENT_TYPE, "data": data, "eventId": event_id}
                    )
                    returned = time.time()
                    answer.raise_for_status()
                    arrived_id, first_byte = arrivals.get(timeout=30)
                    assert arrived_id == event_id, (arrived_id, event_id)
                    if n >= 3:
                        latencies.append((first_byte - sent) * 1000)
                        answered.append((returned - sent) * 1000)
        finally:
            stack.stop()
    function = load_template(template)["Resources"]["WebhookDispatcherFunction"]
    mapping = function["Properties"]["Events"]["Deliveries"]["Properties"]
    invocations = [
        json.loads(line) for line in (stack.state_dir / "logs" / "invocations.jsonl").read_text().splitlines()
    ]
    dispatches = [
        i["durationMs"] for i in invocations if i["source"] == "sqs" and i["function"] == "WebhookDispatcherFunction"
    ]
    after = [a - b for a, b in zip(latencies, answered, strict=True)]
    invoked = dispatches[-samples:]
    return {
        "post_events_to_first_byte_ms": summary(latencies),
        "target_p50_ms": TARGET_P50_MS,
        # Where the time goes: POST /events answers once the event is recorded, fanned out and
        # enqueued; the event source mapping then takes the message at its next poll (the local
        # stack polls every 0.2 s; Lambda's pollers long-poll) and gathers a batch for
        # MaximumBatchingWindowInSeconds (none now); the dispatcher's invocation includes the delivery.
        "post_events_answer_ms": summary(answered),
        "after_the_answer_ms_mean": round(statistics.mean(after), 1),
        "batch_size": int(mapping.get("BatchSize", 10)),
        "batching_window_ms": float(mapping.get("MaximumBatchingWindowInSeconds", 0)) * 1000,
        "dispatcher_invocation_ms": summary(invoked),
        # What the mapping adds (its poll, its window, starting the invocation): the part of the wait
        # the batching settings decide, apart from the functions' speed on this machine; a little
        # under it, as the invocation's time also holds the recording after the first byte.
        "queue_pickup_ms_mean": round(statistics.mean(after) - statistics.mean(invoked), 1),
    }


def against_previous(samples: int) -> dict[str, Any]:
    """The template's mapping and the previous one, one after the other in the same run."""
    try:
        previous = stack_latency(samples, _previous_template())
    finally:
        PREVIOUS_TEMPLATE.unlink(missing_ok=True)
    return previous


def _fresh_clients() -> None:
    """The service's cached clients and settings belong to the previous moto account: made again."""
    from integration_core.adapters import dynamodb, kms, sqs
    from integration_core.config import settings
    from integration_core.services import webhook_secrets
    from integration_core.webhook_config import webhook_settings

    for cached in (dynamodb.client, dynamodb.table, sqs.client, kms._client, settings, webhook_settings):
        cached.cache_clear()
    webhook_secrets.forget()


def throughput(webhooks: int) -> dict[str, Any]:
    """Deliveries per second with the template's batch size and with the previous one, same run."""
    batch = int(_mapping().get("BatchSize", 10))
    now = fan_out_and_dispatch(webhooks, batch)["dispatcher"]
    _fresh_clients()
    before = fan_out_and_dispatch(webhooks, PREVIOUS_BATCH)["dispatcher"]
    keep = ("batch_size", "invocations", "deliveries_per_second", "deliveries_per_second_without_aws_time")
    return {
        "webhooks": webhooks,
        "template_batch": {k: now[k] for k in keep},
        "previous_batch": {k: before[k] for k in keep},
        "ratio_template_to_previous": round(now["deliveries_per_second"] / before["deliveries_per_second"], 2),
        "ratio_template_to_previous_without_aws_time": round(
            now["deliveries_per_second_without_aws_time"] / before["deliveries_per_second_without_aws_time"], 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--webhooks", type=int, default=500)
    parser.add_argument("--skip-throughput", action="store_true", help="leave out 2 (the batch sizes)")
    parser.add_argument("--skip-previous", action="store_true", help="leave out the previous mapping's run of 1")
    args = parser.parse_args()
    started = time.perf_counter()
    figures: dict[str, Any] = {"local_stack": stack_latency(args.samples)}
    print(json.dumps(figures, indent=2), flush=True)
    if not args.skip_previous:
        before = against_previous(args.samples)
        now = figures["local_stack"]
        figures["local_stack_previous_mapping"] = before
        figures["local_stack_p50_ratio_to_previous"] = round(
            now["post_events_to_first_byte_ms"]["p50"] / before["post_events_to_first_byte_ms"]["p50"], 2
        )
        figures["after_the_answer_ms_mean_saved"] = round(
            before["after_the_answer_ms_mean"] - now["after_the_answer_ms_mean"], 1
        )
        print(json.dumps({k: v for k, v in figures.items() if k != "local_stack"}, indent=2), flush=True)
    if not args.skip_throughput:
        figures["throughput"] = throughput(args.webhooks)
        print(json.dumps({"throughput": figures["throughput"]}, indent=2), flush=True)
    figures["run_seconds"] = round(time.perf_counter() - started, 1)
    figures["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    (ROOT / "benchmarks" / "results" / "first_delivery.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"run: {figures['run_seconds']} s", flush=True)


if __name__ == "__main__":
    main()
