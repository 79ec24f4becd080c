"""Each provider's currency rules, beyond ISO 4217: what it takes, in how many decimals, and in
which integer unit (Stripe)."""

from __future__ import annotations

import pytest

from integration_core.domain.currency_rules import PAYPAL_RULES, STRIPE_RULES, providers_for, refusal
from integration_core.money import Money, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "providers"),
    [
        ("99.99", "USD", ["stripe", "paypal"]),
        ("15000", "JPY", ["stripe", "paypal"]),
        ("4500", "HUF", ["stripe", "paypal"]),
        ("4500.50", "HUF", ["stripe"]),  # PayPal takes HUF without decimals
        ("10.50", "TWD", ["stripe"]),
        ("12.340", "KWD", ["stripe"]),  # PayPal takes no KWD
        ("12.345", "KWD", []),  # and Stripe's three-decimal amounts end in 0
        ("5000", "ISK", ["stripe"]),
        ("100", "MGA", ["stripe"]),
        ("100.50", "MGA", []),  # zero-decimal at Stripe, two places in ISO 4217
        ("0", "USD", []),  # nothing to pay
    ],
)
def test_which_providers_can_take_a_price(text, currency, providers):
    assert providers_for(parse_amount(text, currency, allow_zero=True)) == providers


def test_refusals_say_why():
    assert refusal("paypal", Money(12340, "KWD")) == "PayPal does not take KWD"
    assert "whole amounts of HUF" in refusal("paypal", Money(450050, "HUF"))
    assert "last decimal is 0" in refusal("stripe", Money(12345, "KWD"))
    assert refusal("stripe", Money(9999, "USD")) is None


@pytest.mark.parametrize(
    ("money", "stripe_amount"),
    [
        (Money(9999, "USD"), 9999),
        (Money(15000, "JPY"), 15000),
        (Money(12340, "KWD"), 12340),
        (Money(5000, "ISK"), 500000),  # ISK: a two-decimal integer, whole kronur only
        (Money(10000, "MGA"), 100),  # MGA: zero-decimal at Stripe
    ],
)
def test_stripe_amounts_are_in_stripes_own_integer_unit_both_ways(money, stripe_amount):
    assert STRIPE_RULES.to_integer(money) == stripe_amount
    assert STRIPE_RULES.from_integer(stripe_amount, money.currency) == money


def test_stripe_takes_at_most_eight_digits_in_its_unit():
    assert STRIPE_RULES.refusal(Money(999_999, "ISK")) is None
    assert "at most 999999 ISK" in STRIPE_RULES.refusal(Money(1_000_000, "ISK"))


@pytest.mark.parametrize(
    ("money", "value"),
    [(Money(9999, "USD"), "99.99"), (Money(450000, "HUF"), "4500"), (Money(15000, "JPY"), "15000")],
)
def test_paypal_values_carry_paypals_places(money, value):
    assert PAYPAL_RULES.value(money) == value
