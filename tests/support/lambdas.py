"""Load a function's handler the way Lambda does (its own module, the core layer on the path) and
call it with API Gateway v2 events built from the samples in events/."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
EVENTS = ROOT / "events"
sys.path.insert(0, str(ROOT / "layers" / "core"))


_loading = threading.RLock()


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py as a module of its own (every function's module is called app).
    One thread loads it while the others wait: a module is in sys.modules before its code has run,
    and a concurrent test's thread took it half made ("has no attribute 'handler'")."""
    module_name = f"function_{name}"
    with _loading:
        if module_name in sys.modules:
            return sys.modules[module_name]
        spec = importlib.util.spec_from_file_location(module_name, FUNCTIONS / name / "app.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        return module


def sample_event(path: str) -> dict[str, Any]:
    return json.loads((EVENTS / path).read_text())


class LambdaContext:
    function_name = "test-function"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:test-function"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "test"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def api_event(
    method: str,
    path: str,
    *,
    caller: tuple[str, str] | None = None,
    body: Any = None,
    raw_body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event as API Gateway sends it after the authorizer let it in;
    `caller` is the (sub, role) the authorizer passed on, None for a public route."""
    event = copy.deepcopy(sample_event("directory/get_student.json"))
    full_path = "/api/v1/integration" + path
    event["rawPath"] = full_path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = full_path
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["rawQueryString"] = urlencode(query or {})
    event["queryStringParameters"] = dict(query or {})
    event["pathParameters"] = {}
    event["headers"] = {"host": "abc123.execute-api.eu-west-1.amazonaws.com", **(headers or {})}
    if caller:
        sub, role = caller
        event["requestContext"]["authorizer"] = {"lambda": {"sub": sub, "role": role, "jti": "test"}}
    else:
        event["requestContext"].pop("authorizer", None)
    if body is not None or raw_body is not None:
        event["body"] = raw_body if raw_body is not None else json.dumps(body)
        event["headers"]["content-type"] = "application/json"
    else:
        event.pop("body", None)
    return event


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", self.headers.get("content-type", ""))


def invoke(function: str, event: dict[str, Any]) -> Answer:
    result = load_function(function).handler(event, LambdaContext())
    raw = result.get("body") or ""
    try:
        body = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        body = raw
    return Answer(status=result["statusCode"], headers=result.get("headers") or {}, body=body)


def through_gateway(function: str, event: dict[str, Any], authorization: str | None) -> Answer:
    """What API Gateway does for a protected route: no header -> 401 without calling the
    authorizer; the authorizer raising "Unauthorized" -> 401; else the function runs with the
    authorizer's context. (The local stack does the same over HTTP; see tests/e2e.)"""
    unauthorized = Answer(status=401, headers={"content-type": "application/json"}, body={"message": "Unauthorized"})
    if not authorization:
        return unauthorized
    request = sample_event("authorizer/request.json")
    request["headers"] = {"authorization": authorization}
    request["identitySource"] = [authorization]
    try:
        verdict = load_function("authorizer").handler(request, LambdaContext())
    except Exception as error:
        if str(error) == "Unauthorized":
            return unauthorized
        raise
    if not verdict["isAuthorized"]:
        return Answer(status=403, headers={}, body={"message": "Forbidden"})
    event["requestContext"]["authorizer"] = {"lambda": verdict["context"]}
    event["headers"]["authorization"] = authorization
    return invoke(function, event)
