"""The ledger's transitions: a payment or subscription moves only forward (`domain.payments.RANK`,
enforced by the store's conditional writes); a payment's success, the enrollment it buys and its
events are one unit of work; a refund is applied once, by its id.

Confirm, status reads and provider callbacks all end here, so they may race, repeat or arrive out
of order and each change still happens exactly once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from integration_core.domain.payments import (
    RANK,
    SUBSCRIPTION_RANK,
    PaymentStatus,
    ProviderPayment,
    ProviderSubscription,
    SubscriptionStatus,
    moves_forward,
    refund_status,
)
from integration_core.errors import Conflict, DomainError, PaymentRequired
from integration_core.ids import stable_id
from integration_core.money import Money
from integration_core.observability import logger, metrics
from integration_core.ports.payments import NothingCaptured
from integration_core.services.payments.common import enrollments, events, now, publish, reload, store
from integration_core.services.payments.providers import adapter
from integration_core.stores.payments import Outcome, PaymentsStore, Write, provider_ref


def _event(
    payments: PaymentsStore, event_type: str, data: dict[str, Any], event_id: str, cause: str | None
) -> tuple[str, list[dict]]:
    recorded: tuple[str, list[dict]] = events().event_operations(
        payments.db, event_type, data, event_id=event_id, cause=cause
    )
    return recorded


def payment_completed(item: dict[str, Any], at: str) -> dict[str, Any]:
    data = {
        "paymentId": item["payment_id"],
        "transactionId": item["transaction_id"],
        "studentId": item["student_id"],
        "amount": Money(int(item["amount_minor"]), item["currency"]).to_decimal_string(),
        "amountMinor": int(item["amount_minor"]),
        "currency": item["currency"],
        "provider": item["provider"],
        "completedAt": at,
    }
    if item.get("course_id"):
        data["courseId"] = item["course_id"]
    if item.get("plan_id"):
        data["planId"] = item["plan_id"]
    if item.get("capture_id"):
        data["captureId"] = item["capture_id"]
    return data


# ---------------------------------------------------------------- a payment's success: one unit of work
@dataclass(frozen=True)
class Success:
    changed: bool
    event_ids: list[str]
    duplicate_of: str | None = None  # the earlier payment that enrolled the student: this one is refunded


class PaymentSuccess:
    """The one transaction of a payment that succeeds, composed from the payments store (status,
    `payment_completed`), the directory (the enrollment it buys, `student_enrolled`) and the caller's
    extra writes (a provider event id, a capture lookup). Not changed when it already happened.

    A student never pays twice for a course: when another payment enrolled them first, this one still
    succeeds (the money was taken) but is marked `duplicate_of` that payment, and the caller refunds
    it. The caller's extra writes then wait for that refund (`advance`), so a provider event that
    brought the success is applied again, refund included, if the refund fails."""

    def __init__(self, item: dict[str, Any], update: ProviderPayment, cause: str, extras: list[Write]) -> None:
        self.item, self.update, self.cause, self.extras = item, update, cause, extras
        self.payments = store()

    def _enrollment(self) -> dict[str, Any] | None:
        course_id = self.item.get("course_id")
        return enrollments().enrollment(self.item["student_id"], course_id, consistent=True) if course_id else None

    def commit(self) -> Success:
        item, payments, cause = self.item, self.payments, self.cause
        at, pay_id = now(), item["payment_id"]
        completed = dict(item)
        if self.update.capture_id:
            completed["capture_id"] = self.update.capture_id
        event_id, event_ops = _event(
            payments,
            "payment_completed",
            payment_completed(completed, at),
            stable_id("event", "payment_completed", pay_id),
            cause,
        )
        course_id, student_id = item.get("course_id"), item["student_id"]
        enrollment = self._enrollment()
        can_enroll = True
        for attempt in range(4):
            enroll = bool(course_id) and enrollment is None and can_enroll
            duplicate_of = (enrollment or {}).get("payment_id")
            duplicate_of = duplicate_of if duplicate_of and duplicate_of != pay_id else None
            extras = [] if duplicate_of else self.extras  # a duplicate's wait for its refund (see advance)
            writes: list[Write | dict] = [
                payments.success_write(item, self.update, at, duplicate_of),
                *extras,
                *event_ops,
            ]
            ids = [event_id]
            if enroll:
                enrolled_id, enrolled_ops = enrollments().enrolled_event_operations(
                    payments.db,
                    course_id,
                    student_id,
                    "payment",
                    at,
                    event_id=stable_id("event", "student_enrolled", pay_id),
                    cause=cause,
                )
                writes += enrollments().enrollment_operations(payments.db, course_id, student_id, "payment", at, pay_id)
                writes += enrolled_ops
                ids.append(enrolled_id)
            try:
                outcome = payments.commit(writes)
            except DomainError:
                if attempt == 3:
                    raise
                time.sleep(0.05 * (attempt + 1))  # a concurrent transaction on the same items
                continue
            if outcome is Outcome.APPLIED:
                return Success(True, ids, duplicate_of)
            if outcome is Outcome.ALREADY_APPLIED:
                return Success(False, [])
            # Raced: enrolled meanwhile (an admin, another payment): look again at who enrolled them. Not
            # enrolled after all: the course or the student is gone, and the payment still succeeds.
            enrollment = self._enrollment()
            can_enroll = enrollment is not None
        return Success(False, [])


# ---------------------------------------------------------------- moving a payment forward
def advance(
    item: dict[str, Any],
    update: ProviderPayment,
    *,
    cause: str,
    extras: list[Write] | None = None,
    reread: bool = True,
) -> tuple[dict[str, Any], bool]:
    """Apply what the provider says, only forwards. (record as it now stands, whether it changed);
    `reread=False`: a caller that needs only whether it changed (a callback) spares the re-read,
    and gets the record as it was passed."""
    payments = store()
    current = PaymentStatus(item["status"])
    extras = extras or []
    if update.status is PaymentStatus.SUCCEEDED:
        if RANK[current] >= RANK[PaymentStatus.SUCCEEDED]:
            item = settle_duplicate(item)
            payments.write_quietly(extras)
            return item, False
        success = PaymentSuccess(item, update, cause, extras).commit()
        if success.changed:
            publish(success.event_ids)
            logger.info("payment succeeded", extra={"payment_id": item["payment_id"], "cause": cause})
            metrics.add_metric(name="PaymentSucceeded", unit=MetricUnit.Count, value=1)
        if reread or success.duplicate_of:
            item = reload(item)
        if success.duplicate_of:
            logger.warning(
                "a second payment for one enrollment; refunding it",
                extra={"payment_id": item["payment_id"], "earlier_payment_id": success.duplicate_of},
            )
            item = settle_duplicate(item)
            payments.write_quietly(extras)
        return item, success.changed
    if update.status in (PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED):
        payments.write_quietly(extras)
        return item, False
    message = (update.failure_message or "")[:500] or None
    again = (
        update.status is PaymentStatus.FAILED
        and current is PaymentStatus.FAILED
        and (item.get("failure_code"), item.get("failure_message")) != (update.failure_code, message)
    )
    if not (moves_forward(current, update.status) or again):
        payments.write_quietly(extras)
        return item, False
    outcome = payments.commit([payments.status_write(item, update.status, update.failure_code, message), *extras])
    return reload(item) if reread else item, outcome is Outcome.APPLIED


def declined(item: dict[str, Any], update: ProviderPayment) -> PaymentRequired:
    """402 with this attempt's own decline (not an earlier one's); no code is null, for both providers."""
    return PaymentRequired(
        update.failure_message or "the payment was declined",
        paymentId=item["payment_id"],
        declineCode=update.failure_code or None,
    )


def capture_refs(item: dict[str, Any], update: ProviderPayment) -> list[Write]:
    """The lookup of a payment by its capture, written with the change that first reports it."""
    if not update.capture_id or item.get("capture_id"):
        return []
    return store().ref_writes(item, [provider_ref(item["provider"], update.capture_id)])


def settle_duplicate(item: dict[str, Any]) -> dict[str, Any]:
    """Refund what is left of a payment marked `duplicate_of` (the student was enrolled by an earlier
    payment), once: the provider's idempotency key is derived from the payment, and the refund is
    applied by its id. A no-op for any other payment."""
    earlier = item.get("duplicate_of")
    left = Money(int(item["amount_minor"]) - int(item.get("refunded_minor", 0)), item["currency"])
    if not earlier or left.amount_minor <= 0:
        return item
    key = f"duplicate-{item['payment_id']}-{left.amount_minor}"
    reason = f"duplicate: the student was already enrolled in {item.get('course_id')} by payment {earlier}"
    try:
        done = adapter(item["provider"]).refund(
            transaction_id=item["transaction_id"],
            capture_id=item.get("capture_id"),
            payment_id=item["payment_id"],
            amount=left,
            reason=None,
            idempotency_key=key,
            duplicate=True,
        )
    except NothingCaptured:
        return item  # nothing captured: nothing to give back
    item, _ = apply_refund(item, done.refund_id, done.amount_minor, reason, f"duplicate:{item['payment_id']}")
    metrics.add_metric(name="DuplicatePaymentRefunded", unit=MetricUnit.Count, value=1)
    return item


# ---------------------------------------------------------------- refunds
def apply_refund(
    item: dict[str, Any], refund_id: str, amount_minor: int, reason: str | None, cause: str | None
) -> tuple[dict[str, Any], bool]:
    """One refund, once: its own record (keyed by the provider's refund id), the payment's refunded
    total and status and `payment_refunded`, in one transaction. A full refund ends the enrollment
    it paid for when the directory handles that event (services/directory_reactions.py)."""
    payments = store()
    for _ in range(5):
        refunded = int(item.get("refunded_minor", 0))
        total = int(item["amount_minor"])
        new_total = min(total, refunded + amount_minor)
        status = refund_status(total, new_total)
        at = now()
        currency = item["currency"]
        event_id, event_ops = _event(
            payments,
            "payment_refunded",
            {
                "paymentId": item["payment_id"],
                "transactionId": item["transaction_id"],
                "studentId": item["student_id"],
                "refundId": refund_id,
                "amount": Money(amount_minor, currency).to_decimal_string(),
                "amountMinor": amount_minor,
                "refundedTotal": Money(new_total, currency).to_decimal_string(),
                "currency": currency,
                "provider": item["provider"],
                "status": status.value,
                "reason": reason,
                "refundedAt": at,
                **({"courseId": item["course_id"]} if item.get("course_id") else {}),
            },
            stable_id("event", "payment_refunded", item["provider"], refund_id),
            cause,
        )
        refund_writes = payments.refund_writes(
            item,
            refund_id=refund_id,
            amount_minor=amount_minor,
            reason=reason,
            seen_total=refunded,
            new_total=new_total,
            status=status,
            now=at,
        )
        outcome = payments.commit([*refund_writes, *event_ops], empty=Outcome.RACED)
        if outcome is Outcome.ALREADY_APPLIED:
            return reload(item), False  # this refund was applied already
        if outcome is Outcome.RACED:
            # Another refund moved the total meanwhile: read and recompute.
            item = reload(item)
            if RANK[PaymentStatus(item["status"])] < RANK[PaymentStatus.SUCCEEDED]:
                raise Conflict("the payment has not succeeded yet; nothing to refund") from None
            continue
        publish([event_id])
        return reload(item), True
    raise Conflict("the payment changed too often meanwhile; try again")


# ---------------------------------------------------------------- subscriptions
def advance_subscription(
    item: dict[str, Any],
    status: SubscriptionStatus,
    *,
    cause: str | None,
    extras: list[Write] | None = None,
    view: ProviderSubscription | None = None,
) -> tuple[dict[str, Any], bool]:
    """Move a subscription forward to `status`, with the one event of that change: a subscription
    cancelled while still pending never activated, so it publishes `subscription_canceled` alone."""
    payments = store()
    current = SubscriptionStatus(item["status"])
    extras = extras or []
    next_billing = view.next_billing_at if view is not None and status is SubscriptionStatus.ACTIVE else None
    if SUBSCRIPTION_RANK[status] <= SUBSCRIPTION_RANK[current]:
        if next_billing and next_billing != item.get("next_billing_date") and current is SubscriptionStatus.ACTIVE:
            extras = [*extras, payments.next_billing_write(item, next_billing)]
        payments.write_quietly(extras)
        return (reload(item) if extras else item), False
    at = now()
    active = status is SubscriptionStatus.ACTIVE
    name = "subscription_activated" if active else "subscription_canceled"
    data = {
        "subscriptionId": item["subscription_id"],
        "studentId": item["student_id"],
        "planId": item["plan_id"],
        "provider": item["provider"],
        "providerSubscriptionId": item["provider_subscription_id"],
        ("activatedAt" if active else "canceledAt"): at,
    }
    event_id, event_ops = _event(payments, name, data, stable_id("event", name, item["subscription_id"]), cause)
    outcome = payments.commit([payments.subscription_status_write(item, status, at, next_billing), *extras, *event_ops])
    if outcome is not Outcome.APPLIED:
        return reload(item), False
    publish([event_id])
    return reload(item), True
