"""Each attempt's outcome is its own: a second decline reports its own code, a success clears the
failure, an absent code is null for both providers; a Stripe decline that does not name its intent is
still recorded on the intent that was confirmed; provider refusals are logged with the provider's
code and message, and nothing secret."""

from __future__ import annotations

import json
import logging

from tests.component.payments.conftest import new_key, pay


def _initialize(student: str, course: str, **extra):
    answer = pay("POST", "/stripe/initialize", student=student, key=new_key(), body={"courseId": course, **extra})
    return answer


def _confirm(student: str, intent: str, method: str):
    body = {"transactionId": intent, "provider": "stripe", "paymentMethod": method}
    return pay("POST", "/confirm", student=student, key=new_key(), body=body)


def _payment(student: str, payment_id: str) -> dict:
    items = pay("GET", f"/history/{student}", student=student).body["items"]
    return next(p for p in items if p["paymentId"] == payment_id)


def _logs(caplog) -> list[dict]:
    """What the functions logged, as the fields a log line carries (message and extra keys)."""
    standard = set(vars(logging.makeLogRecord({})))
    return [
        {"message": r.getMessage(), **{k: v for k, v in vars(r).items() if k not in standard}} for r in caplog.records
    ]


# ---------------------------------------------------------------- item 3: each attempt's own outcome
def test_each_attempt_reports_its_own_decline_and_a_success_clears_the_failure(world, directory):
    student = directory["students"][0]["id"]
    started = _initialize(student, directory["courses"]["USD"]["id"]).body
    intent, payment_id = started["paymentIntentId"], started["paymentId"]

    first = _confirm(student, intent, "pm_card_chargeDeclined")
    assert (first.status, first.body["declineCode"]) == (402, "generic_decline")
    second = _confirm(student, intent, "pm_card_insufficientFunds")
    assert (second.status, second.body["declineCode"]) == (402, "insufficient_funds"), second.body
    assert second.body["detail"] == "Your card has insufficient funds."
    failed = _payment(student, payment_id)
    assert (failed["status"], failed["failureCode"]) == ("failed", "insufficient_funds")

    paid = _confirm(student, intent, "pm_card_visa")
    assert paid.status == 200 and paid.body["status"] == "succeeded", paid.body
    assert (paid.body["failureCode"], paid.body["failureMessage"]) == (None, None)
    stored = _payment(student, payment_id)
    assert (stored["status"], stored["failureCode"], stored["failureMessage"]) == ("succeeded", None, None)


def test_initialize_with_a_card_reports_that_cards_decline(world, directory):
    student = directory["students"][1]["id"]
    course = directory["courses"]["USD"]["id"]
    declined = _initialize(student, course, paymentMethod="pm_card_insufficientFunds")
    assert (declined.status, declined.body["declineCode"]) == (402, "insufficient_funds"), declined.body
    assert _payment(student, declined.body["paymentId"])["failureCode"] == "insufficient_funds"


# ---------------------------------------------------------------- item 7: a decline without its intent
def test_a_decline_that_names_no_intent_is_recorded_on_the_confirmed_intent(world, directory, caplog):
    student = directory["students"][0]["id"]
    started = _initialize(student, directory["courses"]["USD"]["id"]).body
    intent = started["paymentIntentId"]
    # A card error whose body carries no payment_intent (as the sandbox's injected 402 answers).
    world.control(
        "POST", "/faults", {"provider": "stripe", "status": 402, "pathPrefix": f"/v1/payment_intents/{intent}"}
    )
    caplog.clear()
    answer = _confirm(student, intent, "pm_card_visa")
    assert answer.status == 402, answer.body
    assert answer.body["paymentId"] == started["paymentId"]
    assert answer.body["declineCode"] is None  # no code: null, as PayPal's absent code is
    stored = _payment(student, started["paymentId"])
    assert (stored["status"], stored["failureCode"]) == ("failed", None)
    assert stored["failureMessage"] == "Injected by the sandbox's fault control"

    refused = [line for line in _logs(caplog) if line.get("message") == "stripe refused"]
    assert refused and refused[0]["status"] == 402 and refused[0]["error_type"] == "card_error"
    assert refused[0]["provider_message"] == "Injected by the sandbox's fault control"
    assert refused[0]["request_id"].startswith("req_")

    # The next attempt goes through and is recorded on the same payment.
    assert _confirm(student, intent, "pm_card_visa").body["status"] == "succeeded"


def test_refusals_are_logged_with_the_providers_code_and_message_and_nothing_secret(world, directory, caplog):
    student = directory["students"][0]["id"]
    caplog.clear()
    unknown = _initialize(student, directory["courses"]["USD"]["id"], paymentMethod="pm_card_unknownToStripe")
    assert unknown.status == 404, unknown.body
    started = pay(
        "POST", "/paypal/process", student=student, key=new_key(), body={"courseId": directory["courses"]["JPY"]["id"]}
    ).body
    early = pay(
        "POST",
        "/confirm",
        student=student,
        key=new_key(),
        body={"transactionId": started["orderId"], "provider": "paypal"},
    )
    assert early.status == 409
    logs = _logs(caplog)
    stripe_line = next(line for line in logs if line.get("message") == "stripe refused")
    assert (stripe_line["code"], stripe_line["status"]) == ("resource_missing", 404)
    assert "No such PaymentMethod" in stripe_line["provider_message"]
    paypal_line = next(line for line in logs if line.get("message") == "paypal refused")
    assert paypal_line["status"] == 422 and paypal_line["code"] == "UNPROCESSABLE_ENTITY"
    assert paypal_line["issues"][0]["issue"] == "ORDER_NOT_APPROVED"
    assert paypal_line["issues"][0]["description"] and paypal_line["debug_id"]
    text = json.dumps(logs, default=str)
    for secret in ("sk_test_component", "component-secret", "A21AA", "_secret_", "Bearer"):
        assert secret not in text
