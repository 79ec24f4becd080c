"""EventBridge Scheduler: one-time `at()` schedules in a group, created, moved and deleted by name.

Every schedule is in UTC, with no flexible window, deleted by Scheduler after it ran
(ActionAfterCompletion DELETE), its target a Lambda function invoked with a JSON input. A create
that finds the name taken updates instead, an update that finds it gone creates, a delete of a
schedule already gone is done: a sync interrupted half way and run again ends in the same state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from integration_core.adapters import aws
from integration_core.errors import ProviderRejected, ProviderUnavailable


@dataclass(frozen=True)
class Target:
    arn: str  # the function the schedule invokes
    role_arn: str  # the role Scheduler assumes to invoke it


@dataclass
class Calls:
    """Scheduler calls made, by operation (the benchmark and the sync's answer report them)."""

    create: int = 0
    update: int = 0
    delete: int = 0

    @property
    def total(self) -> int:
        return self.create + self.update + self.delete


@lru_cache(maxsize=1)
def client() -> Any:
    return aws.client("scheduler")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _unavailable(error: Exception) -> ProviderUnavailable | ProviderRejected:
    """Throttling, a server error or no answer: try again later; anything else: Scheduler refused."""
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if _code(error) not in ("ThrottlingException", "ServiceQuotaExceededException") and status < 500:
            return ProviderRejected(f"EventBridge Scheduler refused the reminder schedule: {_code(error)}")
    return ProviderUnavailable("EventBridge Scheduler is not reachable; sync the reminders again", retry_after=5)


class Schedules:
    """The schedules of one group."""

    def __init__(self, group: str, target: Target, calls: Calls | None = None) -> None:
        self.group = group
        self.target = target
        self.calls = calls or Calls()

    def _args(self, name: str, expression: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "Name": name,
            "GroupName": self.group,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "State": "ENABLED",
            "Target": {
                "Arn": self.target.arn,
                "RoleArn": self.target.role_arn,
                "Input": json.dumps(payload, sort_keys=True),
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
            },
        }

    def create(self, name: str, expression: str, payload: dict[str, Any]) -> None:
        try:
            self.calls.create += 1
            client().create_schedule(**self._args(name, expression, payload))
        except ClientError as error:
            if _code(error) != "ConflictException":
                raise _unavailable(error) from error
            self.update(name, expression, payload, create_if_gone=False)
        except BotoCoreError as error:
            raise _unavailable(error) from error

    def update(self, name: str, expression: str, payload: dict[str, Any], *, create_if_gone: bool = True) -> None:
        try:
            self.calls.update += 1
            client().update_schedule(**self._args(name, expression, payload))
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException" or not create_if_gone:
                raise _unavailable(error) from error
            self.create(name, expression, payload)
        except BotoCoreError as error:
            raise _unavailable(error) from error

    def delete(self, name: str) -> None:
        try:
            self.calls.delete += 1
            client().delete_schedule(Name=name, GroupName=self.group)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise _unavailable(error) from error
        except BotoCoreError as error:
            raise _unavailable(error) from error
