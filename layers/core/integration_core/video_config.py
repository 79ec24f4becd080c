"""Settings of the video capability, read from the environment the template sets
(`ZOOM_SECRET_NAME`, `VIDEO_DEFAULT_HOST`, `PROVIDER_TIMEOUT_SECONDS`, `ZOOM_WEBHOOK_TOLERANCE_SECONDS`,
`TEAMS_SECRET_NAME`, `GRAPH_NOTIFICATION_URL`, `GRAPH_SUBSCRIPTION_MINUTES`)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class VideoSettings:
    zoom_secret_name: str
    default_host: str  # the Zoom user who hosts a course whose teacher has no Zoom user ("me": the account owner)
    timeout_seconds: float
    webhook_tolerance_seconds: int  # how old a signed callback's x-zm-request-timestamp may be
    teams_secret_name: str = ""
    # Where Graph posts change notifications (VideoCallbacksFunction's URL + "graph"); empty: none.
    graph_notification_url: str = ""
    graph_subscription_minutes: int = 4200  # Graph allows onlineMeeting subscriptions 4230 minutes


def video_settings() -> VideoSettings:
    # Read on every call (four lookups): a test may point a warm process at another secret.
    env = os.environ
    return VideoSettings(
        zoom_secret_name=env.get("ZOOM_SECRET_NAME", ""),
        default_host=env.get("VIDEO_DEFAULT_HOST", "") or "me",
        timeout_seconds=float(env.get("PROVIDER_TIMEOUT_SECONDS", "5")),
        webhook_tolerance_seconds=int(env.get("ZOOM_WEBHOOK_TOLERANCE_SECONDS", "300")),
        teams_secret_name=env.get("TEAMS_SECRET_NAME", ""),
        graph_notification_url=env.get("GRAPH_NOTIFICATION_URL", ""),
        graph_subscription_minutes=int(env.get("GRAPH_SUBSCRIPTION_MINUTES", "4200")),
    )
