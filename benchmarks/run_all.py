"""`make bench`: one run of every figure the README's performance table quotes, printed as ONE table
and written to benchmarks/results/<UTC date>.json (`BENCH_QUICK=1`: fewer samples and sizes, a
check that everything runs, written to <UTC date>-quick.json).

Each section runs in a process of its own (they set up moto, the local stack and patches of their
own) and reuses its script's functions: cold start (benchmarks.cold_start), warm requests
(benchmarks.warm), fan-out and dispatcher (benchmarks.webhooks), latency against table size
(benchmarks.table_size), the local stack's start (benchmarks.local_stack), first delivery through
the local stack (benchmarks.webhooks), and the cost model (benchmarks.cost) from those durations.
Every figure that depends on the machine's speed is given as a ratio to something measured in the
same run: the bare boto3 process (cold start, stack start), one bare GetItem (warm requests), a
plain httpx loop (dispatcher), the smallest table (table size).

    .venv/bin/python -m benchmarks.run_all [--only cold_start,warm,...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ROOT = HERE.parent
QUICK = os.environ.get("BENCH_QUICK") == "1"

COLD_START_TARGET = 1.5
FIRST_DELIVERY_TARGET_MS = 300


# ---------------------------------------------------------------- the sections (each in its own process)
def section_cold_start() -> Any:
    from benchmarks import cold_start

    return cold_start.run(runs=2 if QUICK else 11)


def section_warm() -> Any:
    from benchmarks import warm

    return warm.run(requests=50 if QUICK else 500)


def section_webhooks() -> Any:
    from benchmarks import webhooks

    return webhooks.fan_out_and_dispatch(200 if QUICK else 1000)


def section_table_size() -> Any:
    from benchmarks import table_size

    return table_size.run([10**3, 10**4] if QUICK else [10**3, 10**4, 10**5], 20 if QUICK else 200)


def section_stack_start() -> Any:
    from benchmarks import local_stack

    starts = [local_stack.time_stack_start(300) for _ in range(1 if QUICK else 3)]
    return {"seconds": [round(s, 2) for s in starts], "median_seconds": round(statistics.median(starts), 2)}


def section_first_delivery() -> Any:
    from benchmarks import first_delivery

    return first_delivery.stack_latency(10 if QUICK else 100)


SECTIONS = {
    "cold_start": section_cold_start,
    "warm": section_warm,
    "webhooks": section_webhooks,
    "table_size": section_table_size,
    "stack_start": section_stack_start,
    "first_delivery": section_first_delivery,
}


def run_section(name: str) -> dict[str, Any]:
    """One section in a fresh interpreter; its figures, or what went wrong."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.run_all", "--section", name, "--out", out.name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = round(time.perf_counter() - started, 1)
        if done.returncode:
            return {"error": done.stderr[-3000:], "seconds": seconds}
        return {"figures": json.loads(Path(out.name).read_text()), "seconds": seconds}


