"""The webhooks API and event publishing: subscriptions, test, delivery history, retry and replay,
statistics, signature verification, secret rotation, the event catalog, and POST /events.
Thin: routes and models here, rules in integration_core.services.webhooks and .events.

Route collision: the original specification's `GET /webhooks/{userId}` (a user's webhooks) shares
its path with reading one webhook, so that route answers with one webhook when the id is a webhook
id (`whk_...`) and with the user's list otherwise; API Gateway wants one variable name per path
segment, so the template spells it `/webhooks/{webhookId}`. `GET /webhooks/events` is a static route and
wins over it, in API Gateway and here."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, TypeVar

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core import idempotency_keys
from integration_core.adapters import dynamodb
from integration_core.config import settings
from integration_core.domain.deliveries import DELIVERY_ID_PATTERN, WEBHOOK_ID_PATTERN
from integration_core.domain.webhooks import (
    OWNER_ID_PATTERN,
    USER_ID_PATTERN,
    Delivery,
    DeliveryDetail,
    EventCatalog,
    PublishedEvent,
    PublishEvent,
    ReplayRequest,
    ReplayResult,
    SecretRotated,
    Statistics,
    TestResult,
    VerifyRequest,
    VerifyResult,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookUpdate,
)
from integration_core.http import caller, make_resolver
from integration_core.ids import has_prefix
from integration_core.models import ApiModel, PageOf
from integration_core.observability import lambda_handler
from integration_core.services import events, webhooks

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

app = make_resolver()

Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=2048, description="nextCursor of the previous page")]
WebhookId = Annotated[str, Path(pattern=WEBHOOK_ID_PATTERN)]
DeliveryId = Annotated[str, Path(pattern=DELIVERY_ID_PATTERN)]
UserOrWebhookId = Annotated[str, Path(pattern=USER_ID_PATTERN, description="A user id, or a webhook id (whk_...)")]


@lru_cache(maxsize=1)
def _idempotency() -> IdempotencyConfig:
    # Powertools' idempotency package imports boto3 (its DynamoDB store): loaded for the one route
    # that uses it, not in every cold start.
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(event_key_jmespath="[sub, key]", expires_after_seconds=24 * 3600)


Body = TypeVar("Body", bound=ApiModel)


def _json(status: int, body: Body) -> Response[Body]:
    return Response(status_code=status, content_type="application/json", body=body)


def _idempotency_key() -> str | None:
    # Optional here: without a key a repeat registers a second webhook, as the original API did.
    return idempotency_keys.checked(app.current_event.get_header_value(idempotency_keys.HEADER, case_sensitive=False))


def _register_once(request: dict) -> dict:
    # Only the id is remembered: the idempotency table never holds the webhook's secret.
    created = webhooks.register(caller(app), WebhookCreate.model_validate(request["body"]))
    return {"webhook_id": created.webhook_id, "secret_shown": True}


def _register_idempotently(request: dict) -> dict:
    """`_register_once`, once per (caller, key). The persistence layer is made here, on the one route
    that needs it, and shares the adapter's DynamoDB client: made at import, it created a client of its
    own (~50 ms) in every cold start. The wrapped function keeps its name, which the stored keys carry."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

    config = _idempotency()
    config.register_lambda_context(app.lambda_context)  # the in-progress record expires with the invocation
    persistence = DynamoDBPersistenceLayer(
        table_name=settings().idempotency_table_name or "idempotency", boto3_client=dynamodb.client()
    )
    once = idempotent_function(
        _register_once, data_keyword_argument="request", config=config, persistence_store=persistence
    )
    remembered: dict = once(request=request)
    return remembered


# ---------------------------------------------------------------- subscriptions
@app.post("/webhooks", tags=["webhooks"], summary="Register a webhook (admin, service); returns its secret once")
def register(body: WebhookCreate) -> Response[WebhookCreated]:
    key = _idempotency_key()
    if key is None:
        return _json(201, webhooks.register(caller(app), body))
    principal = caller(app)
    remembered = _register_idempotently(
        request={"sub": principal.key, "key": key, "body": body.model_dump(mode="json", exclude_unset=True)}
    )
    return _json(201, webhooks.registered(principal, remembered["webhook_id"]))


@app.get("/webhooks", tags=["webhooks"], summary="The caller's webhooks (admins: any user's with ?userId=)")
def list_own(
    userId: Annotated[str | None, Query(pattern=OWNER_ID_PATTERN)] = None, limit: Limit = 25, cursor: Cursor = None
) -> PageOf[Webhook]:
    principal = caller(app)
    return webhooks.list_for_user(principal, userId or principal.sub, limit, cursor)


