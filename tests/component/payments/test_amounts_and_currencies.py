"""One form for every amount a caller sends, and each provider's own currency rules, refused before
any call to the provider; the directory says which providers can sell a course."""

from __future__ import annotations

import pytest

from tests.component.payments.conftest import new_key, pay
from tests.support.lambdas import api_event, invoke

ADMIN = ("adm_office", "admin")  # an admin token's sub carries the adm_ prefix


def _course(directory, amount: str, currency: str):
    return invoke(
        "directory",
        api_event(
            "POST",
            "/directory/courses",
            caller=ADMIN,
            body={
                "title": f"Priced {amount} {currency}",
                "price": {"amount": amount, "currency": currency},
                "timeZone": "UTC",
                "teacherId": directory["teacher"]["id"],
            },
        ),
    )


def _courses() -> list[dict]:
    return invoke("directory", api_event("GET", "/directory/courses", caller=ADMIN, query={"limit": "100"})).body[
        "items"
    ]


def _provider_calls(world) -> list[dict]:
    return [r for r in world.requests("stripe") + world.requests("paypal") if r["path"] != "/v1/oauth2/token"]


# ---------------------------------------------------------------- item 6: one money parser
@pytest.mark.parametrize("amount", [" 10 ", "\u0661\u0660", 10, 10.0, "1E-2", "1e3", "-10", "10.001"])
def test_refunds_take_only_the_documented_amount_form_and_refund_nothing_else(world, directory, amount):
    student = directory["students"][0]["id"]
    started = pay(
        "POST",
        "/stripe/initialize",
        student=student,
        key=new_key(),
        body={"courseId": directory["courses"]["USD"]["id"], "paymentMethod": "pm_card_visa"},
    )
    assert started.body["status"] == "succeeded", started.body
    answer = pay(
        "POST",
        "/refund",
        role="admin",
        key=new_key(),
        body={"transactionId": started.body["paymentId"], "provider": "stripe", "amount": amount},
    )
    assert answer.status == 422, answer.body
    assert [e["field"] for e in answer.body["errors"]] == ["amount"]
    assert world.stripe.store.collection("refunds") == {}
    history = pay("GET", f"/history/{student}", student=student).body["items"]
    assert (history[0]["status"], history[0]["refundedAmount"]) == ("succeeded", "0.00")


@pytest.mark.parametrize(
    "amount", ["1e3", "1E3", 1000, 1e40, "1e40", "1e30", " 100", "100000000.00", "\uff11\uff10\uff10", "-5", "NaN"]
)
def test_course_prices_take_only_the_documented_form_within_the_bound(world, directory, amount):
    before = _courses()
    answer = _course(directory, amount, "USD")
    assert answer.status == 422, answer.body
    assert answer.content_type == "application/problem+json"
    assert "price.amount" in [e["field"] for e in answer.body["errors"]]
    assert _courses() == before


def test_the_bound_is_named_and_the_largest_price_is_kept_exactly(world, directory):
    too_big = _course(directory, "1000000.00", "USD")
    assert too_big.status == 422 and "at most 999999.99 USD" in too_big.body["detail"]
    largest = _course(directory, "999999.99", "USD")
    assert largest.status == 201, largest.body
    assert largest.body["price"] == {"amount": "999999.99", "currency": "USD", "amountMinor": 99999999}


@pytest.mark.parametrize("amount", ["1e3", 29, "29.001", " 29.00", "0"])
def test_plans_take_only_the_documented_form(world, amount):
    answer = pay(
        "POST",
        "/plans",
        role="admin",
        body={"name": "Monthly", "amount": amount, "currency": "EUR", "interval": "month"},
    )
    assert answer.status == 422, answer.body
    assert [e["field"] for e in answer.body["errors"]] == ["amount"]
    assert pay("GET", "/plans", role="admin").body["items"] == []


@pytest.mark.parametrize("amount", ["1e3", 99.99, " 99.99", "99.990"])
def test_initialize_takes_the_same_form(world, directory, amount):
    answer = pay(
        "POST",
        "/stripe/initialize",
        student=directory["students"][0]["id"],
        key=new_key(),
        body={"courseId": directory["courses"]["USD"]["id"], "amount": amount},
    )
    assert answer.status == 422 and answer.body["errors"][0]["field"] == "amount", answer.body
    assert _provider_calls(world) == []


# ---------------------------------------------------------------- item 5: each provider's currency rules
def test_the_directory_says_which_providers_can_sell_a_course(world, directory):
    courses = directory["courses"]
    assert courses["USD"]["providers"] == ["stripe", "paypal"]
    assert courses["KWD"]["providers"] == ["stripe"]  # PayPal takes no KWD
    assert courses["HUF"]["providers"] == ["stripe", "paypal"]
    assert _course(directory, "12.345", "KWD").body["providers"] == []  # Stripe's 3-decimal amounts end in 0
    assert _course(directory, "4500.50", "HUF").body["providers"] == ["stripe"]  # PayPal: HUF has no decimals
    read = invoke("directory", api_event("GET", f"/directory/courses/{courses['KWD']['id']}", caller=ADMIN))
    assert read.body["providers"] == ["stripe"]


