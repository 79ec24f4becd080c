"""Video figures (README "Performance", docs/video.md): the provider calls it takes to set up a
40-session weekly course with 30 students (the meeting, every registration), to follow one more
enrollment, a schedule change and the course's deletion; and how long the callbacks function takes
to handle the provider's signed callbacks of a class (start, joins, leaves and rejoins, end
with its attendance, recording), p50/p99 per kind, new and replayed.

The service's code runs in this process against moto in-process and the provider sandbox's
emulators on loopback (real HTTP, real Server-to-Server OAuth). Provider calls are counted as the
sandbox receives them (method and path, ids folded). Callbacks are the emulator's own, signed as
Zoom signs them, delivered by its controls to a loopback server that turns each into a Function URL
event and times `functions/video_callbacks/app.handler` alone (not the HTTP around it).

    .venv/bin/python -m benchmarks.video [--providers zoom] [--sessions 40] [--students 30] [--classes 3]

A provider is an entry of PROVIDERS (how its emulator is set up, which host it needs): Zoom, and
Teams through the Graph emulator (one online meeting per session, the students its attendees; its
setup, enrollment, schedule change and deletion are counted, its callbacks are not played: Graph's
attendance is read after each class by the schedule, not pushed).

    .venv/bin/python -m benchmarks.video --providers zoom,teams
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from benchmarks.support import FUNCTION_ENV, ROOT, summary

_ID_SEGMENT = re.compile(r"/(?:\d{6,}|[A-Za-z0-9%+=_-]{20,}|[^/]+(?:@|%40)[^/]+)(?=/|$)")


def _shape(method: str, path: str) -> str:
    """GET /zoom/v2/meetings/{id}/registrants: the call with its ids folded."""
    return f"{method} {_ID_SEGMENT.sub('/{id}', path)}"


class CountingApp:
    """The sandbox app, counting the provider calls it answers (controls are not counted)."""

    def __init__(self, app: Callable[[Any], Any]) -> None:
        self.app = app
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, request: Any) -> Any:
        if not request.path.startswith("/_sandbox"):
            with self.lock:
                self.calls[_shape(request.method, request.path)] += 1
        return self.app(request)

    def take(self) -> dict[str, Any]:
        with self.lock:
            taken, self.calls = dict(sorted(self.calls.items())), Counter()
        return {"calls": taken, "total": sum(taken.values())}


class CallbackTimer:
    """A loopback stand-in for the callbacks Function URL: each POST becomes the Function URL event
    the handler gets; the handler's time is recorded by the Zoom event it carried."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.outside_aws: dict[str, list[float]] = defaultdict(list)
        self.aws_calls: dict[str, list[int]] = defaultdict(list)
        self.statuses: Counter[int] = Counter()
        self.label = "new"
        self.aws: Any = None  # benchmarks.webhooks.AwsCalls, once set

    def __call__(self, request: Any) -> Any:
        from functions.video_callbacks.app import handler
        from offline.http import Response

        event = {
            "version": "2.0",
            "rawPath": request.path,
            "rawQueryString": "",
            "headers": {k.lower(): v for k, v in request.headers},
            "requestContext": {"http": {"method": request.method, "path": request.path}},
            "body": request.body.decode(),
            "isBase64Encoded": False,
        }
        kind = f"{json.loads(request.body).get('event', '?')} ({self.label})"
        if self.aws is not None:
            self.aws.reset()
        started = time.perf_counter()
        answer = handler(event, _Context())
        elapsed = (time.perf_counter() - started) * 1000
        self.samples[kind].append(elapsed)
        if self.aws is not None:
            self.outside_aws[kind].append(elapsed - self.aws.seconds * 1000)
            self.aws_calls[kind].append(sum(self.aws.calls.values()))
        self.statuses[answer["statusCode"]] += 1
        return Response(answer["statusCode"], list(answer["headers"].items()), answer["body"].encode())


class _Context:
    function_name = "VideoCallbacksFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:VideoCallbacksFunction"
    aws_request_id = "bench"


@dataclass(frozen=True)
class Provider:
    """How a provider's emulator serves the benchmark."""

    emulator: Callable[[], Any]  # the emulator class
    secret_env: str  # the config's variable naming its secret
    secret: Callable[[str], dict[str, Any]]  # its secret's value, given the sandbox's URL
    add_host: Callable[[httpx.Client, str, str], None]  # makes the teacher a user at the provider
    play_classes: Callable[[httpx.Client, str, dict[str, Any], list[dict[str, Any]], int], list[str]] | None


def _zoom_emulator() -> Any:
    from offline.sandbox.providers.zoom import Zoom

    return Zoom


