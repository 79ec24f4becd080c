"""Card payments through the payments function against the Stripe emulator: initialize, confirm,
status, history, refunds, declines, idempotency and callbacks racing confirm."""

from __future__ import annotations

from tests.component.payments.conftest import new_key, pay


def _initialize(student_id: str, course_id: str, key: str | None = None, **extra):
    return pay(
        "POST", "/stripe/initialize", student=student_id, key=key or new_key(), body={"courseId": course_id, **extra}
    )


def test_card_payment_end_to_end(world, directory):
    student = directory["students"][0]["id"]
    course = directory["courses"]["USD"]
    started = _initialize(student, course["id"], amount="99.99", currency="USD")
    assert started.status == 201, started.body
    assert started.body["status"] == "created"
    assert started.body["amount"] == "99.99" and started.body["amountMinor"] == 9999
    assert started.body["clientSecret"].startswith(started.body["paymentIntentId"])

    confirmed = pay(
        "POST",
        "/confirm",
        student=student,
        key=new_key(),
        body={"transactionId": started.body["paymentIntentId"], "provider": "stripe", "paymentMethod": "pm_card_visa"},
    )
    assert confirmed.status == 200, confirmed.body
    assert confirmed.body["status"] == "succeeded"

    status = pay("GET", f"/stripe/status/{started.body['paymentIntentId']}", student=student)
    assert status.body["status"] == "succeeded"
    history = pay("GET", f"/history/{student}", student=student)
    assert [p["paymentId"] for p in history.body["items"]] == [started.body["paymentId"]]

    half = pay(
        "POST",
        "/refund",
        role="admin",
        key=new_key(),
        body={
            "transactionId": started.body["paymentIntentId"],
            "provider": "stripe",
            "amount": "50.00",
            "reason": "moved to another group",
        },
    )
    assert half.status == 201, half.body
    assert half.body["paymentStatus"] == "partially_refunded" and half.body["remainingAmount"] == "49.99"
    too_much = pay(
        "POST",
        "/refund",
        role="admin",
        key=new_key(),
        body={"transactionId": started.body["paymentIntentId"], "provider": "stripe", "amount": "50.00"},
    )
    assert too_much.status == 422, too_much.body
    rest = pay(
        "POST",
        "/refund",
        role="admin",
        key=new_key(),
        body={"transactionId": started.body["paymentId"], "provider": "stripe"},
    )
    assert rest.status == 201, rest.body
    assert rest.body["paymentStatus"] == "refunded" and rest.body["amount"] == "49.99"
    assert world.violations() == []


def _confirm(student: str, intent_id: str, method: str = "pm_card_visa"):
    return pay(
        "POST",
        "/confirm",
        student=student,
        key=new_key(),
        body={"transactionId": intent_id, "provider": "stripe", "paymentMethod": method},
    )


def _events_of(world, event_type: str) -> list[dict]:
    return [e for e in world.control("GET", "/stripe/events").json() if e["type"] == event_type]


def test_declined_and_insufficient_funds_are_402_and_recorded_as_failed(world, directory):
    student = directory["students"][0]["id"]
    course = directory["courses"]["USD"]["id"]
    for method, code in (
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_insufficientFunds", "insufficient_funds"),
    ):
        started = _initialize(student, course)
        answer = _confirm(student, started.body["paymentIntentId"], method)
        assert answer.status == 402, answer.body
        assert answer.body["declineCode"] == code
        assert answer.content_type == "application/problem+json"
    history = pay("GET", f"/history/{student}", student=student).body["items"]
    assert [p["status"] for p in history] == ["failed", "failed"]
    assert world.dispatched == []


def test_the_same_key_twice_charges_once(world, directory):
    student = directory["students"][0]["id"]
    course = directory["courses"]["USD"]["id"]
    key = new_key()
    first = _initialize(student, course, key=key, paymentMethod="pm_card_visa")
    second = _initialize(student, course, key=key, paymentMethod="pm_card_visa")
    assert first.status == second.status == 201
    assert first.body == second.body
    creates = [r for r in world.requests("stripe") if r["path"] == "/v1/payment_intents"]
    assert len(creates) == 1
    assert creates[0]["headers"]["idempotency-key"]
    other = _initialize(student, course, key=key, paymentMethod="pm_card_mastercard")
    assert other.status == 422 and "Idempotency-Key" in other.body["detail"]


