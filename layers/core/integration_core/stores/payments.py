"""The payments store: the ledger's items (payments, refunds, subscriptions, plans, lookups, provider
customers, applied provider events), their keys (integration_core.keys), their conditions and their
transactions.

Services get records and named outcomes from here, never expressions: a transaction that does not
apply says why as an `Outcome` (already applied, raced), read from DynamoDB's cancellation reasons by
what each write guards, not by its position. Writes of other stores (the directory's enrollment, the
outbox's events) join a transaction as plain operations through `commit`: a unit of work composes
them (services.payments.ledger).
"""

from __future__ import annotations

import contextlib
import enum
import time
from dataclasses import dataclass
from typing import Any

from integration_core import keys, timeutil
from integration_core.adapters.dynamodb import ConditionFailed, Page, Table, table
from integration_core.config import settings
from integration_core.domain.payments import (
    RANK,
    SUBSCRIPTION_RANK,
    PaymentStatus,
    Provider,
    ProviderPayment,
    SubscriptionStatus,
)
from integration_core.errors import NotFound
from integration_core.money import Money

PROVIDER_EVENT_TTL_DAYS = 90
INTERNAL = ("PK", "SK", "GSI1PK", "GSI1SK", "kind", "status_rank", "expiresAt")
_CHECK_FAILED = "ConditionalCheckFailed"


class Outcome(enum.Enum):
    """What became of a conditional change."""

    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"  # this very change happened before (a repeat, a replay)
    RACED = "raced"  # something else changed the records meanwhile: read again and decide again


@dataclass(frozen=True)
class Write:
    """One operation of a transaction, with what its failed condition means."""

    op: dict[str, Any]
    when_refused: Outcome = Outcome.RACED


def order_stamp() -> str:
    # Sort keys need more than seconds: a student may start several payments within one.
    return timeutil.utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def provider_ref(provider: Provider | str, provider_id: str) -> str:
    return keys.provider_ref(Provider(provider).value, provider_id)


