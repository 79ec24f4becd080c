"""Plans: what a subscription buys (an amount each interval), and each provider's copy of a plan,
created at the provider on first need and remembered on the plan."""

from __future__ import annotations

from typing import Any

from integration_core.domain.payment_models import Plan, PlanCreate
from integration_core.domain.payments import Provider
from integration_core.errors import Conflict, NotFound, invalid
from integration_core.ids import new_id
from integration_core.models import PageOf
from integration_core.money import CurrencyError, MoneyError, parse_amount
from integration_core.principal import Principal, Role
from integration_core.services.payments.common import now, public, store
from integration_core.services.payments.providers import adapter


def create_plan(principal: Principal, data: PlanCreate) -> Plan:
    principal.require(Role.ADMIN)
    try:
        price = parse_amount(data.amount, data.currency)
    except CurrencyError as error:
        raise invalid("currency", str(error)) from None
    except MoneyError as error:
        raise invalid("amount", str(error)) from None
    plan_id = data.id or new_id("plan")
    item = store().create_plan(plan_id=plan_id, name=data.name, price=price, interval=data.interval, now=now())
    if item is None:
        raise Conflict(f"plan {plan_id} already exists")
    return Plan.model_validate(public(item))


def load_plan(plan_id: str) -> dict[str, Any]:
    plan = store().plan(plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id} does not exist")
    return plan


def get_plan(principal: Principal, plan_id: str) -> Plan:
    return Plan.model_validate(public(load_plan(plan_id)))


def list_plans(principal: Principal, limit: int, cursor: str | None) -> PageOf[Plan]:
    principal.require(Role.STUDENT, Role.ADMIN, Role.SERVICE, Role.TEACHER)
    page = store().plans_page(limit, cursor)
    return PageOf[Plan](items=[Plan.model_validate(public(i)) for i in page.items], next_cursor=page.next_cursor)


def provider_plan(plan: dict[str, Any], provider: Provider) -> str:
    """The plan's object at the provider (a Stripe Price, a PayPal Plan), created on first need and remembered."""
    gateway = adapter(provider)
    if plan.get(gateway.plan_attribute):
        return str(plan[gateway.plan_attribute])
    return store().remember_provider_plan(plan, gateway.plan_attribute, gateway.ensure_plan(plan))
