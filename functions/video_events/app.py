"""Video's internal event handlers: consumes its queue of bus events (VideoEventsRule), and on its
schedule (VideoMaintenance: `{"task": "maintenance"}`) renews Graph subscriptions and reads Teams
attendance after the scheduled end. Thin: what video does lives in
integration_core.services.video.reactions and .maintenance."""

from __future__ import annotations

from typing import Any

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core import internal_events
from integration_core.observability import lambda_handler, logger
from integration_core.services.video import maintenance, meetings, reactions


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    if event.get("task") == "maintenance":
        done = maintenance.run()
        logger.info("video maintenance", extra=done)
        return done
    markers = internal_events.TableMarkers(meetings._store().db)
    return internal_events.run(reactions.VIDEO, event, markers)
