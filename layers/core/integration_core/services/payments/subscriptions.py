"""Subscriptions to plans: created at the provider the student chose, read back, cancelled; each
moves forward once (services.payments.ledger.advance_subscription)."""

from __future__ import annotations

from typing import Any

from integration_core.domain.payment_models import Subscription, SubscriptionCancel, SubscriptionCreate
from integration_core.domain.payments import ProviderSubscription, SubscriptionStatus
from integration_core.errors import NotFound, invalid
from integration_core.money import Money
from integration_core.ports.payments import Subscribe
from integration_core.principal import Principal, Role
from integration_core.services.payments.checkout import customer
from integration_core.services.payments.common import (
    Attempt,
    by_ref,
    now,
    payer,
    provider_check,
    public,
    return_urls,
    store,
    student,
)
from integration_core.services.payments.ledger import advance_subscription
from integration_core.services.payments.plans import load_plan, provider_plan
from integration_core.services.payments.providers import adapter, only_for
from integration_core.stores.payments import provider_ref


def _public(item: dict[str, Any], provider_view: ProviderSubscription | None = None) -> Subscription:
    out = public(item)
    if provider_view is not None and item["status"] == SubscriptionStatus.PENDING.value:
        out |= {"approval_url": provider_view.approval_url, "client_secret": provider_view.client_secret}
    return Subscription.model_validate(out)


def create_subscription(principal: Principal, data: SubscriptionCreate, attempt: Attempt) -> Subscription:
    student_id = payer(principal, data.student_id)
    try:
        plan = load_plan(data.plan_id)
    except NotFound:
        raise invalid("planId", f"plan {data.plan_id} does not exist") from None
    price = Money(int(plan["amount_minor"]), plan["currency"])
    provider_check(data.provider, price, "planId")
    gateway = adapter(data.provider)
    if not gateway.takes_return_urls and (data.return_url or data.cancel_url):
        raise invalid("returnUrl" if data.return_url else "cancelUrl", only_for(lambda a: a.takes_return_urls))
    urls = return_urls(data.return_url, data.cancel_url) if gateway.takes_return_urls else {}
    subscriber = student(student_id)
    subscription_id = attempt.stable("subscription")
    on_provider = provider_plan(plan, data.provider)
    if data.payment_method and not gateway.takes_payment_method:
        raise invalid("paymentMethod", only_for(lambda a: a.takes_payment_method))
    created = gateway.subscribe(
        Subscribe(
            subscription_id=subscription_id,
            student_id=student_id,
            plan_id=plan["id"],
            provider_plan=on_provider,
            customer=customer(gateway, subscriber),
            payment_method=data.payment_method,
            return_url=urls.get("return"),
            cancel_url=urls.get("cancel"),
            idempotency_key=attempt.provider_key,
        )
    )
    payments = store()
    item = payments.new_subscription(
        subscription_id=subscription_id,
        student_id=student_id,
        plan=plan,
        provider=data.provider,
        provider_subscription_id=created.provider_id,
        price=price,
        now=now(),
    )
    item = payments.record(item, [subscription_id, provider_ref(data.provider, created.provider_id)])
    item, _ = advance_subscription(item, created.status, cause=f"subscribe:{subscription_id}", view=created)
    return _public(item, created)


def _find_subscription(principal: Principal, subscription_id: str) -> dict[str, Any]:
    item = by_ref(subscription_id)
    if item.get("kind") != "subscription":
        raise NotFound(f"no subscription {subscription_id}")
    if principal.role is not Role.SERVICE:
        principal.require_owner_or_admin(item["student_id"])
    return item


def get_subscription(principal: Principal, subscription_id: str) -> Subscription:
    item = _find_subscription(principal, subscription_id)
    current = adapter(item["provider"]).subscription(item["provider_subscription_id"])
    item, _ = advance_subscription(item, current.status, cause=f"sync:{subscription_id}", view=current)
    return _public(item, current)


def cancel_subscription(
    principal: Principal, subscription_id: str, data: SubscriptionCancel, attempt: Attempt
) -> Subscription:
    item = _find_subscription(principal, subscription_id)
    if item["status"] == SubscriptionStatus.CANCELED.value:
        return _public(item)
    current = adapter(item["provider"]).cancel_subscription(
        item["provider_subscription_id"], data.reason, attempt.provider_key
    )
    item, _ = advance_subscription(item, current.status, cause=f"cancel:{subscription_id}", view=current)
    return _public(item)
