"""Stripe through the official SDK (`stripe.StripeClient`, `client.v1.*`): customers, payment
intents, refunds, products and prices, subscriptions; and webhook verification, by Stripe's scheme
without the SDK (see `verify_event`).

The SDK is imported inside the functions that use it, so a function that never talks to Stripe
(payment history) does not pay for importing it. Credentials come from one JSON secret
{"apiKey", "webhookSecret", "baseUrl"?}; `baseUrl` points at the provider sandbox locally.
Failures become domain errors: a card problem is a result (the ledger records it), a 5xx or a
timeout is ProviderUnavailable, anything else Stripe refuses is ProviderRejected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from integration_core.adapters.secrets import secret_json
from integration_core.domain.currency_rules import STRIPE_RULES
from integration_core.domain.payments import (
    PaymentStatus,
    Provider,
    ProviderPayment,
    ProviderRefund,
    ProviderSubscription,
    SubscriptionStatus,
)
from integration_core.errors import Conflict, NotFound, ProviderRejected, ProviderUnavailable, Unprocessable
from integration_core.money import Money
from integration_core.observability import logger
from integration_core.payment_config import provider_settings
from integration_core.ports.payments import (
    Callback,
    CallbackRefused,
    Checkout,
    Customer,
    PaymentChanged,
    PaymentRefunded,
    ProviderEvent,
    Subscribe,
    SubscriptionChanged,
    SubscriptionCharged,
    Unrelated,
)

if TYPE_CHECKING:
    import stripe

DEFAULT_BASE = "https://api.stripe.com"
_STATUS = {
    "requires_payment_method": PaymentStatus.CREATED,
    "requires_confirmation": PaymentStatus.CREATED,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.APPROVED,
    "requires_capture": PaymentStatus.APPROVED,
    "succeeded": PaymentStatus.SUCCEEDED,
    "canceled": PaymentStatus.CANCELED,
}
_SUBSCRIPTION_STATUS = {
    "incomplete": SubscriptionStatus.PENDING,
    "trialing": SubscriptionStatus.ACTIVE,
    "active": SubscriptionStatus.ACTIVE,
    "past_due": SubscriptionStatus.ACTIVE,
    "paused": SubscriptionStatus.ACTIVE,
    "unpaid": SubscriptionStatus.CANCELED,
    "canceled": SubscriptionStatus.CANCELED,
    "incomplete_expired": SubscriptionStatus.CANCELED,
}
# Stripe's own refund reasons; any other text travels in metadata.
STRIPE_REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}


def _secret() -> dict[str, Any]:
    return secret_json(provider_settings().stripe_secret_name)


def _timeout() -> float:
    return provider_settings().timeout_seconds


@lru_cache(maxsize=4)
def _client(api_key: str, base_url: str, timeout: float) -> stripe.StripeClient:
    import stripe

    return stripe.StripeClient(
        api_key,
        base_addresses={"api": base_url},
        # One retry, made safe by the idempotency key every create carries.
        max_network_retries=1,
        http_client=stripe.HTTPXClient(timeout=timeout, allow_sync_methods=True),
    )


def client() -> stripe.StripeClient:
    secret = _secret()
    return _client(secret["apiKey"], secret.get("baseUrl") or DEFAULT_BASE, _timeout())


def log_refusal(what: str, error: Any) -> None:
    """What Stripe said when it refused a call, for the operator: its status, code, decline code,
    message and request id. Never the request itself (card data, keys) or the client secret."""
    body = getattr(error, "error", None)
    logger.warning(
        "stripe refused",
        extra={
            "call": what,
            "status": getattr(error, "http_status", None),
            "error_type": getattr(body, "type", None) or type(error).__name__,
            "code": getattr(error, "code", None),
            "decline_code": getattr(body, "decline_code", None),
            "provider_message": _redacted(getattr(body, "message", None) or getattr(error, "user_message", None)),
            "param": getattr(body, "param", None),
            "request_id": getattr(error, "request_id", None),
        },
    )


def _redacted(message: str | None) -> str | None:
    # Stripe's messages may quote a client secret ("pi_..._secret_..."); keep the text, drop the secret.
    if not message:
        return message
    return " ".join(
        "[redacted]" if "_secret_" in word or word.startswith(("sk_", "rk_")) else word for word in message.split()
    )


@contextmanager
def _calling(what: str) -> Iterator[None]:
    import stripe

    from integration_core.stores.provider_health import note  # the admins' health page

    try:
        yield
        note("stripe", True)
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        logger.warning("stripe unavailable", extra={"call": what, "error": type(error).__name__})
        note("stripe", False, f"{type(error).__name__} ({what})")
        raise ProviderUnavailable(f"Stripe did not answer ({what}); try again", retry_after=5) from None
    except stripe.APIError as error:
        logger.warning("stripe error", extra={"call": what, "status": error.http_status})
        note("stripe", False, f"answered {error.http_status} ({what})")
        raise ProviderUnavailable(f"Stripe failed ({what}); try again", retry_after=10) from None
    except stripe.IdempotencyError as error:
        log_refusal(what, error)
        raise Conflict("this Idempotency-Key was already used for a different request") from None
    except stripe.InvalidRequestError as error:
        log_refusal(what, error)
        if error.code == "resource_missing":
            raise NotFound(f"Stripe has no such object ({what})") from None
        if error.code in ("amount_too_large", "charge_already_refunded"):
            raise Unprocessable(f"Stripe refused the amount: {error.user_message or error.code}") from None
        raise ProviderRejected(f"Stripe refused the request ({what}): {error.code or 'invalid request'}") from None
    except (stripe.AuthenticationError, stripe.PermissionError) as error:
        logger.error("stripe credentials refused", extra={"call": what, "status": error.http_status})
        note("stripe", False, f"credentials refused ({what})")
        raise ProviderRejected("Stripe refused our credentials; the operator must fix the configuration") from None
    except stripe.CardError:
        raise  # a decline is a result: the caller records it on its payment
    except stripe.StripeError as error:
        # Anything else Stripe answers (an unknown kind of error): its words, logged.
        log_refusal(what, error)
        raise ProviderRejected(f"Stripe refused the request ({what}): {error.code or 'refused'}") from None


def _plain(obj: Any) -> dict[str, Any]:
    """SDK objects are not dicts (stripe >= 15); events arrive as plain dicts already."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def money(amount: int, currency: str) -> Money:
    """Our money for a Stripe amount (Stripe's integer unit differs for some currencies)."""
    return STRIPE_RULES.from_integer(int(amount), str(currency).upper())


