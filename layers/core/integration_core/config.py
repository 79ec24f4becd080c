"""Deployment configuration read once from the environment (the template sets every variable).

Only names and non-secret settings live in the environment; secret values are read from Secrets
Manager through `integration_core.adapters.secrets`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

API_PREFIX = "/api/v1/integration"


@dataclass(frozen=True)
class Settings:
    stage: str
    table_name: str
    token_issuer: str
    token_audience: str
    signing_key_secret_name: str
    idempotency_table_name: str
    catalog_public: bool  # the course catalog needs no token (the CatalogPublic parameter)
    cursor_key_secret_name: str
    event_bus_name: str  # dispatched domain events go on this bus too, for internal consumers


@lru_cache(maxsize=1)
def settings() -> Settings:
    env = os.environ
    return Settings(
        stage=env.get("STAGE", "dev"),
        table_name=env.get("TABLE_NAME", ""),
        token_issuer=env.get("TOKEN_ISSUER", "https://integration.school.example"),
        token_audience=env.get("TOKEN_AUDIENCE", "school-integration-api"),
        signing_key_secret_name=env.get("SIGNING_KEY_SECRET_NAME", ""),
        idempotency_table_name=env.get("IDEMPOTENCY_TABLE_NAME", ""),
        catalog_public=env.get("CATALOG_PUBLIC", "").lower() == "true",
        cursor_key_secret_name=env.get("CURSOR_KEY_SECRET_NAME", ""),
        event_bus_name=env.get("EVENT_BUS_NAME", ""),
    )


HEALTH_QUEUE_PREFIX = "HEALTH_QUEUE_URL_"


def health_queue_urls() -> dict[str, str]:
    """The queues GET /health checks, by name: the template sets HEALTH_QUEUE_URL_<NAME> for each."""
    return {
        name.removeprefix(HEALTH_QUEUE_PREFIX).lower(): url
        for name, url in sorted(os.environ.items())
        if name.startswith(HEALTH_QUEUE_PREFIX)
    }


def in_lambda() -> bool:
    """In a Lambda execution environment (or a local stack worker: both set AWS_EXECUTION_ENV), not
    in a test or tool that merely imports a handler."""
    return os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_")
