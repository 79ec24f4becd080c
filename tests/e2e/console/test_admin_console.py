"""The school staff's page in a real browser: an admin sees a calendar connection Google broke and a
delivery dead-lettered by a receiver that kept failing, replays it from the page once the receiver
is back, and the page, the receiver and the API then agree that it was delivered, once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import ROLE_SUBJECTS, STACK_PARAMETERS
from tests.e2e.console.conftest import shoot, use_token
from tests.support.receiver import Answer, Receiver

ATTEMPTS = len(STACK_PARAMETERS["WebhookRetrySchedule"].split(","))


def until(check: Callable[[], Any], what: str, seconds: float = 40) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"never: {what}")


def call(api: str, token: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, api + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def broken_calendar(local_stack, api: str, admin: str) -> dict[str, Any]:
    """A student whose Google Calendar connection broke: Google answered invalid_grant to a refresh."""
    email = f"cal-{uuid.uuid4().hex[:8]}@example.com"
    made = call(api, admin, "POST", "/directory/students", {"email": email, "name": "Bruno"})
    assert made.status_code == 201, made.text
    student = made.json()
    token = local_stack.token("student", student["id"])
    started = call(api, token, "GET", "/google-calendar/authorize").json()
    url = urlsplit(started["authorizationUrl"])
    sandbox = local_stack.sandbox_url
    assert httpx.get(f"{sandbox}{url.path}?{url.query}", timeout=30).status_code == 200
    consent = httpx.post(
        f"{sandbox}/_sandbox/google/consent",
        json={"state": started["state"], "email": email, "decision": "allow"},
        timeout=30,
    ).json()
    done = call(
        api,
        token,
        "POST",
        "/google-calendar/authenticate",
        {"code": consent["code"], "state": started["state"], "email": email},
    )
    assert done.status_code == 200, done.text
    for control in ("grants/revoke", "tokens/expire"):
        assert httpx.post(f"{sandbox}/_sandbox/google/{control}", json={"email": email}, timeout=30).status_code == 200
    event = {
        "title": "Office hour",
        "start": {"dateTime": "2027-06-01T10:00:00", "timeZone": "Europe/Lisbon"},
        "end": {"dateTime": "2027-06-01T11:00:00", "timeZone": "Europe/Lisbon"},
    }
    assert call(api, token, "POST", "/google-calendar/events", event).status_code == 409
    return {"student": student, "email": email}


def test_an_admin_sees_a_broken_calendar_and_a_dead_letter_and_replays_it(page, console, api_base, local_stack):
    admin = local_stack.token("admin", ROLE_SUBJECTS["admin"])
    # On a loaded machine the authorizer's cold start can pass its 5 s timeout (a 500): start once it answers.
    until(lambda: call(api_base, admin, "GET", "/admin/integrations").status_code == 200, "the operations API answered")
    calendar = broken_calendar(local_stack, api_base, admin)
    crm = local_stack.token("service", f"svc_adm{uuid.uuid4().hex[:8]}")
    with Receiver() as receiver:
        receiver.default = Answer(500, body=b"down for maintenance")
        hook = call(api_base, crm, "POST", "/webhooks", {"url": receiver.url("/crm"), "events": ["course_started"]})
        assert hook.status_code == 201, hook.text
        webhook_id = hook.json()["webhookId"]
        try:
            data = {"courseId": f"crs_{uuid.uuid4().hex[:12]}", "startedAt": "2026-03-03T18:00:00+00:00"}
            published = call(api_base, crm, "POST", "/events", {"eventType": "course_started", "data": data})
            assert published.status_code == 202

            def failed() -> dict[str, Any] | None:
                items = call(api_base, crm, "GET", f"/webhooks/{webhook_id}/deliveries").json()["items"]
                return items[0] if items and items[0]["status"] == "failed" else None

            delivery = until(failed, "the delivery failed for good")
            delivery_id = delivery["deliveryId"]

            use_token(page, console, admin)
            page.get_by_role("heading", name="Integrations", level=1).wait_for()
            # The broken connection, with Google's reason.
            broken = page.locator("tr", has_text=calendar["student"]["id"])
            broken.wait_for()
            assert calendar["email"] in broken.inner_text() and "invalid_grant" in broken.inner_text()
            # The failing webhook and the dead letter, with its attempts and the receiver's answer.
            assert "failing" in page.locator("tr", has_text=receiver.url("/crm")).first.inner_text()
            letter = page.locator("tr", has_text=delivery_id)
            letter.wait_for()
            assert f"{ATTEMPTS} (last 500)" in letter.inner_text() and "failed" in letter.inner_text()
            page.set_viewport_size({"width": 1280, "height": 800})
            shoot(page, "console-admin")

            receiver.default = Answer(200)  # the receiver is back
            replay = letter.get_by_role("button", name="Replay")
            message_id = replay.get_attribute("data-message-id")
            replay.click()
            page.locator("#flash").get_by_text("Replayed 1.").wait_for()
            assert page.locator(".progress.done").inner_text().endswith("Replayed 1.")
            # The list is read again: that dead letter is gone from it.
            page.locator(f'button[data-message-id="{message_id}"]').wait_for(state="detached")

            requests = receiver.wait_for("/crm", ATTEMPTS + 1)
            assert len(requests) == ATTEMPTS + 1
            assert {k.lower(): v for k, v in requests[-1].headers.items()}["webhook-id"] == delivery_id

            def delivered() -> dict[str, Any] | None:
                items = call(api_base, crm, "GET", f"/webhooks/{webhook_id}/deliveries").json()["items"]
                return items[0] if items[0]["status"] == "succeeded" else None

            assert until(delivered, "the replayed delivery succeeded")["attempts"] == ATTEMPTS + 1
            assert len(receiver.at("/crm")) == ATTEMPTS + 1
        finally:
            call(api_base, crm, "DELETE", f"/webhooks/{webhook_id}")
