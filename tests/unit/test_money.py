"""Money keeps each currency's own scale and refuses what it cannot represent."""

from decimal import Decimal

import pytest

from integration_core.money import Money, MoneyError, exponent


@pytest.mark.parametrize(
    ("amount", "currency", "minor", "shown"),
    [
        ("99.99", "USD", 9999, "99.99"),
        ("249", "USD", 24900, "249.00"),
        ("1000", "JPY", 1000, "1000"),
        ("45.500", "KWD", 45500, "45.500"),
        ("1.234", "KWD", 1234, "1.234"),
        ("0", "EUR", 0, "0.00"),
        (Decimal("12.5"), "GBP", 1250, "12.50"),
    ],
)
def test_decimal_amounts_become_minor_units_with_the_currency_exponent(amount, currency, minor, shown):
    money = Money.from_decimal(amount, currency)
    assert money.amount_minor == minor
    assert money.to_decimal_string() == shown


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("10.5", "JPY"), ("1.001", "USD"), ("1.2345", "KWD"), ("abc", "USD"), ("NaN", "USD"), ("Infinity", "EUR")],
)
def test_amounts_the_currency_cannot_represent_are_refused(amount, currency):
    with pytest.raises(MoneyError):
        Money.from_decimal(amount, currency)


def test_unknown_currency_is_refused():
    with pytest.raises(MoneyError, match="ISO 4217"):
        exponent("XYZ")


def test_arithmetic_keeps_currency_and_refuses_mixing():
    assert Money(1000, "USD") - Money(250, "USD") == Money(750, "USD")
    with pytest.raises(MoneyError):
        Money(1000, "USD") + Money(1000, "JPY")
