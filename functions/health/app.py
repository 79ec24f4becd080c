"""GET /health (public): checks every AWS dependency concurrently with short timeouts.
200 with each check's result when all pass, 503 naming what failed (with Retry-After) otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from functools import partial

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core.adapters.probes import fast_client
from integration_core.config import health_queue_urls, settings
from integration_core.http import make_resolver
from integration_core.models import ApiModel
from integration_core.observability import lambda_handler, logger

CHECK_TIMEOUT_SECONDS = 2.0
RETRY_AFTER_SECONDS = 5  # an unhealthy answer says when to ask again, as every 503 of the API does
_pool = ThreadPoolExecutor(max_workers=8)

app = make_resolver()


class Check(ApiModel):
    name: str
    ok: bool
    latency_ms: float
    error: str | None = None


class Health(ApiModel):
    status: str
    checks: list[Check]


def _checks() -> dict[str, Callable[[], object]]:
    """Every dependency the deployment uses: one entry per resource named in the environment."""
    config = settings()
    dynamodb, secrets = fast_client("dynamodb"), fast_client("secretsmanager")
    checks: dict[str, Callable[[], object]] = {
        "dynamodb:table": lambda: dynamodb.describe_table(TableName=config.table_name),
        "secretsmanager:signing-key": lambda: secrets.describe_secret(SecretId=config.signing_key_secret_name),
    }
    if config.cursor_key_secret_name:
        checks["secretsmanager:cursor-key"] = lambda: secrets.describe_secret(SecretId=config.cursor_key_secret_name)
    if config.idempotency_table_name:
        checks["dynamodb:idempotency-table"] = lambda: dynamodb.describe_table(TableName=config.idempotency_table_name)
    queues = health_queue_urls()
    if queues:
        sqs = fast_client("sqs")
        for name, url in queues.items():
            checks["sqs:" + name] = partial(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["QueueArn"])
    return checks


def _timed(name: str, probe: Callable[[], object]) -> Check:
    started = time.perf_counter()
    try:
        probe()
        return Check(name=name, ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 1))
    except Exception as error:
        return Check(
            name=name,
            ok=False,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            error=type(error).__name__,
        )


@app.get("/health", summary="Health of the service and its AWS dependencies", tags=["health"])
def health() -> Response[Health]:
    futures = {name: _pool.submit(_timed, name, probe) for name, probe in _checks().items()}
    wait(futures.values(), timeout=CHECK_TIMEOUT_SECONDS)
    results = [
        f.result() if f.done() else Check(name=n, ok=False, latency_ms=CHECK_TIMEOUT_SECONDS * 1000, error="Timeout")
        for n, f in futures.items()
    ]
    healthy = all(c.ok for c in results)
    headers = {"Cache-Control": "no-store"}
    if not healthy:
        logger.warning("unhealthy", extra={"failed": [c.name for c in results if not c.ok]})
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return Response(
        status_code=200 if healthy else 503,
        content_type="application/json",
        body=Health(status="ok" if healthy else "unavailable", checks=results),
        headers=headers,
    )


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
