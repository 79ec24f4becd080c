"""Card payments through the payments function against the Stripe emulator: initialize, confirm,
status, history, refunds, declines, idempotency and callbacks racing confirm."""

from __future__ import annotations

from tests.component.payments.conftest import new_key, pay


def _initialize(student_id: str, course_id: str, key: str | None = None, **extra):
    return pay("POST", "/stripe/initialize", student=student_id, key=key or new_key(),
               body={"courseId": course_id, **extra})


def test_card_payment_end_to_end(world, directory):
    student = directory["students"][0]["id"]
    course = directory["courses"]["USD"]
    started = _initialize(student, course["id"], amount="99.99", currency="USD")
    assert started.status == 201, started.body
    assert started.body["status"] == "created"
    assert started.body["amount"] == "99.99" and started.body["amountMinor"] == 9999
    assert started.body["clientSecret"].startswith(started.body["paymentIntentId"])

    confirmed = pay("POST", "/confirm", student=student, key=new_key(),
                    body={"transactionId": started.body["paymentIntentId"], "provider": "stripe",
                          "paymentMethod": "pm_card_visa"})
    assert confirmed.status == 200, confirmed.body
    assert confirmed.body["status"] == "succeeded"

    status = pay("GET", f"/stripe/status/{started.body['paymentIntentId']}", student=student)
    assert status.body["status"] == "succeeded"
    history = pay("GET", f"/history/{student}", student=student)
    assert [p["paymentId"] for p in history.body["items"]] == [started.body["paymentId"]]

    half = pay("POST", "/refund", role="admin", key=new_key(),
               body={"transactionId": started.body["paymentIntentId"], "provider": "stripe", "amount": "50.00",
                     "reason": "moved to another group"})
    assert half.status == 201, half.body
    assert half.body["paymentStatus"] == "partially_refunded" and half.body["remainingAmount"] == "49.99"
    too_much = pay("POST", "/refund", role="admin", key=new_key(),
                   body={"transactionId": started.body["paymentIntentId"], "provider": "stripe", "amount": "50.00"})
    assert too_much.status == 422, too_much.body
    rest = pay("POST", "/refund", role="admin", key=new_key(),
               body={"transactionId": started.body["paymentId"], "provider": "stripe"})
    assert rest.status == 201, rest.body
    assert rest.body["paymentStatus"] == "refunded" and rest.body["amount"] == "49.99"
    assert world.violations() == []