def test_ten_concurrent_repeats_charge_once(world, directory):
    from concurrent.futures import ThreadPoolExecutor

    student = directory["students"][1]["id"]
    course = directory["courses"]["USD"]["id"]
    key = new_key()
    with ThreadPoolExecutor(10) as pool:
        answers = list(
            pool.map(lambda _: _initialize(student, course, key=key, paymentMethod="pm_card_visa"), range(10))
        )
    assert {a.status for a in answers} == {201}, [a.body for a in answers]
    assert len({a.body["paymentId"] for a in answers}) == 1
    charges = [r for r in world.requests("stripe") if r["path"] == "/v1/payment_intents" and r["status"] == 200]
    assert len({r["body"] for r in charges}) == 1
    assert world.dispatched.count(world.dispatched[0]) == 1  # payment_completed once
    history = pay("GET", f"/history/{student}", student=student).body["items"]
    assert len(history) == 1 and history[0]["status"] == "succeeded"


def test_idempotency_key_is_required(world, directory):
    student = directory["students"][0]["id"]
    answer = pay("POST", "/stripe/initialize", student=student, body={"courseId": directory["courses"]["USD"]["id"]})
    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == "Idempotency-Key"
    in_body = pay(
        "POST",
        "/stripe/initialize",
        student=student,
        body={"courseId": directory["courses"]["USD"]["id"], "idempotencyKey": new_key()},
    )
    assert in_body.status == 201


def test_amount_must_match_the_price_and_currency_exponents_hold(world, directory):
    student = directory["students"][0]["id"]
    usd = directory["courses"]["USD"]["id"]
    assert _initialize(student, usd, amount="99.98").status == 422
    assert _initialize(student, usd, amount="99.99", currency="EUR").status == 422
    assert _initialize(student, usd, amount="99.999").status == 422
    jpy = _initialize(student, directory["courses"]["JPY"]["id"], amount="15000", paymentMethod="pm_card_visa")
    kwd = _initialize(student, directory["courses"]["KWD"]["id"], amount="12.340", paymentMethod="pm_card_visa")
    assert (jpy.body["amountMinor"], jpy.body["amount"], jpy.body["currency"]) == (15000, "15000", "JPY")
    assert (kwd.body["amountMinor"], kwd.body["amount"], kwd.body["currency"]) == (12340, "12.340", "KWD")
    intents = {i["currency"]: i["amount"] for i in world.stripe.store.collection("payment_intents").values()}
    assert intents == {"jpy": 15000, "kwd": 12340}
    history = {p["currency"]: p["amount"] for p in pay("GET", f"/history/{student}", student=student).body["items"]}
    assert history == {"JPY": "15000", "KWD": "12.340"}


def test_a_student_cannot_read_another_students_history_or_refund(world, directory):
    first, second = (s["id"] for s in directory["students"])
    assert pay("GET", f"/history/{second}", student=first).status == 403
    assert pay("GET", f"/history/{second}", role="admin").status == 200
    started = _initialize(first, directory["courses"]["USD"]["id"], paymentMethod="pm_card_visa")
    refund = pay(
        "POST",
        "/refund",
        student=first,
        key=new_key(),
        body={"transactionId": started.body["paymentId"], "provider": "stripe"},
    )
    assert refund.status == 403
    assert pay("GET", f"/stripe/status/{started.body['paymentIntentId']}", student=second).status == 403


def test_history_pages_newest_first_and_filters_by_provider(world, directory):
    student = directory["students"][0]["id"]
    ids = [_initialize(student, directory["courses"][c]["id"]).body["paymentId"] for c in ("USD", "JPY", "KWD")]
    page = pay("GET", f"/history/{student}", student=student, query={"limit": "2"}).body
    assert [p["paymentId"] for p in page["items"]] == ids[::-1][:2]
    rest = pay("GET", f"/history/{student}", student=student, query={"limit": "2", "cursor": page["nextCursor"]})
    assert [p["paymentId"] for p in rest.body["items"]] == ids[:1]
    paypal = pay("GET", f"/history/{student}", student=student, query={"provider": "paypal"}).body
    assert paypal["items"] == []


def test_provider_500_and_timeout_are_503_with_retry_after_and_change_nothing(world, directory):
    student = directory["students"][0]["id"]
    course = directory["courses"]["USD"]["id"]
    world.control(
        "POST", "/faults", {"provider": "stripe", "status": 500, "count": 4, "pathPrefix": "/v1/payment_intents"}
    )
    failed = _initialize(student, course)
    assert failed.status == 503, failed.body
    assert int(failed.headers["Retry-After"]) > 0
    world.control("DELETE", "/faults")
    world.control("POST", "/latency", {"provider": "stripe", "ms": 2500})
    slow = _initialize(student, course)
    assert slow.status == 503 and "Retry-After" in slow.headers
    world.control("POST", "/latency", {"provider": "stripe", "ms": 0})
    assert pay("GET", f"/history/{student}", student=student).body["items"] == []


