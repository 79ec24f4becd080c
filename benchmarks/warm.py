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

from benchmarks.support import ROOT, moto_server, summary

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
        assert answer["statusCode"] == 200, answer
        totals.append(elapsed * 1000)
        own.append((elapsed - _aws_seconds()) * 1000)
    return {"request_ms": summary(totals), "own_work_ms": summary(own)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    botocore.client.BaseClient._make_api_call = _timed_call
    with moto_server():
        from tests.support.lambdas import api_event, sample_event

        cases = {
            "health": ("health", sample_event("health/get_health.json")),
            "directory: a student reads own record": (
                "directory",
                api_event("GET", "/directory/students/stu_ana00001", caller=("stu_ana00001", "student")),
            ),
            "directory: admin lists courses": (
                "directory",
                api_event("GET", "/directory/courses", caller=("adm_office", "admin")),
            ),
        }
        results = {name: measure(fn, event, args.requests) for name, (fn, event) in cases.items()}
    print("| request | p50 ms | p99 ms | own work p50 ms | own work p99 ms |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['request_ms']['p50']} | {r['request_ms']['p99']} | "
            f"{r['own_work_ms']['p50']} | {r['own_work_ms']['p99']} |"
        )
    (ROOT / "benchmarks" / "results" / "warm.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
