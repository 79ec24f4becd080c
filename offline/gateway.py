"""The local HTTP API and the Function URLs: every `HttpApi` route of the template served by
invoking its function with a real API Gateway v2 (payload 2.0) event, the Lambda authorizer run
first as the template configures it (identity sources, simple responses, result cache), and the
function's answer mapped back as API Gateway maps it.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from offline import console
from offline.http import Request, Response
from offline.model import ApiSpec, AuthorizerSpec, CorsSpec, RouteSpec, StackModel
from offline.template import ACCOUNT_ID, REGION
from offline.workers import InvokeResult, Workers

INTEGRATION_TIMEOUT = 30.0  # API Gateway's own limit on waiting for a Lambda integration
_TEXT_TYPES = re.compile(
    r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded|problem\+json|[\w.+-]*\+(json|xml)))", re.I
)


def _message(status: int, message: str) -> Response:
    return Response.json(status, {"message": message})


NOT_FOUND = 404, "Not Found"
# The methods an HTTP API routes (ANY means one of these); any other method (TRACE, PROPFIND, ...)
# has no route and gets API Gateway's 404.
ROUTABLE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


# ------------------------------------------------------------------------------------ events
def _request_id() -> str:
    return base64.b64encode(secrets.token_bytes(10)).decode().rstrip("=")


def http_event(request: Request, route_key: str, api_id: str, request_id: str) -> dict[str, Any]:
    """The payload 2.0 event of a request, without routing details (pathParameters, authorizer)."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(request.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = time.time()
    domain = request.host
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0].split(":")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.client_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if request.body:
        content_type = headers.get("content-type", "")
        try:
            text = request.body.decode()
            textual = bool(_TEXT_TYPES.match(content_type)) or not content_type
        except UnicodeDecodeError:
            textual = False
        if textual:
            event["body"] = text
        else:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    return event


