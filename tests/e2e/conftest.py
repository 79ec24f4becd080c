"""End-to-end fixtures: the local stack (python -m offline) built from template.yaml, started once
per test session on free ports and driven over HTTP exactly as a client would.

Fixtures: `local_stack` (the RunningStack: state, console, controls), `api_base` (the API root,
e.g. http://127.0.0.1:PORT/api/v1/integration), `role_tokens` (an access token per role),
`local_aws` (a boto3 client factory at the stack's embedded AWS), `http` (an httpx client).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from offline.testing import RunningStack, free_port, start_stack

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("admin", "teacher", "student", "service")
# A token's sub is an id of its role's kind (adm_, tch_, stu_, svc_); the authorizer refuses any other.
ROLE_SUBJECTS = {
    "admin": "adm_e2eadmin",
    "teacher": "tch_e2eteacher",
    "student": "stu_e2estudent",
    "service": "svc_e2eservice",
}
# Template parameters of the session's stack: loopback receivers allowed, as `make run` does, and
# the webhook retry schedule and queue visibility scaled down to seconds, so that retries, the DLQ
# and the redelivery after a dispatcher crash happen within a test: three attempts, 0, 1 and 2 s apart.
STACK_PARAMETERS = {
    "WebhooksAllowLoopback": "true",
    "WebhookRetrySchedule": "0,1,2",
    "WebhookMaxReceiveCount": "3",
    "WebhookQueueVisibilityTimeout": "5",
    # Sign-in: the redirect URI the e2e tests' "browser" names (the emulators answer it without
    # following it); every test signs in from 127.0.0.1, so the per-client limit is out of the way
    # (tests/unit/signin/ exercises the limits).
    "SignInRedirectUris": "http://127.0.0.1:9/signin/callback",
    "SignInReturnTo": "http://127.0.0.1:9/signed-in",
    "SignInClientAttempts": "100000",
    "SignInAccountAttempts": "1000",
}
# The web console's callback and return address are on the stack's own origin, so its API port is
# chosen before it starts (tests/e2e/console/).
API_PORT = free_port()
CONSOLE_ORIGIN = f"http://127.0.0.1:{API_PORT}"
STACK_PARAMETERS["SignInRedirectUris"] += f",{CONSOLE_ORIGIN}/console/callback"
STACK_PARAMETERS["SignInReturnTo"] += f",{CONSOLE_ORIGIN}/console/"


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    parameters = [arg for k, v in STACK_PARAMETERS.items() for arg in ("--parameter", f"{k}={v}")]
    stack = start_stack(ROOT / "template.yaml", tmp_path_factory.mktemp("offline-e2e"), *parameters, api_port=API_PORT)
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def api_base(local_stack: RunningStack) -> str:
    return f"{local_stack.api_url}/api/v1/integration"


@pytest.fixture(scope="session")
def role_tokens(local_stack: RunningStack) -> dict[str, str]:
    return {role: local_stack.token(role, ROLE_SUBJECTS[role]) for role in ROLES}


@pytest.fixture(scope="session")
def local_aws(local_stack: RunningStack) -> Callable[[str], Any]:
    return local_stack.client


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless chromium (tests/support/browser.py); each test opens its own context (cookies apart)."""
    from tests.support.browser import chromium

    with chromium() as running:
        yield running
