"""Settings of the video capability, read from the environment the template sets
(`ZOOM_SECRET_NAME`, `VIDEO_DEFAULT_HOST`, `PROVIDER_TIMEOUT_SECONDS`, `ZOOM_WEBHOOK_TOLERANCE_SECONDS`)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class VideoSettings:
    zoom_secret_name: str
    default_host: str  # the Zoom user who hosts a course whose teacher has no Zoom user ("me": the account owner)
    timeout_seconds: float
    webhook_tolerance_seconds: int  # how old a signed callback's x-zm-request-timestamp may be


def video_settings() -> VideoSettings:
    # Read on every call (four lookups): a test may point a warm process at another secret.
    env = os.environ
    return VideoSettings(
        zoom_secret_name=env.get("ZOOM_SECRET_NAME", ""),
        default_host=env.get("VIDEO_DEFAULT_HOST", "") or "me",
        timeout_seconds=float(env.get("PROVIDER_TIMEOUT_SECONDS", "5")),
        webhook_tolerance_seconds=int(env.get("ZOOM_WEBHOOK_TOLERANCE_SECONDS", "300")),
    )
