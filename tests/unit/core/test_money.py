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


# ---------------------------------------------------------------- the one parser of amounts callers send
@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("99.99", "USD", 9999), ("99.9", "USD", 9990), ("15000", "JPY", 15000), ("12.340", "KWD", 12340)],
)
def test_parse_amount_takes_ascii_decimal_strings_within_the_currency_places(text, currency, minor):
    from integration_core.money import parse_amount

    assert parse_amount(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (" 10 ", "no sign, exponent or spaces"),
        ("\u0661\u0660", "ASCII digits"),  # Arabic-Indic "10"
        ("\uff11\uff10", "ASCII digits"),  # full-width "10"
        ("1E-2", "no sign, exponent or spaces"),
        ("1e3", "no sign, exponent or spaces"),
        ("-1", "no sign"),
        ("+1", "no sign"),
        ("1.", "decimal string"),
        (".5", "decimal string"),
        ("1,5", "decimal string"),
        ("NaN", "decimal string"),
        ("10\n", "decimal string"),
        (10, "not a JSON number"),
        (10.5, "not a JSON number"),
        ("10.001", "USD has 2 decimal places"),
        ("1000000.00", "at most 999999.99 USD"),
        ("1" + "0" * 30, "at most 999999.99 USD"),
        ("0", "more than zero"),
        ("0.00", "more than zero"),
    ],
)
def test_parse_amount_refuses_every_other_form_saying_why(value, reason):
    from integration_core.money import parse_amount

    with pytest.raises(MoneyError, match=reason):
        parse_amount(value, "USD")


def test_the_upper_bound_is_stripes_eight_digits_in_every_currency():
    from integration_core.money import MAX_AMOUNT_MINOR, parse_amount

    assert MAX_AMOUNT_MINOR == 99_999_999
    assert parse_amount("99999999", "JPY").amount_minor == MAX_AMOUNT_MINOR
    assert parse_amount("99999.999", "KWD").amount_minor == MAX_AMOUNT_MINOR
    with pytest.raises(MoneyError, match="at most 99999999 JPY"):
        parse_amount("100000000", "JPY")


def test_zero_is_a_price_only_where_allowed_and_unknown_currencies_say_so():
    from integration_core.money import CurrencyError, parse_amount

    assert parse_amount("0", "EUR", allow_zero=True) == Money(0, "EUR")
    with pytest.raises(CurrencyError, match="ISO 4217"):
        parse_amount("10", "XYZ")
