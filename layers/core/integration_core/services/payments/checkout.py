"""Course payments: start one at the provider the caller chose, read it back, confirm it, and a
student's history. A student never pays twice for one course: a payment for a course they are
enrolled in already is refused, or withdrawn, or refunded when the money was taken anyway."""

from __future__ import annotations

from typing import Any

from integration_core.domain.payment_models import (
    ConfirmPayment,
    Payment,
    PayPalProcess,
    PayPalProcessed,
    PayPalTransaction,
    StripeInitialize,
    StripeInitialized,
    StripePaymentStatus,
)
from integration_core.domain.payments import RANK, PaymentStatus, Provider, ProviderPayment
from integration_core.errors import Conflict, ProviderRejected, invalid
from integration_core.models import PageOf
from integration_core.money import Money
from integration_core.ports.payments import Checkout, Customer, PaymentProvider
from integration_core.principal import Principal, Role
from integration_core.services.payments.common import (
    Attempt,
    course_checkout,
    directory,
    enrolled_conflict,
    find_payment,
    now,
    public,
    return_urls,
    store,
)
from integration_core.services.payments.ledger import advance, capture_refs, declined, settle_duplicate
from integration_core.services.payments.providers import adapter, only_for
from integration_core.stores.payments import provider_ref


def customer(gateway: PaymentProvider, student: dict[str, Any]) -> str | None:
    """The student's customer at the provider (for providers that keep customers), remembered once."""
    payments = store()
    return gateway.customer(
        Customer(student["id"], student["email"], student["name"]),
        lambda: payments.customer(student["id"], gateway.provider),
        lambda created: payments.remember_customer(student["id"], gateway.provider, created),
    )


def _start(
    principal: Principal, provider: Provider, data: StripeInitialize | PayPalProcess, attempt: Attempt, operation: str
) -> tuple[dict[str, Any], ProviderPayment, dict[str, Any]]:
    """A course payment started at `provider` and in the ledger: (record, provider's answer, course)."""
    gateway = adapter(provider)
    urls = (
        return_urls(getattr(data, "return_url", None), getattr(data, "cancel_url", None))
        if gateway.takes_return_urls
        else {}
    )
    student, course, price = course_checkout(principal, data, provider)
    payment_id = attempt.stable("payment")
    started = gateway.start(
        Checkout(
            payment_id=payment_id,
            student_id=student["id"],
            course_id=course["id"],
            price=price,
            description=f"Course {course['title']}",
            customer=customer(gateway, student),
            return_url=urls.get("return"),
            cancel_url=urls.get("cancel"),
            idempotency_key=attempt.provider_key,
        )
    )
    payments = store()
    item = payments.new_payment(
        payment_id=payment_id,
        student_id=student["id"],
        provider=provider,
        transaction_id=started.provider_id,
        price=price,
        course_id=course["id"],
        course_name=course["title"],
        now=now(),
    )
    item = payments.record(item, [payment_id, provider_ref(provider, started.provider_id)])
    item, _ = advance(item, started, cause=f"{operation}:{payment_id}")
    return item, started, course


def stripe_initialize(principal: Principal, data: StripeInitialize, attempt: Attempt) -> StripeInitialized:
    item, intent, course = _start(principal, Provider.STRIPE, data, attempt, "initialize")
    if data.payment_method:
        # Confirmed in a call of its own, so that a decline is always recorded on this intent.
        intent = adapter(Provider.STRIPE).confirm(
            intent.provider_id, data.payment_method, attempt.provider_key + "-confirm"
        )
        item, _ = advance(item, intent, cause=f"initialize:{item['payment_id']}")
        if intent.status is PaymentStatus.FAILED and item["status"] == PaymentStatus.FAILED.value:
            raise declined(item, intent)
    metadata = {"payment_id": item["payment_id"], "student_id": item["student_id"], "course_id": course["id"]}
    return StripeInitialized.model_validate(
        {
            **public(item),
            "payment_intent_id": intent.provider_id,
            "client_secret": intent.client_secret,
            "metadata": metadata,
        }
    )


def stripe_status(principal: Principal, intent_id: str) -> StripePaymentStatus:
    item = find_payment(principal, intent_id, Provider.STRIPE)
    intent = adapter(Provider.STRIPE).retrieve(intent_id)
    item, _ = advance(item, intent, cause=f"status:{intent_id}")
    received = Money(intent.amount_received_minor or 0, item["currency"])
    return StripePaymentStatus.model_validate(
        {
            **public(item),
            "payment_intent_id": intent_id,
            "client_secret": intent.client_secret,
            "provider_status": intent.provider_status,
            "amount_received": received.to_decimal_string(),
            "last_payment_error": item.get("failure_message"),
        }
    )


