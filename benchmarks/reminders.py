"""Reminder and feed figures (docs/calendar.md): for a 40-session course, the EventBridge Scheduler
and DynamoDB calls of a first sync, a repeated sync, a moved session's sync and a cancelled
session's sync, with wall time; the calls of one reminder firing for N enrolled students (SES,
DynamoDB); and the feed's render time for that course. The service's code runs in this process
against moto in-process (AWS calls counted by a botocore event hook, time inside them reported
apart: moto's speed is not the service's).

    .venv/bin/python -m benchmarks.reminders [--sessions 40] [--students 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.support import FUNCTION_ENV, ROOT
from benchmarks.webhooks import AwsCalls

GROUP = "bench-reminders"


def _timed(aws: AwsCalls, action: Any) -> tuple[Any, dict[str, Any]]:
    aws.reset()
    started = time.perf_counter()
    result = action()
    wall = time.perf_counter() - started
    return result, {
        "calls": aws.snapshot(),
        "wall_ms": round(wall * 1000, 1),
        "inside_aws_ms": round(aws.seconds * 1000, 1),
        "own_ms": round((wall - aws.seconds) * 1000, 1),
    }


def run(sessions: int, students: int) -> dict[str, Any]:
    from moto import mock_aws

    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(
        FUNCTION_ENV
        | {
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "EVENT_BUS_NAME": "",
            "REMINDER_SCHEDULE_GROUP": GROUP,
            "REMINDER_TARGET_ARN": "arn:aws:lambda:eu-west-1:123456789012:function:bench-ReminderFunction",
            "REMINDER_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/bench-reminders",
            "REMINDER_SENDER": "classes@school.example",
            "CALENDAR_REMINDER_MINUTES": "1440,60",
        }
    )
    with mock_aws():
        import boto3

        from integration_core.domain.directory import CourseCreate, PersonCreate, SessionsCreate, StudentCreate
        from integration_core.principal import principal_from_authorizer
        from integration_core.services import calendar_feed, directory, reminders
        from integration_core.services.reminders import firing
        from integration_core.stores.calendar_feeds import Feed
        from tests.support.aws import create_tables

        create_tables()
        boto3.client("scheduler").create_schedule_group(Name=GROUP)
        boto3.client("ses").verify_email_identity(EmailAddress="classes@school.example")
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
        created = directory.create_sessions(
            admin,
            course.id,
            SessionsCreate.model_validate(
                {
                    "recurrence": {
                        "daysOfWeek": ["MO", "WE"],
                        "startTime": "18:00",
                        "durationMinutes": 90,
                        "fromDate": first_day.isoformat(),
                        "count": sessions,
                    }
                }
            ),
        ).created
        student_ids = []
        for n in range(students):
            person = directory.create_person(
                admin, "student", StudentCreate(email=f"s{n}@school.example", name=f"Student {n}")
            )
            directory.enroll(admin, course.id, person.id)
            student_ids.append(person.id)

        aws = AwsCalls()
        # Clients made from here on report to the counter (the cached ones were made before it).
        from integration_core.adapters import dynamodb, scheduler, ses

        for cached in (dynamodb.client, dynamodb.table, scheduler.client, ses.client):
            cached.cache_clear()
        figures: dict[str, Any] = {"sessions": len(created), "offsets": [1440, 60], "students": students}
        first, figures["first_sync"] = _timed(aws, lambda: reminders.sync_course(course.id))
        figures["first_sync"]["schedules_created"] = first.created
        again, figures["repeat_sync"] = _timed(aws, lambda: reminders.sync_course(course.id))
        figures["repeat_sync"]["unchanged"] = again.unchanged
        session = created[3]
        moved = datetime.fromisoformat(session.starts_at) + timedelta(hours=1)
        from integration_core.domain.directory import SessionUpdate

        directory.move_session(
            admin, course.id, session.id, SessionUpdate.model_validate({"startsAt": moved.isoformat()})
        )
        result, figures["moved_session_sync"] = _timed(aws, lambda: reminders.sync_course(course.id, (session.id,)))
        figures["moved_session_sync"]["schedules_moved"] = result.moved
        directory.delete_session(admin, course.id, created[5].id)
        result, figures["cancelled_session_sync"] = _timed(
            aws, lambda: reminders.sync_course(course.id, (created[5].id,))
        )
        figures["cancelled_session_sync"]["schedules_deleted"] = result.deleted

        target = next(r for r in first.reminders if r.session_id == created[0].id and r.offset_minutes == 60)
        fired, figures["reminder_fired"] = _timed(aws, lambda: firing.fire(target.input()))
        figures["reminder_fired"]["emailed"] = len(fired.emailed)
        fired, figures["reminder_fired_again"] = _timed(aws, lambda: firing.fire(target.input()))
        figures["reminder_fired_again"]["emailed"] = len(fired.emailed)

        store = calendar_feed._store()
        token = "bench-token-" + "x" * 32
        store.replace(
            None, Feed(student_ids[0], "student", calendar_feed.token_hash(token), "2026-01-01T00:00:00+00:00")
        )
        calendar_feed.render_feed(token)  # imports icalendar once
        samples = []
        for _ in range(10):
            started = time.perf_counter()
            answer = calendar_feed.render_feed(token)
            samples.append((time.perf_counter() - started) * 1000)
        figures["feed"] = {
            "bytes": len(answer.body),
            "render_ms_median": round(sorted(samples)[len(samples) // 2], 1),
            "calls": _timed(aws, lambda: calendar_feed.render_feed(token))[1]["calls"],
        }
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--students", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    figures = run(args.sessions, args.students)
    figures["run_seconds"] = round(time.perf_counter() - started, 1)
    figures["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(json.dumps(figures, indent=2), flush=True)
    (ROOT / "benchmarks" / "results" / "reminders.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
