"""Cold start of every function: a fresh Python process imports the handler and serves one request
(its sample event from events/) and exits, against the local stack's embedded AWS and provider sandbox with
the environment the template gives that function; compared with a bare handler that only imports
boto3, makes one DynamoDB client and serves one GetItem. The target is 1.5x that baseline.

    .venv/bin/python -m benchmarks.cold_start [--runs 7]
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
from pathlib import Path

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

# The probe: time the import of the handler, then one invocation, in a fresh interpreter.
PROBE = r"""
import json, os, sys, time
t0 = time.perf_counter()
sys.path[:0] = [os.environ["PROBE_CODE_DIR"], os.environ["PROBE_LAYER_DIR"]]
if os.environ["PROBE_KIND"] == "baseline":
    import boto3
    client = boto3.client("dynamodb")
    t1 = time.perf_counter()
    key = {"PK": {"S": "STUDENT#stu_ana00001"}, "SK": {"S": "PROFILE"}}
    client.get_item(TableName=os.environ["TABLE_NAME"], Key=key)
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

    app.handler(json.loads(os.environ["PROBE_EVENT"]), Context())
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "request_ms": (t2 - t1) * 1000}), flush=True)
os._exit(0)  # the response is served: interpreter shutdown is not part of a cold start
"""


def code_dirs() -> dict[str, Path]:
    resources = load_template(ROOT / "template.yaml")["Resources"]
    return {
        logical_id: ROOT / resource["Properties"]["CodeUri"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def probe(env: dict[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=False)
    total = (time.perf_counter() - started) * 1000
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "total_ms": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--only", default="", help="comma-separated functions to measure (with the baseline); printed, not saved"
    )
    args = parser.parse_args()
    dirs = code_dirs()
    with tempfile.TemporaryDirectory() as state_dir:
        stack = start_stack(ROOT / "template.yaml", Path(state_dir))
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
            cases = {"baseline": common | {"PROBE_KIND": "baseline", "PROBE_CODE_DIR": str(ROOT), "TABLE_NAME": table}}
            only = {name for name in args.only.split(",") if name}
            for logical_id, sample in SAMPLES.items():
                if only and logical_id not in only:
                    continue
                event = json.loads((ROOT / "events" / sample).read_text())
                if logical_id == "AuthorizerFunction":
                    token = "Bearer " + stack.token("student", "stu_ana00001")
                    event["headers"]["authorization"] = token
                    event["identitySource"] = [token]
                cases[logical_id] = (
                    common
                    | functions[logical_id]["env"]
                    | {
                        "PROBE_KIND": "function",
                        "PROBE_CODE_DIR": str(dirs[logical_id]),
                        "PROBE_EVENT": json.dumps(event),
                    }
                )
            results = {}
            for name, env in cases.items():
                runs = [probe(env) for _ in range(args.runs)]
                results[name] = {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]}
        finally:
            stack.stop()
    base = results["baseline"]["total_ms"]
    print("| function | import ms | first request ms | process total ms | vs baseline |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['import_ms']} | {r['request_ms']} | {r['total_ms']} | {r['total_ms'] / base:.2f}x |")
    if not args.only:
        (ROOT / "benchmarks" / "results" / "cold_start.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
