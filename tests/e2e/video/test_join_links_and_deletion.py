"""Video links where students and teachers look, and a course's deletion, end to end through the
local stack: the directory's sessions view, the calendar's Google events (the Google emulator), the
ICS feed, and the Zoom emulator's meeting gone after `course_deleted` reached video."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from icalendar import Calendar

from integration_core import keys

POLL_SECONDS = 60


class Client:
    def __init__(self, api: str, token: str) -> None:
        self.api = api
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
        return httpx.request(method, self.api + path, json=body, params=params, headers=self.headers, timeout=60)


def sandbox(local_stack, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, f"{local_stack.sandbox_url}{path}", json=body, timeout=30)


def until(check, what: str):
    """A bounded poll: the check's first truthy answer, or a failure naming what never happened."""
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"never: {what}")


def zoom_api(local_stack, method: str, path: str) -> httpx.Response:
    token = httpx.post(
        f"{local_stack.sandbox_url}/zoom/oauth/token",
        params={"grant_type": "account_credentials", "account_id": "local-zoom-account"},
        auth=("local-zoom-client", "local-zoom-secret"),
        timeout=30,
    ).json()["access_token"]
    return httpx.request(
        method, f"{local_stack.sandbox_url}/zoom/v2{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


@pytest.fixture(scope="module")
def admin(api_base, role_tokens) -> Client:
    return Client(api_base, role_tokens["admin"])


@pytest.fixture
def course(local_stack, api_base, admin) -> dict[str, Any]:
    """A weekly course (Tuesdays 18:00 in London, three classes) with two students, taught by a
    teacher who has a Zoom user."""
    tag = uuid.uuid4().hex[:8]
    email = f"teacher-{tag}@school.example"
    assert sandbox(local_stack, "POST", "/_sandbox/zoom/users", {"email": email}).status_code in (200, 201)
    teacher = admin.request("POST", "/directory/teachers", {"email": email, "name": "Tess Teacher"}).json()
    created = admin.request(
        "POST",
        "/directory/courses",
        {
            "title": f"English B2 {tag}",
            "price": {"amount": "100.00", "currency": "EUR"},
            "timeZone": "Europe/London",
            "teacherId": teacher["id"],
        },
    )
    assert created.status_code == 201, created.text
    course_id = created.json()["id"]
    first = date.today() + timedelta(days=10)
    made = admin.request(
        "POST",
        f"/directory/courses/{course_id}/sessions",
        {
            "recurrence": {
                "daysOfWeek": ["TU"],
                "startTime": "18:00",
                "durationMinutes": 60,
                "fromDate": first.isoformat(),
                "count": 3,
            }
        },
    )
    assert made.status_code == 201, made.text
    students = []
    for name in ("ana", "ben"):
        body = {"email": f"{name}-{tag}@example.com", "name": f"{name.title()} Learner"}
        student = admin.request("POST", "/directory/students", body).json()
        enrolled = admin.request("POST", "/directory/enrollments", {"courseId": course_id, "studentId": student["id"]})
        assert enrolled.status_code == 201, enrolled.text
        students.append({**student, "me": Client(api_base, local_stack.token("student", student["id"]))})
    return {
        "id": course_id,
        "teacher": {**teacher, "me": Client(api_base, local_stack.token("teacher", teacher["id"]))},
        "students": students,
        "sessions": [s["id"] for s in made.json()["created"]],
    }


def _meeting(admin: Client, course: dict[str, Any]) -> dict[str, Any]:
    created = admin.request("POST", "/video/zoom", {"title": "English B2", "courseId": course["id"]})
    assert created.status_code == 201, created.text
    return created.json()


def _links(admin: Client, meeting: dict[str, Any]) -> dict[str, str]:
    listed = admin.request("GET", f"/video/zoom/{meeting['meetingId']}/participants").json()["items"]
    return {p["studentId"]: p["joinUrl"] for p in listed}


def _sessions(who: Client, course_id: str) -> list[dict[str, Any]]:
    answer = who.request("GET", f"/directory/courses/{course_id}/sessions")
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def connect(local_stack, me: Client, email: str) -> None:
    started = me.request("GET", "/google-calendar/authorize").json()
    url = urlsplit(started["authorizationUrl"])
    assert sandbox(local_stack, "GET", f"{url.path}?{url.query}").status_code == 200
    assert parse_qs(url.query)["state"] == [started["state"]]
    consent = sandbox(
        local_stack,
        "POST",
        "/_sandbox/google/consent",
        {"state": started["state"], "email": email, "decision": "allow"},
    )
    assert consent.status_code == 200, consent.text
    answer = me.request(
        "POST", "/google-calendar/authenticate", {"code": consent.json()["code"], "state": started["state"]}
    )
    assert answer.status_code == 200, answer.text


def google_events(local_stack, email: str) -> list[dict[str, Any]]:
    calendars = sandbox(local_stack, "GET", f"/_sandbox/google/calendars/{email}").json()["calendars"]
    return [e for c in calendars if c.get("summary") == "Classes" for e in c["events"]]


def test_each_student_sees_their_own_link_in_sessions_calendar_and_feed(local_stack, api_base, admin, course):
    ana, ben = course["students"]
    teacher = course["teacher"]
    # Ana's calendar holds the classes before the meeting exists: no link in them yet.
    connect(local_stack, ana["me"], ana["email"])
    assert ana["me"].request("POST", f"/google-calendar/sync-course/{course['id']}").status_code == 200
    before = google_events(local_stack, ana["email"])
    assert len(before) == 3 and not any(e.get("location") for e in before)
    assert all(s["joinUrl"] is None for s in _sessions(ana["me"], course["id"]))
    feed = ana["me"].request("POST", "/calendar/feed").json()["url"]

    meeting = _meeting(admin, course)
    links = _links(admin, meeting)
    assert links[ana["id"]] != links[ben["id"]]

    # The sessions view: each student their own link for every class, the teacher the meeting's,
    # an admin none.
    for student in (ana, ben):
        shown = _sessions(student["me"], course["id"])
        assert sorted(s["id"] for s in shown) == sorted(course["sessions"])
        assert {s["joinUrl"] for s in shown} == {links[student["id"]]}
    assert links[ben["id"]] not in str(_sessions(ana["me"], course["id"]))
    assert {s["joinUrl"] for s in _sessions(teacher["me"], course["id"])} == {meeting["joinUrl"]}
    assert all(s["joinUrl"] is None for s in _sessions(admin, course["id"]))

    # Ana's Google events get her link on their own (join_link_ready -> the calendar's reaction).
    def linked() -> list[dict[str, Any]]:
        events = google_events(local_stack, ana["email"])
        return events if len(events) == 3 and all(e.get("location") == links[ana["id"]] for e in events) else []

    for event in until(linked, "Ana's Google events carry her join link"):
        assert f"Join the class: {links[ana['id']]}" in event["description"]
        assert links[ben["id"]] not in str(event)

    # Her ICS feed: each class's URL is her link, named in its description; Ben's is nowhere.
    body = httpx.get(feed, timeout=30)
    assert body.status_code == 200
    events = [c for c in Calendar.from_ical(body.content).walk("VEVENT")]
    assert len(events) == 3
    for event in events:
        assert str(event["URL"]) == links[ana["id"]]
        assert links[ana["id"]] in str(event["DESCRIPTION"]).replace("\n", "")
    assert links[ben["id"]].encode() not in body.content.replace(b"\r\n ", b"")


def _stored_meeting(local_stack, meeting_id: str) -> dict[str, Any] | None:
    table = local_stack.state["resources"]["AppTable"]["ref"]
    key = {"PK": {"S": keys.meeting_pk(meeting_id)}, "SK": {"S": keys.PROFILE}}
    item = local_stack.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return {k: next(iter(v.values())) for k, v in item.items()} if item else None


def test_deleting_a_course_deletes_its_zoom_meeting_once(local_stack, admin, course):
    meeting = _meeting(admin, course)
    zoom_id = meeting["providerMeetingId"]
    assert zoom_api(local_stack, "GET", f"/meetings/{zoom_id}").status_code == 200
    for student in course["students"]:
        left = admin.request("DELETE", f"/directory/enrollments/{course['id']}/{student['id']}")
        assert left.status_code == 204, left.text

    assert admin.request("DELETE", f"/directory/courses/{course['id']}").status_code == 204
    assert admin.request("DELETE", f"/directory/courses/{course['id']}").status_code == 404

    until(lambda: zoom_api(local_stack, "GET", f"/meetings/{zoom_id}").status_code == 404, "Zoom's meeting deleted")
    stored = until(
        lambda: (m := _stored_meeting(local_stack, meeting["meetingId"])) and m["status"] == "deleted" and m,
        "the stored meeting marked deleted",
    )
    assert stored["deleted_at"]
    assert admin.request("GET", f"/video/zoom/{meeting['meetingId']}").status_code == 404
    assert admin.request("GET", f"/video/zoom/{zoom_id}").status_code == 404
    # Every link of the course went with it (the teacher's too).
    table = local_stack.state["resources"]["AppTable"]["ref"]
    links = local_stack.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.join_links_pk(course["id"])}},
        ConsistentRead=True,
    )
    assert links["Items"] == []