def _zoom_secret(sandbox: str) -> dict[str, Any]:
    from offline.sandbox.providers import zoom_shared

    return {
        "accountId": zoom_shared.LOCAL_ACCOUNT_ID,
        "clientId": zoom_shared.LOCAL_CLIENT_ID,
        "clientSecret": zoom_shared.LOCAL_CLIENT_SECRET,
        "webhookSecretToken": zoom_shared.LOCAL_WEBHOOK_SECRET,
        "oauthUrl": f"{sandbox}/zoom/oauth/token",
        "apiUrl": f"{sandbox}/zoom/v2",
    }


def _zoom_host(http: httpx.Client, sandbox: str, email: str) -> None:
    assert http.post(f"{sandbox}/_sandbox/zoom/users", json={"email": email}).status_code == 201


def _zoom_classes(
    http: httpx.Client, sandbox: str, meeting: dict[str, Any], registrants: list[dict[str, Any]], classes: int
) -> list[str]:
    """`classes` classes at the emulator's controls with deliveries held: the ids of the events made."""
    control = f"{sandbox}/_sandbox/zoom"
    zoom_id = meeting["provider_meeting_id"]
    assert http.post(f"{control}/delivery", json={"auto": False}).status_code == 200
    for _ in range(classes):
        assert http.post(f"{control}/meetings/{zoom_id}/start", json={}).status_code == 200
        for r in registrants:
            http.post(f"{control}/meetings/{zoom_id}/participants/join", json={"joinUrl": r["join_url"]})
        for r in registrants[::3]:  # a third drop out once and come back
            http.post(f"{control}/meetings/{zoom_id}/participants/leave", json={"email": r["email"]})
            http.post(f"{control}/meetings/{zoom_id}/participants/join", json={"joinUrl": r["join_url"]})
        assert http.post(f"{control}/meetings/{zoom_id}/end", json={}).status_code == 200
        assert http.post(f"{control}/meetings/{zoom_id}/recording/complete", json={}).status_code == 200
    return [e["id"] for e in http.get(f"{control}/events").json()]


def _graph_emulator() -> Any:
    from offline.sandbox.providers.graph import Graph

    return Graph


def _teams_secret(sandbox: str) -> dict[str, Any]:
    """The local stack's Teams app (offline/secrets.py), without notifications (no subscriptions
    made: the benchmark counts the meetings' calls)."""
    from offline.sandbox.providers.graph_shared import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_TENANT_ID

    secure = sandbox.replace("http://", "https://", 1)
    return {
        "tenantId": LOCAL_TENANT_ID,
        "clientId": LOCAL_CLIENT_ID,
        "clientSecret": LOCAL_CLIENT_SECRET,
        "clientState": "bench-teams",
        "notificationUrl": "",
        "authority": f"{secure}/graph/login/{LOCAL_TENANT_ID}",
        "graphUrl": sandbox + "/graph/v1.0",
        "sandboxUrl": sandbox,
    }


def _teams_host(http: httpx.Client, sandbox: str, email: str) -> None:
    control = f"{sandbox}/_sandbox/graph"
    assert http.post(f"{control}/users", json={"userPrincipalName": email}).status_code == 201
    assert http.post(f"{control}/access-policy", json={"global": True}).status_code == 200


PROVIDERS: dict[str, Provider] = {
    "zoom": Provider(_zoom_emulator, "ZOOM_SECRET_NAME", _zoom_secret, _zoom_host, _zoom_classes),
    "teams": Provider(_graph_emulator, "TEAMS_SECRET_NAME", _teams_secret, _teams_host, None),
}


