"""The Zoom emulator's answers against the response schemas of Zoom's Meetings API document (when
PROVIDER_SPECS_DIR holds it), so an adapter built on the emulator reads what Zoom sends."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from offline.sandbox.validation import OpenApiDocument

from .conftest import SPECS

pytestmark = pytest.mark.skipif(SPECS is None, reason="Zoom's meetings.json needs PROVIDER_SPECS_DIR")

MEETING = {
    "topic": "B2 English",
    "type": 8,
    "start_time": "2030-03-04T18:00:00",
    "timezone": "Europe/Madrid",
    "duration": 90,
    "recurrence": {"type": 2, "weekly_days": "2", "end_times": 3},
    "settings": {"approval_type": 0, "waiting_room": True, "auto_recording": "cloud"},
}


@pytest.fixture(scope="module")
def document() -> OpenApiDocument:
    assert SPECS is not None
    return OpenApiDocument(SPECS / "zoom" / "meetings.json")


def _problems(document, template, method, status, answer):
    operation = next(o for o in document.operations if o.template == template and o.method == method)
    schema = operation.spec["responses"][str(status)]["content"]["application/json"]["schema"]
    return [(v.field, v.message) for v in document._schema_errors(schema, answer.json(), "response", "")]


def test_every_answer_matches_its_response_schema(zoom, document):
    headers = zoom.headers()
    seen = len(zoom.http.get(f"{zoom.url}/_sandbox/violations?provider=zoom").json())  # a reset keeps them
    created = zoom.http.post(f"{zoom.api}/users/me/meetings", json=MEETING, headers=headers)
    mid = created.json()["id"]
    registered = zoom.http.post(
        f"{zoom.api}/meetings/{mid}/registrants",
        json={"email": "ana@example.com", "first_name": "Ana"},
        headers=headers,
    )
    uuid = zoom.control("POST", f"/meetings/{mid}/start", at="2030-03-04T17:00:00Z").json()["uuid"]
    zoom.control("POST", f"/meetings/{mid}/participants/join", email="ana@example.com", at="2030-03-04T17:00:00Z")
    zoom.control("POST", f"/meetings/{mid}/end", at="2030-03-04T18:00:00Z")
    zoom.control("POST", f"/meetings/{mid}/recording/complete")
    twice = quote(quote(uuid, safe=""), safe="")
    answers = [
        ("/users/{userId}/meetings", "POST", 201, created),
        ("/meetings/{meetingId}", "GET", 200, zoom.http.get(f"{zoom.api}/meetings/{mid}", headers=headers)),
        ("/meetings/{meetingId}/registrants", "POST", 201, registered),
        (
            "/meetings/{meetingId}/registrants",
            "GET",
            200,
            zoom.http.get(f"{zoom.api}/meetings/{mid}/registrants", headers=headers),
        ),
        (
            "/meetings/{meetingId}/recordings",
            "GET",
            200,
            zoom.http.get(f"{zoom.api}/meetings/{twice}/recordings", headers=headers),
        ),
        ("/past_meetings/{meetingId}", "GET", 200, zoom.http.get(f"{zoom.api}/past_meetings/{twice}", headers=headers)),
        (
            "/past_meetings/{meetingId}/participants",
            "GET",
            200,
            zoom.http.get(f"{zoom.api}/past_meetings/{twice}/participants", headers=headers),
        ),
        (
            "/report/meetings/{meetingId}/participants",
            "GET",
            200,
            zoom.http.get(f"{zoom.api}/report/meetings/{twice}/participants", headers=headers),
        ),
    ]
    for template, method, status, answer in answers:
        assert answer.status_code == status, (template, answer.text)
        assert _problems(document, template, method, status, answer) == [], template
    assert zoom.http.get(f"{zoom.url}/_sandbox/violations?provider=zoom").json()[seen:] == []


def test_every_webhook_matches_zooms_event_document(zoom):
    assert SPECS is not None
    events = OpenApiDocument(SPECS / "zoom" / "meeting-events.json")
    headers = zoom.headers()
    mid = zoom.http.post(f"{zoom.api}/users/me/meetings", json=MEETING, headers=headers).json()["id"]
    zoom.http.post(
        f"{zoom.api}/meetings/{mid}/registrants",
        json={"email": "ana@example.com", "first_name": "Ana"},
        headers=headers,
    )
    zoom.control("POST", f"/meetings/{mid}/start", at="2030-03-04T17:00:00Z")
    zoom.control("POST", f"/meetings/{mid}/participants/join", email="ana@example.com", at="2030-03-04T17:00:00Z")
    zoom.control("POST", f"/meetings/{mid}/participants/leave", email="ana@example.com", at="2030-03-04T17:30:00Z")
    zoom.control("POST", f"/meetings/{mid}/end", at="2030-03-04T18:00:00Z")
    zoom.control("POST", f"/meetings/{mid}/recording/complete")
    sent = [e["body"] for e in zoom.control("GET", "/events").json()]
    names = [
        "meeting.started",
        "meeting.participant_joined",
        "meeting.participant_left",
        "meeting.ended",
        "recording.completed",
    ]
    assert [e["event"] for e in sent] == names
    for event in sent:
        schema = events.document["webhooks"][event["event"]]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]
        problems = [(v.field, v.message) for v in events._schema_errors(schema, event, "body", "")]
        assert problems == [], event["event"]
