"""The calendar's internal event handlers: consumes its queue of bus events (CalendarEventsRule)
and reports the events to try again as batch item failures. Thin: what the calendar does lives in
integration_core.services.calendar.reactions, the delivery rules in integration_core.internal_events."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core import internal_events
from integration_core.observability import logger
from integration_core.services.calendar import deps, reactions


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext) -> dict:
    markers = internal_events.TableMarkers(deps.store().db)
    return internal_events.run(reactions.CALENDAR, event, markers)
