"""The cost model: what one million API requests, one million webhook deliveries and 1,000 students
a month cost on AWS, from the durations and AWS calls `make bench` measured and the template's
memory sizes and architecture, on AWS's published list prices.

Prices: us-east-1 (N. Virginia) list prices without free tiers, savings plans or volume tiers, as
AWS's pricing pages gave them in 2025 (DynamoDB on-demand after its 2024-11-01 reduction). They are
constants here, not fetched: check them against the pricing pages before quoting a bill.

What is measured and what is assumed is named in each figure: `make bench` passes the measured
inputs (`inputs_from_run`: each request's own work, its AWS calls and the items they write and
read), the rest are the assumptions in ASSUMED. A Lambda invocation's duration is the measured own
work plus the measured AWS calls at ASSUMED["aws_call_ms"] each (and, for the dispatcher, a
receiver's answer): wall times against moto on a shared machine would measure moto and the load.
Lambda bills each invocation's duration rounded up to the millisecond.

    .venv/bin/python -m benchmarks.cost benchmarks/results/<date>.json
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

REGION = "us-east-1"
PRICES_AS_OF = "2025 (AWS pricing pages; DynamoDB on-demand as reduced on 2024-11-01)"
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_x86_64": 0.0000166667,
    "lambda_gb_second_arm64": 0.0000133334,
    "http_api_request": 1.00 / 1e6,  # first 300 million a month, per 512 KB
    "dynamodb_write_request_unit": 0.625 / 1e6,  # on-demand, standard table class
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "eventbridge_custom_event": 1.00 / 1e6,
    "kms_request": 0.03 / 1e4,
    "kms_key_month": 1.00,
    "secrets_manager_secret_month": 0.40,
    "secrets_manager_call": 0.05 / 1e4,
    "cloudwatch_logs_ingested_gb": 0.50,
}

# Assumptions (not measured by `make bench`); each is named where it is used.
ASSUMED = {
    # One authorizer invocation per request: the worst case. API Gateway caches the authorizer's
    # answer per token for 60 s (ReauthorizeEvery), so a client making several requests a minute
    # pays a fraction of this.
    "authorizer_invocations_per_request": 1.0,
    # Log bytes per invocation: Lambda's START/END/REPORT lines (~350 B) and, for API requests,
    # the access log line (~300 B); the functions log nothing else at the default level.
    "log_bytes_per_invocation": 350,
    "log_bytes_per_api_request": 300,
    # Items are about 1 KB: a read request unit reads 4 KB (strongly consistent; eventually
    # consistent reads cost half), a write request unit writes 1 KB, a transaction's costs double.
    "item_kb": 1.0,
    # What a student does in a month (the "per 1,000 students" figure).
    "api_requests_per_student_month": 300,
    "events_per_student_month": 6,  # enrollments, payments, class reminders, schedule changes
    "webhooks_per_event": 2,  # subscribed receivers each event is delivered to
    "reminder_emails_per_student_month": 16,  # two reminders per class, two classes a week
    # One reminder firing for a class of 20 (benchmarks.reminders, against moto: 4.1 s).
    "reminder_firing_ms": 4109,
    # A Lambda invocation's duration is modelled as the measured own work (the request minus the
    # time inside AWS calls) plus the measured number of AWS calls at this latency each (DynamoDB,
    # SQS in the same region: single-digit milliseconds), not as the wall time against moto on a
    # shared development machine, which measures moto and the machine's load.
    "aws_call_ms": 5.0,
    # A receiver's answer to one delivery (the 25 of a batch are posted at once).
    "receiver_response_ms": 150.0,
}


def lambda_cost(invocations: float, duration_ms: float, memory_mb: int, architecture: str) -> float:
    billed_seconds = math.ceil(duration_ms) / 1000
    gb_seconds = invocations * billed_seconds * memory_mb / 1024
    return invocations * PRICES["lambda_request"] + gb_seconds * PRICES[f"lambda_gb_second_{architecture}"]


def _read_units(gets: float, items_read: float) -> float:
    return gets + math.ceil(items_read * ASSUMED["item_kb"] / 4) if items_read else gets


def template_memory() -> dict[str, Any]:
    """MemorySize per function and the architecture, from template.yaml (Globals, then each function)."""
    from benchmarks.support import ROOT
    from offline.template import load_template

    template = load_template(ROOT / "template.yaml")
    globals_ = template.get("Globals", {}).get("Function", {})
    architecture = (globals_.get("Architectures") or ["x86_64"])[0]
    memory = {
        name: int(resource["Properties"].get("MemorySize", globals_.get("MemorySize", 128)))
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    secrets = sum(1 for r in template["Resources"].values() if r["Type"] == "AWS::SecretsManager::Secret")
    keys = sum(1 for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key")
    return {"architecture": architecture, "memory_mb": memory, "secrets": secrets, "kms_keys": keys}


def model(inputs: dict[str, Any], infrastructure: dict[str, Any] | None = None) -> dict[str, Any]:
    """Dollars per 1M API requests, per 1M webhook deliveries and per 1,000 students a month."""
    infra = infrastructure or template_memory()
    arch, memory = infra["architecture"], infra["memory_mb"]
    other = "x86_64" if arch == "arm64" else "arm64"
    a = ASSUMED

    # ---------------------------------------------------------------- one API request
    api_ms, auth_ms = inputs["api_request_ms"], inputs["authorizer_ms"]
    api_memory, auth_memory = memory.get("DirectoryFunction", 512), memory.get("AuthorizerFunction", 256)
    per_api = {
        "api_gateway": PRICES["http_api_request"],
        "lambda_function": lambda_cost(1, api_ms, api_memory, arch),
        "lambda_authorizer": a["authorizer_invocations_per_request"] * lambda_cost(1, auth_ms, auth_memory, arch),
        "dynamodb_reads": _read_units(inputs["api_gets_per_request"], inputs["api_items_read_per_request"])
        * PRICES["dynamodb_read_request_unit"],
        "cloudwatch_logs": (
            a["log_bytes_per_invocation"] * (1 + a["authorizer_invocations_per_request"])
            + a["log_bytes_per_api_request"]
        )
        / 1e9
        * PRICES["cloudwatch_logs_ingested_gb"],
    }
    other_arch = (
        sum(per_api.values())
        - per_api["lambda_function"]
        - per_api["lambda_authorizer"]
        + lambda_cost(1, api_ms, api_memory, other)
        + a["authorizer_invocations_per_request"] * lambda_cost(1, auth_ms, auth_memory, other)
    )

    # ---------------------------------------------------------------- one webhook delivery
    # Fan-out (in the publishing request) and the dispatcher's batch, per delivery, as measured.
    fan, disp = inputs["fan_out_per_delivery"], inputs["dispatcher_per_delivery"]
    dispatcher_memory = memory.get("WebhookDispatcherFunction", 512)
    batch = inputs["dispatcher_batch_size"]
    writes = fan.get("write_units", 0) + disp.get("write_units", 0)
    reads = _read_units(fan.get("gets", 0) + disp.get("gets", 0), fan.get("items_read", 0) + disp.get("items_read", 0))
    # SQS: the fan-out's SendMessageBatch calls, and the event source mapping's receive and delete
    # per batch (its empty polls of an idle queue are left out).
    sqs_requests = fan.get("sqs_requests", 0) + disp.get("sqs_requests", 0) + 2 / batch
    per_delivery = {
        "lambda_dispatcher": lambda_cost(1 / batch, inputs["dispatcher_invocation_ms"], dispatcher_memory, arch),
        # The fan-out runs inside the publishing invocation: its share of that invocation's GB-s.
        "lambda_fan_out_share": fan["ms"] / 1000 * api_memory / 1024 * PRICES[f"lambda_gb_second_{arch}"],
        "dynamodb_writes": writes * PRICES["dynamodb_write_request_unit"],
        "dynamodb_reads": reads * PRICES["dynamodb_read_request_unit"],
        "sqs": sqs_requests * PRICES["sqs_request"],
        "kms": (fan.get("kms_requests", 0) + disp.get("kms_requests", 0)) * PRICES["kms_request"],
        "cloudwatch_logs": a["log_bytes_per_invocation"] / batch / 1e9 * PRICES["cloudwatch_logs_ingested_gb"],
    }

    # ---------------------------------------------------------------- 1,000 students a month
    students = 1000
    requests = students * a["api_requests_per_student_month"]
    events = students * a["events_per_student_month"]
    deliveries = events * a["webhooks_per_event"]
    month = {
        "api_requests": requests * sum(per_api.values()),
        "webhook_deliveries": deliveries * sum(per_delivery.values()),
        "eventbridge_events": events * PRICES["eventbridge_custom_event"],
        "reminder_invocations": lambda_cost(
            students * a["reminder_emails_per_student_month"] / 20,  # one firing emails a class (~20)
            a["reminder_firing_ms"],
            memory.get("ReminderFunction", 512),
            arch,
        ),
        "secrets_manager_secrets": infra["secrets"] * PRICES["secrets_manager_secret_month"],
        "kms_keys": infra["kms_keys"] * PRICES["kms_key_month"],
    }
    return {
        "region": REGION,
        "prices_as_of": PRICES_AS_OF,
        "architecture": arch,
        "inputs": inputs,
        "assumed": ASSUMED,
        "per_million_api_requests": _dollars(per_api, 1e6),
        "per_million_api_requests_other_architecture": {other: round(other_arch * 1e6, 2)},
        "per_million_webhook_deliveries": _dollars(per_delivery, 1e6),
        "per_1000_students_month": {
            **{k: round(v, 2) for k, v in month.items()},
            "total": round(sum(month.values()), 2),
        },
    }


def _dollars(parts: dict[str, float], count: float) -> dict[str, float]:
    out = {name: round(value * count, 3) for name, value in parts.items()}
    out["total"] = round(sum(parts.values()) * count, 2)
    return out


def inputs_from_run(sections: dict[str, Any]) -> dict[str, Any]:
    """The model's inputs from one `make bench` run's sections: measured own work and AWS calls,
    durations modelled from them (ASSUMED["aws_call_ms"], ["receiver_response_ms"])."""
    call_ms = ASSUMED["aws_call_ms"]
    warm = sections["warm"]
    api_routes = [k for k in warm if k not in ("bare boto3 GetItem", "health") and not k.startswith("authorizer")]
    own = sorted(warm[k]["own_work_ms"]["p50"] for k in api_routes)[len(api_routes) // 2]
    auth = next((v for k, v in warm.items() if k.startswith("authorizer")), None)
    sizes = sections["table_size"]
    smallest = str(min(int(s) for s in sizes["sizes"]))
    per_request = [r["per_request"][smallest] for r in sizes["routes"].values()]
    calls_per_request = sum(sum(p["dynamodb_calls"].values()) for p in per_request) / len(per_request)
    gets = sum(p["dynamodb_calls"].get("GetItem", 0) + p["dynamodb_calls"].get("BatchGetItem", 0) for p in per_request)
    items = sum(p["items_returned"] for p in per_request)
    hooks = sections["webhooks"]
    deliveries = hooks["fan_out"]["deliveries"]
    dispatcher = hooks["dispatcher"]
    invocations = dispatcher["invocations"]
    return {
        "api_own_work_ms": own,
        "api_aws_calls_per_request": round(calls_per_request, 2),
        "api_request_ms": round(own + calls_per_request * call_ms, 2),
        "authorizer_ms": auth["own_work_ms"]["p50"] if auth else own,
        "api_gets_per_request": round(gets / len(per_request), 2),
        "api_items_read_per_request": round(items / len(per_request), 1),
        "fan_out_per_delivery": _per_delivery(hooks["fan_out"], deliveries, call_ms),
        "dispatcher_per_delivery": _per_delivery(dispatcher, deliveries, call_ms),
        "dispatcher_batch_size": deliveries // invocations if invocations else 25,
        "dispatcher_invocation_ms": round(
            dispatcher["service_own_seconds"] * 1000 / invocations
            + dispatcher["aws_calls_total"] / invocations * call_ms
            + ASSUMED["receiver_response_ms"],
            1,
        ),
    }


def _per_delivery(section: dict[str, Any], deliveries: int, call_ms: float) -> dict[str, float]:
    calls, items = section["aws_calls"], section.get("aws_call_items", {})
    read = section.get("aws_items_read", {})
    writes = 0.0
    for op, n in items.items():
        if op in ("dynamodb:TransactWriteItems",):
            writes += 2 * n  # a transaction's writes cost double
        elif op in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
            writes += n
    gets = sum(items.get(op, 0) for op in ("dynamodb:GetItem", "dynamodb:BatchGetItem"))
    own_ms = section["service_own_seconds"] * 1000
    return {
        "ms": round((own_ms + section["aws_calls_total"] * call_ms) / deliveries, 3),
        "write_units": writes / deliveries,
        "gets": gets / deliveries,
        "items_read": sum(read.values()) / deliveries,
        "sqs_requests": sum(n for op, n in calls.items() if op.startswith("sqs:")) / deliveries,
        "kms_requests": sum(n for op, n in calls.items() if op.startswith("kms:")) / deliveries,
    }


def main() -> None:
    run = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(model(inputs_from_run(run["sections"])), indent=2))


if __name__ == "__main__":
    main()