def intent_payment(intent: Any, failure: Any = None) -> ProviderPayment:
    intent = _plain(intent)
    error = failure or intent.get("last_payment_error")
    status = _STATUS.get(intent["status"], PaymentStatus.CREATED)
    if error and status is PaymentStatus.CREATED:
        status = PaymentStatus.FAILED
    final = status in (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED)
    amount = money(intent["amount"], intent["currency"])
    charge = intent.get("latest_charge") if isinstance(intent.get("latest_charge"), dict) else {}
    return ProviderPayment(
        provider_id=intent["id"],
        status=status,
        amount_minor=amount.amount_minor,
        currency=amount.currency,
        client_secret=None if final else intent.get("client_secret"),
        # Absent is None, as PayPal reports it; a success carries no failure at all.
        failure_code=(error.get("decline_code") or error.get("code") or None) if error else None,
        failure_message=(error.get("message") or None) if error else None,
        reference=(intent.get("metadata") or {}).get("payment_id"),
        provider_status=intent["status"],
        amount_received_minor=money(intent.get("amount_received") or 0, intent["currency"]).amount_minor,
        receipt_url=charge.get("receipt_url"),
        payment_method=(charge.get("payment_method_details") or {}).get("type"),
    )


def ensure_customer(student_id: str, email: str, name: str, idempotency_key: str) -> str:
    with _calling("create customer"):
        customer = client().v1.customers.create(
            params={"email": email, "name": name, "metadata": {"student_id": student_id}},
            options={"idempotency_key": idempotency_key},
        )
    return customer.id


def create_payment_intent(
    *,
    amount: Money,
    customer: str,
    metadata: dict[str, str],
    description: str,
    idempotency_key: str,
) -> ProviderPayment:
    """A PaymentIntent for `amount` (confirmed separately, so that a decline is always about a known
    intent)."""
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": STRIPE_RULES.to_integer(amount),
        "currency": amount.currency.lower(),
        "customer": customer,
        "metadata": metadata,
        "description": description[:1000],
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
    }
    with _calling("create payment intent"):
        intent = client().v1.payment_intents.create(params=params, options={"idempotency_key": idempotency_key})
    return intent_payment(intent)


