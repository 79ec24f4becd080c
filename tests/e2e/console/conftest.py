"""The web console in a real headless browser (tests/support/browser.py) against the session's local
stack: the console is served by the stack at /console on the API's origin, which the stack's sign-in
allow-lists name (tests/e2e/conftest.py). Helpers: `console` (its URL), `page` (a fresh browser
context's page; what the page logged is printed when a test fails), `sandbox` (the emulators'
controls), `sign_in_with_google`, `use_token`, `shoot` (a screenshot, into docs/images/ with `make screenshots`)."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import CONSOLE_ORIGIN

# The screenshots go to docs/images only when asked (`make screenshots`), so a test run leaves the
# tree as it was.
IMAGES = Path(os.environ.get("CONSOLE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "console-screenshots")
WAIT_MS = 30_000  # a cold function on a loaded 2-core machine takes 10+ s


@pytest.fixture(scope="session")
def console(local_stack, api_base) -> str:
    assert local_stack.api_url == CONSOLE_ORIGIN, "the stack must run on the port its sign-in allow-list names"
    # The authorizer's first (cold) start can pass its 5 s timeout on a loaded machine, and the page
    # gives a failing GET only two more tries: warm it (and the console's function) first, bounded.
    token = local_stack.token("service", "svc_consolewarmup")
    for _ in range(10):
        answer = httpx.get(f"{api_base}/webhooks/events", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        if answer.status_code < 500:
            break
    httpx.get(f"{CONSOLE_ORIGIN}/console", timeout=60)
    return f"{CONSOLE_ORIGIN}/console"


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    logged: list[str] = []
    page.on("console", lambda m: logged.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: logged.append(f"page error: {e}"))
    yield page
    print("the page logged:\n" + "\n".join(logged))  # pytest shows it when the test failed
    context.close()


class Sandbox:
    def __init__(self, url: str) -> None:
        self.url = url

    def control(self, method: str, path: str, body: Any = None) -> Any:
        answer = httpx.request(method, f"{self.url}/_sandbox{path}", json=body, timeout=30)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None


@pytest.fixture(scope="session")
def sandbox(local_stack) -> Sandbox:
    return Sandbox(local_stack.sandbox_url)


@pytest.fixture
def email() -> str:
    return f"ana-{uuid.uuid4().hex[:10]}@school.example"


def session_of(page) -> dict[str, Any]:
    """The console's session as the page keeps it (sessionStorage)."""
    raw = page.evaluate("() => sessionStorage.getItem('console.session')")
    assert raw, "the page holds no session"
    return dict(json.loads(raw))


def sign_in_with_google(page, console: str, email: str, name: str = "Ana Lima") -> dict[str, Any]:
    """From the sign-in page through Google's (the emulator's) consent page, back signed in."""
    page.goto(console)
    page.get_by_role("button", name="Sign in with Google").click()
    page.wait_for_url("**/google/o/oauth2/v2/auth**")
    page.get_by_label("Account").fill(email)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{console}/**")
    page.get_by_role("button", name="Sign out").wait_for()
    return session_of(page)


def use_token(page, console: str, token: str) -> None:
    """Sign in as a service account (or a `make token` person) by pasting an access token."""
    page.goto(console)
    page.get_by_text("Sign in with an access token").click()
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Use this token").click()
    page.get_by_role("button", name="Sign out").wait_for()


def shoot(page, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=True)
