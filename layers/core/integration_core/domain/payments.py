"""Payments: the ledger's statuses and the rule that they only move forward, the rules on return
URLs, and the provider-neutral shapes the provider adapters return. The payments API's request and
response models are in domain.payment_models: a provider callback, which needs only these rules,
does without pydantic (its import is a third of a bare boto3 function's cold start).

A payment is one attempt to pay for a course (or one charge of a subscription), across providers.
Its status moves created -> requires_action/approved -> succeeded -> partially_refunded/refunded, or
ends failed/canceled. `RANK` orders them so a conditional write can refuse any step backwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from integration_core.ids import id_pattern


class Provider(StrEnum):
    STRIPE = "stripe"
    PAYPAL = "paypal"


class PaymentStatus(StrEnum):
    CREATED = "created"
    REQUIRES_ACTION = "requires_action"
    APPROVED = "approved"
    FAILED = "failed"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


# A declined attempt may still be completed later at the provider (the buyer retries with another card
# in Stripe.js), so failed ranks below succeeded: money actually taken always wins.
RANK: dict[PaymentStatus, int] = {
    PaymentStatus.CREATED: 0,
    PaymentStatus.REQUIRES_ACTION: 1,
    PaymentStatus.APPROVED: 1,
    PaymentStatus.FAILED: 2,
    PaymentStatus.CANCELED: 2,
    PaymentStatus.SUCCEEDED: 3,
    PaymentStatus.PARTIALLY_REFUNDED: 4,
    PaymentStatus.REFUNDED: 5,
}


def moves_forward(current: PaymentStatus, new: PaymentStatus) -> bool:
    return RANK[new] > RANK[current]


def refund_status(amount_minor: int, refunded_minor: int) -> PaymentStatus:
    return PaymentStatus.REFUNDED if refunded_minor >= amount_minor else PaymentStatus.PARTIALLY_REFUNDED


class SubscriptionStatus(StrEnum):
    PENDING = "pending"  # waiting for the buyer (PayPal approval, Stripe's first invoice)
    ACTIVE = "active"
    CANCELED = "canceled"


SUBSCRIPTION_RANK = {SubscriptionStatus.PENDING: 0, SubscriptionStatus.ACTIVE: 1, SubscriptionStatus.CANCELED: 2}

# Stripe's test tokens and ids look like these; PayPal ids are upper-case alphanumerics.
PAYMENT_METHOD = r"^pm_[A-Za-z0-9_]{1,100}$"
TRANSACTION_ID = r"^[A-Za-z0-9_\-]{3,120}$"
STUDENT_ID = id_pattern("student")
COURSE_ID = id_pattern("course")
PLAN_ID = id_pattern("plan")
SUBSCRIPTION_ID = id_pattern("subscription")


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased, the default port left out (as browsers compare)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{parts.scheme.lower()}://{netloc}"


def return_url_refusal(url: str, origins: frozenset[str]) -> str | None:
    """Why `url` may not be a PayPal return or cancel URL, or None: it must be https on one of the
    school's origins, with no credentials and no backslash (which browsers read as a slash)."""
    if not url.isascii() or not url.isprintable() or "\\" in url:
        return "must be a plain https URL (visible ASCII, no backslash)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https URL"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials"
    if origin(url) not in origins:
        return f"must be on one of the school's origins: {', '.join(sorted(origins))}"
    return None


# ---------------------------------------------------------------- provider-neutral results
@dataclass(frozen=True)
class ProviderPayment:
    """What a provider says about one payment, mapped onto the ledger's vocabulary."""

    provider_id: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    client_secret: str | None = None
    approval_url: str | None = None
    capture_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    reference: str | None = None  # our payment id, as we gave it to the provider (metadata, custom_id)
    provider_status: str | None = None  # the provider's own word (Stripe's intent status, PayPal's order status)
    amount_received_minor: int | None = None
    receipt_url: str | None = None
    payment_method: str | None = None  # how it was paid: "card", "paypal", ...


@dataclass(frozen=True)
class ProviderRefund:
    refund_id: str
    amount_minor: int
    currency: str
    status: str


@dataclass(frozen=True)
class ProviderSubscription:
    provider_id: str
    status: SubscriptionStatus
    approval_url: str | None = None
    client_secret: str | None = None
    reference: str | None = None  # our subscription id
    next_billing_at: str | None = None  # ISO 8601 UTC: when the provider bills next (active ones only)
    extra: dict = field(default_factory=dict)
