"""What an emulator is made of: `Emulator` (routes, provider-shaped errors, reset), `Store` (its
state), `SandboxRequest`, `SandboxContext` (what it may know about the stack), and the `route` and
`control` decorators. See offline/sandbox/README.md for how to add one.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from offline.http import Response
from offline.sandbox.callbacks import Callbacks
from offline.sandbox.validation import OpenApiDocument, Violation


@dataclass
class SandboxContext:
    """The running stack as an emulator sees it."""

    specs_dir: Path  # ../shared/provider-specs
    callbacks: Callbacks  # signed outbound calls to the service's Function URLs
    secrets: dict[str, str] = field(default_factory=dict)  # secret logical id -> local SecretString
    base_url: str = ""  # this sandbox's root URL


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
    names = re.findall(r"\{([^}]+)\}", template)
    regex = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))
    return _Route(method, template, re.compile(regex + "/?"), names, handler)


class Emulator:
    """Base of every provider emulator.

    Subclasses set `prefix` (the first path segment, e.g. "paypal"), optionally `specs` (OpenAPI
    files relative to provider-specs/ that requests are validated against), implement `error` in the
    provider's own error shape, and mark handlers with @route / @control.
    """

    prefix: ClassVar[str] = ""
    title: ClassVar[str] = ""
    specs: ClassVar[list[str]] = []

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.store = Store()
        self.documents = [OpenApiDocument(ctx.specs_dir / s) for s in self.specs if (ctx.specs_dir / s).exists()]
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
