"""What every payment operation shares: the caller's idempotency key as providers want it, who pays
and how much, the ledger record as the API shows it, and the lazy ways to the store, the directory
and the outbox."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from integration_core import timeutil
from integration_core.domain import currency_rules
from integration_core.domain.payments import Provider, return_url_refusal
from integration_core.errors import Conflict, Forbidden, NotFound, invalid
from integration_core.ids import stable_id
from integration_core.money import Money, MoneyError, parse_amount
from integration_core.observability import logger
from integration_core.payment_config import payment_settings
from integration_core.principal import Principal, Role
from integration_core.stores.payments import INTERNAL, PaymentsStore, provider_ref
from integration_core.stores.payments import store as payments_store

if TYPE_CHECKING:  # the API's models: a callback never loads them (domain.payments says why)
    from integration_core.domain.payment_models import PayPalProcess, StripeInitialize

PAYERS = (Role.STUDENT, Role.ADMIN, Role.SERVICE)
STAFF = (Role.ADMIN, Role.SERVICE)


def store() -> PaymentsStore:
    return payments_store()


# The directory and the outbox load where a payment is started or succeeds: reads (history, plans,
# subscriptions) and refused callbacks do without them and their imports. A success takes only
# `enrollments` (no API models), so a callback that enrolls never loads the directory's.
# Any: a module handed out lazily has no type mypy can name (the calls through it go unchecked).
def directory() -> Any:
    from integration_core.services import directory

    return directory


def enrollments() -> Any:
    from integration_core.services import enrollments

    return enrollments


def events() -> Any:
    from integration_core.services import events

    return events


def now() -> str:
    return timeutil.iso_utc(timeutil.utc_now())


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
def payer(principal: Principal, student_id: str | None) -> str:
    principal.require(*PAYERS)
    if principal.role is Role.STUDENT:
        if student_id and student_id != principal.sub:
            raise Forbidden("students pay only for themselves")
        return principal.sub
    if not student_id:
        raise invalid("studentId", "required when paying on a student's behalf")
    return student_id


def student(student_id: str) -> dict[str, Any]:
    found = store().student(student_id)
    if found is None:
        raise invalid("studentId", f"student {student_id} does not exist")
    return found


def price_check(price: Money, amount: str | None, currency: str | None) -> None:
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
        course = directory().load_course(course_id)
    except NotFound:
        raise invalid("courseId", f"course {course_id} does not exist") from None
    price = Money(int(course["price"]["amount_minor"]), course["price"]["currency"])
    price_check(price, amount, currency)
    if price.amount_minor <= 0:
        raise invalid("courseId", "this course is free; enroll the student instead")
    return course, price


def provider_check(provider: Provider, price: Money, field: str) -> None:
    """422 naming `field` when the provider's currency rules refuse the price, before any call to it."""
    reason = currency_rules.refusal(provider.value, price)
    if reason:
        others = [p for p in currency_rules.providers_for(price) if p != provider.value]
        hint = f"; pay with {' or '.join(others)}" if others else "; no provider of this school can take it"
        raise invalid(field, reason + hint)


def enrolled_conflict(student_id: str, course_id: str, enrollment: dict[str, Any], **extensions: Any) -> Conflict:
    earlier = enrollment.get("payment_id")
    detail = f"student {student_id} is already enrolled in course {course_id}"
    if earlier:
        detail += f", paid by payment {earlier}"
        extensions["earlierPaymentId"] = earlier
    return Conflict(detail, **extensions)


def course_checkout(
    principal: Principal, data: StripeInitialize | PayPalProcess, provider: Provider
) -> tuple[dict[str, Any], dict[str, Any], Money]:
    """(student, course, price) of a course payment: the student who pays (the caller, or the one a
    staff caller names), refused when already enrolled; the price is the directory's and must be one
    the provider takes."""
    student_id = payer(principal, data.student_id)
    course, price = _course_price(data.course_id, data.amount, data.currency)
    provider_check(provider, price, "courseId")
    found = student(student_id)
    enrollment = directory().enrollment(student_id, course["id"])
    if enrollment is not None:
        raise enrolled_conflict(student_id, course["id"], enrollment)
    return found, course, price


def return_urls(return_url: str | None, cancel_url: str | None) -> dict[str, str]:
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


def public(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in item.items() if k not in INTERNAL}
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


def by_ref(reference: str) -> dict[str, Any]:
    item = store().by_ref(reference)
    if item is None:
        raise NotFound(f"no payment or subscription {reference.split(':')[-1]}")
    return item


def find_payment(principal: Principal, transaction_id: str, provider: Provider) -> dict[str, Any]:
    reference = transaction_id if transaction_id.startswith("pay_") else provider_ref(provider, transaction_id)
    item = by_ref(reference)
    if item.get("kind") != "payment" or item["provider"] != provider.value:
        raise NotFound(f"no {provider.value} payment {transaction_id}")
    if principal.role is not Role.SERVICE:
        principal.require_owner_or_admin(item["student_id"])
    return item


def reload(item: dict[str, Any]) -> dict[str, Any]:
    return store().reload(item)


def publish(event_ids: list[str]) -> None:
    """Fan out events already committed with the change. If this fails, the change stands and the
    events wait in the outbox for the sweeper: the caller is not told the payment failed."""
    try:
        events().dispatch(event_ids)
    except Exception:
        logger.exception("dispatch failed; the sweeper will deliver", extra={"event_ids": event_ids})