def _declined(error: Any, intent_id: str) -> ProviderPayment:
    """A card error on confirming `intent_id`: the decline recorded on that intent, whether or not
    Stripe's error carries the intent (a bare card error does not)."""
    log_refusal("confirm payment intent", error)
    body = error.error
    failure = {
        "code": error.code or None,
        "decline_code": getattr(body, "decline_code", None) or None,
        "message": error.user_message or getattr(body, "message", None) or "the card was declined",
    }
    intent = getattr(body, "payment_intent", None) if body else None
    if intent is None:
        with _calling("retrieve payment intent"):
            intent = client().v1.payment_intents.retrieve(intent_id)
    # The intent waits for another method (requires_payment_method): with this failure, it failed.
    return intent_payment(intent, failure)


def confirm_payment_intent(intent_id: str, payment_method: str | None, idempotency_key: str) -> ProviderPayment:
    import stripe

    params: stripe.params.PaymentIntentConfirmParams = {"payment_method": payment_method} if payment_method else {}
    try:
        with _calling("confirm payment intent"):
            intent = client().v1.payment_intents.confirm(
                intent_id, params={**params, "expand": ["latest_charge"]}, options={"idempotency_key": idempotency_key}
            )
    except stripe.CardError as error:
        return _declined(error, intent_id)
    except stripe.InvalidRequestError as error:
        # Already succeeded or canceled: Stripe's answer is the payment as it stands.
        if error.code != "payment_intent_unexpected_state":
            with _calling("confirm payment intent"):
                raise
        return retrieve_payment_intent(intent_id)
    return intent_payment(intent)


def retrieve_payment_intent(intent_id: str) -> ProviderPayment:
    with _calling("retrieve payment intent"):
        return intent_payment(client().v1.payment_intents.retrieve(intent_id, params={"expand": ["latest_charge"]}))


def cancel_payment_intent(intent_id: str, idempotency_key: str) -> ProviderPayment:
    """Cancel an intent nobody should pay any more; one already final is answered as it stands."""
    import stripe

    try:
        with _calling("cancel payment intent"):
            intent = client().v1.payment_intents.cancel(
                intent_id, params={"cancellation_reason": "duplicate"}, options={"idempotency_key": idempotency_key}
            )
    except stripe.InvalidRequestError as error:
        if error.code != "payment_intent_unexpected_state":
            with _calling("cancel payment intent"):
                raise
        return retrieve_payment_intent(intent_id)
    return intent_payment(intent)


def create_refund(
    intent_id: str, amount: Money, reason: str | None, payment_id: str, idempotency_key: str
) -> ProviderRefund:
    params: stripe.params.RefundCreateParams = {
        "payment_intent": intent_id,
        "amount": STRIPE_RULES.to_integer(amount),
        "metadata": {"payment_id": payment_id},
    }
    if reason in STRIPE_REFUND_REASONS:
        params["reason"] = reason
    elif reason:
        params |= {"reason": "requested_by_customer", "metadata": {"payment_id": payment_id, "reason": reason[:500]}}
    with _calling("create refund"):
        refund = client().v1.refunds.create(params=params, options={"idempotency_key": idempotency_key})
    return _refund(refund)


def _refund(refund: Any) -> ProviderRefund:
    refund = _plain(refund)
    amount = money(refund["amount"], refund["currency"])
    return ProviderRefund(
        refund_id=refund["id"],
        amount_minor=amount.amount_minor,
        currency=amount.currency,
        status=refund["status"],
    )


def list_refunds(intent_id: str) -> list[ProviderRefund]:
    with _calling("list refunds"):
        page = client().v1.refunds.list(params={"payment_intent": intent_id, "limit": 100})
    return [_refund(r) for r in page.data]


def ensure_price(plan: dict[str, Any]) -> str:
    """A product and a recurring price for one of our plans; the idempotency keys make concurrent
    first uses create them once."""
    with _calling("create price"):
        product = client().v1.products.create(
            params={"name": plan["name"], "metadata": {"plan_id": plan["id"]}},
            options={"idempotency_key": f"product-{plan['id']}"},
        )
        price = client().v1.prices.create(
            params={
                "product": product.id,
                "unit_amount": STRIPE_RULES.to_integer(Money(int(plan["amount_minor"]), plan["currency"])),
                "currency": plan["currency"].lower(),
                "recurring": {"interval": plan["interval"]},
                "metadata": {"plan_id": plan["id"]},
            },
            options={"idempotency_key": f"price-{plan['id']}"},
        )
    return price.id


