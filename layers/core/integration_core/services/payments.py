"""Payments: course payments by card (Stripe) or PayPal, refunds, subscriptions on directory plans,
provider callbacks, and one ledger across providers.

The ledger holds one payment per attempt under its student (so a student's history is one Query),
with a status that only moves forward (`domain.payments.RANK`, enforced by conditional writes).
A payment becoming succeeded, the enrollment it buys and the events it publishes are one
TransactWriteItems: confirm and callbacks may race, repeat or arrive out of order, and the change
still happens exactly once. Provider calls carry an idempotency key derived from the caller's.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from integration_core import keys, timeutil
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings
from integration_core.domain import currency_rules
from integration_core.domain.payments import (
    RANK,
    SUBSCRIPTION_RANK,
    ConfirmPayment,
    PaymentStatus,
    PayPalProcess,
    PlanCreate,
    Provider,
    ProviderPayment,
    ProviderSubscription,
    RefundPayment,
    StripeInitialize,
    SubscriptionCancel,
    SubscriptionCreate,
    SubscriptionStatus,
    moves_forward,
    refund_status,
    return_url_refusal,
)
from integration_core.errors import Conflict, DomainError, Forbidden, NotFound, PaymentRequired, invalid
from integration_core.ids import has_prefix, new_id, stable_id
from integration_core.money import CurrencyError, Money, MoneyError, parse_amount
from integration_core.observability import logger, metrics
from integration_core.payment_config import payment_settings
from integration_core.principal import Principal, Role

PAYERS = (Role.STUDENT, Role.ADMIN, Role.SERVICE)
STAFF = (Role.ADMIN, Role.SERVICE)
PROVIDER_EVENT_TTL_DAYS = 90
_INTERNAL = ("PK", "SK", "GSI1PK", "GSI1SK", "kind", "status_rank", "expiresAt")


def _db() -> Table:
    return table(settings().table_name)


# The directory and the outbox load where a payment is started or succeeds: reads (history, plans,
# subscriptions) and refused callbacks do without them and their imports.
def _directory():
    from integration_core.services import directory

    return directory


def _events():
    from integration_core.services import events

    return events


def _now() -> str:
    return timeutil.iso_utc(timeutil.utc_now())


def _order_stamp() -> str:
    # Sort keys need more than seconds: a student may start several payments within one.
    return timeutil.utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------- keys (rows in integration_core.keys)
def _student_pk(student_id: str) -> str:
    return keys.entity_pk("student", student_id)


def _ref_pk(reference: str) -> str:
    return f"PAYREF#{reference}"


def _provider_ref(provider: Provider | str, provider_id: str) -> str:
    return f"{Provider(provider).value}:{provider_id}"


REF_SK = "REF"


def _plan_pk(plan_id: str) -> str:
    return f"PLAN#{plan_id}"


# ---------------------------------------------------------------- idempotency of provider calls
@dataclass(frozen=True)
class Attempt:
    """The caller's idempotency key, scoped to caller and operation, as each provider wants it."""

    principal: Principal
    operation: str
    key: str

    @property
    def scope(self) -> str:
        return f"{self.principal.sub}\x1f{self.operation}\x1f{self.key}"

    @property
    def provider_key(self) -> str:
        # <= 108 characters (PayPal-Request-Id's limit); never the same for two callers or operations.
        return f"{self.operation}-{hashlib.sha256(self.scope.encode()).hexdigest()[:48]}"

    def stable(self, kind: str) -> str:
        return stable_id(kind, self.scope)


# ---------------------------------------------------------------- who pays, how much
def _payer(principal: Principal, student_id: str | None) -> str:
    principal.require(*PAYERS)
    if principal.role is Role.STUDENT:
        if student_id and student_id != principal.sub:
            raise Forbidden("students pay only for themselves")
        return principal.sub
    if not student_id:
        raise invalid("studentId", "required when paying on a student's behalf")
    return student_id


def _student(student_id: str) -> dict[str, Any]:
    student = _db().get(_student_pk(student_id), keys.PROFILE)
    if student is None:
        raise invalid("studentId", f"student {student_id} does not exist")
    return student


def _price_check(price: Money, amount: str | None, currency: str | None) -> None:
    """The directory's price is what is charged; a client's figure must agree with it exactly."""
    if currency is not None and currency != price.currency:
        raise invalid("currency", f"the price is in {price.currency}")
    if amount is None:
        return
    try:
        asked = parse_amount(amount, price.currency)
    except MoneyError as error:
        raise invalid("amount", str(error)) from None
    if asked != price:
        raise invalid("amount", f"must equal the price, {price.to_decimal_string()} {price.currency}")


def _course_price(course_id: str, amount: str | None, currency: str | None) -> tuple[dict[str, Any], Money]:
    try:
        course = _directory().load_course(course_id)
    except NotFound:
        raise invalid("courseId", f"course {course_id} does not exist") from None
    price = Money(int(course["price"]["amount_minor"]), course["price"]["currency"])
    _price_check(price, amount, currency)
    if price.amount_minor <= 0:
        raise invalid("courseId", "this course is free; enroll the student instead")
    return course, price


def _provider_check(provider: Provider, price: Money, field: str) -> None:
    """422 naming `field` when the provider's currency rules refuse the price, before any call to it."""
    reason = currency_rules.refusal(provider.value, price)
    if reason:
        others = [p for p in currency_rules.providers_for(price) if p != provider.value]
        hint = f"; pay with {' or '.join(others)}" if others else "; no provider of this school can take it"
        raise invalid(field, reason + hint)


def _enrolled_conflict(student_id: str, course_id: str, enrollment: dict[str, Any], **extensions: Any) -> Conflict:
    earlier = enrollment.get("payment_id")
    detail = f"student {student_id} is already enrolled in course {course_id}"
    if earlier:
        detail += f", paid by payment {earlier}"
        extensions["earlierPaymentId"] = earlier
    return Conflict(detail, **extensions)


