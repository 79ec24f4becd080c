"""A student never pays twice for one course, and a full refund ends the enrollment it paid for:
through the payments and callback functions against the Stripe and PayPal emulators."""

from __future__ import annotations

import httpx

from tests.component.payments.conftest import (
    confirm_at_stripe,
    enrollments_of,
    new_key,
    outbox_types,
    pay,
    published,
)


def _initialize(student: str, course: str):
    answer = pay("POST", "/stripe/initialize", student=student, key=new_key(), body={"courseId": course})
    assert answer.status == 201, answer.body
    return answer.body


def _confirm(student: str, transaction_id: str, provider: str = "stripe", method: str | None = "pm_card_visa"):
    body = {"transactionId": transaction_id, "provider": provider}
    if method and provider == "stripe":
        body["paymentMethod"] = method
    return pay("POST", "/confirm", student=student, key=new_key(), body=body)


def _history(student: str) -> dict[str, dict]:
    return {p["paymentId"]: p for p in pay("GET", f"/history/{student}", student=student).body["items"]}


def _refund(transaction_id: str, provider: str, amount: str | None = None):
    body = {"transactionId": transaction_id, "provider": provider, **({"amount": amount} if amount else {})}
    return pay("POST", "/refund", role="admin", key=new_key(), body=body)


# ---------------------------------------------------------------- item 1: no double charge
def test_a_stale_intent_cannot_be_confirmed_once_another_payment_enrolled_the_student(world, directory):
    student = directory["students"][0]["id"]
    course = directory["courses"]["USD"]["id"]
    first, stale = _initialize(student, course), _initialize(student, course)
    assert _confirm(student, first["paymentIntentId"]).body["status"] == "succeeded"

    refused = _confirm(student, stale["paymentIntentId"])
    assert refused.status == 409, refused.body
    assert refused.body["earlierPaymentId"] == first["paymentId"]
    assert first["paymentId"] in refused.body["detail"]
    # The stale intent is cancelled at Stripe, so Stripe.js cannot charge it either; nothing was charged.
    intent = world.stripe.store.collection("payment_intents")[stale["paymentIntentId"]]
    assert intent["status"] == "canceled" and intent["amount_received"] == 0
    history = _history(student)
    assert (history[first["paymentId"]]["status"], history[stale["paymentId"]]["status"]) == ("succeeded", "canceled")
    assert outbox_types(world.dispatched).count("payment_completed") == 1


def test_a_second_success_by_callback_is_refunded_once_with_its_reason(world, directory):
    student = directory["students"][1]["id"]
    course = directory["courses"]["USD"]["id"]
    first, second = _initialize(student, course), _initialize(student, course)
    assert _confirm(student, first["paymentIntentId"]).body["status"] == "succeeded"
    # The buyer had a second tab open: Stripe.js charged the second intent anyway.
    event = confirm_at_stripe(world, second["paymentIntentId"])
    sends = [world.control("POST", f"/stripe/events/{event['id']}/send").json()["status"] for _ in range(3)]
    assert sends == [200, 200, 200]

    refunds = [
        r
        for r in world.stripe.store.collection("refunds").values()
        if r["payment_intent"] == event["data"]["object"]["id"]
    ]
    assert [(r["amount"], r["reason"]) for r in refunds] == [(9999, "duplicate")]
    payment = _history(student)[second["paymentId"]]
    assert (payment["status"], payment["refundedAmount"], payment["duplicateOf"]) == (
        "refunded",
        "99.99",
        first["paymentId"],
    )
    refunded = published("payment_refunded", "stripe", refunds[0]["id"])
    assert refunded["paymentId"] == second["paymentId"] and "duplicate" in refunded["reason"]
    assert first["paymentId"] in refunded["reason"]
    # Still enrolled, by the first payment; the duplicate ended nothing and enrolled nothing.
    assert [(e["courseId"], e["paymentId"]) for e in enrollments_of(student)] == [(course, first["paymentId"])]
    assert published("student_enrolled", second["paymentId"]) is None
    assert published("student_unenrolled", second["paymentId"]) is None
    # A confirm of the duplicate says what happened.
    again = _confirm(student, second["paymentIntentId"])
    assert again.status == 409 and again.body["earlierPaymentId"] == first["paymentId"]


def test_a_refund_that_fails_at_the_provider_is_retried_with_the_callback(world, directory):
    student = directory["students"][0]["id"]
    course = directory["courses"]["JPY"]["id"]
    first, second = _initialize(student, course), _initialize(student, course)
    assert _confirm(student, first["paymentIntentId"]).body["status"] == "succeeded"
    event = confirm_at_stripe(world, second["paymentIntentId"])
    world.control("POST", "/faults", {"provider": "stripe", "status": 500, "count": 2, "pathPrefix": "/v1/refunds"})
    failed = world.control("POST", f"/stripe/events/{event['id']}/send").json()
    assert failed["status"] == 503  # the provider delivers it again later
    assert _history(student)[second["paymentId"]]["status"] == "succeeded"
    retried = world.control("POST", f"/stripe/events/{event['id']}/send").json()
    assert retried["status"] == 200
    assert _history(student)[second["paymentId"]]["status"] == "refunded"
    assert len(world.stripe.store.collection("refunds")) == 1


