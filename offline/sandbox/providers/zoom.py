"""Zoom emulator: Server-to-Server OAuth and the Meetings API v2, served under /zoom with Zoom's
own paths, so an adapter written against Zoom works with only its base URLs pointed here:

    token    <sandbox>/zoom/oauth/token   (https://zoom.us/oauth/token)
    API      <sandbox>/zoom/v2            (https://api.zoom.us/v2)

The parts: zoom_shared.py (errors, bearer check, UUIDs, webhook signing), zoom_meetings.py
(meetings, occurrences, status, registrants, the daily create/update quota), zoom_sessions.py
(start/join/leave/end/recording controls; recordings, past meetings, participant reports).

Requests under /v2 are validated against Zoom's Meetings API document (zoom/meetings.json) when
PROVIDER_SPECS_DIR holds it: it is not carried in the repository for its licence, and without it the
emulator runs unvalidated and the banner says so. A violation gets Zoom's 400 {"code": 300,
"message": "Validation Failed.", "errors": [{"field", "message"}]}.

Credentials: account LOCAL_ACCOUNT_ID, client LOCAL_CLIENT_ID / LOCAL_CLIENT_SECRET, webhook secret
token LOCAL_WEBHOOK_SECRET, or the service's local ZoomSecret (accountId, clientId, clientSecret,
webhookSecretToken) when the stack has one. The user "me" is the account owner (owner@example.com).

Controls (under /_sandbox/zoom, JSON bodies):
    POST /users {"email", "first_name"?, "last_name"?}        a user of the account (a host)
    POST /tokens/expire                                        every access token expires now
    POST /quota {"limit"?, "userId"?, "used"?}                 the daily create/update limit (100), or
                                                               how many a user has spent today (UTC)
    GET  /quota                                                what each user spent, per UTC day
    POST /webhook {"url"?, "secretToken"?}                     where events go (default: the template's
                                                               VideoCallbacksFunction URL + /zoom)
    POST /webhook/validate                                     Zoom's endpoint.url_validation
                                                               handshake against that URL: the answer
    POST /meetings/{id}/start {"occurrenceId"?, "uuid"?, "at"?}          meeting.started
    POST /meetings/{id}/participants/join {"joinUrl"|"registrantId"|"email", "name"?, "at"?, "guest"?}
    POST /meetings/{id}/participants/leave {"email"|"registrantId"|"joinUrl", "at"?}
    POST /meetings/{id}/end {"at"?}                            meeting.ended (everyone still in leaves)
    POST /meetings/{id}/recording/complete {"uuid"?}           recording.completed with download_token
    GET  /events;  POST /events/{id}/send {"timestamp"?, "secretToken"?}   resend, optionally stale or
                                                               signed with another secret (forgeries)
    POST /delivery {"auto": false}                             hold new events
The sandbox's /_sandbox/faults (429 with retryAfter, 5xx) and /_sandbox/latency answer in Zoom's shape.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from offline.http import Response
from offline.sandbox.base import SandboxRequest, control, route
from offline.sandbox.callbacks import hmac_sha256_hex
from offline.sandbox.providers.zoom_meetings import ZoomMeetings
from offline.sandbox.providers.zoom_sessions import ZoomSessions
from offline.sandbox.providers.zoom_shared import TOKEN_SECONDS, now

SCOPES = "meeting:read:admin meeting:write:admin recording:read:admin report:read:admin user:read:admin"


class Zoom(ZoomMeetings, ZoomSessions):
    prefix = "zoom"
    title = "Zoom Server-to-Server OAuth and Meetings API v2"
    specs = ["zoom/meetings.json"]

    # ------------------------------------------------------------------ OAuth
    @route("POST", "/oauth/token")
    def token(self, request: SandboxRequest) -> Response:
        query = {**request.form(), **request.query} if request.body else request.query
        creds = self.credentials()
        client = request.basic_auth()
        if client != (creds["clientId"], creds["clientSecret"]):
            return Response.json(401, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
        if query.get("grant_type") != "account_credentials":
            return Response.json(400, {"reason": "Unsupported grant type", "error": "unsupported_grant_type"})
        if query.get("account_id") != creds["accountId"]:
            return Response.json(400, {"reason": "Invalid account_id", "error": "invalid_request"})
        token = secrets.token_urlsafe(40)
        self.store.collection("tokens")[token] = {"expires": time.time() + TOKEN_SECONDS, "issued": time.time()}
        return Response.json(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": TOKEN_SECONDS - 1,
                "scope": SCOPES,
                "api_url": f"{self.ctx.base_url}/zoom",
            },
        )

    @route("GET", "/v2/users/{userId}")
    def get_user(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        return Response.json(200, self._public(self.user(request.params["userId"])))

    # ------------------------------------------------------------------ controls
    @control("POST", "/users")
    def create_user(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        if not body.get("email"):
            return Response.json(400, {"error": "email is required"})
        user = self.add_user(str(body["email"]), body.get("first_name", ""), body.get("last_name", ""))
        return Response.json(201, user)

    @control("POST", "/tokens/expire")
    def expire_tokens(self, request: SandboxRequest) -> Response:
        tokens = self.store.collection("tokens")
        for record in tokens.values():
            record["expires"] = 0
        return Response.json(200, {"expired": len(tokens)})

    @control("POST", "/quota")
    def set_quota(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        settings = self.store.collection("settings")
        if "limit" in body:
            settings["dailyLimit"] = int(body["limit"])
        if "used" in body:
            user = self.user(str(body.get("userId", "me")))
            self.store.collection("quota")[f"{user['id']}:{now().date().isoformat()}"] = int(body["used"])
        return self.quota(request)

    @control("GET", "/quota")
    def quota(self, request: SandboxRequest) -> Response:
        return Response.json(
            200,
            {"limit": self.store.collection("settings")["dailyLimit"], "used": dict(self.store.collection("quota"))},
        )

    @control("POST", "/webhook")
    def configure_webhook(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        settings = self.store.collection("settings")
        if "url" in body:
            settings["webhookUrl"] = body["url"]
        if "secretToken" in body:
            settings["webhookSecret"] = body["secretToken"]
        return Response.json(200, {"url": self.target()})

    @control("POST", "/webhook/validate")
    def validate_endpoint(self, request: SandboxRequest) -> Response:
        """Zoom's check of an event endpoint: it must answer {"plainToken", "encryptedToken":
        hex HMAC-SHA256(secret token, plainToken)} with 200 (within 3 seconds)."""
        url = self.target()
        if url is None:
            return Response.json(409, {"error": "no webhook URL: POST /_sandbox/zoom/webhook {url}"})
        plain = secrets.token_urlsafe(16)
        body = {
            "payload": {"plainToken": plain},
            "event_ts": int(time.time() * 1000),
            "event": "endpoint.url_validation",
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        with self._unlocked():
            result = self.ctx.callbacks.send(self.prefix, url, raw, sign=self.sign, timeout=3)
        expected = hmac_sha256_hex(self.webhook_secret(), plain)
        try:
            answer: Any = json.loads(result.response_body)
        except ValueError:
            answer = None
        ok = (
            result.status == 200
            and isinstance(answer, dict)
            and answer.get("plainToken") == plain
            and answer.get("encryptedToken") == expected
        )
        reason = "" if ok else f"status {result.status}, answer {result.response_body[:200]!r}"
        return Response.json(200, {"validated": ok, "status": result.status, "reason": reason, "plainToken": plain})

    @control("POST", "/events/{id}/send")
    def send_event(self, request: SandboxRequest) -> Response:
        event = self.store.collection("events").get(request.params["id"])
        if event is None:
            return Response.json(404, {"error": "no such event"})
        body = request.json() if request.body else {}
        with self._unlocked():
            status = self.deliver(event, body.get("timestamp"), body.get("secretToken"))
        return Response.json(200, {"eventId": event["id"], "status": status})


EMULATOR = Zoom
