"""PayPal payments, subscriptions on both providers, and provider callbacks (verified, applied once,
forged and stale ones refused) through the functions against the emulators."""

from __future__ import annotations

import json
import time

import httpx

from offline.sandbox.providers.stripe import sign
from tests.component.payments.conftest import new_key, pay


def _process(student: str, course: str, key: str | None = None, **extra):
    return pay("POST", "/paypal/process", student=student, key=key or new_key(), body={"courseId": course, **extra})


def _capture(student: str, order_id: str):
    return pay(
        "POST", "/confirm", student=student, key=new_key(), body={"transactionId": order_id, "provider": "paypal"}
    )


def test_paypal_process_approve_capture_details_refund(world, directory):
    student = directory["students"][0]["id"]
    started = _process(student, directory["courses"]["USD"]["id"], amount="99.99", currency="USD")
    assert started.status == 201, started.body
    assert started.body["approvalUrl"].startswith(world.sandbox_url)
    order = started.body["orderId"]

    early = _capture(student, order)
    assert early.status == 409, early.body
    assert "approved" in early.body["detail"]

    assert world.control("POST", f"/paypal/orders/{order}/approve").status_code == 200
    captured = _capture(student, order)
    assert captured.status == 200, captured.body
    assert captured.body["status"] == "succeeded" and captured.body["captureId"]

    details = pay("GET", f"/paypal/transaction/{order}", student=student)
    assert details.status == 200, details.body
    assert (details.body["status"], details.body["captureStatus"], details.body["amount"]) == (
        "COMPLETED",
        "COMPLETED",
        "99.99",
    )

    refund = pay(
        "POST",
        "/refund",
        role="admin",
        key=new_key(),
        body={"transactionId": order, "provider": "paypal", "amount": "9.99", "reason": "late start"},
    )
    assert refund.status == 201, refund.body
    assert refund.body["paymentStatus"] == "partially_refunded" and refund.body["remainingAmount"] == "90.00"
    too_much = pay(
        "POST",
        "/refund",
        role="admin",
        key=new_key(),
        body={"transactionId": order, "provider": "paypal", "amount": "90.01"},
    )
    assert too_much.status == 422
    requests = world.requests("paypal")
    posts = [r for r in requests if r["method"] == "POST" and r["path"] != "/v1/oauth2/token"]
    assert all(r["headers"].get("paypal-request-id") for r in posts)
    assert sum(r["path"] == "/v1/oauth2/token" for r in requests) == 1  # the token is cached
    assert world.violations() == []


def test_paypal_amounts_are_decimal_strings_with_the_currency_exponent(world, directory):
    student = directory["students"][1]["id"]
    # HUF has two decimals in ISO 4217 and none at PayPal.
    for code, value in (("JPY", "15000"), ("USD", "99.99"), ("HUF", "4500")):
        started = _process(student, directory["courses"][code]["id"])
        assert started.status == 201, started.body
        order = world.paypal.store.collection("orders")[started.body["orderId"]]
        assert order["purchase_units"][0]["amount"] == {"currency_code": code, "value": value}


def test_paypal_capture_events_apply_once_in_any_order(world, directory):
    student = directory["students"][0]["id"]
    started = _process(student, directory["courses"]["USD"]["id"])
    order = started.body["orderId"]
    world.control("POST", f"/paypal/orders/{order}/approve")
    assert _capture(student, order).body["status"] == "succeeded"
    completed = [
        e for e in world.control("GET", "/paypal/events").json() if e["event_type"] == "PAYMENT.CAPTURE.COMPLETED"
    ][-1]
    results = [world.control("POST", f"/paypal/events/{completed['id']}/send").json()["status"] for _ in range(3)]
    assert results == [200, 200, 200]
    assert len(world.dispatched) == len(set(world.dispatched)) == 2


def test_paypal_callback_before_confirm_completes_the_payment(world, directory):
    student = directory["students"][1]["id"]
    started = _process(student, directory["courses"]["USD"]["id"])
    order = started.body["orderId"]
    world.control("POST", f"/paypal/orders/{order}/approve")
    # Captured at PayPal by another path: PayPal's notification arrives before our confirm.
    capture = httpx.post(
        f"{world.sandbox_url}/paypal/v1/oauth2/token",
        auth=("component-client", "component-secret"),
        data={"grant_type": "client_credentials"},
    ).json()["access_token"]
    httpx.post(
        f"{world.sandbox_url}/paypal/v2/checkout/orders/{order}/capture",
        json={},
        headers={"Authorization": f"Bearer {capture}"},
    )
    event = [
        e for e in world.control("GET", "/paypal/events").json() if e["event_type"] == "PAYMENT.CAPTURE.COMPLETED"
    ][-1]
    assert world.control("POST", f"/paypal/events/{event['id']}/send").json()["status"] == 200
    history = pay("GET", f"/history/{student}", student=student).body["items"]
    assert history[0]["status"] == "succeeded"
    confirmed = _capture(student, order)
    assert confirmed.status == 200 and confirmed.body["status"] == "succeeded"
    assert len(world.dispatched) == len(set(world.dispatched)) == 2


