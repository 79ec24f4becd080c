"""The Zoom emulator: Server-to-Server OAuth, a recurring meeting and its occurrences, registrants
with personal links, the daily create/update quota, the status API, double-encoded UUIDs, signed
webhooks (verified by the receiver with Zoom's HMAC rule) and the URL validation handshake."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from offline.sandbox.providers.zoom_shared import LOCAL_ACCOUNT_ID, LOCAL_CLIENT_ID

from .conftest import SPECS, wait_for

WEEKLY = {
    "topic": "B2 English, Mon and Wed",
    "type": 8,
    "start_time": "2030-03-04T18:00:00",  # a Monday, local to the timezone below
    "timezone": "Europe/Madrid",
    "duration": 90,
    "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "2,4", "end_times": 6},
    "settings": {
        "waiting_room": True,
        "join_before_host": False,
        "mute_upon_entry": True,
        "auto_recording": "cloud",
        "approval_type": 0,
        "registration_type": 1,
    },
}


def _create(zoom, headers, body=WEEKLY, user="me"):
    answer = zoom.http.post(f"{zoom.api}/users/{user}/meetings", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _register(zoom, headers, meeting_id, email, first="Ana"):
    answer = zoom.http.post(
        f"{zoom.api}/meetings/{meeting_id}/registrants", json={"email": email, "first_name": first}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_server_to_server_oauth_gives_an_hour_token_and_refuses_bad_clients(zoom):
    answer = zoom.token()
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer" and 3500 <= body["expires_in"] <= 3600
    me = zoom.http.get(f"{zoom.api}/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == "owner@example.com"
    wrong = zoom.http.post(
        f"{zoom.url}/zoom/oauth/token",
        params={"grant_type": "account_credentials", "account_id": LOCAL_ACCOUNT_ID},
        auth=(LOCAL_CLIENT_ID, "wrong"),
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert zoom.http.get(f"{zoom.api}/users/me").json() == {"code": 124, "message": "Invalid access token."}
    zoom.control("POST", "/tokens/expire")
    expired = zoom.http.get(f"{zoom.api}/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert expired.status_code == 401 and "expired" in expired.json()["message"]


def test_a_weekly_recurring_meeting_has_its_occurrences_at_the_local_time(zoom):
    headers = zoom.headers()
    meeting = _create(zoom, headers)
    starts = [o["start_time"] for o in meeting["occurrences"]]
    # Mon 4, Wed 6, Mon 11, Wed 13, Mon 18, Wed 20 March 2030 at 18:00 in Madrid (UTC+1).
    assert starts == [f"2030-03-{d:02d}T17:00:00Z" for d in (4, 6, 11, 13, 18, 20)]
    first = datetime(2030, 3, 4, 17, tzinfo=UTC)
    assert meeting["occurrences"][0]["occurrence_id"] == str(int(first.timestamp()) * 1000)  # its start in ms
    assert meeting["settings"]["waiting_room"] is True and meeting["settings"]["approval_type"] == 0
    assert meeting["registration_url"]
    second = meeting["occurrences"][1]["occurrence_id"]
    one = zoom.http.get(f"{zoom.api}/meetings/{meeting['id']}", params={"occurrence_id": second}, headers=headers)
    assert one.status_code == 200 and one.json()["start_time"] == "2030-03-06T17:00:00Z"
    moved = zoom.http.patch(
        f"{zoom.api}/meetings/{meeting['id']}",
        params={"occurrence_id": second},
        json={"start_time": "2030-03-07T17:00:00Z"},
        headers=headers,
    )
    assert moved.status_code == 204
    gone = zoom.http.delete(
        f"{zoom.api}/meetings/{meeting['id']}",
        params={"occurrence_id": meeting["occurrences"][2]["occurrence_id"]},
        headers=headers,
    )
    assert gone.status_code == 204
    shown = zoom.http.get(f"{zoom.api}/meetings/{meeting['id']}", headers=headers).json()
    assert [o["start_time"] for o in shown["occurrences"]][:3] == [
        "2030-03-04T17:00:00Z",
        "2030-03-07T17:00:00Z",
        "2030-03-13T17:00:00Z",
    ]
    until = {**WEEKLY, "recurrence": {"type": 2, "weekly_days": "2", "end_date_time": "2030-03-25T23:00:00Z"}}
    assert len(_create(zoom, headers, until)["occurrences"]) == 4  # Mondays 4, 11, 18, 25


def test_registrants_get_personal_links_and_a_cancel_takes_them_off(zoom):
    headers = zoom.headers()
    meeting = _create(zoom, headers)
    ana = _register(zoom, headers, meeting["id"], "ana@example.com")
    ben = _register(zoom, headers, meeting["id"], "ben@example.com", "Ben")
    assert ana["join_url"] != ben["join_url"] and ana["registrant_id"] != ben["registrant_id"]
    assert "tk=" in ana["join_url"] and len(ana["occurrences"]) == 6
    again = _register(zoom, headers, meeting["id"], "ana@example.com")
    assert again["registrant_id"] == ana["registrant_id"]  # registering twice is one registration
    cancel = zoom.http.put(
        f"{zoom.api}/meetings/{meeting['id']}/registrants/status",
        json={"action": "cancel", "registrants": [{"id": ben["registrant_id"], "email": "ben@example.com"}]},
        headers=headers,
    )
    assert cancel.status_code == 204
    listed = zoom.http.get(f"{zoom.api}/meetings/{meeting['id']}/registrants", headers=headers).json()
    assert [r["email"] for r in listed["registrants"]] == ["ana@example.com"]
    cid = _register(zoom, headers, meeting["id"], "cid@example.com", "Cid")
    one = zoom.http.get(f"{zoom.api}/meetings/{meeting['id']}/registrants/{cid['registrant_id']}", headers=headers)
    assert one.status_code == 200 and one.json()["join_url"] == cid["join_url"]
    deleted = zoom.http.delete(
        f"{zoom.api}/meetings/{meeting['id']}/registrants/{cid['registrant_id']}", headers=headers
    )
    assert deleted.status_code == 204
    zoom.control("POST", f"/meetings/{meeting['id']}/start")
    refused = zoom.control("POST", f"/meetings/{meeting['id']}/participants/join", joinUrl=ben["join_url"])
    assert refused.status_code == 403
    unknown = zoom.control("POST", f"/meetings/{meeting['id']}/participants/join", joinUrl=cid["join_url"])
    assert unknown.status_code == 404
    assert (
        zoom.control("POST", f"/meetings/{meeting['id']}/participants/join", joinUrl=ana["join_url"]).status_code == 200
    )


def test_the_daily_create_update_quota_answers_zooms_429_with_the_utc_midnight_reset(zoom):
    headers = zoom.headers()
    meeting = _create(zoom, headers)  # 1 of 100
    zoom.control("POST", "/quota", userId="me", used=99)
    ok = zoom.http.patch(f"{zoom.api}/meetings/{meeting['id']}", json={"topic": "renamed"}, headers=headers)
    assert ok.status_code == 204  # the 100th
    over = zoom.http.post(f"{zoom.api}/users/me/meetings", json=WEEKLY, headers=headers)
    assert over.status_code == 429
    assert over.json()["code"] == 429 and "daily rate limit (100)" in over.json()["message"]
    assert over.headers["x-ratelimit-type"] == "Daily-limit"
    assert over.headers["retry-after"].endswith("T00:00:00Z")
    assert (
        zoom.http.patch(f"{zoom.api}/meetings/{meeting['id']}", json={"topic": "x"}, headers=headers).status_code == 429
    )
    other = zoom.control("POST", "/users", email="teacher@example.com").json()
    assert zoom.http.post(f"{zoom.api}/users/{other['id']}/meetings", json=WEEKLY, headers=headers).status_code == 201
    assert zoom.http.get(f"{zoom.api}/meetings/{meeting['id']}", headers=headers).json()["topic"] == "renamed"


def test_injected_429_carries_retry_after_in_zooms_shape(zoom):
    headers = zoom.headers()
    zoom.http.post(
        f"{zoom.url}/_sandbox/faults", json={"provider": "zoom", "status": 429, "retryAfter": 2, "pathPrefix": "/v2"}
    )
    limited = zoom.http.post(f"{zoom.api}/users/me/meetings", json=WEEKLY, headers=headers)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert limited.json()["code"] == 429
    assert zoom.http.post(f"{zoom.api}/users/me/meetings", json=WEEKLY, headers=headers).status_code == 201


def test_status_end_ends_the_meeting_in_progress_and_zoom_sends_meeting_ended(zoom):
    headers = zoom.headers()
    meeting = _create(zoom, headers)
    started = zoom.control("POST", f"/meetings/{meeting['id']}/start").json()
    assert started["occurrenceId"] == meeting["occurrences"][0]["occurrence_id"]
    ended = zoom.http.put(f"{zoom.api}/meetings/{meeting['id']}/status", json={"action": "end"}, headers=headers)
    assert ended.status_code == 204
    events = wait_for(lambda: zoom.receiver.zoom_events("meeting.ended", meeting["id"]))
    assert events[0]["payload"]["object"]["uuid"] == started["uuid"]
    assert events[0]["payload"]["object"]["id"] == str(meeting["id"])
    assert zoom.http.get(f"{zoom.api}/meetings/{meeting['id']}", headers=headers).json()["status"] == "waiting"


def test_a_uuid_starting_with_a_slash_must_be_encoded_twice(zoom):
    headers = zoom.headers()
    meeting = _create(zoom, headers)
    ana = _register(zoom, headers, meeting["id"], "ana@example.com")
    uuid = "/ab//cd+ef=="
    zoom.control("POST", f"/meetings/{meeting['id']}/start", uuid=uuid, at="2030-03-04T17:00:00Z")
    zoom.control(
        "POST", f"/meetings/{meeting['id']}/participants/join", joinUrl=ana["join_url"], at="2030-03-04T17:01:00Z"
    )
    zoom.control("POST", f"/meetings/{meeting['id']}/end", at="2030-03-04T18:30:00Z")
    once = zoom.http.get(f"{zoom.api}/past_meetings/{quote(uuid, safe='')}", headers=headers)
    assert once.status_code == 404
    twice = quote(quote(uuid, safe=""), safe="")
    past = zoom.http.get(f"{zoom.api}/past_meetings/{twice}", headers=headers)
    assert past.status_code == 200 and past.json()["uuid"] == uuid
    instances = zoom.http.get(f"{zoom.api}/past_meetings/{meeting['id']}/instances", headers=headers).json()
    assert instances == {"meetings": [{"uuid": uuid, "start_time": "2030-03-04T17:00:00Z"}]}
    report = zoom.http.get(
        f"{zoom.api}/report/meetings/{twice}/participants", params={"include_fields": "registrant_id"}, headers=headers
    )
    assert report.status_code == 200
    (row,) = report.json()["participants"]
    assert row["registrant_id"] == ana["registrant_id"] and row["duration"] == 89 * 60


def test_a_class_through_the_controls_sends_signed_webhooks_and_reports_each_join(zoom):
    headers = zoom.headers()
    meeting = _create(zoom, headers)
    ana = _register(zoom, headers, meeting["id"], "ana@example.com")
    _register(zoom, headers, meeting["id"], "ben@example.com", "Ben")
    mid = meeting["id"]
    start = zoom.control("POST", f"/meetings/{mid}/start", at="2030-03-04T17:00:00Z").json()
    zoom.control("POST", f"/meetings/{mid}/participants/join", joinUrl=ana["join_url"], at="2030-03-04T17:00:00Z")
    zoom.control("POST", f"/meetings/{mid}/participants/leave", email="ana@example.com", at="2030-03-04T17:20:00Z")
    zoom.control("POST", f"/meetings/{mid}/participants/join", joinUrl=ana["join_url"], at="2030-03-04T17:30:00Z")
    zoom.control("POST", f"/meetings/{mid}/end", at="2030-03-04T18:30:00Z")
    recorded = zoom.control("POST", f"/meetings/{mid}/recording/complete").json()
    assert recorded["files"] == 2
    # Two joins, two leaves (the end closes the second stay); deliveries run on their own threads.
    expected = {
        "meeting.started": 1,
        "meeting.participant_joined": 2,
        "meeting.participant_left": 2,
        "meeting.ended": 1,
        "recording.completed": 1,
    }
    wait_for(lambda: {n: len(zoom.receiver.zoom_events(n, mid)) for n in expected} == expected)
    assert zoom.receiver.refused == []
    completed = zoom.receiver.zoom_events("recording.completed", mid)[0]
    assert completed["download_token"]
    files = completed["payload"]["object"]["recording_files"]
    assert {f["file_type"] for f in files} == {"MP4", "M4A"}
    rows = zoom.http.get(
        f"{zoom.api}/report/meetings/{quote(quote(start['uuid'], safe=''), safe='')}/participants", headers=headers
    )
    segments = [(r["join_time"], r["leave_time"], r["duration"]) for r in rows.json()["participants"]]
    assert segments == [
        ("2030-03-04T17:00:00Z", "2030-03-04T17:20:00Z", 1200),
        ("2030-03-04T17:30:00Z", "2030-03-04T18:30:00Z", 3600),
    ]
    recordings = zoom.http.get(
        f"{zoom.api}/meetings/{quote(quote(start['uuid'], safe=''), safe='')}/recordings", headers=headers
    )
    assert recordings.status_code == 200
    body = recordings.json()
    assert body["recording_count"] == 2 and all(
        f["download_url"] and f["play_url"] and f["file_size"] > 0 for f in body["recording_files"]
    )
    assert body["recording_files"][0]["recording_start"] == "2030-03-04T17:00:00Z"


def test_a_delivery_signed_with_another_secret_or_stale_is_what_the_receiver_sees(zoom):
    headers = zoom.headers()
    meeting = _create(zoom, headers)
    zoom.control("POST", f"/meetings/{meeting['id']}/start")
    wait_for(lambda: zoom.receiver.zoom_events("meeting.started", meeting["id"]))
    event = next(e for e in zoom.control("GET", "/events").json() if e["event"] == "meeting.started")
    forged = zoom.control("POST", f"/events/{event['id']}/send", secretToken="not-the-secret")
    assert forged.json()["status"] == 401 and len(zoom.receiver.refused) == 1
    stale = zoom.control("POST", f"/events/{event['id']}/send", timestamp=1_600_000_000)
    assert stale.json()["status"] == 200
    # Signed correctly but old: refusing it is the service's call (its timestamp tolerance).
    assert any(e["timestamp"] == "1600000000" for e in zoom.receiver.zoom)


def test_url_validation_handshake_checks_the_encrypted_token(zoom):
    ok = zoom.control("POST", "/webhook/validate").json()
    assert ok["validated"] is True and ok["status"] == 200
    zoom.receiver.secret = "someone-else"  # a receiver with the wrong secret cannot answer
    bad = zoom.control("POST", "/webhook/validate").json()
    assert bad["validated"] is False


@pytest.mark.skipif(SPECS is None, reason="Zoom's meetings.json needs PROVIDER_SPECS_DIR (not carried for its licence)")
def test_requests_are_validated_against_zooms_meetings_document(zoom):
    headers = zoom.headers()
    bad = {**WEEKLY, "settings": {"approval_type": 7}, "recurrence": {"type": 9}}
    answer = zoom.http.post(f"{zoom.api}/users/me/meetings", json=bad, headers=headers)
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == 300 and body["message"] == "Validation Failed."
    assert {e["field"] for e in body["errors"]} >= {"settings.approval_type", "recurrence.type"}
    violations = zoom.http.get(f"{zoom.url}/_sandbox/violations?provider=zoom").json()
    assert violations[-1]["path"] == "/v2/users/me/meetings"


def test_without_zooms_document_the_sandbox_says_requests_are_not_validated():
    from offline.sandbox.server import specification_report

    lines = specification_report(None)
    assert any(line.startswith("zoom requests: NOT validated") and "zoom/meetings.json" in line for line in lines)


def test_occurrences_keep_their_local_time_across_daylight_saving_and_end_times_zero_lists_sixty(zoom):
    headers = zoom.headers()
    body = {
        **WEEKLY,
        "start_time": "2030-03-24T18:00:00",
        "recurrence": {"type": 2, "weekly_days": "1", "end_times": 2},
    }
    starts = [o["start_time"] for o in _create(zoom, headers, body)["occurrences"]]
    assert starts == ["2030-03-24T17:00:00Z", "2030-03-31T16:00:00Z"]  # 18:00 in Madrid, CET then CEST
    endless = {**WEEKLY, "recurrence": {"type": 2, "weekly_days": "2", "end_times": 0}}
    assert len(_create(zoom, headers, endless)["occurrences"]) == 60
