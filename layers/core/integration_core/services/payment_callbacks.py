"""Provider callbacks: Stripe and PayPal events, verified, then applied to the ledger once each.

A callback is trusted only after its signature checks out over the raw body (Stripe: HMAC with the
endpoint secret and a 300 s tolerance; PayPal: its verify-webhook-signature API, plus our own
5-minute window on the signed transmission time). A forged or stale one is refused with 400. An
event is applied once: its id is recorded in the same transaction as the change, so a provider's
retry, or a replay of a captured delivery inside the window, is acknowledged and changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from integration_core import timeutil
from integration_core.domain.payments import (
    CallbackOutcome,
    PaymentStatus,
    PayPalEvent,
    Provider,
    ProviderPayment,
    StripeEvent,
    SubscriptionStatus,
)
from integration_core.errors import BadRequest, Conflict
from integration_core.money import Money
from integration_core.observability import logger
from integration_core.services import payments

TOLERANCE = timedelta(minutes=5)
STRIPE_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
}
PAYPAL_EVENTS = {
    "PAYMENT.CAPTURE.COMPLETED",
    "PAYMENT.CAPTURE.DENIED",
    "PAYMENT.CAPTURE.REFUNDED",
    "BILLING.SUBSCRIPTION.ACTIVATED",
    "BILLING.SUBSCRIPTION.CANCELLED",
    "PAYMENT.SALE.COMPLETED",
}
_PAYPAL_SUBSCRIPTION = {
    "BILLING.SUBSCRIPTION.ACTIVATED": SubscriptionStatus.ACTIVE,
    "BILLING.SUBSCRIPTION.CANCELLED": SubscriptionStatus.CANCELED,
}


@dataclass(frozen=True)
class Outcome:
    event_id: str
    event_type: str
    applied: bool
    note: str = ""

    def body(self) -> dict[str, Any]:
        outcome = CallbackOutcome(event_id=self.event_id, type=self.event_type, applied=self.applied, note=self.note)
        return outcome.model_dump(mode="json")


class NotYetKnown(Conflict):
    """The event is about one of our objects whose ledger record is not written yet: answered with
    409 so that the provider delivers it again later."""


def _forged(detail: str) -> BadRequest:
    logger.warning("callback refused", extra={"reason": detail})
    return BadRequest(detail)


# ---------------------------------------------------------------- Stripe
def stripe_event(raw_body: bytes, signature: str | None) -> Outcome:
    from integration_core.adapters import stripe_api

    if not signature:
        raise _forged("the Stripe-Signature header is missing")
    try:
        event = stripe_api.verify_event(raw_body, signature)
    except ValueError:
        raise _forged("the Stripe signature is not valid or too old") from None
    try:
        envelope = StripeEvent.model_validate(event)
    except ValidationError:
        raise _forged("the body is not a Stripe event") from None
    event_id, event_type = envelope.id, envelope.type
    if payments.seen_event(Provider.STRIPE, event_id):
        return Outcome(event_id, event_type, False, "already applied")
    if event_type not in STRIPE_EVENTS:
        return Outcome(event_id, event_type, False, "not an event this service uses")
    applied = _apply_stripe(event_id, event_type, envelope.data.object)
    logger.info("stripe event", extra={"event_id": event_id, "type": event_type, "applied": applied})
    return Outcome(event_id, event_type, applied)


def _apply_stripe(event_id: str, event_type: str, obj: dict[str, Any]) -> bool:
    from integration_core.adapters import stripe_api

    if event_type.startswith("payment_intent."):
        update = stripe_api.intent_payment(obj)
        item = payments.payment_for(Provider.STRIPE, update.reference, obj["id"])
        if item is None:
            return _unknown(Provider.STRIPE, event_id, event_type, update.reference)
        return payments.apply_payment_update(Provider.STRIPE, event_id, event_type, item, update)
    if event_type == "charge.refunded":
        item = payments.payment_for(Provider.STRIPE, None, obj.get("payment_intent"))
        if item is None:
            return _unknown(Provider.STRIPE, event_id, event_type, (obj.get("metadata") or {}).get("payment_id"))
        # The charge says how much in total; the refunds themselves say which are new.
        changed = False
        for refund in stripe_api.list_refunds(obj["payment_intent"]):
            if refund.status in ("succeeded", "pending"):
                changed |= payments.apply_refund_event(
                    Provider.STRIPE, event_id, event_type, item, refund.refund_id, refund.amount_minor
                )
                item = payments.reload(item)
        payments.record_only(Provider.STRIPE, event_id, event_type)
        return changed
    if event_type.startswith("customer.subscription."):
        view = stripe_api.subscription_view(obj)
        sub = payments.subscription_for(Provider.STRIPE, view.reference, obj["id"])
        if sub is None:
            return _unknown(Provider.STRIPE, event_id, event_type, view.reference)
        status = SubscriptionStatus.CANCELED if event_type.endswith(".deleted") else view.status
        return payments.apply_subscription_status(Provider.STRIPE, event_id, event_type, sub, status, view)
    # invoice.paid / invoice.payment_failed
    subscription_id = obj.get("subscription") or (
        ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    )
    if not subscription_id:
        payments.record_only(Provider.STRIPE, event_id, event_type)
        return False
    sub = payments.subscription_for(Provider.STRIPE, None, subscription_id)
    if sub is None:
        details = ((obj.get("parent") or {}).get("subscription_details") or {}).get("metadata") or {}
        return _unknown(Provider.STRIPE, event_id, event_type, details.get("subscription_id"))
    paid = event_type == "invoice.paid"
    amount = stripe_api.money(obj["amount_paid"] if paid else obj["amount_due"], obj["currency"])
    if amount.amount_minor == 0:
        payments.record_only(Provider.STRIPE, event_id, event_type)
        return False
    return payments.record_subscription_charge(Provider.STRIPE, event_id, event_type, sub, obj["id"], amount, paid)


def _unknown(provider: Provider, event_id: str, event_type: str, our_reference: str | None) -> bool:
    if our_reference:
        raise NotYetKnown(f"{our_reference} is not in the ledger yet; deliver {event_id} again later")
    payments.record_only(provider, event_id, event_type)
    return False


# ---------------------------------------------------------------- PayPal
def paypal_event(raw_body: bytes, headers: dict[str, str]) -> Outcome:
    from integration_core.adapters import paypal_api

    headers = {k.lower(): v for k, v in headers.items()}
    try:
        event = json.loads(raw_body)
    except ValueError:
        raise _forged("the body is not JSON") from None
    try:
        envelope = PayPalEvent.model_validate(event)
    except ValidationError:
        raise _forged("the body is not a PayPal event") from None
    sent = headers.get("paypal-transmission-time", "")
    try:
        age = timeutil.utc_now() - timeutil.parse_iso(sent.replace("Z", "+00:00"))
    except ValueError:
        raise _forged("the PayPal-Transmission-Time is missing or malformed") from None
    if abs(age) > TOLERANCE:
        raise _forged("the PayPal transmission is too old")
    if not paypal_api.verify_webhook(headers, event):
        raise _forged("PayPal did not confirm the signature")
    event_id, event_type = envelope.id, envelope.event_type
    if payments.seen_event(Provider.PAYPAL, event_id):
        return Outcome(event_id, event_type, False, "already applied")
    if event_type not in PAYPAL_EVENTS:
        return Outcome(event_id, event_type, False, "not an event this service uses")
    applied = _apply_paypal(event_id, event_type, envelope.resource)
    logger.info("paypal event", extra={"event_id": event_id, "type": event_type, "applied": applied})
    return Outcome(event_id, event_type, applied)


def _up_link(resource: dict[str, Any]) -> str | None:
    for link in resource.get("links") or []:
        if link.get("rel") == "up":
            return str(link.get("href", "")).rstrip("/").split("/")[-1] or None
    return None


def _apply_paypal(event_id: str, event_type: str, resource: dict[str, Any]) -> bool:
    if event_type in ("PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED"):
        order_id = ((resource.get("supplementary_data") or {}).get("related_ids") or {}).get("order_id")
        reference = resource.get("custom_id")
        item = payments.payment_for(Provider.PAYPAL, reference, order_id)
        if item is None:
            return _unknown(Provider.PAYPAL, event_id, event_type, reference)
        amount = Money.from_decimal(resource["amount"]["value"], resource["amount"]["currency_code"])
        completed = event_type.endswith("COMPLETED")
        update = ProviderPayment(
            provider_id=item["transaction_id"],
            status=PaymentStatus.SUCCEEDED if completed else PaymentStatus.FAILED,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            capture_id=resource.get("id"),
            failure_code=None if completed else "DENIED",
            failure_message=None if completed else "PayPal denied the capture",
        )
        return payments.apply_payment_update(Provider.PAYPAL, event_id, event_type, item, update)
    if event_type == "PAYMENT.CAPTURE.REFUNDED":
        reference = resource.get("custom_id")
        item = payments.payment_for(Provider.PAYPAL, reference, _up_link(resource))
        if item is None:
            return _unknown(Provider.PAYPAL, event_id, event_type, reference)
        amount = Money.from_decimal(resource["amount"]["value"], resource["amount"]["currency_code"])
        return payments.apply_refund_event(
            Provider.PAYPAL, event_id, event_type, item, resource["id"], amount.amount_minor
        )
    if event_type in _PAYPAL_SUBSCRIPTION:
        from integration_core.adapters import paypal_api

        reference = resource.get("custom_id")
        sub = payments.subscription_for(Provider.PAYPAL, reference, resource.get("id"))
        if sub is None:
            return _unknown(Provider.PAYPAL, event_id, event_type, reference)
        status = _PAYPAL_SUBSCRIPTION[event_type]
        view = paypal_api.subscription_view(resource) if resource.get("id") else None
        return payments.apply_subscription_status(Provider.PAYPAL, event_id, event_type, sub, status, view)
    # PAYMENT.SALE.COMPLETED: a subscription's periodic charge.
    sub = payments.subscription_for(Provider.PAYPAL, resource.get("custom"), resource.get("billing_agreement_id"))
    if sub is None:
        return _unknown(Provider.PAYPAL, event_id, event_type, None)
    amount = Money.from_decimal(resource["amount"]["total"], resource["amount"]["currency"])
    return payments.record_subscription_charge(
        Provider.PAYPAL, event_id, event_type, sub, resource["id"], amount, resource.get("state") == "completed"
    )
