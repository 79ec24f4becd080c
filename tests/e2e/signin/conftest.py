"""Sign-in through the local stack and its emulators (tests/support/signin_flow.py drives it)."""

from __future__ import annotations

import uuid

import pytest

from tests.support.signin_flow import SignInFlow


@pytest.fixture(scope="session")
def flow(local_stack, api_base) -> SignInFlow:
    return SignInFlow(api_base, local_stack.sandbox_url)


@pytest.fixture
def email() -> str:
    return f"ana-{uuid.uuid4().hex[:10]}@school.example"
