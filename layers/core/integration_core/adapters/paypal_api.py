"""PayPal's REST API over httpx: the client-credentials token (cached until shortly before it
expires), Orders v2 (create with intent CAPTURE, get, capture), refunds of captures, catalog
products and billing plans, Subscriptions v1, and webhook verification through
verify-webhook-signature.

Credentials come from one JSON secret {"clientId", "clientSecret", "webhookId", "baseUrl"?}.
Every POST carries `PayPal-Request-Id`, so the retries of `provider_http` (429 and 5xx, capped
exponential backoff honouring Retry-After, one fresh token on 401) never repeat a charge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

import httpx

from integration_core.adapters.provider_http import ClientCredentials, ProviderHttp
from integration_core.adapters.secrets import secret_json
from integration_core.domain.currency_rules import PAYPAL_RULES
from integration_core.domain.payments import (
    PaymentStatus,
    Provider,
    ProviderPayment,
    ProviderRefund,
    ProviderSubscription,
    SubscriptionStatus,
)
from integration_core.errors import (
    Conflict,
    NotFound,
    PaymentRequired,
    ProviderRejected,
    Unprocessable,
)
from integration_core.money import Money
from integration_core.observability import logger
from integration_core.payment_config import provider_settings
from integration_core.ports.payments import (
    Callback,
    CallbackRefused,
    Checkout,
    Customer,
    NothingCaptured,
    PaymentChanged,
    PaymentRefunded,
    ProviderEvent,
    Subscribe,
    SubscriptionChanged,
    SubscriptionCharged,
)

DEFAULT_BASE = "https://api-m.paypal.com"
TOKEN_MARGIN_SECONDS = 120
_ORDER_STATUS = {
    "CREATED": PaymentStatus.CREATED,
    "SAVED": PaymentStatus.CREATED,
    "PAYER_ACTION_REQUIRED": PaymentStatus.REQUIRES_ACTION,
    "APPROVED": PaymentStatus.APPROVED,
    "VOIDED": PaymentStatus.CANCELED,
}
_CAPTURE_STATUS = {
    "COMPLETED": PaymentStatus.SUCCEEDED,
    "PENDING": PaymentStatus.APPROVED,
    "DECLINED": PaymentStatus.FAILED,
    "FAILED": PaymentStatus.FAILED,
    "REFUNDED": PaymentStatus.REFUNDED,
    "PARTIALLY_REFUNDED": PaymentStatus.PARTIALLY_REFUNDED,
}
_SUBSCRIPTION_STATUS = {
    "APPROVAL_PENDING": SubscriptionStatus.PENDING,
    "APPROVED": SubscriptionStatus.PENDING,
    "ACTIVE": SubscriptionStatus.ACTIVE,
    "SUSPENDED": SubscriptionStatus.ACTIVE,
    "CANCELLED": SubscriptionStatus.CANCELED,
    "EXPIRED": SubscriptionStatus.CANCELED,
}
_DECLINES = {"INSTRUMENT_DECLINED", "TRANSACTION_REFUSED", "PAYER_CANNOT_PAY", "PAYEE_BLOCKED_TRANSACTION"}
_NOT_APPROVED = {"ORDER_NOT_APPROVED", "PAYER_ACTION_REQUIRED"}
_TOO_MUCH = {"REFUND_AMOUNT_EXCEEDED", "REFUND_FAILED_INSUFFICIENT_FUNDS", "CAPTURE_FULLY_REFUNDED"}


@dataclass(frozen=True)
class _Credentials:
    client_id: str
    client_secret: str = field(repr=False)
    webhook_id: str = ""
    base_url: str = DEFAULT_BASE


def _credentials() -> _Credentials:
    secret = secret_json(provider_settings().paypal_secret_name)
    return _Credentials(
        client_id=secret["clientId"],
        client_secret=secret["clientSecret"],
        webhook_id=secret.get("webhookId", ""),
        base_url=(secret.get("baseUrl") or DEFAULT_BASE).rstrip("/"),
    )


@lru_cache(maxsize=4)
def _http(creds: _Credentials, timeout: float) -> ProviderHttp:
    # One client (and so one cached token) per account and base URL, as PayPal issues them.
    return ProviderHttp(
        "paypal",
        title="PayPal",
        timeout=timeout,
        credentials=ClientCredentials(creds.base_url + "/v1/oauth2/token", creds.client_id, creds.client_secret),
        token_margin_seconds=TOKEN_MARGIN_SECONDS,
    )


def _call(method: str, path: str, *, what: str, json: Any = None, request_id: str | None = None) -> dict[str, Any]:
    creds = _credentials()
    headers = {"Content-Type": "application/json", "Prefer": "return=representation"}
    if request_id:
        headers["PayPal-Request-Id"] = request_id
    answer = _http(creds, provider_settings().timeout_seconds).call(
        method, creds.base_url + path, what=what, json=json, headers=headers
    )
    if answer.status_code < 300:
        return answer.json() if answer.content else {}
    _raise(answer, what)
    raise AssertionError("unreachable")


def _error_body(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _issues(answer: httpx.Response) -> set[str]:
    body = _error_body(answer)
    return {d.get("issue", "") for d in body.get("details") or [] if isinstance(d, dict)} | {body.get("name", "")}


def _log_refusal(answer: httpx.Response, what: str) -> None:
    """What PayPal said when it refused a call, for the operator: its name, message, each issue with
    its description and field, and the debug id. Never our request (tokens, payer data)."""
    body = _error_body(answer)
    details = [
        {k: d.get(k) for k in ("issue", "description", "field") if d.get(k)}
        for d in body.get("details") or []
        if isinstance(d, dict)
    ]
    logger.warning(
        "paypal refused",
        extra={
            "call": what,
            "status": answer.status_code,
            "code": body.get("name") or body.get("error"),
            "provider_message": body.get("message") or body.get("error_description"),
            "issues": details,
            "debug_id": body.get("debug_id") or answer.headers.get("Paypal-Debug-Id"),
        },
    )


def _raise(answer: httpx.Response, what: str) -> None:
    issues = _issues(answer)
    _log_refusal(answer, what)
    if answer.status_code == 404 or "RESOURCE_NOT_FOUND" in issues:
        raise NotFound(f"PayPal has no such object ({what})")
    if issues & _NOT_APPROVED:
        raise Conflict("the buyer has not approved this PayPal order yet; send them to the approval link")
    if issues & _DECLINES:
        raise PaymentRequired("PayPal declined the payment; the buyer may choose another funding source")
    if issues & _TOO_MUCH:
        raise Unprocessable("PayPal refused the refund: the amount is more than what is left to refund")
    if "DUPLICATE_REQUEST_ID" in issues:
        raise Conflict("this Idempotency-Key was already used for a different request")
    raise ProviderRejected(f"PayPal refused the request ({what})")


def _link(resource: dict[str, Any], *rels: str) -> str | None:
    for link in resource.get("links") or []:
        if link.get("rel") in rels:
            href: str | None = link.get("href")
            return href
    return None


def _money(amount: dict[str, Any]) -> Money:
    return Money.from_decimal(amount["value"], amount["currency_code"])


def order_payment(order: dict[str, Any]) -> ProviderPayment:
    unit = (order.get("purchase_units") or [{}])[0]
    captures = (unit.get("payments") or {}).get("captures") or []
    capture = captures[-1] if captures else None
    if capture:
        status = _CAPTURE_STATUS.get(capture.get("status", ""), PaymentStatus.APPROVED)
        if status in (PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED):
            status = PaymentStatus.SUCCEEDED  # refunds are applied by amount, not by this summary
    else:
        status = _ORDER_STATUS.get(order.get("status", ""), PaymentStatus.CREATED)
    amount = _money(unit["amount"] if "amount" in unit else (capture or {})["amount"])
    declined = status is PaymentStatus.FAILED
    paid_with = next(iter(order.get("payment_source") or {}), None) or ("paypal" if order.get("payer") else None)
    return ProviderPayment(
        provider_id=order["id"],
        status=status,
        amount_minor=amount.amount_minor,
        currency=amount.currency,
        approval_url=_link(order, "payer-action", "approve") if status is not PaymentStatus.SUCCEEDED else None,
        capture_id=capture["id"] if capture else None,
        failure_code=(capture or {}).get("status_details", {}).get("reason", "DECLINED") if declined else None,
        failure_message="PayPal declined the capture" if declined else None,
        reference=unit.get("custom_id"),
        provider_status=order.get("status"),
        payment_method=paid_with if status is PaymentStatus.SUCCEEDED else None,
    )


def create_order(
    *, amount: Money, payment_id: str, description: str, return_url: str, cancel_url: str, request_id: str
) -> ProviderPayment:
    body = {
        "intent": "CAPTURE",
        "purchase_units": [
            {
                "reference_id": payment_id,
                "custom_id": payment_id,
                "invoice_id": payment_id,
                "description": description[:127],
                "amount": {"currency_code": amount.currency, "value": PAYPAL_RULES.value(amount)},
            }
        ],
        "payment_source": {
            "paypal": {
                "experience_context": {
                    "return_url": return_url,
                    "cancel_url": cancel_url,
                    "user_action": "PAY_NOW",
                    "shipping_preference": "NO_SHIPPING",
                }
            }
        },
    }
    return order_payment(_call("POST", "/v2/checkout/orders", what="create order", json=body, request_id=request_id))


def get_order(order_id: str) -> dict[str, Any]:
    return _call("GET", f"/v2/checkout/orders/{order_id}", what="get order")


def capture_order(order_id: str, request_id: str) -> ProviderPayment:
    try:
        order = _call(
            "POST", f"/v2/checkout/orders/{order_id}/capture", what="capture order", json={}, request_id=request_id
        )
    except Unprocessable:
        raise
    except ProviderRejected:
        # Captured already (by an earlier attempt): the order as it stands is the answer.
        order = get_order(order_id)
        if order.get("status") != "COMPLETED":
            raise
    return order_payment(order)


def refund_capture(
    capture_id: str, amount: Money, note: str | None, payment_id: str, request_id: str
) -> ProviderRefund:
    body: dict[str, Any] = {
        "amount": {"currency_code": amount.currency, "value": PAYPAL_RULES.value(amount)},
        "custom_id": payment_id,
    }
    if note:
        body["note_to_payer"] = note[:255]
    refund = _call(
        "POST", f"/v2/payments/captures/{capture_id}/refund", what="refund", json=body, request_id=request_id
    )
    refunded = _money(refund["amount"]) if "amount" in refund else amount
    return ProviderRefund(refund["id"], refunded.amount_minor, refunded.currency, refund.get("status", "COMPLETED"))


def ensure_plan(plan: dict[str, Any]) -> str:
    product = _call(
        "POST",
        "/v1/catalogs/products",
        what="create product",
        json={"name": plan["name"], "type": "SERVICE", "category": "EDUCATIONAL_AND_TEXTBOOKS"},
        request_id=f"product-{plan['id']}",
    )
    price = Money(plan["amount_minor"], plan["currency"])
    created = _call(
        "POST",
        "/v1/billing/plans",
        what="create plan",
        request_id=f"plan-{plan['id']}",
        json={
            "product_id": product["id"],
            "name": plan["name"][:127],
            "status": "ACTIVE",
            "billing_cycles": [
                {
                    "frequency": {"interval_unit": plan["interval"].upper(), "interval_count": 1},
                    "tenure_type": "REGULAR",
                    "sequence": 1,
                    "total_cycles": 0,
                    "pricing_scheme": {
                        "fixed_price": {"currency_code": price.currency, "value": PAYPAL_RULES.value(price)}
                    },
                }
            ],
            "payment_preferences": {"auto_bill_outstanding": True, "payment_failure_threshold": 1},
        },
    )
    plan_id: str = created["id"]
    return plan_id


def subscription_view(sub: dict[str, Any]) -> ProviderSubscription:
    status = _SUBSCRIPTION_STATUS.get(sub.get("status", ""), SubscriptionStatus.PENDING)
    next_billing = (sub.get("billing_info") or {}).get("next_billing_time")
    return ProviderSubscription(
        provider_id=sub["id"],
        status=status,
        approval_url=_link(sub, "approve") if status is SubscriptionStatus.PENDING else None,
        reference=sub.get("custom_id"),
        next_billing_at=next_billing if status is SubscriptionStatus.ACTIVE else None,
    )


def create_subscription(
    *, plan_id: str, subscription_id: str, return_url: str, cancel_url: str, request_id: str
) -> ProviderSubscription:
    body = {
        "plan_id": plan_id,
        "custom_id": subscription_id,
        "application_context": {
            "return_url": return_url,
            "cancel_url": cancel_url,
            "user_action": "SUBSCRIBE_NOW",
            "shipping_preference": "NO_SHIPPING",
        },
    }
    return subscription_view(
        _call("POST", "/v1/billing/subscriptions", what="create subscription", json=body, request_id=request_id)
    )


def get_subscription(subscription_id: str) -> ProviderSubscription:
    return subscription_view(_call("GET", f"/v1/billing/subscriptions/{subscription_id}", what="get subscription"))


def cancel_subscription(subscription_id: str, reason: str, request_id: str) -> ProviderSubscription:
    try:
        _call(
            "POST",
            f"/v1/billing/subscriptions/{subscription_id}/cancel",
            what="cancel subscription",
            json={"reason": reason[:128]},
            request_id=request_id,
        )
    except ProviderRejected:
        current = get_subscription(subscription_id)
        if current.status is not SubscriptionStatus.CANCELED:
            raise
    return get_subscription(subscription_id)


def verify_webhook(headers: dict[str, str], event: dict[str, Any]) -> bool:
    """PayPal's own verdict on a notification: SUCCESS only for its signature over this event."""
    creds = _credentials()
    names = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time")
    body: dict[str, Any] = {n: headers.get("paypal-" + n.replace("_", "-"), "") for n in names}
    if not all(body.values()):
        return False
    body |= {"webhook_id": creds.webhook_id, "webhook_event": event}
    try:
        answer = _call("POST", "/v1/notifications/verify-webhook-signature", what="verify webhook", json=body)
    except ProviderRejected:
        return False
    return answer.get("verification_status") == "SUCCESS"


