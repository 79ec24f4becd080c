"""Payments end to end through the local stack: the payments API behind the authorizer, the
callback Function URL, and the Stripe and PayPal emulators in the provider sandbox, driven over
HTTP as the web app, the buyer (at the sandbox's controls) and the providers would."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from offline.sandbox.providers.stripe import sign
from tests.support.receiver import Receiver


class Client:
    """The API as one caller sees it."""

    def __init__(self, api: str, token: str) -> None:
        self.api = api
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {**self.headers, "Idempotency-Key": key or uuid.uuid4().hex}
        return httpx.post(self.api + path, json=body, headers=headers, timeout=30)

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.api + path, params=params, headers=self.headers, timeout=30)


@pytest.fixture(scope="module")
def shop(local_stack, api_base, role_tokens) -> dict[str, Any]:
    admin = Client(api_base, role_tokens["admin"])
    tag = uuid.uuid4().hex[:8]
    teacher = admin.post("/directory/teachers", {"email": f"t-{tag}@school.example", "name": "Tess"}).json()
    courses = {}
    # KWD: Stripe takes three-decimal amounts whose last digit is 0 (PayPal takes no KWD).
    for code, amount in (("USD", "120.00"), ("JPY", "15000"), ("KWD", "12.340")):
        courses[code] = admin.post(
            "/directory/courses",
            {
                "title": f"English {code}",
                "price": {"amount": amount, "currency": code},
                "timeZone": "Europe/London",
                "teacherId": teacher["id"],
            },
        ).json()["id"]
    return {"admin": admin, "courses": courses}


@pytest.fixture
def student(local_stack, api_base, shop) -> tuple[str, Client]:
    body = {"email": f"s-{uuid.uuid4().hex[:10]}@school.example", "name": "Sam"}
    created = shop["admin"].post("/directory/students", body).json()
    return created["id"], Client(api_base, local_stack.token("student", created["id"]))


@pytest.fixture
def crm(local_stack, api_base) -> Iterator[tuple[Receiver, Client, str]]:
    """The center's CRM: a webhook receiver on loopback subscribed to the payments' events."""
    client = Client(api_base, local_stack.token("service", f"svc_crm{uuid.uuid4().hex[:6]}"))
    with Receiver() as receiver:
        events = ["payment_completed", "student_enrolled"]
        hook = client.post("/webhooks", {"url": receiver.url("/crm"), "events": events})
        assert hook.status_code == 201, hook.text
        yield receiver, client, hook.json()["webhookId"]
        httpx.delete(f"{api_base}/webhooks/{hook.json()['webhookId']}", headers=client.headers, timeout=30)


def sandbox(local_stack, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, f"{local_stack.sandbox_url}{path}", json=body, timeout=30)


def published(local_stack, event_type: str, *parts: str) -> dict[str, Any] | None:
    """The outbox record of the one event a change publishes: its id is derived from what caused it
    (the payment, the refund), so a second publication could only overwrite, never add, and the
    conditional put refuses that."""
    from integration_core.ids import stable_id

    table = local_stack.state["resources"]["AppTable"]["ref"]
    key = {"PK": {"S": f"EVENT#{stable_id('event', event_type, *parts)}"}, "SK": {"S": "EVENT"}}
    item = local_stack.client("dynamodb").get_item(TableName=table, Key=key).get("Item")
    return {k: next(iter(v.values())) for k, v in item.items()} if item else None


def wait_for(predicate, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_card_payment_confirm_history_refund_half_then_rest(local_stack, shop, student, crm):
    student_id, me = student
    started = me.post("/payments/stripe/initialize", {"courseId": shop["courses"]["USD"], "amount": "120.00"})
    assert started.status_code == 201, started.text
    payment = started.json()
    assert (payment["status"], payment["amountMinor"]) == ("created", 12000)
    intent = payment["paymentIntentId"]
    assert me.get(f"/payments/stripe/status/{intent}").json()["status"] == "created"

    confirmed = me.post(
        "/payments/confirm", {"transactionId": intent, "provider": "stripe", "paymentMethod": "pm_card_visa"}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "succeeded"
    assert me.get(f"/payments/stripe/status/{intent}").json()["status"] == "succeeded"
    history = me.get(f"/payments/history/{student_id}").json()["items"]
    assert [(p["paymentId"], p["status"]) for p in history] == [(payment["paymentId"], "succeeded")]
    enrollments = me.get("/directory/enrollments", studentId=student_id).json()["items"]
    assert [e["courseId"] for e in enrollments] == [shop["courses"]["USD"]]

    admin = shop["admin"]
    half = admin.post(
        "/payments/refund",
        {"transactionId": intent, "provider": "stripe", "amount": "60.00", "reason": "requested_by_customer"},
    )
    assert half.status_code == 201, half.text
    assert me.get(f"/payments/stripe/status/{intent}").json()["status"] == "partially_refunded"
    rest = admin.post("/payments/refund", {"transactionId": intent, "provider": "stripe"})
    assert rest.json()["amount"] == "60.00" and rest.json()["paymentStatus"] == "refunded"
    assert me.get(f"/payments/stripe/status/{intent}").json()["status"] == "refunded"
    more = admin.post("/payments/refund", {"transactionId": intent, "provider": "stripe", "amount": "0.01"})
    assert more.status_code == 422

    # Confirm and Stripe's callbacks (delivered meanwhile) both saw the success: one event each.
    completed = published(local_stack, "payment_completed", payment["paymentId"])
    enrolled = published(local_stack, "student_enrolled", payment["paymentId"])
    assert completed and enrolled and json.loads(completed["data_json"])["amount"] == "120.00"
    for refund in (half.json(), rest.json()):
        assert published(local_stack, "payment_refunded", "stripe", refund["refundId"])

    # The CRM heard of it exactly once per event: one delivery each, delivered, nothing pending.
    receiver, crm_client, webhook_id = crm
    ids = {completed["event_id"]: "payment_completed", enrolled["event_id"]: "student_enrolled"}

    def settled() -> list[dict[str, Any]]:
        items = crm_client.get(f"/webhooks/{webhook_id}/deliveries").json()["items"]
        mine = [d for d in items if d["eventId"] in ids]
        return mine if len(mine) >= 2 and all(d["status"] != "pending" for d in mine) else []

    deliveries = wait_for(settled)
    assert sorted((d["eventType"], d["status"]) for d in deliveries) == [
        ("payment_completed", "succeeded"),
        ("student_enrolled", "succeeded"),
    ]
    received = [json.loads(r.body) for r in receiver.at("/crm")]
    assert sorted(e["eventType"] for e in received if e["eventId"] in ids) == sorted(ids.values())
    assert (
        next(e for e in received if e["eventId"] == completed["event_id"])["data"]["paymentId"] == payment["paymentId"]
    )


def test_paypal_process_approve_capture_details_refund(local_stack, shop, student):
    _student_id, me = student
    started = me.post("/payments/paypal/process", {"courseId": shop["courses"]["USD"], "currency": "USD"})
    assert started.status_code == 201, started.text
    order = started.json()["orderId"]
    assert started.json()["approvalUrl"]
    early = me.post("/payments/confirm", {"transactionId": order, "provider": "paypal"})
    assert early.status_code == 409, early.text
    assert sandbox(local_stack, "POST", f"/_sandbox/paypal/orders/{order}/approve").status_code == 200
    captured = me.post("/payments/confirm", {"transactionId": order, "provider": "paypal"})
    assert captured.status_code == 200 and captured.json()["status"] == "succeeded", captured.text
    details = me.get(f"/payments/paypal/transaction/{order}").json()
    assert (details["status"], details["captureStatus"], details["amount"]) == ("COMPLETED", "COMPLETED", "120.00")
    refund = shop["admin"].post("/payments/refund", {"transactionId": order, "provider": "paypal", "amount": "20.00"})
    assert refund.status_code == 201 and refund.json()["remainingAmount"] == "100.00", refund.text
    assert me.get(f"/payments/paypal/transaction/{order}").json()["refunds"][0]["amount"] == "20.00"
    violations = sandbox(local_stack, "GET", "/_sandbox/violations?provider=paypal").json()
    assert violations == []


@pytest.mark.parametrize("provider", ["stripe", "paypal"])
def test_subscriptions_set_up_activate_cancel(local_stack, shop, student, provider):
    student_id, me = student
    plan = (
        shop["admin"]
        .post(
            "/payments/plans",
            {"name": f"Monthly {provider}", "amount": "29.00", "currency": "EUR", "interval": "month"},
        )
        .json()
    )
    body = {"planId": plan["id"], "provider": provider}
    if provider == "stripe":
        body["paymentMethod"] = "pm_card_visa"
    created = me.post("/payments/subscription", body)
    assert created.status_code == 201, created.text
    subscription = created.json()
    if provider == "paypal":
        assert subscription["status"] == "pending"
        approve = f"/_sandbox/paypal/subscriptions/{subscription['providerSubscriptionId']}/approve"
        assert sandbox(local_stack, "POST", approve).status_code == 200
    assert wait_for(
        lambda: me.get(f"/payments/subscription/{subscription['subscriptionId']}").json()["status"] == "active"
    )
    # The first period's charge joins the history (from the provider's callback).
    assert wait_for(
        lambda: [p["planId"] for p in me.get(f"/payments/history/{student_id}").json()["items"]] == [plan["id"]]
    )
    canceled = me.post(f"/payments/subscription/{subscription['subscriptionId']}/cancel", {"reason": "done"})
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled", canceled.text


def test_declined_card_and_insufficient_funds(shop, student):
    _, me = student
    for method in ("pm_card_chargeDeclined", "pm_card_insufficientFunds"):
        answer = me.post("/payments/stripe/initialize", {"courseId": shop["courses"]["USD"], "paymentMethod": method})
        assert answer.status_code == 402, answer.text
        assert answer.headers["content-type"] == "application/problem+json"


def test_provider_500_and_timeout_are_retryable_problems(local_stack, shop, student):
    student_id, me = student
    fault = {"provider": "stripe", "status": 500, "count": 4, "pathPrefix": "/v1/payment_intents"}
    sandbox(local_stack, "POST", "/_sandbox/faults", fault)
    try:
        failed = me.post("/payments/stripe/initialize", {"courseId": shop["courses"]["USD"]})
    finally:
        sandbox(local_stack, "DELETE", "/_sandbox/faults")
    assert failed.status_code == 503 and int(failed.headers["Retry-After"]) > 0, failed.text
    sandbox(local_stack, "POST", "/_sandbox/latency", {"provider": "paypal", "ms": 6000})
    try:
        slow = me.post("/payments/paypal/process", {"courseId": shop["courses"]["USD"]})
    finally:
        sandbox(local_stack, "POST", "/_sandbox/latency", {"provider": "paypal", "ms": 0})
    assert slow.status_code == 503 and "Retry-After" in slow.headers, slow.text
    assert me.get(f"/payments/history/{student_id}").json()["items"] == []


def test_one_key_sent_twice_and_ten_times_at_once_charges_once(local_stack, shop, student):
    student_id, me = student
    key = uuid.uuid4().hex
    body = {"courseId": shop["courses"]["JPY"], "paymentMethod": "pm_card_visa"}
    first, second = me.post("/payments/stripe/initialize", body, key), me.post("/payments/stripe/initialize", body, key)
    assert first.json() == second.json()
    other_key = uuid.uuid4().hex
    with ThreadPoolExecutor(10) as pool:
        answers = list(
            pool.map(
                lambda _: me.post(
                    "/payments/stripe/initialize",
                    {"courseId": shop["courses"]["KWD"], "paymentMethod": "pm_card_visa"},
                    other_key,
                ),
                range(10),
            )
        )
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["paymentId"] for a in answers}) == 1
    history = me.get(f"/payments/history/{student_id}").json()["items"]
    assert sorted((p["currency"], p["amount"], p["status"]) for p in history) == [
        ("JPY", "15000", "succeeded"),
        ("KWD", "12.340", "succeeded"),
    ]
    intents = [
        i
        for i in sandbox(local_stack, "GET", "/_sandbox/stripe/state").json()["payment_intents"].values()
        if i["metadata"].get("student_id") == student_id
    ]
    assert sorted((i["currency"], i["amount"]) for i in intents) == [("jpy", 15000), ("kwd", 12340)]


def test_confirm_and_callback_together_and_three_deliveries_enroll_once(local_stack, shop, student):
    student_id, me = student
    sandbox(local_stack, "POST", "/_sandbox/stripe/delivery", {"auto": False})
    try:
        started = me.post("/payments/stripe/initialize", {"courseId": shop["courses"]["USD"]}).json()
        intent = started["paymentIntentId"]
        confirmed = me.post(
            "/payments/confirm", {"transactionId": intent, "provider": "stripe", "paymentMethod": "pm_card_visa"}
        )
        event = next(
            e
            for e in sandbox(local_stack, "GET", "/_sandbox/stripe/events").json()
            if e["type"] == "payment_intent.succeeded" and e["data"]["object"]["id"] == intent
        )
        with ThreadPoolExecutor(3) as pool:
            sends = list(
                pool.map(
                    lambda _: sandbox(local_stack, "POST", f"/_sandbox/stripe/events/{event['id']}/send").json(),
                    range(3),
                )
            )
    finally:
        sandbox(local_stack, "POST", "/_sandbox/stripe/delivery", {"auto": True})
    assert confirmed.json()["status"] == "succeeded"
    assert [s["status"] for s in sends] == [200, 200, 200]
    enrollments = me.get("/directory/enrollments", studentId=student_id).json()["items"]
    assert len(enrollments) == 1
    assert published(local_stack, "payment_completed", started["paymentId"])
    assert published(local_stack, "student_enrolled", started["paymentId"])


def test_forged_stale_and_replayed_callbacks_change_nothing(local_stack, shop, student):
    student_id, me = student
    started = me.post("/payments/stripe/initialize", {"courseId": shop["courses"]["USD"]}).json()
    url = local_stack.state["functionUrls"]["PaymentCallbacksFunction"].rstrip("/") + "/stripe"
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": started["paymentIntentId"],
                "object": "payment_intent",
                "amount": 12000,
                "currency": "usd",
                "status": "succeeded",
                "metadata": {"payment_id": started["paymentId"]},
            }
        },
    }
    raw = json.dumps(event).encode()
    forged = httpx.post(url, content=raw, headers={"Stripe-Signature": sign("whsec_attacker", raw)})
    stale = httpx.post(url, content=raw, headers={"Stripe-Signature": sign("whsec_attacker", raw, 1_600_000_000)})
    assert (forged.status_code, stale.status_code) == (400, 400)
    # A real delivery replayed later: verified, but the event was applied once already.
    done = me.post(
        "/payments/confirm",
        {"transactionId": started["paymentIntentId"], "provider": "stripe", "paymentMethod": "pm_card_visa"},
    )
    assert done.json()["status"] == "succeeded"
    delivered = wait_for(
        lambda: [
            c
            for c in sandbox(local_stack, "GET", "/_sandbox/callbacks?provider=stripe").json()
            if started["paymentIntentId"] in c["request_body"] and "payment_intent.succeeded" in c["request_body"]
        ]
    )
    replay = delivered[0]
    again = httpx.post(
        replay["url"],
        content=replay["request_body"].encode(),
        headers={"Stripe-Signature": replay["request_headers"]["Stripe-Signature"]},
    )
    assert again.status_code == 200 and again.json()["applied"] is False
    assert [p["status"] for p in me.get(f"/payments/history/{student_id}").json()["items"]] == ["succeeded"]


def test_amount_not_matching_the_price_and_other_students_history(shop, student, local_stack, api_base):
    student_id, me = student
    wrong = me.post("/payments/stripe/initialize", {"courseId": shop["courses"]["USD"], "amount": "119.99"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "amount"
    cents = me.post("/payments/paypal/process", {"courseId": shop["courses"]["JPY"], "amount": "15000.5"})
    assert cents.status_code == 422
    intruder = Client(api_base, local_stack.token("student", "stu_intruder0000"))
    assert intruder.get(f"/payments/history/{student_id}").status_code == 403
    assert shop["admin"].get(f"/payments/history/{student_id}").status_code == 200


def test_one_course_is_paid_once_and_a_full_refund_ends_the_enrollment(local_stack, shop, student):
    student_id, me = student
    course = shop["courses"]["USD"]
    first = me.post("/payments/stripe/initialize", {"courseId": course}).json()
    stale = me.post("/payments/stripe/initialize", {"courseId": course}).json()
    card = {"provider": "stripe", "paymentMethod": "pm_card_visa"}
    paid = me.post("/payments/confirm", {"transactionId": first["paymentIntentId"], **card})
    assert paid.status_code == 200 and paid.json()["status"] == "succeeded", paid.text
    refused = me.post("/payments/confirm", {"transactionId": stale["paymentIntentId"], **card})
    assert refused.status_code == 409 and refused.json()["earlierPaymentId"] == first["paymentId"], refused.text
    intents = sandbox(local_stack, "GET", "/_sandbox/stripe/state").json()["payment_intents"]
    assert intents[stale["paymentIntentId"]]["status"] == "canceled"

    full = shop["admin"].post("/payments/refund", {"transactionId": first["paymentId"], "provider": "stripe"})
    assert full.status_code == 201 and full.json()["paymentStatus"] == "refunded", full.text
    # The directory ends the enrollment when payment_refunded reaches it over the bus (asynchronously).
    assert wait_for(lambda: me.get("/directory/enrollments", studentId=student_id).json()["items"] == [])
    unenrolled = wait_for(lambda: published(local_stack, "student_unenrolled", first["paymentId"]))
    assert unenrolled and json.loads(unenrolled["data_json"])["reason"] == "refunded"


def _queue_empty(local_stack, logical_id: str) -> bool:
    sqs = local_stack.client("sqs")
    url = local_stack.state["resources"][logical_id]["ref"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_full_refund_reaches_the_directory_over_the_bus_and_a_receiver_hears_of_it_once(
    local_stack, api_base, shop, student
):
    student_id, me = student
    course = shop["courses"]["JPY"]
    lms = Client(api_base, local_stack.token("service", f"svc_lms{uuid.uuid4().hex[:6]}"))
    with Receiver() as receiver:
        hook = lms.post("/webhooks", {"url": receiver.url("/lms"), "events": ["student_unenrolled"]})
        assert hook.status_code == 201, hook.text
        started = me.post("/payments/stripe/initialize", {"courseId": course}).json()
        card = {"provider": "stripe", "paymentMethod": "pm_card_visa"}
        assert me.post("/payments/confirm", {"transactionId": started["paymentIntentId"], **card}).status_code == 200
        half = shop["admin"].post(
            "/payments/refund", {"transactionId": started["paymentId"], "provider": "stripe", "amount": "7500"}
        )
        assert half.status_code == 201 and half.json()["paymentStatus"] == "partially_refunded", half.text
        rest = shop["admin"].post("/payments/refund", {"transactionId": started["paymentId"], "provider": "stripe"})
        assert rest.status_code == 201 and rest.json()["paymentStatus"] == "refunded", rest.text

        [heard] = receiver.wait_for("/lms", 1, timeout=30)
        body = json.loads(heard.body)
        assert body["eventType"] == "student_unenrolled"
        assert (body["data"]["reason"], body["data"]["paymentId"], body["data"]["courseId"]) == (
            "refunded",
            started["paymentId"],
            course,
        )
        assert me.get("/directory/enrollments", studentId=student_id).json()["items"] == []
        # Both refund events were handled (none waits or is retried) and nothing was dead-lettered:
        # the receiver heard of the unenrollment once, and only once.
        assert wait_for(lambda: _queue_empty(local_stack, "DirectoryEventsQueue"), 30)
        assert _queue_empty(local_stack, "DirectoryEventsDeadLetterQueue")
        assert len(receiver.at("/lms")) == 1
        httpx.delete(f"{api_base}/webhooks/{hook.json()['webhookId']}", headers=lms.headers, timeout=30)
