"""Video on Teams end to end through the local stack: the video API behind the authorizer (MSAL's
app-only token from the Graph emulator, onlineMeetings createOrGet and PATCH), the video event
handlers on the bus, the callbacks Function URL receiving Graph's change notifications, and the
Graph emulator's controls (a class starting and ending with its attendance report, a recording).
An irregular Zoom course is here too: one meeting per session, as Teams always is."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.video.test_join_links_and_deletion import zoom_api
from tests.e2e.video.test_zoom_meetings import Client, _events, _student, creates_by, sandbox, wait_for
from tests.support.receiver import Receiver

SESSIONS = 3


def graph(stack, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, f"{stack.sandbox_url}/_sandbox/graph{path}", json=body, timeout=30)


def graph_meetings(stack, organizer: str) -> list[dict[str, Any]]:
    """The organizer's online meetings as the Graph emulator holds them."""
    return [m for m in graph_state(stack, "meetings").values() if m["_organizer"] == organizer]


@pytest.fixture(scope="module")
def admin(api_base, role_tokens) -> Client:
    return Client(api_base, role_tokens["admin"])


def _course(admin: Client, teacher_email: str, days: list[str], count: int, first_in: int = 14) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    made = admin.post("/directory/teachers", {"email": teacher_email, "name": "Tess Teacher"})
    assert made.status_code == 201, made.text
    teacher = made.json()
    created = admin.post(
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
    first = date.today() + timedelta(days=first_in)
    sessions = admin.post(
        f"/directory/courses/{course_id}/sessions",
        {
            "recurrence": {
                "daysOfWeek": days,
                "startTime": "18:00",
                "durationMinutes": 60,
                "fromDate": first.isoformat(),
                "count": count,
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
        "students": students,
        "sessions": [s["id"] for s in sessions.json()["created"]],
    }


@pytest.fixture
def teams_course(local_stack, admin) -> dict[str, Any]:
    """A weekly course (three classes at 18:00 London, the first tomorrow, so that its meeting is
    subscribed to at once; two students) whose teacher is a user of the Microsoft tenant covered by
    the application access policy."""
    email = f"teacher-{uuid.uuid4().hex[:8]}@school.example"
    user = graph(local_stack, "POST", "/users", {"userPrincipalName": email, "displayName": "Tess"}).json()
    assert graph(local_stack, "POST", "/access-policy", {"user": email}).status_code == 200
    tomorrow = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][(date.today() + timedelta(days=1)).weekday()]
    return {**_course(admin, email, [tomorrow], SESSIONS, first_in=1), "graph_user": user}


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
    return admin.post("/video/teams", {"title": "English B2", "courseId": course["id"], "enableRecording": True})


def _attendees(meeting: dict[str, Any]) -> set[str]:
    return {a["upn"] for a in meeting["participants"]["attendees"]}


def test_a_teams_course_is_one_meeting_per_session_with_the_students_invited(
    local_stack, admin, teams_course, api_base
):
    created = _create(admin, teams_course)
    assert created.status_code == 201, created.text
    meeting = created.json()
    organizer = teams_course["graph_user"]["id"]
    at_graph = graph_meetings(local_stack, organizer)
    assert len(at_graph) == SESSIONS
    assert sorted(meeting["occurrences"].values()) == sorted(teams_course["sessions"])
    emails = {s["email"].lower() for s in teams_course["students"]}
    for online in at_graph:
        assert online["lobbyBypassSettings"]["scope"] == "invited"  # only the invited skip the lobby
        assert online["allowedPresenters"] == "organizer" and online["recordAutomatically"] is True
        assert _attendees(online) == emails
        assert online["externalId"].startswith(meeting["meetingId"] + ":")

    listed = admin.get(f"/video/teams/{meeting['meetingId']}/participants").json()["items"]
    assert sorted(p["studentId"] for p in listed) == sorted(s["id"] for s in teams_course["students"])
    again = _create(admin, teams_course)
    assert again.status_code == 201 and again.json()["meetingId"] == meeting["meetingId"]
    assert len(graph_meetings(local_stack, organizer)) == SESSIONS

    details = admin.get(f"/video/teams/{meeting['meetingId']}").json()
    assert details["settings"]["lobbyBypassScope"] == "invited"
    assert {o["session_id"] for o in details["occurrenceList"]} == set(teams_course["sessions"])
    ana = teams_course["students"][0]
    mine = Client(api_base, local_stack.token("student", ana["id"])).get(f"/video/teams/{meeting['meetingId']}")
    assert mine.status_code == 200 and mine.json()["joinUrl"] == meeting["joinUrl"]
    stranger = Client(api_base, local_stack.token("student", "stu_stranger0001"))
    assert stranger.get(f"/video/teams/{meeting['meetingId']}").status_code == 403

    # Graph has no operation that ends a meeting in progress: a clear problem saying what is possible.
    ended = admin.post(f"/video/teams/{meeting['meetingId']}/end", {})
    assert ended.status_code == 409, ended.text
    assert "End meeting" in ended.json()["detail"] and ended.json()["alternatives"]

    # Enrolling adds the student as an attendee of every session's meeting; unenrolling removes them.
    cleo = _student(admin, "cleo")
    assert (
        admin.post("/directory/enrollments", {"courseId": teams_course["id"], "studentId": cleo["id"]}).status_code
        == 201
    )

    def invited_everywhere(email: str) -> bool:
        return all(email in _attendees(m) for m in graph_meetings(local_stack, organizer))

    assert wait_for(lambda: invited_everywhere(cleo["email"].lower()))
    assert admin.delete(f"/directory/enrollments/{teams_course['id']}/{ana['id']}").status_code == 204
    assert wait_for(
        lambda: all(ana["email"].lower() not in _attendees(m) for m in graph_meetings(local_stack, organizer))
    )
    assert invited_everywhere(teams_course["students"][1]["email"].lower())


def test_a_missing_access_policy_names_the_policy_and_its_commands_and_nothing_is_half_made(local_stack, admin):
    email = f"teacher-{uuid.uuid4().hex[:8]}@school.example"
    user = graph(local_stack, "POST", "/users", {"userPrincipalName": email}).json()
    course = _course(admin, email, ["TU"], 2)
    refused = _create(admin, course)
    assert refused.status_code == 502, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/teams-access-policy-missing")
    assert "application access policy" in problem["detail"]
    assert (
        "New-CsApplicationAccessPolicy" in problem["detail"] and "Grant-CsApplicationAccessPolicy" in problem["detail"]
    )
    assert graph_meetings(local_stack, user["id"]) == []

    assert graph(local_stack, "POST", "/access-policy", {"user": email}).status_code == 200
    created = _create(admin, course)
    assert created.status_code == 201, created.text
    assert len(graph_meetings(local_stack, user["id"])) == 2


def test_graph_notifications_publish_course_events_recordings_and_merged_attendance(
    local_stack, admin, teams_course, receiver
):
    meeting = _create(admin, teams_course).json()
    organizer = teams_course["graph_user"]["id"]
    first_session = min(
        graph_meetings(local_stack, organizer), key=lambda m: m["startDateTime"]
    )  # the first class's meeting
    online_id = first_session["id"]
    ana, ben = teams_course["students"]
    start = datetime.fromisoformat(first_session["startDateTime"].replace("Z", "+00:00").split(".")[0]).replace(
        tzinfo=UTC
    )

    def at(minutes: int) -> str:
        return (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert graph(local_stack, "POST", f"/meetings/{online_id}/start").json()["notified"] == 1
    report = {  # Ana drops out twice and comes back: three intervals; Ben never comes
        "start": at(0),
        "end": at(60),
        "attendees": [
            {"email": ana["email"], "name": "Ana", "intervals": [[at(0), at(20)], [at(25), at(40)], [at(45), at(60)]]}
        ],
    }
    assert graph(local_stack, "POST", f"/meetings/{online_id}/end", report).json()["notified"] == 1
    assert graph(local_stack, "POST", f"/meetings/{online_id}/recordings", {}).json()["notified"] == 1

    for kind in ("course_started", "course_ended", "recording_ready", "attendance_recorded"):
        assert wait_for(lambda kind=kind: _events(receiver, kind), seconds=60), kind
    session_id = meeting["occurrences"][f"{organizer}|{online_id}"]
    [started] = _events(receiver, "course_started")
    assert started["data"]["sessionId"] == session_id and started["data"]["meetingId"] == meeting["meetingId"]
    assert len(_events(receiver, "course_ended")) == 1
    [ready] = _events(receiver, "recording_ready")
    assert ready["data"]["provider"] == "teams" and ready["data"]["sessionId"] == session_id
    [recorded] = _events(receiver, "attendance_recorded")
    assert (recorded["data"]["attended"], recorded["data"]["absent"]) == ([ana["id"]], [ben["id"]])
    assert recorded["data"]["sessionId"] == session_id

    attendance = admin.get(f"/video/teams/{meeting['meetingId']}/analytics").json()
    [occurrence] = attendance["occurrences"]
    [attendee] = occurrence["attendees"]
    assert attendee["studentId"] == ana["id"] and attendee["segments"] == 3
    assert float(attendee["minutes"]) == 50 and attendee["attendedShare"] == "0.833"
    assert occurrence["absent"] == [ben["id"]] and occurrence["sessionId"] == session_id
    recordings = admin.get(f"/video/teams/{meeting['meetingId']}/recordings").json()
    [item] = recordings["items"]
    assert item["sessionId"] == session_id and item["files"][0]["playUrl"].endswith("/content")
    assert len(_events(receiver, "attendance_recorded")) == 1  # reading it again publishes nothing


def test_the_validation_handshake_is_plain_text_and_a_wrong_client_state_is_refused(local_stack, admin, teams_course):
    url = local_stack.state["functionUrls"]["VideoCallbacksFunction"].rstrip("/") + "/teams"
    token = "Validation: Testing client application reachability for subscription Request-Id: 1"
    answer = httpx.post(url, params={"validationToken": token}, timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert answer.text == token

    meeting = _create(admin, teams_course).json()
    online_id = meeting["providerMeetingId"].split("|")[1]
    forged = {
        "value": [
            {
                "subscriptionId": str(uuid.uuid4()),
                "changeType": "updated",
                "clientState": "not-our-client-state",
                "resource": "communications/onlineMeetings/?$filter=JoinWebUrl eq 'x'",
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.onlineMeeting",
                    "id": online_id,
                    "eventType": "callStarted",
                },
            }
        ]
    }
    refused = httpx.post(url, content=json.dumps(forged), headers={"Content-Type": "application/json"}, timeout=30)
    assert refused.status_code == 400 and "clientState" in refused.json()["detail"]
    # Through the emulator too: a notification with another clientState is refused at delivery.
    subscriptions = graph_state(local_stack, "subscriptions")
    mine = next(s for s in subscriptions.values() if meeting["joinUrl"] in s["resource"])
    sent = graph(local_stack, "POST", "/notify", {"subscriptionId": mine["id"], "clientState": "forged"}).json()
    assert wait_for(lambda: _deliveries(local_stack, sent["notificationId"]))[0] == 400


def graph_state(stack, collection: str) -> dict[str, Any]:
    state = httpx.get(f"{stack.sandbox_url}/_sandbox/graph/state", timeout=30).json()
    found: dict[str, Any] = state.get(collection, {})
    return found


def _deliveries(stack, notification_id: str) -> list[int]:
    for record in graph(stack, "GET", "/notifications").json():
        if record["id"] == notification_id:
            return list(record["deliveries"])
    return []


def test_graph_throttling_outage_and_timeout_are_clear_and_nothing_is_half_created(local_stack, admin, teams_course):
    faults = f"{local_stack.sandbox_url}/_sandbox/faults"
    latency = f"{local_stack.sandbox_url}/_sandbox/latency"
    organizer = teams_course["graph_user"]["id"]
    create_path = f"/v1.0/users/{organizer}/onlineMeetings/createOrGet"
    httpx.post(faults, json={"provider": "graph", "status": 500, "count": 3, "pathPrefix": create_path}, timeout=10)
    failed = _create(admin, teams_course)
    assert failed.status_code == 503, failed.text
    assert int(failed.headers["Retry-After"]) >= 1 and "Microsoft Graph" in failed.json()["detail"]
    assert graph_meetings(local_stack, organizer) == []

    httpx.post(latency, json={"provider": "graph", "ms": 6000}, timeout=10)
    try:
        slow = _create(admin, teams_course)
    finally:
        httpx.post(latency, json={"provider": "graph", "ms": 0}, timeout=10)
    assert slow.status_code == 503, slow.text
    assert "did not answer in time" in slow.json()["detail"] or "cannot be reached" in slow.json()["detail"]

    # A passing 429 with Retry-After is waited out; the meetings a timed-out call may have made are
    # found again by their externalId: one per session, never two.
    httpx.post(
        faults,
        json={"provider": "graph", "status": 429, "retryAfter": 1, "count": 1, "pathPrefix": create_path},
        timeout=10,
    )
    created = _create(admin, teams_course)
    assert created.status_code == 201, created.text
    assert len(graph_meetings(local_stack, organizer)) == SESSIONS


def test_an_irregular_zoom_course_is_one_meeting_per_session_with_a_link_each_all_deleted_with_it(
    local_stack, admin, api_base
):
    email = f"teacher-{uuid.uuid4().hex[:8]}@school.example"
    zoom_user = sandbox(local_stack, "POST", "/users", {"email": email}).json()
    course = _course(admin, email, ["MO"], 2)
    extra = admin.post(  # a third class on a Thursday, at another time: no weekly rule fits
        f"/directory/courses/{course['id']}/sessions",
        {"sessions": [{"startsAt": f"{date.today() + timedelta(days=24)}T10:00:00+00:00", "durationMinutes": 90}]},
    )
    assert extra.status_code in (200, 201), extra.text
    created = admin.post("/video/zoom", {"title": "English B2", "courseId": course["id"], "enableRecording": False})
    assert created.status_code == 201, created.text
    meeting = created.json()
    assert creates_by(local_stack, zoom_user["id"]) == 3
    assert len(meeting["occurrences"]) == 3
    listed = admin.get(f"/video/zoom/{meeting['meetingId']}/participants").json()["items"]
    assert sorted(p["studentId"] for p in listed) == sorted(s["id"] for s in course["students"])
    again = admin.post("/video/zoom", {"title": "English B2", "courseId": course["id"]})
    assert again.json()["meetingId"] == meeting["meetingId"] and creates_by(local_stack, zoom_user["id"]) == 3

    # Each student sees their own link of each session's meeting, one per class.
    ana = course["students"][0]
    shown = Client(api_base, local_stack.token("student", ana["id"])).get(f"/directory/courses/{course['id']}/sessions")
    links = {s["id"]: s["joinUrl"] for s in shown.json()["items"]}
    assert set(links) == set(meeting["occurrences"].values()) and len(set(links.values())) == 3
    for zoom_id, session_id in meeting["occurrences"].items():
        assert f"/zoom/w/{zoom_id}?" in links[session_id]  # that session's meeting, Ana's registration

    # The course's deletion deletes every session's Zoom meeting.
    for student in course["students"]:
        assert admin.delete(f"/directory/enrollments/{course['id']}/{student['id']}").status_code == 204
    assert admin.delete(f"/directory/courses/{course['id']}").status_code == 204
    for zoom_id in meeting["occurrences"]:
        deleted = wait_for(lambda z=zoom_id: zoom_api(local_stack, "GET", f"/meetings/{z}").status_code == 404, 120)
        assert deleted, zoom_id


def test_each_teams_session_shows_its_own_meetings_link_and_the_courses_deletion_deletes_every_meeting(
    local_stack, admin, teams_course, api_base
):
    meeting = _create(admin, teams_course).json()
    organizer = teams_course["graph_user"]["id"]
    at_graph = {m["id"]: m for m in graph_meetings(local_stack, organizer)}
    assert len(at_graph) == SESSIONS
    by_session = {sid: at_graph[pid.split("|")[-1]]["joinWebUrl"] for pid, sid in meeting["occurrences"].items()}
    assert len(set(by_session.values())) == SESSIONS  # each class its own meeting and link

    # The sessions view: a student, and the teacher, see each class's own meeting link.
    ana = teams_course["students"][0]
    for who in (("student", ana["id"]), ("teacher", teams_course["teacher"]["id"])):
        me = Client(api_base, local_stack.token(*who))
        shown = me.get(f"/directory/courses/{teams_course['id']}/sessions")
        assert shown.status_code == 200, shown.text
        assert {s["id"]: s["joinUrl"] for s in shown.json()["items"]} == by_session, who
    subscribed = [
        s
        for s in graph_state(local_stack, "subscriptions").values()
        if any(m["id"] in s["resource"] or m["joinWebUrl"] in s["resource"] for m in at_graph.values())
    ]
    assert subscribed  # the first class is tomorrow: its meeting is subscribed to at once

    for student in teams_course["students"]:
        left = admin.delete(f"/directory/enrollments/{teams_course['id']}/{student['id']}")
        assert left.status_code == 204, left.text
    assert admin.delete(f"/directory/courses/{teams_course['id']}").status_code == 204
    assert wait_for(lambda: graph_meetings(local_stack, organizer) == [], seconds=120), "Graph's meetings deleted"
    assert admin.get(f"/video/teams/{meeting['meetingId']}").status_code == 404
    gone = {s["id"] for s in subscribed}
    assert wait_for(lambda: not gone & set(graph_state(local_stack, "subscriptions")), seconds=60)
