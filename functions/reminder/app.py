"""The target of every class reminder schedule (EventBridge Scheduler invokes it with the
schedule's input). Thin: what a reminder does lives in integration_core.services.reminders.firing."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core.observability import logger
from integration_core.services.reminders import firing


@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    fired = firing.fire(event)
    return {
        "skipped": fired.skipped,
        "emailed": len(fired.emailed),
        "alreadySent": len(fired.already_sent),
        "events": len(fired.events),
    }
