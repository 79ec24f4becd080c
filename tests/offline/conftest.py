"""Fixtures for tests of the local stack itself: a stack started once per session from the tiny
application in tests/offline/fixtures (an echo, a crasher, a sleeper, an SQS consumer reporting
partial failures, a slow SQS consumer whose mapping runs 3 batches at once, a schedule target, a
test authorizer). The sample data (scripts/seed_directory.py) belongs to the real application, so
it is not loaded here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from offline.testing import RunningStack, start_stack

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def fixture_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(FIXTURES / "template.yaml", tmp_path_factory.mktemp("offline-fixture"), "--no-seed")
    yield stack
    stack.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client
