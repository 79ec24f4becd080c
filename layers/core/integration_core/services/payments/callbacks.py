"""Provider callbacks: verified by the provider's adapter, turned into a provider event, then applied
to the ledger once each.

A callback is trusted only after its adapter checks it over the raw body (Stripe: HMAC with the
endpoint secret and a 300 s tolerance; PayPal: its verify-webhook-signature API, plus our own
5-minute window on the signed transmission time). A forged or stale one is refused with 400. An
event is applied once: its id is recorded in the same transaction as the change, so a provider's
retry, or a replay of a captured delivery inside the window, is acknowledged and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integration_core.domain.payments import (
    PaymentStatus,
    Provider,
    ProviderPayment,
    ProviderSubscription,
    SubscriptionStatus,
)
from integration_core.errors import BadRequest, Conflict
from integration_core.ids import has_prefix, stable_id
from integration_core.money import Money
from integration_core.observability import logger
from integration_core.ports.payments import (
    CallbackRefused,
    PaymentChanged,
    PaymentRefunded,
    ProviderEvent,
    SubscriptionChanged,
    SubscriptionCharged,
)
from integration_core.services.payments.common import now, reload, store
from integration_core.services.payments.ledger import advance, advance_subscription, apply_refund, capture_refs
from integration_core.services.payments.providers import adapter
from integration_core.stores.payments import provider_ref


@dataclass(frozen=True)
class Outcome:
    event_id: str
    event_type: str
    applied: bool
    note: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "received": True,
            "eventId": self.event_id,
            "type": self.event_type,
            "applied": self.applied,
            "note": self.note,
        }


class NotYetKnown(Conflict):
    """The event is about one of our objects whose ledger record is not written yet: answered with
    409 so that the provider delivers it again later."""


def receive(provider: Provider, raw_body: bytes, headers: dict[str, str]) -> Outcome:
    """One callback from `provider`: verified, then applied once."""
    gateway = adapter(provider)
    try:
        callback = gateway.verify_callback(raw_body, {k.lower(): v for k, v in headers.items()})
    except CallbackRefused as refused:
        logger.warning("callback refused", extra={"reason": str(refused)})
        raise BadRequest(str(refused)) from None
    event_id, event_type = callback.event_id, callback.event_type
    if seen_event(provider, event_id):
        return Outcome(event_id, event_type, False, "already applied")
    event = gateway.parse_callback(callback)
    if event is None:
        return Outcome(event_id, event_type, False, "not an event this service uses")
    applied = apply(provider, event_id, event_type, event)
    logger.info(f"{provider.value} event", extra={"event_id": event_id, "type": event_type, "applied": applied})
    return Outcome(event_id, event_type, applied)


def apply(provider: Provider, event_id: str, event_type: str, event: ProviderEvent) -> bool:
    """Apply one provider event to the ledger; whether it changed anything."""
    if isinstance(event, PaymentChanged):
        item = payment_for(provider, event.reference, event.provider_id)
        if item is None:
            return _unknown(provider, event_id, event_type, event.awaited)
        return apply_payment_update(provider, event_id, event_type, item, event.update)
    if isinstance(event, PaymentRefunded):
        item = payment_for(provider, event.reference, event.provider_id)
        if item is None:
            return _unknown(provider, event_id, event_type, event.awaited)
        refunds = (
            event.refunds if event.refunds is not None else adapter(provider).settled_refunds(event.provider_id or "")
        )
        changed = False
        for done in refunds:
            changed |= apply_refund(item, done.refund_id, done.amount_minor, None, f"{provider.value}:{event_id}")[1]
            item = reload(item)
        record_only(provider, event_id, event_type)
        return changed
    if isinstance(event, SubscriptionChanged):
        sub = subscription_for(provider, event.reference, event.provider_id)
        if sub is None:
            return _unknown(provider, event_id, event_type, event.awaited)
        return apply_subscription_status(provider, event_id, event_type, sub, event.status, event.view)
    if isinstance(event, SubscriptionCharged):
        sub = subscription_for(provider, event.reference, event.provider_id)
        if sub is None:
            return _unknown(provider, event_id, event_type, event.awaited)
        if event.amount.amount_minor == 0:
            record_only(provider, event_id, event_type)
            return False
        return record_subscription_charge(
            provider, event_id, event_type, sub, event.charge_id, event.amount, event.succeeded
        )
    record_only(provider, event_id, event_type)  # Unrelated
    return False


def _unknown(provider: Provider, event_id: str, event_type: str, our_reference: str | None) -> bool:
    if our_reference:
        raise NotYetKnown(f"{our_reference} is not in the ledger yet; deliver {event_id} again later")
    record_only(provider, event_id, event_type)
    return False


# ---------------------------------------------------------------- the ledger side
def seen_event(provider: Provider, event_id: str) -> bool:
    return store().seen_event(provider, event_id)


def record_only(provider: Provider, event_id: str, event_type: str) -> None:
    payments = store()
    payments.write_quietly([payments.provider_event_write(provider, event_id, event_type)])


def _record_for(kind: str, provider: Provider, reference: str | None, provider_id: str | None) -> dict[str, Any] | None:
    """The ledger record (a payment or subscription, by `kind`) a provider object belongs to: by our id
    when it carries one (metadata, custom_id), else by the provider's id."""
    payments = store()
    if reference and has_prefix(reference, kind):
        found = payments.by_ref(reference)
        if found:
            return found
    return payments.by_ref(provider_ref(provider, provider_id)) if provider_id else None


