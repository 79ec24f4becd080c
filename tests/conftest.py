"""Fixtures for unit and component tests: moto in-process (boto3 talking to moto), the template's
tables, a signing key in Secrets Manager, and a guard that fails any test whose code issues a
DynamoDB Scan."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT)]

# The environment the template gives the functions, with local names (set before any import).
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "TABLE_NAME": "app-table",
        "IDEMPOTENCY_TABLE_NAME": "idempotency-table",
        "EVENT_BUS_NAME": "domain-events",
        "SIGNING_KEY_SECRET_NAME": "school-integration/token-signing-key",
        "CURSOR_KEY_SECRET_NAME": "school-integration/cursor-key",
        "TOKEN_ISSUER": "https://integration.school.example",
        "TOKEN_AUDIENCE": "school-integration-api",
        "POWERTOOLS_SERVICE_NAME": "school-integration",
        "POWERTOOLS_METRICS_NAMESPACE": "SchoolIntegration",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(variable, None)

import boto3  # noqa: E402
import botocore.client  # noqa: E402
import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from tests.support.aws import (  # noqa: E402
    CURSOR_SECRET_NAME,
    SIGNING_SECRET_NAME,
    create_event_bus,
    create_tables,
    serve_dynamodb_one_request_at_a_time,
)

serve_dynamodb_one_request_at_a_time()

_real_api_call = botocore.client.BaseClient._make_api_call


def _no_scan(self, operation_name, api_params):
    if operation_name == "Scan" and self.meta.service_model.service_name == "dynamodb":
        raise AssertionError("a DynamoDB Scan was issued: every read must be GetItem, Query or BatchGetItem")
    return _real_api_call(self, operation_name, api_params)


@pytest.fixture(autouse=True)
def forbid_scans(monkeypatch):
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", _no_scan)


@pytest.fixture(autouse=True)
def provider_health_off(monkeypatch):
    """Adapters note provider outcomes in the table (stores/provider_health.py); without moto (the
    `aws` fixture turns it back on) there is no table to note them in."""
    from integration_core.stores import provider_health

    provider_health.forget()
    monkeypatch.setattr(provider_health, "enabled", False)


def _reset_caches() -> None:
    from integration_core.adapters import dynamodb, kms, secrets
    from integration_core.config import settings
    from integration_core.services import webhook_secrets

    secrets.clear_cache()
    webhook_secrets.forget()
    dynamodb.client.cache_clear()
    kms._client.cache_clear()
    dynamodb.table.cache_clear()
    settings.cache_clear()


@pytest.fixture
def aws():
    """A fresh moto account with the template's tables, a signing key and a cursor key."""
    from integration_core import tokens
    from integration_core.stores import provider_health

    with mock_aws():
        _reset_caches()
        provider_health.enabled = True
        create_tables()
        create_event_bus()
        secret = tokens.generate_signing_key_secret()
        boto3.client("secretsmanager").create_secret(Name=SIGNING_SECRET_NAME, SecretString=secret)
        boto3.client("secretsmanager").create_secret(Name=CURSOR_SECRET_NAME, SecretString=secrets.token_urlsafe(48))
        # The stack's key, which webhook signing secrets are encrypted with (the template's UserTokenKey).
        os.environ["WEBHOOK_SECRET_KEY_ID"] = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
        yield {"signing_secret": secret}
        _reset_caches()


@pytest.fixture
def token_for(aws):
    """token_for(role, sub) -> a valid access token signed with the account's key."""
    from integration_core import tokens

    def make(role: str, sub: str, **overrides) -> str:
        return tokens.issue_token(
            sub,
            role,
            aws["signing_secret"],
            overrides.get("issuer", os.environ["TOKEN_ISSUER"]),
            overrides.get("audience", os.environ["TOKEN_AUDIENCE"]),
            overrides.get("ttl_seconds", 3600),
        )

    return make


def pytest_terminal_summary(terminalreporter) -> None:
    """Say which provider specifications the sandbox validated requests against (-q hides headers)."""
    from offline.sandbox.server import specification_report
    from offline.stack import optional_specs_dir_from_env

    terminalreporter.write_line("provider specifications of the sandbox:")
    for line in specification_report(optional_specs_dir_from_env()):
        terminalreporter.write_line(f"  {line}")
