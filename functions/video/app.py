"""The video API under /video: Zoom and Teams meetings for courses (the original's POST /zoom,
POST /teams, GET /zoom/{meetingId} and GET /teams/{meetingId}), ending one, its recordings, its
participants and its attendance. Thin: rules in integration_core.services.video."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from integration_core.http import caller, make_resolver
from integration_core.ids import id_pattern
from integration_core.models import ApiModel, RequestModel
from integration_core.observability import lambda_handler
from integration_core.services.video import meetings

app = make_resolver()
MEETING_ID = "^(" + id_pattern("meeting").strip("^$") + "|[0-9]{6,20})$"  # ours, or Zoom's numeric id
MeetingId = Annotated[str, Path(pattern=MEETING_ID, description="mtg_ id or Zoom's meeting id")]
ZOOM = "zoom"
TEAMS = "teams"
TeamsMeetingId = Annotated[str, Path(pattern=id_pattern("meeting"), description="mtg_ id")]


class MeetingCreate(RequestModel):
    title: str = Field(min_length=1, max_length=200)
    course_id: str = Field(pattern=id_pattern("course"))
    start: datetime | None = None
    end: datetime | None = None
    enable_recording: bool = False


class Meeting(ApiModel):
    meeting_id: str
    provider_meeting_id: str
    course_id: str
    topic: str
    start: str
    end: str
    join_url: str | None
    duration: int
    recording_enabled: bool
    max_participants: int
    occurrences: dict[str, str] = {}


class MeetingDetails(Meeting):
    provider_status: str
    settings: dict[str, Any]
    occurrence_list: list[dict[str, Any]]


class ParticipantAdd(RequestModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)
    name: str = Field(default="", max_length=200)


class Participant(ApiModel):
    email: str
    registrant_id: str
    join_url: str
    student_id: str | None = None


class Participants(ApiModel):
    items: list[Participant]


class RecordingFileOut(ApiModel):
    file_type: str
    size: int
    play_url: str
    download_url: str
    recording_start: str
    recording_end: str


class RecordingOut(ApiModel):
    occurrence_uuid: str
    start: str
    duration: int
    session_id: str | None = None
    files: list[RecordingFileOut]


class Recordings(ApiModel):
    meeting_id: str
    note: str
    items: list[RecordingOut]


class Attendee(ApiModel):
    student_id: str | None
    name: str
    email: str
    first_join: str
    last_leave: str | None
    minutes: str
    segments: int
    attended_share: str = Field(description="Share of the scheduled time attended, 0 to 1")


class OccurrenceAttendance(ApiModel):
    occurrence_uuid: str
    session_id: str | None = None
    scheduled_minutes: int
    attendees: list[Attendee]
    absent: list[str] = Field(description="Registered students who never joined")


class Analytics(ApiModel):
    meeting_id: str
    occurrences: list[OccurrenceAttendance]


class Ended(ApiModel):
    meeting_id: str
    ended: bool


def _shown(meeting: dict[str, Any]) -> dict[str, Any]:
    start = datetime.fromisoformat(meeting["start"])
    return {
        "meeting_id": meeting["id"],
        "provider_meeting_id": meeting["provider_meeting_id"],
        "course_id": meeting["course_id"],
        "topic": meeting["topic"],
        "start": meeting["start"],
        "end": (start + timedelta(minutes=int(meeting["duration"]))).isoformat(),
        "join_url": meeting.get("join_url"),
        "duration": int(meeting["duration"]),
        "recording_enabled": bool(meeting.get("recording")),
        "max_participants": 100,
        "occurrences": meeting.get("occurrences", {}),
    }


@app.post(
    "/video/zoom", tags=["video"], summary="The course's Zoom meeting, made once (admin, service)", status_code=201
)
def create_zoom(body: MeetingCreate) -> Meeting:
    meeting = meetings.create_meeting(
        caller(app),
        ZOOM,
        course_id=body.course_id,
        title=body.title,
        start=body.start,
        end=body.end,
        recording=body.enable_recording,
    )
    return Meeting(**_shown(meeting))


@app.get("/video/zoom/<meetingId>", tags=["video"], summary="A Zoom meeting, stored and live")
def get_zoom(meetingId: MeetingId) -> MeetingDetails:
    found = meetings.details(caller(app), ZOOM, meetingId)
    return MeetingDetails(
        **_shown(found),
        provider_status=found["provider_status"],
        settings=found["settings"],
        occurrence_list=found["occurrence_list"],
    )


@app.post("/video/zoom/<meetingId>/end", tags=["video"], summary="End the meeting in progress (admin, its teacher)")
def end_zoom(meetingId: MeetingId) -> Ended:
    return Ended(**meetings.end(caller(app), ZOOM, meetingId))


@app.get("/video/zoom/<meetingId>/recordings", tags=["video"], summary="The meeting's recordings")
def zoom_recordings(meetingId: MeetingId) -> Recordings:
    return Recordings(**meetings.recordings(caller(app), ZOOM, meetingId))


@app.get("/video/zoom/<meetingId>/participants", tags=["video"], summary="Registered participants")
def zoom_participants(meetingId: MeetingId) -> Participants:
    return Participants(items=[Participant(**p) for p in meetings.participants(caller(app), ZOOM, meetingId)])


@app.post(
    "/video/zoom/<meetingId>/participants",
    tags=["video"],
    summary="Register a person (admin, service)",
    status_code=201,
)
def add_zoom_participant(meetingId: MeetingId, body: ParticipantAdd) -> Participant:
    return Participant(**meetings.add_participant(caller(app), ZOOM, meetingId, body.email, body.name))


@app.delete(
    "/video/zoom/<meetingId>/participants/<email>",
    tags=["video"],
    summary="Cancel a person's registration (admin, service)",
    status_code=204,
)
def remove_zoom_participant(meetingId: MeetingId, email: Annotated[str, Path(max_length=320)]) -> Response[str]:
    meetings.remove_participant(caller(app), ZOOM, meetingId, email)
    return Response(status_code=204, body="")


@app.get("/video/zoom/<meetingId>/analytics", tags=["video"], summary="Attendance per occurrence")
def zoom_analytics(meetingId: MeetingId) -> Analytics:
    return Analytics(**meetings.analytics(caller(app), ZOOM, meetingId))


# ---------------------------------------------------------------- Teams (Microsoft Graph)
@app.post(
    "/video/teams",
    tags=["video"],
    summary="The course's Teams meetings, one per session, made once (admin, service)",
    status_code=201,
)
def create_teams(body: MeetingCreate) -> Meeting:
    meeting = meetings.create_meeting(
        caller(app),
        TEAMS,
        course_id=body.course_id,
        title=body.title,
        start=body.start,
        end=body.end,
        recording=body.enable_recording,
    )
    return Meeting(**_shown(meeting))


@app.get("/video/teams/<meetingId>", tags=["video"], summary="A Teams meeting, stored and live")
def get_teams(meetingId: TeamsMeetingId) -> MeetingDetails:
    found = meetings.details(caller(app), TEAMS, meetingId)
    return MeetingDetails(
        **_shown(found),
        provider_status=found["provider_status"],
        settings=found["settings"],
        occurrence_list=found["occurrence_list"],
    )


@app.post(
    "/video/teams/<meetingId>/end",
    tags=["video"],
    summary="Graph cannot end a Teams meeting in progress: a 409 saying what is possible",
)
def end_teams(meetingId: TeamsMeetingId) -> Ended:
    return Ended(**meetings.end(caller(app), TEAMS, meetingId))


@app.get("/video/teams/<meetingId>/recordings", tags=["video"], summary="The Teams meetings' recordings")
def teams_recordings(meetingId: TeamsMeetingId) -> Recordings:
    return Recordings(**meetings.recordings(caller(app), TEAMS, meetingId))


@app.get("/video/teams/<meetingId>/participants", tags=["video"], summary="Invited attendees")
def teams_participants(meetingId: TeamsMeetingId) -> Participants:
    return Participants(items=[Participant(**p) for p in meetings.participants(caller(app), TEAMS, meetingId)])


@app.post(
    "/video/teams/<meetingId>/participants",
    tags=["video"],
    summary="Invite a person as an attendee (admin, service)",
    status_code=201,
)
def add_teams_participant(meetingId: TeamsMeetingId, body: ParticipantAdd) -> Participant:
    return Participant(**meetings.add_participant(caller(app), TEAMS, meetingId, body.email, body.name))


@app.delete(
    "/video/teams/<meetingId>/participants/<email>",
    tags=["video"],
    summary="Take a person off the attendees (admin, service)",
    status_code=204,
)
def remove_teams_participant(meetingId: TeamsMeetingId, email: Annotated[str, Path(max_length=320)]) -> Response[str]:
    meetings.remove_participant(caller(app), TEAMS, meetingId, email)
    return Response(status_code=204, body="")


@app.get("/video/teams/<meetingId>/analytics", tags=["video"], summary="Attendance per session (attendance reports)")
def teams_analytics(meetingId: TeamsMeetingId) -> Analytics:
    return Analytics(**meetings.analytics(caller(app), TEAMS, meetingId))


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
