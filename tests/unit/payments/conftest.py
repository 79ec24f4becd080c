from __future__ import annotations

from dataclasses import dataclass

import pytest

from integration_core.domain.payments import PaymentStatus, Provider, ProviderPayment
from integration_core.money import Money
from tests.unit.payments.fakes import FakeDirectory, FakeEvents, FakePaymentsStore, FakeProvider, State


@dataclass
class World:
    state: State
    store: FakePaymentsStore
    provider: FakeProvider

    def payment(self, student: str = "stu_ana00001", course: str | None = "crs_math0001", amount: int = 5000) -> dict:
        item = self.store.new_payment(
            payment_id=f"pay_{len(self.state.records) + 1:08d}",
            student_id=student,
            provider=Provider.STRIPE,
            transaction_id=f"pi_{len(self.state.records) + 1}",
            price=Money(amount, "USD"),
            course_id=course,
            now="2026-01-01T00:00:00Z",
        )
        return self.store.record(item, [item["payment_id"], f"stripe:{item['transaction_id']}"])

    def stored(self, item: dict) -> dict:
        return self.store.reload(item)

    def event_types(self) -> list[str]:
        return [t for _, t in self.state.events]


def provider_says(item: dict, status: PaymentStatus, **extra) -> ProviderPayment:
    return ProviderPayment(item["transaction_id"], status, int(item["amount_minor"]), item["currency"], **extra)


@pytest.fixture
def world(monkeypatch) -> World:
    from integration_core.services.payments import callbacks, common, ledger

    state = State()
    store, events, provider = FakePaymentsStore(state), FakeEvents(state), FakeProvider()
    directory = FakeDirectory(state, events)
    for module in (common, ledger, callbacks):
        monkeypatch.setattr(module, "store", lambda: store)
    for module in (common, ledger):
        monkeypatch.setattr(module, "events", lambda: events)
        monkeypatch.setattr(module, "enrollments", lambda: directory)
    monkeypatch.setattr(common, "directory", lambda: directory)
    for module in (ledger, callbacks):
        monkeypatch.setattr(module, "adapter", lambda _provider: provider)
    return World(state, store, provider)


@dataclass
class Shop:
    """The plans and subscriptions services over the same fakes: a Stripe-like provider that takes a
    payment method, and a PayPal-like one whose buyer approves and comes back to our URLs."""

    world: World
    providers: dict[Provider, FakeProvider]

    @property
    def state(self) -> State:
        return self.world.state

    def event_types(self) -> list[str]:
        return self.world.event_types()


@pytest.fixture
def shop(world, monkeypatch) -> Shop:
    from integration_core.services.payments import checkout, plans, providers, subscriptions

    providers_by_name = {
        Provider.STRIPE: world.provider,
        Provider.PAYPAL: FakeProvider(
            provider=Provider.PAYPAL,
            name="FakePal",
            takes_payment_method=False,
            takes_return_urls=True,
            plan_attribute="fakepal_plan_id",
        ),
    }
    for module in (plans, subscriptions, checkout):
        monkeypatch.setattr(module, "store", lambda: world.store)
    for module in (plans, subscriptions, providers):
        monkeypatch.setattr(module, "adapter", lambda name: providers_by_name[Provider(name)])
    return Shop(world, providers_by_name)
