"""Every field of the original specification's payment DTOs (StripeInitiation, PaymentStatus,
PaymentConfirmation, Refund, PayPalTransaction, Subscription, PaymentHistory) is in the answers, in
camelCase, beside this service's own; `payment_completed` carries the provider's transactionId."""

from __future__ import annotations

from tests.component.payments.conftest import new_key, pay, published

STRIPE_INITIATION = {"paymentIntentId", "clientSecret", "amount", "currency", "status", "createdAt", "metadata"}
PAYMENT_STATUS = {
    "paymentIntentId",
    "status",
    "amount",
    "amountReceived",
    "currency",
    "lastPaymentError",
    "createdAt",
    "confirmedAt",
}
PAYMENT_CONFIRMATION = {
    "transactionId",
    "studentId",
    "courseId",
    "amount",
    "status",
    "provider",
    "confirmationDate",
    "receiptUrl",
    "studentInfo",
}
REFUND = {"refundId", "transactionId", "amount", "status", "reason", "createdAt", "completedAt", "provider"}
PAYPAL_TRANSACTION = {
    "transactionId",
    "status",
    "amount",
    "currency",
    "payerEmail",
    "payerName",
    "transactionDate",
    "itemName",
    "transactionDetails",
}
SUBSCRIPTION = {
    "subscriptionId",
    "studentId",
    "planId",
    "status",
    "amount",
    "currency",
    "billingCycle",
    "startDate",
    "nextBillingDate",
    "cancelledAt",
    "provider",
}
PAYMENT_HISTORY = {
    "transactionId",
    "studentId",
    "courseId",
    "courseName",
    "amount",
    "status",
    "provider",
    "paymentDate",
    "completedDate",
    "paymentMethod",
}


def test_card_payment_answers_carry_the_original_fields(world, directory):
    student = directory["students"][0]
    course = directory["courses"]["USD"]
    started = pay("POST", "/stripe/initialize", student=student["id"], key=new_key(), body={"courseId": course["id"]})
    assert set(started.body) >= STRIPE_INITIATION, STRIPE_INITIATION - set(started.body)
    assert started.body["metadata"] == {
        "payment_id": started.body["paymentId"],
        "student_id": student["id"],
        "course_id": course["id"],
    }
    intent = started.body["paymentIntentId"]
    before = pay("GET", f"/stripe/status/{intent}", student=student["id"]).body
    assert (before["confirmedAt"], before["amountReceived"], before["providerStatus"]) == (
        None,
        "0.00",
        "requires_payment_method",
    )

    confirmed = pay(
        "POST",
        "/confirm",
        student=student["id"],
        key=new_key(),
        body={"transactionId": intent, "provider": "stripe", "paymentMethod": "pm_card_visa"},
    ).body
    assert set(confirmed) >= PAYMENT_CONFIRMATION, PAYMENT_CONFIRMATION - set(confirmed)
    assert confirmed["transactionId"] == intent and confirmed["confirmationDate"] == confirmed["succeededAt"]
    assert confirmed["studentInfo"] == {"name": student["name"], "email": student["email"]}
    assert confirmed["receiptUrl"].startswith(world.sandbox_url) and confirmed["paymentMethod"] == "card"

    status = pay("GET", f"/stripe/status/{intent}", student=student["id"]).body
    assert set(status) >= PAYMENT_STATUS, PAYMENT_STATUS - set(status)
    assert (status["amountReceived"], status["providerStatus"], status["lastPaymentError"]) == (
        "99.99",
        "succeeded",
        None,
    )
    assert status["confirmedAt"] == confirmed["confirmationDate"]

    history = pay("GET", f"/history/{student['id']}", student=student["id"]).body["items"][0]
    assert set(history) >= PAYMENT_HISTORY, PAYMENT_HISTORY - set(history)
    assert (history["courseName"], history["paymentDate"], history["completedDate"], history["paymentMethod"]) == (
        course["title"],
        history["createdAt"],
        confirmed["confirmationDate"],
        "card",
    )

    refund = pay(
        "POST",
        "/refund",
        role="admin",
        key=new_key(),
        body={"transactionId": started.body["paymentId"], "provider": "stripe", "amount": "9.99", "reason": "late"},
    ).body
    assert set(refund) >= REFUND, REFUND - set(refund)
    assert (refund["transactionId"], refund["status"], refund["completedAt"]) == (
        intent,
        "succeeded",
        refund["createdAt"],
    )

    completed = published("payment_completed", started.body["paymentId"])
    assert completed["transactionId"] == intent and completed["paymentId"] == started.body["paymentId"]


def test_paypal_transaction_carries_the_original_fields(world, directory):
    student = directory["students"][1]["id"]
    started = pay(
        "POST", "/paypal/process", student=student, key=new_key(), body={"courseId": directory["courses"]["USD"]["id"]}
    ).body
    order = started["orderId"]
    world.control("POST", f"/paypal/orders/{order}/approve")
    captured = pay(
        "POST", "/confirm", student=student, key=new_key(), body={"transactionId": order, "provider": "paypal"}
    )
    assert captured.body["paymentMethod"] == "paypal" and captured.body["receiptUrl"] is None
    details = pay("GET", f"/paypal/transaction/{order}", student=student).body
    assert set(details) >= PAYPAL_TRANSACTION, PAYPAL_TRANSACTION - set(details)
    assert (details["transactionId"], details["payerName"], details["itemName"]) == (
        order,
        "Local Buyer",
        f"Course {directory['courses']['USD']['title']}",
    )
    assert details["transactionDate"] and details["transactionDetails"]["captures"][0]["id"] == details["captureId"]
    completed = published("payment_completed", started["paymentId"])
    assert (completed["transactionId"], completed["captureId"]) == (order, details["captureId"])


def test_subscriptions_carry_amount_cycle_start_next_billing_and_cancellation(world, directory):
    student = directory["students"][0]["id"]
    plan = pay(
        "POST",
        "/plans",
        role="admin",
        body={"name": "Monthly", "amount": "3000", "currency": "JPY", "interval": "month"},
    ).body
    for provider in ("stripe", "paypal"):
        body = {"planId": plan["id"], "provider": provider}
        if provider == "stripe":
            body["paymentMethod"] = "pm_card_visa"
        created = pay("POST", "/subscription", student=student, key=new_key(), body=body).body
        assert set(created) >= SUBSCRIPTION, SUBSCRIPTION - set(created)
        assert (created["amount"], created["currency"], created["billingCycle"]) == ("3000", "JPY", "monthly")
        subscription_id = created["subscriptionId"]
        if provider == "paypal":
            assert (created["status"], created["startDate"], created["nextBillingDate"]) == ("pending", None, None)
            world.control("POST", f"/paypal/subscriptions/{created['providerSubscriptionId']}/approve")
        current = pay("GET", f"/subscription/{subscription_id}", student=student).body
        assert current["status"] == "active" and current["startDate"], current
        assert current["nextBillingDate"] > current["startDate"]
        canceled = pay("POST", f"/subscription/{subscription_id}/cancel", student=student, key=new_key(), body={}).body
        assert canceled["cancelledAt"] and canceled["nextBillingDate"] is None
