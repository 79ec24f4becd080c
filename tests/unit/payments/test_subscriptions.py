"""The subscriptions service against in-memory fakes: who may subscribe whom, what each provider
takes, one subscription per idempotency key, the provider's customer created once per student, and
a subscription that moves only forward with one event per change (activated, canceled), read back
and cancelled at the provider once."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from integration_core.domain.payment_models import PlanCreate, SubscriptionCancel, SubscriptionCreate
from integration_core.domain.payments import Provider, ProviderSubscription, SubscriptionStatus
from integration_core.errors import Forbidden, NotFound, Unprocessable
from integration_core.principal import Principal, Role
from integration_core.services.payments.common import Attempt
from integration_core.services.payments.plans import create_plan
from integration_core.services.payments.subscriptions import (
    cancel_subscription,
    create_subscription,
)
from integration_core.services.payments.subscriptions import get_subscription as read_subscription

ADMIN = Principal("adm_office", Role.ADMIN)
SERVICE = Principal("svc_accounting", Role.SERVICE)
ANA = Principal("stu_ana00001", Role.STUDENT)
BEN = Principal("stu_ben00001", Role.STUDENT)
TEACHER = Principal("tch_maria0001", Role.TEACHER)
PLAN = "pln_monthly01"
ACTIVE, CANCELED, PENDING = SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELED, SubscriptionStatus.PENDING


@pytest.fixture
def plan(shop) -> str:
    body = PlanCreate(id=PLAN, name="Monthly English", amount="29.00", currency="USD", interval="month")
    return create_plan(ADMIN, body).id


def _fields(answer: BaseModel) -> dict:
    """The answer's fields by their Python names, the unset ones left out (as the API shows them)."""
    return answer.model_dump(by_alias=False, exclude_none=True)


def subscribe(caller: Principal, key: str = "subscribe-key-1", **fields):
    body = SubscriptionCreate(**({"plan_id": PLAN, "provider": "stripe"} | fields))
    return _fields(create_subscription(caller, body, Attempt(caller, "subscribe", key)))


def cancel(caller: Principal, subscription_id: str, key: str = "cancel-key-01"):
    return _fields(cancel_subscription(caller, subscription_id, SubscriptionCancel(), Attempt(caller, "cancel", key)))


def get_subscription(caller: Principal, subscription_id: str) -> dict:
    return _fields(read_subscription(caller, subscription_id))


def provider_now_says(shop, created: dict, status: SubscriptionStatus, next_billing_at: str | None = None) -> None:
    fake = shop.providers[Provider(created["provider"])]
    pid = created["provider_subscription_id"]
    fake.subscriptions[pid] = ProviderSubscription(pid, status, next_billing_at=next_billing_at)


# ---------------------------------------------------------------- who subscribes whom
def test_a_student_subscribes_herself_to_a_plan_on_its_terms(shop, plan):
    created = subscribe(ANA)
    assert created["student_id"] == "stu_ana00001"
    assert (created["status"], created["plan_id"], created["provider"]) == ("pending", PLAN, "stripe")
    assert (created["amount"], created["currency"], created["billing_cycle"]) == ("29.00", "USD", "monthly")
    # A pending subscription carries what the buyer needs to finish at the provider.
    assert created["client_secret"] and created["approval_url"]
    [request] = shop.providers[Provider.STRIPE].subscribed
    assert (request.student_id, request.plan_id, request.subscription_id) == (
        "stu_ana00001",
        PLAN,
        created["subscription_id"],
    )
    assert shop.event_types() == []  # nothing has happened yet that a receiver is told of


def test_a_student_cannot_subscribe_another_student(shop, plan):
    with pytest.raises(Forbidden):
        subscribe(ANA, student_id="stu_ben00001")
    assert shop.providers[Provider.STRIPE].subscribed == []


def test_a_teacher_cannot_subscribe_anyone(shop, plan):
    with pytest.raises(Forbidden):
        subscribe(TEACHER, student_id="stu_ana00001")
    assert shop.providers[Provider.STRIPE].subscribed == []


