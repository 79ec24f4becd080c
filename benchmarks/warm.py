"""Warm requests through the handlers in-process (moto on loopback behind them): p50 and p99 of
the whole request, and of the handler's own work, i.e. the request minus the time spent inside
its AWS calls. The target is under 2 ms of own work at p50.

    .venv/bin/python benchmarks/warm.py [--requests 500]
"""

from __future__ import annotations

import argparse
import json
import time

import botocore.client

from benchmarks.support import FUNCTION_ENV, ROOT, moto_server, summary

_aws_intervals: list[tuple[float, float]] = []
_real_call = botocore.client.BaseClient._make_api_call


def _timed_call(self, operation, params):
    started = time.perf_counter()
    try:
        return _real_call(self, operation, params)
    finally:
        _aws_intervals.append((started, time.perf_counter()))


def _aws_seconds() -> float:
    """Time covered by AWS calls; concurrent calls (health's checks) count once."""
    covered, end = 0.0, float("-inf")
    for start, stop in sorted(_aws_intervals):
        if stop > end:
            covered += stop - max(start, end)
            end = stop
    return covered


def measure(function: str, event: dict, requests: int) -> dict:
    from tests.support.lambdas import LambdaContext, load_function

    handler = load_function(function).handler
    for _ in range(20):  # warm up: clients, caches, route compilation
        handler(event, LambdaContext())
    totals, own = [], []
    for _ in range(requests):
        _aws_intervals.clear()
        started = time.perf_counter()
        answer = handler(event, LambdaContext())
        elapsed = time.perf_counter() - started
        assert answer.get("statusCode", 200) == 200 and answer.get("isAuthorized", True), answer
        totals.append(elapsed * 1000)
        own.append((elapsed - _aws_seconds()) * 1000)
    return {"request_ms": summary(totals), "own_work_ms": summary(own)}


def bare_get_item(requests: int) -> dict:
    """The yardstick of this machine and this moto: one GetItem through a bare boto3 client."""
    import boto3

    client = boto3.client("dynamodb")
    key = {"PK": {"S": "STUDENT#stu_ana00001"}, "SK": {"S": "PROFILE"}}
    for _ in range(20):
        client.get_item(TableName=FUNCTION_ENV["TABLE_NAME"], Key=key)
    totals = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get_item(TableName=FUNCTION_ENV["TABLE_NAME"], Key=key)
        totals.append((time.perf_counter() - started) * 1000)
    return {"request_ms": summary(totals)}


def run(requests: int = 500) -> dict:
    """p50/p99 per request (and of its own work), with a bare GetItem against the same moto."""
    botocore.client.BaseClient._make_api_call = _timed_call
    with moto_server():
        import boto3

        from integration_core import tokens
        from tests.support.lambdas import api_event, sample_event

        secret = boto3.client("secretsmanager").get_secret_value(SecretId=FUNCTION_ENV["SIGNING_KEY_SECRET_NAME"])
        token = "Bearer " + tokens.issue_token(
            "stu_ana00001",
            "student",
            secret["SecretString"],
            FUNCTION_ENV["TOKEN_ISSUER"],
            FUNCTION_ENV["TOKEN_AUDIENCE"],
            3600,
        )
        authorize = sample_event("authorizer/request.json")
        authorize["headers"]["authorization"] = token
        authorize["identitySource"] = [token]
        cases = {
            "authorizer: a valid token": ("authorizer", authorize),
            "health": ("health", sample_event("health/get_health.json")),
            "directory: a student reads own record": (
                "directory",
                api_event("GET", "/directory/students/stu_ana00001", caller=("stu_ana00001", "student")),
            ),
            "directory: admin lists courses": (
                "directory",
                api_event("GET", "/directory/courses", caller=("adm_office", "admin")),
            ),
            "payments: a student's history": (
                "payments",
                api_event("GET", "/payments/history/stu_ana00001", caller=("stu_ana00001", "student")),
            ),
            "webhooks: the caller's webhooks": (
                "webhooks",
                api_event("GET", "/webhooks", caller=("svc_bench", "service")),
            ),
        }
        results = {name: measure(fn, event, requests) for name, (fn, event) in cases.items()}
        results["bare boto3 GetItem"] = bare_get_item(requests)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    results = run(args.requests)
    print("| request | p50 ms | p99 ms | own work p50 ms | own work p99 ms |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        own = r.get("own_work_ms", {"p50": "", "p99": ""})
        print(f"| {name} | {r['request_ms']['p50']} | {r['request_ms']['p99']} | {own['p50']} | {own['p99']} |")
    (ROOT / "benchmarks" / "results" / "warm.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