@app.get("/webhooks/events", tags=["webhooks"], summary="The event types one can subscribe to, with schemas")
def event_catalog() -> EventCatalog:
    caller(app)
    return webhooks.catalog()


@app.get(
    "/webhooks/<webhookId>",
    tags=["webhooks"],
    summary="A user's webhooks (GET /webhooks/{userId}); one webhook for a whk_ id",
)
def list_or_get(
    webhookId: UserOrWebhookId, limit: Limit = 25, cursor: Cursor = None
) -> Response[Webhook | PageOf[Webhook]]:
    # API Gateway allows one variable name per path segment, so {userId} is spelled {webhookId} here.
    principal = caller(app)
    found: Webhook | PageOf[Webhook]
    if has_prefix(webhookId, "webhook"):
        found = webhooks.get(principal, webhookId)
    else:
        found = webhooks.list_for_user(principal, webhookId, limit, cursor)
    return _json(200, found)


@app.patch("/webhooks/<webhookId>", tags=["webhooks"], summary="Change a webhook; isActive true re-enables it")
def update(webhookId: WebhookId, body: WebhookUpdate) -> Webhook:
    return webhooks.update(caller(app), webhookId, body)


@app.delete("/webhooks/<webhookId>", tags=["webhooks"], summary="Delete a webhook")
def delete(webhookId: WebhookId):  # type: ignore[no-untyped-def]  # a Response: no return annotation (the 204 has no body schema)
    webhooks.delete(caller(app), webhookId)
    return Response(status_code=204, body="")


@app.post("/webhooks/<webhookId>/rotate-secret", tags=["webhooks"], summary="Issue a new secret; both sign for a while")
def rotate_secret(webhookId: WebhookId) -> SecretRotated:
    return webhooks.rotate_secret(caller(app), webhookId)


@app.post("/webhooks/<webhookId>/test", tags=["webhooks"], summary="Send a webhook.test event now")
def test(webhookId: WebhookId) -> TestResult:
    return webhooks.test(caller(app), webhookId)


# ---------------------------------------------------------------- history, retry, replay
@app.get("/webhooks/<webhookId>/deliveries", tags=["webhooks"], summary="Delivery history, newest first")
def list_deliveries(webhookId: WebhookId, limit: Limit = 25, cursor: Cursor = None) -> PageOf[Delivery]:
    return webhooks.deliveries(caller(app), webhookId, limit, cursor)


@app.get("/webhooks/<webhookId>/deliveries/<deliveryId>", tags=["webhooks"], summary="A delivery and its attempts")
def get_delivery(webhookId: WebhookId, deliveryId: DeliveryId) -> DeliveryDetail:
    return webhooks.delivery(caller(app), webhookId, deliveryId)


@app.post("/webhooks/<webhookId>/deliveries/<deliveryId>/retry", tags=["webhooks"], summary="Retry a failed delivery")
def retry(webhookId: WebhookId, deliveryId: DeliveryId) -> Response[Delivery]:
    return _json(202, webhooks.retry(caller(app), webhookId, deliveryId))


@app.post("/webhooks/<webhookId>/replay", tags=["webhooks"], summary="Retry every failed delivery since a time")
def replay(webhookId: WebhookId, body: ReplayRequest) -> Response[ReplayResult]:
    return _json(202, webhooks.replay(caller(app), webhookId, body))


@app.get("/webhooks/<webhookId>/statistics", tags=["webhooks"], summary="Delivery statistics of a webhook")
def statistics(webhookId: WebhookId) -> Statistics:
    return webhooks.statistics(caller(app), webhookId)


@app.post("/webhooks/<webhookId>/verify", tags=["webhooks"], summary="Check a payload's signature headers")
def verify(webhookId: Annotated[str, Path(max_length=64)], body: VerifyRequest) -> VerifyResult:
    return webhooks.verify(caller(app), webhookId, body)


# ---------------------------------------------------------------- publishing
@app.post(
    "/events",
    tags=["events"],
    summary="Announce an external event (admin, service; publishedBy external only); an eventId repeat is a no-op",
)
def publish(body: PublishEvent) -> Response[PublishedEvent]:
    event_id, duplicate = events.announce(
        caller(app),
        body.event_type,
        body.data,
        event_id=body.event_id,
        idempotency_key=app.current_event.get_header_value(idempotency_keys.HEADER, case_sensitive=False),
        cause=body.cause,
    )
    return _json(202, PublishedEvent(event_id=event_id, event_type=body.event_type, duplicate=duplicate))


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
