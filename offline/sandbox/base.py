"""What an emulator is made of: `Emulator` (routes, provider-shaped errors, reset), `WebhookEmulator`
(one whose provider calls the service back), `Store` (its state), `SandboxRequest`, `SandboxContext`
(what it may know about the stack), `Abort`, and the `route` and `control` decorators. See
offline/sandbox/README.md for how to add one.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from offline.http import Response
from offline.sandbox import discovery, spec_sources
from offline.sandbox.callbacks import Callbacks
from offline.sandbox.validation import Violation, path_pattern


@dataclass
class SandboxContext:
    """The running stack as an emulator sees it."""

    callbacks: Callbacks  # signed outbound calls to the service's Function URLs
    secrets: dict[str, str] = field(default_factory=dict)  # secret logical id -> local SecretString
    base_url: str = ""  # this sandbox's root URL
    optional_specs_dir: Path | None = None  # PROVIDER_SPECS_DIR: documents the repository may not carry


@dataclass
class SandboxRequest:
    method: str
    path: str  # below the provider prefix: /v1/oauth2/token
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # path template variables

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def basic_auth(self) -> tuple[str, str] | None:
        """(user, password) of an HTTP Basic Authorization header."""
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        return user, password

    def bearer(self) -> str | None:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        return value if scheme.lower() == "bearer" and value else None


class Store:
    """An emulator's state: named collections of JSON-like records, thread-safe, reset as a whole."""

    def __init__(self) -> None:
        self._collections: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()

    def collection(self, name: str) -> dict[str, Any]:
        with self.lock:
            return self._collections.setdefault(name, {})

    def reset(self) -> None:
        with self.lock:
            self._collections.clear()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self._collections, default=str))


Handler = Callable[..., Response]


class Abort(Exception):
    """Stops a handler and answers `response` at once (an error in the provider's shape, or a
    replayed first answer), so that a helper's check reads as one line in every handler."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Mark an emulator method as the handler of a provider endpoint, e.g. ("POST", "/v1/orders/{id}")."""

    def mark(func: Handler) -> Handler:
        func._sandbox_route = (method.upper(), path)  # type: ignore[attr-defined]
        return func

    return mark


def control(method: str, path: str) -> Callable[[Handler], Handler]:
    """Mark an emulator method as a control endpoint under /_sandbox/<prefix><path>."""

    def mark(func: Handler) -> Handler:
        func._sandbox_control = (method.upper(), path)  # type: ignore[attr-defined]
        return func

    return mark


@dataclass
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    names: list[str]
    handler: Handler


def _compile(method: str, template: str, handler: Handler) -> _Route:
    return _Route(method, template, *path_pattern(template), handler)