@pytest.mark.parametrize("caller", [ADMIN, SERVICE], ids=["admin", "service"])
def test_staff_subscribe_a_student_they_name_and_must_name_one(shop, plan, caller):
    with pytest.raises(Unprocessable) as caught:
        subscribe(caller)
    assert caught.value.errors[0]["field"] == "studentId"
    assert subscribe(caller, student_id="stu_ana00001")["student_id"] == "stu_ana00001"


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"plan_id": "pln_missing01"}, "planId"),
        ({"student_id": "stu_gone00001"}, "studentId"),
        ({"return_url": "https://app.school.example/back"}, "returnUrl"),  # the Stripe-like one takes none
        ({"provider": "paypal", "payment_method": "pm_card_visa"}, "paymentMethod"),  # the PayPal-like one neither
    ],
)
def test_what_the_plan_the_student_or_the_provider_refuses_is_a_422_naming_it(shop, plan, fields, field):
    shop.state.unknown_students.add("stu_gone00001")
    with pytest.raises(Unprocessable) as caught:
        subscribe(ADMIN, **({"student_id": "stu_ana00001"} | fields))
    assert caught.value.errors[0]["field"] == field
    assert all(not p.subscribed for p in shop.providers.values())
    assert not [r for r in shop.state.records.values() if r.get("kind") == "subscription"]


def test_a_plan_in_a_currency_the_provider_cannot_take_is_refused_before_calling_it(shop):
    create_plan(ADMIN, PlanCreate(id="pln_yearly01", name="Yearly", amount="29.50", currency="HUF", interval="year"))
    with pytest.raises(Unprocessable) as caught:
        subscribe(ANA, plan_id="pln_yearly01", provider="paypal")
    assert caught.value.errors[0]["field"] == "planId"
    assert shop.providers[Provider.PAYPAL].subscribed == []


def test_the_approving_provider_gets_our_return_urls_unless_the_request_names_the_schools_own(shop, plan):
    subscribe(ANA, key="subscribe-key-1", provider="paypal")
    subscribe(ANA, key="subscribe-key-2", provider="paypal", return_url="https://app.school.example/done")
    default, named = shop.providers[Provider.PAYPAL].subscribed
    assert default.return_url.endswith("/return") and default.cancel_url.endswith("/cancel")
    assert named.return_url == "https://app.school.example/done"
    with pytest.raises(Unprocessable) as caught:
        subscribe(ANA, key="subscribe-key-3", provider="paypal", return_url="https://evil.example/done")
    assert caught.value.errors[0]["field"] == "returnUrl"


# ---------------------------------------------------------------- once per key, customer once
def test_the_same_key_sent_twice_is_one_subscription_at_the_provider_and_in_the_ledger(shop, plan):
    first, again = subscribe(ANA), subscribe(ANA)
    assert again["subscription_id"] == first["subscription_id"]
    requests = shop.providers[Provider.STRIPE].subscribed
    assert len({r.idempotency_key for r in requests}) == 1
    assert len(shop.providers[Provider.STRIPE].subscriptions) == 1
    assert len([r for r in shop.state.records.values() if r.get("kind") == "subscription"]) == 1


def test_another_key_or_another_caller_with_the_same_key_is_another_subscription(shop, plan):
    mine = subscribe(ANA, key="subscribe-key-1")
    other_key = subscribe(ANA, key="subscribe-key-2")
    bens = subscribe(BEN, key="subscribe-key-1")
    assert len({mine["subscription_id"], other_key["subscription_id"], bens["subscription_id"]}) == 3


def test_a_students_customer_at_the_provider_is_created_once(shop, plan):
    subscribe(ANA, key="subscribe-key-1")
    subscribe(ANA, key="subscribe-key-2")
    subscribe(BEN, key="subscribe-key-1")
    stripe = shop.providers[Provider.STRIPE]
    assert stripe.customers_created == ["stu_ana00001", "stu_ben00001"]
    assert [r.customer for r in stripe.subscribed] == ["cus_1", "cus_1", "cus_2"]


