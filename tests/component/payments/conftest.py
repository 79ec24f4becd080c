"""Component fixtures for payments: moto in-process (the `aws` fixture), the Stripe and PayPal
emulators served on a loopback port by the sandbox frame, and the callback function behind a local
"Function URL" so that provider webhooks reach it exactly as in the cloud (raw body, signed)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from offline.http import Request, Response, Server
from offline.sandbox.base import SandboxContext
from offline.sandbox.callbacks import Callbacks
from offline.sandbox.providers.paypal import PayPal
from offline.sandbox.providers.stripe import Stripe
from offline.sandbox.server import Sandbox
from tests.support.lambdas import LambdaContext, api_event, invoke, load_function

ROOT = Path(__file__).resolve().parents[3]
STRIPE_SECRET_NAME = "school-integration/stripe"
PAYPAL_SECRET_NAME = "school-integration/paypal"


def function_url_event(request: Request) -> dict[str, Any]:
    """A Lambda Function URL (payload 2.0) event for a request, as AWS builds it."""
    return {
        "version": "2.0",
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": {k.lower(): v for k, v in request.headers},
        "requestContext": {"http": {"method": request.method, "path": request.path, "sourceIp": "127.0.0.1"}},
        "body": request.body.decode(),
        "isBase64Encoded": False,
    }


@dataclass
class PaymentWorld:
    sandbox_url: str
    callbacks_url: str
    stripe: Stripe
    paypal: PayPal
    dispatched: list[str] = field(default_factory=list)

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.sandbox_url}/_sandbox{path}", json=body, timeout=30)

    def requests(self, provider: str) -> list[dict[str, Any]]:
        return self.control("GET", f"/requests?provider={provider}").json()

    def violations(self) -> list[dict[str, Any]]:
        return self.control("GET", "/violations").json()


@pytest.fixture
def world(aws, monkeypatch) -> Iterator[PaymentWorld]:
    from integration_core.payment_config import payment_settings

    payment_settings.cache_clear()
    monkeypatch.setenv("STRIPE_SECRET_NAME", STRIPE_SECRET_NAME)
    monkeypatch.setenv("PAYPAL_SECRET_NAME", PAYPAL_SECRET_NAME)
    monkeypatch.setenv("PROVIDER_TIMEOUT_SECONDS", "2")
    holder: dict[str, Any] = {}
    sandbox_server = Server("sandbox", 0, lambda request: holder["sandbox"](request))
    callbacks_module = load_function("payment_callbacks")

    def callback_app(request: Request) -> Response:
        result = callbacks_module.handler(function_url_event(request), LambdaContext())
        return Response(result["statusCode"], list(result.get("headers", {}).items()), result["body"].encode())

    callback_server = Server("callbacks", 0, callback_app)
    stripe_secret = {
        "apiKey": "sk_test_component",
        "webhookSecret": "whsec_" + secrets.token_hex(16),
        "baseUrl": sandbox_server.url + "/stripe",
    }
    paypal_secret = {
        "clientId": "component-client",
        "clientSecret": "component-secret",
        "webhookId": "COMPONENTWEBHOOK",
        "baseUrl": sandbox_server.url + "/paypal",
    }
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name=STRIPE_SECRET_NAME, SecretString=json.dumps(stripe_secret))
    sm.create_secret(Name=PAYPAL_SECRET_NAME, SecretString=json.dumps(paypal_secret))
    ctx = SandboxContext(
        Callbacks({"PaymentCallbacksFunction": callback_server.url + "/"}),
        {"StripeSecret": json.dumps(stripe_secret), "PayPalSecret": json.dumps(paypal_secret)},
        sandbox_server.url,
    )
    sandbox = Sandbox(ctx, [Stripe, PayPal])
    holder["sandbox"] = sandbox
    sandbox_server.start()
    callback_server.start()

    from integration_core.services import events

    world = PaymentWorld(
        sandbox_server.url, callback_server.url, sandbox.emulators["stripe"], sandbox.emulators["paypal"]
    )
    real_dispatch = events.dispatch
    monkeypatch.setattr(events, "dispatch", lambda ids: (world.dispatched.extend(ids), real_dispatch(ids)))
    # Events are held by default so that each test decides when a provider calls back.
    world.control("POST", "/stripe/delivery", {"auto": False})
    world.control("POST", "/paypal/delivery", {"auto": False})
    try:
        yield world
    finally:
        sandbox_server.stop()
        callback_server.stop()
        payment_settings.cache_clear()


@pytest.fixture
def directory(aws):
    """A teacher, courses priced in USD, JPY, KWD (Stripe only: PayPal takes no KWD, and Stripe takes
    three-decimal amounts ending in 0) and HUF (PayPal takes it without decimals), and two students."""
    admin = ("adm_office", "admin")

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = invoke("directory", api_event("POST", path, caller=admin, body=body))
        assert answer.status == 201, answer.body
        return answer.body

    teacher = post("/directory/teachers", {"email": "t@school.example", "name": "Tess"})
    courses = {
        code: post(
            "/directory/courses",
            {
                "title": f"English in {code}",
                "price": {"amount": amount, "currency": code},
                "timeZone": "Europe/London",
                "teacherId": teacher["id"],
            },
        )
        for code, amount in (("USD", "99.99"), ("JPY", "15000"), ("KWD", "12.340"), ("HUF", "4500"))
    }
    students = [post("/directory/students", {"email": f"s{i}@school.example", "name": f"S{i}"}) for i in (1, 2)]
    return {"teacher": teacher, "courses": courses, "students": students}


def pay(
    method: str,
    path: str,
    *,
    student: str | None = None,
    role: str = "student",
    body: Any = None,
    key: str | None = None,
    query: dict[str, str] | None = None,
):
    headers = {"Idempotency-Key": key} if key else {}
    caller = (student or "adm_office", role)
    return invoke(
        "payments", api_event(method, "/payments" + path, caller=caller, body=body, headers=headers, query=query)
    )


def new_key() -> str:
    return "key-" + secrets.token_hex(8)


def published(event_type: str, *parts: str) -> dict[str, Any] | None:
    """The data of the one event of this type a change publishes (its id derives from what caused
    it: the payment, the refund, the subscription), or None when it was never recorded."""
    from integration_core import keys
    from integration_core.config import settings
    from integration_core.ids import stable_id

    item = (
        boto3.resource("dynamodb")
        .Table(settings().table_name)
        .get_item(Key={"PK": keys.event_pk(stable_id("event", event_type, *parts)), "SK": keys.EVENT})
        .get("Item")
    )
    return json.loads(item["data_json"]) if item else None


def outbox_types(event_ids: list[str]) -> list[str]:
    """The types of the events with these ids, in order (what a receiver would be told)."""
    from integration_core import keys
    from integration_core.config import settings

    table = boto3.resource("dynamodb").Table(settings().table_name)
    return [table.get_item(Key={"PK": keys.event_pk(e), "SK": keys.EVENT})["Item"]["event_type"] for e in event_ids]


def enrollments_of(student_id: str) -> list[dict[str, Any]]:
    answer = invoke(
        "directory",
        api_event("GET", "/directory/enrollments", caller=("adm_office", "admin"), query={"studentId": student_id}),
    )
    assert answer.status == 200, answer.body
    return answer.body["items"]


def confirm_at_stripe(world: PaymentWorld, intent_id: str, method: str = "pm_card_visa") -> dict[str, Any]:
    """What Stripe.js does in the buyer's browser: Stripe confirms the intent; only its event tells us.
    Answers the payment_intent.succeeded event (held, not delivered yet)."""
    stripe = world.stripe
    with stripe.store.lock:
        stripe._confirm(stripe.store.collection("payment_intents")[intent_id], stripe._payment_method(method))
    events = world.control("GET", "/stripe/events").json()
    return next(
        e
        for e in reversed(events)
        if e["type"] == "payment_intent.succeeded" and e["data"]["object"]["id"] == intent_id
    )
