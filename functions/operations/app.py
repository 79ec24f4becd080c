"""The admins' operations API (/admin): every integration's health at a glance, and the dead
letters of the webhook deliveries and of the internal event handlers, listed and replayed. Thin:
routes and models here, rules in integration_core.services.operations (health) and
integration_core.services.dead_letters, which the dead-letter routes import on first use: the
health page, the admins' landing, does not load the webhook deliveries' models or the outbox."""

from __future__ import annotations

from typing import Annotated

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core.domain.operations import (
    QUEUE_NAME,
    DeadLetters,
    IntegrationHealth,
    ReplayDeadLetters,
    ReplayedDeadLetters,
)
from integration_core.http import caller, make_resolver
from integration_core.observability import lambda_handler
from integration_core.services import operations

app = make_resolver()

QueueQuery = Annotated[str, Query(pattern=QUEUE_NAME)]


@app.get(
    "/admin/integrations",
    tags=["operations"],
    summary="Every integration's health: providers, broken calendar connections, webhooks, queues (admin)",
)
def integrations() -> IntegrationHealth:
    return operations.health(caller(app))


@app.get(
    "/admin/dead-letters",
    tags=["operations"],
    summary="Dead-lettered deliveries (queue=webhooks) or internal events (queue=<consumer>), up to 50 (admin)",
)
def dead_letters(queue: QueueQuery = "webhooks") -> DeadLetters:
    from integration_core.services import dead_letters  # on first use: see the module's docstring

    return dead_letters.dead_letters(caller(app), queue)


@app.post(
    "/admin/dead-letters/replay",
    tags=["operations"],
    summary="Replay dead letters: the ones named, or all (20 a call; call again while remaining > 0) (admin)",
)
def replay(body: ReplayDeadLetters) -> ReplayedDeadLetters:
    from integration_core.services import dead_letters

    return dead_letters.replay(caller(app), body)


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
