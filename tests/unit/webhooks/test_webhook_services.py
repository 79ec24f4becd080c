"""The webhook services' rules against in-memory stores: fan-out to the subscribed webhooks, retry
scheduling with Retry-After, a 410 ending the deliveries, auto-disable after the failing period,
and the secret rotation's overlap."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest

from integration_core import timeutil
from integration_core.adapters.webhook_http import HttpOutcome
from integration_core.domain.webhooks import DeliveryStatus, ErrorClass
from integration_core.principal import Principal, Role
from integration_core.services import delivery, events, webhook_secrets, webhooks
from integration_core.stores import outbox as outbox_store
from integration_core.stores import webhooks as webhook_store
from integration_core.stores.common import Outcome
from integration_core.webhook_config import webhook_settings

OWNER = Principal("svc_lms1", Role.SERVICE)


# ---------------------------------------------------------------- fan-out
@pytest.fixture
def outbox(monkeypatch):
    """The outbox store's functions over dicts, and the queue as a list."""
    state: dict[str, Any] = {"events": {}, "subs": {}, "deliveries": {}, "sent": []}

    def found(event_ids, store=None):
        return {e: state["events"][e] for e in event_ids if e in state["events"]}

    def subscribers(store, event_type, count=None):
        return list(state["subs"].get(event_type, []))

    def create(store, deliveries, count):
        for d in deliveries:
            state["deliveries"].setdefault(d["delivery_id"], d)

    def dispatched(store, marks, now):
        for mark in marks:
            event = state["events"][mark.event_id]
            event.update(in_outbox=not mark.done, delivery_count=mark.delivery_count)
        return "UpdateItem", len(marks)

    monkeypatch.setattr(outbox_store, "events", found)
    monkeypatch.setattr(outbox_store, "subscriber_ids", subscribers)
    monkeypatch.setattr(outbox_store, "create_deliveries", create)
    monkeypatch.setattr(outbox_store, "mark_dispatched", dispatched)
    monkeypatch.setattr(events.sqs, "send_batch", lambda url, messages: state["sent"].extend(messages) or 1)
    # The bus takes every entry (internal consumers are tested apart).
    monkeypatch.setattr(events.eventbridge, "put", lambda bus, entries: {e.id for e in entries})
    return state


def _event(event_id: str, event_type: str) -> dict[str, Any]:
    data = {"courseId": "crs_1"}
    return {
        "event_id": event_id,
        "event_type": event_type,
        "data_json": json.dumps(data),
        "created_at": "2026-01-01T00:00:00+00:00",
        "in_outbox": True,
    }


def test_an_event_fans_out_to_each_subscribed_webhook_once_and_leaves_the_outbox(outbox):
    outbox["events"]["evt_a1"] = _event("evt_a1", "course_started")
    outbox["subs"]["course_started"] = ["whk_one1", "whk_two2"]
    outbox["subs"]["student_enrolled"] = ["whk_other"]
    report = events.fan_out(["evt_a1", "evt_a1"])
    assert (report.events, report.deliveries) == (1, 2)
    assert sorted(d["webhook_id"] for d in outbox["deliveries"].values()) == ["whk_one1", "whk_two2"]
    bodies = [m.body for m in outbox["sent"]]
    assert {b["webhookId"] for b in bodies} == {"whk_one1", "whk_two2"}
    assert all(b["eventId"] == "evt_a1" and b["deliveryId"].startswith("dlv_") for b in bodies)
    assert {m.delay_seconds for m in outbox["sent"]} == {webhook_settings().retry_schedule[0]}
    assert outbox["events"]["evt_a1"]["in_outbox"] is False
    # Dispatched again (the sweeper, a repeat): nothing more is created or sent.
    assert events.fan_out(["evt_a1"]).deliveries == 0
    assert len(outbox["sent"]) == 2


def test_an_event_nobody_subscribed_to_leaves_the_outbox_with_no_delivery(outbox):
    outbox["events"]["evt_b1"] = _event("evt_b1", "course_started")
    report = events.fan_out(["evt_b1"])
    assert (report.events, report.deliveries, outbox["sent"]) == (1, 0, [])
    assert outbox["events"]["evt_b1"]["delivery_count"] == 0


# ---------------------------------------------------------------- retries, Retry-After, 410
def _job(attempts: int, status: int | None, retry_after: str | None = None, error: ErrorClass | None = None):
    now = time.time()
    record = {"delivery_id": "dlv_aaaa1111", "webhook_id": "whk_one1", "attempts": attempts, "series_start": 0}
    job = delivery.Job(None, record, {"webhook_id": "whk_one1", "is_active": True}, {})
    job.outcome = HttpOutcome(status, 12.0, error, None, None, retry_after, None, now, now)
    return job


def test_a_failed_attempt_is_retried_on_the_schedule_and_the_last_one_fails_the_delivery():
    schedule = webhook_settings().retry_schedule
    for made in range(len(schedule) - 1):
        job = _job(made, 500)
        delivery._decide(job)
        assert (job.status, job.delay) == (DeliveryStatus.PENDING, schedule[made + 1])
    last = _job(len(schedule) - 1, 500)
    delivery._decide(last)
    assert (last.status, last.delay) == (DeliveryStatus.FAILED, None)


