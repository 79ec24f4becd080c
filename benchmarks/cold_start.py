"""Cold start of every function: a fresh Python process imports the handler and serves one request
(its sample event from events/) and exits, against the local stack's embedded AWS and provider sandbox with
the environment the template gives that function; compared with a bare handler that only imports
boto3, makes one DynamoDB client and serves one GetItem. The target is 1.5x that baseline.

Where a sample would take a shortcut against a fresh stack (the provider callbacks' stale
signatures, a delivery or a class that does not exist), each probe gets an input of its own that
does the function's work instead (benchmarks/cold_start_work.py): a payment that succeeds, a
meeting that starts, a delivery sent to a receiver, a reminder emailed.

Each probe sees only the packages its deployment has: the core layer's requirements, the
function's own, and what the Lambda runtime provides (boto3 and its dependencies); a package that
is in the development environment only (rich, click and pygments for schemathesis, which make
`import httpx` load its command line too) cannot be imported, as in Lambda. Each function's run comes
right after a baseline run of its own (baseline, A, baseline, B, ...), and its ratio is the median
over the rounds of the ratio within each pair, so that a machine whose load changes during the run
moves both sides of a ratio alike; each other figure is the median, and `cpu_ms` is the process's
own CPU time (user + system), which another process's load moves less than the wall clock.

    .venv/bin/python -m benchmarks.cold_start [--runs 11] [--only Fn1,Fn2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

from benchmarks.cold_start_work import ProbeWork
from benchmarks.support import ROOT
from offline.template import REGION, load_template
from offline.testing import start_stack

# Which sample event each function serves (events/<path>).
SAMPLES = {
    "AuthorizerFunction": "authorizer/request.json",
    "HealthFunction": "health/get_health.json",
    "ApiDocsFunction": "api_docs/get_openapi.json",
    "DirectoryFunction": "directory/get_student.json",
    "WebhooksFunction": "webhooks/list_user_webhooks.json",
    "WebhookDispatcherFunction": "webhook_dispatcher/sqs_batch.json",
    "WebhookMaintenanceFunction": "webhook_maintenance/sweep.json",
    "PaymentsFunction": "payments/get_history.json",
    "PaymentCallbacksFunction": "payment_callbacks/stripe_event.json",
    "DirectoryEventsFunction": "directory_events/payment_refunded.json",
    "RemindersFunction": "reminders/list_reminders.json",
    "ReminderFunction": "reminder/scheduled_reminder.json",
    "RemindersEventsFunction": "reminders_events/course_schedule_changed.json",
    "CalendarFeedFunction": "calendar_feed/read_unknown_feed.json",
    "CalendarFunction": "calendar/get_status.json",
    "CalendarEventsFunction": "calendar_events/student_enrolled.json",
    "VideoFunction": "video/get_zoom_meeting.json",
    "VideoCallbacksFunction": "video_callbacks/zoom_meeting_started.json",
    "VideoEventsFunction": "video_events/student_enrolled.json",
    "SignInFunction": "signin/linked_accounts.json",
    "OperationsFunction": "operations/get_integrations.json",
    "ConsoleFunction": "console/get_page.json",
}

# What the python3.11 Lambda runtime has besides the standard library (boto3 and its dependencies).
RUNTIME_PROVIDED = {"boto3", "botocore", "jmespath", "python-dateutil", "s3transfer", "six", "urllib3"}

# The probe: time the import of the handler, then one invocation, in a fresh interpreter.
PROBE = r"""
import json, os, sys, time
t0 = time.perf_counter()


class Unshipped:  # what the function's deployment does not have cannot be imported
    blocked = frozenset(filter(None, os.environ.get("PROBE_UNSHIPPED", "").split(",")))

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in this deployment)", name=name)
        return None


