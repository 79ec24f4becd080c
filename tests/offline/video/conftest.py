"""A provider sandbox serving only the Zoom and Graph emulators on a free 127.0.0.1 port (no stack:
the emulators are under test), and a receiver standing in for the service's callback endpoints:
it checks Zoom's signature with the HMAC rule, answers Zoom's URL validation and Graph's
validationToken handshake, and keeps what it accepted. Zoom requests are validated against Zoom's
Meetings API document when PROVIDER_SPECS_DIR holds it (e.g. /work/shared/provider-specs).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import msal
import pytest

from offline.http import Request, Response, Server
from offline.sandbox.base import SandboxContext
from offline.sandbox.callbacks import Callbacks
from offline.sandbox.providers.graph import Graph
from offline.sandbox.providers.graph_shared import GRAPH_SCOPE, LOCAL_TENANT_ID
from offline.sandbox.providers.graph_shared import LOCAL_CLIENT_ID as GRAPH_CLIENT_ID
from offline.sandbox.providers.graph_shared import LOCAL_CLIENT_SECRET as GRAPH_SECRET
from offline.sandbox.providers.zoom import Zoom
from offline.sandbox.providers.zoom_shared import (
    LOCAL_ACCOUNT_ID,
    LOCAL_CLIENT_ID,
    LOCAL_CLIENT_SECRET,
    LOCAL_WEBHOOK_SECRET,
)
from offline.sandbox.server import Sandbox

SPECS = Path(os.environ["PROVIDER_SPECS_DIR"]) if os.environ.get("PROVIDER_SPECS_DIR") else None


@dataclass
class Receiver:
    """What the service's callback endpoints would do, minimally and strictly."""

    secret: str = LOCAL_WEBHOOK_SECRET
    zoom: list[dict[str, Any]] = field(default_factory=list)  # accepted Zoom events
    refused: list[dict[str, Any]] = field(default_factory=list)
    graph: list[dict[str, Any]] = field(default_factory=list)  # accepted Graph notifications
    graph_validations: list[str] = field(default_factory=list)
    graph_answer: Callable[[str], Response] | None = None  # override the validation answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Request) -> Response:
        if request.path.startswith("/zoom"):
            return self._zoom(request)
        return self._graph(request)

    def _zoom(self, request: Request) -> Response:
        stamp = request.header("x-zm-request-timestamp") or ""
        expected = (
            "v0=" + hmac.new(self.secret.encode(), f"v0:{stamp}:".encode() + request.body, hashlib.sha256).hexdigest()
        )
        event = json.loads(request.body)
        with self.lock:
            if not hmac.compare_digest(expected, request.header("x-zm-signature") or ""):
                self.refused.append(event)
                return Response.json(401, {"error": "bad signature"})
            if event["event"] == "endpoint.url_validation":
                plain = event["payload"]["plainToken"]
                encrypted = hmac.new(self.secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
                return Response.json(200, {"plainToken": plain, "encryptedToken": encrypted})
            self.zoom.append({"event": event, "timestamp": stamp})
        return Response.json(200, {})

    def _graph(self, request: Request) -> Response:
        query = parse_qs(request.query)
        if "validationToken" in query:
            token = query["validationToken"][0]
            with self.lock:
                self.graph_validations.append(token)
            if self.graph_answer is not None:
                return self.graph_answer(token)
            return Response(200, [("Content-Type", "text/plain")], token.encode())
        with self.lock:
            self.graph.append(json.loads(request.body))
        return Response(202)

    def zoom_events(self, name: str, meeting: int | str | None = None) -> list[dict[str, Any]]:
        """Accepted events named `name` (of one meeting: an earlier test's may still be arriving)."""
        with self.lock:
            found = [e["event"] for e in self.zoom if e["event"]["event"] == name]
        if meeting is not None:
            found = [e for e in found if str(e["payload"]["object"]["id"]) == str(meeting)]
        return found


@pytest.fixture(scope="package")
def receiver() -> Iterator[tuple[str, Receiver]]:
    app = Receiver()
    server = Server("video-receiver", 0, app)
    server.start()
    yield server.url, app
    server.stop()


@pytest.fixture(scope="package")
def video_server() -> Iterator[str]:
    ctx = SandboxContext(Callbacks({}), optional_specs_dir=SPECS)
    server = Server("video-sandbox", 0, Sandbox(ctx, [Zoom, Graph]))
    ctx.base_url = server.url
    server.start()
    yield server.url
    server.stop()


@dataclass
class ZoomSandbox:
    url: str
    http: httpx.Client
    hook: str
    receiver: Receiver

    @property
    def api(self) -> str:
        return f"{self.url}/zoom/v2"

    def token(self) -> httpx.Response:
        return self.http.post(
            f"{self.url}/zoom/oauth/token",
            params={"grant_type": "account_credentials", "account_id": LOCAL_ACCOUNT_ID},
            auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET),
        )

    def headers(self) -> dict[str, str]:
        answer = self.token()
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def control(self, method: str, path: str, **body: Any) -> httpx.Response:
        return self.http.request(method, f"{self.url}/_sandbox/zoom{path}", json=body)


