"""Provider callbacks about meetings, each applied once (a marker per delivery digest, written in
the transaction of its change) in any order:
- meeting.started -> `course_started`, meeting.ended -> `course_ended` and then the occurrence's
  attendance from the participants report with `attendance_recorded`;
- recording.completed -> the recording stored and `recording_ready`;
- participant joined/left -> a segment row (what the callbacks saw; the report is the record).
Graph (Teams) sends a batch of change notifications: each is applied on its own; its
validationToken handshake is answered in plain text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integration_core import timeutil
from integration_core.errors import BadRequest, Conflict
from integration_core.ids import stable_id
from integration_core.observability import logger
from integration_core.ports.video import CallbackRefused, Handshake, MeetingEvent
from integration_core.services.video import meetings


@dataclass(frozen=True)
class Outcome:
    answer: dict[str, Any]

    text: str | None = None  # answered as text/plain (Graph's validationToken)

    def body(self) -> dict[str, Any]:
        return self.answer


def _events() -> Any:
    from integration_core.services import events

    return events


def receive(provider: str, raw: bytes, headers: dict[str, str], query: dict[str, str] | None = None) -> Outcome:
    try:
        parsed = meetings.adapter(provider).callback(raw, headers, query)
    except CallbackRefused as refused:
        raise BadRequest(f"callback refused: {refused.reason}") from None
    except ValueError:
        raise BadRequest("callback body is not JSON") from None
    if isinstance(parsed, Handshake):
        return Outcome(parsed.body, parsed.text)
    if parsed is None:
        return Outcome({"received": True, "applied": False})
    applied = [_receive_one(provider, event) for event in (parsed if isinstance(parsed, list) else [parsed])]
    if len(applied) == 1:
        return Outcome({"received": True, "applied": applied[0]})
    return Outcome({"received": True, "applied": any(applied), "notifications": len(applied)})


def _receive_one(provider: str, event: MeetingEvent) -> bool:
    ref = meetings._store().provider_ref(provider, event.provider_meeting_id)
    meeting = meetings._store().meeting(ref["meeting_id"]) if ref else None
    if meeting is None or ref is None or meeting.get("status") == "deleted":
        logger.info("callback for a meeting we do not know or deleted", extra={"kind": event.kind})
        return False
    return _apply(provider, meeting, event, str(ref.get("provider_meeting_id") or event.provider_meeting_id))


def _apply(provider: str, meeting: dict[str, Any], event: MeetingEvent, provider_id: str | None = None) -> bool:
    store = meetings._store()
    db = store.db
    events = _events()
    at = timeutil.iso_utc(event.at)
    base = {"courseId": meeting["course_id"], "meetingId": meeting["id"]}
    if meeting.get("teacher_id"):
        base["teacherId"] = meeting["teacher_id"]
    session_id = meetings.session_of_provider_meeting(meeting, provider_id) or (
        meetings.session_at(meeting, event.started_at or event.at) if event.kind in ("started", "ended") else None
    )
    if session_id:
        base["sessionId"] = session_id
    ops: list[dict[str, Any]] = []
    event_ids: list[str] = []

    def publish(kind: str, data: dict[str, Any]) -> None:
        event_id, event_ops = events.event_operations(
            db, kind, data, event_id=stable_id("event", kind, provider, event.digest), cause=f"{provider} callback"
        )
        ops.extend(event_ops)
        event_ids.append(event_id)

    if event.kind == "started":
        publish("course_started", {**base, "startedAt": at})
    elif event.kind == "ended":
        publish("course_ended", {**base, "endedAt": at})
    elif event.kind == "recording_completed" and event.recording is not None:
        record = meetings.recording_record(meeting, event.recording, provider_id)
        ops.append(db.put_op({"PK": _pk(meeting), "SK": _recording_sk(record), **record}))
        files = [
            {"fileType": f["file_type"], "size": f["size"], "playUrl": f["play_url"], "downloadUrl": f["download_url"]}
            for f in record["files"]
        ]
        publish(
            "recording_ready",
            {
                "courseId": meeting["course_id"],
                "meetingId": meeting["id"],
                "provider": provider,
                "occurrenceUuid": event.occurrence_uuid,
                "sessionId": record["session_id"],
                "files": files,
                "readyAt": at,
            },
        )
    elif event.segment is not None:
        s = event.segment
        who = s.registrant_id or s.email or s.name
        ops.append(
            store.segment_operation(
                meeting["id"],
                event.occurrence_uuid,
                who,
                {
                    "kind": event.kind,
                    "email": s.email,
                    "registrant_id": s.registrant_id,
                    "joined_at": timeutil.iso_utc(s.joined_at),
                    "left_at": timeutil.iso_utc(s.left_at) if s.left_at else None,
                },
            )
        )
    applied = store.apply_callback(provider, event.digest, ops)
    if applied and event_ids:
        events.dispatch(event_ids)
    if event.kind == "ended":
        # Also on a repeat: a delivery whose report failed is retried by Zoom, and the attendance
        # (an overwrite, and an event with an id of its own occurrence) is taken once it succeeds.
        if event.occurrence_uuid:
            record_attendance(provider, meeting, event.occurrence_uuid, provider_id, event.started_at or event.at)
        elif provider_id:  # the provider names no occurrence (Graph): every report it has so far
            for uuid in meetings.adapter(provider).ended_occurrences(provider_id):
                record_attendance(provider, meeting, uuid, provider_id, event.at)
    return applied


def record_attendance(
    provider: str, meeting: dict[str, Any], occurrence_uuid: str, provider_id: str | None, moment: Any
) -> dict[str, Any]:
    """After the meeting ended: the participants report, merged, and `attendance_recorded` once."""
    record = meetings.attendance_record(meeting, occurrence_uuid, provider_id)
    store = meetings._store()
    store.put_attendance(meeting["id"], record)
    data = {
        "courseId": meeting["course_id"],
        "meetingId": meeting["id"],
        "occurrenceUuid": occurrence_uuid,
        "sessionId": record.get("session_id") or meetings.session_at(meeting, moment),
        "attended": sorted({a["student_id"] for a in record["attendees"] if a["student_id"]}),
        "absent": record["absent"],
        "recordedAt": timeutil.iso_utc(timeutil.utc_now()),
    }
    try:
        _events().publish_event(
            "attendance_recorded", data, event_id=stable_id("event", "attendance_recorded", provider, occurrence_uuid)
        )
    except Conflict:  # published before (a provider's retry, or the poll after a notification): once is enough
        logger.info("attendance already recorded", extra={"occurrence": occurrence_uuid[-12:]})
    return record


def _pk(meeting: dict[str, Any]) -> str:
    from integration_core import keys

    return keys.meeting_pk(meeting["id"])


def _recording_sk(record: dict[str, Any]) -> str:
    from integration_core import keys

    return keys.recording_sk(record["occurrence_uuid"])
