"""Secrets Manager, read through Powertools Parameters with a cache (5 minutes by default), so a
warm function reads each secret once per cache period and a rotation is picked up soon after."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

CACHE_SECONDS = 300


def secret_text(name: str, max_age: int = CACHE_SECONDS) -> str:
    return parameters.get_secret(name, max_age=max_age)


def secret_json(name: str, max_age: int = CACHE_SECONDS) -> dict:
    return parameters.get_secret(name, transform="json", max_age=max_age)
