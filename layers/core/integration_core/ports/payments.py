"""The payments port: what the payment services ask of a payment provider, and the provider-neutral
shapes of its answers (domain.payments.ProviderPayment, ProviderRefund, ProviderSubscription) and
callbacks (`ProviderEvent`).

Adding a provider adds an adapter implementing `PaymentProvider` and an entry in
services.payments.providers; no service changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from integration_core.domain.payments import (
    Provider,
    ProviderPayment,
    ProviderRefund,
    ProviderSubscription,
    SubscriptionStatus,
)
from integration_core.errors import Conflict
from integration_core.money import Money


class CallbackRefused(ValueError):
    """A callback that is not the provider's (forged, stale, malformed): answered 400."""


class NothingCaptured(Conflict):
    """The payment has taken no money at the provider yet, so there is nothing to refund."""


@dataclass(frozen=True)
class Customer:
    student_id: str
    email: str
    name: str


@dataclass(frozen=True)
class Checkout:
    """A course payment to start at the provider."""

    payment_id: str
    student_id: str
    course_id: str
    price: Money
    description: str
    customer: str | None  # the student's customer at providers that keep customers
    return_url: str | None
    cancel_url: str | None
    idempotency_key: str


@dataclass(frozen=True)
class Subscribe:
    subscription_id: str
    student_id: str
    plan_id: str
    provider_plan: str
    customer: str | None
    payment_method: str | None
    return_url: str | None
    cancel_url: str | None
    idempotency_key: str


@dataclass(frozen=True)
class Callback:
    """A verified callback: its id, type and the provider's object it is about."""

    event_id: str
    event_type: str
    payload: dict[str, Any]

    @classmethod
    def of(cls, event: Any, type_field: str, payload: Any, provider: str) -> Callback:
        """The envelope of a callback whose signature was checked: an id and a type (1-255
        characters each) and the object it is about; else refused, naming the provider."""
        fields = (event.get("id"), event.get(type_field)) if isinstance(event, dict) else (None, None)
        match fields, payload:
            case (str() as event_id, str() as event_type), dict() if (
                0 < len(event_id) <= 255 and 0 < len(event_type) <= 255
            ):
                return cls(event_id, event_type, payload)
        raise CallbackRefused(f"the body is not a {provider} event")


# ---------------------------------------------------------------- provider events
# `reference` is our id as we gave it to the provider (looked up first), `provider_id` the provider's
# own id of the record; `awaited` is our id when the event is about one of our records that may not
# be written yet (then the provider is asked to deliver again later).
@dataclass(frozen=True)
class PaymentChanged:
    reference: str | None
    provider_id: str | None
    update: ProviderPayment

    @property
    def awaited(self) -> str | None:
        return self.reference


@dataclass(frozen=True)
class PaymentRefunded:
    reference: str | None
    provider_id: str | None
    awaited: str | None
    refunds: list[ProviderRefund] | None  # None: ask the provider which refunds the payment has


@dataclass(frozen=True)
class SubscriptionChanged:
    reference: str | None
    provider_id: str | None
    status: SubscriptionStatus
    view: ProviderSubscription | None

    @property
    def awaited(self) -> str | None:
        return self.reference


@dataclass(frozen=True)
class SubscriptionCharged:
    """A subscription's periodic charge (an invoice, a sale)."""

    reference: str | None
    provider_id: str | None  # the provider's subscription
    awaited: str | None
    charge_id: str
    amount: Money
    succeeded: bool


@dataclass(frozen=True)
class Unrelated:
    """An event of a used type that concerns nothing in the ledger: recorded, nothing else."""


ProviderEvent = PaymentChanged | PaymentRefunded | SubscriptionChanged | SubscriptionCharged | Unrelated


class PaymentProvider(Protocol):
    provider: Provider
    name: str  # as people read it in errors
    takes_payment_method: bool  # the caller may name a payment method (else the buyer picks one at the provider)
    takes_return_urls: bool  # the buyer approves at the provider and comes back to our URLs
    plan_attribute: str  # where a plan remembers its provider object

    def customer(
        self, customer: Customer, remembered: Callable[[], str | None], remember: Callable[[str], str]
    ) -> str | None:
        """The student's customer at the provider, for providers whose payments belong to one: the
        remembered one, else one created and remembered (`remember` answers the one that won)."""
        ...

    def start(self, checkout: Checkout) -> ProviderPayment: ...

    def confirm(self, transaction_id: str, payment_method: str | None, idempotency_key: str) -> ProviderPayment: ...

    def retrieve(self, transaction_id: str) -> ProviderPayment: ...

    def describe(self, transaction_id: str) -> tuple[ProviderPayment, dict[str, Any]]:
        """The payment and the provider's own account of it (payer, captures, refunds)."""
        ...

    def cancel(self, transaction_id: str, idempotency_key: str) -> ProviderPayment | None:
        """Cancel a payment nobody may complete; None when the provider has nothing to cancel."""
        ...

    def refund(
        self,
        *,
        transaction_id: str,
        capture_id: str | None,
        payment_id: str,
        amount: Money,
        reason: str | None,
        idempotency_key: str,
        duplicate: bool = False,
    ) -> ProviderRefund:
        """Refund `amount` of a payment (`duplicate`: one the student must not have made, with the
        provider's own words for it); NothingCaptured when no money was taken."""
        ...

    def settled_refunds(self, provider_id: str) -> list[ProviderRefund]: ...

    def ensure_plan(self, plan: dict[str, Any]) -> str: ...

    def subscribe(self, request: Subscribe) -> ProviderSubscription: ...

    def subscription(self, provider_id: str) -> ProviderSubscription: ...

    def cancel_subscription(
        self, provider_id: str, reason: str | None, idempotency_key: str
    ) -> ProviderSubscription: ...

    def verify_callback(self, raw_body: bytes, headers: dict[str, str]) -> Callback:
        """The callback if it is the provider's (headers lower-cased); CallbackRefused otherwise."""
        ...

    def parse_callback(self, callback: Callback) -> ProviderEvent | None:
        """The provider event a verified callback carries; None for a type the ledger does not use."""
        ...
