"""Settings of class reminders and the calendar feed, read once from the environment the template
sets (`CalendarReminderMinutes`, `ReminderSender`, the stack's schedule group, the reminder
function's ARN and the role EventBridge Scheduler assumes to invoke it)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from integration_core.domain.reminders import DEFAULT_OFFSETS, parse_offsets


@dataclass(frozen=True)
class ReminderSettings:
    offsets_minutes: tuple[int, ...]  # minutes before a class, largest first (CalendarReminderMinutes)
    sender: str  # SES from address (ReminderSender)
    schedule_group: str  # the stack's ScheduleGroup
    target_arn: str  # ReminderFunction, the schedules' target
    scheduler_role_arn: str  # the role EventBridge Scheduler assumes to invoke it
    feed_base_url: str  # where feed URLs point (CALENDAR_FEED_BASE_URL); empty: the request's own host


@lru_cache(maxsize=1)
def reminder_settings() -> ReminderSettings:
    env = os.environ
    return ReminderSettings(
        offsets_minutes=parse_offsets(env.get("CALENDAR_REMINDER_MINUTES") or DEFAULT_OFFSETS),
        sender=env.get("REMINDER_SENDER", "classes@school.example"),
        schedule_group=env.get("REMINDER_SCHEDULE_GROUP", "default"),
        target_arn=env.get("REMINDER_TARGET_ARN", ""),
        scheduler_role_arn=env.get("REMINDER_SCHEDULER_ROLE_ARN", ""),
        feed_base_url=env.get("CALENDAR_FEED_BASE_URL", "").rstrip("/"),
    )