def paypal_process(principal: Principal, data: PayPalProcess, attempt: Attempt) -> PayPalProcessed:
    item, order, _ = _start(principal, Provider.PAYPAL, data, attempt, "process")
    return PayPalProcessed.model_validate(
        {**public(item), "order_id": order.provider_id, "approval_url": order.approval_url}
    )


def paypal_transaction(principal: Principal, transaction_id: str) -> PayPalTransaction:
    item = find_payment(principal, transaction_id, Provider.PAYPAL)
    update, details = adapter(Provider.PAYPAL).describe(item["transaction_id"])
    item, _ = advance(item, update, cause=f"transaction:{transaction_id}", extras=capture_refs(item, update))
    return PayPalTransaction.model_validate({**details, "payment_id": item["payment_id"]})


# ---------------------------------------------------------------- confirm (every provider)
def _confirmation(item: dict[str, Any]) -> Payment:
    """A payment as the confirm answers it: with the student it is for (the original PaymentConfirmation)."""
    student = store().student(item["student_id"]) or {}
    info = {"name": student.get("name"), "email": student.get("email")} if student else None
    return Payment.model_validate({**public(item), "student_info": info})


def _duplicate_conflict(item: dict[str, Any]) -> Conflict:
    return Conflict(
        f"student {item['student_id']} was already enrolled in course {item.get('course_id')} by payment "
        f"{item['duplicate_of']}; this payment was refunded",
        paymentId=item["payment_id"],
        earlierPaymentId=item["duplicate_of"],
        paymentStatus=item["status"],
    )


def _withdraw(item: dict[str, Any]) -> dict[str, Any]:
    """A payment nobody may complete any more (the student is enrolled already): cancelled at the
    provider, or only in the ledger where the provider has nothing to cancel (a PayPal CAPTURE order
    expires uncaptured). If the provider charged meanwhile, the success is applied and refunded as a
    duplicate."""
    update = adapter(item["provider"]).cancel(item["transaction_id"], f"withdraw-{item['payment_id']}")
    if update is None:
        update = ProviderPayment(
            item["transaction_id"], PaymentStatus.CANCELED, int(item["amount_minor"]), item["currency"]
        )
    item, _ = advance(item, update, cause=f"withdraw:{item['payment_id']}")
    return item


def confirm(principal: Principal, data: ConfirmPayment, attempt: Attempt) -> Payment:
    item = find_payment(principal, data.transaction_id, data.provider)
    gateway = adapter(data.provider)
    if data.payment_method and not gateway.takes_payment_method:
        raise invalid("paymentMethod", only_for(lambda a: a.takes_payment_method))
    if item.get("duplicate_of"):
        raise _duplicate_conflict(settle_duplicate(item))
    if RANK[PaymentStatus(item["status"])] >= RANK[PaymentStatus.SUCCEEDED]:
        return _confirmation(item)
    if item.get("course_id"):
        # A student never pays twice for one course: refuse, and take the stale payment off the table.
        enrollment = directory().enrollment(item["student_id"], item["course_id"], consistent=True)
        if enrollment is not None and enrollment.get("payment_id") != item["payment_id"]:
            item = _withdraw(item)
            raise enrolled_conflict(
                item["student_id"],
                item["course_id"],
                enrollment,
                paymentId=item["payment_id"],
                paymentStatus=item["status"],
            )
    # What the provider says after confirming (a Stripe confirm, a PayPal capture), never what the client claims.
    try:
        update = gateway.confirm(item["transaction_id"], data.payment_method, attempt.provider_key)
    except ProviderRejected:
        # A confirm racing another one (or the provider's callback) finds the payment completed
        # already and the provider refuses to confirm it again: what the provider says it is now
        # decides, and the success is applied once like any other report of it.
        update = gateway.retrieve(item["transaction_id"])
        if RANK[update.status] < RANK[PaymentStatus.SUCCEEDED]:
            raise
    item, _ = advance(item, update, cause=f"confirm:{item['payment_id']}", extras=capture_refs(item, update))
    if update.status is PaymentStatus.FAILED and item["status"] == PaymentStatus.FAILED.value:
        raise declined(item, update)
    if item.get("duplicate_of"):
        raise _duplicate_conflict(item)
    return _confirmation(item)


# ---------------------------------------------------------------- history
def history(
    principal: Principal, student_id: str, provider: Provider | None, limit: int, cursor: str | None
) -> PageOf[Payment]:
    """A student's payments, newest first: one Query per page (by provider through GSI1)."""
    if principal.role is not Role.SERVICE:
        principal.require_owner_or_admin(student_id)
    page = store().payments_page(student_id, provider, limit, cursor)
    return PageOf[Payment](items=[Payment.model_validate(public(i)) for i in page.items], next_cursor=page.next_cursor)
