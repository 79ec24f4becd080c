"""Provider callbacks into a Lambda Function URL (no API authorizer: every call proves itself by the
provider's signature over the raw body, or for Graph by the clientState in every notification).
POST /zoom and POST /teams (Graph change notifications); rules in integration_core.services.video.callbacks.

Answers: 200 when the event is applied or was applied before (a provider retry; `applied` says
which), Zoom's endpoint.url_validation answered with plainToken and encryptedToken, 400 when the
signature is forged or stale (nothing changes). Graph's `?validationToken=...` is answered 200
text/plain with the token (at once, before anything else); a notification whose clientState is
not ours is a 400 and changes nothing.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.utilities.typing import LambdaContext

# PROBLEM_JSON from errors, not http: that would load Powertools' API resolver, which this function does not use.
from integration_core.errors import PROBLEM_JSON, DomainError, NotFound
from integration_core.observability import lambda_handler, logger, metrics
from integration_core.services.video import callbacks

PROVIDERS = ("zoom", "teams")

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
            raise NotFound("callbacks are POSTs to /zoom or /teams")
        raw = _raw_body(event)
        if len(raw) > MAX_BODY:
            return _answer(413, {"title": "Payload too large"})
        provider = path.removeprefix("/")
        if provider not in PROVIDERS:
            raise NotFound(f"no callback at {path}")
        query = {k: str(v) for k, v in (event.get("queryStringParameters") or {}).items()}
        outcome = callbacks.receive(provider, raw, headers, query)
        if outcome.text is not None:
            return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": outcome.text}
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
