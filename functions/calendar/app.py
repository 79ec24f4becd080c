"""The Google Calendar API (/google-calendar): connecting (authorization URL, code exchange,
revoke), events in the user's "Classes" calendar, course sync and sync status. Thin: routes and
models here, rules in integration_core.services.calendar.

The answers never carry a Google token: tokens stay KMS-encrypted on the server (README)."""

from __future__ import annotations

from typing import Annotated

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core.domain.calendar import (
    DEFAULT_DAY_COUNT,
    MAX_DAY_COUNT,
    Authenticate,
    Authenticated,
    AuthorizationStarted,
    CalendarEvent,
    CourseSynced,
    EventCreate,
    EventUpdate,
    SyncStatus,
    UpcomingEvents,
)
from integration_core.http import caller, make_resolver
from integration_core.ids import id_pattern
from integration_core.observability import lambda_handler
from integration_core.services.calendar import connection, events, status, sync

app = make_resolver()

CourseId = Annotated[str, Path(pattern=id_pattern("course"))]
EventId = Annotated[str, Path(min_length=5, max_length=1024, pattern=r"^[a-v0-9_A-Za-z-]{5,1024}$")]
StudentIdQuery = Annotated[str | None, Query(pattern=id_pattern("student"))]
UserIdQuery = Annotated[str | None, Query(pattern=id_pattern("student", "teacher"))]
DayCount = Annotated[int, Query(ge=1, le=MAX_DAY_COUNT)]
LoginHint = Annotated[str | None, Query(max_length=320)]


def no_content() -> Response[str]:
    # The document (Powertools) lists application/json for every answer, a 204 too.
    return Response(status_code=204, content_type="application/json", body="")


@app.get(
    "/google-calendar/authorize",
    tags=["calendar"],
    summary="Google's authorization URL for the caller (state and PKCE kept server-side, single use, 10 min)",
)
def authorize(loginHint: LoginHint = None) -> AuthorizationStarted:
    return AuthorizationStarted(**connection.authorize(caller(app), loginHint))


@app.post(
    "/google-calendar/authenticate",
    tags=["calendar"],
    summary="Exchange Google's code (with the state of GET /authorize); answers no tokens",
)
def authenticate(body: Authenticate) -> Authenticated:
    email = str(body.email) if body.email else None
    return Authenticated(**connection.authenticate(caller(app), body.code, body.state, email))


@app.delete(
    "/google-calendar/authorize",
    tags=["calendar"],
    summary="Revoke at Google, delete the tokens, stop syncing",
    status_code=204,
    responses={204: {"description": "Revoked (also when there was nothing to revoke); no body"}},
)
def revoke():  # type: ignore[no-untyped-def]  # unannotated: the document shows a 204 without a body schema
    connection.revoke(caller(app))
    return no_content()


@app.post(
    "/google-calendar/events",
    tags=["calendar"],
    summary="Create an event in the caller's Classes calendar",
    status_code=201,
)
def create_event(body: EventCreate) -> Response[CalendarEvent]:
    created = CalendarEvent(**events.create_event(caller(app), body))
    return Response(status_code=201, content_type="application/json", body=created)


@app.patch("/google-calendar/events/<eventId>", tags=["calendar"], summary="Change an event (only the fields given)")
def update_event(eventId: EventId, body: EventUpdate) -> CalendarEvent:
    return CalendarEvent(**events.update_event(caller(app), eventId, body))


@app.get(
    "/google-calendar/events", tags=["calendar"], summary="Upcoming events over dayCount days (expanded, by start)"
)
def upcoming(dayCount: DayCount = DEFAULT_DAY_COUNT) -> UpcomingEvents:
    return UpcomingEvents(**events.upcoming(caller(app), dayCount))


@app.post(
    "/google-calendar/sync-course/<courseId>",
    tags=["calendar"],
    summary="Sync a course's sessions into the caller's calendar (admins: its students', or ?studentId=)",
)
def sync_course(courseId: CourseId, studentId: StudentIdQuery = None) -> CourseSynced:
    return CourseSynced(**sync.sync_course(caller(app), courseId, studentId))


@app.get(
    "/google-calendar/status", tags=["calendar"], summary="The caller's sync status (admins: anyone's with ?userId=)"
)
def sync_status(userId: UserIdQuery = None) -> SyncStatus:
    return SyncStatus(**status.status(caller(app), userId))


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
