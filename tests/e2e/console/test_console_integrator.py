"""The integrator's webhook portal in a real browser: a service account registers an endpoint (a
loopback receiver), sends a test and sees it delivered, makes the receiver fail and watches the
page show the retries (with the receiver's answer and headers), then replays and sees it
delivered; each step checked against what the receiver and the API hold."""

from __future__ import annotations

import time
import uuid

import httpx

from integration_core.domain import signatures
from tests.e2e.conftest import STACK_PARAMETERS
from tests.e2e.console.conftest import shoot, use_token
from tests.support.receiver import Answer, Receiver

ATTEMPTS = len(STACK_PARAMETERS["WebhookRetrySchedule"].split(","))


def test_register_test_fail_retry_and_replay_from_the_portal(page, console, api_base, local_stack):
    service = f"svc_portal{uuid.uuid4().hex[:8]}"
    token = local_stack.token("service", service)
    headers = {"Authorization": f"Bearer {token}"}
    with Receiver() as receiver:
        url = receiver.url("/hooks/crm")
        use_token(page, console, token)
        page.get_by_role("heading", name="Webhooks", level=1).wait_for()
        assert "My classes" not in page.locator("#nav").inner_text()  # a service sees the portal only

        # A bad URL is refused field by field, then a good one registers.
        page.get_by_label("Receiver URL").fill("ftp://nowhere")
        page.get_by_label("Events").select_option(["course_started"])
        page.get_by_role("button", name="Add endpoint").click()
        assert page.locator(".field-error").first.inner_text()
        page.get_by_label("Receiver URL").fill(url)
        page.get_by_label("Events").select_option(["course_started"])
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.locator(".secret-value").inner_text().strip()
        assert secret.startswith("whsec_")
        [hook] = httpx.get(f"{api_base}/webhooks", headers=headers, timeout=30).json()["items"]
        assert (hook["url"], hook["events"]) == (url, ["course_started"])

        page.get_by_role("link", name=url).click()
        page.get_by_role("button", name="Send test").click()
        assert page.locator(".test-result").inner_text().startswith("Test delivered: HTTP 200")
        [tested] = receiver.at("/hooks/crm")
        assert b"webhook.test" in tested.body
        # Signed with the secret the page showed once.
        assert signatures.verify([secret], tested.headers, tested.body, int(time.time())).valid

        # The receiver fails: an event's delivery is tried ATTEMPTS times, and the page shows each.
        receiver.default = Answer(503, headers={"X-Receiver": "maintenance"}, body=b"down for maintenance")
        event = {"courseId": "crs_k2m3n4p5q6r7s2t3v4w5", "startedAt": "2026-12-01T18:00:00+00:00"}
        published = httpx.post(
            f"{api_base}/events", json={"eventType": "course_started", "data": event}, headers=headers, timeout=30
        )
        assert published.status_code == 202, published.text
        page.get_by_role("button", name="Refresh").click()
        failed_row = page.locator("tbody tr", has_text="course_started")
        failed_row.get_by_text("failed").wait_for(timeout=60_000)  # the page watches while it is pending
        assert failed_row.locator("td[data-label=Attempts]").inner_text() == str(ATTEMPTS)
        failed_row.get_by_role("button", name="Attempts").click()
        attempts = page.locator("#attempts tbody tr")
        attempts.nth(ATTEMPTS - 1).wait_for()
        assert attempts.count() == ATTEMPTS
        assert attempts.first.locator("td[data-label=Status]").inner_text() == "503"
        attempts.first.get_by_text("down for maintenance").first.click()  # open the response
        assert "x-receiver: maintenance" in attempts.first.locator(".response-headers").inner_text()
        assert len([r for r in receiver.at("/hooks/crm") if b"course_started" in r.body]) == ATTEMPTS
        assert page.locator("[data-stat=failed]").inner_text() == "1"
        shoot(page, "console-integrator")

        # The receiver is back: replay everything failed since yesterday, from the page.
        receiver.default = Answer(200, body=b"thanks")
        page.get_by_role("button", name="Replay").click()
        page.get_by_text("Replayed 1 failed delivery.").wait_for()
        failed_row.get_by_text("succeeded").wait_for(timeout=60_000)
        delivered = [r for r in receiver.at("/hooks/crm") if b"course_started" in r.body]
        assert len(delivered) == ATTEMPTS + 1
        deliveries = httpx.get(f"{api_base}/webhooks/{hook['webhookId']}/deliveries", headers=headers, timeout=30)
        statuses = {d["eventType"]: d["status"] for d in deliveries.json()["items"]}
        assert statuses == {"course_started": "succeeded", "webhook.test": "succeeded"}
