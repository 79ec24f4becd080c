"""The target of every class reminder schedule (EventBridge Scheduler invokes it with the
schedule's input). Thin: what a reminder does lives in integration_core.services.reminders.firing."""

from __future__ import annotations

from typing import Any

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core.observability import lambda_handler
from integration_core.services.reminders import firing


@lambda_handler
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    fired = firing.fire(event)
    return {
        "skipped": fired.skipped,
        "emailed": len(fired.emailed),
        "alreadySent": len(fired.already_sent),
        "events": len(fired.events),
    }
