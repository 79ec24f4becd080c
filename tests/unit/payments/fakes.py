"""In-memory fakes for the payment services: a payments store (payments, refunds, subscriptions,
plans, provider customers), the directory's and the outbox's operations it joins, and a provider
implementing the payments port. A fake transaction applies all of its writes or none, and a refused
one names its outcome as the real store does."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

from integration_core import keys
from integration_core.domain.payments import (
    RANK,
    SUBSCRIPTION_RANK,
    PaymentStatus,
    Provider,
    ProviderPayment,
    ProviderRefund,
    ProviderSubscription,
    SubscriptionStatus,
)
from integration_core.money import Money
from integration_core.ports.payments import Callback, Customer, NothingCaptured, Subscribe
from integration_core.stores.payments import Outcome, PaymentsStore, Write

_stamps = itertools.count(1)


@dataclass
class State:
    records: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    refs: dict[str, tuple[str, str]] = field(default_factory=dict)
    provider_events: set[tuple[str, str]] = field(default_factory=set)
    events: list[tuple[str, str]] = field(default_factory=list)  # (event id, type), as recorded
    enrollments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    dispatched: list[str] = field(default_factory=list)
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[tuple[str, str], str] = field(default_factory=dict)  # (student, provider) -> customer
    unknown_students: set[str] = field(default_factory=set)


# A write is (check, apply): check(state) -> None when it may apply, else the outcome it refuses with.
@dataclass(frozen=True)
class Op:
    check: Any
    apply: Any


class FakePaymentsStore(PaymentsStore):
    """The store's interface over `State` (no DynamoDB): what the services see of it."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.db = None  # type: ignore[assignment]  # the fakes of the directory and the outbox ignore it

    def commit(self, writes: list[Write | dict[str, Any]], *, empty: Outcome = Outcome.ALREADY_APPLIED) -> Outcome:
        ops = [w.op if isinstance(w, Write) else w for w in writes]
        for write, op in zip(writes, ops, strict=True):
            refused = op.check(self.state)
            if refused:
                return write.when_refused if isinstance(write, Write) else Outcome.RACED
        for op in ops:
            op.apply(self.state)
        return Outcome.APPLIED

    def write_quietly(self, writes: list[Write]) -> None:
        if writes:
            self.commit(list(writes))

    def reload(self, item: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(self.state.records.get((item["PK"], item["SK"]), item))

    def by_ref(self, reference: str) -> dict[str, Any] | None:
        key = self.state.refs.get(reference)
        return copy.deepcopy(self.state.records[key]) if key else None

    def seen_event(self, provider: Provider, event_id: str) -> bool:
        return (provider.value, event_id) in self.state.provider_events

    def student(self, student_id: str) -> dict[str, Any] | None:
        if student_id in self.state.unknown_students:
            return None
        return {"id": student_id, "name": "Ana", "email": "ana@example.com"}

    def new_payment(self, **fields: Any) -> dict[str, Any]:
        return super().new_payment(**fields, stamp=f"2026-01-01T00:00:00.{next(_stamps):06d}Z")

    def ref_writes(self, item: dict[str, Any], references: list[str]) -> list[Write]:
        key = (item["PK"], item["SK"])
        return [Write(Op(lambda s: None, lambda s, r=r: s.refs.__setitem__(r, key))) for r in references]

    def record(self, item: dict[str, Any], references: list[str]) -> dict[str, Any]:
        existing = self.by_ref(references[0])
        if existing:
            return existing
        self.state.records[(item["PK"], item["SK"])] = copy.deepcopy(item)
        for reference in references:
            self.state.refs[reference] = (item["PK"], item["SK"])
        return copy.deepcopy(item)

    def _update(self, item: dict[str, Any], guard: Any, changes: Any, refused: Outcome) -> Write:
        key = (item["PK"], item["SK"])

        def check(s: State) -> bool:
            return not guard(s.records[key])

        def apply(s: State) -> None:
            changes(s.records[key])

        return Write(Op(check, apply), refused)

    def success_write(self, item: dict[str, Any], update: ProviderPayment, now: str, duplicate_of: str | None) -> Write:
        def changes(record: dict[str, Any]) -> None:
            record |= {"status": "succeeded", "status_rank": RANK[PaymentStatus.SUCCEEDED], "succeeded_at": now}
            record.update({k: v for k, v in (("capture_id", update.capture_id), ("duplicate_of", duplicate_of)) if v})
            record.pop("failure_code", None)
            record.pop("failure_message", None)

        return self._update(
            item, lambda r: r["status_rank"] < RANK[PaymentStatus.SUCCEEDED], changes, Outcome.ALREADY_APPLIED
        )

    def status_write(self, item: dict[str, Any], status: PaymentStatus, code: str | None, message: str | None) -> Write:
        def guard(record: dict[str, Any]) -> bool:
            again = record["status"] == status.value == PaymentStatus.FAILED.value
            return record["status_rank"] < RANK[status] or again

        def changes(record: dict[str, Any]) -> None:
            record |= {"status": status.value, "status_rank": RANK[status]}
            for name, value in (("failure_code", code), ("failure_message", message)):
                if value:
                    record[name] = value
                else:
                    record.pop(name, None)

        return self._update(item, guard, changes, Outcome.RACED)

    def refund_writes(
        self,
        item: dict[str, Any],
        *,
        refund_id: str,
        amount_minor: int,
        reason: str | None,
        seen_total: int,
        new_total: int,
        status: PaymentStatus,
        now: str,
    ) -> list[Write]:
        key = ("REFUND", refund_id)
        own = Write(
            Op(lambda s: key in s.records, lambda s: s.records.__setitem__(key, {"amount_minor": amount_minor})),
            Outcome.ALREADY_APPLIED,
        )

        def guard(record: dict[str, Any]) -> bool:
            return record["refunded_minor"] == seen_total and record["status_rank"] >= RANK[PaymentStatus.SUCCEEDED]

        def changes(record: dict[str, Any]) -> None:
            record |= {"status": status.value, "status_rank": RANK[status], "refunded_minor": new_total}

        return [own, self._update(item, guard, changes, Outcome.RACED)]

    def provider_event_write(self, provider: Provider, event_id: str, event_type: str) -> Write:
        key = (provider.value, event_id)
        return Write(
            Op(lambda s: key in s.provider_events, lambda s: s.provider_events.add(key)), Outcome.ALREADY_APPLIED
        )

    # ------------------------------------------------------------ subscriptions
    def subscription_status_write(
        self, item: dict[str, Any], status: SubscriptionStatus, now: str, next_billing: str | None
    ) -> Write:
        moment = "activated_at" if status is SubscriptionStatus.ACTIVE else "canceled_at"

        def changes(record: dict[str, Any]) -> None:
            record |= {"status": status.value, "status_rank": SUBSCRIPTION_RANK[status], "updated_at": now}
            record[moment] = now
            if next_billing:
                record["next_billing_date"] = next_billing
            else:
                record.pop("next_billing_date", None)

        return self._update(item, lambda r: r["status_rank"] < SUBSCRIPTION_RANK[status], changes, Outcome.RACED)

    def next_billing_write(self, item: dict[str, Any], next_billing: str) -> Write:
        def changes(record: dict[str, Any]) -> None:
            record["next_billing_date"] = next_billing

        return self._update(item, lambda r: r["status"] == SubscriptionStatus.ACTIVE.value, changes, Outcome.RACED)

    # ------------------------------------------------------------ plans
    def plan(self, plan_id: str) -> dict[str, Any] | None:
        found = self.state.plans.get(plan_id)
        return copy.deepcopy(found) if found else None

    def plans_page(self, limit: int, cursor: str | None) -> FakePage:
        listed = sorted(self.state.plans.values(), key=lambda p: p["GSI1SK"])
        start = int(cursor or 0)
        more = start + limit < len(listed)
        return FakePage(copy.deepcopy(listed[start : start + limit]), str(start + limit) if more else None)

    def create_plan(self, *, plan_id: str, name: str, price: Money, interval: str, now: str) -> dict[str, Any] | None:
        if plan_id in self.state.plans:
            return None
        item = {
            "PK": keys.plan_pk(plan_id),
            "SK": keys.PROFILE,
            "GSI1PK": keys.listing_pk("plan"),
            "GSI1SK": keys.listing_sk(now, plan_id),
            "kind": "plan",
            "id": plan_id,
            "name": name,
            "amount": price.to_decimal_string(),
            "amount_minor": price.amount_minor,
            "currency": price.currency,
            "interval": interval,
            "created_at": now,
        }
        self.state.plans[plan_id] = item
        return copy.deepcopy(item)

    def remember_provider_plan(self, plan: dict[str, Any], attribute: str, provider_plan: str) -> str:
        return str(self.state.plans[plan["id"]].setdefault(attribute, provider_plan))

    # ------------------------------------------------------------ provider customers
    def customer(self, student_id: str, provider: Provider) -> str | None:
        return self.state.customers.get((student_id, provider.value))

    def remember_customer(self, student_id: str, provider: Provider, customer_id: str) -> str:
        return self.state.customers.setdefault((student_id, provider.value), customer_id)


@dataclass
class FakePage:
    items: list[dict[str, Any]]
    next_cursor: str | None


class FakeEvents:
    """The outbox's side: an event recorded once by its id."""

    def __init__(self, state: State) -> None:
        self.state = state

    def event_operations(self, db: Any, event_type: str, data: dict, *, event_id: str, cause: str | None = None):
        def apply(s: State) -> None:
            s.events.append((event_id, event_type))

        return event_id, [Op(lambda s: any(e == event_id for e, _ in s.events), apply)]

    def dispatch(self, event_ids: list[str]) -> None:
        self.state.dispatched.extend(event_ids)


class FakeDirectory:
    """The directory's enrollment operations: one enrollment per student and course."""

    def __init__(self, state: State, events: FakeEvents) -> None:
        self.state, self.events = state, events

    def enrollment(self, student_id: str, course_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        found = self.state.enrollments.get((student_id, course_id))
        return dict(found) if found else None

    def enrollment_operations(self, db: Any, course_id: str, student_id: str, source: str, now: str, payment_id=None):
        key = (student_id, course_id)
        row = {"source": source, "payment_id": payment_id}
        return [Op(lambda s: key in s.enrollments, lambda s: s.enrollments.__setitem__(key, row))]

    def enrolled_event_operations(self, db, course_id, student_id, source, now, *, event_id=None, cause):
        return self.events.event_operations(db, "student_enrolled", {}, event_id=event_id, cause=cause)

    def unenrollment_operations(self, db: Any, course_id: str, student_id: str, payment_id=None):
        key = (student_id, course_id)

        def refused(s: State) -> bool:
            return key not in s.enrollments or s.enrollments[key].get("payment_id") != payment_id

        return [Op(refused, lambda s: s.enrollments.pop(key))]


class FakeProvider:
    """A provider behind the payments port that remembers what it was asked."""

    provider = Provider.STRIPE
    name = "Fake"
    takes_payment_method = True
    takes_return_urls = False
    plan_attribute = "fake_plan_id"

    def __init__(self, **traits: Any) -> None:
        for name, value in traits.items():  # provider, name, takes_payment_method, ...
            setattr(self, name, value)
        self.refunds: list[tuple[str, int, str]] = []
        self.callbacks: dict[bytes, tuple[Callback, Any]] = {}
        self.plans_created: list[str] = []  # the plan id of each ensure_plan call
        self.customers_created: list[str] = []
        self.subscribed: list[Subscribe] = []  # each subscribe call, repeats included
        self.subscriptions: dict[str, ProviderSubscription] = {}  # the provider's view, by its id
        self.subscribe_status = SubscriptionStatus.PENDING  # what a new subscription starts as
        self.cancels: list[tuple[str, str]] = []  # (provider id, idempotency key) of each cancel call
        self._by_key: dict[str, str] = {}

    def customer(self, customer: Customer, remembered, remember) -> str | None:
        known = remembered()
        if known:
            return known
        self.customers_created.append(customer.student_id)
        return remember(f"cus_{len(self.customers_created)}")

    def ensure_plan(self, plan: dict[str, Any]) -> str:
        self.plans_created.append(plan["id"])
        return f"price_{len(self.plans_created)}"

    def subscribe(self, request: Subscribe) -> ProviderSubscription:
        self.subscribed.append(request)
        # The provider's idempotency: one subscription per key.
        if request.idempotency_key in self._by_key:
            return self.subscriptions[self._by_key[request.idempotency_key]]
        provider_id = f"sub_{len(self.subscriptions) + 1}"
        self._by_key[request.idempotency_key] = provider_id
        pending = self.subscribe_status is SubscriptionStatus.PENDING
        view = ProviderSubscription(
            provider_id,
            self.subscribe_status,
            approval_url=f"https://provider.example/approve/{provider_id}" if pending else None,
            client_secret=f"{provider_id}_secret" if pending else None,
            reference=request.subscription_id,
        )
        self.subscriptions[provider_id] = view
        return view

    def subscription(self, provider_id: str) -> ProviderSubscription:
        return self.subscriptions[provider_id]

    def cancel_subscription(self, provider_id: str, reason: str | None, idempotency_key: str) -> ProviderSubscription:
        self.cancels.append((provider_id, idempotency_key))
        view = ProviderSubscription(provider_id, SubscriptionStatus.CANCELED)
        self.subscriptions[provider_id] = view
        return view

    def refund(
        self, *, transaction_id, capture_id, payment_id, amount: Money, reason, idempotency_key, duplicate=False
    ):
        if capture_id == "none":
            raise NothingCaptured("nothing was captured")
        # The provider's idempotency: one refund per key.
        for refund_id, _, key in self.refunds:
            if key == idempotency_key:
                return ProviderRefund(refund_id, amount.amount_minor, amount.currency, "succeeded")
        refund_id = f"re_{len(self.refunds) + 1}"
        self.refunds.append((refund_id, amount.amount_minor, idempotency_key))
        return ProviderRefund(refund_id, amount.amount_minor, amount.currency, "succeeded")

    def settled_refunds(self, provider_id: str) -> list[ProviderRefund]:
        return []

    def verify_callback(self, raw_body: bytes, headers: dict[str, str]) -> Callback:
        return self.callbacks[raw_body][0]

    def parse_callback(self, callback: Callback):
        for known, event in self.callbacks.values():
            if known == callback:
                return event
        return None
