"""Secrets Manager, read through Powertools Parameters with a cache (5 minutes by default), so a
warm function reads each secret once per cache period and a rotation is picked up soon after.

Parameters (and with it boto3) is imported on the first read, not when this module loads: a
function that reads no secret on a request (GET /health) does not pay for it at cold start."""

from __future__ import annotations

from typing import Any

CACHE_SECONDS = 300


def secret_text(name: str, max_age: int = CACHE_SECONDS) -> str:
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_secret(name, max_age=max_age))


def secret_json(name: str, max_age: int = CACHE_SECONDS) -> dict[str, Any]:
    from aws_lambda_powertools.utilities import parameters

    value: dict[str, Any] = parameters.get_secret(name, transform="json", max_age=max_age)
    return value