@pytest.fixture
def zoom(video_server: str, receiver: tuple[str, Receiver]) -> Iterator[ZoomSandbox]:
    hook_url, app = receiver
    with httpx.Client(timeout=30) as client:
        assert client.post(f"{video_server}/_sandbox/reset").status_code == 200
        with app.lock:
            app.zoom.clear()
            app.refused.clear()
            app.secret = LOCAL_WEBHOOK_SECRET
        sandbox = ZoomSandbox(video_server, client, f"{hook_url}/zoom", app)
        assert sandbox.control("POST", "/webhook", url=sandbox.hook).status_code == 200
        yield sandbox


def wait_for(check: Callable[[], Any], attempts: int = 300) -> Any:
    """A bounded poll: `check()` until it is truthy (deliveries run on their own threads)."""
    for _ in range(attempts):
        value = check()
        if value:
            return value
        threading.Event().wait(0.05)
    raise AssertionError("condition not met after a bounded poll")


class LocalHttps:
    """MSAL takes only https authorities: this `http_client` sends its https://<sandbox host>
    requests to the sandbox over http (what a local adapter would give MSAL)."""

    def __init__(self, sandbox: str) -> None:
        self.sandbox = sandbox
        self.https = sandbox.replace("http://", "https://", 1)
        self.client = httpx.Client(timeout=30)

    def _local(self, url: str) -> str:
        return self.sandbox + url[len(self.https) :] if url.startswith(self.https) else url

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> httpx.Response:
        return self.client.get(self._local(url), params=params, headers=headers)

    def post(self, url: str, params: Any = None, data: Any = None, headers: Any = None, **_: Any) -> httpx.Response:
        if isinstance(data, str | bytes):
            return self.client.post(self._local(url), params=params, content=data, headers=headers)
        return self.client.post(self._local(url), params=params, data=data, headers=headers)

    def close(self) -> None:
        self.client.close()


@dataclass
class GraphSandbox:
    url: str
    http: httpx.Client
    hook: str
    receiver: Receiver

    @property
    def api(self) -> str:
        return f"{self.url}/graph/v1.0"

    @property
    def authority(self) -> str:
        return f"{self.url.replace('http://', 'https://', 1)}/graph/login/{LOCAL_TENANT_ID}"

    def msal_app(self, secret: str = GRAPH_SECRET, **options: Any) -> msal.ConfidentialClientApplication:
        options.setdefault("instance_discovery", False)
        return msal.ConfidentialClientApplication(
            GRAPH_CLIENT_ID,
            client_credential=secret,
            authority=self.authority,
            http_client=LocalHttps(self.url),
            **options,
        )

    def headers(self) -> dict[str, str]:
        result = self.msal_app().acquire_token_for_client(scopes=[GRAPH_SCOPE])
        assert "access_token" in result, result
        return {"Authorization": f"Bearer {result['access_token']}"}

    def control(self, method: str, path: str, **body: Any) -> httpx.Response:
        return self.http.request(method, f"{self.url}/_sandbox/graph{path}", json=body)


@pytest.fixture
def graph(video_server: str, receiver: tuple[str, Receiver]) -> Iterator[GraphSandbox]:
    hook_url, app = receiver
    with httpx.Client(timeout=30) as client:
        assert client.post(f"{video_server}/_sandbox/reset").status_code == 200
        with app.lock:
            app.graph.clear()
            app.graph_validations.clear()
            app.graph_answer = None
        yield GraphSandbox(video_server, client, f"{hook_url}/graph", app)