class Emulator:
    """Base of every provider emulator.

    Subclasses set `prefix` (the first path segment, e.g. "paypal"), optionally `specs` (names of
    OpenAPI documents in spec_sources.KNOWN that requests are validated against), implement `error` in the
    provider's own error shape, and mark handlers with @route / @control. A document is read as OpenAPI,
    or as a Google discovery document when it is one (offline/sandbox/discovery.py).
    """

    prefix: ClassVar[str] = ""
    title: ClassVar[str] = ""
    specs: ClassVar[list[str]] = []

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.store = Store()
        found = [spec_sources.locate(name, ctx.optional_specs_dir) for name in self.specs]
        self.documents = [discovery.load(s.path) for s in found if s.path is not None]
        self.missing_specs = [s for s in found if s.path is None]
        self.routes: list[_Route] = []
        self.controls: list[_Route] = []
        for name in dir(type(self)):
            func = getattr(self, name)
            if hasattr(func, "_sandbox_route"):
                self.routes.append(_compile(*func._sandbox_route, func))
            if hasattr(func, "_sandbox_control"):
                self.controls.append(_compile(*func._sandbox_control, func))
        # Static routes before templated ones.
        self.routes.sort(key=lambda r: len(r.names))
        self.controls.sort(key=lambda r: len(r.names))

    # -- to override -----------------------------------------------------------------------
    def error(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
        """An error answer in the provider's shape (override: every provider has its own)."""
        return Response.json(status, {"error": {"code": code, "message": message, "details": details or []}})

    def violation_response(self, violations: list[Violation]) -> Response:
        """The provider's answer to a request that breaks its specification (400 by default)."""
        return self.error(
            400, "invalid_request", "Request does not match the specification", [v.to_dict() for v in violations]
        )

    def reset(self) -> None:
        """Forget all state (the /_sandbox/reset control)."""
        self.store.reset()

    # -- for subclasses ----------------------------------------------------------------------
    def local_secret(self, logical_id: str) -> dict[str, Any]:
        """The service's local SecretString `logical_id` as JSON ({} when the stack has none)."""
        raw = self.ctx.secrets.get(logical_id)
        return json.loads(raw) if raw else {}

    @staticmethod
    def _public(record: dict[str, Any]) -> dict[str, Any]:
        """A stored record as the provider shows it: fields starting with "_" are the emulator's own."""
        return {k: v for k, v in record.items() if not k.startswith("_")}

    # -- used by the server ----------------------------------------------------------------
    def validate(self, request: SandboxRequest) -> list[Violation]:
        """Violations of the provider's specification; none when no document covers the path."""
        for document in self.documents:
            if document.covers(request.path):
                return document.validate(
                    request.method,
                    request.path,
                    request.query,
                    request.headers,
                    request.body,
                    request.headers.get("content-type", ""),
                )
        return []

    @staticmethod
    def match(routes: list[_Route], method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        for candidate in routes:
            if candidate.method != method:
                continue
            found = candidate.pattern.fullmatch(path)
            if found:
                return candidate.handler, dict(zip(candidate.names, found.groups(), strict=True))
        return None

    def handle(self, handler: Handler, request: SandboxRequest) -> Response:
        """Run a route or control handler under the store's lock; an `Abort` it raises is its answer."""
        with self.store.lock:
            try:
                return handler(request)
            except Abort as stop:
                return stop.response


class WebhookEmulator(Emulator):
    """An emulator whose provider calls the service back. `publish(event)` keeps the event (by its
    "id") and delivers it to the Function URL of the template function `callback_function`, plus
    `callback_path`, signed by `sign_delivery`; a delivery the service does not accept (non-2xx) is
    retried, as the provider does (its schedule spans days; the sandbox's, seconds). Controls:

        GET  /events                    events, newest last
        POST /events/{id}/send          deliver one now (freshly signed); answers the callback's status
        POST /delivery  {"auto": bool}  deliver new events automatically (the default) or hold them
    """

    callback_function: ClassVar[str] = ""  # logical id of the function the provider calls
    callback_path: ClassVar[str] = "/"  # below that function's URL
    retry_delays: ClassVar[tuple[int, ...]] = (0, 1, 2, 4, 8)  # seconds before each attempt

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.auto_deliver = True

    def reset(self) -> None:
        super().reset()
        self.auto_deliver = True

    def sign_delivery(self, body: bytes) -> dict[str, str]:
        """The headers the provider adds to a delivery of `body` to authenticate it (override)."""
        return {}

    def publish(self, event: dict[str, Any]) -> None:
        self.store.collection("events")[event["id"]] = event
        if self.auto_deliver:
            # After the handler returns: the service's processing may call back into this emulator.
            threading.Thread(target=self._deliver_with_retries, args=(event,), daemon=True).start()

    def _deliver_with_retries(self, event: dict[str, Any]) -> None:
        for delay in self.retry_delays:
            time.sleep(delay)
            if 200 <= self.deliver(event) < 300:
                return

    def deliver(self, event: dict[str, Any]) -> int:
        """POST `event` to the service now: its status (0 when unreachable or without a Function URL)."""
        try:
            target = self.ctx.callbacks.url_of(self.callback_function, self.callback_path)
        except KeyError:
            return 0
        return self.ctx.callbacks.send(self.prefix, target, event, sign=self.sign_delivery).status

    @contextmanager
    def _unlocked(self) -> Iterator[None]:
        # Controls run holding the store lock; a delivery waits for the service, which may call this
        # emulator meanwhile (PayPal's verify-webhook-signature, Stripe's API).
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
            status = self.deliver(event)
        return Response.json(200, {"eventId": event["id"], "status": status})

    @control("POST", "/delivery")
    def delivery(self, request: SandboxRequest) -> Response:
        self.auto_deliver = bool((request.json() or {}).get("auto", True))
        return Response.json(200, {"auto": self.auto_deliver})