def test_retry_after_pushes_a_429_or_503_back_up_to_the_cap_and_means_nothing_on_a_500():
    config = webhook_settings()
    longer = config.retry_schedule[1] + 100
    for status in (429, 503):
        job = _job(0, status, str(longer))
        delivery._decide(job)
        assert job.delay == min(longer, config.retry_after_cap)
    date = timeutil.utc_now() + timedelta(seconds=longer + 5)
    job = _job(0, 503, date.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    delivery._decide(job)
    assert longer <= job.delay <= longer + 6
    ignored = _job(0, 500, str(longer))
    delivery._decide(ignored)
    assert ignored.delay == config.retry_schedule[1]


def test_a_410_fails_the_delivery_at_once_and_marks_its_webhook_gone():
    job = _job(0, 410)
    delivery._decide(job)
    assert (job.status, job.gone, job.delay) == (DeliveryStatus.FAILED, True, None)


def test_a_success_is_recorded_as_succeeded():
    job = _job(2, 204)
    delivery._decide(job)
    assert (job.status, job.gone) == (DeliveryStatus.SUCCEEDED, False)


# ---------------------------------------------------------------- auto-disable, secret rotation
class FakeWebhookStore:
    def __init__(self) -> None:
        self.db = object()
        self.hooks: dict[str, dict[str, Any]] = {}
        self.failing_stats: list[dict[str, Any]] = []

    def webhook(self, webhook_id: str) -> dict[str, Any] | None:
        return self.hooks.get(webhook_id)

    def failing(self):
        yield from sorted(self.failing_stats, key=lambda s: s["failing_since"])

    def rotate_secret(self, current, ciphertext, previous_until, now) -> Outcome:
        stored = self.hooks[current["webhook_id"]]
        if stored["secret_ciphertext"] != current["secret_ciphertext"]:
            return Outcome.RACED
        stored |= {
            "secret_ciphertext": ciphertext,
            "previous_secret_ciphertext": current["secret_ciphertext"],
            "previous_secret_expires_at": previous_until,
        }
        return Outcome.DONE


class FakeCipher:
    """Reversible, bound to the webhook like the KMS encryption context."""

    def encrypt(self, webhook_id: str, plaintext: str) -> str:
        return f"sealed:{webhook_id}:{plaintext[::-1]}"

    def decrypt(self, webhook_id: str, ciphertext: str) -> str:
        prefix = f"sealed:{webhook_id}:"
        if not ciphertext.startswith(prefix):
            raise webhook_secrets.kms.Undecryptable()
        return ciphertext[len(prefix) :][::-1]


@pytest.fixture
def hooks(monkeypatch):
    fake = FakeWebhookStore()
    disabled: list[tuple[str, str]] = []

    def disable(store, webhook, reason):
        if not fake.hooks[webhook["webhook_id"]]["is_active"]:
            return False
        fake.hooks[webhook["webhook_id"]]["is_active"] = False
        disabled.append((webhook["webhook_id"], reason))
        return True

    monkeypatch.setattr(webhooks, "_store", lambda: fake)
    monkeypatch.setattr(webhook_secrets, "cipher", FakeCipher)
    webhook_secrets.forget()
    monkeypatch.setattr(webhook_store, "disable", disable)
    fake.disabled = disabled  # type: ignore[attr-defined]
    return fake


def test_auto_disable_takes_only_webhooks_failing_for_longer_than_the_period(hooks):
    period = webhook_settings().disable_after_seconds
    now = timeutil.utc_now()
    for webhook_id, since in (("whk_old1", period + 60), ("whk_new1", period - 60)):
        hooks.hooks[webhook_id] = {"webhook_id": webhook_id, "is_active": True, "events": []}
        failing_since = timeutil.iso_utc(now - timedelta(seconds=since))
        hooks.failing_stats.append({"webhook_id": webhook_id, "failing_since": failing_since})
    assert webhooks.auto_disable() == ["whk_old1"]
    [(webhook_id, reason)] = hooks.disabled
    assert webhook_id == "whk_old1" and reason.startswith("every delivery failed for")
    assert webhooks.auto_disable() == []  # disabled once


def test_a_rotated_secret_keeps_the_previous_one_for_the_overlap_then_only_the_new(hooks):
    sealed = FakeCipher().encrypt("whk_one1", "whsec_old")
    hooks.hooks["whk_one1"] = {"webhook_id": "whk_one1", "user_id": OWNER.sub, "secret_ciphertext": sealed}
    hooks.hooks["whk_one1"]["is_active"] = True
    answer = webhooks.rotate_secret(OWNER, "whk_one1")
    stored = hooks.hooks["whk_one1"]
    assert answer.secret != "whsec_old" and answer.secret not in str(stored)
    overlap = webhook_settings().secret_overlap_seconds
    now = time.time()
    assert webhook_secrets.in_use(stored, now) == [answer.secret, "whsec_old"]
    assert webhook_secrets.in_use(stored, now + overlap + 1) == [answer.secret]


def test_a_ciphertext_under_another_webhooks_context_is_unreadable_with_a_way_out(hooks):
    stolen = FakeCipher().encrypt("whk_two2", "whsec_theirs")
    webhook = {"webhook_id": "whk_one1", "secret_ciphertext": stolen, "is_active": True}
    with pytest.raises(webhook_secrets.Unreadable) as raised:
        webhook_secrets.in_use(webhook, time.time())
    assert raised.value.status == 409 and "rotate" in raised.value.detail
