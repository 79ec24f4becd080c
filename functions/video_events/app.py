"""Video's internal event handlers: consumes its queue of bus events (VideoEventsRule). Thin: what
video does lives in integration_core.services.video.reactions."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core import internal_events
from integration_core.observability import logger
from integration_core.services.video import meetings, reactions


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext) -> dict:
    markers = internal_events.TableMarkers(meetings._store().db)
    return internal_events.run(reactions.VIDEO, event, markers)
