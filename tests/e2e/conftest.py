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

from offline.testing import RunningStack, start_stack

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("admin", "teacher", "student", "service")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(ROOT / "template.yaml", tmp_path_factory.mktemp("offline-e2e"))
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def api_base(local_stack: RunningStack) -> str:
    return f"{local_stack.api_url}/api/v1/integration"


@pytest.fixture(scope="session")
def role_tokens(local_stack: RunningStack) -> dict[str, str]:
    return {role: local_stack.token(role, f"e2e-{role}") for role in ROLES}


@pytest.fixture(scope="session")
def local_aws(local_stack: RunningStack) -> Callable[[str], Any]:
    return local_stack.client


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client
