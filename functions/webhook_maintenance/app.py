"""Scheduled webhook upkeep: `{"task": "sweep"}` dispatches events stranded in the outbox (their
publisher died between recording and enqueueing); `{"task": "auto_disable"}` disables webhooks
whose deliveries have all failed for the configured period."""

from __future__ import annotations

from typing import Literal

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from integration_core.observability import lambda_handler


class Task(BaseModel):
    model_config = ConfigDict(extra="ignore")
    task: Literal["sweep", "auto_disable"]


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    task = Task.model_validate(event).task
    # Each schedule runs one task: its service loads on first use, not the other's too.
    if task == "sweep":
        from integration_core.services import events

        swept = events.sweep()
        return {"task": task, "dispatched": swept}
    from integration_core.services import webhooks

    disabled = webhooks.auto_disable()
    return {"task": task, "disabled": disabled}
