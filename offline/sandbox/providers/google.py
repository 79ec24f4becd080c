"""Google emulator: OAuth 2.0 (google_oauth.py) and Calendar API v3 (google_calendar.py), served
under /google with Google's own paths, so an adapter written against Google works with only its
base URLs pointed here:

    authorization  <sandbox>/google/o/oauth2/v2/auth     (https://accounts.google.com/o/oauth2/v2/auth)
    token, revoke  <sandbox>/google/token, /google/revoke (https://oauth2.googleapis.com/...)
    userinfo       <sandbox>/google/oauth2/v3/userinfo   (https://www.googleapis.com/oauth2/v3/userinfo)
    Calendar v3    <sandbox>/google/calendar/v3          (https://www.googleapis.com/calendar/v3)

Calendar requests are validated against Google's discovery document calendar.v3.json from the
pinned google-api-python-client package: a parameter the method does not take, a wrong parameter
value, or a body property the schema does not have or of the wrong type gets Google's 400.

Controls (under /_sandbox/google), besides the OAuth ones listed in google_oauth.py:
    POST   /faults {"kind" | "status", "count": 1, "pathPrefix": "/calendar/v3", "method"?,
                    "retryAfter"?, "delayMs"?}
           the next `count` matching calls fail: kind rateLimitExceeded / userRateLimitExceeded
           (403, usageLimits), status 429 (with Retry-After), 500 backendError, 503; kind "slow"
           with delayMs answers them normally after the delay; on /token or /revoke, kind is the
           OAuth error (e.g. "invalid_grant", 400) and a 5xx is {"error": "internal_failure"}; on
           /o/oauth2/v2/auth a kind (e.g. "server_error", "temporarily_unavailable") redirects to the
           request's redirect_uri with error=<kind>&state=...
    GET    /faults                       pending faults;  DELETE /faults  clear them
    GET    /calls                        Calendar calls per user and method ({"byUser": {email:
                                         {"events.insert": n}}, "total": {...}}), token and revoke
                                         requests per account ({"oauthByUser": {email:
                                         {"token.refresh_token": n, "revoke": n}}}), faults answered
    GET    /calendars/{email}            the user's calendars with all their events, cancelled included
    POST   /accounts {"email", "timeZone"?, "emailVerified"?, "name"?, "picture"?, "sub"?}
           an account: its primary calendar time zone (UTC), and who it is for sign-in (the
           authorization page offers it; id_token and userinfo show it; emailVerified false makes
           email_verified false)
    GET    /accounts                     the accounts added
The sandbox's own /_sandbox/faults and /_sandbox/latency work too (errors in Google's shape).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote

from offline.http import Response
from offline.sandbox.base import Handler, SandboxContext, SandboxRequest, control
from offline.sandbox.providers.google_calendar import GoogleCalendar
from offline.sandbox.providers.google_oauth import GoogleOAuth, _with_query
from offline.sandbox.providers.google_shared import google_error
from offline.sandbox.validation import Violation

_OAUTH_PATHS = ("/token", "/revoke", "/o/oauth2", "/oauth2", "/v1/userinfo")
_LIMITS = {
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
    "quotaExceeded": "Calendar usage limits exceeded.",
}


@dataclass
class _Fault:
    kind: str  # rateLimitExceeded, userRateLimitExceeded, slow, an OAuth error, or "" (by status)
    status: int
    remaining: int
    path_prefix: str
    method: str | None
    retry_after: int | None
    delay_ms: int


class Google(GoogleOAuth, GoogleCalendar):
    prefix = "google"
    title = "Google OAuth 2.0 and Calendar API v3"
    specs = ["google/calendar.v3.json"]

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self._faults: list[_Fault] = []
        self._faults_lock = threading.Lock()
        self._faulted: dict[str, int] = {}

    def reset(self) -> None:
        super().reset()
        with self._faults_lock:
            self._faults.clear()
            self._faulted.clear()

    # ------------------------------------------------------------------ Google's error shapes
    def error(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
        if status in (403, 429) or code in _LIMITS:
            reason = code if code in _LIMITS else "rateLimitExceeded"
            return google_error(status, reason, _LIMITS[reason], domain="usageLimits")
        if status >= 500:
            if status == 503:
                return google_error(503, "backendError", "The service is currently unavailable.")
            return google_error(status, "backendError", "Backend Error")
        if status == 404:
            return google_error(404, "notFound", "Not Found")
        return google_error(status, "badRequest" if status == 400 else code, message)

    def violation_response(self, violations: list[Violation]) -> Response:
        first = violations[0]
        if first.location == "body" and first.kind == "additionalProperties":
            at = ".".join(["resource", *first.field.strip("/").split("/")[:-1]])
            message = f"Invalid JSON payload received. Unknown name \"{first.value}\" at '{at}': Cannot find field."
        elif first.location == "body":
            at = ".".join(["resource", *first.field.strip("/").split("/")]).rstrip(".")
            message = f"Invalid value at '{at}', {first.value!r}: {first.message}"
        elif first.kind == "unknown":
            message = (
                f'Invalid JSON payload received. Unknown name "{first.field}": Cannot bind query parameter. '
                f"Field '{first.field}' could not be found in request message."
            )
        elif first.kind == "required":
            message = f"Required parameter: {first.field}"
        else:
            message = first.message
        reason = "invalidParameter" if first.location in ("query", "path") and first.kind != "unknown" else "invalid"
        if first.kind == "required":
            reason = "required"
        response = google_error(400, reason, message, location=None if first.location == "body" else first.field)
        return response

    # ------------------------------------------------------------------ faults, before the lock
    def handle(self, handler: Handler, request: SandboxRequest) -> Response:
        if not hasattr(handler, "_sandbox_route"):
            return super().handle(handler, request)
        fault = self._take_fault(request)
        if fault is not None:
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000)
            if fault.kind != "slow":
                return self._fault_answer(fault, request)
        return super().handle(handler, request)

    def _take_fault(self, request: SandboxRequest) -> _Fault | None:
        with self._faults_lock:
            for fault in self._faults:
                if fault.remaining <= 0 or not request.path.startswith(fault.path_prefix):
                    continue
                if fault.method and fault.method.upper() != request.method:
                    continue
                fault.remaining -= 1
                label = fault.kind or str(fault.status)
                self._faulted[label] = self._faulted.get(label, 0) + 1
                return fault
        return None

    def _fault_answer(self, fault: _Fault, request: SandboxRequest) -> Response:
        retry = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
        redirect_uri = request.query.get("redirect_uri", "")
        if request.path == "/o/oauth2/v2/auth" and fault.kind and redirect_uri.startswith(("http://", "https://")):
            # Google reports a failure of the authorization server to the client: error=...&state=...
            state = {"state": request.query["state"]} if request.query.get("state") else {}
            return Response(302, [("Location", _with_query(redirect_uri, {"error": fault.kind, **state}))])
        if request.path.startswith(_OAUTH_PATHS):
            error = fault.kind or ("internal_failure" if fault.status >= 500 else "invalid_request")
            answer = Response.json(fault.status, {"error": error, "error_description": "Injected by the sandbox"})
        else:
            answer = self.error(fault.status, fault.kind, "Injected by the sandbox")
        answer.headers += retry
        return answer

    @control("POST", "/faults")
    def add_fault(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        kind = str(body.get("kind", ""))
        default_status = 403 if kind in _LIMITS else 400 if kind and kind != "slow" else 503
        fault = _Fault(
            kind=kind,
            status=int(body.get("status", 200 if kind == "slow" else default_status)),
            remaining=int(body.get("count", 1)),
            path_prefix=body.get("pathPrefix", "/calendar/v3"),
            method=body.get("method"),
            retry_after=body.get("retryAfter"),
            delay_ms=int(body.get("delayMs", 0)),
        )
        if kind == "slow" and not fault.delay_ms:
            return Response.json(400, {"error": "a slow fault needs delayMs"})
        with self._faults_lock:
            self._faults.append(fault)
        return Response.json(201, asdict(fault))

    @control("GET", "/faults")
    def list_faults(self, request: SandboxRequest) -> Response:
        with self._faults_lock:
            return Response.json(200, [asdict(f) for f in self._faults if f.remaining > 0])

    @control("DELETE", "/faults")
    def clear_faults(self, request: SandboxRequest) -> Response:
        with self._faults_lock:
            self._faults.clear()
        return Response(204)

    # ------------------------------------------------------------------ inspection
    @control("GET", "/calls")
    def calls(self, request: SandboxRequest) -> Response:
        by_user = self.store.snapshot().get("calls", {})
        total: dict[str, int] = {}
        for operations in by_user.values():
            for name, count in operations.items():
                total[name] = total.get(name, 0) + count
        with self._faults_lock:
            faulted = dict(self._faulted)
        oauth = self.store.snapshot().get("oauth_calls", {})
        return Response.json(200, {"byUser": by_user, "total": total, "oauthByUser": oauth, "faulted": faulted})

    @control("GET", "/calendars/{email}")
    def user_calendars(self, request: SandboxRequest) -> Response:
        email = unquote(request.params["email"]).lower()
        owned = [c for c in self.store.collection("calendars").values() if c["_owner"] == email]
        answer = [
            {
                **self._public(c),
                "primary": bool(c.get("_primary")),
                "events": [self._shown(e, c) for e in self._events_of(c)],
            }
            for c in owned
        ]
        return Response.json(200, {"email": email, "calendars": answer})

    @control("POST", "/accounts")
    def account(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        email = str(body.get("email", "")).lower()
        if not email:
            return Response.json(400, {"error": "email is required"})
        accounts = self.store.collection("accounts")
        account = accounts.setdefault(email, {"timeZone": "UTC"})
        for name in ("timeZone", "name", "picture", "sub"):
            if body.get(name) is not None:
                account[name] = str(body[name])
        if "emailVerified" in body:
            account["emailVerified"] = bool(body["emailVerified"])
        if email in self.store.collection("calendars"):
            self.store.collection("calendars")[email]["timeZone"] = account["timeZone"]
        return Response.json(200, {"email": email, **account})

    @control("GET", "/accounts")
    def list_accounts(self, request: SandboxRequest) -> Response:
        return Response.json(200, [{"email": k, **v} for k, v in self.store.collection("accounts").items()])


EMULATOR = Google