sys.meta_path.insert(0, Unshipped())
sys.path[:0] = [os.environ["PROBE_CODE_DIR"], os.environ["PROBE_LAYER_DIR"]]
if os.environ["PROBE_KIND"] == "baseline":
    import boto3
    client = boto3.client("dynamodb")
    t1 = time.perf_counter()
    key = {"PK": {"S": "STUDENT#stu_ana00001"}, "SK": {"S": "PROFILE"}}
    answer = client.get_item(TableName=os.environ["TABLE_NAME"], Key=key)
else:
    import app
    t1 = time.perf_counter()

    class Context:
        function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "probe")
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:probe"
        aws_request_id = "probe"
        def get_remaining_time_in_millis(self):
            return 10000

    answer = app.handler(json.loads(os.environ["PROBE_EVENT"]), Context())
t2 = time.perf_counter()
# The parent times the cold start to this line (interpreter shutdown is not part of one).
cold = {"import_ms": (t1 - t0) * 1000, "request_ms": (t2 - t1) * 1000}
print("PROBE", json.dumps(cold | {"answers": [answer]}, default=str), flush=True)
# The same request again, warm: the function's own work, which the cold start's penalty is not.
cpu, t3 = time.process_time(), time.perf_counter()
if os.environ["PROBE_KIND"] == "baseline":
    answer = client.get_item(TableName=os.environ["TABLE_NAME"], Key=key)
else:
    answer = app.handler(json.loads(os.environ["PROBE_WARM_EVENT"]), Context())
warm = {"warm_ms": (time.perf_counter() - t3) * 1000, "warm_cpu_ms": (time.process_time() - cpu) * 1000}
print("PROBE", json.dumps(warm | {"answers": [answer]}, default=str), flush=True)
os._exit(0)
"""


def code_dirs() -> dict[str, Path]:
    resources = load_template(ROOT / "template.yaml")["Resources"]
    return {
        logical_id: ROOT / resource["Properties"]["CodeUri"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(path: Path) -> set[str]:
    if not path.exists():
        return set()
    names = (re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line.strip()) for line in path.read_text().splitlines())
    return {_normal(m.group(0)) for m in names if m}


def unshipped_modules(code_dir: Path) -> list[str]:
    """Top-level modules installed here whose distributions the function's deployment lacks."""
    shipped = RUNTIME_PROVIDED | _requirements(ROOT / "layers" / "core" / "requirements.txt")
    shipped |= _requirements(code_dir / "requirements.txt")
    return sorted(
        module for module, dists in packages_distributions().items() if not any(_normal(d) in shipped for d in dists)
    )


def _cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def _figures(lines: Iterator[str]) -> dict[str, Any]:
    """The next line the probe printed its figures on (the function's own logs go to stdout too)."""
    for line in lines:
        if line.startswith("PROBE "):
            return json.loads(line.removeprefix("PROBE "))  # type: ignore[no-any-return]
    return {}


def probe(env: dict[str, str]) -> dict[str, Any]:
    """The cold start (`total_ms`: the process started to its first answer, `cpu_ms`) and a warm
    request after it (`warm_ms`), with the function's two `answers`."""
    cpu, started = _cpu_ms(), time.perf_counter()
    command = [sys.executable, "-c", PROBE]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None and process.stderr is not None
        cold = _figures(process.stdout)
        total = (time.perf_counter() - started) * 1000
        warm = _figures(process.stdout)
        process.stdout.read()
        problem = process.stderr.read()
    if process.returncode or not warm:
        raise RuntimeError(problem[-2000:])
    answers = cold.pop("answers") + warm.pop("answers")
    return cold | warm | {"total_ms": total, "cpu_ms": _cpu_ms() - cpu - warm["warm_cpu_ms"], "answers": answers}


def _ratios(measured: dict[str, float], base: dict[str, float]) -> dict[str, float]:
    """To the baseline: the cold start, its CPU time, and its penalty (the cold start less the
    warm request after it: what being cold costs, without the function's own work)."""
    return {
        "ratio": measured["total_ms"] / base["total_ms"],
        "cpu_ratio": measured["cpu_ms"] / base["cpu_ms"],
        "penalty_ratio": (measured["total_ms"] - measured["warm_ms"]) / (base["total_ms"] - base["warm_ms"]),
    }


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in runs), 3 if k.endswith("ratio") else 1) for k in runs[0]}