def _course_checkout(
    principal: Principal, data: StripeInitialize | PayPalProcess, provider: Provider
) -> tuple[dict[str, Any], dict[str, Any], Money]:
    """(student, course, price) of a course payment: the student who pays (the caller, or the one a
    staff caller names), refused when already enrolled; the price is the directory's and must be one
    the provider takes."""
    student_id = _payer(principal, data.student_id)
    course, price = _course_price(data.course_id, data.amount, data.currency)
    _provider_check(provider, price, "courseId")
    student = _student(student_id)
    enrollment = _directory().enrollment(student_id, course["id"])
    if enrollment is not None:
        raise _enrolled_conflict(student_id, course["id"], enrollment)
    return student, course, price


def _return_urls(return_url: str | None, cancel_url: str | None) -> dict[str, str]:
    """Where PayPal sends the buyer back: the request's URLs if on the school's origins, else ours."""
    config = payment_settings()
    for field, url in (("returnUrl", return_url), ("cancelUrl", cancel_url)):
        reason = return_url_refusal(url, config.return_origins) if url else None
        if reason:
            raise invalid(field, reason)
    base = config.return_url.rstrip("/")
    return {"return": return_url or base + "/return", "cancel": cancel_url or base + "/cancel"}


# ---------------------------------------------------------------- ledger records
_BILLING_CYCLE = {"day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}


def _public(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in item.items() if k not in _INTERNAL}
    if item.get("kind") == "payment":
        money = Money(int(item["amount_minor"]), item["currency"])
        refunded = Money(int(item.get("refunded_minor", 0)), item["currency"])
        succeeded_at = item.get("succeeded_at")
        out |= {
            "amount": money.to_decimal_string(),
            "refunded_amount": refunded.to_decimal_string(),
            # The original DTOs' names for the same moments (PaymentStatus, PaymentConfirmation, PaymentHistory).
            "confirmed_at": succeeded_at,
            "confirmation_date": succeeded_at,
            "completed_date": succeeded_at,
            "payment_date": item["created_at"],
        }
    elif item.get("kind") == "subscription" and item.get("amount_minor") is not None:
        out |= {
            "amount": Money(int(item["amount_minor"]), item["currency"]).to_decimal_string(),
            "billing_cycle": _BILLING_CYCLE.get(item.get("interval", ""), item.get("interval")),
            "start_date": item.get("activated_at"),
            "cancelled_at": item.get("canceled_at"),
        }
    return out


def _new_payment(
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
) -> dict[str, Any]:
    stamp = _order_stamp()
    return {
        "course_name": course_name,
        "PK": _student_pk(student_id),
        "SK": f"PAYMENT#{stamp}#{payment_id}",
        "GSI1PK": f"PAYMENTS#{student_id}#{provider.value}",
        "GSI1SK": f"{stamp}#{payment_id}",
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


def _ref_item(item: dict[str, Any], reference: str) -> dict[str, Any]:
    return {"PK": _ref_pk(reference), "SK": REF_SK, "pk": item["PK"], "sk": item["SK"], "owner": item["student_id"]}


def _ref_ops(db: Table, item: dict[str, Any], references: list[str]) -> list[dict]:
    return [db.put_op(_ref_item(item, r)) for r in references]


def _record(db: Table, item: dict[str, Any], references: list[str]) -> dict[str, Any]:
    """Write a new record and its lookups once; a repeat (a retried request) returns the first. The
    record's sort key carries the time it was written, so its own id's lookup is the guard."""
    own, *others = references
    try:
        db.transact(
            [
                db.put_op(item, "attribute_not_exists(PK)"),
                db.put_op(_ref_item(item, own), "attribute_not_exists(PK)"),
                *_ref_ops(db, item, others),
            ]
        )
    except ConditionFailed:
        existing = db.get(item["PK"], item["SK"], consistent=True) or _by_ref(references[0])
        return existing
    return item


def _by_ref(reference: str) -> dict[str, Any]:
    db = _db()
    ref = db.get(_ref_pk(reference), REF_SK, consistent=True)
    if ref is None:
        raise NotFound(f"no payment or subscription {reference.split(':')[-1]}")
    item = db.get(ref["pk"], ref["sk"], consistent=True)
    if item is None:
        raise NotFound(f"no payment or subscription {reference.split(':')[-1]}")
    return item


def _find_payment(principal: Principal, transaction_id: str, provider: Provider) -> dict[str, Any]:
    reference = transaction_id if transaction_id.startswith("pay_") else _provider_ref(provider, transaction_id)
    item = _by_ref(reference)
    if item.get("kind") != "payment" or item["provider"] != provider.value:
        raise NotFound(f"no {provider.value} payment {transaction_id}")
    if principal.role is not Role.SERVICE:
        principal.require_owner_or_admin(item["student_id"])
    return item


# ---------------------------------------------------------------- moving a payment forward
def _event(db: Table, event_type: str, data: dict[str, Any], event_id: str, cause: str | None) -> tuple[str, list]:
    return _events().event_operations(db, event_type, data, event_id=event_id, cause=cause)


def _payment_completed(item: dict[str, Any], now: str) -> dict[str, Any]:
    data = {
        "paymentId": item["payment_id"],
        "transactionId": item["transaction_id"],
        "studentId": item["student_id"],
        "amount": Money(int(item["amount_minor"]), item["currency"]).to_decimal_string(),
        "amountMinor": int(item["amount_minor"]),
        "currency": item["currency"],
        "provider": item["provider"],
        "completedAt": now,
    }
    if item.get("course_id"):
        data["courseId"] = item["course_id"]
    if item.get("plan_id"):
        data["planId"] = item["plan_id"]
    if item.get("capture_id"):
        data["captureId"] = item["capture_id"]
    return data


@dataclass(frozen=True)
class _Success:
    changed: bool
    event_ids: list[str]
    duplicate_of: str | None = None  # the earlier payment that enrolled the student: this one is refunded


def _succeed(item: dict[str, Any], update: ProviderPayment, cause: str | None, extra_ops: list[dict]) -> _Success:
    """The one transaction of a payment that succeeds: status, enrollment, events, and the caller's
    extra writes (a provider event id, a capture lookup). Not changed when it already happened.

    A student never pays twice for a course: when another payment enrolled them first, this one still
    succeeds (the money was taken) but is marked `duplicate_of` that payment, and the caller refunds
    it. The caller's extra writes then wait for that refund (`advance`), so a provider event that
    brought the success is applied again, refund included, if the refund fails."""
    db = _db()
    now = _now()
    pay_id = item["payment_id"]
    completed = {**item, "status": PaymentStatus.SUCCEEDED.value}
    if update.capture_id:
        completed["capture_id"] = update.capture_id
    event_id, event_ops = _event(
        db,
        "payment_completed",
        _payment_completed(completed, now),
        stable_id("event", "payment_completed", pay_id),
        cause,
    )
    course_id, student_id = item.get("course_id"), item["student_id"]
    enrollment = _directory().enrollment(student_id, course_id, consistent=True) if course_id else None
    can_enroll = True
    for attempt in range(4):
        enroll = bool(course_id) and enrollment is None and can_enroll
        duplicate_of = (enrollment or {}).get("payment_id")
        duplicate_of = duplicate_of if duplicate_of and duplicate_of != pay_id else None
        status_op = _success_update(db, item, update, now, duplicate_of)
        extras = [] if duplicate_of else extra_ops  # a duplicate's wait for its refund (see advance)
        ops, ids = [status_op, *extras, *event_ops], [event_id]
        if enroll:
            enrolled_id, enrolled_ops = _event(
                db,
                "student_enrolled",
                {"studentId": student_id, "courseId": course_id, "enrolledAt": now, "source": "payment"},
                stable_id("event", "student_enrolled", pay_id),
                cause,
            )
            ops += _directory().enrollment_operations(db, course_id, student_id, "payment", now, pay_id) + enrolled_ops
            ids.append(enrolled_id)
        try:
            db.transact(ops)
            return _Success(True, ids, duplicate_of)
        except ConditionFailed as failed:
            reasons = failed.reasons
            if not reasons or reasons[0] == "ConditionalCheckFailed":
                return _Success(False, [])
            if any(r == "ConditionalCheckFailed" for r in reasons[1 : 1 + len(extras)]):
                return _Success(False, [])
            # Enrolled meanwhile (an admin, another payment): look again at who enrolled them. Not
            # enrolled after all: the course or the student is gone, and the payment still succeeds.
            enrollment = _directory().enrollment(student_id, course_id, consistent=True) if course_id else None
            can_enroll = enrollment is not None
        except DomainError:
            if attempt == 3:
                raise
            time.sleep(0.05 * (attempt + 1))  # a concurrent transaction on the same items
    return _Success(False, [])


def _success_update(
    db: Table, item: dict[str, Any], update: ProviderPayment, now: str, duplicate_of: str | None
) -> dict:
    """succeeded, with what the provider told about the success; the failure of an earlier attempt
    is cleared (each attempt's outcome is its own)."""
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
    update_expression = "SET " + ", ".join(sets) + " REMOVE #fc, #fm"
    return db.update_op(item["PK"], item["SK"], update_expression, "#r < :r", names=names, values=values)


def advance(
    item: dict[str, Any], update: ProviderPayment, *, cause: str | None = None, extra_ops: list[dict] | None = None
) -> tuple[dict[str, Any], bool]:
    """Apply what the provider says, only forwards. (record as it now stands, whether it changed)."""
    current = PaymentStatus(item["status"])
    extra_ops = extra_ops or []
    if update.status is PaymentStatus.SUCCEEDED:
        if RANK[current] >= RANK[PaymentStatus.SUCCEEDED]:
            item = _settle_duplicate(item)
            _write_extras(extra_ops)
            return item, False
        success = _succeed(item, update, cause, extra_ops)
        if success.changed:
            _publish(success.event_ids)
            logger.info("payment succeeded", extra={"payment_id": item["payment_id"], "cause": cause})
            metrics.add_metric(name="PaymentSucceeded", unit=MetricUnit.Count, value=1)
        item = reload(item)
        if success.duplicate_of:
            logger.warning(
                "a second payment for one enrollment; refunding it",
                extra={"payment_id": item["payment_id"], "earlier_payment_id": success.duplicate_of},
            )
            item = _settle_duplicate(item)
            _write_extras(extra_ops)
        return item, success.changed
    if update.status in (PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED):
        _write_extras(extra_ops)
        return item, False
    message = (update.failure_message or "")[:500] or None
    again = (
        update.status is PaymentStatus.FAILED
        and current is PaymentStatus.FAILED
        and (item.get("failure_code"), item.get("failure_message")) != (update.failure_code, message)
    )
    if not (moves_forward(current, update.status) or again):
        _write_extras(extra_ops)
        return item, False
    db = _db()
    names = {"#s": "status", "#r": "status_rank", "#u": "updated_at", "#fc": "failure_code", "#fm": "failure_message"}
    values = {":s": update.status.value, ":r": RANK[update.status], ":u": _now()}
    sets, removes = ["#s = :s", "#r = :r", "#u = :u"], []
    # This attempt's failure, or none: an absent code is absent (null in the API), never "".
    for placeholder, value in ((":fc", update.failure_code), (":fm", message)):
        attribute = "#fc" if placeholder == ":fc" else "#fm"
        if value:
            values[placeholder] = value
            sets.append(f"{attribute} = {placeholder}")
        else:
            removes.append(attribute)
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    # Forward only; a failed payment takes a later attempt's failure (failed -> failed).
    condition = "#r < :r OR (#s = :s AND #s = :failed)"
    values[":failed"] = PaymentStatus.FAILED.value
    op = db.update_op(item["PK"], item["SK"], expression, condition, names=names, values=values)
    try:
        db.transact([op, *extra_ops])
    except ConditionFailed:
        return reload(item), False
    return reload(item), True


def _write_extras(extra_ops: list[dict]) -> None:
    """Writes that belong to an event that changes nothing (its id, so a replay stays a no-op)."""
    if not extra_ops:
        return
    with contextlib.suppress(ConditionFailed):
        _db().transact(extra_ops)


def _publish(event_ids: list[str]) -> None:
    """Fan out events already committed with the change. If this fails, the change stands and the
    events wait in the outbox for the sweeper: the caller is not told the payment failed."""
    try:
        _events().dispatch(event_ids)
    except Exception:
        logger.exception("dispatch failed; the sweeper will deliver", extra={"event_ids": event_ids})


def reload(item: dict[str, Any]) -> dict[str, Any]:
    return _db().get(item["PK"], item["SK"], consistent=True) or item


def _failed(item: dict[str, Any], update: ProviderPayment) -> PaymentRequired:
    """402 with this attempt's own decline (not an earlier one's); no code is null, for both providers."""
    return PaymentRequired(
        update.failure_message or "the payment was declined",
        paymentId=item["payment_id"],
        declineCode=update.failure_code or None,
    )


def _settle_duplicate(item: dict[str, Any]) -> dict[str, Any]:
    """Refund what is left of a payment marked `duplicate_of` (the student was enrolled by an earlier
    payment), once: the provider's idempotency key is derived from the payment, and the refund is
    applied by its id. A no-op for any other payment."""
    earlier = item.get("duplicate_of")
    left = Money(int(item["amount_minor"]) - int(item.get("refunded_minor", 0)), item["currency"])
    if not earlier or left.amount_minor <= 0:
        return item
    key = f"duplicate-{item['payment_id']}-{left.amount_minor}"
    reason = f"duplicate: the student was already enrolled in {item.get('course_id')} by payment {earlier}"
    if item["provider"] == Provider.STRIPE.value:
        done = _stripe().create_refund(item["transaction_id"], left, "duplicate", item["payment_id"], key)
    else:
        if not item.get("capture_id"):
            return item  # nothing captured: nothing to give back
        note = "You were already enrolled in this course: this second payment is refunded."
        done = _paypal().refund_capture(item["capture_id"], left, note, item["payment_id"], key)
    item, _ = _apply_refund(item, done.refund_id, done.amount_minor, reason, f"duplicate:{item['payment_id']}")
    metrics.add_metric(name="DuplicatePaymentRefunded", unit=MetricUnit.Count, value=1)
    return item


# ---------------------------------------------------------------- Stripe
def _stripe():
    from integration_core.adapters import stripe_api

    return stripe_api


def _paypal():
    from integration_core.adapters import paypal_api

    return paypal_api


def _stripe_customer(student: dict[str, Any]) -> str:
    """One Stripe customer per student, created on first need and remembered on the student."""
    db = _db()
    pk, sk = _student_pk(student["id"]), "PROVIDER#stripe"
    known = db.get(pk, sk)
    if known:
        return known["customer_id"]
    customer_id = _stripe().ensure_customer(
        student["id"], student["email"], student["name"], f"customer-{student['id']}"
    )
    try:
        db.put({"PK": pk, "SK": sk, "customer_id": customer_id}, "attribute_not_exists(PK)")
    except ConditionFailed:
        return db.get(pk, sk, consistent=True)["customer_id"]  # type: ignore[index]
    return customer_id


def stripe_initialize(principal: Principal, data: StripeInitialize, attempt: Attempt) -> dict[str, Any]:
    student, course, price = _course_checkout(principal, data, Provider.STRIPE)
    student_id = student["id"]
    payment_id = attempt.stable("payment")
    customer = _stripe_customer(student)
    metadata = {"payment_id": payment_id, "student_id": student_id, "course_id": course["id"]}
    intent = _stripe().create_payment_intent(
        amount=price,
        customer=customer,
        metadata=metadata,
        description=f"Course {course['title']}",
        idempotency_key=attempt.provider_key,
    )
    item = _new_payment(
        payment_id=payment_id,
        student_id=student_id,
        provider=Provider.STRIPE,
        transaction_id=intent.provider_id,
        price=price,
        course_id=course["id"],
        course_name=course["title"],
        now=_now(),
    )
    item = _record(_db(), item, [payment_id, _provider_ref(Provider.STRIPE, intent.provider_id)])
    item, _ = advance(item, intent, cause=f"initialize:{payment_id}")
    if data.payment_method:
        # Confirmed in a call of its own, so that a decline is always recorded on this intent.
        intent = _stripe().confirm_payment_intent(
            intent.provider_id, data.payment_method, attempt.provider_key + "-confirm"
        )
        item, _ = advance(item, intent, cause=f"initialize:{payment_id}")
        if intent.status is PaymentStatus.FAILED and item["status"] == PaymentStatus.FAILED.value:
            raise _failed(item, intent)
    return {
        **_public(item),
        "payment_intent_id": intent.provider_id,
        "client_secret": intent.client_secret,
        "metadata": metadata,
    }


def stripe_status(principal: Principal, intent_id: str) -> dict[str, Any]:
    item = _find_payment(principal, intent_id, Provider.STRIPE)
    intent = _stripe().retrieve_payment_intent(intent_id)
    item, _ = advance(item, intent, cause=f"status:{intent_id}")
    received = Money(intent.amount_received_minor or 0, item["currency"])
    return {
        **_public(item),
        "payment_intent_id": intent_id,
        "client_secret": intent.client_secret,
        "provider_status": intent.provider_status,
        "amount_received": received.to_decimal_string(),
        "last_payment_error": item.get("failure_message"),
    }


# ---------------------------------------------------------------- PayPal
def paypal_process(principal: Principal, data: PayPalProcess, attempt: Attempt) -> dict[str, Any]:
    urls = _return_urls(data.return_url, data.cancel_url)
    student, course, price = _course_checkout(principal, data, Provider.PAYPAL)
    student_id = student["id"]
    payment_id = attempt.stable("payment")
    order = _paypal().create_order(
        amount=price,
        payment_id=payment_id,
        description=f"Course {course['title']}",
        return_url=urls["return"],
        cancel_url=urls["cancel"],
        request_id=attempt.provider_key,
    )
    item = _new_payment(
        payment_id=payment_id,
        student_id=student_id,
        provider=Provider.PAYPAL,
        transaction_id=order.provider_id,
        price=price,
        course_id=course["id"],
        course_name=course["title"],
        now=_now(),
    )
    item = _record(_db(), item, [payment_id, _provider_ref(Provider.PAYPAL, order.provider_id)])
    item, _ = advance(item, order, cause=f"process:{payment_id}")
    return {**_public(item), "order_id": order.provider_id, "approval_url": order.approval_url}


def paypal_transaction(principal: Principal, transaction_id: str) -> dict[str, Any]:
    item = _find_payment(principal, transaction_id, Provider.PAYPAL)
    order = _paypal().get_order(item["transaction_id"])
    update = _paypal().order_payment(order)
    item, _ = advance(item, update, cause=f"transaction:{transaction_id}", extra_ops=_capture_ref_ops(item, update))
    unit = (order.get("purchase_units") or [{}])[0]
    captures = (unit.get("payments") or {}).get("captures") or []
    refunds = (unit.get("payments") or {}).get("refunds") or []
    payer = order.get("payer") or (order.get("payment_source") or {}).get("paypal") or {}
    name = payer.get("name") or {}
    payer_name = " ".join(p for p in (name.get("given_name"), name.get("surname")) if p) or name.get("full_name")
    refund_list = [
        {"id": r["id"], "status": r.get("status"), "amount": r.get("amount", {}).get("value")} for r in refunds
    ]
    capture_list = [
        {
            "id": c["id"],
            "status": c.get("status"),
            "amount": c.get("amount", {}).get("value"),
            "time": c.get("create_time"),
        }
        for c in captures
    ]
    return {
        "order_id": order["id"],
        "transaction_id": order["id"],
        "status": order.get("status", ""),
        "payment_id": item["payment_id"],
        "amount": unit.get("amount", {}).get("value", ""),
        "currency": unit.get("amount", {}).get("currency_code", ""),
        "capture_id": captures[-1]["id"] if captures else None,
        "capture_status": captures[-1].get("status") if captures else None,
        "refunds": refund_list,
        "payer_email": payer.get("email_address"),
        "payer_name": payer_name or None,
        "transaction_date": (captures[-1].get("create_time") if captures else None) or order.get("create_time"),
        "item_name": unit.get("description"),
        "transaction_details": {
            "intent": order.get("intent"),
            "payerId": payer.get("payer_id"),
            "createTime": order.get("create_time"),
            "updateTime": order.get("update_time"),
            "captures": capture_list,
            "refunds": refund_list,
        },
    }


def _capture_ref_ops(item: dict[str, Any], update: ProviderPayment) -> list[dict]:
    if not update.capture_id or item.get("capture_id"):
        return []
    db = _db()
    return _ref_ops(db, item, [_provider_ref(Provider.PAYPAL, update.capture_id)])


# ---------------------------------------------------------------- confirm (both providers)
def _confirmation(item: dict[str, Any]) -> dict[str, Any]:
    """A payment as the confirm answers it: with the student it is for (the original PaymentConfirmation)."""
    student = _db().get(_student_pk(item["student_id"]), keys.PROFILE) or {}
    info = {"name": student.get("name"), "email": student.get("email")} if student else None
    return {**_public(item), "student_info": info}


def _duplicate_conflict(item: dict[str, Any]) -> Conflict:
    return Conflict(
        f"student {item['student_id']} was already enrolled in course {item.get('course_id')} by payment "
        f"{item['duplicate_of']}; this payment was refunded",
        paymentId=item["payment_id"],
        earlierPaymentId=item["duplicate_of"],
        paymentStatus=item["status"],
    )


def _withdraw(item: dict[str, Any]) -> dict[str, Any]:
    """A payment nobody may complete any more (the student is enrolled already): cancelled at Stripe;
    PayPal has no way to cancel a CAPTURE order, which expires uncaptured, so only the ledger says so.
    If the provider charged meanwhile, the success is applied and refunded as a duplicate."""
    cause = f"withdraw:{item['payment_id']}"
    if item["provider"] == Provider.STRIPE.value:
        update = _stripe().cancel_payment_intent(item["transaction_id"], f"withdraw-{item['payment_id']}")
    else:
        update = ProviderPayment(
            item["transaction_id"], PaymentStatus.CANCELED, int(item["amount_minor"]), item["currency"]
        )
    item, _ = advance(item, update, cause=cause)
    return item


def confirm(principal: Principal, data: ConfirmPayment, attempt: Attempt) -> dict[str, Any]:
    item = _find_payment(principal, data.transaction_id, data.provider)
    if data.provider is Provider.PAYPAL and data.payment_method:
        raise invalid("paymentMethod", "only for Stripe")
    if item.get("duplicate_of"):
        raise _duplicate_conflict(_settle_duplicate(item))
    if RANK[PaymentStatus(item["status"])] >= RANK[PaymentStatus.SUCCEEDED]:
        return _confirmation(item)
    if item.get("course_id"):
        # A student never pays twice for one course: refuse, and take the stale payment off the table.
        enrollment = _directory().enrollment(item["student_id"], item["course_id"], consistent=True)
        if enrollment is not None and enrollment.get("payment_id") != item["payment_id"]:
            item = _withdraw(item)
            raise _enrolled_conflict(
                item["student_id"],
                item["course_id"],
                enrollment,
                paymentId=item["payment_id"],
                paymentStatus=item["status"],
            )
    if data.provider is Provider.STRIPE:
        # What Stripe says after confirming, never what the client claims.
        update = _stripe().confirm_payment_intent(item["transaction_id"], data.payment_method, attempt.provider_key)
        extra: list[dict] = []
    else:
        update = _paypal().capture_order(item["transaction_id"], attempt.provider_key)
        extra = _capture_ref_ops(item, update)
    item, _ = advance(item, update, cause=f"confirm:{item['payment_id']}", extra_ops=extra)
    if update.status is PaymentStatus.FAILED and item["status"] == PaymentStatus.FAILED.value:
        raise _failed(item, update)
    if item.get("duplicate_of"):
        raise _duplicate_conflict(item)
    return _confirmation(item)


# ---------------------------------------------------------------- refunds
def _apply_refund(
    item: dict[str, Any], refund_id: str, amount_minor: int, reason: str | None, cause: str | None
) -> tuple[dict[str, Any], bool]:
    """One refund, once: its own record (keyed by the provider's refund id), the payment's refunded
    total and status and `payment_refunded`, in one transaction. A full refund ends the enrollment
    it paid for when the directory handles that event (services/directory_reactions.py)."""
    db = _db()
    for _ in range(5):
        refunded = int(item.get("refunded_minor", 0))
        total = int(item["amount_minor"])
        new_total = min(total, refunded + amount_minor)
        status = refund_status(total, new_total)
        now = _now()
        currency = item["currency"]
        record = {
            "PK": item["PK"],
            "SK": f"REFUND#{item['payment_id']}#{refund_id}",
            "kind": "refund",
            "refund_id": refund_id,
            "payment_id": item["payment_id"],
            "amount_minor": amount_minor,
            "currency": currency,
            "reason": reason,
            "created_at": now,
        }
        event_id, event_ops = _event(
            db,
            "payment_refunded",
            {
                "paymentId": item["payment_id"],
                "transactionId": item["transaction_id"],
                "studentId": item["student_id"],
                "refundId": refund_id,
                "amount": Money(amount_minor, currency).to_decimal_string(),
                "amountMinor": amount_minor,
                "refundedTotal": Money(new_total, currency).to_decimal_string(),
                "currency": currency,
                "provider": item["provider"],
                "status": status.value,
                "reason": reason,
                "refundedAt": now,
                **({"courseId": item["course_id"]} if item.get("course_id") else {}),
            },
            stable_id("event", "payment_refunded", item["provider"], refund_id),
            cause,
        )
        update = db.update_op(
            item["PK"],
            item["SK"],
            "SET #s = :s, #r = :r, #f = :new, #u = :u",
            "#f = :seen AND #r >= :paid",
            names={"#s": "status", "#r": "status_rank", "#f": "refunded_minor", "#u": "updated_at"},
            values={
                ":s": status.value,
                ":r": RANK[status],
                ":new": new_total,
                ":seen": refunded,
                ":u": now,
                ":paid": RANK[PaymentStatus.SUCCEEDED],
            },
        )
        ops = [db.put_op(record, "attribute_not_exists(PK)"), update, *event_ops]
        try:
            db.transact(ops)
        except ConditionFailed as failed:
            if failed.reasons[:1] == ["ConditionalCheckFailed"]:
                return reload(item), False  # this refund was applied already
            # Another refund moved the total meanwhile: read and recompute.
            item = reload(item)
            if RANK[PaymentStatus(item["status"])] < RANK[PaymentStatus.SUCCEEDED]:
                raise Conflict("the payment has not succeeded yet; nothing to refund") from None
            continue
        _publish([event_id])
        return reload(item), True
    raise Conflict("the payment changed too often meanwhile; try again")


def refund(principal: Principal, data: RefundPayment, attempt: Attempt) -> dict[str, Any]:
    principal.require(*STAFF)
    item = _find_payment(principal, data.transaction_id, data.provider)
    if RANK[PaymentStatus(item["status"])] < RANK[PaymentStatus.SUCCEEDED]:
        raise Conflict(f"payment {item['payment_id']} is {item['status']}; only a succeeded payment can be refunded")
    currency = item["currency"]
    left = Money(int(item["amount_minor"]) - int(item.get("refunded_minor", 0)), currency)
    if data.amount is None:
        amount = left
    else:
        try:
            amount = parse_amount(data.amount, currency)
        except MoneyError as error:
            raise invalid("amount", str(error)) from None
    if left.amount_minor <= 0 or amount.amount_minor > left.amount_minor:
        raise invalid("amount", f"only {left.to_decimal_string()} {currency} is left to refund")
    _provider_check(Provider(item["provider"]), amount, "amount")
    if data.provider is Provider.STRIPE:
        done = _stripe().create_refund(
            item["transaction_id"], amount, data.reason, item["payment_id"], attempt.provider_key
        )
    else:
        if not item.get("capture_id"):
            raise Conflict("the PayPal order has no capture to refund")
        done = _paypal().refund_capture(
            item["capture_id"], amount, data.reason, item["payment_id"], attempt.provider_key
        )
    item, _ = _apply_refund(item, done.refund_id, done.amount_minor, data.reason, f"refund:{attempt.key}")
    succeeded = done.status.lower() in ("succeeded", "completed")
    status = (
        "succeeded"
        if succeeded
        else ("failed" if done.status.lower() in ("failed", "canceled", "cancelled") else "pending")
    )
    now = _now()
    return {
        "refund_id": done.refund_id,
        "payment_id": item["payment_id"],
        "transaction_id": item["transaction_id"],
        "provider": item["provider"],
        "amount": Money(done.amount_minor, currency).to_decimal_string(),
        "amount_minor": done.amount_minor,
        "currency": currency,
        "reason": data.reason,
        "status": status,
        "payment_status": item["status"],
        "refunded_amount": Money(int(item["refunded_minor"]), currency).to_decimal_string(),
        "remaining_amount": Money(
            int(item["amount_minor"]) - int(item["refunded_minor"]), currency
        ).to_decimal_string(),
        "created_at": now,
        "completed_at": now if succeeded else None,
    }


# ---------------------------------------------------------------- history
def history(
    principal: Principal, student_id: str, provider: Provider | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A student's payments, newest first: one Query per page (by provider through GSI1)."""
    if principal.role is not Role.SERVICE:
        principal.require_owner_or_admin(student_id)
    db = _db()
    if provider is None:
        page = db.query(_student_pk(student_id), sk_prefix="PAYMENT#", limit=limit, cursor=cursor, newest_first=True)
    else:
        page = db.query(
            f"PAYMENTS#{student_id}#{provider.value}", index=keys.GSI1, limit=limit, cursor=cursor, newest_first=True
        )
    return {"items": [_public(i) for i in page.items], "next_cursor": page.next_cursor}


# ---------------------------------------------------------------- plans
def create_plan(principal: Principal, data: PlanCreate) -> dict[str, Any]:
    principal.require(Role.ADMIN)
    try:
        price = parse_amount(data.amount, data.currency)
    except CurrencyError as error:
        raise invalid("currency", str(error)) from None
    except MoneyError as error:
        raise invalid("amount", str(error)) from None
    plan_id = data.id or new_id("plan")
    now = _now()
    item = {
        "PK": _plan_pk(plan_id),
        "SK": keys.PROFILE,
        "GSI1PK": keys.listing_pk("plan"),
        "GSI1SK": keys.listing_sk(now, plan_id),
        "kind": "plan",
        "id": plan_id,
        "name": data.name,
        "amount": price.to_decimal_string(),
        "amount_minor": price.amount_minor,
        "currency": price.currency,
        "interval": data.interval,
        "created_at": now,
    }
    try:
        _db().put(item, "attribute_not_exists(PK)")
    except ConditionFailed:
        raise Conflict(f"plan {plan_id} already exists") from None
    return _public(item)


def _load_plan(plan_id: str) -> dict[str, Any]:
    plan = _db().get(_plan_pk(plan_id), keys.PROFILE)
    if plan is None:
        raise NotFound(f"plan {plan_id} does not exist")
    return plan


def get_plan(principal: Principal, plan_id: str) -> dict[str, Any]:
    return _public(_load_plan(plan_id))


def list_plans(principal: Principal, limit: int, cursor: str | None) -> dict[str, Any]:
    principal.require(Role.STUDENT, Role.ADMIN, Role.SERVICE, Role.TEACHER)
    page = _db().query(keys.listing_pk("plan"), index=keys.GSI1, limit=limit, cursor=cursor)
    return {"items": [_public(i) for i in page.items], "next_cursor": page.next_cursor}


def _provider_plan(plan: dict[str, Any], provider: Provider) -> str:
    """The plan's Stripe Price or PayPal Plan, created at the provider on first need and remembered."""
    attribute = "stripe_price_id" if provider is Provider.STRIPE else "paypal_plan_id"
    if plan.get(attribute):
        return plan[attribute]
    created = _stripe().ensure_price(plan) if provider is Provider.STRIPE else _paypal().ensure_plan(plan)
    try:
        _db().update(
            plan["PK"],
            plan["SK"],
            "SET #a = :v",
            "attribute_not_exists(#a)",
            names={"#a": attribute},
            values={":v": created},
        )
    except ConditionFailed:
        return _db().get(plan["PK"], plan["SK"], consistent=True)[attribute]  # type: ignore[index]
    return created


# ---------------------------------------------------------------- subscriptions
def _subscription_public(item: dict[str, Any], provider_view: ProviderSubscription | None = None) -> dict[str, Any]:
    out = _public(item)
    if provider_view is not None and item["status"] == SubscriptionStatus.PENDING.value:
        out |= {"approval_url": provider_view.approval_url, "client_secret": provider_view.client_secret}
    return out


def _advance_subscription(
    item: dict[str, Any],
    status: SubscriptionStatus,
    *,
    cause: str | None,
    extra_ops: list[dict] | None = None,
    view: ProviderSubscription | None = None,
) -> tuple[dict[str, Any], bool]:
    """Move a subscription forward to `status`, with the one event of that change: a subscription
    cancelled while still pending never activated, so it publishes `subscription_canceled` alone."""
    current = SubscriptionStatus(item["status"])
    extra_ops = extra_ops or []
    db = _db()
    next_billing = view.next_billing_at if view is not None and status is SubscriptionStatus.ACTIVE else None
    if SUBSCRIPTION_RANK[status] <= SUBSCRIPTION_RANK[current]:
        if next_billing and next_billing != item.get("next_billing_date") and current is SubscriptionStatus.ACTIVE:
            extra_ops = [*extra_ops, _next_billing_op(db, item, next_billing)]
        _write_extras(extra_ops)
        return (reload(item) if extra_ops else item), False
    now = _now()
    moment = "activated_at" if status is SubscriptionStatus.ACTIVE else "canceled_at"
    names = {"#s": "status", "#r": "status_rank", "#u": "updated_at", "#m": moment, "#n": "next_billing_date"}
    values: dict[str, Any] = {":s": status.value, ":r": SUBSCRIPTION_RANK[status], ":u": now}
    expression = "SET #s = :s, #r = :r, #u = :u, #m = :u"
    if next_billing:
        expression += ", #n = :n"
        values[":n"] = next_billing
    else:
        expression += " REMOVE #n"  # a cancelled subscription bills no more
    ops = [
        db.update_op(item["PK"], item["SK"], expression, "#r < :r", names=names, values=values),
        *extra_ops,
    ]
    name = "subscription_activated" if status is SubscriptionStatus.ACTIVE else "subscription_canceled"
    data = {
        "subscriptionId": item["subscription_id"],
        "studentId": item["student_id"],
        "planId": item["plan_id"],
        "provider": item["provider"],
        "providerSubscriptionId": item["provider_subscription_id"],
        ("activatedAt" if status is SubscriptionStatus.ACTIVE else "canceledAt"): now,
    }
    event_id, event_ops = _event(db, name, data, stable_id("event", name, item["subscription_id"]), cause)
    ops += event_ops
    try:
        db.transact(ops)
    except ConditionFailed:
        return reload(item), False
    _publish([event_id])
    return reload(item), True


def _next_billing_op(db: Table, item: dict[str, Any], next_billing: str) -> dict:
    return db.update_op(
        item["PK"],
        item["SK"],
        "SET #n = :n",
        "#s = :active",
        names={"#n": "next_billing_date", "#s": "status"},
        values={":n": next_billing, ":active": SubscriptionStatus.ACTIVE.value},
    )


def create_subscription(principal: Principal, data: SubscriptionCreate, attempt: Attempt) -> dict[str, Any]:
    student_id = _payer(principal, data.student_id)
    try:
        plan = _load_plan(data.plan_id)
    except NotFound:
        raise invalid("planId", f"plan {data.plan_id} does not exist") from None
    price = Money(int(plan["amount_minor"]), plan["currency"])
    _provider_check(data.provider, price, "planId")
    if data.provider is Provider.STRIPE and (data.return_url or data.cancel_url):
        raise invalid("returnUrl" if data.return_url else "cancelUrl", "only for PayPal")
    urls = _return_urls(data.return_url, data.cancel_url) if data.provider is Provider.PAYPAL else {}
    student = _student(student_id)
    subscription_id = attempt.stable("subscription")
    provider_plan = _provider_plan(plan, data.provider)
    if data.provider is Provider.STRIPE:
        created = _stripe().create_subscription(
            customer=_stripe_customer(student),
            price=provider_plan,
            payment_method=data.payment_method,
            metadata={"subscription_id": subscription_id, "student_id": student_id, "plan_id": plan["id"]},
            idempotency_key=attempt.provider_key,
        )
    else:
        if data.payment_method:
            raise invalid("paymentMethod", "only for Stripe")
        created = _paypal().create_subscription(
            plan_id=provider_plan,
            subscription_id=subscription_id,
            return_url=urls["return"],
            cancel_url=urls["cancel"],
            request_id=attempt.provider_key,
        )
    now = _now()
    item = {
        "PK": _student_pk(student_id),
        "SK": f"SUBSCRIPTION#{_order_stamp()}#{subscription_id}",
        "kind": "subscription",
        "subscription_id": subscription_id,
        "student_id": student_id,
        "plan_id": plan["id"],
        "provider": data.provider.value,
        "provider_subscription_id": created.provider_id,
        "status": SubscriptionStatus.PENDING.value,
        "status_rank": SUBSCRIPTION_RANK[SubscriptionStatus.PENDING],
        # The plan's terms when subscribing (the original Subscription's amount, currency, billing cycle).
        "amount_minor": price.amount_minor,
        "currency": price.currency,
        "interval": plan["interval"],
        "created_at": now,
        "updated_at": now,
    }
    item = _record(_db(), item, [subscription_id, _provider_ref(data.provider, created.provider_id)])
    item, _ = _advance_subscription(item, created.status, cause=f"subscribe:{subscription_id}", view=created)
    return _subscription_public(item, created)


def _find_subscription(principal: Principal, subscription_id: str) -> dict[str, Any]:
    item = _by_ref(subscription_id)
    if item.get("kind") != "subscription":
        raise NotFound(f"no subscription {subscription_id}")
    if principal.role is not Role.SERVICE:
        principal.require_owner_or_admin(item["student_id"])
    return item


def get_subscription(principal: Principal, subscription_id: str) -> dict[str, Any]:
    item = _find_subscription(principal, subscription_id)
    provider = Provider(item["provider"])
    if provider is Provider.STRIPE:
        current = _stripe().retrieve_subscription(item["provider_subscription_id"])
    else:
        current = _paypal().get_subscription(item["provider_subscription_id"])
    item, _ = _advance_subscription(item, current.status, cause=f"sync:{subscription_id}", view=current)
    return _subscription_public(item, current)


def cancel_subscription(
    principal: Principal, subscription_id: str, data: SubscriptionCancel, attempt: Attempt
) -> dict[str, Any]:
    item = _find_subscription(principal, subscription_id)
    if item["status"] == SubscriptionStatus.CANCELED.value:
        return _subscription_public(item)
    provider_id = item["provider_subscription_id"]
    if item["provider"] == Provider.STRIPE.value:
        current = _stripe().cancel_subscription(provider_id, attempt.provider_key)
    else:
        current = _paypal().cancel_subscription(
            provider_id, data.reason or "Canceled by the student", attempt.provider_key
        )
    item, _ = _advance_subscription(item, current.status, cause=f"cancel:{subscription_id}", view=current)
    return _subscription_public(item)


# ---------------------------------------------------------------- provider callbacks
def _event_record_op(provider: Provider, event_id: str, event_type: str) -> dict:
    return _db().put_op(
        {
            "PK": f"PROVIDER_EVENT#{provider.value}#{event_id}",
            "SK": "EVENT",
            "type": event_type,
            "received_at": _now(),
            "expiresAt": int(time.time()) + PROVIDER_EVENT_TTL_DAYS * 86400,
        },
        "attribute_not_exists(PK)",
    )


def seen_event(provider: Provider, event_id: str) -> bool:
    return _db().get(f"PROVIDER_EVENT#{provider.value}#{event_id}", "EVENT", consistent=True) is not None


def record_only(provider: Provider, event_id: str, event_type: str) -> None:
    _write_extras([_event_record_op(provider, event_id, event_type)])


def _optional_ref(reference: str) -> dict[str, Any] | None:
    try:
        return _by_ref(reference)
    except NotFound:
        return None


def _record_for(kind: str, provider: Provider, reference: str | None, provider_id: str | None) -> dict[str, Any] | None:
    """The ledger record (a payment or subscription, by `kind`) a provider object belongs to: by our id
    when it carries one (metadata, custom_id), else by the provider's id."""
    if reference and has_prefix(reference, kind):
        found = _optional_ref(reference)
        if found:
            return found
    return _optional_ref(_provider_ref(provider, provider_id)) if provider_id else None


def payment_for(provider: Provider, reference: str | None, provider_id: str | None) -> dict[str, Any] | None:
    return _record_for("payment", provider, reference, provider_id)


def apply_payment_update(
    provider: Provider, event_id: str, event_type: str, item: dict[str, Any], update: ProviderPayment
) -> bool:
    extra = [_event_record_op(provider, event_id, event_type)]
    if provider is Provider.PAYPAL:
        extra += _capture_ref_ops(item, update)
    _, changed = advance(item, update, cause=f"{provider.value}:{event_id}", extra_ops=extra)
    return changed


def apply_refund_event(
    provider: Provider, event_id: str, event_type: str, item: dict[str, Any], refund_id: str, amount_minor: int
) -> bool:
    _, changed = _apply_refund(item, refund_id, amount_minor, None, f"{provider.value}:{event_id}")
    record_only(provider, event_id, event_type)
    return changed


def subscription_for(provider: Provider, reference: str | None, provider_id: str | None) -> dict[str, Any] | None:
    return _record_for("subscription", provider, reference, provider_id)


def apply_subscription_status(
    provider: Provider,
    event_id: str,
    event_type: str,
    item: dict[str, Any],
    status: SubscriptionStatus,
    view: ProviderSubscription | None = None,
) -> bool:
    _, changed = _advance_subscription(
        item,
        status,
        cause=f"{provider.value}:{event_id}",
        extra_ops=[_event_record_op(provider, event_id, event_type)],
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
    """A subscription's periodic charge (Stripe invoice, PayPal sale) joins the ledger once."""
    payment_id = stable_id("payment", provider.value, charge_id)
    item = _new_payment(
        payment_id=payment_id,
        student_id=subscription["student_id"],
        provider=provider,
        transaction_id=charge_id,
        price=amount,
        plan_id=subscription["plan_id"],
        subscription_id=subscription["subscription_id"],
        now=_now(),
    )
    item = _record(_db(), item, [payment_id, _provider_ref(provider, charge_id)])
    status = PaymentStatus.SUCCEEDED if succeeded else PaymentStatus.FAILED
    update = ProviderPayment(
        charge_id, status, amount.amount_minor, amount.currency, failure_code=None if succeeded else "charge_failed"
    )
    changed = apply_payment_update(provider, event_id, event_type, item, update)
    if succeeded:
        _advance_subscription(subscription, SubscriptionStatus.ACTIVE, cause=f"{provider.value}:{event_id}")
    return changed