def test_paypal_a_stale_order_is_refused_and_a_second_capture_refunded(world, directory):
    student = directory["students"][0]["id"]
    course = directory["courses"]["USD"]["id"]
    orders = []
    for _ in range(3):
        started = pay("POST", "/paypal/process", student=student, key=new_key(), body={"courseId": course})
        assert started.status == 201, started.body
        orders.append(started.body)
        world.control("POST", f"/paypal/orders/{started.body['orderId']}/approve")
    first, stale, captured_elsewhere = orders
    assert _confirm(student, first["orderId"], "paypal").body["status"] == "succeeded"

    refused = _confirm(student, stale["orderId"], "paypal")
    assert refused.status == 409 and refused.body["earlierPaymentId"] == first["paymentId"], refused.body
    assert world.paypal.store.collection("orders")[stale["orderId"]]["status"] == "APPROVED"  # never captured
    assert _history(student)[stale["paymentId"]]["status"] == "canceled"

    # The third order is captured at PayPal by another path; its notification arrives.
    token = httpx.post(
        f"{world.sandbox_url}/paypal/v1/oauth2/token",
        auth=("component-client", "component-secret"),
        data={"grant_type": "client_credentials"},
    ).json()["access_token"]
    httpx.post(
        f"{world.sandbox_url}/paypal/v2/checkout/orders/{captured_elsewhere['orderId']}/capture",
        json={},
        headers={"Authorization": f"Bearer {token}", "PayPal-Request-Id": new_key()},
    )
    event = [
        e for e in world.control("GET", "/paypal/events").json() if e["event_type"] == "PAYMENT.CAPTURE.COMPLETED"
    ][-1]
    for _ in range(2):
        assert world.control("POST", f"/paypal/events/{event['id']}/send").json()["status"] == 200
    refunds = list(world.paypal.store.collection("refunds").values())
    assert [r["amount"] for r in refunds] == [{"currency_code": "USD", "value": "99.99"}]
    assert _history(student)[captured_elsewhere["paymentId"]]["status"] == "refunded"
    assert [e["paymentId"] for e in enrollments_of(student)] == [first["paymentId"]]


# ---------------------------------------------------------------- item 4: a full refund ends the enrollment
def test_a_full_refund_ends_the_enrollment_it_paid_for_and_a_partial_one_does_not(world, directory):
    student = directory["students"][0]["id"]
    course = directory["courses"]["USD"]["id"]
    started = _initialize(student, course)
    intent = started["paymentIntentId"]
    assert _confirm(student, intent).body["status"] == "succeeded"
    assert [e["paymentId"] for e in enrollments_of(student)] == [started["paymentId"]]

    assert _refund(intent, "stripe", "50.00").status == 201
    assert len(enrollments_of(student)) == 1  # a partial refund leaves the student enrolled
    assert published("student_unenrolled", started["paymentId"]) is None

    rest = _refund(intent, "stripe")
    assert rest.status == 201 and rest.body["paymentStatus"] == "refunded", rest.body
    assert enrollments_of(student) == []
    unenrolled = published("student_unenrolled", started["paymentId"])
    assert unenrolled is not None
    assert (unenrolled["reason"], unenrolled["paymentId"], unenrolled["courseId"], unenrolled["studentId"]) == (
        "refunded",
        started["paymentId"],
        course,
        student,
    )
    assert "student_unenrolled" in outbox_types(world.dispatched)
    # The course lists the student no more; the student may buy it again.
    assert _initialize(student, course)["status"] == "created"


def test_a_full_refund_made_at_the_provider_ends_the_enrollment_too(world, directory):
    student = directory["students"][1]["id"]
    course = directory["courses"]["JPY"]["id"]
    started = _initialize(student, course)
    assert _confirm(student, started["paymentIntentId"]).body["status"] == "succeeded"
    # Refunded in Stripe's dashboard: only charge.refunded tells us.
    headers = {"Authorization": "Bearer sk_test_component"}
    made = httpx.post(
        f"{world.sandbox_url}/stripe/v1/refunds", headers=headers, data={"payment_intent": started["paymentIntentId"]}
    )
    assert made.status_code == 200, made.text
    event = [e for e in world.control("GET", "/stripe/events").json() if e["type"] == "charge.refunded"][-1]
    assert world.control("POST", f"/stripe/events/{event['id']}/send").json()["status"] == 200
    assert enrollments_of(student) == []
    assert published("student_unenrolled", started["paymentId"])["reason"] == "refunded"


def test_schools_that_keep_the_enrollment_after_a_full_refund_set_the_parameter(world, directory, monkeypatch):
    from integration_core.payment_config import payment_settings

    monkeypatch.setenv("FULL_REFUND_ENDS_ENROLLMENT", "false")
    payment_settings.cache_clear()
    student = directory["students"][0]["id"]
    started = _initialize(student, directory["courses"]["USD"]["id"])
    assert _confirm(student, started["paymentIntentId"]).body["status"] == "succeeded"
    assert _refund(started["paymentIntentId"], "stripe").body["paymentStatus"] == "refunded"
    assert len(enrollments_of(student)) == 1
    assert published("student_unenrolled", started["paymentId"]) is None


def test_a_full_refund_leaves_an_enrollment_an_admin_made(world, directory):
    student = directory["students"][1]["id"]
    course = directory["courses"]["USD"]["id"]
    started = _initialize(student, course)
    event = confirm_at_stripe(world, started["paymentIntentId"])
    from tests.support.lambdas import api_event, invoke

    enrolled = invoke(
        "directory",
        api_event(
            "POST",
            "/directory/enrollments",
            caller=("adm_office", "admin"),
            body={"courseId": course, "studentId": student},
        ),
    )
    assert enrolled.status == 201, enrolled.body
    assert world.control("POST", f"/stripe/events/{event['id']}/send").json()["status"] == 200
    assert _refund(started["paymentIntentId"], "stripe").body["paymentStatus"] == "refunded"
    assert [e["source"] for e in enrollments_of(student)] == ["admin"]
