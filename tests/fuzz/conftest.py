"""One environment for the whole fuzzing run (moto with the template's tables and secrets, the
webhook queue, the Stripe and PayPal emulators and the callback function on loopback, no DNS), kept
for every operation: building it takes seconds, a request milliseconds. And the tally: how many
requests the fuzzing made and what they were answered, printed at the end (an empty tally would
mean it tested nothing)."""

from __future__ import annotations

import json
import secrets
import socket
from collections import Counter
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from offline.http import Request, Response, Server
from offline.sandbox.base import SandboxContext
from offline.sandbox.callbacks import Callbacks
from offline.sandbox.providers.google import Google
from offline.sandbox.providers.google_oauth import local_client_config
from offline.sandbox.providers.paypal import PayPal
from offline.sandbox.providers.stripe import Stripe
from offline.sandbox.server import Sandbox
from tests.component.payments.conftest import function_url_event
from tests.support.aws import CURSOR_SECRET_NAME, SIGNING_SECRET_NAME, create_tables
from tests.support.inprocess_api import WsgiApi
from tests.support.lambdas import LambdaContext, load_function

ANSWERS: Counter[int] = Counter()
# One caller per role, each an id of its role's kind (the authorizer refuses any other).
CALLERS = {"admin": "adm_fuzz0001", "teacher": "tch_fuzz0001", "student": "stu_fuzz0001", "service": "svc_fuzz0001"}


def _reset_caches() -> None:
    from integration_core.adapters import dynamodb, kms, secrets, sqs
    from integration_core.config import settings
    from integration_core.webhook_config import webhook_settings

    secrets.clear_cache()
    dynamodb.client.cache_clear()
    dynamodb.table.cache_clear()
    sqs.client.cache_clear()
    kms._client.cache_clear()
    settings.cache_clear()
    webhook_settings.cache_clear()


def _no_dns(real):
    def getaddrinfo(host, *args, **kwargs):
        if host in ("127.0.0.1", "localhost", "::1"):
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "no DNS while fuzzing")

    return getaddrinfo


def _providers(patch: pytest.MonkeyPatch) -> list[Server]:
    """The provider emulators and the callback function behind a loopback "Function URL"."""
    holder: dict[str, Sandbox] = {}
    sandbox_server = Server("sandbox", 0, lambda request: holder["sandbox"](request))
    callbacks = load_function("payment_callbacks")

    def callback_app(request: Request) -> Response:
        result = callbacks.handler(function_url_event(request), LambdaContext())
        return Response(result["statusCode"], list(result.get("headers", {}).items()), result["body"].encode())

    callback_server = Server("callbacks", 0, callback_app)
    stripe = {"apiKey": "sk_test_fuzz", "webhookSecret": "whsec_" + secrets.token_hex(16)}
    stripe["baseUrl"] = sandbox_server.url + "/stripe"
    paypal = {"clientId": "fuzz", "clientSecret": "fuzz", "webhookId": "FUZZWEBHOOK"}
    paypal["baseUrl"] = sandbox_server.url + "/paypal"
    google = {**local_client_config(sandbox_server.url), "redirectUri": "https://app.school.example/cb"}
    manager = boto3.client("secretsmanager")
    secrets_made = (
        ("school-integration/stripe", stripe),
        ("school-integration/paypal", paypal),
        ("school-integration/google-oauth", google),
    )
    for name, value in secrets_made:
        manager.create_secret(Name=name, SecretString=json.dumps(value))
    patch.setenv("STRIPE_SECRET_NAME", "school-integration/stripe")
    patch.setenv("PAYPAL_SECRET_NAME", "school-integration/paypal")
    patch.setenv("GOOGLE_OAUTH_SECRET_NAME", "school-integration/google-oauth")
    patch.setenv("USER_TOKEN_KEY_ID", boto3.client("kms").create_key()["KeyMetadata"]["KeyId"])
    patch.setenv("WEBHOOK_SECRET_KEY_ID", boto3.client("kms").create_key()["KeyMetadata"]["KeyId"])
    patch.setenv("PROVIDER_TIMEOUT_SECONDS", "2")
    values = {
        "StripeSecret": json.dumps(stripe),
        "PayPalSecret": json.dumps(paypal),
        "GoogleOAuthSecret": json.dumps(google),
    }
    context = SandboxContext(
        Callbacks({"PaymentCallbacksFunction": callback_server.url + "/"}), values, sandbox_server.url
    )
    holder["sandbox"] = Sandbox(context, [Stripe, PayPal, Google])
    sandbox_server.start()
    callback_server.start()
    return [sandbox_server, callback_server]


@pytest.fixture(scope="module")
def fuzz_api() -> Iterator[WsgiApi]:
    from integration_core import tokens

    with pytest.MonkeyPatch.context() as patch, mock_aws():
        _reset_caches()
        create_tables()
        manager = boto3.client("secretsmanager")
        signing = tokens.generate_signing_key_secret()
        manager.create_secret(Name=SIGNING_SECRET_NAME, SecretString=signing)
        manager.create_secret(Name=CURSOR_SECRET_NAME, SecretString=secrets.token_urlsafe(48))
        patch.setenv("WEBHOOK_QUEUE_URL", boto3.client("sqs").create_queue(QueueName="webhooks-fuzz")["QueueUrl"])
        patch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "false")
        patch.setattr(socket, "getaddrinfo", _no_dns(socket.getaddrinfo))
        servers = _providers(patch)
        app = WsgiApi()
        issuer, audience = "https://integration.school.example", "school-integration-api"
        app.tokens = {role: tokens.issue_token(sub, role, signing, issuer, audience) for role, sub in CALLERS.items()}
        try:
            yield app
        finally:
            ANSWERS.update(app.answers)
            for server in servers:
                server.stop()
            _reset_caches()


def pytest_terminal_summary(terminalreporter) -> None:
    if ANSWERS:
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(ANSWERS.items()))
        terminalreporter.write_line(f"schema fuzzing: {sum(ANSWERS.values())} requests answered ({statuses})")