# ---------------------------------------------------------------- the payments port (ports.payments)
EVENTS = {
    "PAYMENT.CAPTURE.COMPLETED",
    "PAYMENT.CAPTURE.DENIED",
    "PAYMENT.CAPTURE.REFUNDED",
    "BILLING.SUBSCRIPTION.ACTIVATED",
    "BILLING.SUBSCRIPTION.CANCELLED",
    "PAYMENT.SALE.COMPLETED",
}
_CALLBACK_SUBSCRIPTION = {
    "BILLING.SUBSCRIPTION.ACTIVATED": SubscriptionStatus.ACTIVE,
    "BILLING.SUBSCRIPTION.CANCELLED": SubscriptionStatus.CANCELED,
}
# Our own window on the signed transmission time, on top of PayPal's verdict on the signature.
CALLBACK_TOLERANCE = timedelta(minutes=5)


def order_details(order: dict[str, Any]) -> dict[str, Any]:
    """An order as the API's PayPal transaction shows it: amounts, captures, refunds and the payer."""
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


def _up_link(resource: dict[str, Any]) -> str | None:
    for link in resource.get("links") or []:
        if link.get("rel") == "up":
            return str(link.get("href", "")).rstrip("/").split("/")[-1] or None
    return None


class PayPalPayments:
    """PayPal behind the payments port: Orders v2 for course payments, billing plans and Subscriptions v1."""

    provider = Provider.PAYPAL
    name = "PayPal"
    takes_payment_method = False
    takes_return_urls = True
    plan_attribute = "paypal_plan_id"

    def customer(
        self, customer: Customer, remembered: Callable[[], str | None], remember: Callable[[str], str]
    ) -> str | None:
        return None  # orders and subscriptions belong to the buyer's PayPal account

    def start(self, checkout: Checkout) -> ProviderPayment:
        return create_order(
            amount=checkout.price,
            payment_id=checkout.payment_id,
            description=checkout.description,
            return_url=checkout.return_url or "",
            cancel_url=checkout.cancel_url or "",
            request_id=checkout.idempotency_key,
        )

    def confirm(self, transaction_id: str, payment_method: str | None, idempotency_key: str) -> ProviderPayment:
        return capture_order(transaction_id, idempotency_key)

    def retrieve(self, transaction_id: str) -> ProviderPayment:
        return order_payment(get_order(transaction_id))

    def describe(self, transaction_id: str) -> tuple[ProviderPayment, dict[str, Any]]:
        order = get_order(transaction_id)
        return order_payment(order), order_details(order)

    def cancel(self, transaction_id: str, idempotency_key: str) -> ProviderPayment | None:
        return None  # a CAPTURE order cannot be cancelled: it expires uncaptured

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
        if not capture_id:
            raise NothingCaptured("the PayPal order has no capture to refund")
        if duplicate:
            reason = "You were already enrolled in this course: this second payment is refunded."
        return refund_capture(capture_id, amount, reason, payment_id, idempotency_key)

    def settled_refunds(self, provider_id: str) -> list[ProviderRefund]:
        return []  # every PayPal refund event carries its refund

    def ensure_plan(self, plan: dict[str, Any]) -> str:
        return ensure_plan(plan)

    def subscribe(self, request: Subscribe) -> ProviderSubscription:
        return create_subscription(
            plan_id=request.provider_plan,
            subscription_id=request.subscription_id,
            return_url=request.return_url or "",
            cancel_url=request.cancel_url or "",
            request_id=request.idempotency_key,
        )

    def subscription(self, provider_id: str) -> ProviderSubscription:
        return get_subscription(provider_id)

    def cancel_subscription(self, provider_id: str, reason: str | None, idempotency_key: str) -> ProviderSubscription:
        return cancel_subscription(provider_id, reason or "Canceled by the student", idempotency_key)

    def verify_callback(self, raw_body: bytes, headers: dict[str, str]) -> Callback:
        import json

        from integration_core import timeutil

        try:
            event = json.loads(raw_body)
        except ValueError:
            raise CallbackRefused("the body is not JSON") from None
        envelope = Callback.of(
            event, "event_type", event.get("resource", {}) if isinstance(event, dict) else None, "PayPal"
        )
        sent = headers.get("paypal-transmission-time", "")
        try:
            age = timeutil.utc_now() - timeutil.parse_iso(sent.replace("Z", "+00:00"))
        except ValueError:
            raise CallbackRefused("the PayPal-Transmission-Time is missing or malformed") from None
        if abs(age) > CALLBACK_TOLERANCE:
            raise CallbackRefused("the PayPal transmission is too old")
        if not verify_webhook(headers, event):
            raise CallbackRefused("PayPal did not confirm the signature")
        return envelope

    def parse_callback(self, callback: Callback) -> ProviderEvent | None:
        kind, resource = callback.event_type, callback.payload
        if kind not in EVENTS:
            return None
        if kind in ("PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED"):
            order_id = ((resource.get("supplementary_data") or {}).get("related_ids") or {}).get("order_id")
            amount = _money(resource["amount"])
            completed = kind.endswith("COMPLETED")
            update = ProviderPayment(
                provider_id=order_id or resource.get("id", ""),
                status=PaymentStatus.SUCCEEDED if completed else PaymentStatus.FAILED,
                amount_minor=amount.amount_minor,
                currency=amount.currency,
                capture_id=resource.get("id"),
                failure_code=None if completed else "DENIED",
                failure_message=None if completed else "PayPal denied the capture",
            )
            return PaymentChanged(resource.get("custom_id"), order_id, update)
        if kind == "PAYMENT.CAPTURE.REFUNDED":
            amount = _money(resource["amount"])
            refund = ProviderRefund(resource["id"], amount.amount_minor, amount.currency, resource.get("status", ""))
            reference = resource.get("custom_id")
            return PaymentRefunded(reference, _up_link(resource), reference, [refund])
        if kind in _CALLBACK_SUBSCRIPTION:
            view = subscription_view(resource) if resource.get("id") else None
            return SubscriptionChanged(
                resource.get("custom_id"), resource.get("id"), _CALLBACK_SUBSCRIPTION[kind], view
            )
        # PAYMENT.SALE.COMPLETED: a subscription's periodic charge.
        amount = Money.from_decimal(resource["amount"]["total"], resource["amount"]["currency"])
        return SubscriptionCharged(
            resource.get("custom"),
            resource.get("billing_agreement_id"),
            None,
            resource["id"],
            amount,
            resource.get("state") == "completed",
        )


ADAPTER = PayPalPayments()
