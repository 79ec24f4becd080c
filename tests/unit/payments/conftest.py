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
        monkeypatch.setattr(module, "directory", lambda: directory)
    for module in (ledger, callbacks):
        monkeypatch.setattr(module, "adapter", lambda _provider: provider)
    return World(state, store, provider)
