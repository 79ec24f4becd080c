"""Video on Zoom end to end through the local stack: the video API behind the authorizer, the
video event handlers on the bus, the callbacks Function URL, and the Zoom emulator's controls
(a teacher starting the class, students joining and leaving, the recording finishing)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from integration_core.ids import stable_id
from tests.support.receiver import Receiver


class Client:
    def __init__(self, api: str, token: str) -> None:
        self.api = api
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.api + path, json=body, headers=self.headers, timeout=60)

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.api + path, params=params, headers=self.headers, timeout=60)

    def delete(self, path: str) -> httpx.Response:
        return httpx.delete(self.api + path, headers=self.headers, timeout=60)


def sandbox(stack, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, f"{stack.sandbox_url}/_sandbox/zoom{path}", json=body, timeout=30)


def wait_for(predicate, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def zoom_api(stack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    token = httpx.post(
        f"{stack.sandbox_url}/zoom/oauth/token",
        params={"grant_type": "account_credentials", "account_id": "local-zoom-account"},
        auth=("local-zoom-client", "local-zoom-secret"),
        timeout=30,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.request(method, f"{stack.sandbox_url}/zoom/v2{path}", headers=headers, timeout=30, **kwargs)


def creates_by(stack, zoom_user_id: str) -> int:
    used = sandbox(stack, "GET", "/quota").json()["used"]
    return sum(n for key, n in used.items() if key.startswith(zoom_user_id + ":"))


@pytest.fixture(scope="module")
def admin(api_base, role_tokens) -> Client:
    return Client(api_base, role_tokens["admin"])


def _student(admin: Client, tag: str) -> dict[str, Any]:
    body = {"email": f"{tag}-{uuid.uuid4().hex[:8]}@school.example", "name": f"{tag.title()} Learner"}
    created = admin.post("/directory/students", body)
    assert created.status_code == 201, created.text
    return created.json()


@pytest.fixture
def course(local_stack, admin) -> dict[str, Any]:
    """A weekly course (Mondays and Wednesdays 18:00 London, six classes) with two students,
    taught by a teacher who has a Zoom user."""
    tag = uuid.uuid4().hex[:8]
    email = f"teacher-{tag}@school.example"
    zoom_user = sandbox(local_stack, "POST", "/users", {"email": email}).json()
    teacher = admin.post("/directory/teachers", {"email": email, "name": "Tess Teacher"}).json()
    created = admin.post(
        "/directory/courses",
        {
            "title": f"English B1 {tag}",
            "price": {"amount": "100.00", "currency": "EUR"},
            "timeZone": "Europe/London",
            "teacherId": teacher["id"],
        },
    )
    assert created.status_code == 201, created.text
    course_id = created.json()["id"]
    first = date.today() + timedelta(days=14)
    sessions = admin.post(
        f"/directory/courses/{course_id}/sessions",
        {
            "recurrence": {
                "daysOfWeek": ["MO", "WE"],
                "startTime": "18:00",
                "durationMinutes": 60,
                "fromDate": first.isoformat(),
                "count": 6,
            }
        },
    )
    assert sessions.status_code in (200, 201), sessions.text
    students = [_student(admin, "ana"), _student(admin, "ben")]
    for s in students:
        enrolled = admin.post("/directory/enrollments", {"courseId": course_id, "studentId": s["id"]})
        assert enrolled.status_code == 201, enrolled.text
    return {
        "id": course_id,
        "teacher": teacher,
        "zoom_user": zoom_user,
        "students": students,
        "sessions": [s["id"] for s in sessions.json()["created"]],
    }


@pytest.fixture
def receiver(local_stack, api_base) -> Iterator[Receiver]:
    client = Client(api_base, local_stack.token("service", f"svc_lms{uuid.uuid4().hex[:6]}"))
    with Receiver() as heard:
        types = ["course_started", "course_ended", "recording_ready", "attendance_recorded"]
        hook = client.post("/webhooks", {"url": heard.url("/lms"), "events": types})
        assert hook.status_code == 201, hook.text
        yield heard
        client.delete(f"/webhooks/{hook.json()['webhookId']}")


def _create(admin: Client, course: dict[str, Any]) -> httpx.Response:
    return admin.post("/video/zoom", {"title": "English B1", "courseId": course["id"], "enableRecording": True})


def test_a_weekly_course_costs_one_create_and_registers_every_student(local_stack, admin, course, api_base):
    created = _create(admin, course)
    assert created.status_code == 201, created.text
    meeting = created.json()
    assert creates_by(local_stack, course["zoom_user"]["id"]) == 1
    assert meeting["recordingEnabled"] is True and meeting["duration"] == 60
    assert sorted(meeting["occurrences"].values()) == sorted(course["sessions"])
    at_zoom = zoom_api(local_stack, "GET", f"/meetings/{meeting['providerMeetingId']}").json()
    assert at_zoom["type"] == 8 and at_zoom["host_email"] == course["teacher"]["email"]
    assert at_zoom["settings"]["waiting_room"] is True and at_zoom["settings"]["join_before_host"] is False
    assert at_zoom["settings"]["mute_upon_entry"] is True and at_zoom["settings"]["approval_type"] == 0

    listed = admin.get(f"/video/zoom/{meeting['meetingId']}/participants").json()["items"]
    assert sorted(p["studentId"] for p in listed) == sorted(s["id"] for s in course["students"])
    assert len({p["joinUrl"] for p in listed}) == 2

    again = _create(admin, course)
    assert again.json()["meetingId"] == meeting["meetingId"]
    assert creates_by(local_stack, course["zoom_user"]["id"]) == 1

    # A student of the course sees the meeting with their own link; one of another course is refused.
    ana = course["students"][0]
    mine = Client(api_base, local_stack.token("student", ana["id"])).get(f"/video/zoom/{meeting['meetingId']}")
    assert mine.status_code == 200, mine.text
    assert mine.json()["joinUrl"] == next(p["joinUrl"] for p in listed if p["studentId"] == ana["id"])
    stranger = Client(api_base, local_stack.token("student", "stu_stranger0001"))
    assert stranger.get(f"/video/zoom/{meeting['meetingId']}").status_code == 403

    # Enrolling a new student registers them; unenrolling cancels the registration.
    cleo = _student(admin, "cleo")
    assert admin.post("/directory/enrollments", {"courseId": course["id"], "studentId": cleo["id"]}).status_code == 201

    def registered() -> set[str]:
        items = admin.get(f"/video/zoom/{meeting['meetingId']}/participants").json()["items"]
        return {p["studentId"] for p in items}

    assert cleo["id"] in wait_for(lambda: cleo["id"] in registered() and registered())
    assert admin.delete(f"/directory/enrollments/{course['id']}/{ana['id']}").status_code == 204
    assert wait_for(lambda: ana["id"] not in registered())

    # At Zoom, Ana's registration is cancelled (Zoom lists it as denied) and the others stay approved.
    def at_zoom(status: str) -> set[str]:
        path = f"/meetings/{meeting['providerMeetingId']}/registrants"
        return {r["email"] for r in zoom_api(local_stack, "GET", path, params={"status": status}).json()["registrants"]}

    assert at_zoom("denied") == {ana["email"]}
    assert at_zoom("approved") == {course["students"][1]["email"], cleo["email"]}


def test_the_daily_quota_is_a_clear_429_and_nothing_is_half_created(local_stack, admin, course):
    sandbox(local_stack, "POST", "/quota", {"userId": course["zoom_user"]["id"], "used": 100})
    refused = _create(admin, course)
    assert refused.status_code == 429, refused.text
    problem = refused.json()
    assert problem["resetsAt"].endswith("T00:00:00Z") and "UTC midnight" in problem["detail"]
    assert int(refused.headers["Retry-After"]) == problem["retryAfter"] > 0
    sandbox(local_stack, "POST", "/quota", {"userId": course["zoom_user"]["id"], "used": 0})
    created = _create(admin, course)
    assert created.status_code == 201, created.text
    assert creates_by(local_stack, course["zoom_user"]["id"]) == 1


def test_a_retry_after_a_crash_between_create_and_store_reuses_the_meeting(local_stack, admin, course):
    # What a crash leaves behind: Zoom's meeting, made with our reference, and nothing stored.
    reference = "ref:" + stable_id("meeting", course["id"])
    orphan = zoom_api(
        local_stack,
        "POST",
        f"/users/{course['zoom_user']['id']}/meetings",
        json={
            "topic": "English B1",
            "type": 2,
            "start_time": "2030-01-07T18:00:00Z",
            "duration": 60,
            "agenda": reference,
            "settings": {"approval_type": 0, "registration_type": 1},
        },
    ).json()
    created = _create(admin, course)
    assert created.status_code == 201, created.text
    assert created.json()["providerMeetingId"] == str(orphan["id"])
    assert creates_by(local_stack, course["zoom_user"]["id"]) == 1


def _events(heard: Receiver, kind: str) -> list[dict[str, Any]]:
    bodies = [json.loads(r.body) for r in heard.at("/lms")]
    return [b for b in bodies if b.get("type") == kind or b.get("eventType") == kind]


def test_callbacks_publish_course_events_recordings_and_merged_attendance(local_stack, admin, course, receiver):
    assert sandbox(local_stack, "POST", "/webhook/validate").json()["validated"] is True
    meeting = _create(admin, course).json()
    zoom_id = meeting["providerMeetingId"]
    ana, ben = course["students"]
    links = {
        p["studentId"]: p["joinUrl"]
        for p in admin.get(f"/video/zoom/{meeting['meetingId']}/participants").json()["items"]
    }

    assert sandbox(local_stack, "POST", f"/meetings/{zoom_id}/start").status_code == 200
    for _ in range(2):  # Ana drops out once and comes back
        assert (
            sandbox(
                local_stack, "POST", f"/meetings/{zoom_id}/participants/join", {"joinUrl": links[ana["id"]]}
            ).status_code
            == 200
        )
        assert (
            sandbox(local_stack, "POST", f"/meetings/{zoom_id}/participants/leave", {"email": ana["email"]}).status_code
            == 200
        )
    assert (
        sandbox(
            local_stack, "POST", f"/meetings/{zoom_id}/participants/join", {"joinUrl": links[ana["id"]]}
        ).status_code
        == 200
    )
    assert sandbox(local_stack, "POST", f"/meetings/{zoom_id}/end").status_code == 200
    assert sandbox(local_stack, "POST", f"/meetings/{zoom_id}/recording/complete").status_code == 200

    for kind in ("course_started", "course_ended", "recording_ready", "attendance_recorded"):
        assert wait_for(lambda kind=kind: _events(receiver, kind)), kind
    # A replayed delivery (Zoom retries) changes nothing and publishes nothing again.
    sent = sandbox(local_stack, "GET", "/events").json()
    started = next(e for e in (sent if isinstance(sent, list) else sent["events"]) if e["event"] == "meeting.started")
    assert sandbox(local_stack, "POST", f"/events/{started['id']}/send").json()["status"] == 200
    forged = sandbox(local_stack, "POST", f"/events/{started['id']}/send", {"secretToken": "not-the-secret"})
    assert forged.json()["status"] == 400
    stale = sandbox(local_stack, "POST", f"/events/{started['id']}/send", {"timestamp": int(time.time()) - 3600})
    assert stale.json()["status"] == 400
    [started_event] = _events(receiver, "course_started")
    assert started_event["data"]["sessionId"] in course["sessions"]
    assert started_event["data"]["meetingId"] == meeting["meetingId"]
    assert len(_events(receiver, "course_ended")) == 1
    ready = _events(receiver, "recording_ready")
    assert len(ready) == 1 and {f["fileType"] for f in ready[0]["data"]["files"]} >= {"MP4"}

    attendance = admin.get(f"/video/zoom/{meeting['meetingId']}/analytics").json()
    [occurrence] = attendance["occurrences"]
    [attendee] = [a for a in occurrence["attendees"] if a["studentId"] == ana["id"]]
    assert attendee["segments"] == 3
    assert occurrence["absent"] == [ben["id"]]
    recorded = _events(receiver, "attendance_recorded")[0]["data"]
    assert (recorded["attended"], recorded["absent"]) == ([ana["id"]], [ben["id"]])
    assert recorded["sessionId"] == started_event["data"]["sessionId"]
    assert _events(receiver, "course_ended")[0]["data"]["sessionId"] == started_event["data"]["sessionId"]
    recordings = admin.get(f"/video/zoom/{meeting['meetingId']}/recordings").json()
    assert recordings["items"] and recordings["items"][0]["files"]


def test_a_passing_429_with_retry_after_is_waited_out(local_stack, admin, course):
    faults = f"{local_stack.sandbox_url}/_sandbox/faults"
    user = course["zoom_user"]["id"]
    # A passing 429 with Retry-After is waited out by the shared client: the meeting is made.
    httpx.post(
        faults, json={"provider": "zoom", "status": 429, "retryAfter": 1, "pathPrefix": "/v2/users/"}, timeout=10
    )
    assert _create(admin, course).status_code == 201
    assert creates_by(local_stack, user) == 1


def test_a_zoom_outage_or_timeout_is_a_503_with_a_retry_hint_and_nothing_half_created(local_stack, admin, course):
    faults = f"{local_stack.sandbox_url}/_sandbox/faults"
    user = course["zoom_user"]["id"]
    httpx.post(faults, json={"provider": "zoom", "status": 500, "count": 3, "pathPrefix": "/v2/users/"}, timeout=10)
    failed = _create(admin, course)
    assert failed.status_code == 503, failed.text
    assert int(failed.headers["Retry-After"]) >= 1 and "Zoom" in failed.json()["detail"]
    assert creates_by(local_stack, user) == 0

    latency = f"{local_stack.sandbox_url}/_sandbox/latency"
    httpx.post(latency, json={"provider": "zoom", "ms": 6000}, timeout=10)
    try:
        slow = _create(admin, course)
    finally:
        httpx.post(latency, json={"provider": "zoom", "ms": 0}, timeout=10)
    assert slow.status_code == 503, slow.text
    assert "did not answer in time" in slow.json()["detail"]

    created = _create(admin, course)
    assert created.status_code == 201, created.text
    assert creates_by(local_stack, user) == 1