# ---------------------------------------------------------------- forward only, one event per change
def test_a_subscription_active_at_once_publishes_its_activation_once(shop, plan):
    shop.providers[Provider.STRIPE].subscribe_status = ACTIVE
    created = subscribe(ANA)
    assert created["status"] == "active" and created["start_date"]
    assert "client_secret" not in created
    subscribe(ANA)  # the repeat
    assert shop.event_types() == ["subscription_activated"]
    assert shop.state.dispatched == [e for e, _ in shop.state.events]


def test_reading_syncs_the_providers_status_forward_once(shop, plan):
    created = subscribe(ANA)
    provider_now_says(shop, created, ACTIVE, next_billing_at="2026-02-01T00:00:00Z")
    read = get_subscription(ANA, created["subscription_id"])
    assert read["status"] == "active" and read["next_billing_date"] == "2026-02-01T00:00:00Z"
    get_subscription(ANA, created["subscription_id"])
    assert shop.event_types() == ["subscription_activated"]


def test_an_active_subscription_takes_the_providers_next_billing_date_without_an_event(shop, plan):
    created = subscribe(ANA)
    provider_now_says(shop, created, ACTIVE, next_billing_at="2026-02-01T00:00:00Z")
    get_subscription(ANA, created["subscription_id"])
    provider_now_says(shop, created, ACTIVE, next_billing_at="2026-03-01T00:00:00Z")
    assert get_subscription(ANA, created["subscription_id"])["next_billing_date"] == "2026-03-01T00:00:00Z"
    assert shop.event_types() == ["subscription_activated"]


def test_a_provider_saying_pending_again_never_moves_an_active_subscription_back(shop, plan):
    created = subscribe(ANA)
    provider_now_says(shop, created, ACTIVE)
    get_subscription(ANA, created["subscription_id"])
    provider_now_says(shop, created, PENDING)
    assert get_subscription(ANA, created["subscription_id"])["status"] == "active"
    assert shop.event_types() == ["subscription_activated"]


def test_cancelling_cancels_at_the_provider_once_and_publishes_once(shop, plan):
    shop.providers[Provider.STRIPE].subscribe_status = ACTIVE
    created = subscribe(ANA)
    first = cancel(ANA, created["subscription_id"])
    again = cancel(ANA, created["subscription_id"], key="cancel-key-02")
    assert first["status"] == again["status"] == "canceled"
    assert first["cancelled_at"] and "next_billing_date" not in first
    assert len(shop.providers[Provider.STRIPE].cancels) == 1
    assert shop.event_types() == ["subscription_activated", "subscription_canceled"]
    # A cancelled subscription stays cancelled whatever the provider says later.
    provider_now_says(shop, created, ACTIVE)
    assert get_subscription(ANA, created["subscription_id"])["status"] == "canceled"
    assert shop.event_types() == ["subscription_activated", "subscription_canceled"]


def test_a_subscription_cancelled_while_pending_never_announces_an_activation(shop, plan):
    created = subscribe(ANA)
    assert cancel(ANA, created["subscription_id"])["status"] == "canceled"
    assert shop.event_types() == ["subscription_canceled"]


# ---------------------------------------------------------------- whose subscription
def test_another_student_can_neither_read_nor_cancel_a_subscription(shop, plan):
    created = subscribe(ANA)
    with pytest.raises(Forbidden):
        get_subscription(BEN, created["subscription_id"])
    with pytest.raises(Forbidden):
        cancel(BEN, created["subscription_id"])
    assert shop.providers[Provider.STRIPE].cancels == []


@pytest.mark.parametrize("caller", [ADMIN, SERVICE], ids=["admin", "service"])
def test_staff_read_and_cancel_any_students_subscription(shop, plan, caller):
    created = subscribe(ANA)
    assert get_subscription(caller, created["subscription_id"])["subscription_id"] == created["subscription_id"]
    assert cancel(caller, created["subscription_id"])["status"] == "canceled"


def test_an_unknown_subscription_or_a_payments_id_is_not_found(shop, plan):
    with pytest.raises(NotFound):
        get_subscription(ADMIN, "sbs_missing01")
    payment = shop.world.payment()
    with pytest.raises(NotFound):
        get_subscription(ADMIN, payment["payment_id"])