def subscription_view(sub: Any) -> ProviderSubscription:
    sub = _plain(sub)
    invoice = sub.get("latest_invoice")
    secret = None
    if isinstance(invoice, dict):
        confirmation = invoice.get("confirmation_secret")
        secret = confirmation.get("client_secret") if confirmation else None
    status = _SUBSCRIPTION_STATUS.get(sub["status"], SubscriptionStatus.PENDING)
    # The period's end is on the subscription (older API versions) or on its items (newer ones).
    items = (sub.get("items") or {}).get("data") or [{}]
    period_end = sub.get("current_period_end") or items[0].get("current_period_end")
    return ProviderSubscription(
        provider_id=sub["id"],
        status=status,
        client_secret=secret if status is SubscriptionStatus.PENDING else None,
        reference=(sub.get("metadata") or {}).get("subscription_id"),
        next_billing_at=_iso(period_end) if period_end and status is SubscriptionStatus.ACTIVE else None,
    )


def _iso(unix_seconds: Any) -> str:
    from datetime import UTC, datetime

    from integration_core.timeutil import iso_utc

    return iso_utc(datetime.fromtimestamp(int(unix_seconds), UTC))


def create_subscription(
    *, customer: str, price: str, payment_method: str | None, metadata: dict[str, str], idempotency_key: str
) -> ProviderSubscription:
    params: stripe.params.SubscriptionCreateParams = {
        "customer": customer,
        "items": [{"price": price}],
        "metadata": metadata,
        "payment_behavior": "default_incomplete",
        "expand": ["latest_invoice.confirmation_secret"],
    }
    with _calling("create subscription"):
        if payment_method:
            # A card given up front pays the first invoice at once.
            attached = client().v1.payment_methods.attach(
                payment_method, params={"customer": customer}, options={"idempotency_key": f"attach-{idempotency_key}"}
            )
            params |= {"default_payment_method": attached.id, "payment_behavior": "error_if_incomplete"}
        sub = client().v1.subscriptions.create(params=params, options={"idempotency_key": idempotency_key})
    return subscription_view(sub)


def retrieve_subscription(subscription_id: str) -> ProviderSubscription:
    with _calling("retrieve subscription"):
        return subscription_view(client().v1.subscriptions.retrieve(subscription_id))


def cancel_subscription(subscription_id: str, idempotency_key: str) -> ProviderSubscription:
    with _calling("cancel subscription"):
        sub = client().v1.subscriptions.cancel(subscription_id, options={"idempotency_key": idempotency_key})
    return subscription_view(sub)


CALLBACK_TOLERANCE_SECONDS = 300  # Stripe's own default


def verify_event(raw_body: bytes, signature: str | None, now: float | None = None) -> dict[str, Any]:
    """The event, if a `v1` signature of the Stripe-Signature header is the HMAC-SHA256 of
    "{t}.{raw body}" with the endpoint secret and `t` is within 300 s of now; ValueError otherwise.

    This is Stripe's documented scheme, checked as `stripe.Webhook.construct_event` checks it
    (tests hold the two against each other), and stricter: a timestamp too far in the future is
    refused too. Not the SDK's call itself: importing the SDK cost this function about 130 ms of
    every cold start (it loads requests, asyncio and httpx for its HTTP clients) for ten lines."""
    import hashlib
    import hmac
    import json
    import time

    fields = [part.partition("=") for part in (signature or "").split(",")]
    given = [value.encode() for name, _, value in fields if name == "v1"]
    try:
        timestamp = int(next(value for name, _, value in fields if name == "t"))
    except (StopIteration, ValueError):
        raise ValueError("the Stripe-Signature has no timestamp") from None
    if not given:
        raise ValueError("the Stripe-Signature has no v1 signature")
    if abs((time.time() if now is None else now) - timestamp) > CALLBACK_TOLERANCE_SECONDS:
        raise ValueError("the Stripe-Signature is too old or in the future")
    secret = str(_secret().get("webhookSecret") or "")
    if not secret.strip():
        raise ValueError("no Stripe webhook secret is configured")
    expected = hmac.new(secret.encode(), b"%d." % timestamp + raw_body, hashlib.sha256).hexdigest().encode()
    if not any(hmac.compare_digest(expected, value) for value in given):
        raise ValueError("the Stripe-Signature does not match")
    event: dict[str, Any] = json.loads(raw_body)
    return event


# ---------------------------------------------------------------- the payments port (ports.payments)
EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
}


