"""The Microsoft Graph emulator: the app-only token through MSAL, onlineMeetings (with names checked
against Graph's v1.0 metadata), the application access policy's 403, attendance reports,
recordings, and subscriptions with the validationToken handshake and notifications carrying
clientState."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from offline.http import Response

from .conftest import GRAPH_SCOPE, wait_for

TEACHER = "teacher@school.example"
MEETING = {
    "subject": "B2 English, Monday",
    "startDateTime": "2030-03-04T17:00:00Z",
    "endDateTime": "2030-03-04T18:30:00Z",
    "lobbyBypassSettings": {"scope": "invited", "isDialInBypassEnabled": False},
    "allowedPresenters": "organizer",
    "recordAutomatically": True,
    "participants": {
        "attendees": [
            {"upn": "ana@example.com", "role": "attendee", "identity": {"user": {"displayName": "Ana"}}},
            {"upn": "ben@example.com", "role": "attendee"},
        ]
    },
}


def _teacher(graph, policy=True):
    user = graph.control("POST", "/users", userPrincipalName=TEACHER, displayName="Teacher").json()
    if policy:
        assert graph.control("POST", "/access-policy", user=TEACHER).status_code == 200
    return user


def _meeting(graph, headers, user, body=MEETING):
    answer = graph.http.post(f"{graph.api}/users/{user['id']}/onlineMeetings", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _expiry(minutes=60):
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def test_msal_gets_an_app_only_token_and_keeps_it_in_its_cache(graph):
    app = graph.msal_app()
    first = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert first["token_type"] == "Bearer" and first["access_token"]
    second = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert second["access_token"] == first["access_token"] and second.get("token_source") == "cache"
    wrong = graph.msal_app(secret="wrong").acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert wrong["error"] == "invalid_client"
    # MSAL's instance discovery, pointed at the emulator, works too.
    discovered = graph.msal_app(
        instance_discovery=f"{graph.authority.rsplit('/', 1)[0]}/common/discovery/instance"
    ).acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in discovered, discovered


def test_online_meetings_are_created_read_updated_and_deleted_for_the_organizer(graph):
    headers = graph.headers()
    user = _teacher(graph)
    meeting = _meeting(graph, headers, user)
    assert meeting["joinWebUrl"] and meeting["subject"] == MEETING["subject"]
    assert meeting["lobbyBypassSettings"]["scope"] == "invited"
    assert [a["upn"] for a in meeting["participants"]["attendees"]] == ["ana@example.com", "ben@example.com"]
    assert meeting["participants"]["organizer"]["identity"]["user"]["id"] == user["id"]
    url = f"{graph.api}/users/{user['id']}/onlineMeetings/{meeting['id']}"
    attendees = {"attendees": [*MEETING["participants"]["attendees"], {"upn": "cid@example.com", "role": "attendee"}]}
    patched = graph.http.patch(url, json={"participants": attendees}, headers=headers)
    assert patched.status_code == 200 and len(patched.json()["participants"]["attendees"]) == 3
    assert graph.http.get(url, headers=headers).json()["participants"]["attendees"][2]["upn"] == "cid@example.com"
    by_upn = graph.http.get(f"{graph.api}/users/{TEACHER}/onlineMeetings/{meeting['id']}", headers=headers)
    assert by_upn.status_code == 200
    assert graph.http.delete(url, headers=headers).status_code == 204
    assert graph.http.get(url, headers=headers).status_code == 404


def test_create_or_get_by_external_id_creates_once(graph):
    headers = graph.headers()
    user = _teacher(graph)
    body = {
        "externalId": "course-42",
        "subject": "B2",
        "startDateTime": "2030-03-04T17:00:00Z",
        "endDateTime": "2030-03-04T18:30:00Z",
    }
    url = f"{graph.api}/users/{user['id']}/onlineMeetings/createOrGet"
    first = graph.http.post(url, json=body, headers=headers)
    again = graph.http.post(url, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


def test_names_graph_does_not_define_are_refused_with_the_metadatas_words(graph):
    headers = graph.headers()
    user = _teacher(graph)
    typo = {**MEETING, "lobbyBypassSetting": {"scope": "invited"}}
    answer = graph.http.post(f"{graph.api}/users/{user['id']}/onlineMeetings", json=typo, headers=headers)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "BadRequest"
    assert "lobbyBypassSetting" in error["message"] and "microsoft.graph.onlineMeeting" in error["message"]
    bad_enum = {**MEETING, "lobbyBypassSettings": {"scope": "students"}}
    enum = graph.http.post(f"{graph.api}/users/{user['id']}/onlineMeetings", json=bad_enum, headers=headers)
    assert enum.status_code == 400 and enum.json()["error"]["details"][0]["target"] == "/lobbyBypassSettings/scope"
    segment = graph.http.get(f"{graph.api}/users/{user['id']}/onlineMeeting", headers=headers)
    assert segment.status_code == 400 and "onlineMeeting" in segment.json()["error"]["message"]
    violations = graph.http.get(f"{graph.url}/_sandbox/violations?provider=graph").json()
    assert len(violations) >= 3


def test_without_the_application_access_policy_graph_answers_403(graph):
    headers = graph.headers()
    user = _teacher(graph, policy=False)
    denied = graph.http.post(f"{graph.api}/users/{user['id']}/onlineMeetings", json=MEETING, headers=headers)
    assert denied.status_code == 403
    assert denied.json()["error"]["message"] == "No application access policy found for this app."
    graph.control("POST", "/access-policy", user=user["id"])
    assert (
        graph.http.post(f"{graph.api}/users/{user['id']}/onlineMeetings", json=MEETING, headers=headers).status_code
        == 201
    )
    other = graph.control("POST", "/users", userPrincipalName="other@school.example").json()
    assert (
        graph.http.post(f"{graph.api}/users/{other['id']}/onlineMeetings", json=MEETING, headers=headers).status_code
        == 403
    )
    graph.control("POST", "/access-policy", **{"global": True})
    assert (
        graph.http.post(f"{graph.api}/users/{other['id']}/onlineMeetings", json=MEETING, headers=headers).status_code
        == 201
    )


def test_an_ended_meeting_has_an_attendance_report_with_each_interval_and_a_recording(graph):
    headers = graph.headers()
    user = _teacher(graph)
    meeting = _meeting(graph, headers, user)
    ended = graph.control(
        "POST",
        f"/meetings/{meeting['id']}/end",
        attendees=[
            {
                "email": "ana@example.com",
                "name": "Ana",
                "intervals": [
                    ["2030-03-04T17:00:00Z", "2030-03-04T17:20:00Z"],
                    ["2030-03-04T17:30:00Z", "2030-03-04T18:30:00Z"],
                ],
            },
            {"email": TEACHER, "role": "Organizer"},
        ],
    ).json()
    base = f"{graph.api}/users/{user['id']}/onlineMeetings/{meeting['id']}"
    reports = graph.http.get(f"{base}/attendanceReports", headers=headers).json()["value"]
    assert [r["id"] for r in reports] == [ended["reportId"]] and reports[0]["totalParticipantCount"] == 2
    records = graph.http.get(f"{base}/attendanceReports/{ended['reportId']}/attendanceRecords", headers=headers).json()[
        "value"
    ]
    ana = next(r for r in records if r["emailAddress"] == "ana@example.com")
    assert ana["totalAttendanceInSeconds"] == 80 * 60
    assert [i["durationInSeconds"] for i in ana["attendanceIntervals"]] == [1200, 3600]
    recording = graph.control("POST", f"/meetings/{meeting['id']}/recordings").json()
    listed = graph.http.get(f"{base}/recordings", headers=headers).json()["value"]
    assert [r["id"] for r in listed] == [recording["recordingId"]]
    content = graph.http.get(f"{base}/recordings/{recording['recordingId']}/content", headers=headers)
    assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"


def test_a_subscription_is_created_only_after_the_validation_handshake(graph):
    headers = graph.headers()
    user = _teacher(graph)
    meeting = _meeting(graph, headers, user)
    body = {
        "changeType": "created",
        "notificationUrl": graph.hook,
        "resource": f"users/{user['id']}/onlineMeetings/{meeting['id']}/recordings",
        "expirationDateTime": _expiry(),
        "clientState": "s3cret-state",
    }
    created = graph.http.post(f"{graph.api}/subscriptions", json=body, headers=headers)
    assert created.status_code == 201, created.text
    (token,) = graph.receiver.graph_validations
    assert token.startswith("Validation: ")  # the receiver got it URL-decoded, spaces and all
    graph.receiver.graph_answer = lambda token: Response(200, [("Content-Type", "application/json")], b'"x"')
    refused = graph.http.post(f"{graph.api}/subscriptions", json=body, headers=headers)
    assert refused.status_code == 400 and "validation request failed" in refused.json()["error"]["message"]
    too_long = graph.http.post(
        f"{graph.api}/subscriptions", json={**body, "expirationDateTime": _expiry(5000)}, headers=headers
    )
    assert too_long.status_code == 400 and "4230 minutes" in too_long.json()["error"]["message"]
    subscription = created.json()
    renewed = graph.http.patch(
        f"{graph.api}/subscriptions/{subscription['id']}", json={"expirationDateTime": _expiry(4000)}, headers=headers
    )
    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"] > subscription["expirationDateTime"]


def test_notifications_carry_the_client_state_and_a_forged_one_can_be_sent(graph):
    headers = graph.headers()
    user = _teacher(graph)
    meeting = _meeting(graph, headers, user)
    recordings = graph.http.post(
        f"{graph.api}/subscriptions",
        json={
            "changeType": "created",
            "notificationUrl": graph.hook,
            "resource": f"users/{user['id']}/onlineMeetings/{meeting['id']}/recordings",
            "expirationDateTime": _expiry(),
            "clientState": "state-rec",
        },
        headers=headers,
    ).json()
    calls = graph.http.post(
        f"{graph.api}/subscriptions",
        json={
            "changeType": "updated",
            "notificationUrl": graph.hook,
            "resource": f"communications/onlineMeetings/?$filter=JoinWebUrl eq '{meeting['joinWebUrl']}'",
            "expirationDateTime": _expiry(),
            "clientState": "state-call",
        },
        headers=headers,
    )
    assert calls.status_code == 201, calls.text
    graph.control("POST", f"/meetings/{meeting['id']}/start")
    graph.control("POST", f"/meetings/{meeting['id']}/end", attendees=[])
    recording = graph.control("POST", f"/meetings/{meeting['id']}/recordings").json()
    assert recording["notified"] == 1
    items = wait_for(lambda: (got := [i for n in graph.receiver.graph for i in n["value"]]) and len(got) >= 3 and got)
    by_state = {(i["clientState"], i.get("resourceData", {}).get("eventType")) for i in items}
    assert by_state == {("state-call", "callStarted"), ("state-call", "callEnded"), ("state-rec", None)}
    created = next(i for i in items if i["clientState"] == "state-rec")
    assert created["changeType"] == "created" and created["resourceData"]["id"] == recording["recordingId"]
    assert created["subscriptionId"] == recordings["id"]
    graph.control("POST", "/notify", subscriptionId=recordings["id"], clientState="forged")
    forged = wait_for(lambda: [i for n in graph.receiver.graph for i in n["value"] if i["clientState"] == "forged"])
    assert forged[0]["subscriptionId"] == recordings["id"]
    graph.control("POST", f"/subscriptions/{recordings['id']}/expire")
    assert graph.http.get(f"{graph.api}/subscriptions/{recordings['id']}", headers=headers).status_code == 404


def test_faults_answer_in_graphs_shape_with_retry_after(graph):
    headers = graph.headers()
    user = _teacher(graph)
    graph.http.post(
        f"{graph.url}/_sandbox/faults",
        json={"provider": "graph", "status": 429, "retryAfter": 3, "pathPrefix": "/v1.0"},
    )
    graph.http.post(f"{graph.url}/_sandbox/faults", json={"provider": "graph", "status": 503, "pathPrefix": "/v1.0"})
    throttled = graph.http.post(f"{graph.api}/users/{user['id']}/onlineMeetings", json=MEETING, headers=headers)
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "3"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    down = graph.http.post(f"{graph.api}/users/{user['id']}/onlineMeetings", json=MEETING, headers=headers)
    assert down.status_code == 503 and down.json()["error"]["code"] == "ServiceUnavailable"
    assert (
        graph.http.post(f"{graph.api}/users/{user['id']}/onlineMeetings", json=MEETING, headers=headers).status_code
        == 201
    )


def test_the_emulators_answers_use_only_names_of_the_v1_metadata(graph):
    from offline.sandbox import csdl
    from offline.sandbox.spec_sources import locate

    metadata = csdl.load(locate("microsoft-graph/v1.0-metadata.xml", None).path)
    headers = graph.headers()
    user = _teacher(graph)
    meeting = _meeting(graph, headers, user)
    base = f"{graph.api}/users/{user['id']}/onlineMeetings/{meeting['id']}"
    report = graph.control("POST", f"/meetings/{meeting['id']}/end", attendees=[{"email": "ana@example.com"}]).json()
    graph.control("POST", f"/meetings/{meeting['id']}/recordings")
    subscription = graph.http.post(
        f"{graph.api}/subscriptions",
        json={
            "changeType": "created",
            "notificationUrl": graph.hook,
            "resource": f"users/{user['id']}/onlineMeetings/{meeting['id']}/recordings",
            "expirationDateTime": _expiry(),
        },
        headers=headers,
    ).json()
    answers = {
        "microsoft.graph.onlineMeeting": graph.http.get(base, headers=headers).json(),
        "microsoft.graph.meetingAttendanceReport": graph.http.get(
            f"{base}/attendanceReports/{report['reportId']}", params={"$expand": "attendanceRecords"}, headers=headers
        ).json(),
        "Collection(microsoft.graph.callRecording)": graph.http.get(f"{base}/recordings", headers=headers).json()[
            "value"
        ],
        "microsoft.graph.subscription": subscription,
    }
    for type_name, answer in answers.items():
        assert metadata.check(type_name, answer, "") == [], type_name
    # and the check is real: a name the metadata lacks is found
    assert metadata.check(
        "microsoft.graph.onlineMeeting", {**answers["microsoft.graph.onlineMeeting"], "joinUrl2": ""}, ""
    )


def test_a_slow_graph_is_slow_until_reset(graph):
    headers = graph.headers()
    graph.http.post(f"{graph.url}/_sandbox/latency", json={"provider": "graph", "ms": 2000})
    with pytest.raises(httpx.ReadTimeout):
        graph.http.get(f"{graph.api}/subscriptions", headers=headers, timeout=0.5)
    graph.http.post(f"{graph.url}/_sandbox/latency", json={"provider": "graph", "ms": 0})
    assert graph.http.get(f"{graph.api}/subscriptions", headers=headers).status_code == 200
