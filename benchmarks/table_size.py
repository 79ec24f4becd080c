"""Latency against table size: the list and get routes through their handlers with the table
holding 10^3, 10^4 and 10^5 items (students, payments, deliveries, a third of the items each),
p50 per size and the ratio of p50 at the largest size to the smallest (the target is at most 1.2).

Every listed partition grows with the table: all students are in the students' listing (GSI1
TYPE#student), the payments belong to 10 students and the deliveries to 10 webhooks (the measured
student and webhook among them), so a route that reads a whole partition, or Scans, grows with the
data; one that reads a page does not. The items are clones of ones the services wrote (a student
created, payments as the ledger writes them, deliveries of a fan-out), written in batches.

moto in this process plays DynamoDB, with its Query made to read a partition's page as DynamoDB
does (offline.moto_partitions: moto itself sorts the whole table for every Query). The three
tables are built one after the other and kept; the measurement then sends each request to every
size in turn (swapping which table moto serves as the app table), so a change in the machine's
load falls on every size alike. Each request's DynamoDB calls and the items they return are counted, and a Scan
fails the run.

    .venv/bin/python -m benchmarks.table_size [--sizes 1000,10000,100000] [--requests 200]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.support import FUNCTION_ENV, ROOT, sdk_events, summary
from offline import moto_partitions

HOT_PARTITIONS = 10  # payers and webhooks the payments and deliveries belong to
SHARE = {"students": 1 / 3, "payments": 1 / 3, "deliveries": 1 / 3}
EVENT_TYPE = "course_started"
TARGET_RATIO = 1.2


class DynamoCalls:
    """DynamoDB calls by operation and the items they returned, with the time inside them; a Scan
    is refused (the benchmark fails)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items_returned = 0
        self.seconds = 0.0
        events = sdk_events()
        events.register("before-parameter-build.dynamodb.*", self._started)
        events.register("after-call.dynamodb.*", self._finished)

    def _started(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.name == "Scan":
            raise AssertionError("a Scan was issued")
        context["bench_started"] = time.perf_counter()
        self.calls[model.name] += 1

    def _finished(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self.seconds += time.perf_counter() - context.pop("bench_started", time.perf_counter())
        if "Items" in parsed:
            self.items_returned += len(parsed["Items"])
        elif "Item" in parsed:
            self.items_returned += 1
        elif "Responses" in parsed:
            self.items_returned += sum(len(v) for v in parsed["Responses"].values())

    def reset(self) -> None:
        self.calls.clear()
        self.items_returned = 0
        self.seconds = 0.0


# ---------------------------------------------------------------- seeding
def _stamp(start: datetime, n: int) -> tuple[str, str]:
    """(ISO time, the ledger's order stamp) n milliseconds after start."""
    moment = start + timedelta(milliseconds=n)
    return moment.isoformat(timespec="seconds"), moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Seeder:
    """Templates written by the services once, then clones of them by BatchWriteItem."""

    def __init__(self, receiver_url: str) -> None:
        from integration_core import keys
        from integration_core.adapters.dynamodb import table
        from integration_core.domain.directory import PersonCreate
        from integration_core.domain.webhooks import WebhookCreate
        from integration_core.principal import Principal
        from integration_core.services import directory, events, webhooks
        from integration_core.tokens import Role

        self.db = table(FUNCTION_ENV["TABLE_NAME"])
        self.start = datetime(2026, 1, 1, tzinfo=UTC)
        admin = Principal("adm_office", Role.ADMIN)
        self.service = Principal("svc_bench", Role.SERVICE)
        self.students: list[str] = []
        self.payers: list[str] = []
        for n in range(HOT_PARTITIONS):
            person = directory.create_person(
                admin, "student", PersonCreate(email=f"payer{n}@school.example", name=f"Payer {n}")
            )
            self.students.append(person.id)
            self.payers.append(person.id)
        self.student_profile = self.db.get(keys.entity_pk("student", self.payers[0]), keys.PROFILE)
        self.email_lock = self.db.get(keys.email_lock_pk("student", "payer0@school.example"), keys.LOCK)
        self.webhooks = [
            webhooks.register(
                self.service, WebhookCreate(url=f"{receiver_url}/hook{n}", events=[EVENT_TYPE])
            ).webhook_id
            for n in range(HOT_PARTITIONS)
        ]
        event_id, operations = events.event_operations(
            self.db, EVENT_TYPE, {"courseId": "crs_bench0001", "startedAt": "2026-01-05T18:00:00+00:00"}
        )
        self.db.transact(operations)
        report = events.fan_out([event_id])
        assert report.deliveries == HOT_PARTITIONS, report
        page = self.db.query(keys.deliveries_pk(self.webhooks[0]), index=keys.GSI1, limit=1)
        self.delivery = page.items[0]
        self.deliveries: dict[str, str] = {}  # a delivery of each hot webhook: webhook id -> delivery id
        self.counts = Counter({"students": HOT_PARTITIONS, "payments": 0, "deliveries": HOT_PARTITIONS})
        self.serial = 0

    def items(self) -> int:
        return 2 * self.counts["students"] + self.counts["payments"] + self.counts["deliveries"]

    def _student_items(self) -> list[dict[str, Any]]:
        from integration_core import ids, keys

        assert self.student_profile and self.email_lock
        student_id = ids.new_id("student")
        created, _ = _stamp(self.start, self.serial)
        email = f"{student_id}@school.example"
        self.counts["students"] += 1
        return [
            {
                **self.student_profile,
                "PK": keys.entity_pk("student", student_id),
                "GSI1SK": keys.listing_sk(created, student_id),
                "id": student_id,
                "email": email,
                "name": f"Student {self.serial}",
                "created_at": created,
                "updated_at": created,
            },
            {**self.email_lock, "PK": keys.email_lock_pk("student", email), "owner_id": student_id},
        ]

    def _payment_item(self) -> dict[str, Any]:
        from integration_core import ids
        from integration_core.domain.payments import Provider
        from integration_core.money import parse_amount
        from integration_core.stores.payments import PaymentsStore

        payment_id = ids.new_id("payment")
        created, stamp = _stamp(self.start, self.serial)
        self.counts["payments"] += 1
        return PaymentsStore(self.db).new_payment(
            payment_id=payment_id,
            student_id=self.payers[self.serial % HOT_PARTITIONS],
            provider=Provider.STRIPE if self.serial % 2 else Provider.PAYPAL,
            transaction_id=f"pi_{payment_id}",
            price=parse_amount("49.90", "EUR"),
            course_id="crs_bench0001",
            course_name="Bench English",
            now=created,
            stamp=stamp,
        )

    def _delivery_item(self) -> dict[str, Any]:
        from integration_core import ids, keys

        delivery_id = ids.new_id("delivery")
        webhook_id = self.webhooks[self.serial % HOT_PARTITIONS]
        created, _ = _stamp(self.start, self.serial)
        self.counts["deliveries"] += 1
        self.deliveries.setdefault(webhook_id, delivery_id)
        return {
            **self.delivery,
            "PK": keys.delivery_pk(delivery_id),
            "GSI1PK": keys.deliveries_pk(webhook_id),
            "GSI1SK": keys.listing_sk(created, delivery_id),
            "delivery_id": delivery_id,
            "webhook_id": webhook_id,
            "created_at": created,
            "updated_at": created,
        }

    def grow_to(self, size: int, backend: Any) -> float:
        """Add items until the table holds `size` (of these kinds); seconds it took. The batches go to
        moto's backend as its BatchWriteItem hands them on (one put per item), without the SDK's
        serializing and moto's parsing of each request, which took most of the time (10^5 items
        took about 10 minutes through the SDK on a loaded 2-core machine)."""
        from integration_core.adapters.dynamodb import to_item

        name = FUNCTION_ENV["TABLE_NAME"]
        started = time.perf_counter()
        batch: list[dict[str, Any]] = []
        while self.items() + len(batch) < size:
            self.serial += 1
            kind = ("students", "payments", "deliveries")[self.serial % 3]
            if kind == "students":
                batch += self._student_items()
            elif kind == "payments":
                batch.append(self._payment_item())
            else:
                batch.append(self._delivery_item())
            if len(batch) >= 24 or self.items() + len(batch) >= size:
                for item in batch:
                    backend.put_item(name, to_item(item))
                batch = []
        return time.perf_counter() - started


# ---------------------------------------------------------------- the routes
def _routes(seeder: Seeder) -> dict[str, tuple[str, dict[str, Any]]]:
    from tests.support.lambdas import LambdaContext, api_event, load_function

    student, webhook = seeder.payers[0], seeder.webhooks[0]
    admin, service = ("adm_office", "admin"), ("svc_bench", "service")
    first = load_function("directory").handler(
        api_event("GET", "/directory/students", caller=admin, query={"limit": "25"}), LambdaContext()
    )
    cursor = json.loads(first["body"]).get("nextCursor")
    assert cursor, first
    return {
        "directory: a student reads own record": (
            "directory",
            api_event("GET", f"/directory/students/{student}", caller=(student, "student")),
        ),
        "directory: admin lists students (25)": (
            "directory",
            api_event("GET", "/directory/students", caller=admin, query={"limit": "25"}),
        ),
        "directory: admin lists students, next page": (
            "directory",
            api_event("GET", "/directory/students", caller=admin, query={"limit": "25", "cursor": cursor}),
        ),
        "payments: a student's history (25)": (
            "payments",
            api_event("GET", f"/payments/history/{student}", caller=(student, "student"), query={"limit": "25"}),
        ),
        "webhooks: a webhook's deliveries (25)": (
            "webhooks",
            api_event("GET", f"/webhooks/{webhook}/deliveries", caller=service, query={"limit": "25"}),
        ),
        "webhooks: one delivery with its attempts": (
            "webhooks",
            api_event("GET", f"/webhooks/{webhook}/deliveries/{seeder.deliveries[webhook]}", caller=service),
        ),
    }


def run(sizes: list[int], requests: int) -> dict[str, Any]:
    from moto import mock_aws

    from benchmarks.webhooks import receiver

    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(
        FUNCTION_ENV | {"WEBHOOKS_ALLOW_LOOPBACK": "true", "POWERTOOLS_LOG_LEVEL": "ERROR", "EVENT_BUS_NAME": ""}
    )
    moto_partitions.install()
    with receiver() as base, mock_aws():
        import boto3
        from moto.dynamodb.models import dynamodb_backends

        from integration_core import tokens
        from tests.support.aws import CURSOR_SECRET_NAME, SIGNING_SECRET_NAME, create_tables
        from tests.support.lambdas import LambdaContext, load_function

        calls = DynamoCalls()
        create_tables()
        os.environ["WEBHOOK_SECRET_KEY_ID"] = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
        sm = boto3.client("secretsmanager")
        sm.create_secret(Name=SIGNING_SECRET_NAME, SecretString=tokens.generate_signing_key_secret())
        sm.create_secret(Name=CURSOR_SECRET_NAME, SecretString="bench-cursor-key-" + "x" * 40)
        queue = boto3.client("sqs").create_queue(QueueName="webhooks")["QueueUrl"]
        os.environ["WEBHOOK_QUEUE_URL"] = queue
        backend = dynamodb_backends["123456789012"][os.environ["AWS_DEFAULT_REGION"]]
        name = FUNCTION_ENV["TABLE_NAME"]

        seeder = Seeder(base)
        tables: dict[int, Any] = {}
        seeding: dict[int, float] = {}
        for size in sorted(sizes):
            seeding[size] = round(seeder.grow_to(size, backend), 1)
            # Kept as it is now; the next size grows on from a copy.
            tables[size] = backend.tables[name]
            backend.tables[name] = copy.deepcopy(tables[size]) if size != max(sizes) else tables[size]
        held = {size: sum(len(v) for v in t.items.values()) for size, t in tables.items()}
        routes = _routes(seeder)
        handlers = {fn: load_function(fn).handler for fn, _ in routes.values()}

        samples: dict[int, dict[str, list[float]]] = {s: {r: [] for r in routes} for s in sizes}
        own: dict[int, dict[str, list[float]]] = {s: {r: [] for r in routes} for s in sizes}
        seen: dict[int, dict[str, dict[str, Any]]] = {s: {} for s in sizes}
        shuffle = random.Random(15).shuffle
        for route, (fn, event) in routes.items():
            for size in sizes:  # warm up: this route's partitions sorted in each table
                backend.tables[name] = tables[size]
                for _ in range(3):
                    handlers[fn](event, LambdaContext())
            order = list(sizes)
            for _ in range(requests):
                shuffle(order)
                for size in order:  # one request at each size in turn: the machine's load falls on all alike
                    backend.tables[name] = tables[size]
                    calls.reset()
                    started = time.perf_counter()
                    answer = handlers[fn](event, LambdaContext())
                    elapsed = time.perf_counter() - started
                    assert answer["statusCode"] == 200, (route, answer)
                    samples[size][route].append(elapsed * 1000)
                    own[size][route].append((elapsed - calls.seconds) * 1000)
                    seen[size][route] = {
                        "dynamodb_calls": dict(sorted(calls.calls.items())),
                        "items_returned": calls.items_returned,
                    }
        backend.tables[name] = tables[max(sizes)]

    smallest, largest = min(sizes), max(sizes)
    figures: dict[str, Any] = {
        "sizes": sizes,
        "items_held": held,
        "kinds_at_largest": dict(seeder.counts),
        "seeding_seconds": seeding,
        "requests_per_route_and_size": requests,
        "target_ratio": TARGET_RATIO,
        "routes": {},
    }
    for route in routes:
        p50 = {size: summary(samples[size][route])["p50"] for size in sizes}
        figures["routes"][route] = {
            "p50_ms": p50,
            "p99_ms": {size: summary(samples[size][route])["p99"] for size in sizes},
            "own_work_p50_ms": {size: round(statistics.median(own[size][route]), 3) for size in sizes},
            "ratio_p50_largest_to_smallest": round(p50[largest] / p50[smallest], 2),
            "per_request": {size: seen[size][route] for size in sizes},
        }
    figures["worst_ratio"] = max(r["ratio_p50_largest_to_smallest"] for r in figures["routes"].values())
    figures["within_target"] = figures["worst_ratio"] <= TARGET_RATIO
    return figures


def print_table(figures: dict[str, Any]) -> None:
    sizes = figures["sizes"]
    print("| route | " + " | ".join(f"p50 ms at {s:,}" for s in sizes) + " | ratio | DynamoDB calls, items read |")
    print("|---|" + "---|" * len(sizes) + "---|---|")
    for route, r in figures["routes"].items():
        per = r["per_request"][sizes[-1]]
        calls = ", ".join(f"{n} {op}" for op, n in per["dynamodb_calls"].items())
        cells = " | ".join(str(r["p50_ms"][s]) for s in sizes)
        print(f"| {route} | {cells} | {r['ratio_p50_largest_to_smallest']}x | {calls}; {per['items_returned']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--requests", type=int, default=200, help="per route and size")
    args = parser.parse_args()
    started = time.perf_counter()
    figures = run([int(s) for s in args.sizes.split(",")], args.requests)
    figures["run_seconds"] = round(time.perf_counter() - started, 1)
    print_table(figures)
    print(f"worst ratio {figures['worst_ratio']}x (target at most {TARGET_RATIO}x); run {figures['run_seconds']} s")
    (ROOT / "benchmarks" / "results" / "table_size.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
