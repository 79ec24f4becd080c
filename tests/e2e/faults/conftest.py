"""The crash and race tests' own local stack: the e2e session's parameters, a folder of crash plans the
workers read (offline/_worker.py `CrashPoints`), every queue's visibility capped at a few seconds (a killed
batch comes back soon) and the outbox sweeper's grace period at one second.

`crash` arms a plan (`crash.arm(function, point, *match)`), waits until it fired, triggers
the sweeper when a test needs it now rather than at its next minute."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from offline.testing import RunningStack, start_stack
from tests.e2e.conftest import ROOT, STACK_PARAMETERS

# Seconds: every queue's visibility timeout in this stack. Longer than a batch takes on a loaded
# machine (a cold start after the kill included), so that a batch comes back only once it was lost.
VISIBILITY = 8
PARAMETERS = {**STACK_PARAMETERS, "WebhookQueueVisibilityTimeout": str(VISIBILITY), "WebhookSweepGraceSeconds": "1"}


def wait_for(predicate: Callable[[], Any], seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def at_soon() -> str:
    """A Scheduler `at()` a few whole seconds ahead (one in the past would never fire)."""
    return f"at({(datetime.now(UTC) + timedelta(seconds=3)):%Y-%m-%dT%H:%M:%S})"


class Crash:
    """The stack's crash plans, one per function (offline/_worker.py `CrashPoints`)."""

    def __init__(self, stack: RunningStack, plans: Path) -> None:
        self.stack, self.plans = stack, plans

    def arm(self, function: str, point: str, *match: str, nth: int = 1, trace: bool = False) -> None:
        """The next invocation of `function` whose event contains every `match` dies at `point` (the
        `nth` time it reaches it); `trace` records the points it reaches instead."""
        Path(f"{self.plans / function}.json.fired").unlink(missing_ok=True)
        plan = {"point": point, "match": list(match), "nth": nth, "trace": trace}
        staged = self.plans / f"{function}.staged"
        staged.write_text(json.dumps(plan))
        staged.replace(self.plans / f"{function}.json")

    def fired(self, function: str, seconds: float = 60.0) -> bool:
        return bool(wait_for(Path(f"{self.plans / function}.json.fired").exists, seconds))

    def trace(self, function: str) -> list[str]:
        path = self.plans / f"{function}.trace"
        return path.read_text().split() if path.exists() else []

    def disarm(self, function: str | None = None) -> None:
        for plan in self.plans.glob(f"{function or '*'}.json"):
            plan.unlink(missing_ok=True)

    def sweep(self) -> None:
        """Run the outbox sweeper now (the template runs it every minute): a one-off schedule with
        the SweepOutbox input."""
        maintenance = self.stack.state["functions"]["WebhookMaintenanceFunction"]["arn"]
        self.stack.client("scheduler").create_schedule(
            Name=f"crash-sweep-{uuid.uuid4().hex[:8]}",
            ScheduleExpression=at_soon(),
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": maintenance,
                "RoleArn": "arn:aws:iam::123456789012:role/crash-scheduler",
                "Input": json.dumps({"task": "sweep"}),
            },
            ActionAfterCompletion="DELETE",
        )

    def queue_empty(self, logical_id: str) -> bool:
        """Nothing visible, in flight or delayed, read twice 0.2 s apart."""
        sqs, url = self.stack.client("sqs"), self.stack.state["resources"][logical_id]["ref"]
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        for reading in range(2):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            if any(int(attributes[n]) for n in names):
                return False
            if reading == 0:
                time.sleep(0.2)
        return True


# A stack per module, stopped when its module ends: an idle stack's pollers would otherwise slow
# every later test of the session.
@pytest.fixture(scope="module")
def crash_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningStack, Path]]:
    state = tmp_path_factory.mktemp("offline-crash")
    plan = state / "crash-plans"
    plan.mkdir()
    parameters = [arg for k, v in PARAMETERS.items() for arg in ("--parameter", f"{k}={v}")]
    stack = start_stack(
        ROOT / "template.yaml",
        state,
        "--crash-plans",
        str(plan),
        "--visibility-cap",
        str(VISIBILITY),
        "--max-instances",
        "10",  # the races (test_races.py) run ten requests at once
        *parameters,
    )
    # Warm both environments of the authorizer and of the API functions the scenarios call at once:
    # a burst of cold starts on a loaded machine outlasts the authorizer's 5 s timeout.
    api = f"{stack.api_url}/api/v1/integration"
    headers = {"Authorization": f"Bearer {stack.token('admin', 'adm_office')}"}
    paths = ["/directory/students", "/webhooks", "/payments/history/stu_warm0001", "/google-calendar/status"]
    with httpx.Client(timeout=60, headers=headers) as http, ThreadPoolExecutor(2) as pool:
        for path in paths:
            list(pool.map(lambda _, path=path: http.get(api + path), range(2)))
    yield stack, plan
    stack.stop()


@pytest.fixture
def crash(crash_stack: tuple[RunningStack, Path]) -> Iterator[Crash]:
    stack, plan = crash_stack
    armed = Crash(stack, plan)
    yield armed
    armed.disarm()


@pytest.fixture(scope="module")
def api(crash_stack: tuple[RunningStack, Path]) -> str:
    return f"{crash_stack[0].api_url}/api/v1/integration"


class Caller:
    """The API as one caller sees it."""

    def __init__(self, api: str, token: str) -> None:
        self.api = api
        self.http = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"})

    def post(self, path: str, body: Any, key: str | None = None) -> httpx.Response:
        return self.http.post(self.api + path, json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex})

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(self.api + path, params=params)

    def delete(self, path: str) -> httpx.Response:
        return self.http.delete(self.api + path)
