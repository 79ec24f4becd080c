"""The template's HTTP API in this process, as a WSGI application: the local stack's own gateway
(offline.gateway.LocalApi: routes ranked as API Gateway ranks them, payload 2.0 events, the Lambda
authorizer first with its cache, answers mapped back) in front of the handlers imported here, so
that a test drives every route over "HTTP" against moto in-process, without ports or processes."""

from __future__ import annotations

import http
import time
import traceback
from types import SimpleNamespace
from typing import Any

from offline.gateway import LocalApi
from offline.http import Request
from offline.model import ApiSpec, AuthorizerSpec, RouteSpec, StackModel
from offline.workers import InvokeResult
from scripts.build_openapi import template_routes
from tests.support.lambdas import LambdaContext, load_function

API = "HttpApi"
AUTHORIZER = "AccessTokenAuthorizer"
AUTHORIZER_FUNCTION = "authorizer"


class InProcessFunctions:
    """What LocalApi asks of its workers, with each function's handler called in this process; a
    handler that raises is reported as Lambda reports a function error (the gateway answers 500)."""

    def __init__(self, names: set[str]) -> None:
        self.pools = {name: SimpleNamespace(spec=SimpleNamespace(timeout=20)) for name in names}

    def invoke(self, name: str, event: Any, timeout: float | None = None) -> InvokeResult:
        started = time.perf_counter()
        try:
            payload = load_function(name).handler(event, LambdaContext())
        except Exception as error:
            return InvokeResult(
                error_kind="function",
                error={
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "stackTrace": traceback.format_exc(),
                },
            )
        return InvokeResult(payload=payload, duration_ms=(time.perf_counter() - started) * 1000)


def local_api() -> LocalApi:
    model = StackModel()
    model.apis[API] = ApiSpec(
        logical_id=API,
        authorizers={
            AUTHORIZER: AuthorizerSpec(
                name=AUTHORIZER,
                function=AUTHORIZER_FUNCTION,
                payload_version="2.0",
                simple_responses=True,
                identity_headers=["authorization"],
                identity_query=[],
                ttl_seconds=60,
            )
        },
        default_authorizer=AUTHORIZER,
        cors=None,
    )
    for (method, path), route in template_routes().items():
        authorizer = None if route["public"] else AUTHORIZER
        model.routes.append(RouteSpec(method, path, route["function"], API, authorizer))
    functions = {r.function for r in model.routes} | {AUTHORIZER_FUNCTION}
    return LocalApi(model, InProcessFunctions(functions))  # type: ignore[arg-type]


class WsgiApi:
    """A WSGI application serving the LocalApi; `answers` counts the statuses it gave."""

    def __init__(self) -> None:
        self.api = local_api()
        self.answers: dict[int, int] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = [(k[5:].replace("_", "-").lower(), v) for k, v in environ.items() if k.startswith("HTTP_")]
        if environ.get("CONTENT_TYPE"):
            headers.append(("content-type", environ["CONTENT_TYPE"]))
        # The path as sent (percent-encoded), as API Gateway sees it; PATH_INFO is already decoded.
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
        path, _, query = raw.partition("?")
        request = Request(
            method=environ["REQUEST_METHOD"],
            path=path,
            query=query or environ.get("QUERY_STRING", ""),
            headers=headers,
            body=body,
            client_ip="127.0.0.1",
            host=environ.get("HTTP_HOST", "localhost"),
        )
        response = self.api(request)
        self.answers[response.status] = self.answers.get(response.status, 0) + 1
        try:
            reason = http.HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        start_response(f"{response.status} {reason}", [(k, str(v)) for k, v in response.headers])
        return [response.body]