def payment_for(provider: Provider, reference: str | None, provider_id: str | None) -> dict[str, Any] | None:
    return _record_for("payment", provider, reference, provider_id)


def subscription_for(provider: Provider, reference: str | None, provider_id: str | None) -> dict[str, Any] | None:
    return _record_for("subscription", provider, reference, provider_id)


def apply_payment_update(
    provider: Provider, event_id: str, event_type: str, item: dict[str, Any], update: ProviderPayment
) -> bool:
    extras = [store().provider_event_write(provider, event_id, event_type), *capture_refs(item, update)]
    _, changed = advance(item, update, cause=f"{provider.value}:{event_id}", extras=extras, reread=False)
    return changed


def apply_subscription_status(
    provider: Provider,
    event_id: str,
    event_type: str,
    item: dict[str, Any],
    status: SubscriptionStatus,
    view: ProviderSubscription | None = None,
) -> bool:
    _, changed = advance_subscription(
        item,
        status,
        cause=f"{provider.value}:{event_id}",
        extras=[store().provider_event_write(provider, event_id, event_type)],
        view=view,
    )
    return changed


def record_subscription_charge(
    provider: Provider,
    event_id: str,
    event_type: str,
    subscription: dict[str, Any],
    charge_id: str,
    amount: Money,
    succeeded: bool,
) -> bool:
    """A subscription's periodic charge (an invoice, a sale) joins the ledger once."""
    payments = store()
    payment_id = stable_id("payment", provider.value, charge_id)
    item = payments.new_payment(
        payment_id=payment_id,
        student_id=subscription["student_id"],
        provider=provider,
        transaction_id=charge_id,
        price=amount,
        plan_id=subscription["plan_id"],
        subscription_id=subscription["subscription_id"],
        now=now(),
    )
    item = payments.record(item, [payment_id, provider_ref(provider, charge_id)])
    status = PaymentStatus.SUCCEEDED if succeeded else PaymentStatus.FAILED
    update = ProviderPayment(
        charge_id, status, amount.amount_minor, amount.currency, failure_code=None if succeeded else "charge_failed"
    )
    changed = apply_payment_update(provider, event_id, event_type, item, update)
    if succeeded:
        advance_subscription(subscription, SubscriptionStatus.ACTIVE, cause=f"{provider.value}:{event_id}")
    return changed
