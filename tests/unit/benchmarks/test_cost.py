"""The cost model's arithmetic on known inputs: Lambda's GB-s rounded up to the millisecond, the
template's memory and architecture, every total the sum of its parts."""

from __future__ import annotations

import pytest

from benchmarks import cost

INPUTS = {
    "api_request_ms": 9.2,
    "authorizer_ms": 3.5,
    "api_gets_per_request": 1.0,
    "api_items_read_per_request": 8.0,
    "fan_out_per_delivery": {"ms": 2.0, "write_units": 2.0, "gets": 0.0, "items_read": 0.01, "sqs_requests": 0.1},
    "dispatcher_per_delivery": {"ms": 10.0, "write_units": 4.0, "gets": 2.0, "items_read": 0.0, "sqs_requests": 0.0},
    "dispatcher_batch_size": 25,
    "dispatcher_invocation_ms": 250.0,
}
INFRA = {
    "architecture": "arm64",
    "memory_mb": {"DirectoryFunction": 512, "AuthorizerFunction": 256, "WebhookDispatcherFunction": 512},
    "secrets": 5,
    "kms_keys": 2,
}


def test_lambda_bills_gb_seconds_rounded_up_to_the_millisecond():
    # 1M invocations of 9.2 ms (billed 10 ms) at 1 GB on arm64: $0.20 of requests + 10,000 GB-s.
    assert cost.lambda_cost(1e6, 9.2, 1024, "arm64") == pytest.approx(0.20 + 10_000 * 0.0000133334)
    assert cost.lambda_cost(1e6, 10.0, 512, "x86_64") == pytest.approx(0.20 + 5_000 * 0.0000166667)


def test_one_million_api_requests_is_the_sum_of_its_parts():
    figures = cost.model(INPUTS, INFRA)
    api = figures["per_million_api_requests"]
    assert api["api_gateway"] == pytest.approx(1.00)
    # The function: 10 ms at 512 MB; the authorizer: 4 ms at 256 MB, once per request (worst case).
    assert api["lambda_function"] == pytest.approx(0.20 + 1e6 * 0.010 * 0.5 * 0.0000133334, abs=1e-3)
    assert api["lambda_authorizer"] == pytest.approx(0.20 + 1e6 * 0.004 * 0.25 * 0.0000133334, abs=1e-3)
    # One GetItem and 8 items of 1 KB from a Query (2 read units of 4 KB): 3 read units.
    assert api["dynamodb_reads"] == pytest.approx(3 * 0.125, abs=1e-3)
    parts = sum(v for k, v in api.items() if k != "total")
    assert api["total"] == pytest.approx(parts, abs=0.01)
    assert figures["per_million_api_requests_other_architecture"]["x86_64"] > api["total"]


def test_deliveries_and_the_month_follow_from_the_same_inputs():
    figures = cost.model(INPUTS, INFRA)
    hook = figures["per_million_webhook_deliveries"]
    assert hook["dynamodb_writes"] == pytest.approx(6 * 0.625, abs=1e-3)
    # One dispatcher invocation per 25 deliveries, 250 ms at 512 MB.
    assert hook["lambda_dispatcher"] == pytest.approx(40_000 * 0.2 / 1e6 + 40_000 * 0.25 * 0.5 * 0.0000133334, abs=1e-3)
    month = figures["per_1000_students_month"]
    assumed = cost.ASSUMED
    requests = 1000 * assumed["api_requests_per_student_month"]
    deliveries = 1000 * assumed["events_per_student_month"] * assumed["webhooks_per_event"]
    assert month["api_requests"] == pytest.approx(
        requests * figures["per_million_api_requests"]["total"] / 1e6, abs=0.01
    )
    assert month["webhook_deliveries"] == pytest.approx(deliveries * hook["total"] / 1e6, abs=0.01)
    assert month["secrets_manager_secrets"] == pytest.approx(5 * 0.40)
    assert month["total"] == pytest.approx(sum(v for k, v in month.items() if k != "total"), abs=0.02)


def test_memory_and_architecture_come_from_the_template():
    infra = cost.template_memory()
    assert infra["architecture"] == "arm64"
    assert infra["memory_mb"]["AuthorizerFunction"] == 256
    assert infra["memory_mb"]["DirectoryFunction"] == 512
    assert infra["secrets"] >= 2 and infra["kms_keys"] >= 1