# ---------------------------------------------------------------- the one table
def rows(sections: dict[str, Any], cost: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    """(figure, value, ratio measured in the same run, target) for every measured figure."""
    out: list[tuple[str, str, str, str]] = []
    cold = sections.get("cold_start")
    if cold:
        base = cold["baseline"]["total_ms"]
        out.append(("cold start: bare boto3 process (the yardstick)", f"{base:.0f} ms", "1.00x", ""))
        for name, r in cold.items():
            if name != "baseline":
                ratios = f"{r['ratio']:.2f}x (penalty {r['penalty_ratio']:.2f}x)"
                out.append((f"cold start: {name}", f"{r['total_ms']:.0f} ms", ratios, "<= 1.5x"))
    warm = sections.get("warm")
    if warm:
        get = warm["bare boto3 GetItem"]["request_ms"]["p50"]
        out.append(("warm: one bare GetItem (the yardstick)", f"p50 {get:.1f} ms", "1.00x", ""))
        for name, r in warm.items():
            if name == "bare boto3 GetItem":
                continue
            ms = r["request_ms"]
            own = r["own_work_ms"]["p50"]
            out.append(
                (
                    f"warm: {name}",
                    f"p50 {ms['p50']:.1f} / p99 {ms['p99']:.1f} ms (own work p50 {own:.2f} ms)",
                    f"p50 {_x(ms['p50'] / get)}, p99 {_x(ms['p99'] / get)} a GetItem",
                    "own work p50 < 2 ms",
                )
            )
    hooks = sections.get("webhooks")
    if hooks:
        fan, disp = hooks["fan_out"], hooks["dispatcher"]
        calls = ", ".join(f"{n} {op.split(':')[1]}" for op, n in fan["aws_calls"].items())
        out.append(
            (
                f"fan-out of one event to {fan['webhooks']:,} webhooks: AWS calls",
                f"{fan['aws_calls_total']} ({calls})",
                f"{fan['aws_calls_total'] / fan['webhooks']:.3f} per webhook",
                "no Scan",
            )
        )
        out.append(
            (
                f"dispatcher: {disp['deliveries']:,} deliveries in batches of 25, loopback receiver",
                f"{disp['deliveries_per_second_without_aws_time']:.0f}/s without the time inside AWS calls "
                f"({disp['deliveries_per_second']:.0f}/s with moto's)",
                f"{disp['ratio_to_plain_httpx_without_aws_time']:.2f}x a plain httpx loop",
                ">= 0.5x",
            )
        )
    sizes = sections.get("table_size")
    if sizes:
        for route, r in sizes["routes"].items():
            per = r["p50_ms"]
            out.append(
                (
                    f"table size: {route}",
                    "p50 "
                    + " / ".join(f"{per[s]:.1f}" for s in per)
                    + " ms at "
                    + " / ".join(f"{int(s):,}" for s in per),
                    f"{r['ratio_p50_largest_to_smallest']:.2f}x largest to smallest",
                    "<= 1.2x",
                )
            )
    start = sections.get("stack_start")
    if start:
        base_s = cold["baseline"]["total_ms"] / 1000 if cold else None
        ratio = f"{start['median_seconds'] / base_s:.1f}x the bare boto3 process" if base_s else ""
        out.append(("local stack: start to the first healthy answer", f"{start['median_seconds']:.2f} s", ratio, ""))
    first = sections.get("first_delivery")
    if first:
        latency, answer = first["post_events_to_first_byte_ms"], first["post_events_answer_ms"]
        out.append(
            (
                "first delivery: POST /events to the receiver's first byte (local stack)",
                f"p50 {latency['p50']:.0f} / p99 {latency['p99']:.0f} ms; "
                f"POST /events answers in {answer['p50']:.0f} ms",
                f"batching window {first['batching_window_ms']:.0f} ms of it (fixed, not the machine's)",
                f"p50 < {FIRST_DELIVERY_TARGET_MS} ms",
            )
        )
    if cost:
        api, hook, month = (
            cost["per_million_api_requests"],
            cost["per_million_webhook_deliveries"],
            cost["per_1000_students_month"],
        )
        where = f"{cost['region']}, {cost['architecture']}, list prices of {cost['prices_as_of'].split(' ')[0]}"
        other = ", ".join(f"{k}: ${v:.2f}" for k, v in cost["per_million_api_requests_other_architecture"].items())
        out.append(("cost: one million API requests", f"${api['total']:.2f}", other, where))
        out.append(("cost: one million webhook deliveries", f"${hook['total']:.2f}", "", where))
        out.append(("cost: 1,000 students a month", f"${month['total']:.2f}", "", where))
    return out


def _x(ratio: float) -> str:
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.3f}x"


def print_table(table: list[tuple[str, str, str, str]]) -> None:
    print("| figure | value | ratio (same run) | target |")
    print("|---|---|---|---|")
    for row in table:
        print("| " + " | ".join(row) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated sections: " + ", ".join(SECTIONS))
    parser.add_argument("--section", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.section:  # a child process: one section, its figures to --out
        Path(args.out).write_text(json.dumps(SECTIONS[args.section](), default=str))
        return 0

    started = time.perf_counter()
    chosen = [name for name in args.only.split(",") if name] or list(SECTIONS)
    sections: dict[str, Any] = {}
    errors: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for name in chosen:
        print(f"{name} ...", flush=True)
        result = run_section(name)
        seconds[name] = result["seconds"]
        if "error" in result:
            errors[name] = result["error"]
            print(f"{name} failed:\n{result['error']}", flush=True)
        else:
            sections[name] = result["figures"]
    cost = None
    if {"warm", "table_size", "webhooks"} <= sections.keys():
        from benchmarks import cost as cost_model

        cost = cost_model.model(cost_model.inputs_from_run(sections))
    table = rows(sections, cost)
    print()
    print_table(table)
    now = datetime.now(UTC)
    record = {
        "date": now.isoformat(timespec="seconds"),
        "quick": QUICK,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load_average": os.getloadavg()},
        "run_seconds": round(time.perf_counter() - started, 1),
        "section_seconds": seconds,
        "table": [dict(zip(("figure", "value", "ratio", "target"), row, strict=True)) for row in table],
        "cost": cost,
        "sections": sections,
        "errors": errors,
    }
    out = HERE / "results" / f"{now.date().isoformat()}{'-quick' if QUICK else ''}.json"
    out.write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)} ({record['run_seconds']} s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
