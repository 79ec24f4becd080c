"""The HTTP edge shared by every API function: a Powertools resolver with validation on, domain
errors and validation failures turned into RFC 9457 problem+json in one place, and the caller.

Before any route runs, the body of a POST, PUT or PATCH is checked here (`refuse_body`): it must be
`application/json` (UTF-8, the only charset JSON has) or the answer is 415; it must be UTF-8 with no
unpaired surrogate, at most MAX_BODY_BYTES long and nested at most MAX_JSON_DEPTH deep, or the answer
is 400. So no parser, model or database call ever sees such a body."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from integration_core import cursors
from integration_core.config import API_PREFIX
from integration_core.errors import (
    PROBLEM_JSON,
    BadRequest,
    DomainError,
    NotFound,
    Unprocessable,
    UnsupportedMediaType,
    field_error,
)
from integration_core.observability import logger
from integration_core.principal import Principal, principal_from_authorizer


def problem_response(error: DomainError, instance: str | None = None) -> Response:
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return Response(
        status_code=error.status,
        content_type=PROBLEM_JSON,
        body=json.dumps(error.problem(instance)),
        headers=headers,
    )


def _field_name(location: tuple[Any, ...]) -> str:
    # ("body", "price", "amount") -> "price.amount"; ("query", "limit") -> "limit".
    parts = [str(p) for p in location[1:] if not isinstance(p, int)] or [str(location[0])]
    return ".".join(parts)


def validation_problem(exc: RequestValidationError) -> DomainError:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return BadRequest("the body is not valid JSON", errors=[{"field": "body", "reason": "not valid JSON"}])
    fields = []
    for error in errors:
        location = tuple(error.get("loc", ()))
        reason = error.get("msg", "invalid").removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            reason = "unknown field"
        elif error.get("type") == "missing":
            reason = "required"
        fields.append({"field": _field_name(location) if location else "body", "reason": reason})
    summary = "; ".join(f"{f['field']}: {f['reason']}" for f in fields[:5])
    return Unprocessable(summary, errors=fields)


MAX_BODY_BYTES = 512 * 1024  # requests are small (366 class sessions: ~25 KiB); a signature check carries a payload
MAX_JSON_DEPTH = 32
_BODY_METHODS = {"POST", "PUT", "PATCH"}
# A JSON string literal, matched without backtracking; what remains outside them holds the brackets.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in `text`, brackets inside strings not counted; computed
    without parsing, so that a body nested 100,000 deep costs no recursion."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(1 if b in "[{" else -1 for b in brackets), default=0)


def _content_type_problem(content_type: str | None) -> DomainError | None:
    media, *params = (content_type or "").split(";")
    if media.strip().lower() != "application/json":
        sent = f"not {media.strip()!r}" if media.strip() else "and none was given"
        reason = f"must be application/json, {sent}"
        return UnsupportedMediaType(f"Content-Type {reason}", errors=[field_error("Content-Type", reason)])
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            reason = "application/json is UTF-8; no other charset is taken"
            return UnsupportedMediaType(f"Content-Type: {reason}", errors=[field_error("Content-Type", reason)])
    return None


def _body_problem(reason: str) -> BadRequest:
    return BadRequest(f"the body {reason}", errors=[field_error("body", reason)])


def refuse_body(event: Mapping[str, Any]) -> DomainError | None:
    """Why the edge refuses this request's body before routing, or None to go on."""
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
    body = event.get("body")
    if method.upper() not in _BODY_METHODS or not body:
        return None
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    problem = _content_type_problem(headers.get("content-type"))
    if problem is not None:
        return problem
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
    except (binascii.Error, ValueError):
        return _body_problem("is not valid base64 although marked so")
    except UnicodeEncodeError:  # an unpaired surrogate in the event's own text
        return _body_problem("is not UTF-8: it holds an unpaired surrogate")
    if len(raw) > MAX_BODY_BYTES:
        return _body_problem(f"is {len(raw) // 1024} KiB; at most {MAX_BODY_BYTES // 1024} KiB is taken")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _body_problem(f"is not UTF-8 (byte {error.start} is invalid)")
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        return _body_problem(f"nests {depth} levels deep; at most {MAX_JSON_DEPTH} are taken")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return None  # malformed JSON: the route's validation answers 400 with where it broke
    try:
        # A \ud800 escape parses into a string no UTF-8 can hold (nor DynamoDB store).
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return _body_problem("is not UTF-8: a \\u escape spells an unpaired surrogate")
    return None


class EdgeResolver(APIGatewayHttpResolver):
    """The Powertools resolver, with the body checked at the edge before routing and the request's
    scope set for the page cursors it issues and accepts (integration_core.cursors)."""

    # The event is the dict Lambda passes (its Content-Type header is rewritten in place), not
    # Powertools' read-only Mapping.
    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:  # type: ignore[override]
        problem = refuse_body(event)
        if problem is None:
            headers = event.get("headers") or {}
            for name in [k for k in headers if str(k).lower() == "content-type"]:
                # Media types are case-insensitive (Application/JSON); Powertools compares exactly.
                headers[name] = "application/json"
            with cursors.request_scope(event):
                return super().resolve(event, context)
        logger.info("body refused at the edge", extra={"problem": problem.slug, "detail": problem.detail})
        return {
            "statusCode": problem.status,
            "headers": {"Content-Type": PROBLEM_JSON},
            "body": json.dumps(problem.problem(event.get("rawPath"))),
            "isBase64Encoded": False,
        }


def make_resolver() -> APIGatewayHttpResolver:
    """Routes are declared without the /api/v1/integration prefix, which the OpenAPI document
    names as its server URL."""
    app = EdgeResolver(enable_validation=True, strip_prefixes=[API_PREFIX])

    @app.exception_handler(DomainError)
    def _domain(error: DomainError) -> Response:
        if error.status >= 500:
            logger.warning("request failed", extra={"problem": error.slug, "detail": error.detail})
        return problem_response(error, app.current_event.path)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(_: RequestUnsupportedContentType) -> Response:
        # The edge already refused other media types; kept so that none can ever become a 500.
        return problem_response(_content_type_problem("") or DomainError("no content type"), app.current_event.path)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        return problem_response(validation_problem(exc), app.current_event.path)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response:
        return problem_response(NotFound("no such route"), app.current_event.path)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return problem_response(DomainError("something went wrong on our side"), app.current_event.path)

    return app


def caller(app: APIGatewayHttpResolver) -> Principal:
    authorizer = app.current_event.request_context.authorizer
    context = authorizer.get_lambda if authorizer else None
    return principal_from_authorizer(context)
