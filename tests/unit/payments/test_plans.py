"""The plans service against in-memory fakes: only admins create plans, in amounts their currency
can hold, once per id; everyone signed in reads them, page by page; each provider's copy of a plan
is created on first need and remembered, the first one remembered winning."""

from __future__ import annotations

import pytest

from integration_core.domain.payment_models import PlanCreate
from integration_core.domain.payments import Provider
from integration_core.errors import Conflict, Forbidden, NotFound, Unprocessable
from integration_core.principal import Principal, Role
from integration_core.services.payments.plans import create_plan, get_plan, list_plans, provider_plan

ADMIN = Principal("adm_office", Role.ADMIN)
CALLERS = [
    Principal("adm_office", Role.ADMIN),
    Principal("svc_accounting", Role.SERVICE),
    Principal("stu_ana00001", Role.STUDENT),
    Principal("tch_maria0001", Role.TEACHER),
]


def plan_body(**fields) -> PlanCreate:
    return PlanCreate(
        **({"name": "Monthly English", "amount": "29.00", "currency": "USD", "interval": "month"} | fields)
    )


def test_an_admin_creates_a_plan_that_reads_back_in_the_currencys_units(shop):
    created = create_plan(ADMIN, plan_body(id="pln_monthly01"))
    assert created.id == "pln_monthly01"
    assert (created.amount, created.amount_minor, created.currency) == ("29.00", 2900, "USD")
    assert get_plan(CALLERS[2], "pln_monthly01") == created
    assert not {"PK", "SK", "GSI1PK", "GSI1SK", "kind"} & set(created)


@pytest.mark.parametrize("caller", CALLERS[1:], ids=lambda p: p.role.value)
def test_only_admins_create_plans_and_a_refused_one_is_not_stored(shop, caller):
    with pytest.raises(Forbidden):
        create_plan(caller, plan_body(id="pln_monthly01"))
    assert shop.state.plans == {}


def test_a_plan_id_is_taken_once_and_the_first_plan_stays(shop):
    create_plan(ADMIN, plan_body(id="pln_monthly01"))
    with pytest.raises(Conflict):
        create_plan(ADMIN, plan_body(id="pln_monthly01", amount="99.00"))
    assert get_plan(ADMIN, "pln_monthly01").amount == "29.00"


def test_a_plan_without_an_id_gets_a_new_plan_id(shop):
    first, second = create_plan(ADMIN, plan_body()), create_plan(ADMIN, plan_body())
    assert first.id.startswith("pln_") and second.id.startswith("pln_")
    assert first.id != second.id


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"amount": "29.005"}, "amount"),
        ({"currency": "JPY", "amount": "29.50"}, "amount"),
        ({"currency": "XYZ"}, "currency"),
    ],
)
def test_an_amount_or_currency_that_cannot_be_money_is_a_422_naming_it(shop, fields, field):
    with pytest.raises(Unprocessable) as caught:
        create_plan(ADMIN, plan_body(**fields))
    assert caught.value.errors[0]["field"] == field
    assert shop.state.plans == {}


def test_an_unknown_plan_is_not_found(shop):
    with pytest.raises(NotFound):
        get_plan(ADMIN, "pln_missing01")


@pytest.mark.parametrize("caller", CALLERS, ids=lambda p: p.role.value)
def test_every_role_lists_the_plans_page_by_page(shop, caller):
    for n in range(3):
        create_plan(ADMIN, plan_body(id=f"pln_monthly0{n}", name=f"Plan {n}"))
    first = list_plans(caller, 2, None)
    assert len(first.items) == 2 and first.next_cursor
    rest = list_plans(caller, 2, first.next_cursor)
    assert rest.next_cursor is None
    assert sorted(p.id for p in first.items + rest.items) == [
        "pln_monthly00",
        "pln_monthly01",
        "pln_monthly02",
    ]


def test_a_providers_copy_of_a_plan_is_created_once_and_remembered(shop):
    plan = create_plan(ADMIN, plan_body(id="pln_monthly01"))
    stored = shop.world.store.plan(plan.id)
    first = provider_plan(stored, Provider.STRIPE)
    again = provider_plan(shop.world.store.plan(plan.id), Provider.STRIPE)
    assert first == again
    assert shop.providers[Provider.STRIPE].plans_created == ["pln_monthly01"]
    # Each provider has its own copy, remembered under its own attribute.
    other = provider_plan(shop.world.store.plan(plan.id), Provider.PAYPAL)
    assert shop.providers[Provider.PAYPAL].plans_created == ["pln_monthly01"]
    remembered = shop.world.store.plan(plan.id)
    assert remembered["fake_plan_id"] == first and remembered["fakepal_plan_id"] == other


def test_two_racing_first_uses_of_a_plan_keep_the_copy_remembered_first(shop):
    create_plan(ADMIN, plan_body(id="pln_monthly01"))
    stale = shop.world.store.plan("pln_monthly01")  # both read the plan before either remembered a copy
    first = provider_plan(stale, Provider.STRIPE)
    second = provider_plan(dict(stale), Provider.STRIPE)
    assert second == first
    assert shop.world.store.plan("pln_monthly01")["fake_plan_id"] == first
