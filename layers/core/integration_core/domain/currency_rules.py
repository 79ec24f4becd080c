"""What each payment provider accepts, beyond ISO 4217: one table per provider.

ISO 4217 says how many decimal places a currency has; a provider may take fewer, use its own
integer unit, or not take the currency at all. A payment the chosen provider cannot take is refused
here (422, before any call to the provider), and the directory says which providers can sell a
course (`providers_for`).

PayPal (its currency-codes reference): 24 currencies; HUF, JPY and TWD without decimals (the value
is a whole number, "1000"); every other one with its ISO places. No three-decimal currency.

Stripe (its currency guide): amounts are integers in Stripe's unit. The zero-decimal currencies
take whole units and their integer is the amount itself (MGA, two places in ISO, included); ISK and
UGX keep a two-decimal integer (500 is 5 ISK) but only whole units; the three-decimal currencies
(BHD, JOD, KWD, OMR, TND) need the last digit 0 (5.120 KWD, not 5.124); the integer has at most
eight digits. Stripe's list of 135+ presentment currencies is not repeated here: Stripe refuses the
rare ISO currency it does not take itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from integration_core.money import Money, exponent

STRIPE = "stripe"
PAYPAL = "paypal"
PROVIDERS = (STRIPE, PAYPAL)


@dataclass(frozen=True)
class CurrencyRules:
    provider: str
    name: str
    supported: frozenset[str] | None  # None: every ISO 4217 currency
    places: dict[str, int]  # decimal places the provider takes where fewer than ISO's
    integer_exponent: dict[str, int] = field(default_factory=dict)  # the provider's integer unit (Stripe)
    max_integer: int | None = None

    def decimal_places(self, currency: str) -> int:
        return min(exponent(currency), self.places.get(currency, exponent(currency)))

    def refusal(self, money: Money) -> str | None:
        """Why this provider cannot take `money`, or None when it can."""
        currency = money.currency
        if self.supported is not None and currency not in self.supported:
            return f"{self.name} does not take {currency}"
        places = self.decimal_places(currency)
        if money.amount_minor % 10 ** (exponent(currency) - places):
            shown = money.to_decimal_string()
            if places == 0:
                return f"{self.name} takes only whole amounts of {currency}; {shown} is not one"
            return f"{self.name} takes {currency} amounts whose last decimal is 0; {shown} is not one"
        if self.max_integer is not None and self.to_integer(money) > self.max_integer:
            limit = self.from_integer(self.max_integer, currency).to_decimal_string()
            return f"{self.name} takes at most {limit} {currency}"
        return None

    def _shift(self, currency: str) -> int:
        return self.integer_exponent.get(currency, exponent(currency)) - exponent(currency)

    def to_integer(self, money: Money) -> int:
        """The provider's integer for `money` (Stripe's `amount`); call after `refusal` said None."""
        shift = self._shift(money.currency)
        return money.amount_minor * int(10**shift) if shift >= 0 else money.amount_minor // int(10**-shift)

    def from_integer(self, amount: int, currency: str) -> Money:
        """Our money for the provider's integer (an intent's, a refund's, an invoice's amount)."""
        shift = self._shift(currency)
        return Money(amount // 10**shift if shift >= 0 else amount * 10**-shift, currency)

    def value(self, money: Money) -> str:
        """The provider's decimal string for `money` (PayPal's `value`): its own places."""
        places = self.decimal_places(money.currency)
        return f"{Decimal(money.amount_minor).scaleb(-exponent(money.currency)):.{places}f}"


_STRIPE_ZERO = "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF"
_STRIPE_THREE = "BHD JOD KWD OMR TND"
_PAYPAL = "AUD BRL CAD CNY CZK DKK EUR HKD HUF ILS JPY MYR MXN TWD NZD NOK PHP PLN GBP SGD SEK CHF THB USD"

_STRIPE_ZERO_DECIMAL = frozenset(_STRIPE_ZERO.split())
_STRIPE_WHOLE_TWO_DECIMAL = frozenset({"ISK", "UGX"})  # a two-decimal integer, whole units only
_STRIPE_THREE_DECIMAL = frozenset(_STRIPE_THREE.split())  # the last digit must be 0

STRIPE_RULES = CurrencyRules(
    provider=STRIPE,
    name="Stripe",
    supported=None,
    places={
        **{c: 0 for c in _STRIPE_ZERO_DECIMAL | _STRIPE_WHOLE_TWO_DECIMAL},
        **{c: 2 for c in _STRIPE_THREE_DECIMAL},
    },
    integer_exponent={**{c: 0 for c in _STRIPE_ZERO_DECIMAL}, **{c: 2 for c in _STRIPE_WHOLE_TWO_DECIMAL}},
    max_integer=99_999_999,
)

PAYPAL_RULES = CurrencyRules(
    provider=PAYPAL,
    name="PayPal",
    supported=frozenset(_PAYPAL.split()),
    places={"HUF": 0, "JPY": 0, "TWD": 0},
)

RULES: dict[str, CurrencyRules] = {STRIPE: STRIPE_RULES, PAYPAL: PAYPAL_RULES}


def refusal(provider: str, money: Money) -> str | None:
    return RULES[provider].refusal(money)


def providers_for(money: Money) -> list[str]:
    """The providers that can take `money` (nothing for a free price: there is nothing to pay)."""
    if money.amount_minor <= 0:
        return []
    return [p for p in PROVIDERS if RULES[p].refusal(money) is None]