def test_confirm_and_callbacks_in_any_order_apply_once(world, directory):
    student = directory["students"][0]["id"]
    course = directory["courses"]["USD"]["id"]
    # Callback first (three times), then confirm.
    started = _initialize(student, course)
    intent = started.body["paymentIntentId"]
    world.control("POST", "/stripe/delivery", {"auto": False})
    confirm_at_stripe = world.stripe  # the buyer confirms in Stripe.js: Stripe learns first
    with confirm_at_stripe.store.lock:
        confirm_at_stripe._confirm(
            confirm_at_stripe.store.collection("payment_intents")[intent],
            confirm_at_stripe._payment_method("pm_card_visa"),
        )
    succeeded = _events_of(world, "payment_intent.succeeded")[-1]
    sends = [world.control("POST", f"/stripe/events/{succeeded['id']}/send").json()["status"] for _ in range(3)]
    assert sends == [200, 200, 200]
    again = pay(
        "POST", "/confirm", student=student, key=new_key(), body={"transactionId": intent, "provider": "stripe"}
    )
    assert again.status == 200 and again.body["status"] == "succeeded"
    completed = [e for e in world.dispatched if e.startswith("evt_")]
    assert len(completed) == len(set(completed)) == 2  # payment_completed and student_enrolled, once each

    # Confirm and the callback together.
    from concurrent.futures import ThreadPoolExecutor

    other = directory["students"][1]["id"]
    started = _initialize(other, course)
    intent = started.body["paymentIntentId"]
    confirmed = _confirm(other, intent)
    event = _events_of(world, "payment_intent.succeeded")[-1]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: world.control("POST", f"/stripe/events/{event['id']}/send").json(), range(3)))
    assert confirmed.body["status"] == "succeeded"
    assert {r["status"] for r in results} == {200}
    dispatched = [e for e in world.dispatched if e.startswith("evt_")]
    assert len(dispatched) == len(set(dispatched)) == 4
    enrolled = pay("GET", f"/history/{other}", student=other).body["items"]
    assert [p["status"] for p in enrolled] == ["succeeded"]


def test_the_stripe_emulator_checks_requests_against_the_sdk_types(world):
    import httpx

    headers = {"Authorization": "Bearer sk_test_component"}
    unknown = httpx.post(
        f"{world.sandbox_url}/stripe/v1/payment_intents",
        headers=headers,
        data={"amount": "100", "currency": "usd", "colour": "blue"},
    )
    missing = httpx.post(f"{world.sandbox_url}/stripe/v1/payment_intents", headers=headers, data={"amount": "100"})
    wrong_key = httpx.post(f"{world.sandbox_url}/stripe/v1/customers", headers={"Authorization": "Bearer sk_x"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "parameter_unknown")
    assert (missing.status_code, missing.json()["error"]["param"]) == (400, "currency")
    assert wrong_key.status_code == 401


def test_two_invocations_racing_past_the_idempotency_record_record_one_payment(world, directory, monkeypatch):
    # Two Lambda invocations with one key can both run (the first timed out while "in progress", or
    # its idempotency record expired): each writes the ledger at its own time, under its own sort key.
    from integration_core.domain.payment_models import StripeInitialize
    from integration_core.principal import Principal, Role
    from integration_core.services.payments import checkout
    from integration_core.services.payments.common import Attempt
    from integration_core.stores import payments as payments_store

    student = directory["students"][1]["id"]
    principal = Principal(student, Role.STUDENT)
    attempt = Attempt(principal, "stripe-initialize", new_key())
    data = StripeInitialize(courseId=directory["courses"]["USD"]["id"])
    stamps = iter(["2026-01-01T10:00:00.000001Z", "2026-01-01T10:00:09.000001Z"])
    monkeypatch.setattr(payments_store, "order_stamp", lambda: next(stamps))

    first = checkout.stripe_initialize(principal, data, attempt)
    second = checkout.stripe_initialize(principal, data, attempt)

    assert second.payment_id == first.payment_id
    history = pay("GET", f"/history/{student}", student=student).body["items"]
    assert [p["paymentId"] for p in history] == [first.payment_id]
