"""Only status changes that really happened produce subscription events; PayPal return and cancel
URLs must be https on one of the school's origins."""

from __future__ import annotations

import pytest

from tests.component.payments.conftest import new_key, outbox_types, pay, published


def _plan(amount: str = "29.00", currency: str = "EUR") -> dict:
    answer = pay(
        "POST",
        "/plans",
        role="admin",
        body={"name": "Monthly", "amount": amount, "currency": currency, "interval": "month"},
    )
    assert answer.status == 201, answer.body
    return answer.body


# ---------------------------------------------------------------- item 2: events of changes that happened
@pytest.mark.parametrize("provider", ["stripe", "paypal"])
def test_cancelling_a_subscription_that_never_activated_publishes_only_its_cancellation(world, directory, provider):
    student = directory["students"][0]["id"]
    created = pay(
        "POST", "/subscription", student=student, key=new_key(), body={"planId": _plan()["id"], "provider": provider}
    )
    assert created.status == 201 and created.body["status"] == "pending", created.body
    subscription_id = created.body["subscriptionId"]
    canceled = pay("POST", f"/subscription/{subscription_id}/cancel", student=student, key=new_key(), body={})
    assert canceled.status == 200 and canceled.body["status"] == "canceled", canceled.body
    assert published("subscription_activated", subscription_id) is None
    assert published("subscription_canceled", subscription_id)["subscriptionId"] == subscription_id
    assert outbox_types(world.dispatched) == ["subscription_canceled"]
    # The provider's own notifications of the cancellation change nothing more.
    for event in world.control("GET", f"/{provider}/events").json():
        assert world.control("POST", f"/{provider}/events/{event['id']}/send").json()["status"] == 200
    assert outbox_types(world.dispatched) == ["subscription_canceled"]


def test_a_subscription_that_activated_publishes_both_in_order(world, directory):
    student = directory["students"][1]["id"]
    created = pay(
        "POST",
        "/subscription",
        student=student,
        key=new_key(),
        body={"planId": _plan()["id"], "provider": "stripe", "paymentMethod": "pm_card_visa"},
    )
    assert created.body["status"] == "active"
    pay("POST", f"/subscription/{created.body['subscriptionId']}/cancel", student=student, key=new_key(), body={})
    assert outbox_types(world.dispatched) == ["subscription_activated", "subscription_canceled"]


# ---------------------------------------------------------------- item 8: return URLs on the school's origins
@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("returnUrl", "http://app.school.example/payments/return"),
        ("returnUrl", "https://evil.example/return"),
        ("cancelUrl", "https://app.school.example.evil.example/cancel"),
        ("returnUrl", "https://app.school.example@evil.example/return"),
        ("returnUrl", "https://evil.example\\@app.school.example/return"),
        ("cancelUrl", "https://app.school.example:8443/cancel"),
        ("returnUrl", "javascript:alert(1)"),
        ("returnUrl", "https://app.school.example/r\u00e9turn"),
    ],
)
def test_paypal_urls_off_the_schools_origins_are_refused_before_paypal(world, directory, field, url):
    answer = pay(
        "POST",
        "/paypal/process",
        student=directory["students"][0]["id"],
        key=new_key(),
        body={"courseId": directory["courses"]["USD"]["id"], field: url},
    )
    assert answer.status == 422, answer.body
    assert [e["field"] for e in answer.body["errors"]] == [field]
    assert [r for r in world.requests("paypal") if r["path"] != "/v1/oauth2/token"] == []


def test_urls_on_the_schools_origin_reach_paypal(world, directory):
    answer = pay(
        "POST",
        "/paypal/process",
        student=directory["students"][0]["id"],
        key=new_key(),
        body={
            "courseId": directory["courses"]["USD"]["id"],
            "returnUrl": "https://APP.school.example:443/pay/done?order=1",
            "cancelUrl": "https://app.school.example/pay/cancelled",
        },
    )
    assert answer.status == 201, answer.body
    order = world.paypal.store.collection("orders")[answer.body["orderId"]]
    assert order["purchase_units"][0]["custom_id"] == answer.body["paymentId"]
    creates = [r for r in world.requests("paypal") if r["path"] == "/v2/checkout/orders"]
    assert "https://APP.school.example:443/pay/done?order=1" in creates[0]["body"]


def test_the_origins_come_from_configuration_and_subscriptions_follow_them(world, directory, monkeypatch):
    from integration_core.payment_config import payment_settings

    monkeypatch.setenv("PAYMENT_RETURN_ORIGINS", "https://shop.school.example,https://app.school.example:8443")
    payment_settings.cache_clear()
    student = directory["students"][0]["id"]
    plan = _plan()
    body = {"planId": plan["id"], "provider": "paypal"}
    refused = pay(
        "POST",
        "/subscription",
        student=student,
        key=new_key(),
        body={**body, "returnUrl": "https://app.school.example/x"},
    )
    assert refused.status == 422 and refused.body["errors"][0]["field"] == "returnUrl", refused.body
    accepted = pay(
        "POST",
        "/subscription",
        student=student,
        key=new_key(),
        body={**body, "returnUrl": "https://shop.school.example/x", "cancelUrl": "https://app.school.example:8443/c"},
    )
    assert accepted.status == 201, accepted.body
    stripe = pay(
        "POST",
        "/subscription",
        student=student,
        key=new_key(),
        body={"planId": plan["id"], "provider": "stripe", "returnUrl": "https://shop.school.example/x"},
    )
    assert stripe.status == 422 and stripe.body["errors"][0]["field"] == "returnUrl"
