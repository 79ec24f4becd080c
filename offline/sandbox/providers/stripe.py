"""Stripe API emulator: customers, payment methods (Stripe's test tokens), payment intents with
confirm, charges, refunds, products, prices, subscriptions with invoices, and events delivered to
the payments callback Function URL signed as Stripe signs them (`Stripe-Signature: t=..,v1=..`).

Requests are form-encoded with bracketed keys, as the official SDK sends them, and checked against
the SDK's own parameter types (unknown or missing parameters are 400 as at Stripe); a wrong API key
and an Idempotency-Key reused with other parameters are refused as Stripe does.
Test tokens: pm_card_visa (succeeds), pm_card_chargeDeclined (generic_decline),
pm_card_insufficientFunds (insufficient_funds). `expand[]=latest_charge` on retrieve and confirm
gives the charge (receipt_url, payment_method_details); intents can be cancelled.

Controls (under /_sandbox/stripe):
    GET  /events                       events, newest last
    POST /events/{id}/send             deliver one event now (freshly signed); answers the callback's status
    POST /delivery  {"auto": bool}     deliver new events automatically (default; retried on non-2xx) or hold them
    POST /subscriptions/{id}/renew     the next billing period: a new invoice, paid with the default method
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import stripe.params as stripe_params

from offline.http import Response
from offline.sandbox.base import Abort, SandboxRequest, WebhookEmulator, control, route

LOCAL_API_KEY = "sk_test_local"
LOCAL_WEBHOOK_SECRET = "whsec_local"  # noqa: S105 (a fixed local credential)
API_VERSION = "2026-10-28.endive"
_CARDS = {
    "pm_card_visa": ("visa", "4242", None),
    "pm_card_mastercard": ("mastercard", "4444", None),
    "pm_card_chargeDeclined": ("visa", "0002", "generic_decline"),
    "pm_card_insufficientFunds": ("visa", "9995", "insufficient_funds"),
}
_DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}
# Stripe's request shapes, as the official SDK types them (generated from Stripe's OpenAPI): the
# top-level parameters each endpoint accepts and requires.
_PARAMS = {
    "customers": stripe_params.CustomerCreateParams,
    "payment_intents": stripe_params.PaymentIntentCreateParams,
    "confirm": stripe_params.PaymentIntentConfirmParams,
    "cancel": stripe_params.PaymentIntentCancelParams,
    "refunds": stripe_params.RefundCreateParams,
    "products": stripe_params.ProductCreateParams,
    "prices": stripe_params.PriceCreateParams,
    "attach": stripe_params.PaymentMethodAttachParams,
    "subscriptions": stripe_params.SubscriptionCreateParams,
}
_INTERVAL_SECONDS = {"day": 86400, "week": 7 * 86400, "month": 30 * 86400, "year": 365 * 86400}


def parse_form(body: bytes) -> dict[str, Any]:
    """Stripe's form encoding to nested data: a[b]=1 -> {"a": {"b": "1"}}, a[0][b]=1 -> {"a": [{"b": "1"}]}."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append({})
                if last:
                    node[position] = value
                else:
                    if not isinstance(node[position], dict | list) or node[position] == {}:
                        node[position] = [] if parts[index + 1].isdigit() else {}
                    node = node[position]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, [] if parts[index + 1].isdigit() else {})
    return root


