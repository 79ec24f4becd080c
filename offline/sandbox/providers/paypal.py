"""PayPal REST (sandbox) emulator, first slice: the OAuth 2 client-credentials token and Orders v2
create/get, validated against PayPal's published Orders v2 specification, plus a control that
approves an order as the buyer would. The payments capability extends it (capture, refunds,
subscriptions, webhooks).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

from offline.http import Response
from offline.sandbox.base import Emulator, SandboxRequest, control, route
from offline.sandbox.validation import Violation

LOCAL_CLIENT_ID = "local-paypal-client"
LOCAL_CLIENT_SECRET = "local-paypal-secret"  # noqa: S105 (a fixed local credential, not a secret)
_ISSUES = {
    "required": ("MISSING_REQUIRED_PARAMETER", "A required field / parameter is missing."),
    "maxLength": ("INVALID_STRING_LENGTH", "The value of a field is too long."),
    "minLength": ("INVALID_STRING_LENGTH", "The value of a field is too short."),
    "syntax": ("MALFORMED_REQUEST_JSON", "The request JSON is not well formed."),
}


class PayPal(Emulator):
    prefix = "paypal"
    title = "PayPal REST API (sandbox)"
    specs = ["paypal/checkout_orders_v2.json"]

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
        order = {
            "id": order_id,
            "intent": body["intent"],
            "status": "CREATED",
            "purchase_units": body["purchase_units"],
            "create_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "links": [
                {"href": f"{self.ctx.base_url}/paypal/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"},
                {"href": f"{self.ctx.base_url}/paypal/checkoutnow?token={order_id}", "rel": "approve", "method": "GET"},
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
        return Response.json(200, order)

    # ------------------------------------------------------------------ controls
    @control("POST", "/orders/{id}/approve")
    def approve(self, request: SandboxRequest) -> Response:
        """What the buyer does at the approve link."""
        order = self.store.collection("orders").get(request.params["id"])
        if order is None:
            return Response.json(404, {"error": "no such order"})
        order["status"] = "APPROVED"
        order["payer"] = {"payer_id": "LOCALPAYER01", "email_address": "buyer@example.com"}
        return Response.json(200, order)


EMULATOR = PayPal
