"""The HTTP edge shared by every API function: a Powertools resolver with validation on, domain
errors and validation failures turned into RFC 9457 problem+json in one place, and the caller."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from integration_core.config import API_PREFIX
from integration_core.errors import PROBLEM_JSON, BadRequest, DomainError, NotFound, Unprocessable
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
        reason = error.get("msg", "invalid")
        if error.get("type") == "extra_forbidden":
            reason = "unknown field"
        elif error.get("type") == "missing":
            reason = "required"
        fields.append({"field": _field_name(location) if location else "body", "reason": reason})
    summary = "; ".join(f"{f['field']}: {f['reason']}" for f in fields[:5])
    return Unprocessable(summary, errors=fields)


def make_resolver() -> APIGatewayHttpResolver:
    """Routes are declared without the /api/v1/integration prefix, which the OpenAPI document
    names as its server URL."""
    app = APIGatewayHttpResolver(enable_validation=True, strip_prefixes=[API_PREFIX])

    @app.exception_handler(DomainError)
    def _domain(error: DomainError) -> Response:
        if error.status >= 500:
            logger.warning("request failed", extra={"problem": error.slug, "detail": error.detail})
        return problem_response(error, app.current_event.path)

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