def run(runs: int = 11, only: set[str] | frozenset[str] = frozenset()) -> dict[str, dict[str, float]]:
    """Medians of `runs` probes per function (all of SAMPLES, or `only`) and of the baseline."""
    dirs = code_dirs()
    with tempfile.TemporaryDirectory() as state_dir:
        # Receivers on 127.0.0.1 (the dispatcher's probes deliver to one), as in the other stacks of tests.
        stack = start_stack(ROOT / "template.yaml", Path(state_dir), "--parameter", "WebhooksAllowLoopback=true")
        try:
            functions = stack.state["functions"]
            common = {
                "PATH": os.environ.get("PATH", ""),
                "AWS_ENDPOINT_URL": stack.aws_endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                "PROBE_LAYER_DIR": str(ROOT / "layers" / "core"),
            }
            table = functions["DirectoryFunction"]["env"]["TABLE_NAME"]
            baseline = {"PROBE_KIND": "baseline", "PROBE_CODE_DIR": str(ROOT), "TABLE_NAME": table}
            cases = {"baseline": common | baseline | {"PROBE_UNSHIPPED": ",".join(unshipped_modules(ROOT / "layers"))}}
            samples: dict[str, dict] = {}
            for logical_id, sample in SAMPLES.items():
                if only and logical_id not in only:
                    continue
                event = json.loads((ROOT / "events" / sample).read_text())
                if logical_id == "AuthorizerFunction":
                    token = "Bearer " + stack.token("student", "stu_ana00001")
                    event["headers"]["authorization"] = token
                    event["identitySource"] = [token]
                samples[logical_id] = event
                cases[logical_id] = (
                    common
                    | functions[logical_id]["env"]
                    | {
                        # What Lambda sets in every environment (the core pauses its collector there).
                        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
                        "PROBE_KIND": "function",
                        "PROBE_CODE_DIR": str(dirs[logical_id]),
                        "PROBE_EVENT": json.dumps(event),
                        "PROBE_UNSHIPPED": ",".join(unshipped_modules(dirs[logical_id])),
                    }
                )
            # Each function's probe comes right after a baseline probe of its own, and its ratio is the
            # median of those pairs' ratios: a load that changes during the run (a round takes some
            # 20 s) then moves both sides of a ratio alike.
            probes: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
            with ProbeWork(stack) as work:
                work.prepare(set(cases), 2 * runs)
                for _ in range(runs):
                    for name, env in cases.items():
                        if name == "baseline":
                            continue
                        # An input of its own for each request where the sample would take a shortcut.
                        cold, warm = (json.dumps(work.event(name, samples[name])) for _ in range(2))
                        env = env | {"PROBE_EVENT": cold, "PROBE_WARM_EVENT": warm}
                        base, measured = probe(cases["baseline"]), probe(env)
                        del base["answers"]
                        work.check(name, measured.pop("answers"))
                        probes["baseline"].append(base)
                        probes[name].append(measured | _ratios(measured, base))
            results = {name: _medians(case) for name, case in probes.items()}
            results["baseline"] |= _ratios(results["baseline"], results["baseline"])
        finally:
            stack.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument(
        "--only", default="", help="comma-separated functions to measure (with the baseline); printed, not saved"
    )
    args = parser.parse_args()
    results = run(args.runs, {name for name in args.only.split(",") if name})
    print(
        "| function | import ms | first request ms | process total ms | vs baseline | CPU ms | CPU vs baseline"
        " | warm request ms | penalty vs baseline |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['import_ms']} | {r['request_ms']} | {r['total_ms']} | {r['ratio']:.2f}x"
            f" | {r['cpu_ms']} | {r['cpu_ratio']:.2f}x | {r['warm_ms']} | {r['penalty_ratio']:.2f}x |"
        )
    if not args.only:
        (ROOT / "benchmarks" / "results" / "cold_start.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
