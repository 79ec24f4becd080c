"""Zoom meetings as they happen: the controls that start an occurrence, let participants join and
leave, end it and finish its cloud recording (each sends Zoom's webhook), and the APIs that read
what happened: recordings, past meetings, their participants and the participants report. A past
meeting is addressed by its instance UUID (double-encoded where Zoom requires it) or by the meeting
id (its latest instance).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from offline.http import Response
from offline.sandbox.base import Abort, SandboxRequest, control, route
from offline.sandbox.providers.zoom_shared import ZoomBase, now, parse_time, zoom_time


def _at(body: dict[str, Any], default: datetime) -> datetime:
    return parse_time(body["at"]) if body.get("at") else default


def _seconds(start: str, end: str) -> int:
    return int((parse_time(end) - parse_time(start)).total_seconds())


class ZoomSessions(ZoomBase):
    # ------------------------------------------------------------------ helpers
    def _meeting_object(self, meeting: dict[str, Any], instance: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(meeting["id"]),
            "uuid": instance["uuid"],
            "host_id": meeting["host_id"],
            "host_email": meeting["host_email"],
            "topic": meeting["topic"],
            "type": meeting["type"],
            "start_time": instance["start_time"],
            "timezone": meeting["timezone"],
            "duration": instance["duration"],
        }

    def _participant_object(self, meeting: dict[str, Any], instance: dict[str, Any]) -> dict[str, Any]:
        """The meeting in participant events: without host_email (Zoom's event document)."""
        shown = self._meeting_object(meeting, instance)
        del shown["host_email"]
        return shown

    def _current(self, meeting: dict[str, Any]) -> dict[str, Any]:
        if meeting["status"] != "started" or not meeting["_instances"]:
            raise Abort(Response.json(409, {"error": f"meeting {meeting['id']} is not in progress"}))
        return self.store.collection("instances")[meeting["_instances"][-1]]

    def end_instance(self, meeting: dict[str, Any], at: datetime) -> dict[str, Any]:
        instance = self._current(meeting)
        for row in instance["participants"]:
            if row["leave_time"] is None:
                self._leave(meeting, instance, row, at, "left the meeting. Reason : Host ended the meeting")
        instance["end_time"] = zoom_time(at)
        instance["_ended"] = True
        meeting["status"] = "waiting"
        self.emit("meeting.ended", {**self._meeting_object(meeting, instance), "end_time": instance["end_time"]})
        return instance

    def _leave(self, meeting, instance, row, at: datetime, reason: str) -> None:
        row["leave_time"] = zoom_time(at)
        row["duration"] = _seconds(row["join_time"], row["leave_time"])
        person = {
            "user_id": row["user_id"],
            "user_name": row["name"],
            "id": row["id"],
            "participant_uuid": row["participant_uuid"],
            "leave_time": row["leave_time"],
            "leave_reason": reason,
            "email": row["user_email"],
            "registrant_id": row["registrant_id"],
            "participant_user_id": row["participant_user_id"],
        }
        self.emit("meeting.participant_left", {**self._participant_object(meeting, instance), "participant": person})

    def _who(self, meeting: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """The person joining: by their personal join URL, registrant id or email."""
        registrants = meeting["_registrants"].values()
        registrant = None
        if body.get("joinUrl"):
            registrant = next((r for r in registrants if r["join_url"] == body["joinUrl"]), None)
            if registrant is None:
                raise Abort(Response.json(404, {"error": "no registrant has this join URL"}))
        elif body.get("registrantId"):
            registrant = meeting["_registrants"].get(body["registrantId"])
        elif body.get("email"):
            registrant = next((r for r in registrants if r["email"] == str(body["email"]).lower()), None)
        if registrant is not None and registrant["status"] != "approved":
            raise Abort(Response.json(403, {"error": "this registration was cancelled or is not approved"}))
        needs_registration = meeting["settings"].get("approval_type") in (0, 1)
        if registrant is None and needs_registration and not body.get("guest"):
            raise Abort(Response.json(403, {"error": "this meeting requires registration"}))
        email = registrant["email"] if registrant else str(body.get("email", "")).lower()
        name = body.get("name") or (
            f"{registrant['first_name']} {registrant['last_name']}".strip() if registrant else email
        )
        return {"email": email, "name": name, "registrant_id": registrant["id"] if registrant else ""}

    def _files(self, meeting: dict[str, Any], instance: dict[str, Any], start: str, end: str) -> list[dict]:
        base = f"{self.ctx.base_url}/zoom/rec"
        seconds = max(1, _seconds(start, end))
        made = []
        for kind, extension, recording_type, per_second in (
            ("MP4", "MP4", "shared_screen_with_speaker_view", 180_000),
            ("M4A", "M4A", "audio_only", 16_000),
        ):
            file_id = secrets.token_hex(16)
            made.append(
                {
                    "id": file_id,
                    "meeting_id": instance["uuid"],
                    "recording_start": start,
                    "recording_end": end,
                    "file_type": kind,
                    "file_extension": extension,
                    "file_size": seconds * per_second,
                    "play_url": f"{base}/play/{file_id}",
                    "download_url": f"{base}/download/{file_id}",
                    "status": "completed",
                    "recording_type": recording_type,
                }
            )
        return made

    # ------------------------------------------------------------------ controls
    @control("POST", "/meetings/{id}/start")
    def start(self, request: SandboxRequest) -> Response:
        """Start the meeting (its next occurrence, or `occurrenceId`); `uuid` forces the instance's
        UUID (e.g. one starting with "/"), `at` its start time."""
        meeting = self.meeting(request.params["id"])
        body = request.json() or {}
        if meeting["status"] == "started":
            return Response.json(409, {"error": f"meeting {meeting['id']} is already in progress"})
        items = [o for o in meeting.get("_occurrences", []) if o["status"] != "deleted"]
        occurrence = None
        if body.get("occurrenceId"):
            occurrence = next((o for o in items if o["occurrence_id"] == str(body["occurrenceId"])), None)
            if occurrence is None:
                return Response.json(404, {"error": f"no occurrence {body['occurrenceId']}"})
        elif items:
            done = {
                i["occurrence_id"]
                for i in self.store.collection("instances").values()
                if i["_meeting"] == str(meeting["id"])
            }
            occurrence = next((o for o in items if o["occurrence_id"] not in done), items[-1])
        default = parse_time(occurrence["start_time"]) if occurrence else parse_time(meeting["start_time"])
        uuid = body.get("uuid") or self.new_uuid()
        instance = {
            "uuid": uuid,
            "_meeting": str(meeting["id"]),
            "occurrence_id": occurrence["occurrence_id"] if occurrence else None,
            "start_time": zoom_time(_at(body, default)),
            "duration": occurrence["duration"] if occurrence else meeting["duration"],
            "end_time": None,
            "participants": [],
            "recording_files": [],
        }
        self.store.collection("instances")[uuid] = instance
        meeting["_instances"].append(uuid)
        meeting["status"] = "started"
        self.emit("meeting.started", self._meeting_object(meeting, instance))
        return Response.json(
            200, {"uuid": uuid, "occurrenceId": instance["occurrence_id"], "start_time": instance["start_time"]}
        )

    @control("POST", "/meetings/{id}/participants/join")
    def join(self, request: SandboxRequest) -> Response:
        """A person joins: {"joinUrl" | "registrantId" | "email", "name"?, "at"?, "guest"?}."""
        meeting = self.meeting(request.params["id"])
        instance = self._current(meeting)
        body = request.json() or {}
        who = self._who(meeting, body)
        if any(r["leave_time"] is None and r["user_email"] == who["email"] for r in instance["participants"]):
            return Response.json(409, {"error": f"{who['email']} is already in the meeting"})
        earlier = next((r for r in instance["participants"] if r["user_email"] == who["email"]), None)
        row = {
            "id": earlier["id"] if earlier else secrets.token_urlsafe(16)[:22],
            "user_id": str(16_000_000 + len(instance["participants"])),
            "participant_uuid": secrets.token_hex(16).upper(),
            "participant_user_id": earlier["participant_user_id"] if earlier else secrets.token_urlsafe(16)[:22],
            "name": who["name"],
            "user_email": who["email"],
            "registrant_id": who["registrant_id"],
            "join_time": zoom_time(_at(body, now())),
            "leave_time": None,
            "duration": 0,
            "status": "in_meeting",
        }
        instance["participants"].append(row)
        person = {
            k: row[k]
            for k in ("user_id", "id", "participant_uuid", "join_time", "registrant_id", "participant_user_id")
        }
        person.update({"user_name": row["name"], "email": row["user_email"]})
        self.emit("meeting.participant_joined", {**self._participant_object(meeting, instance), "participant": person})
        return Response.json(200, {"participantUuid": row["participant_uuid"], "joinTime": row["join_time"]})

    @control("POST", "/meetings/{id}/participants/leave")
    def leave(self, request: SandboxRequest) -> Response:
        """A person leaves: {"email" | "registrantId" | "joinUrl", "at"?}."""
        meeting = self.meeting(request.params["id"])
        instance = self._current(meeting)
        body = request.json() or {}
        who = self._who(meeting, {**body, "guest": True})
        row = next(
            (r for r in instance["participants"] if r["leave_time"] is None and r["user_email"] == who["email"]), None
        )
        if row is None:
            return Response.json(409, {"error": f"{who['email']} is not in the meeting"})
        self._leave(meeting, instance, row, _at(body, now()), "left the meeting. Reason : left the meeting")
        return Response.json(200, {"leaveTime": row["leave_time"], "duration": row["duration"]})

    @control("POST", "/meetings/{id}/end")
    def end(self, request: SandboxRequest) -> Response:
        """The host ends the meeting ({"at"?}): everyone still in leaves; meeting.ended is sent."""
        meeting = self.meeting(request.params["id"])
        body = request.json() or {}
        instance = self.end_instance(meeting, _at(body, now()))
        return Response.json(200, {"uuid": instance["uuid"], "end_time": instance["end_time"]})

    @control("POST", "/meetings/{id}/recording/complete")
    def complete_recording(self, request: SandboxRequest) -> Response:
        """The cloud recording of the latest ended instance (or `uuid`) is ready: recording.completed."""
        meeting = self.meeting(request.params["id"])
        body = request.json() or {}
        instances = self.store.collection("instances")
        uuid = body.get("uuid") or next(
            (u for u in reversed(meeting["_instances"]) if instances[u].get("_ended")), None
        )
        if uuid not in instances:
            return Response.json(409, {"error": "no ended instance of this meeting to record"})
        instance = instances[uuid]
        if not instance["recording_files"]:
            instance["recording_files"] = self._files(meeting, instance, instance["start_time"], instance["end_time"])
        token = secrets.token_urlsafe(32)
        self.store.collection("download_tokens")[token] = uuid
        event = self.emit("recording.completed", self._recording(meeting, instance), download_token=token)
        return Response.json(200, {"uuid": uuid, "eventId": event["id"], "files": len(instance["recording_files"])})

    # ------------------------------------------------------------------ API
    def _recording(self, meeting: dict[str, Any], instance: dict[str, Any]) -> dict[str, Any]:
        files = instance["recording_files"]
        return {
            "uuid": instance["uuid"],
            "id": meeting["id"],
            "account_id": self.credentials()["accountId"],
            "host_id": meeting["host_id"],
            "host_email": meeting["host_email"],
            "topic": meeting["topic"],
            "type": meeting["type"],
            "start_time": instance["start_time"],
            "timezone": meeting["timezone"],
            "duration": _seconds(instance["start_time"], instance["end_time"]) // 60,
            "total_size": sum(f["file_size"] for f in files),
            "recording_count": len(files),
            "share_url": f"{self.ctx.base_url}/zoom/rec/share/{instance['uuid'][:10]}",
            "password": instance.setdefault("_passcode", secrets.token_urlsafe(6)),
            "recording_files": files,
        }

    @route("GET", "/v2/meetings/{meetingId}/recordings")
    def recordings(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        try:
            instance = self.instance_by_path(request.params["meetingId"])
        except Abort:
            raise Abort(self.error(404, "3301", "This recording does not exist.")) from None
        if not instance["recording_files"]:
            raise Abort(self.error(404, "3301", "This recording does not exist."))
        answer = self._recording(self.meeting(instance["_meeting"]), instance)
        answer["type"] = str(answer["type"])  # a string here in Zoom's document, an integer in the event
        if request.query.get("include_fields") == "download_access_token":
            answer["download_access_token"] = secrets.token_urlsafe(32)
        return Response.json(200, answer)

    def _past(self, request: SandboxRequest) -> tuple[dict[str, Any], dict[str, Any]]:
        instance = self.instance_by_path(request.params["meetingId"])
        if not instance.get("_ended"):
            raise Abort(self.error(404, "3001", "Meeting is not found or has not ended."))
        return self.meeting(instance["_meeting"]), instance

    @route("GET", "/v2/past_meetings/{meetingId}")
    def past_meeting(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        meeting, instance = self._past(request)
        rows = instance["participants"]
        return Response.json(
            200,
            {
                "id": meeting["id"],
                "uuid": instance["uuid"],
                "host_id": meeting["host_id"],
                "topic": meeting["topic"],
                "type": meeting["type"],
                "user_email": meeting["host_email"],
                "start_time": instance["start_time"],
                "end_time": instance["end_time"],
                "duration": _seconds(instance["start_time"], instance["end_time"]) // 60,
                "total_minutes": sum(r["duration"] for r in rows) // 60,
                "participants_count": len(rows),
                "source": "Zoom",
            },
        )

    @route("GET", "/v2/past_meetings/{meetingId}/instances")
    def past_instances(self, request: SandboxRequest) -> Response:
        """The ended instances of a meeting (each occurrence held has its own UUID)."""
        self.authenticate(request)
        meeting = self.meeting(request.params["meetingId"])
        instances = self.store.collection("instances")
        ended = [instances[u] for u in meeting["_instances"] if instances[u].get("_ended")]
        return Response.json(200, {"meetings": [{"uuid": i["uuid"], "start_time": i["start_time"]} for i in ended]})

    def _page(self, request: SandboxRequest, rows: list[dict[str, Any]]) -> dict[str, Any]:
        size = int(request.query.get("page_size", 30))
        offset = int(request.query.get("next_page_token") or 0)
        page, rest = rows[offset : offset + size], rows[offset + size :]
        return {
            "page_count": max(1, -(-len(rows) // size)),
            "page_size": size,
            "total_records": len(rows),
            "next_page_token": str(offset + size) if rest else "",
            "participants": page,
        }

    @route("GET", "/v2/past_meetings/{meetingId}/participants")
    def past_participants(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        _, instance = self._past(request)
        rows = [
            {
                "id": r["participant_user_id"],
                "name": r["name"],
                "user_email": r["user_email"],
                "registrant_id": r["registrant_id"],
            }
            for r in instance["participants"]
        ]
        return Response.json(200, self._page(request, rows))

    @route("GET", "/v2/report/meetings/{meetingId}/participants")
    def report_participants(self, request: SandboxRequest) -> Response:
        """One row per join (a rejoin is a row of its own, as at Zoom): join_time, leave_time, duration (s)."""
        self.authenticate(request)
        _, instance = self._past(request)
        with_registrant = request.query.get("include_fields") == "registrant_id"
        rows = []
        for r in instance["participants"]:
            row = {
                "id": r["participant_user_id"],
                "user_id": r["user_id"],
                "participant_user_id": r["participant_user_id"],
                "name": r["name"],
                "user_email": r["user_email"],
                "join_time": r["join_time"],
                "leave_time": r["leave_time"],
                "duration": r["duration"],
                "status": "in_meeting",
            }
            if with_registrant:
                row["registrant_id"] = r["registrant_id"]
            rows.append(row)
        return Response.json(200, self._page(request, rows))
