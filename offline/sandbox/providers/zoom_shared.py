"""What the Zoom emulator's parts share (zoom.py assembles them): Zoom's error shape, the
Server-to-Server OAuth bearer check, times as Zoom writes them, meeting and UUID lookup (with Zoom's
double-encoding rule), and webhook delivery signed as Zoom signs it.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from offline.http import Response
from offline.sandbox.base import Abort, SandboxContext, SandboxRequest, WebhookEmulator
from offline.sandbox.callbacks import hmac_sha256_hex
from offline.sandbox.validation import Violation

LOCAL_ACCOUNT_ID = "local-zoom-account"
LOCAL_CLIENT_ID = "local-zoom-client"
LOCAL_CLIENT_SECRET = "local-zoom-secret"  # noqa: S105 (a fixed local credential, not a secret)
LOCAL_WEBHOOK_SECRET = "local-zoom-webhook-secret"  # noqa: S105 (the local app's "Secret Token")
OWNER_EMAIL = "owner@example.com"  # the account owner: the user "me" stands for
TOKEN_SECONDS = 3600
DAILY_LIMIT = 100  # meeting create/update requests per user per UTC day


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def zoom_time(moment: datetime) -> str:
    """A time as Zoom writes it in answers: UTC, seconds, "Z"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_time(text: str, timezone: str | None = None) -> datetime:
    """A request's time: "…Z" or with an offset is absolute; without one it is local to `timezone`."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone))
    return moment.astimezone(UTC)


def next_utc_midnight(moment: datetime) -> datetime:
    return (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


class ZoomBase(WebhookEmulator):
    """State, helpers and webhook delivery shared by the meetings and sessions parts."""

    prefix = "zoom"
    callback_function = "VideoCallbacksFunction"  # when the template has it and no URL is configured
    callback_path = "/zoom"
    retry_delays: ClassVar[tuple[int, ...]] = (0, 1, 2, 4)

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self._seed()

    def reset(self) -> None:
        super().reset()
        self._seed()

    # ------------------------------------------------------------------ credentials and users
    def credentials(self) -> dict[str, str]:
        """The Server-to-Server OAuth app: the service's local ZoomSecret when it has one."""
        secret = self.local_secret("ZoomSecret")
        return {
            "accountId": secret.get("accountId", LOCAL_ACCOUNT_ID),
            "clientId": secret.get("clientId", LOCAL_CLIENT_ID),
            "clientSecret": secret.get("clientSecret", LOCAL_CLIENT_SECRET),
            "webhookSecretToken": secret.get("webhookSecretToken", LOCAL_WEBHOOK_SECRET),
        }

    def _seed(self) -> None:
        settings = self.store.collection("settings")
        settings.update({"dailyLimit": DAILY_LIMIT, "webhookUrl": None, "webhookSecret": None})
        self.add_user(OWNER_EMAIL, "Account", "Owner", role_name="Owner")

    def add_user(self, email: str, first: str = "", last: str = "", role_name: str = "Member") -> dict[str, Any]:
        users = self.store.collection("users")
        for user in users.values():
            if user["email"] == email.lower():
                return user
        user_id = secrets.token_urlsafe(16)[:22]
        user = {
            "id": user_id,
            "email": email.lower(),
            "first_name": first,
            "last_name": last,
            "display_name": f"{first} {last}".strip() or email,
            "type": 2,
            "role_name": role_name,
            "pmi": int("8" + "".join(secrets.choice("0123456789") for _ in range(9))),
            "timezone": "UTC",
            "status": "active",
            "account_id": self.credentials()["accountId"],
            "created_at": zoom_time(now()),
        }
        users[user_id] = user
        return user

    def user(self, user_id: str) -> dict[str, Any]:
        """A user by id, email or "me" (the account owner); Zoom's 404 1001 otherwise."""
        users = self.store.collection("users")
        key = unquote(user_id).lower()
        if key == "me":
            key = OWNER_EMAIL
        for user in users.values():
            if user["id"].lower() == key or user["email"] == key:
                return user
        raise Abort(self.error(404, "1001", f"User does not exist: {unquote(user_id)}."))

    def authenticate(self, request: SandboxRequest) -> dict[str, Any]:
        token = request.bearer()
        record = self.store.collection("tokens").get(token or "")
        if record is None:
            raise Abort(self.error(401, "124", "Invalid access token."))
        if record["expires"] <= time.time():
            raise Abort(self.error(401, "124", "Access token is expired."))
        return record

    # ------------------------------------------------------------------ Zoom's shapes
    def error(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
        numeric = int(code) if str(code).isdigit() else status
        body: dict[str, Any] = {"code": numeric, "message": message}
        if details:
            body["errors"] = details
        return Response.json(status, body)

    def violation_response(self, violations: list[Violation]) -> Response:
        errors = [
            {"field": v.field.strip("/").replace("/", ".") or v.location, "message": v.message} for v in violations
        ]
        return self.error(400, "300", "Validation Failed.", errors)

    def validate(self, request: SandboxRequest) -> list[Violation]:
        """Zoom's document describes paths below its server URL (https://api.zoom.us/v2)."""
        if not request.path.startswith("/v2/"):
            return []
        inner = SandboxRequest(
            request.method, request.path[3:], request.query, request.headers, request.body, request.params
        )
        return [v for v in super().validate(inner) if not _documented_list(v)]

    # ------------------------------------------------------------------ lookup
    def meeting(self, meeting_id: str) -> dict[str, Any]:
        found = self.store.collection("meetings").get(unquote(meeting_id))
        if found is None or found.get("_deleted"):
            raise Abort(self.error(404, "3001", f"Meeting {unquote(meeting_id)} is not found or has expired."))
        return found

    def instance_by_path(self, raw: str) -> dict[str, Any]:
        """A meeting instance from a path segment holding its UUID (or the meeting id: its latest
        instance). Zoom decodes the segment once more when the UUID starts with "/" or contains
        "//": such a UUID sent encoded only once is not found, as at Zoom."""
        once = unquote(raw)
        twice = unquote(once)
        instances = self.store.collection("instances")
        if once.startswith("/") or "//" in once:
            raise Abort(self.error(404, "3001", f"Meeting {once} is not found or has expired."))
        for candidate in (once, twice) if twice != once else (once,):
            if candidate in instances:
                return instances[candidate]
        meeting = self.store.collection("meetings").get(once)
        if meeting is not None and meeting.get("_instances"):
            return instances[meeting["_instances"][-1]]
        raise Abort(self.error(404, "3001", f"Meeting {once} is not found or has expired."))

    @staticmethod
    def new_uuid() -> str:
        return secrets.token_urlsafe(16)[:22].replace("-", "+").replace("_", "/") + "=="

    # ------------------------------------------------------------------ webhooks
    def webhook_secret(self) -> str:
        return self.store.collection("settings").get("webhookSecret") or self.credentials()["webhookSecretToken"]

    def sign(self, body: bytes, timestamp: int | None = None, secret: str | None = None) -> dict[str, str]:
        """Zoom's signature: v0=HMAC-SHA256(secret token, "v0:{timestamp}:{raw body}") in hex."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        message = f"v0:{stamp}:".encode() + body
        return {
            "x-zm-request-timestamp": stamp,
            "x-zm-signature": "v0=" + hmac_sha256_hex(secret or self.webhook_secret(), message),
        }

    def sign_delivery(self, body: bytes) -> dict[str, str]:
        return self.sign(body)

    def emit(self, event: str, obj: dict[str, Any], **top: Any) -> dict[str, Any]:
        """Keep and deliver a Zoom event ({"event", "event_ts", "payload": {"account_id", "object"}})."""
        body = {
            "event": event,
            "event_ts": int(time.time() * 1000),
            **top,
            "payload": {"account_id": self.credentials()["accountId"], "object": obj},
        }
        record = {"id": f"evt_{secrets.token_hex(8)}", "event": event, "body": body, "deliveries": []}
        self.publish(record)
        return record

    def target(self) -> str | None:
        configured = self.store.collection("settings").get("webhookUrl")
        if configured:
            return str(configured)
        try:
            return self.ctx.callbacks.url_of(self.callback_function, self.callback_path)
        except KeyError:
            return None

    def deliver(self, event: dict[str, Any], timestamp: int | None = None, secret: str | None = None) -> int:
        url = self.target()
        if url is None:
            return 0
        raw = _compact(event["body"])
        result = self.ctx.callbacks.send(self.prefix, url, raw, sign=lambda body: self.sign(body, timestamp, secret))
        event["deliveries"].append(result.status)  # appended by delivery threads, read by GET /events
        return result.status


def _documented_list(violation: Violation) -> bool:
    """Zoom's document gives `recurrence.weekly_days` an enum of single days ("1".."7") while its own
    description, and Zoom, take a comma-separated list ("2,4"): such a list is not a violation."""
    if not violation.field.endswith("/recurrence/weekly_days") or not isinstance(violation.value, str):
        return False
    days = violation.value.split(",")
    return len(days) > 1 and all(d.strip() in {"1", "2", "3", "4", "5", "6", "7"} for d in days)


def _compact(payload: dict[str, Any]) -> bytes:
    import json

    return json.dumps(payload, separators=(",", ":")).encode()
