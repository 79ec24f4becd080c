"""The calendar end to end through the local stack: the calendar API behind the authorizer, the
calendar's reactions on the bus, and the Google emulator in the provider sandbox (the user consents
at its control endpoint, as they would on Google's page)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.receiver import Receiver

POLL_SECONDS = 60
EVENT = {
    "title": "Office hour",
    "start": {"dateTime": "2027-06-01T10:00:00", "timeZone": "America/New_York"},
    "end": {"dateTime": "2027-06-01T11:00:00", "timeZone": "America/New_York"},
}


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


@pytest.fixture(scope="module")
def admin(api_base, role_tokens) -> Client:
    return Client(api_base, role_tokens["admin"])


@pytest.fixture
def school(local_stack, api_base, admin) -> dict[str, Any]:
    """A weekly 18:00 course in New York across both DST changes, a student enrolled in it."""
    tag = uuid.uuid4().hex[:8]
    teacher = admin.request("POST", "/directory/teachers", {"email": f"t-{tag}@school.example", "name": "Tess"}).json()
    course = admin.request(
        "POST",
        "/directory/courses",
        {
            "title": f"Evening English {tag}",
            "price": {"amount": "100.00", "currency": "USD"},
            "timeZone": "America/New_York",
            "teacherId": teacher["id"],
        },
    ).json()
    made = admin.request(
        "POST",
        f"/directory/courses/{course['id']}/sessions",
        {
            "recurrence": {
                "daysOfWeek": ["MO"],
                "startTime": "18:00",
                "durationMinutes": 90,
                "fromDate": "2027-03-08",
                "count": 2,
            }
        },
    )
    assert made.status_code == 201, made.text
    fall = admin.request(
        "POST",
        f"/directory/courses/{course['id']}/sessions",
        {
            "recurrence": {
                "daysOfWeek": ["MO"],
                "startTime": "18:00",
                "durationMinutes": 90,
                "fromDate": "2027-11-01",
                "count": 2,
            }
        },
    )
    assert fall.status_code == 201, fall.text
    email = f"s-{tag}@example.com"
    student = admin.request("POST", "/directory/students", {"email": email, "name": "Sam"}).json()
    assert (
        admin.request(
            "POST", "/directory/enrollments", {"courseId": course["id"], "studentId": student["id"]}
        ).status_code
        == 201
    )
    me = Client(api_base, local_stack.token("student", student["id"]))
    return {"course": course, "student": student, "email": email, "me": me, "tag": tag}


def connect(local_stack, me: Client, email: str) -> dict[str, Any]:
    started = me.request("GET", "/google-calendar/authorize")
    assert started.status_code == 200, started.text
    query = parse_qs(urlsplit(started.json()["authorizationUrl"]).query)
    assert query["access_type"] == ["offline"] and query["code_challenge_method"] == ["S256"]
    assert (
        sandbox(
            local_stack,
            "GET",
            urlsplit(started.json()["authorizationUrl"]).path
            + "?"
            + urlsplit(started.json()["authorizationUrl"]).query,
        ).status_code
        == 200
    )
    consent = sandbox(
        local_stack,
        "POST",
        "/_sandbox/google/consent",
        {"state": started.json()["state"], "email": email, "decision": "allow"},
    )
    assert consent.status_code == 200, consent.text
    answer = me.request(
        "POST",
        "/google-calendar/authenticate",
        {"code": consent.json()["code"], "state": started.json()["state"], "email": email},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def google_events(local_stack, email: str) -> list[dict[str, Any]]:
    calendars = sandbox(local_stack, "GET", f"/_sandbox/google/calendars/{email}").json()["calendars"]
    return [e for c in calendars if c.get("summary") == "Classes" for e in c["events"]]


def oauth_calls(local_stack, email: str) -> dict[str, int]:
    return sandbox(local_stack, "GET", "/_sandbox/google/calls").json()["oauthByUser"].get(email, {})


def test_connect_sync_list_and_sync_again_without_duplicates_at_the_same_local_time(local_stack, school):
    me, email, course = school["me"], school["email"], school["course"]
    answer = connect(local_stack, me, email)
    assert answer["email"] == email and answer["isAuthenticated"] is True
    assert not {"accessToken", "refreshToken"} & set(answer) and "ya29" not in str(answer)
    # Enrolled before connecting: the reaction found no connection; an on-demand sync writes them.
    synced = me.request("POST", f"/google-calendar/sync-course/{course['id']}")
    assert synced.status_code == 200, synced.text
    assert synced.json()["eventsSynced"] == 4
    events = google_events(local_stack, email)
    assert len(events) == 4
    # 18:00 in New York on either side of both changes (14 March and 7 November 2027): the UTC
    # offset changes, the wall clock does not.
    assert sorted((e["start"]["dateTime"], e["start"].get("timeZone")) for e in events) == [
        ("2027-03-08T18:00:00-05:00", "America/New_York"),
        ("2027-03-15T18:00:00-04:00", "America/New_York"),
        ("2027-11-01T18:00:00-04:00", "America/New_York"),
        ("2027-11-08T18:00:00-05:00", "America/New_York"),
    ]
    again = me.request("POST", f"/google-calendar/sync-course/{course['id']}")
    assert again.json()["eventsSynced"] == 4 and len(google_events(local_stack, email)) == 4
    upcoming = me.request("GET", "/google-calendar/events", dayCount="365")
    assert upcoming.status_code == 200, upcoming.text
    status = me.request("GET", "/google-calendar/status").json()
    assert (status["connected"], status["email"], status["eventCount"]) == (True, email, 4)
    assert status["lastSyncedAt"] and status["nextReminderAt"]


def test_ten_concurrent_syncs_create_each_event_once(local_stack, school):
    me, email, course = school["me"], school["email"], school["course"]
    connect(local_stack, me, email)
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(
            pool.map(lambda _: me.request("POST", f"/google-calendar/sync-course/{course['id']}"), range(10))
        )
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers if a.status_code != 200]
    events = google_events(local_stack, email)
    assert len(events) == 4 and len({e["id"] for e in events}) == 4
    calendars = sandbox(local_stack, "GET", f"/_sandbox/google/calendars/{email}").json()["calendars"]
    assert [c["summary"] for c in calendars if c.get("summary") == "Classes"] == ["Classes"]


def test_moved_and_cancelled_sessions_follow_on_their_own(local_stack, school, admin):
    me, email, course = school["me"], school["email"], school["course"]
    connect(local_stack, me, email)
    me.request("POST", f"/google-calendar/sync-course/{course['id']}")
    sessions = admin.request("GET", f"/directory/courses/{course['id']}/sessions").json()["items"]
    moved = admin.request(
        "PATCH", f"/directory/courses/{course['id']}/sessions/{sessions[0]['id']}", {"startsAt": "2027-03-09T19:00:00"}
    )
    assert moved.status_code == 200, moved.text
    assert admin.request("DELETE", f"/directory/courses/{course['id']}/sessions/{sessions[1]['id']}").status_code == 204

    def followed():
        events = {e["start"]["dateTime"]: e["status"] for e in google_events(local_stack, email)}
        return (
            events.get("2027-03-09T19:00:00-05:00") == "confirmed"
            and events.get("2027-03-15T18:00:00-04:00") == "cancelled"
            and events
        )

    events = until(followed, "the move and the cancellation reached the calendar")
    assert "2027-03-08T18:00:00-05:00" not in events and len(google_events(local_stack, email)) == 4


def test_enrollment_and_unenrollment_sync_on_their_own(local_stack, school, admin, api_base):
    course = school["course"]
    email = f"late-{school['tag']}@example.com"
    late = admin.request("POST", "/directory/students", {"email": email, "name": "Lee"}).json()
    me = Client(api_base, local_stack.token("student", late["id"]))
    connect(local_stack, me, email)
    assert (
        admin.request("POST", "/directory/enrollments", {"courseId": course["id"], "studentId": late["id"]}).status_code
        == 201
    )
    until(
        lambda: len([e for e in google_events(local_stack, email) if e["status"] == "confirmed"]) == 4,
        "the classes appeared",
    )
    assert admin.request("DELETE", f"/directory/enrollments/{course['id']}/{late['id']}").status_code == 204
    until(lambda: {e["status"] for e in google_events(local_stack, email)} == {"cancelled"}, "the classes went")


def test_an_expired_token_is_refreshed_once_under_concurrency(local_stack, school):
    me, email = school["me"], school["email"]
    connect(local_stack, me, email)
    before = oauth_calls(local_stack, email).get("token.refresh_token", 0)
    # Google lets the access token expire early: ten calls at once get a 401 and need a new one.
    assert sandbox(local_stack, "POST", "/_sandbox/google/tokens/expire", {"email": email}).status_code == 200
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: me.request("POST", "/google-calendar/events", EVENT), range(10)))
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert oauth_calls(local_stack, email).get("token.refresh_token", 0) - before == 1


def test_invalid_grant_breaks_the_connection_publishes_and_is_not_retried(local_stack, school, api_base):
    me, email, course = school["me"], school["email"], school["course"]
    connect(local_stack, me, email)
    me.request("POST", f"/google-calendar/sync-course/{course['id']}")
    crm = Client(api_base, local_stack.token("service", f"svc_crm{school['tag']}"))
    with Receiver() as receiver:
        hook = crm.request("POST", "/webhooks", {"url": receiver.url("/crm"), "events": ["calendar_connection_broken"]})
        assert hook.status_code == 201, hook.text
        try:
            # The user removes the app at Google; the next refresh answers invalid_grant.
            assert sandbox(local_stack, "POST", "/_sandbox/google/grants/revoke", {"email": email}).status_code == 200
            assert sandbox(local_stack, "POST", "/_sandbox/google/tokens/expire", {"email": email}).status_code == 200
            first = me.request("GET", "/google-calendar/events")  # needs Google, so a new token
            assert first.status_code == 409, first.text
            refreshes = oauth_calls(local_stack, email).get("token.refresh_token", 0)
            for _ in range(5):
                assert me.request("GET", "/google-calendar/events").status_code == 409
                assert me.request("POST", f"/google-calendar/sync-course/{course['id']}").status_code == 409
            assert oauth_calls(local_stack, email).get("token.refresh_token", 0) == refreshes  # no retry storm
            status = me.request("GET", "/google-calendar/status").json()
            assert (status["status"], status["connected"]) == ("broken", False)
            assert "invalid_grant" in status["brokenReason"]
            mine = lambda: [r for r in receiver.at("/crm") if school["student"]["id"] in r.body.decode()]  # noqa: E731
            until(mine, "calendar_connection_broken reached the receiver")
            assert len(mine()) == 1
        finally:
            crm.request("DELETE", f"/webhooks/{hook.json()['webhookId']}")


def test_revoke_calls_google_and_forgets_the_connection(local_stack, school, admin):
    me, email = school["me"], school["email"]
    connect(local_stack, me, email)
    before = oauth_calls(local_stack, email).get("revoke", 0)
    assert me.request("DELETE", "/google-calendar/authorize").status_code == 204
    assert oauth_calls(local_stack, email).get("revoke", 0) == before + 1
    assert me.request("GET", "/google-calendar/status").json()["connected"] is False
    assert me.request("GET", "/google-calendar/events").status_code == 409


def test_another_users_status_and_a_course_not_taken_are_refused(local_stack, school, api_base):
    other = Client(api_base, local_stack.token("student", "stu_someoneelse1"))
    assert other.request("GET", "/google-calendar/status", userId=school["student"]["id"]).status_code == 403
    assert other.request("POST", f"/google-calendar/sync-course/{school['course']['id']}").status_code == 403


def test_google_tokens_appear_in_no_answer_and_no_log(local_stack, school):
    me, email, course = school["me"], school["email"], school["course"]
    answers = [connect(local_stack, me, email)]
    for method, path in (
        ("POST", f"/google-calendar/sync-course/{course['id']}"),
        ("GET", "/google-calendar/events"),
        ("GET", "/google-calendar/status"),
    ):
        answers.append(me.request(method, path).json())
    # The emulator's tokens look like Google's: access "ya29.a0...", refresh "1//0...".
    assert not [a for a in answers if "ya29." in str(a) or "1//0" in str(a)]
    logs = local_stack.state_dir / "logs"
    for name in ("CalendarFunction.log", "CalendarEventsFunction.log", "invocations.jsonl"):
        path = logs / name
        text = path.read_text(errors="replace") if path.exists() else ""
        assert "ya29." not in text and "1//0" not in text, name
