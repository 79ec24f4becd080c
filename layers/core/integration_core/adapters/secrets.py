"""Secrets Manager, read with a cache (5 minutes by default), so a warm function reads each secret
once per cache period and a rotation is picked up soon after.

A botocore client of our own (integration_core.adapters.aws), made on the first read: Powertools
Parameters, which did this before, imports boto3 (and with it s3transfer) for a single
GetSecretValue, ~10 % of a cold start in the functions that check a signature or a token. Errors
are raised as the client raises them (callers answer 503 or refuse); nothing is cached then."""

from __future__ import annotations

import json
import threading
import time
from functools import lru_cache
from typing import Any

from integration_core.adapters import aws

CACHE_SECONDS = 300

_cache: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _client() -> Any:
    return aws.client("secretsmanager")


def _read(name: str, max_age: int) -> str:
    now = time.monotonic()
    with _lock:
        cached = _cache.get(name)
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    value = str(_client().get_secret_value(SecretId=name)["SecretString"])
    with _lock:
        _cache[name] = (now, value)
    return value


def secret_text(name: str, max_age: int = CACHE_SECONDS) -> str:
    return _read(name, max_age)


def secret_json(name: str, max_age: int = CACHE_SECONDS) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(_read(name, max_age))
    return value


def clear_cache() -> None:
    """Forget every secret read and the client (tests: a new account per test)."""
    with _lock:
        _cache.clear()
    _client.cache_clear()