def run(provider: str, sessions: int, students: int, classes: int) -> dict[str, Any]:
    from moto import mock_aws

    from offline.http import Server
    from offline.sandbox.base import SandboxContext
    from offline.sandbox.callbacks import Callbacks
    from offline.sandbox.server import Sandbox

    spec = PROVIDERS[provider]
    timer = CallbackTimer()
    receiver = Server("callbacks", 0, timer)
    receiver.start()
    ctx = SandboxContext(Callbacks({"VideoCallbacksFunction": receiver.url}))
    counting = CountingApp(Sandbox(ctx, [spec.emulator()]))
    server = Server("video-sandbox", 0, counting)
    ctx.base_url = server.url
    server.start()
    sandbox = server.url
    os.environ.pop("AWS_ENDPOINT_URL", None)
    secret_name = f"bench/{provider}"
    os.environ.update(
        FUNCTION_ENV
        | {
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "EVENT_BUS_NAME": "",
            spec.secret_env: secret_name,
            "VIDEO_DEFAULT_HOST": "",
        }
    )
    http = httpx.Client(timeout=300)
    try:
        with mock_aws():
            import boto3

            from integration_core.domain.directory import CourseCreate, PersonCreate, SessionsCreate, StudentCreate
            from integration_core.principal import principal_from_authorizer
            from integration_core.services import directory
            from integration_core.services.video import meetings
            from tests.support.aws import create_tables

            create_tables()
            boto3.client("secretsmanager").create_secret(
                Name=secret_name, SecretString=json.dumps(spec.secret(sandbox))
            )
            admin = principal_from_authorizer({"sub": "adm_bench", "role": "admin"})
            email = "teacher@school.example"
            spec.add_host(http, sandbox, email)
            teacher = directory.create_person(admin, "teacher", PersonCreate(email=email, name="Tess Teacher"))
            course = directory.create_course(
                admin,
                CourseCreate.model_validate(
                    {
                        "title": "Bench English",
                        "price": {"amount": "0", "currency": "EUR"},
                        "timeZone": "Europe/London",
                        "teacherId": teacher.id,
                    }
                ),
            )
            first_day = (datetime.now(UTC) + timedelta(days=2)).date()
            recurrence = {
                "daysOfWeek": ["TU"],
                "startTime": "18:00",
                "durationMinutes": 60,
                "fromDate": first_day.isoformat(),
                "count": sessions,
            }
            directory.create_sessions(admin, course.id, SessionsCreate.model_validate({"recurrence": recurrence}))
            for n in range(students):
                person = directory.create_person(
                    admin, "student", StudentCreate(email=f"s{n}@school.example", name=f"Student {n}")
                )
                directory.enroll(admin, course.id, person.id)

            figures: dict[str, Any] = {"provider": provider, "sessions": sessions, "students": students}
            counting.take()
            started = time.perf_counter()
            meeting = meetings.create_meeting(
                admin, provider, course_id=course.id, title="Bench English", start=None, end=None, recording=True
            )
            figures["setup"] = counting.take() | {"wall_ms": round((time.perf_counter() - started) * 1000, 1)}
            figures["setup"]["occurrences_matched"] = len(meeting["occurrences"])

            meetings.create_meeting(
                admin, provider, course_id=course.id, title="Bench English", start=None, end=None, recording=True
            )
            figures["setup_repeated"] = counting.take()

            late = directory.create_person(admin, "student", StudentCreate(email="late@school.example", name="Late"))
            directory.enroll(admin, course.id, late.id)
            meetings.register_student(meeting, late.id, announce=True)  # what video's reaction does
            figures["one_more_enrollment"] = counting.take()

            meetings.follow_schedule(meeting)  # what video's reaction to course_schedule_changed does
            figures["schedule_change"] = counting.take()

            if spec.play_classes is not None:
                registrants = meetings._store().registrants(meeting["id"])
                event_ids = spec.play_classes(http, sandbox, meeting, registrants, classes)
                counting.take()
                from benchmarks.webhooks import AwsCalls
                from integration_core.adapters import dynamodb

                timer.aws = AwsCalls()
                for cached in (dynamodb.client, dynamodb.table):
                    cached.cache_clear()
                for label in ("new", "replayed"):
                    timer.label = label
                    for event_id in event_ids:
                        http.post(f"{sandbox}/_sandbox/{provider}/events/{event_id}/send", json={})
                figures["callbacks_provider_calls"] = counting.take()  # the reports read after each end
                figures["callbacks"] = {
                    "classes": classes,
                    "statuses": {str(k): v for k, v in sorted(timer.statuses.items())},
                    "handler_ms": {kind: summary(samples) for kind, samples in sorted(timer.samples.items())},
                    "handler_outside_aws_ms": {kind: summary(v) for kind, v in sorted(timer.outside_aws.items())},
                    "aws_calls_per_callback": {
                        kind: sorted(set(counts)) for kind, counts in sorted(timer.aws_calls.items())
                    },
                    "all_new_ms": summary([s for k, v in timer.samples.items() if k.endswith("(new)") for s in v]),
                    "all_replayed_ms": summary(
                        [s for k, v in timer.samples.items() if k.endswith("(replayed)") for s in v]
                    ),
                    "all_new_outside_aws_ms": summary(
                        [s for k, v in timer.outside_aws.items() if k.endswith("(new)") for s in v]
                    ),
                }

            counting.take()
            meetings.delete_for_course(course.id)  # what video's reaction to course_deleted does
            figures["course_deleted"] = counting.take()
            return figures
    finally:
        http.close()
        server.stop()
        receiver.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", default="zoom", help=f"comma-separated, of: {', '.join(PROVIDERS)}")
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--classes", type=int, default=1, help="classes played for the callback figures")
    args = parser.parse_args()
    figures = {
        name: run(name, args.sessions, args.students, args.classes) for name in args.providers.split(",") if name
    }
    print(json.dumps(figures, indent=2))
    out = ROOT / "benchmarks" / "results" / "video.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