def map_response(result: Any) -> Response | None:
    """A payload 2.0 function result as API Gateway answers it; None when it is malformed."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # Valid JSON without statusCode: API Gateway answers 200 with it as a JSON body.
        return Response(200, [("Content-Type", "application/json")], json.dumps(result).encode())
    status = result["statusCode"]
    if not isinstance(status, int) or not 100 <= status <= 599:
        return None
    headers: list[tuple[str, str]] = []
    for key, value in (result.get("headers") or {}).items():
        headers.append((key, str(value)))
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((key, str(v)) for v in values)
    headers.extend(("Set-Cookie", c) for c in result.get("cookies") or [])
    body = result.get("body")
    if body is None:
        data = b""
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body)
        except ValueError:
            return None
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
    return Response(status, headers, data)


# ------------------------------------------------------------------------------------ routes
@dataclass
class _CompiledRoute:
    spec: RouteSpec
    pattern: re.Pattern[str] | None
    params: list[str]
    rank: tuple[int, int, int]  # lower wins: greedy last, then fewer variables, then a method over ANY


def _compile(spec: RouteSpec) -> _CompiledRoute:
    if spec.path == "$default":
        return _CompiledRoute(spec, None, [], (2, 0, 1))
    params: list[str] = []
    regex = ""
    greedy = False
    for segment in spec.path.strip("/").split("/"):
        match = re.fullmatch(r"\{([^}]+?)(\+?)\}", segment)
        if match:
            params.append(match.group(1))
            greedy = greedy or bool(match.group(2))
            regex += "/(.+)" if match.group(2) else "/([^/]+)"
        else:
            regex += "/" + re.escape(segment)
    variables = len(params)
    return _CompiledRoute(
        spec, re.compile(regex or "/"), params, (1 if greedy else 0, variables, 1 if spec.method == "ANY" else 0)
    )


class _AuthorizerCache:
    """Authorizer decisions per identity, for ReauthorizeEvery seconds (as API Gateway caches)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, tuple[str, ...]]) -> tuple[bool, dict[str, Any] | None]:
        with self._lock:
            entry = self._entries.get(key)
            if entry and entry[0] > time.monotonic():
                return True, entry[1]
            self._entries.pop(key, None)
            return False, None

    def put(self, key: tuple[str, tuple[str, ...]], ttl: int, context: dict[str, Any] | None) -> None:
        if ttl > 0:
            with self._lock:
                self._entries[key] = (time.monotonic() + ttl, context)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class LocalApi:
    """Serves the template's HttpApi routes (all APIs of the template on one port)."""

    def __init__(self, model: StackModel, workers: Workers) -> None:
        self.model = model
        self.workers = workers
        self.routes = sorted((_compile(r) for r in model.routes), key=lambda r: r.rank)
        self.cache = _AuthorizerCache()
        self.controls: dict[str, Any] = {}  # /_local/<name> -> callable(Request) -> Response

    def match(self, method: str, path: str) -> tuple[RouteSpec, dict[str, str]] | None:
        if method not in ROUTABLE_METHODS and method != "ANY":
            return None
        for route in self.routes:
            if route.spec.method not in (method, "ANY"):
                continue
            if route.pattern is None:
                return route.spec, {}
            found = route.pattern.fullmatch(path.rstrip("/") or "/")
            if found:
                return route.spec, {n: unquote(v) for n, v in zip(route.params, found.groups(), strict=True)}
        return None

    def __call__(self, request: Request) -> Response:
        if request.path.startswith("/_local/"):
            control = self.controls.get(request.path.removeprefix("/_local/"))
            return control(request) if control else _message(*NOT_FOUND)
        started = time.perf_counter()
        api = next(iter(self.model.apis.values()), None)
        origin = request.header("origin")
        if request.method == "OPTIONS" and origin and request.header("access-control-request-method"):
            cors = self._cors_for(request.path)
            if cors is not None:
                return Response(204, preflight_headers(cors, origin, request))
        found = self.match(request.method, request.path)
        if found is None:
            response = _message(*NOT_FOUND)
            console.invocation(
                "api",
                "-",
                404,
                (time.perf_counter() - started) * 1000,
                False,
                f"{request.method} {request.path}",
                "no route",
            )
            return response
        route, path_params = found
        api = self.model.apis.get(route.api, api)
        request_id = _request_id()
        event = http_event(request, route.route_key, "local", request_id)
        if path_params:
            event["pathParameters"] = path_params
        response = self._authorize_and_invoke(route, api, event, request, started)
        response.headers.append(("apigw-requestid", request_id))
        if api is not None and api.cors is not None and origin:
            response.headers = [h for h in response.headers if not h[0].lower().startswith("access-control-")]
            response.headers.extend(cors_headers(api.cors, origin))
        return response

    def _cors_for(self, path: str) -> CorsSpec | None:
        found = self.match("ANY", path) or next(
            (self.match(m, path) for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if self.match(m, path)), None
        )
        api = self.model.apis.get(found[0].api) if found else next(iter(self.model.apis.values()), None)
        return api.cors if api else None

    def _authorize_and_invoke(
        self, route: RouteSpec, api: ApiSpec | None, event: dict[str, Any], request: Request, started: float
    ) -> Response:
        line = f"{request.method} {request.path}"
        if route.authorizer and api is not None:
            outcome = self._authorize(api.authorizers[route.authorizer], route, event)
            if isinstance(outcome, Response):
                console.invocation(
                    "api",
                    route.function,
                    outcome.status,
                    (time.perf_counter() - started) * 1000,
                    False,
                    line,
                    "refused by authorizer",
                )
                return outcome
            event["requestContext"]["authorizer"] = {"lambda": outcome}
        limit = min(float(self.workers.pools[route.function].spec.timeout), INTEGRATION_TIMEOUT)
        result = self.workers.invoke(route.function, event, limit)
        response = integration_response(result, limit)
        console.invocation(
            "api",
            route.function,
            response.status,
            (time.perf_counter() - started) * 1000,
            result.cold,
            line,
            _error_detail(result),
        )
        return response

    def _authorize(self, authorizer: AuthorizerSpec, route: RouteSpec, event: dict[str, Any]) -> Any:
        headers = event["headers"]
        query = event.get("queryStringParameters") or {}
        identity = [headers.get(h) for h in authorizer.identity_headers] + [
            query.get(q) for q in authorizer.identity_query
        ]
        if any(v is None or v == "" for v in identity) or not identity:
            return _message(401, "Unauthorized")
        key = (authorizer.name, tuple(str(v) for v in identity))
        hit, cached = self.cache.get(key)
        if hit:
            return cached if cached is not None else _message(403, "Forbidden")
        method = event["requestContext"]["http"]["method"]
        auth_event = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:local/$default/{method}{event['rawPath']}",
            "identitySource": identity,
            **{k: v for k, v in event.items() if k not in ("version", "body", "isBase64Encoded")},
        }
        started = time.perf_counter()
        result = self.workers.invoke(authorizer.function, auth_event)
        outcome = self._decision(authorizer, result)
        status = outcome.status if isinstance(outcome, Response) else 200
        console.invocation(
            "authorizer",
            authorizer.function,
            status,
            (time.perf_counter() - started) * 1000,
            result.cold,
            route.route_key,
            _error_detail(result),
        )
        if not isinstance(outcome, Response):
            self.cache.put(key, authorizer.ttl_seconds, outcome)
        elif outcome.status == 403:
            self.cache.put(key, authorizer.ttl_seconds, None)
        return outcome

    @staticmethod
    def _decision(authorizer: AuthorizerSpec, result: InvokeResult) -> Any:
        if not result.ok:
            if result.error.get("errorMessage") == "Unauthorized":
                return _message(401, "Unauthorized")
            return _message(500, "Internal Server Error")
        payload = result.payload
        if not isinstance(payload, dict):
            return _message(500, "Internal Server Error")
        if authorizer.simple_responses:
            allowed = payload.get("isAuthorized")
            if not isinstance(allowed, bool):
                return _message(500, "Internal Server Error")
        else:
            statements = (payload.get("policyDocument") or {}).get("Statement") or []
            allowed = any(s.get("Effect") == "Allow" for s in statements) and not any(
                s.get("Effect") == "Deny" for s in statements
            )
        if not allowed:
            return _message(403, "Forbidden")
        return payload.get("context") or {}