class PaymentsStore:
    def __init__(self, db: Table) -> None:
        self.db = db

    # ------------------------------------------------------------ transactions
    def commit(self, writes: list[Write | dict[str, Any]], *, empty: Outcome = Outcome.ALREADY_APPLIED) -> Outcome:
        """All or nothing. Refused: the outcome the first refused write names (a plain operation of
        another store means RACED)."""
        try:
            self.db.transact([w.op if isinstance(w, Write) else w for w in writes])
        except ConditionFailed as failed:
            for write, reason in zip(writes, failed.reasons, strict=False):
                if reason == _CHECK_FAILED:
                    return write.when_refused if isinstance(write, Write) else Outcome.RACED
            return empty
        return Outcome.APPLIED

    def write_quietly(self, writes: list[Write]) -> None:
        """Writes that belong to an event that changes nothing (its id, so a replay stays a no-op)."""
        if writes:
            with contextlib.suppress(ConditionFailed):
                self.db.transact([w.op for w in writes])

    # ------------------------------------------------------------ reads
    def reload(self, item: dict[str, Any]) -> dict[str, Any]:
        return self.db.get(item["PK"], item["SK"], consistent=True) or item

    def student(self, student_id: str) -> dict[str, Any] | None:
        return self.db.get(keys.entity_pk("student", student_id), keys.PROFILE)

    def by_ref(self, reference: str) -> dict[str, Any] | None:
        """A payment or subscription by our id or `provider_ref(...)`."""
        ref = self.db.get(keys.payment_ref_pk(reference), keys.REF, consistent=True)
        if ref is None:
            return None
        return self.db.get(ref["pk"], ref["sk"], consistent=True)

    def payments_page(self, student_id: str, provider: Provider | None, limit: int, cursor: str | None) -> Page:
        if provider is None:
            pk, sk_prefix, index = keys.entity_pk("student", student_id), keys.PAYMENT_PREFIX, None
        else:
            pk, sk_prefix, index = keys.payments_by_provider_pk(student_id, provider.value), None, keys.GSI1
        return self.db.query(pk, sk_prefix=sk_prefix, index=index, limit=limit, cursor=cursor, newest_first=True)

    def seen_event(self, provider: Provider, event_id: str) -> bool:
        return self.db.get(keys.provider_event_pk(provider.value, event_id), keys.EVENT_SK, consistent=True) is not None

    # ------------------------------------------------------------ new records and their lookups
    def new_payment(
        self,
        *,
        payment_id: str,
        student_id: str,
        provider: Provider,
        transaction_id: str,
        price: Money,
        course_id: str | None = None,
        course_name: str | None = None,
        plan_id: str | None = None,
        subscription_id: str | None = None,
        now: str,
        stamp: str | None = None,
    ) -> dict[str, Any]:
        stamp = stamp or order_stamp()
        return {
            "course_name": course_name,
            "PK": keys.entity_pk("student", student_id),
            "SK": keys.payment_sk(stamp, payment_id),
            "GSI1PK": keys.payments_by_provider_pk(student_id, provider.value),
            "GSI1SK": keys.listing_sk(stamp, payment_id),
            "kind": "payment",
            "payment_id": payment_id,
            "student_id": student_id,
            "course_id": course_id,
            "plan_id": plan_id,
            "subscription_id": subscription_id,
            "provider": provider.value,
            "transaction_id": transaction_id,
            "status": PaymentStatus.CREATED.value,
            "status_rank": RANK[PaymentStatus.CREATED],
            "amount_minor": price.amount_minor,
            "currency": price.currency,
            "refunded_minor": 0,
            "created_at": now,
            "updated_at": now,
        }

    def new_subscription(
        self,
        *,
        subscription_id: str,
        student_id: str,
        plan: dict[str, Any],
        provider: Provider,
        provider_subscription_id: str,
        price: Money,
        now: str,
        stamp: str | None = None,
    ) -> dict[str, Any]:
        return {
            "PK": keys.entity_pk("student", student_id),
            "SK": keys.subscription_record_sk(stamp or order_stamp(), subscription_id),
            "kind": "subscription",
            "subscription_id": subscription_id,
            "student_id": student_id,
            "plan_id": plan["id"],
            "provider": provider.value,
            "provider_subscription_id": provider_subscription_id,
            "status": SubscriptionStatus.PENDING.value,
            "status_rank": SUBSCRIPTION_RANK[SubscriptionStatus.PENDING],
            # The plan's terms when subscribing (the original Subscription's amount, currency, billing cycle).
            "amount_minor": price.amount_minor,
            "currency": price.currency,
            "interval": plan["interval"],
            "created_at": now,
            "updated_at": now,
        }

    def _ref_item(self, item: dict[str, Any], reference: str) -> dict[str, Any]:
        return {
            "PK": keys.payment_ref_pk(reference),
            "SK": keys.REF,
            "pk": item["PK"],
            "sk": item["SK"],
            "owner": item["student_id"],
        }

    def ref_writes(self, item: dict[str, Any], references: list[str]) -> list[Write]:
        return [Write(self.db.put_op(self._ref_item(item, r))) for r in references]

    def record(self, item: dict[str, Any], references: list[str]) -> dict[str, Any]:
        """Write a new record and its lookups once; a repeat (a retried request) returns the first. The
        record's sort key carries the time it was written, so its own id's lookup is the guard."""
        own, *others = references
        outcome = self.commit(
            [
                Write(self.db.put_op(item, "attribute_not_exists(PK)"), Outcome.ALREADY_APPLIED),
                Write(self.db.put_op(self._ref_item(item, own), "attribute_not_exists(PK)"), Outcome.ALREADY_APPLIED),
                *self.ref_writes(item, others),
            ]
        )
        if outcome is Outcome.APPLIED:
            return item
        existing = self.db.get(item["PK"], item["SK"], consistent=True) or self.by_ref(own)
        if existing is None:
            raise NotFound(f"no payment or subscription {own.split(':')[-1]}")
        return existing

    # ------------------------------------------------------------ payment status, forward only
    def success_write(self, item: dict[str, Any], update: ProviderPayment, now: str, duplicate_of: str | None) -> Write:
        """succeeded, with what the provider told about the success; the failure of an earlier attempt
        is cleared (each attempt's outcome is its own). Refused: it succeeded already."""
        names = {"#s": "status", "#r": "status_rank", "#u": "updated_at", "#at": "succeeded_at"}
        values: dict[str, Any] = {":s": "succeeded", ":r": RANK[PaymentStatus.SUCCEEDED], ":u": now}
        sets = ["#s = :s", "#r = :r", "#u = :u", "#at = :u"]
        for attribute, value in (
            ("capture_id", update.capture_id),
            ("payment_method", update.payment_method),
            ("receipt_url", update.receipt_url),
            ("duplicate_of", duplicate_of),
        ):
            if value:
                names[f"#{attribute}"], values[f":{attribute}"] = attribute, value
                sets.append(f"#{attribute} = :{attribute}")
        names |= {"#fc": "failure_code", "#fm": "failure_message"}
        expression = "SET " + ", ".join(sets) + " REMOVE #fc, #fm"
        op = self.db.update_op(item["PK"], item["SK"], expression, "#r < :r", names=names, values=values)
        return Write(op, Outcome.ALREADY_APPLIED)

    def status_write(self, item: dict[str, Any], status: PaymentStatus, code: str | None, message: str | None) -> Write:
        """Any status but succeeded, forward only; a failed payment takes a later attempt's failure
        (failed -> failed). This attempt's failure, or none: an absent code is absent, never ""."""
        names = {
            "#s": "status",
            "#r": "status_rank",
            "#u": "updated_at",
            "#fc": "failure_code",
            "#fm": "failure_message",
        }
        values: dict[str, Any] = {":s": status.value, ":r": RANK[status], ":u": timeutil.iso_utc(timeutil.utc_now())}
        sets, removes = ["#s = :s", "#r = :r", "#u = :u"], []
        for attribute, value_name, value in (("#fc", ":fc", code), ("#fm", ":fm", message)):
            if value:
                values[value_name] = value
                sets.append(f"{attribute} = {value_name}")
            else:
                removes.append(attribute)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        values[":failed"] = PaymentStatus.FAILED.value
        condition = "#r < :r OR (#s = :s AND #s = :failed)"
        return Write(self.db.update_op(item["PK"], item["SK"], expression, condition, names=names, values=values))

    # ------------------------------------------------------------ refunds
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
        """One refund's own record (refused: applied already) and the payment's new total and status,
        guarded by the total it was computed from (refused: another refund moved it)."""
        record = {
            "PK": item["PK"],
            "SK": keys.refund_sk(item["payment_id"], refund_id),
            "kind": "refund",
            "refund_id": refund_id,
            "payment_id": item["payment_id"],
            "amount_minor": amount_minor,
            "currency": item["currency"],
            "reason": reason,
            "created_at": now,
        }
        update = self.db.update_op(
            item["PK"],
            item["SK"],
            "SET #s = :s, #r = :r, #f = :new, #u = :u",
            "#f = :seen AND #r >= :paid",
            names={"#s": "status", "#r": "status_rank", "#f": "refunded_minor", "#u": "updated_at"},
            values={
                ":s": status.value,
                ":r": RANK[status],
                ":new": new_total,
                ":seen": seen_total,
                ":u": now,
                ":paid": RANK[PaymentStatus.SUCCEEDED],
            },
        )
        return [Write(self.db.put_op(record, "attribute_not_exists(PK)"), Outcome.ALREADY_APPLIED), Write(update)]

    # ------------------------------------------------------------ subscriptions
    def subscription_status_write(
        self, item: dict[str, Any], status: SubscriptionStatus, now: str, next_billing: str | None
    ) -> Write:
        moment = "activated_at" if status is SubscriptionStatus.ACTIVE else "canceled_at"
        names = {"#s": "status", "#r": "status_rank", "#u": "updated_at", "#m": moment, "#n": "next_billing_date"}
        values: dict[str, Any] = {":s": status.value, ":r": SUBSCRIPTION_RANK[status], ":u": now}
        expression = "SET #s = :s, #r = :r, #u = :u, #m = :u"
        if next_billing:
            expression += ", #n = :n"
            values[":n"] = next_billing
        else:
            expression += " REMOVE #n"  # a cancelled subscription bills no more
        return Write(self.db.update_op(item["PK"], item["SK"], expression, "#r < :r", names=names, values=values))

    def next_billing_write(self, item: dict[str, Any], next_billing: str) -> Write:
        op = self.db.update_op(
            item["PK"],
            item["SK"],
            "SET #n = :n",
            "#s = :active",
            names={"#n": "next_billing_date", "#s": "status"},
            values={":n": next_billing, ":active": SubscriptionStatus.ACTIVE.value},
        )
        return Write(op)

    # ------------------------------------------------------------ plans
    def plan(self, plan_id: str) -> dict[str, Any] | None:
        return self.db.get(keys.plan_pk(plan_id), keys.PROFILE)

    def plans_page(self, limit: int, cursor: str | None) -> Page:
        return self.db.query(keys.listing_pk("plan"), index=keys.GSI1, limit=limit, cursor=cursor)

    def create_plan(self, *, plan_id: str, name: str, price: Money, interval: str, now: str) -> dict[str, Any] | None:
        """The new plan, or None when one has this id already."""
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
        try:
            self.db.put(item, "attribute_not_exists(PK)")
        except ConditionFailed:
            return None
        return item

    def remember_provider_plan(self, plan: dict[str, Any], attribute: str, provider_plan: str) -> str:
        """The plan's provider object, remembered once; the one remembered first wins."""
        try:
            self.db.update(
                plan["PK"],
                plan["SK"],
                "SET #a = :v",
                "attribute_not_exists(#a)",
                names={"#a": attribute},
                values={":v": provider_plan},
            )
        except ConditionFailed:
            first: str = (self.db.get(plan["PK"], plan["SK"], consistent=True) or {})[attribute]
            return first
        return provider_plan

    # ------------------------------------------------------------ provider customers
    def customer(self, student_id: str, provider: Provider) -> str | None:
        known = self.db.get(keys.entity_pk("student", student_id), keys.provider_customer_sk(provider.value))
        return known["customer_id"] if known else None

    def remember_customer(self, student_id: str, provider: Provider, customer_id: str) -> str:
        """The student's customer at the provider, remembered once; the one remembered first wins."""
        pk, sk = keys.entity_pk("student", student_id), keys.provider_customer_sk(provider.value)
        try:
            self.db.put({"PK": pk, "SK": sk, "customer_id": customer_id}, "attribute_not_exists(PK)")
        except ConditionFailed:
            first: str = (self.db.get(pk, sk, consistent=True) or {})["customer_id"]
            return first
        return customer_id

    # ------------------------------------------------------------ provider events, applied once
    def provider_event_write(self, provider: Provider, event_id: str, event_type: str) -> Write:
        item = {
            "PK": keys.provider_event_pk(provider.value, event_id),
            "SK": keys.EVENT_SK,
            "type": event_type,
            "received_at": timeutil.iso_utc(timeutil.utc_now()),
            "expiresAt": int(time.time()) + PROVIDER_EVENT_TTL_DAYS * 86400,
        }
        return Write(self.db.put_op(item, "attribute_not_exists(PK)"), Outcome.ALREADY_APPLIED)


def store() -> PaymentsStore:
    return PaymentsStore(table(settings().table_name))
