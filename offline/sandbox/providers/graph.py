"""Microsoft Graph emulator: the app-only token (client credentials) with what MSAL's
ConfidentialClientApplication asks on the way, and the v1.0 API for Teams online meetings, served
under /graph:

    authority       <sandbox>/graph/login/{tenant}         (https://login.microsoftonline.com/{tenant})
      token         .../oauth2/v2.0/token                  grant_type=client_credentials, scope
                                                           https://graph.microsoft.com/.default
      discovery     .../v2.0/.well-known/openid-configuration, <sandbox>/graph/login/common/discovery/instance
    API             <sandbox>/graph/v1.0                   (https://graph.microsoft.com/v1.0)

MSAL only takes https authorities: point it at https://127.0.0.1:<port>/graph/login/<tenant> with an
`http_client` that sends those https requests to the sandbox over http, and either
`instance_discovery=False` or `instance_discovery="<that authority's host>/graph/login/common/discovery/instance"`
(see tests/offline/video/conftest.py). This token endpoint is the Graph emulator's own; the
Microsoft sign-in emulator (microsoft.py) is a separate one.

Sign-in: graph_login.py. API: GET /v1.0/users/{id or userPrincipalName}, onlineMeetings under
/v1.0/users/{userId} (POST, createOrGet by externalId, GET, PATCH, DELETE), attendanceReports with
attendanceRecords (attendanceIntervals), recordings with content, subscriptions
(graph_subscriptions.py). Every /v1.0 request is checked against Graph's v1.0 CSDL
metadata (offline/sandbox/specs/microsoft-graph/v1.0-metadata.xml, read by csdl.py): a path segment or
a body property name the metadata does not have, or a value of the wrong kind or enum member, gets
Graph's 400 BadRequest. Without an application access policy for the organizer, onlineMeetings
answer Graph's 403 ("No application access policy found for this app.").

Controls (under /_sandbox/graph, JSON bodies):
    POST /users {"userPrincipalName", "displayName"?, "id"?}      a user of the tenant
    POST /access-policy {"user" | "global": true, "granted"?: true}
                                    Grant-CsApplicationAccessPolicy for one user or the tenant
    POST /tokens/expire             every access token expires now
    POST /meetings/{id}/start       the meeting's call starts (callStarted to JoinWebUrl subscriptions)
    POST /meetings/{id}/end {"start"?, "end"?, "attendees": [{"email", "name"?, "role"?,
                             "intervals": [[join, leave], ...]}]}
                                    the meeting ends with an attendance report (callEnded sent)
    POST /meetings/{id}/recordings {"start"?, "end"?}   a recording is ready (created sent)
    POST /notify {"subscriptionId", "changeType"?, "resource"?, "resourceData"?, "clientState"?}
    GET  /notifications             the notifications sent, with each delivery's status
    POST /subscriptions/{id}/expire the subscription expires now
The sandbox's /_sandbox/faults (429 with retryAfter, 5xx) and /_sandbox/latency (slow) answer in
Graph's error shape.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from offline.http import Response
from offline.sandbox.base import Abort, SandboxRequest, control, route
from offline.sandbox.providers.graph_login import GraphLogin
from offline.sandbox.providers.graph_shared import (
    LOCAL_CLIENT_ID,
    LOCAL_CLIENT_SECRET,
    LOCAL_TENANT_ID,
    graph_time,
    now,
    parse_time,
)
from offline.sandbox.providers.graph_subscriptions import GraphSubscriptions

__all__ = ["LOCAL_CLIENT_ID", "LOCAL_CLIENT_SECRET", "LOCAL_TENANT_ID", "Graph"]
_MEETING_FIELDS = (
    "subject",
    "startDateTime",
    "endDateTime",
    "lobbyBypassSettings",
    "allowedPresenters",
    "recordAutomatically",
    "isEntryExitAnnounced",
    "allowMeetingChat",
    "allowAttendeeToEnableCamera",
    "allowAttendeeToEnableMic",
    "allowRecording",
    "allowTranscription",
    "externalId",
)


class Graph(GraphLogin, GraphSubscriptions):
    prefix = "graph"
    title = "Microsoft Graph v1.0 (app-only token, Teams online meetings, subscriptions)"
    specs = ["microsoft-graph/v1.0-metadata.xml"]

    # ------------------------------------------------------------------ users
    @route("GET", "/v1.0/users/{userId}")
    def get_user(self, request: SandboxRequest) -> Response:
        """A user by object id or userPrincipalName (User.Read.All); `$select` narrows the answer."""
        self.authenticate(request)
        user = self._public(self.user(request.params["userId"]))
        user["@odata.context"] = f"{self.ctx.base_url}/graph/v1.0/$metadata#users/$entity"
        wanted = [s.strip() for s in request.query.get("$select", "").split(",") if s.strip()]
        if wanted:
            user = {k: v for k, v in user.items() if k in wanted or k.startswith("@")}
        return Response.json(200, user)

    # ------------------------------------------------------------------ onlineMeetings
    def _meeting(self, organizer: dict[str, Any], meeting_id: str) -> dict[str, Any]:
        found = self.store.collection("meetings").get(meeting_id)
        if found is None or found["_organizer"] != organizer["id"]:
            raise Abort(self.error(404, "NotFound", "The meeting was not found."))
        return found

    def _participant(self, user: dict[str, Any] | None, info: dict[str, Any], role: str) -> dict[str, Any]:
        identity = (info.get("identity") or {}).get("user") or {}
        upn = info.get("upn") or (user["userPrincipalName"] if user else None)
        return {
            "upn": upn,
            "role": info.get("role", role),
            "identity": {
                "user": {
                    "id": identity.get("id") or (user["id"] if user else None),
                    "displayName": identity.get("displayName") or (user["displayName"] if user else None),
                    "tenantId": self.app()["tenantId"],
                }
            },
        }

    def _apply(self, meeting: dict[str, Any], body: dict[str, Any]) -> None:
        for name in _MEETING_FIELDS:
            if name in body:
                meeting[name] = body[name]
        if "participants" in body:
            attendees = (body["participants"] or {}).get("attendees") or []
            meeting["participants"]["attendees"] = [self._participant(None, a, "attendee") for a in attendees]
        start, end = parse_time(meeting["startDateTime"]), parse_time(meeting["endDateTime"])
        if end <= start:
            raise Abort(self.error(400, "BadRequest", "endDateTime must be after startDateTime."))
        meeting["startDateTime"], meeting["endDateTime"] = graph_time(start), graph_time(end)

    def _new_meeting(self, organizer: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        meeting_id = "MSp" + secrets.token_urlsafe(60)
        thread = f"19:meeting_{secrets.token_urlsafe(30)}@thread.v2"
        context = quote(f'{{"Tid":"{self.app()["tenantId"]}","Oid":"{organizer["id"]}"}}')
        start = now()
        entity = f"users('{organizer['id']}')/onlineMeetings/$entity"
        meeting: dict[str, Any] = {
            "@odata.context": f"{self.ctx.base_url}/graph/v1.0/$metadata#{entity}",
            "id": meeting_id,
            "creationDateTime": graph_time(now()),
            "startDateTime": graph_time(start),
            "endDateTime": graph_time(start + timedelta(hours=1)),
            "joinWebUrl": f"{self.ctx.base_url}/graph/teams/l/meetup-join/{quote(thread)}/0?context={context}",
            "joinMeetingIdSettings": {
                "joinMeetingId": "".join(secrets.choice("0123456789") for _ in range(12)),
                "isPasscodeRequired": True,
                "passcode": secrets.token_urlsafe(6),
            },
            "subject": None,
            "externalId": None,
            "isBroadcast": False,
            "allowedPresenters": "everyone",
            "recordAutomatically": False,
            "isEntryExitAnnounced": True,
            "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
            "chatInfo": {"threadId": thread, "messageId": "0", "replyChainMessageId": None},
            "joinInformation": {"content": "data:text/html,...", "contentType": "html"},
            "videoTeleconferenceId": None,
            "participants": {"organizer": self._participant(organizer, {}, "presenter"), "attendees": []},
            "_organizer": organizer["id"],
            "_reports": [],
            "_recordings": [],
            "_state": "scheduled",
        }
        self._apply(meeting, body)
        self.store.collection("meetings")[meeting_id] = meeting
        return meeting

    @route("POST", "/v1.0/users/{userId}/onlineMeetings")
    def create_meeting(self, request: SandboxRequest) -> Response:
        organizer = self.organizer(request)
        return Response.json(201, self._public(self._new_meeting(organizer, request.json() or {})))

    @route("POST", "/v1.0/users/{userId}/onlineMeetings/createOrGet")
    def create_or_get(self, request: SandboxRequest) -> Response:
        organizer = self.organizer(request)
        body = request.json() or {}
        if not body.get("externalId"):
            raise Abort(self.error(400, "BadRequest", "externalId is required."))
        for meeting in self.store.collection("meetings").values():
            if meeting["_organizer"] == organizer["id"] and meeting.get("externalId") == body["externalId"]:
                return Response.json(200, self._public(meeting))
        return Response.json(201, self._public(self._new_meeting(organizer, body)))

    @route("GET", "/v1.0/users/{userId}/onlineMeetings/{meetingId}")
    def get_meeting(self, request: SandboxRequest) -> Response:
        organizer = self.organizer(request)
        return Response.json(200, self._public(self._meeting(organizer, request.params["meetingId"])))

    @route("GET", "/v1.0/users/{userId}/onlineMeetings")
    def find_meetings(self, request: SandboxRequest) -> Response:
        """Only ?$filter=JoinWebUrl eq '...' (Graph lists no meetings otherwise)."""
        organizer = self.organizer(request)
        wanted = request.query.get("$filter", "")
        if not wanted.lower().startswith("joinweburl eq '"):
            raise Abort(self.error(400, "BadRequest", "Filter on JoinWebUrl is required to list onlineMeetings."))
        url = wanted.split("'", 1)[1].rstrip("'")
        rows = [
            self._public(m)
            for m in self.store.collection("meetings").values()
            if m["_organizer"] == organizer["id"] and m["joinWebUrl"] == url
        ]
        return Response.json(200, {"value": rows})

    @route("PATCH", "/v1.0/users/{userId}/onlineMeetings/{meetingId}")
    def update_meeting(self, request: SandboxRequest) -> Response:
        organizer = self.organizer(request)
        meeting = self._meeting(organizer, request.params["meetingId"])
        self._apply(meeting, request.json() or {})
        return Response.json(200, self._public(meeting))

    @route("DELETE", "/v1.0/users/{userId}/onlineMeetings/{meetingId}")
    def delete_meeting(self, request: SandboxRequest) -> Response:
        organizer = self.organizer(request)
        self._meeting(organizer, request.params["meetingId"])
        del self.store.collection("meetings")[request.params["meetingId"]]
        return Response(204)

    # ------------------------------------------------------------------ attendance and recordings
    @route("GET", "/v1.0/users/{userId}/onlineMeetings/{meetingId}/attendanceReports")
    def attendance_reports(self, request: SandboxRequest) -> Response:
        meeting = self._meeting(self.organizer(request), request.params["meetingId"])
        return Response.json(200, {"value": [self._report_shown(r) for r in meeting["_reports"]]})

    @staticmethod
    def _report_shown(report: dict[str, Any], expand: bool = False) -> dict[str, Any]:
        shown = {k: v for k, v in report.items() if k != "attendanceRecords"}
        if expand:
            shown["attendanceRecords"] = report["attendanceRecords"]
        return shown

    def _report(self, request: SandboxRequest) -> dict[str, Any]:
        meeting = self._meeting(self.organizer(request), request.params["meetingId"])
        report = next((r for r in meeting["_reports"] if r["id"] == request.params["reportId"]), None)
        if report is None:
            raise Abort(self.error(404, "NotFound", "The attendance report was not found."))
        return report

    @route("GET", "/v1.0/users/{userId}/onlineMeetings/{meetingId}/attendanceReports/{reportId}")
    def attendance_report(self, request: SandboxRequest) -> Response:
        expand = "attendanceRecords" in request.query.get("$expand", "")
        return Response.json(200, self._report_shown(self._report(request), expand))

    @route("GET", "/v1.0/users/{userId}/onlineMeetings/{meetingId}/attendanceReports/{reportId}/attendanceRecords")
    def attendance_records(self, request: SandboxRequest) -> Response:
        return Response.json(200, {"value": self._report(request)["attendanceRecords"]})

    @route("GET", "/v1.0/users/{userId}/onlineMeetings/{meetingId}/recordings")
    def recordings(self, request: SandboxRequest) -> Response:
        meeting = self._meeting(self.organizer(request), request.params["meetingId"])
        return Response.json(200, {"value": meeting["_recordings"]})

    def _recording(self, request: SandboxRequest) -> dict[str, Any]:
        meeting = self._meeting(self.organizer(request), request.params["meetingId"])
        found = next((r for r in meeting["_recordings"] if r["id"] == request.params["recordingId"]), None)
        if found is None:
            raise Abort(self.error(404, "NotFound", "The recording was not found."))
        return found

    @route("GET", "/v1.0/users/{userId}/onlineMeetings/{meetingId}/recordings/{recordingId}")
    def recording(self, request: SandboxRequest) -> Response:
        return Response.json(200, self._recording(request))

    @route("GET", "/v1.0/users/{userId}/onlineMeetings/{meetingId}/recordings/{recordingId}/content")
    def recording_content(self, request: SandboxRequest) -> Response:
        recording = self._recording(request)
        return Response(200, [("Content-Type", "video/mp4")], f"local recording {recording['id']}".encode())

    # ------------------------------------------------------------------ controls
    @control("POST", "/users")
    def create_user(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        if not body.get("userPrincipalName"):
            return Response.json(400, {"error": "userPrincipalName is required"})
        user = self.add_user(str(body["userPrincipalName"]), body.get("displayName", ""), body.get("id"))
        return Response.json(201, self._public(user) | {"policy": user["_policy"]})

    @control("POST", "/access-policy")
    def access_policy(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        granted = bool(body.get("granted", True))
        if body.get("global"):
            self.store.collection("policy")["global"] = granted
            return Response.json(200, {"global": granted})
        user = self.user(str(body.get("user", "")))
        user["_policy"] = granted
        return Response.json(200, {"user": user["id"], "granted": granted})

    @control("POST", "/tokens/expire")
    def expire_tokens(self, request: SandboxRequest) -> Response:
        for record in self.store.collection("tokens").values():
            record["expires"] = 0
        return Response.json(200, {"expired": len(self.store.collection("tokens"))})

    def _controlled(self, request: SandboxRequest) -> dict[str, Any]:
        meeting = self.store.collection("meetings").get(request.params["id"])
        if meeting is None:
            raise Abort(Response.json(404, {"error": "no such meeting"}))
        return meeting

    @control("POST", "/meetings/{id}/start")
    def start(self, request: SandboxRequest) -> Response:
        meeting = self._controlled(request)
        meeting["_state"] = "started"
        return Response.json(200, {"notified": self.notify_meeting(meeting, "callStarted")})

    @control("POST", "/meetings/{id}/end")
    def end(self, request: SandboxRequest) -> Response:
        meeting = self._controlled(request)
        body = request.json() or {}
        start = parse_time(body.get("start") or meeting["startDateTime"])
        end = parse_time(body.get("end") or meeting["endDateTime"])
        records = []
        for person in body.get("attendees") or []:
            intervals = []
            for join, leave in person.get("intervals") or [[graph_time(start), graph_time(end)]]:
                seconds = int((parse_time(leave) - parse_time(join)).total_seconds())
                intervals.append(
                    {
                        "joinDateTime": graph_time(parse_time(join)),
                        "leaveDateTime": graph_time(parse_time(leave)),
                        "durationInSeconds": seconds,
                    }
                )
            records.append(
                {
                    "id": str(person.get("email", uuid.uuid4())),
                    "emailAddress": person.get("email"),
                    "totalAttendanceInSeconds": sum(i["durationInSeconds"] for i in intervals),
                    "role": person.get("role", "Attendee"),
                    "identity": {"id": str(uuid.uuid4()), "displayName": person.get("name", person.get("email"))},
                    "attendanceIntervals": intervals,
                }
            )
        report = {
            "id": str(uuid.uuid4()),
            "totalParticipantCount": len(records),
            "meetingStartDateTime": graph_time(start),
            "meetingEndDateTime": graph_time(end),
            "attendanceRecords": records,
        }
        meeting["_reports"].append(report)
        meeting["_state"] = "ended"
        return Response.json(200, {"reportId": report["id"], "notified": self.notify_meeting(meeting, "callEnded")})

    @control("POST", "/meetings/{id}/recordings")
    def add_recording(self, request: SandboxRequest) -> Response:
        meeting = self._controlled(request)
        body = request.json() or {}
        recording_id = secrets.token_urlsafe(24)
        base = f"{self.ctx.base_url}/graph/v1.0/users/{meeting['_organizer']}/onlineMeetings/{meeting['id']}"
        recording = {
            "id": recording_id,
            "meetingId": meeting["id"],
            "callId": str(uuid.uuid4()),
            "contentCorrelationId": str(uuid.uuid4()),
            "createdDateTime": graph_time(parse_time(body.get("start") or meeting["startDateTime"])),
            "endDateTime": graph_time(parse_time(body.get("end") or meeting["endDateTime"])),
            "recordingContentUrl": f"{base}/recordings/{recording_id}/content",
            "meetingOrganizer": {"user": {"id": meeting["_organizer"], "displayName": None}},
        }
        meeting["_recordings"].append(recording)
        return Response.json(200, {"recordingId": recording_id, "notified": self.notify_recording(meeting, recording)})


EMULATOR = Graph