def integration_response(result: InvokeResult, limit: float) -> Response:
    """API Gateway's answer for a Lambda proxy integration outcome."""
    if result.error_kind == "timeout" and limit >= INTEGRATION_TIMEOUT:
        return _message(503, "Service Unavailable")
    if not result.ok:
        return _message(500, "Internal Server Error")
    response = map_response(result.payload)
    return response if response is not None else _message(500, "Internal Server Error")


def _error_detail(result: InvokeResult) -> str:
    if result.ok:
        return ""
    return f"{result.error.get('errorType')}: {result.error.get('errorMessage', '')}"[:160]


def _origin_allowed(cors: CorsSpec, origin: str) -> str | None:
    if "*" in cors.allow_origins:
        return "*" if not cors.allow_credentials else origin
    return origin if origin in cors.allow_origins else None


def cors_headers(cors: CorsSpec, origin: str) -> list[tuple[str, str]]:
    allowed = _origin_allowed(cors, origin)
    if allowed is None:
        return []
    headers = [("Access-Control-Allow-Origin", allowed)]
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if cors.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    if allowed != "*":
        headers.append(("Vary", "Origin"))
    return headers


def preflight_headers(cors: CorsSpec, origin: str, request: Request) -> list[tuple[str, str]]:
    headers = cors_headers(cors, origin)
    if not headers:
        return []
    method = (request.header("access-control-request-method") or "").upper()
    if "*" not in cors.allow_methods and method not in cors.allow_methods:
        return []
    asked = [
        h.strip().lower() for h in (request.header("access-control-request-headers") or "").split(",") if h.strip()
    ]
    if "*" not in cors.allow_headers and any(h not in cors.allow_headers for h in asked):
        return []
    headers.append(("Access-Control-Allow-Methods", ",".join(cors.allow_methods)))
    if asked:
        headers.append(("Access-Control-Allow-Headers", ",".join(asked)))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    return headers


class FunctionUrl:
    """One Lambda Function URL (payload 2.0), served at the root of its own port."""

    def __init__(self, function: str, workers: Workers, cors: CorsSpec | None, url_id: str) -> None:
        self.function = function
        self.workers = workers
        self.cors = cors
        self.url_id = url_id

    def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        origin = request.header("origin")
        if self.cors and request.method == "OPTIONS" and origin and request.header("access-control-request-method"):
            return Response(200, preflight_headers(self.cors, origin, request))
        request_id = str(__import__("uuid").uuid4())
        event = http_event(request, "$default", self.url_id, request_id)
        event["requestContext"]["accountId"] = "anonymous"
        limit = float(self.workers.pools[self.function].spec.timeout)
        result = self.workers.invoke(self.function, event, limit)
        response = map_response(result.payload) if result.ok else None
        if response is None:
            # Function URLs answer a failed invocation with 502 and a plain body.
            response = Response(502, [("Content-Type", "text/plain")], b"Internal Server Error")
        response.headers.append(("x-amzn-RequestId", request_id))
        if self.cors and origin:
            response.headers.extend(cors_headers(self.cors, origin))
        console.invocation(
            "url",
            self.function,
            response.status,
            (time.perf_counter() - started) * 1000,
            result.cold,
            f"{request.method} {request.path}",
            _error_detail(result),
        )
        return response
