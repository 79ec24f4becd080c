"""Pure payment rules: statuses only move forward, refunds decide the final status, provider
objects map onto the ledger's vocabulary, prices are checked exactly, and provider keys are scoped."""

from __future__ import annotations

import pytest

from integration_core.adapters import paypal_api, stripe_api
from integration_core.domain.payments import RANK, PaymentStatus, moves_forward, refund_status
from integration_core.errors import Unprocessable
from integration_core.money import Money
from integration_core.principal import Principal
from integration_core.services.payments.common import Attempt
from integration_core.services.payments.common import price_check as _price_check
from integration_core.tokens import Role
from offline.sandbox.providers.stripe import parse_form

S = PaymentStatus


@pytest.mark.parametrize(
    ("current", "new", "forward"),
    [
        (S.CREATED, S.REQUIRES_ACTION, True),
        (S.APPROVED, S.SUCCEEDED, True),
        (S.FAILED, S.SUCCEEDED, True),  # money actually taken wins over an earlier decline
        (S.SUCCEEDED, S.FAILED, False),
        (S.SUCCEEDED, S.CREATED, False),
        (S.REFUNDED, S.SUCCEEDED, False),
        (S.PARTIALLY_REFUNDED, S.REFUNDED, True),
        (S.SUCCEEDED, S.SUCCEEDED, False),
    ],
)
def test_statuses_only_move_forward(current, new, forward):
    assert moves_forward(current, new) is forward


def test_every_status_has_a_rank():
    assert set(RANK) == set(PaymentStatus)


def test_refund_status_depends_on_what_is_left():
    assert refund_status(9999, 5000) is S.PARTIALLY_REFUNDED
    assert refund_status(9999, 9999) is S.REFUNDED


def test_the_client_amount_must_equal_the_price_exactly():
    price = Money(9999, "USD")
    _price_check(price, "99.99", "USD")
    _price_check(price, None, None)
    for amount, currency in (("99.98", None), ("99.990", "EUR"), ("99.999", None)):
        with pytest.raises(Unprocessable):
            _price_check(price, amount, currency)
    _price_check(Money(15000, "JPY"), "15000", "JPY")
    with pytest.raises(Unprocessable):
        _price_check(Money(15000, "JPY"), "150.00", "JPY")  # JPY is not multiplied by 100


def test_provider_keys_are_scoped_to_caller_and_operation_and_fit_paypal():
    alice, bob = Principal("stu_alice", Role.STUDENT), Principal("stu_bob0", Role.STUDENT)
    keys = {Attempt(p, op, "same-key-123").provider_key for p in (alice, bob) for op in ("confirm", "refund")}
    assert len(keys) == 4
    assert all(len(k) <= 108 for k in keys)
    assert Attempt(alice, "confirm", "k" * 255).stable("payment") == Attempt(alice, "confirm", "k" * 255).stable(
        "payment"
    )


def test_stripe_intents_map_onto_the_ledger():
    base = {"id": "pi_1", "amount": 1000, "currency": "jpy", "metadata": {"payment_id": "pay_x"}, "client_secret": "s"}
    assert stripe_api.intent_payment({**base, "status": "succeeded"}).status is S.SUCCEEDED
    declined = stripe_api.intent_payment(
        {
            **base,
            "status": "requires_payment_method",
            "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"},
        }
    )
    assert (declined.status, declined.failure_code, declined.currency) == (S.FAILED, "insufficient_funds", "JPY")
    assert stripe_api.intent_payment({**base, "status": "succeeded"}).client_secret is None
    assert stripe_api.intent_payment({**base, "status": "requires_payment_method"}).reference == "pay_x"


def test_paypal_orders_map_onto_the_ledger_with_exponents():
    order = {
        "id": "O1",
        "status": "APPROVED",
        "purchase_units": [{"custom_id": "pay_y", "amount": {"currency_code": "KWD", "value": "12.345"}}],
        "links": [{"rel": "payer-action", "href": "https://paypal/approve"}],
    }
    mapped = paypal_api.order_payment(order)
    assert (mapped.status, mapped.amount_minor, mapped.reference) == (S.APPROVED, 12345, "pay_y")
    order["status"] = "COMPLETED"
    order["purchase_units"][0]["payments"] = {"captures": [{"id": "C1", "status": "DECLINED"}]}
    assert paypal_api.order_payment(order).status is S.FAILED


def test_stripe_form_encoding_is_parsed_like_stripe():
    body = (
        b"amount=1000&metadata[payment_id]=pay_1&items[0][price]=price_1&expand[0]=latest_invoice.confirmation_secret"
    )
    assert parse_form(body) == {
        "amount": "1000",
        "metadata": {"payment_id": "pay_1"},
        "items": [{"price": "price_1"}],
        "expand": ["latest_invoice.confirmation_secret"],
    }
