"""The payments API's request and response models (pydantic, camelCase on the wire). The ledger's
vocabulary they use (statuses, providers, id patterns) is domain.payments."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, computed_field

from integration_core.domain.payments import (
    COURSE_ID,
    PAYMENT_METHOD,
    PLAN_ID,
    STUDENT_ID,
    TRANSACTION_ID,
    PaymentStatus,
    Provider,
    SubscriptionStatus,
)
from integration_core.idempotency_keys import IDEMPOTENCY_KEY
from integration_core.models import ApiModel, DecimalText, RequestModel, ShortText

Interval = Literal["day", "week", "month", "year"]

IdempotencyKey = Annotated[
    str | None,
    Field(default=None, pattern=IDEMPOTENCY_KEY, description="Or the Idempotency-Key header; 8-255 visible ASCII"),
]
Amount = Annotated[DecimalText | None, Field(default=None, description="Decimal string, must equal the price")]
Currency = Annotated[str | None, Field(default=None, pattern=r"^[A-Z]{3}$")]
HttpsUrl = Annotated[
    str | None,
    Field(
        default=None,
        pattern=r"^https://[\x21-\x7e]{1,2000}$",
        description="https, on one of the school's origins (PaymentReturnOrigins)",
    ),
]


# ---------------------------------------------------------------- requests
class StripeInitialize(RequestModel):
    student_id: str | None = Field(default=None, pattern=STUDENT_ID, description="Defaults to the calling student")
    course_id: str = Field(pattern=COURSE_ID)
    amount: Amount = None
    currency: Currency = None
    payment_method: str | None = Field(
        default=None, pattern=PAYMENT_METHOD, description="Confirm at once with this payment method"
    )
    idempotency_key: IdempotencyKey = None


class PayPalProcess(RequestModel):
    student_id: str | None = Field(default=None, pattern=STUDENT_ID)
    course_id: str = Field(pattern=COURSE_ID)
    amount: Amount = None
    currency: Currency = None
    return_url: HttpsUrl = None
    cancel_url: HttpsUrl = None
    idempotency_key: IdempotencyKey = None


class ConfirmPayment(RequestModel):
    transaction_id: str = Field(pattern=TRANSACTION_ID, description="Stripe PaymentIntent id, PayPal order id")
    provider: Provider
    payment_method: str | None = Field(default=None, pattern=PAYMENT_METHOD, description="Stripe only")
    idempotency_key: IdempotencyKey = None


RefundReason = Annotated[str, Field(min_length=1, max_length=500)]


class RefundPayment(RequestModel):
    transaction_id: str = Field(pattern=TRANSACTION_ID, description="Payment id, Stripe PaymentIntent, PayPal order")
    provider: Provider
    amount: Amount = Field(default=None, description="Decimal string; the whole remaining amount when absent")
    reason: RefundReason | None = None
    idempotency_key: IdempotencyKey = None


class SubscriptionCreate(RequestModel):
    student_id: str | None = Field(default=None, pattern=STUDENT_ID)
    plan_id: str = Field(pattern=PLAN_ID)
    provider: Provider
    payment_method: str | None = Field(default=None, pattern=PAYMENT_METHOD, description="Stripe only")
    return_url: HttpsUrl = None
    cancel_url: HttpsUrl = None
    idempotency_key: IdempotencyKey = None


class SubscriptionCancel(RequestModel):
    reason: RefundReason | None = None
    idempotency_key: IdempotencyKey = None


class PlanCreate(RequestModel):
    id: str | None = Field(default=None, pattern=PLAN_ID)
    name: ShortText
    amount: DecimalText = Field(description='Decimal string in the currency\'s units, e.g. "29.00"')
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    interval: Interval


# ---------------------------------------------------------------- responses
class Plan(ApiModel):
    id: str
    name: str
    amount: str
    amount_minor: int
    currency: str
    interval: Interval
    created_at: str

    # mypy takes no decorator over @property; pydantic's docs give this very ignore for computed_field.
    @computed_field(description="The payment providers that can take this price (by their currency rules)")  # type: ignore[prop-decorator]
    @property
    def providers(self) -> list[str]:
        from integration_core.domain.currency_rules import providers_for
        from integration_core.money import Money

        return providers_for(Money(self.amount_minor, self.currency))


class StudentInfo(ApiModel):
    name: str | None = None
    email: str | None = None


class Payment(ApiModel):
    """One payment of the ledger: the original PaymentConfirmation and PaymentHistory fields with
    this service's own (see docs/payments.md, "The original DTOs")."""

    payment_id: str
    student_id: str
    course_id: str | None = None
    course_name: str | None = Field(default=None, description="The course's title when the payment started")
    plan_id: str | None = None
    subscription_id: str | None = None
    provider: Provider
    transaction_id: str = Field(description="The provider's id: PaymentIntent, PayPal order or invoice")
    capture_id: str | None = None
    status: PaymentStatus
    amount: str
    amount_minor: int
    currency: str
    refunded_amount: str
    refunded_minor: int
    failure_code: str | None = Field(default=None, description="The last failed attempt's code; null once paid")
    failure_message: str | None = None
    payment_method: str | None = Field(default=None, description="How it was paid: card, paypal, ...")
    receipt_url: str | None = Field(default=None, description="The provider's receipt (Stripe), once paid")
    duplicate_of: str | None = Field(
        default=None, description="The earlier payment that enrolled the student; this one is refunded"
    )
    created_at: str
    updated_at: str
    succeeded_at: str | None = None
    confirmed_at: str | None = Field(default=None, description="When it succeeded (the original PaymentStatus)")
    confirmation_date: str | None = Field(default=None, description="The same (the original PaymentConfirmation)")
    completed_date: str | None = Field(default=None, description="The same (the original PaymentHistory)")
    payment_date: str = Field(description="When the payment started (the original PaymentHistory); = createdAt")
    student_info: StudentInfo | None = Field(default=None, description="The student paying (confirm only)")


