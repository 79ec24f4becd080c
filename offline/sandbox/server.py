"""The provider sandbox server: one local HTTP server that routes `/<provider>/...` to that
provider's emulator, validates each request against the provider's specification, applies fault
injection, records every request, and serves the control endpoints under `/_sandbox/...`.

Control endpoints (JSON):
    GET    /_sandbox/providers                       emulators and their specifications
    POST   /_sandbox/reset[?provider=p]              forget state, faults, latency and history
    POST   /_sandbox/faults   {"provider", "status", "count": 1, "pathPrefix": "", "retryAfter": null}
                                                     fail the provider's next `count` calls
    GET    /_sandbox/faults   DELETE /_sandbox/faults
    POST   /_sandbox/latency  {"provider", "ms"}     add latency to each call of the provider
    GET    /_sandbox/requests[?provider=p]           the requests received (newest last)
    DELETE /_sandbox/requests
    GET    /_sandbox/violations[?provider=p]         the contract violations seen
    GET    /_sandbox/callbacks[?provider=p]          the outbound calls sent to the service
    GET    /_sandbox/<provider>/state                the emulator's store
    *      /_sandbox/<provider>/...                  the emulator's own controls
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline.http import Request, Response
from offline.sandbox import providers, spec_sources
from offline.sandbox.base import Emulator, SandboxContext, SandboxRequest
from offline.sandbox.callbacks import Callbacks

log = logging.getLogger("offline.sandbox")
_REDACTED = {"authorization", "cookie", "x-api-key"}


def discover() -> list[type[Emulator]]:
    """Every emulator class: the `EMULATOR` of each module in offline/sandbox/providers/."""
    found = []
    for info in sorted(pkgutil.iter_modules(providers.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{providers.__name__}.{info.name}")
        emulator = getattr(module, "EMULATOR", None)
        if emulator is not None:
            found.append(emulator)
    return found


@dataclass
class _Fault:
    status: int
    remaining: int
    path_prefix: str
    retry_after: int | None


class Sandbox:
    """The app behind the sandbox port."""

    def __init__(self, ctx: SandboxContext, emulators: list[type[Emulator]] | None = None) -> None:
        self.ctx = ctx
        self.emulators: dict[str, Emulator] = {}
        for cls in emulators if emulators is not None else discover():
            self.emulators[cls.prefix] = cls(ctx)
        self.faults: dict[str, list[_Fault]] = {}
        self.latency_ms: dict[str, int] = {}
        self.requests: deque[dict[str, Any]] = deque(maxlen=2000)
        self.violations: deque[dict[str, Any]] = deque(maxlen=500)
        self._lock = threading.Lock()

    def validation_report(self) -> list[str]:
        """What each emulator validates requests against, and which known documents are active,
        one line each (the banner and the test header print them)."""
        lines = []
        for prefix, emulator in self.emulators.items():
            if emulator.documents:
                validated = f"validated against {len(emulator.documents)} document(s)"
            else:
                validated = "NOT validated (no specification of this provider is carried)"
            if emulator.missing_specs:
                validated += f"; absent: {', '.join(s.name for s in emulator.missing_specs)}"
            lines.append(f"{prefix} requests: {validated}")
        return lines + [f"documents: {line}" for line in spec_sources.summary(self.ctx.optional_specs_dir)]

    # ------------------------------------------------------------------------------ dispatch
    def __call__(self, request: Request) -> Response:
        parts = request.path.lstrip("/").split("/", 1)
        first, rest = parts[0], "/" + (parts[1] if len(parts) > 1 else "")
        if first == "_sandbox":
            return self._control(request, rest)
        emulator = self.emulators.get(first)
        if emulator is None:
            return Response.json(404, {"error": f"no emulator for '{first}'", "providers": sorted(self.emulators)})
        return self._provider_call(emulator, request, rest)

    def _provider_call(self, emulator: Emulator, request: Request, path: str) -> Response:
        headers = {k.lower(): v for k, v in request.headers}
        sandbox_request = SandboxRequest(request.method, path, request.query_params(), headers, request.body)
        record: dict[str, Any] = {
            "time": time.time(),
            "provider": emulator.prefix,
            "method": request.method,
            "path": path,
            "query": sandbox_request.query,
            "headers": {k: ("<redacted>" if k in _REDACTED else v) for k, v in headers.items()},
            "body": request.body.decode(errors="replace")[:4000],
        }
        response = self._answer(emulator, sandbox_request, record)
        record["status"] = response.status
        with self._lock:
            self.requests.append(record)
        log.info("%s %s %s -> %s", emulator.prefix, request.method, path, response.status)
        return response

    def _answer(self, emulator: Emulator, request: SandboxRequest, record: dict[str, Any]) -> Response:
        delay = self.latency_ms.get(emulator.prefix, 0)
        if delay:
            time.sleep(delay / 1000)
        fault = self._take_fault(emulator.prefix, request.path)
        if fault is not None:
            record["fault"] = fault.status
            response = emulator.error(fault.status, "SANDBOX_INJECTED_FAULT", "Injected by the sandbox's fault control")
            if fault.retry_after is not None:
                response.headers.append(("Retry-After", str(fault.retry_after)))
            return response
        violations = emulator.validate(request)
        if violations:
            details = [v.to_dict() for v in violations]
            record["violations"] = details
            with self._lock:
                self.violations.append(
                    {
                        "provider": emulator.prefix,
                        "method": request.method,
                        "path": request.path,
                        "violations": details,
                        "time": time.time(),
                    }
                )
            log.warning(
                "contract violation: %s %s %s: %s",
                emulator.prefix,
                request.method,
                request.path,
                "; ".join(
                    f"{v.location}{v.field if v.field.startswith('/') else ' ' + v.field}: {v.message}"
                    for v in violations[:5]
                ),
            )
            return emulator.violation_response(violations)
        found = emulator.match(emulator.routes, request.method, request.path)
        if found is None:
            log.warning("%s: %s %s is not emulated yet", emulator.prefix, request.method, request.path)
            return emulator.error(404, "NOT_FOUND", f"{request.method} {request.path} is not emulated")
        handler, params = found
        request.params = params
        return emulator.handle(handler, request)

    def _take_fault(self, provider: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self.faults.get(provider, []):
                if fault.remaining > 0 and path.startswith(fault.path_prefix):
                    fault.remaining -= 1
                    return fault
        return None

    # ------------------------------------------------------------------------------ controls
    def _control(self, request: Request, path: str) -> Response:
        query = request.query_params()
        provider = query.get("provider")
        try:
            body = request.json() if request.body else {}
        except ValueError:
            # An emulator's control may take a form (a provider page's own form posts to one).
            if path.lstrip("/").split("/", 1)[0] in self.emulators:
                return self._emulator_control(request, path)
            return Response.json(400, {"error": "body must be JSON"})
        key = (request.method, path.rstrip("/"))
        if key == ("GET", "/providers"):
            return Response.json(
                200,
                [
                    {
                        "prefix": e.prefix,
                        "title": e.title,
                        "specs": [d.path.name for d in e.documents],
                        "specsMissing": [{"name": s.name, "reason": s.origin} for s in e.missing_specs],
                    }
                    for e in self.emulators.values()
                ],
            )
        if key == ("POST", "/reset"):
            self.reset(provider)
            return Response.json(200, {"reset": provider or "all"})
        if key == ("POST", "/faults"):
            target = body.get("provider")
            if target not in self.emulators:
                return Response.json(
                    400, {"error": f"unknown provider {target!r}", "providers": sorted(self.emulators)}
                )
            fault = _Fault(
                int(body.get("status", 503)),
                int(body.get("count", 1)),
                body.get("pathPrefix", ""),
                body.get("retryAfter"),
            )
            with self._lock:
                self.faults.setdefault(target, []).append(fault)
            return Response.json(201, {"provider": target, **fault.__dict__})
        if key == ("GET", "/faults"):
            with self._lock:
                return Response.json(200, {p: [f.__dict__ for f in fs if f.remaining] for p, fs in self.faults.items()})
        if key == ("DELETE", "/faults"):
            with self._lock:
                self.faults.clear()
            return Response(204)
        if key == ("POST", "/latency"):
            if body.get("provider") not in self.emulators:
                return Response.json(400, {"error": f"unknown provider {body.get('provider')!r}"})
            self.latency_ms[body["provider"]] = int(body.get("ms", 0))
            return Response.json(200, {"provider": body["provider"], "ms": self.latency_ms[body["provider"]]})
        if key == ("GET", "/requests"):
            with self._lock:
                return Response.json(200, [r for r in self.requests if provider in (None, r["provider"])])
        if key == ("DELETE", "/requests"):
            with self._lock:
                self.requests.clear()
            return Response(204)
        if key == ("GET", "/violations"):
            with self._lock:
                return Response.json(200, [v for v in self.violations if provider in (None, v["provider"])])
        if key == ("GET", "/callbacks"):
            return Response.json(200, self.ctx.callbacks.history(provider))
        return self._emulator_control(request, path)

    def _emulator_control(self, request: Request, path: str) -> Response:
        parts = path.lstrip("/").split("/", 1)
        emulator = self.emulators.get(parts[0])
        if emulator is None:
            return Response.json(404, {"error": f"no control {request.method} /_sandbox{path}"})
        rest = "/" + (parts[1] if len(parts) > 1 else "")
        if (request.method, rest.rstrip("/")) == ("GET", "/state"):
            return Response.json(200, emulator.store.snapshot())
        found = emulator.match(emulator.controls, request.method, rest)
        if found is None:
            return Response.json(404, {"error": f"{emulator.prefix} has no control {request.method} {rest}"})
        handler, params = found
        sandbox_request = SandboxRequest(
            request.method,
            rest,
            request.query_params(),
            {k.lower(): v for k, v in request.headers},
            request.body,
            params,
        )
        return emulator.handle(handler, sandbox_request)

    def reset(self, provider: str | None = None) -> None:
        with self._lock:
            for name, emulator in self.emulators.items():
                if provider in (None, name):
                    emulator.reset()
                    self.faults.pop(name, None)
                    self.latency_ms.pop(name, None)
            kept = [r for r in self.requests if provider is not None and r["provider"] != provider]
            self.requests.clear()
            self.requests.extend(kept)


def specification_report(optional_specs_dir: Path | None) -> list[str]:
    """`Sandbox.validation_report` of a sandbox with every emulator, without starting a stack."""
    return Sandbox(SandboxContext(Callbacks({}), optional_specs_dir=optional_specs_dir)).validation_report()
