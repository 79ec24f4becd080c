"""Refunds by staff: any part of what is left of a succeeded payment, at the provider that took it,
then applied to the ledger once (services.payments.ledger.apply_refund)."""

from __future__ import annotations

from typing import Any

from integration_core.domain.payment_models import Refund, RefundPayment
from integration_core.domain.payments import RANK, PaymentStatus, Provider
from integration_core.errors import Conflict, invalid
from integration_core.money import Money, MoneyError, parse_amount
from integration_core.principal import Principal
from integration_core.services.payments.common import STAFF, Attempt, find_payment, now, provider_check
from integration_core.services.payments.ledger import apply_refund
from integration_core.services.payments.providers import adapter

_SUCCEEDED = ("succeeded", "completed")
_FAILED = ("failed", "canceled", "cancelled")


def left_to_refund(item: dict[str, Any]) -> Money:
    return Money(int(item["amount_minor"]) - int(item.get("refunded_minor", 0)), item["currency"])


def refund_amount(item: dict[str, Any], amount: str | None) -> Money:
    """What a refund request asks for: all that is left, or a part of it; never more."""
    left = left_to_refund(item)
    if amount is None:
        asked = left
    else:
        try:
            asked = parse_amount(amount, left.currency)
        except MoneyError as error:
            raise invalid("amount", str(error)) from None
    if left.amount_minor <= 0 or asked.amount_minor > left.amount_minor:
        raise invalid("amount", f"only {left.to_decimal_string()} {left.currency} is left to refund")
    return asked


def refund(principal: Principal, data: RefundPayment, attempt: Attempt) -> Refund:
    principal.require(*STAFF)
    item = find_payment(principal, data.transaction_id, data.provider)
    if RANK[PaymentStatus(item["status"])] < RANK[PaymentStatus.SUCCEEDED]:
        raise Conflict(f"payment {item['payment_id']} is {item['status']}; only a succeeded payment can be refunded")
    currency = item["currency"]
    amount = refund_amount(item, data.amount)
    provider_check(Provider(item["provider"]), amount, "amount")
    done = adapter(data.provider).refund(
        transaction_id=item["transaction_id"],
        capture_id=item.get("capture_id"),
        payment_id=item["payment_id"],
        amount=amount,
        reason=data.reason,
        idempotency_key=attempt.provider_key,
    )
    item, _ = apply_refund(item, done.refund_id, done.amount_minor, data.reason, f"refund:{attempt.key}")
    provider_status = done.status.lower()
    succeeded = provider_status in _SUCCEEDED
    status = "succeeded" if succeeded else ("failed" if provider_status in _FAILED else "pending")
    at = now()
    return Refund.model_validate(
        {
            "refund_id": done.refund_id,
            "payment_id": item["payment_id"],
            "transaction_id": item["transaction_id"],
            "provider": item["provider"],
            "amount": Money(done.amount_minor, currency).to_decimal_string(),
            "amount_minor": done.amount_minor,
            "currency": currency,
            "reason": data.reason,
            "status": status,
            "payment_status": item["status"],
            "refunded_amount": Money(int(item["refunded_minor"]), currency).to_decimal_string(),
            "remaining_amount": left_to_refund(item).to_decimal_string(),
            "created_at": at,
            "completed_at": at if succeeded else None,
        }
    )