class StripeInitialized(Payment):
    """The original StripeInitiation: paymentIntentId, clientSecret, amount, currency, status,
    createdAt, metadata."""

    payment_intent_id: str
    client_secret: str | None = Field(default=None, description="For Stripe.js; absent once final")
    metadata: dict[str, str] | None = Field(default=None, description="What the PaymentIntent carries")


class StripePaymentStatus(StripeInitialized):
    """The original PaymentStatus: Stripe's view (providerStatus, amountReceived, lastPaymentError)
    beside the ledger's."""

    provider_status: str | None = Field(default=None, description="Stripe's own status of the PaymentIntent")
    amount_received: str | None = None
    last_payment_error: str | None = None


class PayPalProcessed(Payment):
    order_id: str
    approval_url: str | None = None


class Refund(ApiModel):
    refund_id: str
    payment_id: str
    transaction_id: str = Field(description="The refunded payment's provider id (PaymentIntent, PayPal order)")
    provider: Provider
    amount: str
    amount_minor: int
    currency: str
    reason: str | None = None
    status: Literal["succeeded", "pending", "failed"] = Field(description="The refund's own status at the provider")
    payment_status: PaymentStatus
    refunded_amount: str
    remaining_amount: str
    created_at: str
    completed_at: str | None = None


class Subscription(ApiModel):
    subscription_id: str
    student_id: str
    plan_id: str
    provider: Provider
    provider_subscription_id: str
    status: SubscriptionStatus
    amount: str | None = Field(default=None, description="Each period's charge (the plan's price when subscribing)")
    amount_minor: int | None = None
    currency: str | None = None
    billing_cycle: Literal["daily", "weekly", "monthly", "yearly"] | None = None
    start_date: str | None = Field(default=None, description="When it became active; null while pending")
    next_billing_date: str | None = Field(default=None, description="The provider's next charge; active only")
    cancelled_at: str | None = None
    approval_url: str | None = None
    client_secret: str | None = None
    created_at: str
    updated_at: str


class PayPalTransaction(ApiModel):
    order_id: str
    transaction_id: str = Field(description="The PayPal order id (the original's name for it)")
    status: str
    payment_id: str
    amount: str
    currency: str
    capture_id: str | None = None
    capture_status: str | None = None
    refunds: list[dict] = Field(default_factory=list)
    payer_email: str | None = None
    payer_name: str | None = None
    transaction_date: str | None = Field(default=None, description="When it was captured, else created")
    item_name: str | None = None
    transaction_details: dict[str, Any] = Field(default_factory=dict)
