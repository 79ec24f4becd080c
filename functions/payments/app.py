"""The payments API: Stripe and PayPal payments, confirmation, refunds, subscriptions on directory
plans, and a student's payment history. Thin: routes, models and the idempotency of every mutating
call here; rules in integration_core.services.payments.

Every POST but /plans needs an Idempotency-Key (header, declared on each route so that the OpenAPI
document shows it, or the original API's `idempotencyKey` field). The first answer is stored
(Powertools idempotency, keyed by caller, operation and key) and returned to every repeat; a repeat
that arrives while the first is still running waits for its answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from integration_core import idempotency_keys
from integration_core.adapters import dynamodb
from integration_core.config import settings
from integration_core.domain.payment_models import (
    ConfirmPayment,
    Payment,
    PayPalProcess,
    PayPalProcessed,
    PayPalTransaction,
    Plan,
    PlanCreate,
    Refund,
    RefundPayment,
    StripeInitialize,
    StripeInitialized,
    StripePaymentStatus,
    Subscription,
    SubscriptionCancel,
    SubscriptionCreate,
)
from integration_core.domain.payments import PLAN_ID, STUDENT_ID, SUBSCRIPTION_ID, TRANSACTION_ID, Provider
from integration_core.errors import Conflict, invalid
from integration_core.http import caller, make_resolver
from integration_core.idempotency_keys import IDEMPOTENCY_KEY
from integration_core.models import PageOf
from integration_core.observability import lambda_handler, metrics
from integration_core.principal import Principal
from integration_core.services.payments import checkout, plans, refunds, subscriptions
from integration_core.services.payments.common import Attempt

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

app = make_resolver()
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
WAIT_FOR_FIRST_SECONDS = 8.0


@lru_cache(maxsize=1)
def _config() -> IdempotencyConfig:
    # Powertools' idempotency package imports boto3 (its DynamoDB store): loaded on the routes that
    # change a payment, not for reading a history.
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="[caller, operation, key]",
        payload_validation_jmespath="request",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
    )


Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=2048)]
# Optional here because `idempotencyKey` in the body may stand in for it; `_key` checks it (its pattern
# is documented, not enforced by the resolver, so that a bad key keeps its own 422).
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Required on every payment change: here or as `idempotencyKey` in the body (the same "
        "value if both); 8-255 visible ASCII. A repeat returns the first answer and charges nothing.",
        json_schema_extra={"pattern": IDEMPOTENCY_KEY},
    ),
]


def _key(header: str | None, body: BaseModel) -> str:
    field = getattr(body, "idempotency_key", None)
    if header and field and header != field:
        raise invalid("idempotencyKey", "differs from the Idempotency-Key header")
    key = header or field
    if not key:
        raise invalid("Idempotency-Key", "required on every payment change (header, or idempotencyKey in the body)")
    return idempotency_keys.checked(key) or key


Answer = TypeVar("Answer", bound=BaseModel)


def _once(
    operation: str,
    body: BaseModel,
    header_key: str | None,
    model: type[Answer],
    run: Callable[[Principal, Attempt], Answer],
) -> Answer:
    """Run `run` once per (caller, operation, key): repeats get the stored answer, charge nothing.
    The idempotency record stores the answer as JSON by field name, and a repeat reads it back
    into `model`."""
    principal = caller(app)
    key = _key(header_key, body)
    command = {
        "caller": principal.sub,
        "operation": operation,
        "key": key,
        "request": body.model_dump(mode="json", exclude={"idempotency_key"}),
    }
    attempt = Attempt(principal, operation, key)
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = _config()
    config.register_lambda_context(app.lambda_context)  # the in-progress record expires with the invocation
    persistence = DynamoDBPersistenceLayer(table_name=settings().idempotency_table_name, boto3_client=dynamodb.client())

    @idempotent_function(data_keyword_argument="command", config=config, persistence_store=persistence)
    def execute(command: dict[str, Any]) -> dict[str, Any]:
        return run(principal, attempt).model_dump(mode="json", by_alias=False)

    deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
    while True:
        try:
            stored: dict[str, Any] = execute(command=command)
            return model.model_validate(stored)
        except IdempotencyValidationError:
            raise invalid("Idempotency-Key", "was already used with a different request") from None
        except IdempotencyAlreadyInProgressError:
            if time.monotonic() > deadline:
                raise Conflict("a request with this Idempotency-Key is still running", retry_after=1) from None
            time.sleep(0.1)


def created(body: BaseModel) -> Response:
    return Response(status_code=201, content_type="application/json", body=body)


# ---------------------------------------------------------------- Stripe
@app.post("/payments/stripe/initialize", tags=["payments"], summary="Start a card payment for a course (Stripe)")
def stripe_initialize(
    body: StripeInitialize, idempotency_key: IdempotencyKeyHeader = None
) -> Response[StripeInitialized]:
    return created(
        _once(
            "stripe-initialize",
            body,
            idempotency_key,
            StripeInitialized,
            lambda p, a: checkout.stripe_initialize(p, body, a),
        )
    )


@app.get(
    "/payments/stripe/status/<paymentIntentId>",
    tags=["payments"],
    summary="A card payment as Stripe sees it now (the ledger follows)",
)
def stripe_status(paymentIntentId: Annotated[str, Path(pattern=r"^pi_[A-Za-z0-9_]{3,120}$")]) -> StripePaymentStatus:
    return checkout.stripe_status(caller(app), paymentIntentId)


# ---------------------------------------------------------------- PayPal
@app.post("/payments/paypal/process", tags=["payments"], summary="Start a PayPal payment for a course")
def paypal_process(body: PayPalProcess, idempotency_key: IdempotencyKeyHeader = None) -> Response[PayPalProcessed]:
    return created(
        _once(
            "paypal-process", body, idempotency_key, PayPalProcessed, lambda p, a: checkout.paypal_process(p, body, a)
        )
    )


@app.get("/payments/paypal/transaction/<transactionId>", tags=["payments"], summary="A PayPal order and its capture")
def paypal_transaction(transactionId: Annotated[str, Path(pattern=TRANSACTION_ID)]) -> PayPalTransaction:
    return checkout.paypal_transaction(caller(app), transactionId)


# ---------------------------------------------------------------- both providers
@app.post(
    "/payments/confirm",
    tags=["payments"],
    summary="Confirm a payment: Stripe confirms the intent, PayPal captures the approved order",
)
def confirm(body: ConfirmPayment, idempotency_key: IdempotencyKeyHeader = None) -> Payment:
    return _once("confirm", body, idempotency_key, Payment, lambda p, a: checkout.confirm(p, body, a))


@app.post("/payments/refund", tags=["payments"], summary="Refund a payment, fully or partly (admin, service)")
def refund(body: RefundPayment, idempotency_key: IdempotencyKeyHeader = None) -> Response[Refund]:
    return created(_once("refund", body, idempotency_key, Refund, lambda p, a: refunds.refund(p, body, a)))


@app.get("/payments/history/<studentId>", tags=["payments"], summary="A student's payments, newest first")
def history(
    studentId: Annotated[str, Path(pattern=STUDENT_ID)],
    provider: Annotated[Provider | None, Query()] = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> PageOf[Payment]:
    return checkout.history(caller(app), studentId, provider, limit, cursor)


# ---------------------------------------------------------------- subscriptions and plans
@app.post("/payments/subscription", tags=["payments"], summary="Subscribe a student to a plan")
def subscribe(body: SubscriptionCreate, idempotency_key: IdempotencyKeyHeader = None) -> Response[Subscription]:
    return created(
        _once(
            "subscribe", body, idempotency_key, Subscription, lambda p, a: subscriptions.create_subscription(p, body, a)
        )
    )


@app.get("/payments/subscription/<subscriptionId>", tags=["payments"], summary="A subscription, synced")
def get_subscription(subscriptionId: Annotated[str, Path(pattern=SUBSCRIPTION_ID)]) -> Subscription:
    return subscriptions.get_subscription(caller(app), subscriptionId)


@app.post("/payments/subscription/<subscriptionId>/cancel", tags=["payments"], summary="Cancel a subscription")
def cancel_subscription(
    subscriptionId: Annotated[str, Path(pattern=SUBSCRIPTION_ID)],
    body: SubscriptionCancel,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Subscription:
    return _once(
        f"cancel-{subscriptionId}",
        body,
        idempotency_key,
        Subscription,
        lambda p, a: subscriptions.cancel_subscription(p, subscriptionId, body, a),
    )


@app.post("/payments/plans", tags=["payments"], summary="Create a subscription plan (admin)")
def create_plan(body: PlanCreate) -> Response[Plan]:
    return created(plans.create_plan(caller(app), body))


@app.get("/payments/plans", tags=["payments"], summary="Subscription plans")
def list_plans(limit: Limit = 25, cursor: Cursor = None) -> PageOf[Plan]:
    return plans.list_plans(caller(app), limit, cursor)


@app.get("/payments/plans/<planId>", tags=["payments"], summary="A subscription plan")
def get_plan(planId: Annotated[str, Path(pattern=PLAN_ID)]) -> Plan:
    return plans.get_plan(caller(app), planId)


@lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)


__all__ = ["IDEMPOTENCY_KEY", "handler"]
