"""Settings of the calendar capability, read from the environment the template sets
(`GoogleOAuthSecret`, `UserTokenKey`, `CalendarReminderMinutes`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from integration_core.domain.reminders import DEFAULT_OFFSETS, parse_offsets


@dataclass(frozen=True)
class CalendarSettings:
    google_secret_name: str  # {"clientId", "clientSecret", "redirectUri"?, "authUrl"?, "tokenUrl"?, ...}
    token_key_id: str  # the KMS key (UserTokenKey) that encrypts users' Google tokens
    reminder_minutes: tuple[int, ...]  # Google reminder overrides on class events, largest first
    timeout_seconds: float
    sync_concurrency: int  # Google calls in flight per sync
    refresh_margin_seconds: int  # an access token is refreshed this long before it expires
    state_ttl_seconds: int  # how long an authorization URL's state stays usable


def reminder_minutes(raw: str) -> tuple[int, ...]:
    """CalendarReminderMinutes as the reminders read it (domain.reminders.parse_offsets, the one rule
    for the parameter), within what Google takes as an event's reminder overrides: at most 5."""
    values = parse_offsets(raw)
    if not values or len(values) > 5:
        raise ValueError(f"CalendarReminderMinutes must name 1 to 5 minute counts, not {raw!r}")
    return values


def calendar_settings() -> CalendarSettings:
    # Read on every call (a handful of lookups): a test may point a warm process at another secret.
    env = os.environ
    return CalendarSettings(
        google_secret_name=env.get("GOOGLE_OAUTH_SECRET_NAME", ""),
        token_key_id=env.get("USER_TOKEN_KEY_ID", ""),
        reminder_minutes=reminder_minutes(env.get("CALENDAR_REMINDER_MINUTES") or DEFAULT_OFFSETS),
        timeout_seconds=float(env.get("PROVIDER_TIMEOUT_SECONDS", "5")),
        sync_concurrency=int(env.get("CALENDAR_SYNC_CONCURRENCY", "4")),
        refresh_margin_seconds=int(env.get("CALENDAR_REFRESH_MARGIN_SECONDS", "300")),
        state_ttl_seconds=int(env.get("CALENDAR_STATE_TTL_SECONDS", "600")),
    )
