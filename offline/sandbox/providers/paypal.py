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
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from offline.http import Response
from offline.sandbox.base import Emulator, SandboxContext, SandboxRequest, control, route
from offline.sandbox.validation import Violation

LOCAL_CLIENT_ID = "local-paypal-client"
LOCAL_CLIENT_SECRET = "local-paypal-secret"  # noqa: S105 (a fixed local credential, not a secret)
LOCAL_WEBHOOK_ID = "LOCALWEBHOOK01"
CALLBACK_FUNCTION = "PaymentCallbacksFunction"
RETRY_DELAYS = (0, 1, 2, 4, 8)
_EXPONENT = {"JPY": 0, "HUF": 0, "TWD": 0, "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3}


def _exponent(currency: str) -> int:
    return _EXPONENT.get(currency, 2)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


_ISSUES = {
    "required": ("MISSING_REQUIRED_PARAMETER", "A required field / parameter is missing."),
    "maxLength": ("INVALID_STRING_LENGTH", "The value of a field is too long."),
    "minLength": ("INVALID_STRING_LENGTH", "The value of a field is too short."),
    "syntax": ("MALFORMED_REQUEST_JSON", "The request JSON is not well formed."),
}


class PayPal(Emulator):
    prefix = "paypal"
    title = "PayPal REST API (sandbox)"
    specs = [
        "paypal/checkout_orders_v2.json",
        "paypal/payments_payment_v2.json",
        "paypal/billing_subscriptions_v1.json",
        "paypal/notifications_webhooks_v1.json",
    ]

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.auto_deliver = True
        # Signs notifications; stands in for PayPal's certificate key, which only PayPal can check.
        self._signing_key = secrets.token_bytes(32)

    def reset(self) -> None:
        super().reset()
        self.auto_deliver = True

    def credentials(self) -> tuple[str, str]:
        """The client id and secret the service's local PayPal secret holds (or the fixed local pair)."""
        raw = self.ctx.secrets.get("PayPalSecret")
        if raw:
            data = json.loads(raw)
            return data.get("clientId", LOCAL_CLIENT_ID), data.get("clientSecret", LOCAL_CLIENT_SECRET)
        return LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET

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

    def _authorized(self, request: SandboxRequest) -> bool:
        token = request.bearer()
        expiry = self.store.collection("tokens").get(token or "")
        return expiry is not None and expiry > time.time()

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
                "nonce": f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}{secrets.token_hex(8)}",
            },
        )

    @route("POST", "/v2/checkout/orders")
    def create_order(self, request: SandboxRequest) -> Response:
        if not self._authorized(request):
            return self.error(401, "AUTHENTICATION_FAILURE", "Authentication failed due to invalid credentials.")
        orders = self.store.collection("orders")
        idempotency = request.headers.get("paypal-request-id")
        if idempotency and idempotency in self.store.collection("request_ids"):
            return Response.json(200, orders[self.store.collection("request_ids")[idempotency]])
        body = request.json()
        order_id = uuid.uuid4().hex[:17].upper()
        # With payment_source.paypal the buyer is sent to "payer-action"; the older form uses "approve".
        wallet = "paypal" in (body.get("payment_source") or {})
        order = {
            "id": order_id,
            "intent": body["intent"],
            "status": "PAYER_ACTION_REQUIRED" if wallet else "CREATED",
            "purchase_units": body["purchase_units"],
            "create_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "links": [
                {"href": f"{self.ctx.base_url}/paypal/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"},
                {
                    "href": f"{self.ctx.base_url}/paypal/checkoutnow?token={order_id}",
                    "rel": "payer-action" if wallet else "approve",
                    "method": "GET",
                },
                {
                    "href": f"{self.ctx.base_url}/paypal/v2/checkout/orders/{order_id}/capture",
                    "rel": "capture",
                    "method": "POST",
                },
            ],
        }
        orders[order_id] = order
        if idempotency:
            self.store.collection("request_ids")[idempotency] = order_id
        return Response.json(201, order)

    @route("GET", "/v2/checkout/orders/{id}")
    def get_order(self, request: SandboxRequest) -> Response:
        if not self._authorized(request):
            return self.error(401, "AUTHENTICATION_FAILURE", "Authentication failed due to invalid credentials.")
        order = self.store.collection("orders").get(request.params["id"])
        if order is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")
        return Response.json(200, self._order_view(order))

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
        order["payer"] = {"payer_id": "LOCALPAYER01", "email_address": "buyer@example.com"}
        order["_decline"] = bool((request.json() or {}).get("decline")) if request.body else False
        return Response.json(200, self._public(order))

    # ------------------------------------------------------------------ helpers
    def _denied(self, request: SandboxRequest) -> Response | None:
        if self._authorized(request):
            return None
        return self.error(401, "AUTHENTICATION_FAILURE", "Authentication failed due to invalid credentials.")

    def _replayed(self, request: SandboxRequest, scope: str) -> Response | None:
        """PayPal answers a repeated PayPal-Request-Id with the first answer."""
        key = request.headers.get("paypal-request-id")
        first = self.store.collection("answers").get(f"{scope}:{key}") if key else None
        if first is None:
            return None
        return Response(first["status"], [("Content-Type", "application/json")], first["body"].encode())

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

    @staticmethod
    def _minor(value: str, currency: str) -> int:
        return int((Decimal(value) * (10 ** _exponent(currency))).to_integral_value())

    @staticmethod
    def _value(minor: int, currency: str) -> str:
        scale = _exponent(currency)
        return f"{Decimal(minor).scaleb(-scale):.{scale}f}"

    # ------------------------------------------------------------------ capture, refunds
    @route("POST", "/v2/checkout/orders/{id}/capture")
    def capture(self, request: SandboxRequest) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        replay = self._replayed(request, "capture")
        if replay:
            return replay
        order = self.store.collection("orders").get(request.params["id"])
        if order is None:
            return self.error(
                404,
                "RESOURCE_NOT_FOUND",
                "The specified resource does not exist.",
                [{"issue": "INVALID_RESOURCE_ID", "description": "Specified resource ID does not exist."}],
            )
        if order["status"] == "COMPLETED":
            return self._unprocessable("ORDER_ALREADY_CAPTURED", "Order already captured.")
        if order["status"] != "APPROVED":
            return self._unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.")
        unit = order["purchase_units"][0]
        declined = order.get("_decline", False)
        capture_id = secrets.token_hex(9).upper()[:17]
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

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def _order_view(self, order: dict[str, Any]) -> dict[str, Any]:
        view = self._public(order)
        for unit in view.get("purchase_units", []):
            payments = unit.get("payments") or {}
            for capture in payments.get("captures", []):
                capture.update(self._public(self.store.collection("captures").get(capture["id"], capture)))
        return view

    @route("GET", "/v2/payments/captures/{capture_id}")
    def get_capture(self, request: SandboxRequest) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        capture = self.store.collection("captures").get(request.params["capture_id"])
        if capture is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")
        return Response.json(200, self._public(capture))

    @route("POST", "/v2/payments/captures/{capture_id}/refund")
    def refund(self, request: SandboxRequest) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        replay = self._replayed(request, "refund")
        if replay:
            return replay
        capture = self.store.collection("captures").get(request.params["capture_id"])
        if capture is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")
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
        refund_id = secrets.token_hex(9).upper()[:17]
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
        denied = self._denied(request)
        if denied:
            return denied
        replay = self._replayed(request, "product")
        if replay:
            return replay
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
        denied = self._denied(request)
        if denied:
            return denied
        replay = self._replayed(request, "plan")
        if replay:
            return replay
        body = request.json()
        if body["product_id"] not in self.store.collection("products"):
            return self.error(
                404,
                "RESOURCE_NOT_FOUND",
                "The specified resource does not exist.",
                [{"issue": "INVALID_RESOURCE_ID", "field": "/product_id"}],
            )
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
        denied = self._denied(request)
        if denied:
            return denied
        plan = self.store.collection("plans").get(request.params["id"])
        if plan is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")
        return Response.json(200, plan)

    @route("POST", "/v1/billing/subscriptions")
    def create_subscription(self, request: SandboxRequest) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        replay = self._replayed(request, "subscription")
        if replay:
            return replay
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
                {
                    "href": f"{self.ctx.base_url}/paypal/webapps/billing/subscriptions?ba_token=BA-{sub_id}",
                    "rel": "approve",
                    "method": "GET",
                },
                self._link(f"/v1/billing/subscriptions/{sub_id}", "edit", "PATCH"),
                self._link(f"/v1/billing/subscriptions/{sub_id}", "self"),
            ],
        }
        self.store.collection("subscriptions")[sub_id] = sub
        return self._remember(request, "subscription", Response.json(201, sub))

    @route("GET", "/v1/billing/subscriptions/{id}")
    def get_subscription(self, request: SandboxRequest) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        sub = self.store.collection("subscriptions").get(request.params["id"])
        if sub is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")
        return Response.json(200, sub)

    @route("POST", "/v1/billing/subscriptions/{id}/cancel")
    def cancel_subscription(self, request: SandboxRequest) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        sub = self.store.collection("subscriptions").get(request.params["id"])
        if sub is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")
        if sub["status"] in ("CANCELLED", "EXPIRED"):
            return self._unprocessable("SUBSCRIPTION_STATUS_INVALID", "Invalid subscription status for cancel action.")
        sub |= {"status": "CANCELLED", "status_update_time": _now()}
        self._emit("BILLING.SUBSCRIPTION.CANCELLED", "subscription", sub)
        return Response(204)

    # ------------------------------------------------------------------ webhooks
    def _webhook_id(self) -> str:
        raw = self.ctx.secrets.get("PayPalSecret")
        return (json.loads(raw).get("webhookId") if raw else None) or LOCAL_WEBHOOK_ID

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
        self.store.collection("events")[event_id] = event
        if self.auto_deliver:
            threading.Thread(target=self._deliver_with_retries, args=(event,), daemon=True).start()

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

    def _deliver_with_retries(self, event: dict[str, Any]) -> None:
        """Like the provider, retry a delivery the service did not accept (the provider's schedule
        spans days; the sandbox's, seconds)."""
        for delay in RETRY_DELAYS:
            time.sleep(delay)
            if 200 <= self._deliver(event) < 300:
                return

    def _deliver(self, event: dict[str, Any]) -> int:
        try:
            target = self.ctx.callbacks.url_of(CALLBACK_FUNCTION, "/paypal")
        except KeyError:
            return 0
        return self.ctx.callbacks.send("paypal", target, event, sign=self.transmission_headers).status

    @route("POST", "/v1/notifications/verify-webhook-signature")
    def verify(self, request: SandboxRequest) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
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
    @contextmanager
    def _unlocked(self) -> Iterator[None]:
        # Controls run holding the store lock; a delivery waits for the service, which calls verify here.
        self.store.lock.release()
        try:
            yield
        finally:
            self.store.lock.acquire()

    @control("GET", "/events")
    def list_events(self, request: SandboxRequest) -> Response:
        return Response.json(200, list(self.store.collection("events").values()))

    @control("POST", "/events/{id}/send")
    def send_event(self, request: SandboxRequest) -> Response:
        event = self.store.collection("events").get(request.params["id"])
        if event is None:
            return Response.json(404, {"error": "no such event"})
        with self._unlocked():
            status = self._deliver(event)
        return Response.json(200, {"eventId": event["id"], "status": status})

    @control("POST", "/delivery")
    def delivery(self, request: SandboxRequest) -> Response:
        self.auto_deliver = bool((request.json() or {}).get("auto", True))
        return Response.json(200, {"auto": self.auto_deliver})

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
            "billing_info": {"last_payment": {"amount": price, "time": _now()}},
        }
        self._emit("BILLING.SUBSCRIPTION.ACTIVATED", "subscription", sub)
        sale = {
            "id": secrets.token_hex(9).upper()[:17],
            "state": "completed",
            "amount": {"total": price["value"], "currency": price["currency_code"]},
            "billing_agreement_id": sub["id"],
            "custom": sub.get("custom_id"),
            "create_time": _now(),
        }
        self._emit("PAYMENT.SALE.COMPLETED", "sale", sale)
        return Response.json(200, sub)


EMULATOR = PayPal
