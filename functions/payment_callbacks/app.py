"""Provider callbacks into a Lambda Function URL (no API authorizer: every call proves itself by the
provider's signature over the raw body). POST /stripe and POST /paypal; rules in
integration_core.services.payments.callbacks.

Answers: 200 when the event is applied or was applied before (a provider retry), 400 when the
signature is forged or stale (nothing changes), 409 when the event is about one of our
payments whose ledger record is not written yet (the provider delivers it again later).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core.domain.payments import Provider

# PROBLEM_JSON from errors, not http: that would load Powertools' API resolver, which this function does not use.
from integration_core.errors import PROBLEM_JSON, DomainError, NotFound
from integration_core.observability import lambda_handler, logger, metrics
from integration_core.services.payments import callbacks

MAX_BODY = 512 * 1024


def _answer(status: int, body: dict[str, Any], content_type: str = "application/json") -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": content_type}, "body": json.dumps(body)}


def _raw_body(event: dict[str, Any]) -> bytes:
    """The bytes the provider signed: Function URLs pass text bodies as is and others in base64."""
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")


@lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    http = event.get("requestContext", {}).get("http", {})
    path = (event.get("rawPath") or http.get("path") or "/").rstrip("/")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        if http.get("method") != "POST":
            raise NotFound("callbacks are POSTs to /stripe or /paypal")
        raw = _raw_body(event)
        if len(raw) > MAX_BODY:
            return _answer(413, {"title": "Payload too large"})
        try:
            provider = Provider(path.removeprefix("/"))
        except ValueError:
            raise NotFound(f"no callback at {path}") from None
        outcome = callbacks.receive(provider, raw, headers)
    except DomainError as error:
        if error.status >= 500:
            logger.warning("callback failed", extra={"problem": error.slug, "path": path})
        answer = _answer(error.status, error.problem(path), PROBLEM_JSON)
        if error.retry_after is not None:
            answer["headers"]["Retry-After"] = str(error.retry_after)
        return answer
    except Exception:
        logger.exception("callback crashed")
        return _answer(500, DomainError("something went wrong on our side").problem(path), PROBLEM_JSON)
    return _answer(200, outcome.body())