def test_forged_and_stale_callbacks_are_refused_and_change_nothing(world, directory):
    student = directory["students"][0]["id"]
    started = pay(
        "POST",
        "/stripe/initialize",
        student=student,
        key=new_key(),
        body={"courseId": directory["courses"]["USD"]["id"]},
    )
    intent = world.stripe.store.collection("payment_intents")[started.body["paymentIntentId"]]
    event = {
        "id": "evt_forged",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {**{k: v for k, v in intent.items() if not k.startswith("_")}, "status": "succeeded"}},
    }
    body = json.dumps(event).encode()
    secret = json.loads(world.stripe.ctx.secrets["StripeSecret"])["webhookSecret"]
    forged = httpx.post(
        f"{world.callbacks_url}/stripe", content=body, headers={"Stripe-Signature": sign("whsec_wrong", body)}
    )
    stale = httpx.post(
        f"{world.callbacks_url}/stripe",
        content=body,
        headers={"Stripe-Signature": sign(secret, body, int(time.time()) - 3600)},
    )
    tampered = httpx.post(
        f"{world.callbacks_url}/stripe",
        content=body.replace(b"succeeded", b"succeeded "),
        headers={"Stripe-Signature": sign(secret, body)},
    )
    unsigned = httpx.post(f"{world.callbacks_url}/stripe", content=body)
    assert [r.status_code for r in (forged, stale, tampered, unsigned)] == [400, 400, 400, 400]

    paypal_event = {"id": "WH-FORGED", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {}}
    raw = json.dumps(paypal_event).encode()
    headers = world.paypal.transmission_headers(raw)
    forged_pp = httpx.post(f"{world.callbacks_url}/paypal", content=raw.replace(b"FORGED", b"FORGES"), headers=headers)
    old = world.paypal.transmission_headers(raw, "2020-01-01T00:00:00Z")
    stale_pp = httpx.post(f"{world.callbacks_url}/paypal", content=raw, headers=old)
    assert [forged_pp.status_code, stale_pp.status_code] == [400, 400]
    assert pay("GET", f"/history/{student}", student=student).body["items"][0]["status"] == "created"
    assert world.dispatched == []


def _plan(amount: str, currency: str, interval: str = "month"):
    answer = pay(
        "POST",
        "/plans",
        role="admin",
        body={"name": f"Monthly {currency}", "amount": amount, "currency": currency, "interval": interval},
    )
    assert answer.status == 201, answer.body
    return answer.body


def test_stripe_subscription_set_up_activate_cancel(world, directory):
    student = directory["students"][0]["id"]
    plan = _plan("29.00", "EUR")
    created = pay(
        "POST",
        "/subscription",
        student=student,
        key=new_key(),
        body={"planId": plan["id"], "provider": "stripe", "paymentMethod": "pm_card_visa"},
    )
    assert created.status == 201, created.body
    assert created.body["status"] == "active"
    # The plan's Price was created once and remembered.
    again = pay(
        "POST",
        "/subscription",
        student=directory["students"][1]["id"],
        key=new_key(),
        body={"planId": plan["id"], "provider": "stripe"},
    )
    assert again.body["status"] == "pending" and again.body["clientSecret"]
    assert len(world.stripe.store.collection("prices")) == 1
    for event in world.control("GET", "/stripe/events").json():
        assert world.control("POST", f"/stripe/events/{event['id']}/send").json()["status"] == 200
    history = pay("GET", f"/history/{student}", student=student).body["items"]
    assert [(p["planId"], p["status"], p["amount"]) for p in history] == [(plan["id"], "succeeded", "29.00")]

    canceled = pay(
        "POST",
        f"/subscription/{created.body['subscriptionId']}/cancel",
        student=student,
        key=new_key(),
        body={"reason": "moving abroad"},
    )
    assert canceled.status == 200, canceled.body
    assert canceled.body["status"] == "canceled"
    assert len(world.dispatched) == len(set(world.dispatched))


def test_paypal_subscription_set_up_approve_cancel(world, directory):
    student = directory["students"][0]["id"]
    plan = _plan("3000", "JPY")
    created = pay(
        "POST", "/subscription", student=student, key=new_key(), body={"planId": plan["id"], "provider": "paypal"}
    )
    assert created.status == 201, created.body
    assert created.body["status"] == "pending" and created.body["approvalUrl"]
    provider_id = created.body["providerSubscriptionId"]
    paypal_plan = next(iter(world.paypal.store.collection("plans").values()))
    assert paypal_plan["billing_cycles"][0]["pricing_scheme"]["fixed_price"] == {
        "currency_code": "JPY",
        "value": "3000",
    }
    assert world.control("POST", f"/paypal/subscriptions/{provider_id}/approve").status_code == 200
    for event in world.control("GET", "/paypal/events").json():
        assert world.control("POST", f"/paypal/events/{event['id']}/send").json()["status"] == 200
    current = pay("GET", f"/subscription/{created.body['subscriptionId']}", student=student)
    assert current.body["status"] == "active"
    history = pay("GET", f"/history/{student}", student=student, query={"provider": "paypal"}).body["items"]
    assert [(p["amount"], p["currency"], p["status"]) for p in history] == [("3000", "JPY", "succeeded")]
    canceled = pay(
        "POST", f"/subscription/{created.body['subscriptionId']}/cancel", student=student, key=new_key(), body={}
    )
    assert canceled.body["status"] == "canceled"
    assert world.violations() == []
