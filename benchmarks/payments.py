"""Payments figures: the payments function's cold start (import, a first history request that
never imports the stripe SDK, then a first card initialize that does), p50/p99 of initialize and
history through the handler against the Stripe emulator and moto on loopback, and the DynamoDB
calls each request makes (no Scan; history is one Query per page).

    .venv/bin/python -m benchmarks.payments [--runs 5] [--requests 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter

from benchmarks.support import ROOT, moto_server, summary

STRIPE_SECRET = "school-integration/stripe"  # noqa: S105 (a secret name, not a value)
PAYPAL_SECRET = "school-integration/paypal"  # noqa: S105 (a secret name, not a value)

PROBE = r"""
import json, sys, time
sys.path[:0] = [{code_dir!r}, {layer!r}, {root!r}]
from tests.support.lambdas import LambdaContext, api_event
t0 = time.perf_counter()
import importlib.util
spec = importlib.util.spec_from_file_location('app', {app!r})
app = importlib.util.module_from_spec(spec); sys.modules['app'] = app; spec.loader.exec_module(app)
t1 = time.perf_counter()
history = api_event('GET', '/payments/history/{student}', caller=({student!r}, 'student'))
assert app.handler(history, LambdaContext())['statusCode'] == 200
t2 = time.perf_counter()
stripe_after_history = 'stripe' in sys.modules
pay = api_event('POST', '/payments/stripe/initialize', caller=({student!r}, 'student'),
                body={{'courseId': {course!r}}}, headers={{'Idempotency-Key': {key!r}}})
answer = app.handler(pay, LambdaContext())
assert answer['statusCode'] == 201, answer
t3 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "first_history_ms": (t2 - t1) * 1000,
                  "first_initialize_ms": (t3 - t2) * 1000, "stripe_imported_by_history": stripe_after_history,
                  "stripe_imported_by_initialize": 'stripe' in sys.modules}}))
"""


def _start_sandbox():
    from offline.http import Server
    from offline.sandbox.base import SandboxContext
    from offline.sandbox.callbacks import Callbacks
    from offline.sandbox.providers.paypal import PayPal
    from offline.sandbox.providers.stripe import Stripe
    from offline.sandbox.server import Sandbox

    holder = {}
    server = Server("sandbox", 0, lambda request: holder["app"](request))
    secrets = {
        "StripeSecret": json.dumps(
            {"apiKey": "sk_test_bench", "webhookSecret": "whsec_bench", "baseUrl": server.url + "/stripe"}
        ),
        "PayPalSecret": json.dumps(
            {"clientId": "bench", "clientSecret": "bench", "webhookId": "BENCH", "baseUrl": server.url + "/paypal"}
        ),
    }
    holder["app"] = Sandbox(SandboxContext(Callbacks({}), secrets, server.url), [Stripe, PayPal])
    holder["app"].emulators["stripe"].auto_deliver = False
    server.start()
    return server, secrets


def _directory() -> tuple[str, str]:
    from integration_core.domain.directory import CourseCreate, PersonCreate, PriceIn
    from integration_core.principal import Principal
    from integration_core.services import directory
    from integration_core.tokens import Role

    admin = Principal("adm_bench", Role.ADMIN)
    tag = uuid.uuid4().hex[:8]
    teacher = directory.create_person(admin, "teacher", PersonCreate(email=f"t{tag}@b.example", name="T"))
    course = directory.create_course(
        admin,
        CourseCreate(
            title="Bench", price=PriceIn(amount="49.90", currency="EUR"), time_zone="UTC", teacher_id=teacher.id
        ),
    )
    student = directory.create_person(admin, "student", PersonCreate(email=f"s{tag}@b.example", name="S"))
    return student.id, course.id


def cold_start(runs: int, student: str, course: str) -> dict:
    results = []
    for _ in range(runs):
        source = PROBE.format(
            code_dir=str(ROOT / "functions" / "payments"),
            layer=str(ROOT / "layers" / "core"),
            root=str(ROOT),
            app=str(ROOT / "functions" / "payments" / "app.py"),
            student=student,
            course=course,
            key=uuid.uuid4().hex,
        )
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, env=os.environ, check=True)
        results.append(
            {**json.loads(out.stdout.strip().splitlines()[-1]), "process_ms": (time.perf_counter() - started) * 1000}
        )
    numeric = [k for k, v in results[0].items() if isinstance(v, float)]
    figures = {k: round(statistics.median(r[k] for r in results), 1) for k in numeric}
    figures["stripe_imported_by_history"] = any(r["stripe_imported_by_history"] for r in results)
    figures["stripe_imported_by_initialize"] = all(r["stripe_imported_by_initialize"] for r in results)
    return figures


def warm(requests: int, student: str, course: str) -> dict:
    from integration_core.adapters import dynamodb
    from tests.support.lambdas import LambdaContext, api_event, load_function

    app = load_function("payments")
    calls: Counter[str] = Counter()
    dynamodb.client().meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))

    def timed(event) -> tuple[float, Counter[str]]:
        calls.clear()
        started = time.perf_counter()
        answer = app.handler(event, LambdaContext())
        elapsed = (time.perf_counter() - started) * 1000
        assert answer["statusCode"] in (200, 201), answer
        return elapsed, Counter(calls)

    caller = (student, "student")
    history_event = api_event("GET", f"/payments/history/{student}", caller=caller, query={"limit": "25"})
    timed(history_event)
    initialize, history = [], []
    init_calls = hist_calls = Counter()
    for _ in range(requests):
        event = api_event(
            "POST",
            "/payments/stripe/initialize",
            caller=caller,
            body={"courseId": course},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        elapsed, init_calls = timed(event)
        initialize.append(elapsed)
    for _ in range(requests):
        elapsed, hist_calls = timed(history_event)
        history.append(elapsed)
    return {
        "initialize_ms": summary(initialize),
        "history_ms": summary(history),
        "initialize_dynamodb_calls": dict(init_calls),
        "history_dynamodb_calls": dict(hist_calls),
        "history_items_in_partition": requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    with moto_server():
        server, secrets = _start_sandbox()
        try:
            import boto3

            sm = boto3.client("secretsmanager")
            sm.create_secret(Name=STRIPE_SECRET, SecretString=secrets["StripeSecret"])
            sm.create_secret(Name=PAYPAL_SECRET, SecretString=secrets["PayPalSecret"])
            os.environ.update(
                {"STRIPE_SECRET_NAME": STRIPE_SECRET, "PAYPAL_SECRET_NAME": PAYPAL_SECRET, "WEBHOOK_QUEUE_URL": ""}
            )
            student, course = _directory()
            results = {
                "cold_start": cold_start(args.runs, student, course),
                "warm": warm(args.requests, student, course),
            }
        finally:
            server.stop()
    print(json.dumps(results, indent=2))
    (ROOT / "benchmarks" / "results" / "payments.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