def test_paypal_refuses_kwd_and_decimal_huf_before_any_call(world, directory):
    student = directory["students"][0]["id"]
    decimal_huf = _course(directory, "4500.50", "HUF").body["id"]
    for course, reason in ((directory["courses"]["KWD"]["id"], "PayPal does not take KWD"), (decimal_huf, "HUF")):
        answer = pay("POST", "/paypal/process", student=student, key=new_key(), body={"courseId": course})
        assert answer.status == 422, answer.body
        assert answer.body["errors"][0]["field"] == "courseId" and reason in answer.body["detail"]
        assert "stripe" in answer.body["detail"]  # what the student can pay with instead
    assert _provider_calls(world) == []
    # Stripe takes both.
    for course in (directory["courses"]["KWD"]["id"], decimal_huf):
        answer = pay("POST", "/stripe/initialize", student=student, key=new_key(), body={"courseId": course})
        assert answer.status == 201, answer.body


def test_stripe_refuses_three_decimal_amounts_not_ending_in_zero_before_any_call(world, directory):
    course = _course(directory, "12.345", "KWD").body["id"]
    answer = pay(
        "POST", "/stripe/initialize", student=directory["students"][0]["id"], key=new_key(), body={"courseId": course}
    )
    assert answer.status == 422, answer.body
    assert "last decimal is 0" in answer.body["detail"] and "no provider" in answer.body["detail"]
    assert _provider_calls(world) == []


def test_stripe_amounts_go_in_stripes_unit_for_isk_and_come_back_as_ours(world, directory):
    course = _course(directory, "5000", "ISK").body
    assert course["providers"] == ["stripe"]
    student = directory["students"][0]["id"]
    started = pay(
        "POST",
        "/stripe/initialize",
        student=student,
        key=new_key(),
        body={"courseId": course["id"], "paymentMethod": "pm_card_visa"},
    )
    assert started.status == 201, started.body
    intent = world.stripe.store.collection("payment_intents")[started.body["paymentIntentId"]]
    assert (intent["amount"], intent["currency"]) == (500000, "isk")  # two-decimal at Stripe: 5000.00
    assert (started.body["amount"], started.body["amountMinor"], started.body["status"]) == ("5000", 5000, "succeeded")
    refund = pay(
        "POST",
        "/refund",
        role="admin",
        key=new_key(),
        body={"transactionId": started.body["paymentId"], "provider": "stripe", "amount": "1000"},
    )
    assert refund.status == 201, refund.body
    assert refund.body["amount"] == "1000" and refund.body["remainingAmount"] == "4000"
    assert [r["amount"] for r in world.stripe.store.collection("refunds").values()] == [100000]


def test_paypal_partial_refunds_follow_paypals_places_too(world, directory):
    student = directory["students"][1]["id"]
    started = pay(
        "POST", "/paypal/process", student=student, key=new_key(), body={"courseId": directory["courses"]["HUF"]["id"]}
    )
    order = started.body["orderId"]
    world.control("POST", f"/paypal/orders/{order}/approve")
    captured = pay(
        "POST", "/confirm", student=student, key=new_key(), body={"transactionId": order, "provider": "paypal"}
    )
    assert captured.body["status"] == "succeeded", captured.body
    refused = pay(
        "POST",
        "/refund",
        role="admin",
        key=new_key(),
        body={"transactionId": order, "provider": "paypal", "amount": "10.50"},
    )
    assert refused.status == 422 and refused.body["errors"][0]["field"] == "amount", refused.body
    assert world.paypal.store.collection("refunds") == {}
    done = pay(
        "POST",
        "/refund",
        role="admin",
        key=new_key(),
        body={"transactionId": order, "provider": "paypal", "amount": "500"},
    )
    assert done.status == 201, done.body
    assert [r["amount"]["value"] for r in world.paypal.store.collection("refunds").values()] == ["500"]
    assert world.violations() == []


def test_a_plan_paypal_cannot_take_is_refused_for_paypal_and_sold_by_stripe(world, directory):
    plan = pay(
        "POST",
        "/plans",
        role="admin",
        body={"name": "KWD monthly", "amount": "5.250", "currency": "KWD", "interval": "month"},
    ).body
    assert plan["providers"] == ["stripe"]
    student = directory["students"][0]["id"]
    refused = pay(
        "POST", "/subscription", student=student, key=new_key(), body={"planId": plan["id"], "provider": "paypal"}
    )
    assert refused.status == 422 and refused.body["errors"][0]["field"] == "planId", refused.body
    assert [r for r in world.requests("paypal") if r["path"] != "/v1/oauth2/token"] == []
    sold = pay(
        "POST",
        "/subscription",
        student=student,
        key=new_key(),
        body={"planId": plan["id"], "provider": "stripe", "paymentMethod": "pm_card_visa"},
    )
    assert sold.status == 201 and sold.body["status"] == "active", sold.body


def test_the_paypal_emulator_refuses_what_paypal_refuses(world):
    import httpx

    token = httpx.post(
        f"{world.sandbox_url}/paypal/v1/oauth2/token",
        auth=("component-client", "component-secret"),
        data={"grant_type": "client_credentials"},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for amount, issue in (
        ({"currency_code": "KWD", "value": "1.000"}, "INVALID_CURRENCY_CODE"),
        (
            {"currency_code": "HUF", "value": "10.50"},
            "DECIMAL_PRECISION",
        ),
    ):
        answer = httpx.post(
            f"{world.sandbox_url}/paypal/v2/checkout/orders",
            headers=headers,
            json={"intent": "CAPTURE", "purchase_units": [{"amount": amount}]},
        )
        assert answer.status_code == 422 and answer.json()["details"][0]["issue"] == issue, answer.text
