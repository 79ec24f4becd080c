"""The directory's internal event handlers: consumes its queue of bus events (DirectoryEventsRule)
and reports the events to try again as batch item failures. Thin: what the directory does lives in
integration_core.services.directory_reactions, the delivery rules in integration_core.internal_events."""

from __future__ import annotations

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core import internal_events
from integration_core.observability import lambda_handler
from integration_core.services import directory, directory_reactions


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    markers = internal_events.TableMarkers(directory._db())
    return internal_events.run(directory_reactions.DIRECTORY, event, markers)