def sign(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe sends with `payload`."""
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class Stripe(WebhookEmulator):
    prefix = "stripe"
    title = "Stripe API (test mode)"
    callback_function = "PaymentCallbacksFunction"
    callback_path = "/stripe"

    @property
    def api_key(self) -> str:
        return self.local_secret("StripeSecret").get("apiKey", LOCAL_API_KEY)

    @property
    def webhook_secret(self) -> str:
        return self.local_secret("StripeSecret").get("webhookSecret", LOCAL_WEBHOOK_SECRET)

    # ------------------------------------------------------------------ Stripe's error shape
    def error(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
        kind = {401: "invalid_request_error", 402: "card_error", 429: "rate_limit_error"}.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        body: dict[str, Any] = {"type": kind, "message": message}
        if code and code != "SANDBOX_INJECTED_FAULT":
            body["code"] = code
        for extra in details or []:
            body.update(extra)
        headers = [("Request-Id", "req_" + secrets.token_hex(7))]
        if status >= 500:
            headers.append(("Stripe-Should-Retry", "true"))
        return Response.json(status, {"error": body}, headers)

    # ------------------------------------------------------------------ what every call goes through
    def _authorize(self, request: SandboxRequest) -> None:
        key = request.bearer()
        if key != self.api_key:
            raise Abort(self.error(401, "", "Invalid API Key provided: " + (key or "")[:8] + "****"))

    def _params(self, request: SandboxRequest, allowed: str) -> dict[str, Any]:
        """The call's parameters (form body, then query), refused as Stripe refuses unknown or missing ones."""
        params = parse_form(request.body) if request.body else {}
        params |= {k: v for k, v in request.query.items() if k not in params}
        shape = _PARAMS[allowed]
        unknown = sorted(set(params) - set(shape.__annotations__))
        if unknown:
            raise Abort(
                self.error(
                    400, "parameter_unknown", f"Received unknown parameter: {unknown[0]}", [{"param": unknown[0]}]
                )
            )
        missing = sorted(shape.__required_keys__ - set(params))
        if missing:
            raise Abort(self._missing_param(missing[0]))
        return params

    def _missing_param(self, name: str) -> Response:
        return self.error(400, "parameter_missing", f"Missing required param: {name}.", [{"param": name}])

    def _idempotent(self, request: SandboxRequest, params: dict[str, Any], make: Callable[[], Response]) -> Response:
        """Stripe keeps the first answer to an Idempotency-Key (errors included) and refuses the key
        with other params."""
        key = request.headers.get("idempotency-key")
        if not key:
            return make()
        seen = self.store.collection("idempotency")
        fingerprint = json.dumps([request.path, params], sort_keys=True)
        if key in seen:
            first = seen[key]
            if first["fingerprint"] != fingerprint:
                return self.error(
                    400,
                    "idempotency_key_in_use",
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                    [{"type": "idempotency_error"}],
                )
            return Response(
                first["status"],
                [("Content-Type", "application/json"), ("Idempotent-Replayed", "true")],
                first["body"].encode(),
            )
        try:
            answer = make()
        except Abort as stop:  # an error is a first answer too
            answer = stop.response
        seen[key] = {"fingerprint": fingerprint, "status": answer.status, "body": answer.body.decode()}
        return answer

    def _get(self, collection: str, object_id: str) -> dict[str, Any] | None:
        return self.store.collection(collection).get(object_id)

    def _existing(self, collection: str, object_id: str, what: str) -> dict[str, Any]:
        """The object, or Stripe's 404 naming it as `what` ("payment_intent")."""
        found = self._get(collection, object_id)
        if found is None:
            raise Abort(self._missing(what, object_id))
        return found

    def _missing(self, what: str, object_id: str) -> Response:
        return self.error(404, "resource_missing", f"No such {what}: '{object_id}'", [{"param": "id"}])

    # ------------------------------------------------------------------ events
    def _emit(self, event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> None:
        event = {
            "id": _id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": json.loads(json.dumps(obj)), **({"previous_attributes": previous} if previous else {})},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        self.publish(event)

    def sign_delivery(self, body: bytes) -> dict[str, str]:
        return {"Stripe-Signature": sign(self.webhook_secret, body)}

    # ------------------------------------------------------------------ customers, payment methods
    @route("POST", "/v1/customers")
    def create_customer(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        params = self._params(request, "customers")

        def make() -> Response:
            customer = {
                "id": _id("cus"),
                "object": "customer",
                "email": params.get("email"),
                "name": params.get("name"),
                "metadata": params.get("metadata", {}),
                "created": int(time.time()),
                "invoice_settings": {"default_payment_method": None},
                "livemode": False,
            }
            self.store.collection("customers")[customer["id"]] = customer
            return Response.json(200, customer)

        return self._idempotent(request, params, make)

    def _payment_method(self, token: str, customer: str | None = None) -> dict[str, Any] | None:
        """A test token becomes a payment method object (a fresh one per use, as Stripe does)."""
        methods = self.store.collection("payment_methods")
        if token in methods:
            return methods[token]
        if token not in _CARDS:
            return None
        brand, last4, decline = _CARDS[token]
        method = {
            "id": _id("pm"),
            "object": "payment_method",
            "type": "card",
            "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034, "country": "US"},
            "customer": customer,
            "created": int(time.time()),
            "livemode": False,
            "_decline": decline,
        }
        methods[method["id"]] = method
        return method

    @route("POST", "/v1/payment_methods/{id}/attach")
    def attach(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        params = self._params(request, "attach")
        self._existing("customers", params.get("customer", ""), "customer")

        def make() -> Response:
            method = self._payment_method(request.params["id"], params["customer"])
            if method is None:
                return self._missing("PaymentMethod", request.params["id"])
            method["customer"] = params["customer"]
            return Response.json(200, self._public(method))

        return self._idempotent(request, params, make)

    # ------------------------------------------------------------------ payment intents
    def _intent_view(self, intent: dict[str, Any], expand: list[str] | None = None) -> dict[str, Any]:
        view = self._public(intent)
        if expand and "latest_charge" in expand and intent.get("latest_charge"):
            view["latest_charge"] = self._public(self.store.collection("charges")[intent["latest_charge"]])
        return view

    @staticmethod
    def _expand(request: SandboxRequest, params: dict[str, Any] | None = None) -> list[str]:
        """`expand[]` from the form body (POST) or the query string (GET), as the SDK sends it."""
        listed = (params or {}).get("expand") or []
        return list(listed) + [v for k, v in request.query.items() if k.startswith("expand")]

    @route("POST", "/v1/payment_intents")
    def create_intent(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        params = self._params(request, "payment_intents")
        for required in ("amount", "currency"):
            if required not in params:
                return self._missing_param(required)
        if not str(params["amount"]).isdigit() or int(params["amount"]) < 1:
            return self.error(
                400, "parameter_invalid_integer", "Invalid integer: " + str(params["amount"]), [{"param": "amount"}]
            )
        if params.get("customer"):
            self._existing("customers", params["customer"], "customer")

        def make() -> Response:
            intent = self._new_intent(
                int(params["amount"]),
                params["currency"],
                params.get("customer"),
                params.get("metadata", {}),
                params.get("description"),
            )
            if params.get("payment_method"):
                method = self._payment_method(params["payment_method"], params.get("customer"))
                if method is None:
                    return self._missing("PaymentMethod", params["payment_method"])
                intent["payment_method"] = method["id"]
                if params.get("confirm") == "true":
                    return self._confirm(intent, method)
            return Response.json(200, self._intent_view(intent))

        return self._idempotent(request, params, make)

    def _new_intent(
        self,
        amount: int,
        currency: str,
        customer: str | None,
        metadata: dict,
        description: Any,
        invoice: str | None = None,
    ) -> dict[str, Any]:
        intent_id = _id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency.lower(),
            "customer": customer,
            "metadata": metadata,
            "description": description,
            "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
            "payment_method": None,
            "latest_charge": None,
            "last_payment_error": None,
            "created": int(time.time()),
            "livemode": False,
            "_invoice": invoice,
        }
        self.store.collection("payment_intents")[intent_id] = intent
        return intent

    def _confirm(self, intent: dict[str, Any], method: dict[str, Any], expand: list[str] | None = None) -> Response:
        intent["payment_method"] = method["id"]
        decline = method.get("_decline")
        if decline:
            error = {
                "code": "card_declined",
                "decline_code": decline,
                "message": _DECLINE_MESSAGES[decline],
                "type": "card_error",
                "payment_method": self._public(method),
            }
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = error
            self._emit("payment_intent.payment_failed", self._intent_view(intent))
            return self.error(
                402,
                "card_declined",
                error["message"],
                [
                    {
                        "decline_code": decline,
                        "payment_intent": self._intent_view(intent),
                        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                    }
                ],
            )
        charge = {
            "id": _id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": 0,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "payment_intent": intent["id"],
            "payment_method": method["id"],
            "metadata": intent["metadata"],
            "paid": True,
            "captured": True,
            "refunded": False,
            "status": "succeeded",
            "payment_method_details": {
                "type": method["type"],
                "card": {"brand": method["card"]["brand"], "last4": method["card"]["last4"]},
            },
            "receipt_url": f"{self.ctx.base_url}/stripe/receipts/{intent['id']}",
            "created": int(time.time()),
            "livemode": False,
        }
        self.store.collection("charges")[charge["id"]] = charge
        intent |= {
            "status": "succeeded",
            "latest_charge": charge["id"],
            "amount_received": intent["amount"],
            "last_payment_error": None,
        }
        self._emit("charge.succeeded", charge)
        self._emit("payment_intent.succeeded", self._intent_view(intent))
        if intent.get("_invoice"):
            self._invoice_paid(self.store.collection("invoices")[intent["_invoice"]])
        return Response.json(200, self._intent_view(intent, expand))

    @route("POST", "/v1/payment_intents/{id}/confirm")
    def confirm_intent(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        params = self._params(request, "confirm")
        intent = self._existing("payment_intents", request.params["id"], "payment_intent")

        def make() -> Response:
            if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
                return self.error(
                    400,
                    "payment_intent_unexpected_state",
                    f"This PaymentIntent's status is {intent['status']}, so it cannot be confirmed.",
                    [{"payment_intent": self._intent_view(intent)}],
                )
            token = params.get("payment_method") or intent.get("payment_method")
            if not token:
                return self.error(
                    400,
                    "payment_intent_unexpected_state",
                    "You cannot confirm this PaymentIntent because it's missing a payment method.",
                )
            method = self._payment_method(token, intent.get("customer"))
            if method is None:
                return self._missing("PaymentMethod", token)
            return self._confirm(intent, method, self._expand(request, params))

        return self._idempotent(request, params, make)

    @route("POST", "/v1/payment_intents/{id}/cancel")
    def cancel_intent(self, request: SandboxRequest) -> Response:
        """Stripe cancels an intent that is not final yet; a succeeded or canceled one is refused."""
        self._authorize(request)
        params = self._params(request, "cancel")
        intent = self._existing("payment_intents", request.params["id"], "payment_intent")
        reason = params.get("cancellation_reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer", "abandoned"):
            return self.error(400, "parameter_invalid_string", "Invalid cancellation_reason", [{"param": "reason"}])

        def make() -> Response:
            if intent["status"] in ("succeeded", "canceled", "processing"):
                return self.error(
                    400,
                    "payment_intent_unexpected_state",
                    f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}.",
                    [{"payment_intent": self._intent_view(intent)}],
                )
            intent.update(status="canceled", cancellation_reason=reason, canceled_at=int(time.time()))
            self._emit("payment_intent.canceled", self._intent_view(intent))
            return Response.json(200, self._intent_view(intent, self._expand(request, params)))

        return self._idempotent(request, params, make)

    @route("GET", "/v1/payment_intents/{id}")
    def get_intent(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        intent = self._existing("payment_intents", request.params["id"], "payment_intent")
        return Response.json(200, self._intent_view(intent, self._expand(request)))

    # ------------------------------------------------------------------ refunds
    @route("POST", "/v1/refunds")
    def create_refund(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        params = self._params(request, "refunds")
        intent = self._existing("payment_intents", params.get("payment_intent", ""), "payment_intent")
        if intent["status"] != "succeeded":
            return self.error(
                400,
                "charge_not_refundable",
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
            )
        charge = self.store.collection("charges")[intent["latest_charge"]]
        left = charge["amount"] - charge["amount_refunded"]
        amount = int(params.get("amount", left))
        if left <= 0:
            return self.error(400, "charge_already_refunded", f"Charge {charge['id']} has already been refunded.")
        if amount > left:
            return self.error(
                400,
                "amount_too_large",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                [{"param": "amount"}],
            )
        if params.get("reason") not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            return self.error(400, "parameter_invalid_string", "Invalid reason", [{"param": "reason"}])

        def make() -> Response:
            refund = {
                "id": _id("re"),
                "object": "refund",
                "amount": amount,
                "currency": charge["currency"],
                "charge": charge["id"],
                "payment_intent": intent["id"],
                "reason": params.get("reason"),
                "metadata": params.get("metadata", {}),
                "status": "succeeded",
                "created": int(time.time()),
            }
            self.store.collection("refunds")[refund["id"]] = refund
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
            self._emit("refund.created", refund)
            self._emit("charge.refunded", charge)
            return Response.json(200, refund)

        return self._idempotent(request, params, make)

    @route("GET", "/v1/refunds")
    def list_refunds(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        wanted = request.query.get("payment_intent")
        refunds = [r for r in self.store.collection("refunds").values() if wanted in (None, r["payment_intent"])]
        refunds.sort(key=lambda r: r["created"], reverse=True)
        limit = int(request.query.get("limit", "10"))
        return Response.json(
            200, {"object": "list", "data": refunds[:limit], "has_more": len(refunds) > limit, "url": "/v1/refunds"}
        )

    # ------------------------------------------------------------------ products, prices
    @route("POST", "/v1/products")
    def create_product(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        params = self._params(request, "products")

        def make() -> Response:
            product = {
                "id": _id("prod"),
                "object": "product",
                "name": params.get("name"),
                "active": True,
                "metadata": params.get("metadata", {}),
                "created": int(time.time()),
            }
            self.store.collection("products")[product["id"]] = product
            return Response.json(200, product)

        return self._idempotent(request, params, make)

    @route("POST", "/v1/prices")
    def create_price(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        params = self._params(request, "prices")
        self._existing("products", params.get("product", ""), "product")

        def make() -> Response:
            price = {
                "id": _id("price"),
                "object": "price",
                "product": params["product"],
                "unit_amount": int(params["unit_amount"]),
                "currency": params["currency"].lower(),
                "recurring": params.get("recurring"),
                "type": "recurring" if params.get("recurring") else "one_time",
                "metadata": params.get("metadata", {}),
                "active": True,
                "created": int(time.time()),
            }
            self.store.collection("prices")[price["id"]] = price
            return Response.json(200, price)

        return self._idempotent(request, params, make)

    # ------------------------------------------------------------------ subscriptions, invoices
    def _subscription_view(self, sub: dict[str, Any], expand: list[str] | None = None) -> dict[str, Any]:
        view = self._public(sub)
        if expand and any(e.startswith("latest_invoice") for e in expand) and sub.get("latest_invoice"):
            invoice = dict(self.store.collection("invoices")[sub["latest_invoice"]])
            view["latest_invoice"] = self._public(invoice)
        return view

    @route("POST", "/v1/subscriptions")
    def create_subscription(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        params = self._params(request, "subscriptions")
        customer = self._existing("customers", params.get("customer", ""), "customer")
        items = params.get("items") or []
        price = self._get("prices", (items[0] if items else {}).get("price", ""))
        if price is None or not price.get("recurring"):
            return self.error(400, "resource_missing", "No such recurring price", [{"param": "items[0][price]"}])
        method_id = params.get("default_payment_method")
        method = self._get("payment_methods", method_id) if method_id else None
        if method_id and (method is None or method.get("customer") != customer["id"]):
            return self.error(
                400, "resource_missing", f"The customer does not have a payment method with the ID {method_id}."
            )

        def make() -> Response:
            now = int(time.time())
            sub = {
                "id": _id("sub"),
                "object": "subscription",
                "customer": customer["id"],
                "status": "incomplete",
                "metadata": params.get("metadata", {}),
                "items": {"object": "list", "data": [{"id": _id("si"), "price": price, "quantity": 1}]},
                "default_payment_method": method_id,
                "current_period_start": now,
                "current_period_end": now + _INTERVAL_SECONDS[price["recurring"]["interval"]],
                "cancel_at_period_end": False,
                "canceled_at": None,
                "latest_invoice": None,
                "created": now,
                "livemode": False,
            }
            self.store.collection("subscriptions")[sub["id"]] = sub
            invoice = self._new_invoice(sub, price)
            sub["latest_invoice"] = invoice["id"]
            self._emit("customer.subscription.created", self._public(sub))
            if method is not None:
                intent = self.store.collection("payment_intents")[invoice["_intent"]]
                answer = self._confirm(intent, method)
                if answer.status != 200 and params.get("payment_behavior") == "error_if_incomplete":
                    return answer
            return Response.json(200, self._subscription_view(sub, params.get("expand")))

        return self._idempotent(request, params, make)

    def _new_invoice(self, sub: dict[str, Any], price: dict[str, Any]) -> dict[str, Any]:
        invoice_id = _id("in")
        intent = self._new_intent(
            price["unit_amount"],
            price["currency"],
            sub["customer"],
            {"subscription_id": sub["metadata"].get("subscription_id", "")},
            "Subscription creation",
            invoice=invoice_id,
        )
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": sub["customer"],
            "status": "open",
            "amount_due": price["unit_amount"],
            "amount_paid": 0,
            "currency": price["currency"],
            "billing_reason": "subscription_create",
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": sub["id"], "metadata": sub["metadata"]},
            },
            "confirmation_secret": {"client_secret": intent["client_secret"], "type": "payment_intent"},
            "created": int(time.time()),
            "_intent": intent["id"],
        }
        self.store.collection("invoices")[invoice_id] = invoice
        return invoice

    def _invoice_paid(self, invoice: dict[str, Any]) -> None:
        invoice |= {"status": "paid", "amount_paid": invoice["amount_due"]}
        sub = self.store.collection("subscriptions")[invoice["parent"]["subscription_details"]["subscription"]]
        self._emit("invoice.paid", self._public(invoice))
        if sub["status"] in ("incomplete", "past_due"):
            previous = sub["status"]
            sub["status"] = "active"
            self._emit("customer.subscription.updated", self._public(sub), {"status": previous})

    @route("GET", "/v1/subscriptions/{id}")
    def get_subscription(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        sub = self._existing("subscriptions", request.params["id"], "subscription")
        return Response.json(200, self._subscription_view(sub))

    @route("DELETE", "/v1/subscriptions/{id}")
    def cancel_subscription(self, request: SandboxRequest) -> Response:
        self._authorize(request)
        sub = self._existing("subscriptions", request.params["id"], "subscription")
        if sub["status"] != "canceled":
            sub |= {"status": "canceled", "canceled_at": int(time.time())}
            self._emit("customer.subscription.deleted", self._public(sub))
        return Response.json(200, self._subscription_view(sub))

    @control("POST", "/subscriptions/{id}/renew")
    def renew(self, request: SandboxRequest) -> Response:
        """The next billing period: a new invoice, paid with the default payment method."""
        sub = self._get("subscriptions", request.params["id"])
        if sub is None or sub["status"] != "active":
            return Response.json(404, {"error": "no active subscription"})
        price = sub["items"]["data"][0]["price"]
        invoice = self._new_invoice(sub, price)
        invoice["billing_reason"] = "subscription_cycle"
        sub["latest_invoice"] = invoice["id"]
        method = self._get("payment_methods", sub.get("default_payment_method") or "")
        if method is not None:
            self._confirm(self.store.collection("payment_intents")[invoice["_intent"]], method)
        return Response.json(200, self._public(invoice))


EMULATOR = Stripe
