"""Money: integer minor units plus an ISO 4217 currency whose exponent decides the scale.

JPY has no minor unit (1000 yen is 1000), USD two (99.99 is 9999), KWD three (1.234 is 1234).
An amount the currency cannot represent (JPY 10.5, USD 1.001) is refused, never rounded.

Every amount a caller sends (course prices, plans, payment checks, refunds) goes through one parser,
`parse_amount`, and has one form: a JSON string of ASCII digits with an optional '.' and at most the
currency's decimal places ("99.99", "15000", "12.340"), never a JSON number, an exponent, a sign or
spaces, and at most `MAX_AMOUNT_MINOR` minor units. `models.DecimalText` is that form for request
models (this module does without pydantic: provider callbacks use it too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# ISO 4217 active codes and their minor-unit exponent (the standard's "E" column).
_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
    "GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL "
    "MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK "
    "PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
    "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)
EXPONENTS: dict[str, int] = {
    **{code: 0 for code in _EXPONENT_0.split()},
    **{code: 2 for code in _EXPONENT_2.split()},
    **{code: 3 for code in _EXPONENT_3.split()},
    **{code: 4 for code in _EXPONENT_4.split()},
}


# Stripe's limit (eight digits in the minor unit: 999,999.99 USD, 99,999,999 JPY, 99,999.999 KWD),
# which PayPal's 32-character values also take: an amount every provider accepts.
MAX_AMOUNT_MINOR = 99_999_999
AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
_AMOUNT_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_FORM = "a decimal string of ASCII digits with an optional '.', such as \"99.99\" (no sign, exponent or spaces)"


class MoneyError(ValueError):
    """An amount or currency that cannot be money; the message says why."""


class CurrencyError(MoneyError):
    """The currency itself is not one (so a caller can name the currency field, not the amount)."""


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise CurrencyError(f"'{currency}' is not an ISO 4217 currency code") from None


@dataclass(frozen=True, order=True)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        exponent(self.currency)
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise MoneyError("amount in minor units must be an integer")

    @classmethod
    def from_decimal(cls, amount: str | int | Decimal, currency: str) -> Money:
        """'99.99' USD -> 9999; '1000' JPY -> 1000; '10.5' JPY is refused."""
        scale = exponent(currency)
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            raise MoneyError(f"'{amount}' is not a decimal amount") from None
        if not value.is_finite():
            raise MoneyError(f"'{amount}' is not a finite amount")
        minor = value.scaleb(scale)
        if minor != minor.to_integral_value():
            raise MoneyError(f"{currency} has {scale} decimal places; '{amount}' has more")
        return cls(int(minor), currency)

    def to_decimal_string(self) -> str:
        """The provider-facing form: '99.99', JPY '1000', KWD '1.234'."""
        scale = exponent(self.currency)
        value = Decimal(self.amount_minor).scaleb(-scale)
        return f"{value:.{scale}f}"

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} and {other.currency}")


def parse_amount(text: object, currency: str, *, allow_zero: bool = False) -> Money:
    """The one parser of amounts a caller sends: `text` in the documented form, at most the currency's
    places and `MAX_AMOUNT_MINOR`; zero only where `allow_zero` (a free course). MoneyError says why."""
    scale = exponent(currency)
    if not isinstance(text, str):
        raise MoneyError(f"must be {_FORM}, not a JSON number")
    if not _AMOUNT_TEXT.fullmatch(text):
        raise MoneyError(f"must be {_FORM}")
    places = len(text.partition(".")[2])
    if places > scale:
        raise MoneyError(f"{currency} has {scale} decimal places; '{text}' has more")
    whole, _, fraction = text.partition(".")
    minor = int(whole + fraction.ljust(scale, "0"))
    if minor > MAX_AMOUNT_MINOR:
        limit = Money(MAX_AMOUNT_MINOR, currency).to_decimal_string()
        raise MoneyError(f"at most {limit} {currency}")
    if minor == 0 and not allow_zero:
        raise MoneyError("must be more than zero")
    return Money(minor, currency)


def decimal_text_problem(value: str) -> str | None:
    """Why `value` is not an amount's one form, whatever the currency (None when it is)."""
    if len(value) > 32 or not _AMOUNT_TEXT.fullmatch(value):
        return f"must be {_FORM}"
    return None
