"""PayPal REST (sandbox) emulator: the OAuth 2 client-credentials token, Orders v2 (create, get,
capture), captures and refunds, catalog products, billing plans, Subscriptions v1 (create, get,
cancel), and webhooks: notifications sent to the payments callback Function URL with PayPal's
transmission headers, and verify-webhook-signature, which says SUCCESS only for a transmission this
emulator sent, unchanged. Requests are validated against PayPal's published specifications.

Controls (under /_sandbox/paypal):
    POST /orders/{id}/approve  {"decline": bool}   the buyer approves (a declined funding source fails capture)
    POST /subscriptions/{id}/approve               the buyer approves; activated, first cycle paid
    GET  /events                                   notifications, newest last
    POST /events/{id}/send                         deliver one now, freshly signed; answers the callback's status
    POST /delivery  {"auto": bool}                 deliver new notifications automatically (default) or hold them
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
import zlib
from decimal import Decimal
from typing import Any

from offline.http import Response
from offline.sandbox.base import Abort, SandboxContext, SandboxRequest, WebhookEmulator, control, route
from offline.sandbox.validation import Violation

LOCAL_CLIENT_ID = "local-paypal-client"
LOCAL_CLIENT_SECRET = "local-paypal-secret"  # noqa: S105 (a fixed local credential, not a secret)
LOCAL_WEBHOOK_ID = "LOCALWEBHOOK01"
# PayPal's currency codes reference: the currencies it takes, and those it takes without decimals.
_CURRENCY_CODES = "AUD BRL CAD CNY CZK DKK EUR HKD HUF ILS JPY MYR MXN TWD NZD NOK PHP PLN GBP SGD SEK CHF THB USD"
_CURRENCIES = set(_CURRENCY_CODES.split())
_EXPONENT = {"JPY": 0, "HUF": 0, "TWD": 0}


def _exponent(currency: str) -> int:
    return _EXPONENT.get(currency, 2)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


_INTERVAL_SECONDS = {"DAY": 86400, "WEEK": 7 * 86400, "MONTH": 30 * 86400, "YEAR": 365 * 86400}


def _later(interval_unit: str) -> str:
    """One billing interval from now, as PayPal writes times."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + _INTERVAL_SECONDS.get(interval_unit, 0)))


def _resource_id() -> str:
    """17 upper-case hex characters, as PayPal's capture, refund and sale ids."""
    return secrets.token_hex(9).upper()[:17]


_ISSUES = {
    "required": ("MISSING_REQUIRED_PARAMETER", "A required field / parameter is missing."),
    "maxLength": ("INVALID_STRING_LENGTH", "The value of a field is too long."),
    "minLength": ("INVALID_STRING_LENGTH", "The value of a field is too short."),
    "syntax": ("MALFORMED_REQUEST_JSON", "The request JSON is not well formed."),
}


