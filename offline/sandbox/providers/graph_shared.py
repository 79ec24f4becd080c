"""What the Graph emulator's parts share (graph.py assembles them): Graph's error shape, the
app-only bearer check, users and their application access policy, and change-notification delivery.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from offline.http import Response
from offline.sandbox.base import Abort, Emulator, SandboxContext, SandboxRequest
from offline.sandbox.validation import Violation

LOCAL_TENANT_ID = "11111111-2222-3333-4444-555555555555"
LOCAL_CLIENT_ID = "66666666-7777-8888-9999-000000000000"
LOCAL_CLIENT_SECRET = "local-graph-secret"  # noqa: S105 (a fixed local credential, not a secret)
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
TOKEN_SECONDS = 3599
NOTIFY_RETRY_DELAYS = (0, 1, 2, 4)


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def parse_time(text: str) -> datetime:
    text = text.replace("Z", "+00:00")
    head, dot, tail = text.partition(".")
    if dot:  # Graph writes 7 fractional digits; Python reads up to 6
        digits = "".join(c for c in tail if c.isdigit())
        tail = digits[:6] + tail[len(digits) :]
        text = f"{head}.{tail}"
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class GraphBase(Emulator):
    prefix = "graph"

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self._seed()

    def reset(self) -> None:
        super().reset()
        self._seed()

    def _seed(self) -> None:
        self.store.collection("policy").update({"global": False})

    def app(self) -> dict[str, str]:
        """The app registration: the service's local TeamsSecret when the stack has one."""
        secret = self.local_secret("TeamsSecret")
        return {
            "tenantId": secret.get("tenantId", LOCAL_TENANT_ID),
            "clientId": secret.get("clientId", LOCAL_CLIENT_ID),
            "clientSecret": secret.get("clientSecret", LOCAL_CLIENT_SECRET),
        }

    # ------------------------------------------------------------------ Graph's shapes
    def error(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
        if code == "SANDBOX_INJECTED_FAULT":
            code = {429: "TooManyRequests", 503: "ServiceUnavailable", 504: "GatewayTimeout"}.get(
                status, "InternalServerError"
            )
        inner = {
            "date": now().strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": str(uuid.uuid4()),
            "client-request-id": str(uuid.uuid4()),
        }
        body: dict[str, Any] = {"error": {"code": code, "message": message, "innerError": inner}}
        if details:
            body["error"]["details"] = details
        return Response.json(status, body)

    def violation_response(self, violations: list[Violation]) -> Response:
        first = violations[0]
        if first.kind == "operation":
            return self.error(400, "BadRequest", f"Resource not found for the segment '{first.field}'.")
        details = [{"code": first.kind, "target": v.field, "message": v.message} for v in violations]
        return self.error(400, "BadRequest", first.message, details)

    def authenticate(self, request: SandboxRequest) -> dict[str, Any]:
        record = self.store.collection("tokens").get(request.bearer() or "")
        if record is None:
            raise Abort(
                self.error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
            )
        if record["expires"] <= time.time():
            raise Abort(
                self.error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
            )
        return record

    # ------------------------------------------------------------------ users and the access policy
    def add_user(self, upn: str, name: str = "", user_id: str | None = None) -> dict[str, Any]:
        users = self.store.collection("users")
        for user in users.values():
            if user["userPrincipalName"] == upn.lower():
                return user
        user = {
            "id": user_id or str(uuid.uuid4()),
            "userPrincipalName": upn.lower(),
            "mail": upn.lower(),
            "displayName": name or upn,
            "_policy": False,
        }
        users[user["id"]] = user
        return user

    def user(self, key: str) -> dict[str, Any]:
        wanted = unquote(key).lower()
        for user in self.store.collection("users").values():
            if wanted in (user["id"].lower(), user["userPrincipalName"]):
                return user
        message = f"Resource '{unquote(key)}' does not exist or one of its queried reference-property objects "
        message += "are not present."
        raise Abort(self.error(404, "Request_ResourceNotFound", message))

    def organizer(self, request: SandboxRequest) -> dict[str, Any]:
        """The user whose meetings the app acts on; Graph's 403 without an application access policy."""
        self.authenticate(request)
        user = self.user(request.params["userId"])
        if not (user["_policy"] or self.store.collection("policy")["global"]):
            raise Abort(self.error(403, "General", "No application access policy found for this app."))
        return user

    # ------------------------------------------------------------------ change notifications
    def notify(
        self,
        subscription: dict[str, Any],
        change: str,
        resource: str,
        data: dict[str, Any],
        client_state: str | None = None,
    ) -> dict[str, Any]:
        """POST a changeNotificationCollection to the subscription's notificationUrl (on a thread,
        retried on a non-2xx answer); `client_state` overrides the subscription's (a forgery)."""
        item = {
            "id": str(uuid.uuid4()),
            "subscriptionId": subscription["id"],
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "changeType": change,
            "resource": resource,
            "resourceData": data,
            "clientState": subscription.get("clientState") if client_state is None else client_state,
            "tenantId": self.app()["tenantId"],
        }
        record = {"id": item["id"], "subscriptionId": subscription["id"], "body": {"value": [item]}, "deliveries": []}
        self.store.collection("notifications")[record["id"]] = record
        threading.Thread(target=self._deliver, args=(subscription["notificationUrl"], record), daemon=True).start()
        return record

    def _deliver(self, url: str, record: dict[str, Any]) -> None:
        raw = json.dumps(record["body"], separators=(",", ":")).encode()
        for delay in NOTIFY_RETRY_DELAYS:
            time.sleep(delay)
            result = self.ctx.callbacks.send(self.prefix, url, raw, timeout=3)
            record["deliveries"].append(result.status)
            if 200 <= result.status < 300:
                return

    def validation_call(self, url: str) -> tuple[bool, str]:
        """Graph's check of a notification URL: POST url?validationToken=... expecting 200 text/plain
        with the token (decoded) within 10 seconds."""
        token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        target = f"{url}{'&' if '?' in url else '?'}validationToken={quote(token)}"
        result = self.ctx.callbacks.send(self.prefix, target, b"", headers={"Content-Type": "text/plain"}, timeout=10)
        if result.status != 200:
            return False, f"status {result.status or 'unreachable'}"
        if not result.response_content_type.lower().startswith("text/plain"):
            return False, f"content type {result.response_content_type!r}, not text/plain"
        if result.response_body != token:
            return False, "the answer is not the validation token"
        return True, ""

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(48)
