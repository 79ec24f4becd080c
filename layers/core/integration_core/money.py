"""Money: integer minor units plus an ISO 4217 currency whose exponent decides the scale.

JPY has no minor unit (1000 yen is 1000), USD two (99.99 is 9999), KWD three (1.234 is 1234).
An amount the currency cannot represent (JPY 10.5, USD 1.001) is refused, never rounded.
"""

from __future__ import annotations

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


class MoneyError(ValueError):
    """An amount or currency that cannot be money; the message says why."""


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"'{currency}' is not an ISO 4217 currency code") from None


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