class PayPal(WebhookEmulator):
    prefix = "paypal"
    title = "PayPal REST API (sandbox)"
    specs = [
        "paypal/checkout_orders_v2.json",
        "paypal/payments_payment_v2.json",
        "paypal/billing_subscriptions_v1.json",
        "paypal/notifications_webhooks_v1.json",
    ]
    callback_function = "PaymentCallbacksFunction"
    callback_path = "/paypal"

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        # Signs notifications; stands in for PayPal's certificate key, which only PayPal can check.
        self._signing_key = secrets.token_bytes(32)

    def credentials(self) -> tuple[str, str]:
        """The client id and secret the service's local PayPal secret holds (or the fixed local pair)."""
        data = self.local_secret("PayPalSecret")
        return data.get("clientId", LOCAL_CLIENT_ID), data.get("clientSecret", LOCAL_CLIENT_SECRET)

    # ------------------------------------------------------------------ PayPal's error shapes
    def error(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
        name = {
            400: "INVALID_REQUEST",
            401: "AUTHENTICATION_FAILURE",
            403: "NOT_AUTHORIZED",
            404: "RESOURCE_NOT_FOUND",
            422: "UNPROCESSABLE_ENTITY",
        }.get(status, "INTERNAL_SERVER_ERROR")
        if code != "SANDBOX_INJECTED_FAULT" and status < 500:
            name = code if code.isupper() else name
        body: dict[str, Any] = {
            "name": name,
            "message": message,
            "debug_id": secrets.token_hex(7),
            "links": [
                {
                    "href": f"https://developer.paypal.com/docs/api/orders/v2/#error-{name}",
                    "rel": "information_link",
                    "method": "GET",
                }
            ],
        }
        if details:
            body["details"] = details
        return Response.json(status, body, [("Paypal-Debug-Id", body["debug_id"])])

    def violation_response(self, violations: list[Violation]) -> Response:
        details = []
        for v in violations:
            issue, description = _ISSUES.get(v.kind, ("INVALID_PARAMETER_VALUE", v.message))
            details.append({"field": v.field, "location": v.location, "issue": issue, "description": description})
        return self.error(
            400, "INVALID_REQUEST", "Request is not well-formed, syntactically incorrect, or violates schema.", details
        )

    # ------------------------------------------------------------------ what calls go through
    def _authenticate(self, request: SandboxRequest) -> None:
        """Every call but the token's carries a bearer token this emulator issued, not yet expired."""
        expiry = self.store.collection("tokens").get(request.bearer() or "")
        if expiry is None or expiry <= time.time():
            raise Abort(self.error(401, "AUTHENTICATION_FAILURE", "Authentication failed due to invalid credentials."))

    def _existing(self, collection: str, object_id: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        found = self.store.collection(collection).get(object_id)
        if found is None:
            raise Abort(self.error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.", details))
        return found

    def _replay(self, request: SandboxRequest, scope: str) -> None:
        """PayPal answers a repeated PayPal-Request-Id with the first answer (see `_remember`)."""
        key = request.headers.get("paypal-request-id")
        first = self.store.collection("answers").get(f"{scope}:{key}") if key else None
        if first is not None:
            raise Abort(Response(first["status"], [("Content-Type", "application/json")], first["body"].encode()))

    def _remember(self, request: SandboxRequest, scope: str, answer: Response) -> Response:
        key = request.headers.get("paypal-request-id")
        if key and answer.status < 300:
            self.store.collection("answers")[f"{scope}:{key}"] = {"status": answer.status, "body": answer.body.decode()}
        return answer

    def _link(self, path: str, rel: str, method: str = "GET") -> dict[str, str]:
        return {"href": f"{self.ctx.base_url}/paypal{path}", "rel": rel, "method": method}

    def _unprocessable(self, issue: str, description: str) -> Response:
        return self.error(
            422,
            "UNPROCESSABLE_ENTITY",
            "The requested action could not be performed, semantically incorrect, or failed business validation.",
            [{"issue": issue, "description": description}],
        )

    def _check_money(self, amount: dict[str, Any]) -> None:
        """PayPal refuses a currency it does not take (INVALID_CURRENCY_CODE) and more decimals than
        the currency has at PayPal (DECIMAL_PRECISION), with its 422."""
        currency, value = amount.get("currency_code", ""), str(amount.get("value", ""))
        if currency not in _CURRENCIES:
            raise Abort(
                self._unprocessable(
                    "INVALID_CURRENCY_CODE",
                    "Currency code is invalid or is not currently supported. Please refer "
                    "https://developer.paypal.com/api/rest/reference/currency-codes/ "
                    "for list of supported currency codes.",
                )
            )
        decimals = len(value.partition(".")[2])
        if decimals > _exponent(currency):
            raise Abort(
                self._unprocessable(
                    "DECIMAL_PRECISION",
                    "If the currency supports decimals, only two decimal place precision is supported.",
                )
            )

    @staticmethod
    def _minor(value: str, currency: str) -> int:
        return int((Decimal(value) * (10 ** _exponent(currency))).to_integral_value())

    @staticmethod
    def _value(minor: int, currency: str) -> str:
        scale = _exponent(currency)
        return f"{Decimal(minor).scaleb(-scale):.{scale}f}"

    # ------------------------------------------------------------------ endpoints
    @route("POST", "/v1/oauth2/token")
    def token(self, request: SandboxRequest) -> Response:
        if request.basic_auth() != self.credentials():
            return Response.json(401, {"error": "invalid_client", "error_description": "Client Authentication failed"})
        if request.form().get("grant_type") != "client_credentials":
            return Response.json(400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})
        access_token = "A21AA" + secrets.token_urlsafe(32)
        self.store.collection("tokens")[access_token] = time.time() + 32400
        return Response.json(
            200,
            {
                "scope": "https://uri.paypal.com/services/payments/payment",
                "access_token": access_token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": 32400,
                "nonce": f"{_now()}{secrets.token_hex(8)}",
            },
        )

    @route("POST", "/v2/checkout/orders")
    def create_order(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        orders = self.store.collection("orders")
        idempotency = request.headers.get("paypal-request-id")
        if idempotency and idempotency in self.store.collection("request_ids"):
            # A repeated request id answers the order as it now stands (200), not the first answer.
            return Response.json(200, orders[self.store.collection("request_ids")[idempotency]])
        body = request.json()
        for unit in body.get("purchase_units") or []:
            self._check_money(unit.get("amount") or {})
        order_id = uuid.uuid4().hex[:17].upper()
        # With payment_source.paypal the buyer is sent to "payer-action"; the older form uses "approve".
        wallet = "paypal" in (body.get("payment_source") or {})
        order = {
            "id": order_id,
            "intent": body["intent"],
            "status": "PAYER_ACTION_REQUIRED" if wallet else "CREATED",
            "purchase_units": body["purchase_units"],
            "create_time": _now(),
            "links": [
                self._link(f"/v2/checkout/orders/{order_id}", "self"),
                self._link(f"/checkoutnow?token={order_id}", "payer-action" if wallet else "approve"),
                self._link(f"/v2/checkout/orders/{order_id}/capture", "capture", "POST"),
            ],
        }
        orders[order_id] = order
        if idempotency:
            self.store.collection("request_ids")[idempotency] = order_id
        return Response.json(201, order)

    @route("GET", "/v2/checkout/orders/{id}")
    def get_order(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        return Response.json(200, self._order_view(self._existing("orders", request.params["id"])))

    # ------------------------------------------------------------------ controls
    @control("POST", "/orders/{id}/approve")
    def approve(self, request: SandboxRequest) -> Response:
        """What the buyer does at the approve link."""
        order = self.store.collection("orders").get(request.params["id"])
        if order is None:
            return Response.json(404, {"error": "no such order"})
        if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED", "APPROVED"):
            return Response.json(409, {"error": f"order is {order['status']}"})
        order["status"] = "APPROVED"
        order["payer"] = {
            "payer_id": "LOCALPAYER01",
            "email_address": "buyer@example.com",
            "name": {"given_name": "Local", "surname": "Buyer"},
        }
        order["_decline"] = bool((request.json() or {}).get("decline")) if request.body else False
        return Response.json(200, self._public(order))

    # ------------------------------------------------------------------ capture, refunds
    @route("POST", "/v2/checkout/orders/{id}/capture")
    def capture(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        self._replay(request, "capture")
        order = self._existing(
            "orders",
            request.params["id"],
            [{"issue": "INVALID_RESOURCE_ID", "description": "Specified resource ID does not exist."}],
        )
        if order["status"] == "COMPLETED":
            return self._unprocessable("ORDER_ALREADY_CAPTURED", "Order already captured.")
        if order["status"] != "APPROVED":
            return self._unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.")
        unit = order["purchase_units"][0]
        declined = order.get("_decline", False)
        capture_id = _resource_id()
        capture = {
            "id": capture_id,
            "status": "DECLINED" if declined else "COMPLETED",
            "amount": dict(unit["amount"]),
            "final_capture": True,
            "custom_id": unit.get("custom_id"),
            "invoice_id": unit.get("invoice_id"),
            "seller_protection": {"status": "ELIGIBLE"},
            "supplementary_data": {"related_ids": {"order_id": order["id"]}},
            "create_time": _now(),
            "update_time": _now(),
            "links": [
                self._link(f"/v2/payments/captures/{capture_id}", "self"),
                self._link(f"/v2/payments/captures/{capture_id}/refund", "refund", "POST"),
                self._link(f"/v2/checkout/orders/{order['id']}", "up"),
            ],
            "_refunded_minor": 0,
        }
        if declined:
            capture["status_details"] = {"reason": "DECLINED_BY_RISK_FRAUD_FILTERS"}
        self.store.collection("captures")[capture_id] = capture
        unit["payments"] = {"captures": [self._public(capture)]}
        order["status"] = "COMPLETED"
        order["update_time"] = _now()
        event = "PAYMENT.CAPTURE.DENIED" if declined else "PAYMENT.CAPTURE.COMPLETED"
        self._emit(event, "capture", self._public(capture))
        return self._remember(request, "capture", Response.json(201, self._order_view(order)))

    def _order_view(self, order: dict[str, Any]) -> dict[str, Any]:
        view = self._public(order)
        for unit in view.get("purchase_units", []):
            payments = unit.get("payments") or {}
            for capture in payments.get("captures", []):
                capture.update(self._public(self.store.collection("captures").get(capture["id"], capture)))
        return view

    @route("GET", "/v2/payments/captures/{capture_id}")
    def get_capture(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        capture = self._existing("captures", request.params["capture_id"])
        return Response.json(200, self._public(capture))

    @route("POST", "/v2/payments/captures/{capture_id}/refund")
    def refund(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        self._replay(request, "refund")
        capture = self._existing("captures", request.params["capture_id"])
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            return self._unprocessable(
                "REFUND_NOT_ALLOWED" if capture["status"] != "REFUNDED" else "CAPTURE_FULLY_REFUNDED",
                "Refund is not allowed for this capture.",
            )
        body = request.json() or {}
        currency = capture["amount"]["currency_code"]
        total = self._minor(capture["amount"]["value"], currency)
        left = total - capture["_refunded_minor"]
        if body.get("amount"):
            if body["amount"]["currency_code"] != currency:
                return self._unprocessable("REFUND_CAPTURE_CURRENCY_MISMATCH", "Refund must be in capture currency.")
            self._check_money(body["amount"])
            amount = self._minor(body["amount"]["value"], currency)
        else:
            amount = left
        if amount > left:
            return self._unprocessable(
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that has not yet been refunded.",
            )
        capture["_refunded_minor"] += amount
        capture["status"] = "REFUNDED" if capture["_refunded_minor"] >= total else "PARTIALLY_REFUNDED"
        refund_id = _resource_id()
        refund = {
            "id": refund_id,
            "status": "COMPLETED",
            "amount": {"currency_code": currency, "value": self._value(amount, currency)},
            "custom_id": body.get("custom_id") or capture.get("custom_id"),
            "note_to_payer": body.get("note_to_payer"),
            "create_time": _now(),
            "update_time": _now(),
            "links": [
                self._link(f"/v2/payments/refunds/{refund_id}", "self"),
                self._link(f"/v2/payments/captures/{capture['id']}", "up"),
            ],
        }
        self.store.collection("refunds")[refund_id] = refund
        order = self.store.collection("orders").get(capture["supplementary_data"]["related_ids"]["order_id"])
        if order:
            payments = order["purchase_units"][0].setdefault("payments", {})
            payments.setdefault("refunds", []).append(refund)
        self._emit("PAYMENT.CAPTURE.REFUNDED", "refund", refund)
        return self._remember(request, "refund", Response.json(201, refund))

    # ------------------------------------------------------------------ products, plans, subscriptions
    @route("POST", "/v1/catalogs/products")
    def create_product(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        self._replay(request, "product")
        body = request.json() or {}
        if not body.get("name") or not body.get("type"):
            return self.error(
                400,
                "INVALID_REQUEST",
                "Request is not well-formed.",
                [{"issue": "MISSING_REQUIRED_PARAMETER", "field": "/name"}],
            )
        product = {
            "id": "PROD-" + secrets.token_hex(8).upper(),
            "name": body["name"],
            "type": body["type"],
            "category": body.get("category"),
            "create_time": _now(),
        }
        self.store.collection("products")[product["id"]] = product
        return self._remember(request, "product", Response.json(201, product))

    @route("POST", "/v1/billing/plans")
    def create_plan(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        self._replay(request, "plan")
        body = request.json()
        self._existing("products", body["product_id"], [{"issue": "INVALID_RESOURCE_ID", "field": "/product_id"}])
        for cycle in body.get("billing_cycles") or []:
            self._check_money(((cycle.get("pricing_scheme") or {}).get("fixed_price")) or {})
        plan_id = "P-" + secrets.token_hex(12).upper()
        plan = {
            **body,
            "id": plan_id,
            "status": body.get("status", "ACTIVE"),
            "create_time": _now(),
            "links": [self._link(f"/v1/billing/plans/{plan_id}", "self")],
        }
        self.store.collection("plans")[plan_id] = plan
        return self._remember(request, "plan", Response.json(201, plan))

    @route("GET", "/v1/billing/plans/{id}")
    def get_plan(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        return Response.json(200, self._existing("plans", request.params["id"]))

    @route("POST", "/v1/billing/subscriptions")
    def create_subscription(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        self._replay(request, "subscription")
        body = request.json()
        plan = self.store.collection("plans").get(body["plan_id"])
        if plan is None:
            return self._unprocessable("INVALID_PLAN_ID", "Plan ID is not valid.")
        sub_id = "I-" + secrets.token_hex(6).upper()
        sub = {
            "id": sub_id,
            "plan_id": plan["id"],
            "status": "APPROVAL_PENDING",
            "custom_id": body.get("custom_id"),
            "quantity": "1",
            "create_time": _now(),
            "status_update_time": _now(),
            "links": [
                self._link(f"/webapps/billing/subscriptions?ba_token=BA-{sub_id}", "approve"),
                self._link(f"/v1/billing/subscriptions/{sub_id}", "edit", "PATCH"),
                self._link(f"/v1/billing/subscriptions/{sub_id}", "self"),
            ],
        }
        self.store.collection("subscriptions")[sub_id] = sub
        return self._remember(request, "subscription", Response.json(201, sub))

    @route("GET", "/v1/billing/subscriptions/{id}")
    def get_subscription(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        return Response.json(200, self._existing("subscriptions", request.params["id"]))

    @route("POST", "/v1/billing/subscriptions/{id}/cancel")
    def cancel_subscription(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        sub = self._existing("subscriptions", request.params["id"])
        if sub["status"] in ("CANCELLED", "EXPIRED"):
            return self._unprocessable("SUBSCRIPTION_STATUS_INVALID", "Invalid subscription status for cancel action.")
        sub |= {"status": "CANCELLED", "status_update_time": _now()}
        self._emit("BILLING.SUBSCRIPTION.CANCELLED", "subscription", sub)
        return Response(204)

    # ------------------------------------------------------------------ webhooks
    def _webhook_id(self) -> str:
        return self.local_secret("PayPalSecret").get("webhookId") or LOCAL_WEBHOOK_ID

    def _emit(self, event_type: str, resource_type: str, resource: dict[str, Any]) -> None:
        event_id = "WH-" + secrets.token_hex(10).upper()
        event = {
            "id": event_id,
            "event_version": "1.0",
            "create_time": _now(),
            "resource_type": resource_type,
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": event_type.replace(".", " ").title(),
            "resource": json.loads(json.dumps(self._public(resource))),
            "links": [self._link(f"/v1/notifications/webhooks-events/{event_id}", "self")],
        }
        self.publish(event)

    def _signature(self, transmission_id: str, sent_at: str, webhook_id: str, body: bytes) -> str:
        message = f"{transmission_id}|{sent_at}|{webhook_id}|{zlib.crc32(body)}"
        return hmac.new(self._signing_key, message.encode(), hashlib.sha256).hexdigest()

    def transmission_headers(self, body: bytes, sent_at: str | None = None) -> dict[str, str]:
        """The headers PayPal sends with a notification; the transmission is remembered for verify."""
        transmission_id = str(uuid.uuid4())
        sent_at = sent_at or _now()
        webhook_id = self._webhook_id()
        signature = self._signature(transmission_id, sent_at, webhook_id, body)
        with self.store.lock:
            self.store.collection("transmissions")[transmission_id] = {
                "sent_at": sent_at,
                "webhook_id": webhook_id,
                "signature": signature,
                "body": body.decode(),
            }
        return {
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "PAYPAL-CERT-URL": f"{self.ctx.base_url}/paypal/v1/notifications/certs/CERT-sandbox-local",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-SIG": signature,
            "PAYPAL-TRANSMISSION-TIME": sent_at,
        }

    def sign_delivery(self, body: bytes) -> dict[str, str]:
        return self.transmission_headers(body)

    @route("POST", "/v1/notifications/verify-webhook-signature")
    def verify(self, request: SandboxRequest) -> Response:
        self._authenticate(request)
        body = request.json()
        sent = self.store.collection("transmissions").get(body["transmission_id"])
        status = "FAILURE"
        if sent is not None:
            expected = self._signature(
                body["transmission_id"], body["transmission_time"], body["webhook_id"], sent["body"].encode()
            )
            if (
                hmac.compare_digest(expected, body["transmission_sig"])
                and body["transmission_time"] == sent["sent_at"]
                and body["webhook_id"] == sent["webhook_id"]
                and body["webhook_event"] == json.loads(sent["body"])
            ):
                status = "SUCCESS"
        return Response.json(200, {"verification_status": status})

    # ------------------------------------------------------------------ controls
    @control("POST", "/subscriptions/{id}/approve")
    def approve_subscription(self, request: SandboxRequest) -> Response:
        """The buyer approves the subscription: it becomes active and its first cycle is paid."""
        sub = self.store.collection("subscriptions").get(request.params["id"])
        if sub is None:
            return Response.json(404, {"error": "no such subscription"})
        if sub["status"] != "APPROVAL_PENDING":
            return Response.json(409, {"error": f"subscription is {sub['status']}"})
        plan = self.store.collection("plans")[sub["plan_id"]]
        price = plan["billing_cycles"][0]["pricing_scheme"]["fixed_price"]
        sub |= {
            "status": "ACTIVE",
            "status_update_time": _now(),
            "subscriber": {"email_address": "buyer@example.com", "payer_id": "LOCALPAYER01"},
            "billing_info": {
                "last_payment": {"amount": price, "time": _now()},
                "next_billing_time": _later(plan["billing_cycles"][0]["frequency"]["interval_unit"]),
            },
        }
        self._emit("BILLING.SUBSCRIPTION.ACTIVATED", "subscription", sub)
        sale = {
            "id": _resource_id(),
            "state": "completed",
            "amount": {"total": price["value"], "currency": price["currency_code"]},
            "billing_agreement_id": sub["id"],
            "custom": sub.get("custom_id"),
            "create_time": _now(),
        }
        self._emit("PAYMENT.SALE.COMPLETED", "sale", sale)
        return Response.json(200, sub)


EMULATOR = PayPal
