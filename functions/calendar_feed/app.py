"""The secret calendar feed: create or rotate, read and revoke one's feed URL (students and
teachers), and the feed itself, a public route whose token is the credential. Thin: the rules
live in integration_core.services.calendar_feed, the calendar in integration_core.domain.ics."""

from __future__ import annotations

from typing import Annotated

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from integration_core.errors import NotFound
from integration_core.http import caller, make_resolver
from integration_core.models import ApiModel
from integration_core.observability import lambda_handler
from integration_core.services import calendar_feed

app = make_resolver()

FeedFile = Annotated[str, Path(max_length=300, description="<token>.ics, as the feed URL names it")]


class FeedCreated(ApiModel):
    url: str = Field(description="The secret feed URL: shown in this answer only; anyone with it reads the feed")
    created_at: str
    rotated: bool = Field(description="True when it replaced an earlier URL, which no longer works")


class FeedStatus(ApiModel):
    exists: bool
    created_at: str | None = None


def _base_url() -> str:
    event = app.current_event
    host = event.request_context.domain_name
    proto = event.headers.get("x-forwarded-proto") or (
        "http" if host.startswith(("127.0.0.1", "localhost")) else "https"
    )
    return f"{proto}://{host}"


@app.post(
    "/calendar/feed",
    tags=["calendar"],
    summary="Create (or rotate) your secret calendar feed URL (student, teacher)",
    status_code=201,
)
def create_feed() -> FeedCreated:
    return FeedCreated(**calendar_feed.create_feed(caller(app), _base_url()))


@app.get("/calendar/feed", tags=["calendar"], summary="Whether you have a calendar feed URL (student, teacher)")
def get_feed() -> FeedStatus:
    return FeedStatus(**calendar_feed.feed_status(caller(app)))


@app.delete(
    "/calendar/feed", tags=["calendar"], summary="Revoke your calendar feed URL (student, teacher)", status_code=204
)
def delete_feed():  # type: ignore[no-untyped-def]  # a Response: no return annotation (the 204 has no body schema)
    calendar_feed.revoke_feed(caller(app))
    return Response(status_code=204, body="")


@app.get(
    "/calendar/feed/<feedFile>",
    tags=["calendar"],
    summary="The calendar feed (public: the token in the URL is its credential; 404 once rotated or revoked)",
    responses={
        200: {"description": "Your classes (RFC 5545)", "content": {"text/calendar": {"schema": {"type": "string"}}}},
        304: {"description": "Not modified (If-None-Match / If-Modified-Since)"},
    },
)
def read_feed(feedFile: FeedFile):  # type: ignore[no-untyped-def]  # a Response: its schema is the responses above
    if not feedFile.endswith(".ics"):
        raise NotFound("no such calendar feed")
    headers = app.current_event.headers
    answer = calendar_feed.render_feed(
        feedFile.removesuffix(".ics"), headers.get("if-none-match"), headers.get("if-modified-since")
    )
    content_type = answer.headers.pop("Content-Type", None)
    return Response(
        status_code=answer.status, content_type=content_type, body=answer.body.decode(), headers=answer.headers
    )


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
