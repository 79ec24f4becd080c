"""Google Calendar sync figures (docs/calendar.md): a 40-session course synced for one student and
for 100 students, then synced again, with the Google calls (counted by the emulator), the AWS calls
(a botocore event hook) and the wall time. The service's code runs in this process against moto
in-process and the provider sandbox's Google emulator on loopback (real HTTP, real OAuth with PKCE,
real KMS encryption of the tokens).

    .venv/bin/python -m benchmarks.calendar [--sessions 40] [--students 100]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from benchmarks.support import FUNCTION_ENV, ROOT
from benchmarks.webhooks import AwsCalls


def _google_calls(sandbox: str, client: httpx.Client) -> Counter[str]:
    """Calendar API calls the emulator answered so far, by method (every user together)."""
    return Counter(client.get(f"{sandbox}/_sandbox/google/calls").json()["total"])


def _timed(aws: AwsCalls, sandbox: str, client: httpx.Client, action: Any) -> tuple[Any, dict[str, Any]]:
    aws.reset()
    before = _google_calls(sandbox, client)
    started = time.perf_counter()
    result = action()
    wall = time.perf_counter() - started
    google = _google_calls(sandbox, client) - before
    return result, {
        "google_calls": dict(sorted(google.items())),
        "google_calls_total": sum(google.values()),
        "aws_calls": aws.snapshot(),
        "wall_ms": round(wall * 1000, 1),
        "inside_aws_ms": round(aws.seconds * 1000, 1),
    }


def run(sessions: int, students: int) -> dict[str, Any]:
    from moto import mock_aws

    from offline.http import Server
    from offline.sandbox.base import SandboxContext
    from offline.sandbox.callbacks import Callbacks
    from offline.sandbox.providers.google import Google
    from offline.sandbox.providers.google_oauth import local_client_config
    from offline.sandbox.server import Sandbox

    ctx = SandboxContext(Callbacks({}))
    server = Server("google-sandbox", 0, Sandbox(ctx, [Google]))
    ctx.base_url = server.url
    server.start()
    sandbox = server.url
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(
        FUNCTION_ENV
        | {
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "EVENT_BUS_NAME": "",
            "GOOGLE_OAUTH_SECRET_NAME": "bench/google-oauth",
            "CALENDAR_REMINDER_MINUTES": "1440,60",
        }
    )
    http = httpx.Client(timeout=30)
    try:
        with mock_aws():
            import boto3

            from integration_core.domain.directory import CourseCreate, PersonCreate, SessionsCreate, StudentCreate
            from integration_core.principal import principal_from_authorizer
            from integration_core.services import directory
            from integration_core.services.calendar import connection, sync
            from tests.support.aws import create_tables

            create_tables()
            key = boto3.client("kms").create_key(Description="bench UserTokenKey")["KeyMetadata"]["KeyId"]
            os.environ["USER_TOKEN_KEY_ID"] = key
            boto3.client("secretsmanager").create_secret(
                Name="bench/google-oauth", SecretString=json.dumps(local_client_config(sandbox))
            )
            admin = principal_from_authorizer({"sub": "adm_bench", "role": "admin"})
            teacher = directory.create_person(admin, "teacher", PersonCreate(email="t@school.example", name="T"))
            course = directory.create_course(
                admin,
                CourseCreate.model_validate(
                    {
                        "title": "Bench English",
                        "price": {"amount": "0", "currency": "EUR"},
                        "timeZone": "America/New_York",
                        "teacherId": teacher.id,
                    }
                ),
            )
            first_day = (datetime.now(UTC) + timedelta(days=2)).date()
            recurrence = {
                "daysOfWeek": ["MO", "WE"],
                "startTime": "18:00",
                "durationMinutes": 90,
                "fromDate": first_day.isoformat(),
                "count": sessions,
            }
            directory.create_sessions(admin, course.id, SessionsCreate.model_validate({"recurrence": recurrence}))
            student_ids = []
            for n in range(students):
                person = directory.create_person(
                    admin, "student", StudentCreate(email=f"s{n}@school.example", name=f"Student {n}")
                )
                directory.enroll(admin, course.id, person.id)
                me = principal_from_authorizer({"sub": person.id, "role": "student"})
                # The user's side of the OAuth flow: the emulator's consent control stands for the page.
                started = connection.authorize(me)
                assert http.get(started["authorization_url"]).status_code == 200  # the user opens the page
                state = parse_qs(urlsplit(started["authorization_url"]).query)["state"][0]
                consent = {"state": state, "email": f"s{n}@school.example", "decision": "allow"}
                redirect = http.post(f"{sandbox}/_sandbox/google/consent", json=consent).json()["redirect"]
                code = parse_qs(urlsplit(redirect).query)["code"][0]
                connection.authenticate(me, code, state)
                student_ids.append(person.id)

            aws = AwsCalls()
            from integration_core.adapters import dynamodb, kms

            for cached in (dynamodb.client, dynamodb.table, kms._client):
                cached.cache_clear()
            course_item = directory.load_course(course.id)
            figures: dict[str, Any] = {"sessions": sessions, "students": students, "reminders": [1440, 60]}
            _, figures["one_student_first_sync"] = _timed(
                aws, sandbox, http, lambda: sync.sync_user_course(student_ids[0], course_item)
            )
            _, figures["one_student_repeat_sync"] = _timed(
                aws, sandbox, http, lambda: sync.sync_user_course(student_ids[0], course_item)
            )
            # Every student at once, as the bus handler does on a schedule change (the first already synced).
            _, figures["all_students_sync"] = _timed(
                aws, sandbox, http, lambda: [sync.sync_user_course(s, course_item) for s in student_ids]
            )
            _, figures["all_students_repeat_sync"] = _timed(
                aws, sandbox, http, lambda: [sync.sync_user_course(s, course_item) for s in student_ids]
            )
            return figures
    finally:
        http.close()
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--students", type=int, default=100)
    args = parser.parse_args()
    figures = run(args.sessions, args.students)
    print(json.dumps(figures, indent=2))
    out = ROOT / "benchmarks" / "results" / "calendar.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
