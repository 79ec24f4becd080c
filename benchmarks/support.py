"""What the benchmarks share: moto in server mode on loopback, the template's tables and a
signing key in it, and the environment a function gets."""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT)]

FUNCTION_ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "TABLE_NAME": "app-table",
    "IDEMPOTENCY_TABLE_NAME": "idempotency-table",
    "SIGNING_KEY_SECRET_NAME": "school-integration/token-signing-key",
    "CURSOR_KEY_SECRET_NAME": "school-integration/cursor-key",
    "TOKEN_ISSUER": "https://integration.school.example",
    "TOKEN_AUDIENCE": "school-integration-api",
    "POWERTOOLS_SERVICE_NAME": "school-integration",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def sdk_events() -> Any:
    """The botocore session every adapter makes its clients from: an event handler registered on it
    sees each AWS call the service makes from a client created afterwards."""
    from integration_core.adapters import aws

    return aws.session()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server with the template's tables, a signing key and the seed directory."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(FUNCTION_ENV | {"AWS_ENDPOINT_URL": endpoint})
    try:
        import boto3

        from integration_core import tokens
        from scripts.seed_directory import seed
        from tests.support.aws import create_tables

        create_tables()
        boto3.client("secretsmanager").create_secret(
            Name=FUNCTION_ENV["SIGNING_KEY_SECRET_NAME"], SecretString=tokens.generate_signing_key_secret()
        )
        boto3.client("secretsmanager").create_secret(
            Name=FUNCTION_ENV["CURSOR_KEY_SECRET_NAME"], SecretString=secrets.token_urlsafe(48)
        )
        seed()
        yield endpoint
    finally:
        server.stop()


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(samples), 3),
        "p99": round(percentile(samples, 99), 3),
        "n": len(samples),
    }