class StripePayments:
    """Stripe behind the payments port: PaymentIntents for course payments, Prices for plans."""

    provider = Provider.STRIPE
    name = "Stripe"
    takes_payment_method = True
    takes_return_urls = False
    plan_attribute = "stripe_price_id"

    def customer(
        self, customer: Customer, remembered: Callable[[], str | None], remember: Callable[[str], str]
    ) -> str | None:
        """One Stripe customer per student, created on first need and remembered on the student."""
        known = remembered()
        if known:
            return known
        sid = customer.student_id
        return remember(ensure_customer(sid, customer.email, customer.name, f"customer-{sid}"))

    def start(self, checkout: Checkout) -> ProviderPayment:
        return create_payment_intent(
            amount=checkout.price,
            customer=checkout.customer or "",
            metadata={
                "payment_id": checkout.payment_id,
                "student_id": checkout.student_id,
                "course_id": checkout.course_id,
            },
            description=checkout.description,
            idempotency_key=checkout.idempotency_key,
        )

    def confirm(self, transaction_id: str, payment_method: str | None, idempotency_key: str) -> ProviderPayment:
        # What Stripe says after confirming, never what the client claims.
        return confirm_payment_intent(transaction_id, payment_method, idempotency_key)

    def retrieve(self, transaction_id: str) -> ProviderPayment:
        return retrieve_payment_intent(transaction_id)

    def describe(self, transaction_id: str) -> tuple[ProviderPayment, dict[str, Any]]:
        intent = retrieve_payment_intent(transaction_id)
        return intent, {"payment_intent_id": intent.provider_id, "provider_status": intent.provider_status}

    def cancel(self, transaction_id: str, idempotency_key: str) -> ProviderPayment | None:
        return cancel_payment_intent(transaction_id, idempotency_key)

    def refund(
        self,
        *,
        transaction_id: str,
        capture_id: str | None,
        payment_id: str,
        amount: Money,
        reason: str | None,
        idempotency_key: str,
        duplicate: bool = False,
    ) -> ProviderRefund:
        return create_refund(transaction_id, amount, "duplicate" if duplicate else reason, payment_id, idempotency_key)

    def settled_refunds(self, provider_id: str) -> list[ProviderRefund]:
        return [r for r in list_refunds(provider_id) if r.status in ("succeeded", "pending")]

    def ensure_plan(self, plan: dict[str, Any]) -> str:
        return ensure_price(plan)

    def subscribe(self, request: Subscribe) -> ProviderSubscription:
        return create_subscription(
            customer=request.customer or "",
            price=request.provider_plan,
            payment_method=request.payment_method,
            metadata={
                "subscription_id": request.subscription_id,
                "student_id": request.student_id,
                "plan_id": request.plan_id,
            },
            idempotency_key=request.idempotency_key,
        )

    def subscription(self, provider_id: str) -> ProviderSubscription:
        return retrieve_subscription(provider_id)

    def cancel_subscription(self, provider_id: str, reason: str | None, idempotency_key: str) -> ProviderSubscription:
        return cancel_subscription(provider_id, idempotency_key)

    def verify_callback(self, raw_body: bytes, headers: dict[str, str]) -> Callback:
        signature = headers.get("stripe-signature")
        if not signature:
            raise CallbackRefused("the Stripe-Signature header is missing")
        try:
            event = verify_event(raw_body, signature)
        except ValueError:
            raise CallbackRefused("the Stripe signature is not valid or too old") from None
        data = event.get("data") if isinstance(event, dict) else None
        return Callback.of(event, "type", data.get("object") if isinstance(data, dict) else None, "Stripe")

    def parse_callback(self, callback: Callback) -> ProviderEvent | None:
        kind, obj = callback.event_type, callback.payload
        if kind not in EVENTS:
            return None
        if kind.startswith("payment_intent."):
            update = intent_payment(obj)
            return PaymentChanged(update.reference, obj["id"], update)
        if kind == "charge.refunded":
            # The charge says how much in total; the refunds themselves say which are new.
            awaited = (obj.get("metadata") or {}).get("payment_id")
            return PaymentRefunded(None, obj.get("payment_intent"), awaited, None)
        if kind.startswith("customer.subscription."):
            view = subscription_view(obj)
            status = SubscriptionStatus.CANCELED if kind.endswith(".deleted") else view.status
            return SubscriptionChanged(view.reference, obj["id"], status, view)
        # invoice.paid / invoice.payment_failed
        details = (obj.get("parent") or {}).get("subscription_details") or {}
        subscription_id = obj.get("subscription") or details.get("subscription")
        if not subscription_id:
            return Unrelated()
        paid = kind == "invoice.paid"
        amount = money(obj["amount_paid"] if paid else obj["amount_due"], obj["currency"])
        awaited = (details.get("metadata") or {}).get("subscription_id")
        return SubscriptionCharged(None, subscription_id, awaited, obj["id"], amount, paid)


ADAPTER = StripePayments()
