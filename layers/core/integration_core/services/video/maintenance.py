"""Video's schedule (VideoEventsFunction, the `VideoMaintenance` schedule in the template):
- a Teams meeting is subscribed to (meeting call events, recordings) once its start is within a
  subscription's lifetime: a class two months ahead is not renewed for two months;
- Graph's subscriptions to meeting call events and recordings last at most 4230 minutes: each is
  renewed when it would expire within a day, while its meeting is still to come (until a day after
  the scheduled end), and deleted after that;
- Graph notifies no attendance report: a Teams meeting's reports are read after its scheduled end
  (each due poll), the attendance recorded and `attendance_recorded` published once per report; a
  poll with no report yet stays until a day after the end (nobody met: nothing to record);
- a deleted meeting's polls are dropped (its subscriptions went with its deletion)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from integration_core import timeutil
from integration_core.errors import DomainError
from integration_core.observability import logger
from integration_core.services.video import callbacks, meetings
from integration_core.stores.video import DELETED
from integration_core.video_config import video_settings

RENEW_WITHIN = timedelta(days=1)
POLL_FOR = timedelta(days=1)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def renew_subscriptions() -> dict[str, int]:
    store = meetings._store()
    now = timeutil.utc_now()
    renewed = dropped = 0
    for sub in store.subscriptions():
        video = meetings.adapter(sub["provider"])
        if _when(sub["until"]) <= now:
            try:
                video.unsubscribe(sub["subscription_id"])
            except DomainError as error:
                logger.warning("video unsubscribe failed", extra={"problem": error.slug})
                continue
            store.drop_subscription(sub["subscription_id"])
            dropped += 1
            continue
        if _when(sub["expires"]) > now + RENEW_WITHIN:
            continue
        try:
            expires = video.renew(sub["subscription_id"], video_settings().graph_subscription_minutes)
        except DomainError as error:
            logger.warning("video renewal failed", extra={"problem": error.slug})
            continue
        if expires is None:  # gone at the provider (it expired): the poll after the end still runs
            store.drop_subscription(sub["subscription_id"])
            dropped += 1
            continue
        store.put_subscription(sub["subscription_id"], {**sub, "expires": timeutil.iso_utc(expires)})
        renewed += 1
    return {"renewed": renewed, "dropped": dropped}


def subscribe_coming() -> dict[str, int]:
    """Meetings whose start came within a subscription's lifetime: subscribed now."""
    store = meetings._store()
    now = timeutil.utc_now()
    horizon = now + timedelta(minutes=video_settings().graph_subscription_minutes)
    made = 0
    for poll in store.polls_due(horizon.strftime("%Y-%m-%dT%H:%M:%SZ")):
        video = meetings.adapter(poll["provider"])
        have = frozenset(poll.get("subscribed") or [])
        if have >= set(video.subscription_kinds) or _when(poll["due"]) <= now:
            continue
        meeting = store.meeting(poll["meeting_id"])
        if meeting is None or meeting.get("status") == DELETED:
            store.drop_poll(poll["sk"])  # nothing to follow any more
            continue
        end = _when(poll["due"]) - meetings.POLL_DELAY  # the scheduled end: within the horizon
        join_url = poll.get("join_url") or video.meeting(poll["provider_meeting_id"]).join_url
        kinds = meetings.subscribe_if_near(
            poll["provider"], video, poll["meeting_id"], poll["provider_meeting_id"], join_url, now, end, have
        )
        if kinds != have:
            store.mark_subscribed(poll["sk"], sorted(kinds))
            made += len(kinds - have)
    return {"subscribed": made}


def poll_attendance() -> dict[str, int]:
    store = meetings._store()
    now = timeutil.utc_now()
    recorded = done = 0
    for poll in store.polls_due(now.strftime("%Y-%m-%dT%H:%M:%SZ")):
        meeting = store.meeting(poll["meeting_id"])
        if meeting is None or meeting.get("status") == DELETED:  # the course's deletion deleted it
            store.drop_poll(poll["sk"])
            continue
        try:
            found = meetings.adapter(poll["provider"]).ended_occurrences(poll["provider_meeting_id"])
            known = {a["occurrence_uuid"] for a in store.attendance(meeting["id"])}
            for uuid in found:
                if uuid not in known:
                    callbacks.record_attendance(poll["provider"], meeting, uuid, poll["provider_meeting_id"], now)
                    recorded += 1
        except DomainError as error:
            logger.warning("attendance poll failed", extra={"problem": error.slug})
            continue
        if found or _when(poll["due"]) + POLL_FOR <= now:
            store.drop_poll(poll["sk"])
            done += 1
    return {"recorded": recorded, "polls_done": done}


def run() -> dict[str, Any]:
    return {**subscribe_coming(), **renew_subscriptions(), **poll_attendance()}
