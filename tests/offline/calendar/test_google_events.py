"""The Google emulator's calendars and events: Google's id rules and its 409, cancelled events,
sequence, validation against calendar.v3.json, and who may see what."""

from __future__ import annotations

import pytest

from .conftest import CALENDAR_SCOPE


def _event(event_id=None, **extra):
    body = {
        "summary": "English B1",
        "location": "Room 4",
        "description": "Unit 3",
        "start": {"dateTime": "2026-03-02T18:00:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-02T19:30:00", "timeZone": "America/New_York"},
        "attendees": [{"email": "ana@example.com"}],
        "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 60}]},
        "extendedProperties": {"private": {"sessionId": "ses_1"}},
        **extra,
    }
    return body | ({"id": event_id} if event_id else {})


def _error(response):
    return response.json()["error"]["errors"][0]["reason"]


@pytest.mark.parametrize("event_id", ["abc1", "ABCDEF12", "abcdefw1", "abc_def12", "a" * 1025])
def test_an_event_id_breaking_googles_rules_is_refused(google, event_id):
    headers = google.bearer("ana@example.com")
    refused = google.http.post(f"{google.api}/calendars/primary/events", json=_event(event_id), headers=headers)
    assert refused.status_code == 400 and _error(refused) == "invalid"
    assert refused.json()["error"]["message"] == "Invalid resource id value."


@pytest.mark.parametrize("event_id", ["abcd5", "0123456789abcdefghijklmnopqrstuv", "v" * 1024])
def test_an_event_id_within_googles_rules_is_kept(google, event_id):
    headers = google.bearer("ana@example.com")
    created = google.http.post(f"{google.api}/calendars/primary/events", json=_event(event_id), headers=headers)
    assert created.status_code == 200 and created.json()["id"] == event_id
    fetched = google.http.get(f"{google.api}/calendars/primary/events/{event_id}", headers=headers).json()
    assert fetched["summary"] == "English B1" and fetched["iCalUID"] == f"{event_id}@google.com"
    assert fetched["start"] == {"dateTime": "2026-03-02T18:00:00-05:00", "timeZone": "America/New_York"}
    assert fetched["reminders"]["overrides"] == [{"method": "popup", "minutes": 60}]
    assert fetched["extendedProperties"]["private"] == {"sessionId": "ses_1"}


def test_a_repeated_id_is_409_duplicate_even_after_the_event_was_deleted(google):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events"
    assert google.http.post(url, json=_event("ses00001"), headers=headers).status_code == 200
    again = google.http.post(url, json=_event("ses00001"), headers=headers)
    assert again.status_code == 409 and _error(again) == "duplicate"
    assert google.http.delete(f"{url}/ses00001", headers=headers).status_code == 204
    after_delete = google.http.post(url, json=_event("ses00001"), headers=headers)
    assert after_delete.status_code == 409 and _error(after_delete) == "duplicate"


def test_a_deleted_event_is_cancelled_still_gettable_and_listed_only_with_show_deleted(google):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events"
    google.http.post(url, json=_event("keep0001"), headers=headers)
    google.http.post(url, json=_event("gone0001"), headers=headers)
    assert google.http.delete(f"{url}/gone0001", headers=headers).status_code == 204
    gone = google.http.get(f"{url}/gone0001", headers=headers)
    assert gone.status_code == 200 and gone.json()["status"] == "cancelled"
    assert [e["id"] for e in google.http.get(url, headers=headers).json()["items"]] == ["keep0001"]
    shown = google.http.get(url, params={"showDeleted": "true"}, headers=headers).json()["items"]
    assert {e["id"]: e["status"] for e in shown} == {"keep0001": "confirmed", "gone0001": "cancelled"}
    twice = google.http.delete(f"{url}/gone0001", headers=headers)
    assert twice.status_code == 410 and _error(twice) == "deleted"
    back = google.http.patch(f"{url}/gone0001", json={"status": "confirmed"}, headers=headers)
    assert back.json()["status"] == "confirmed"


def test_patch_changes_only_what_it_names_and_increments_sequence(google):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events/sess0001"
    google.http.post(f"{google.api}/calendars/primary/events", json=_event("sess0001"), headers=headers)
    later = {
        "start": {"dateTime": "2026-03-03T18:00:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-03T19:30:00", "timeZone": "America/New_York"},
    }
    moved = google.http.patch(url, json=later, headers=headers)
    assert moved.status_code == 200
    body = moved.json()
    assert body["sequence"] == 1 and body["summary"] == "English B1" and body["location"] == "Room 4"
    assert body["start"]["dateTime"] == "2026-03-03T18:00:00-05:00"
    same = google.http.patch(url, json={"summary": "English B1"}, headers=headers).json()
    assert same["sequence"] == 1, "a patch that changes nothing is no change"
    renamed = google.http.patch(url, json={"summary": "English B2"}, headers=headers).json()
    assert renamed["sequence"] == 2 and renamed["updated"] >= body["updated"]


def test_update_replaces_the_event_and_needs_start_and_end(google):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events/sess0002"
    google.http.post(f"{google.api}/calendars/primary/events", json=_event("sess0002"), headers=headers)
    replaced = google.http.put(url, json=_event(summary="Replaced", location=None), headers=headers).json()
    assert replaced["summary"] == "Replaced" and "location" not in replaced and replaced["sequence"] == 1
    no_end = google.http.put(url, json={"summary": "x", "start": _event()["start"]}, headers=headers)
    assert no_end.status_code == 400 and no_end.json()["error"]["message"] == "Missing end time."


def test_times_need_a_zone_and_a_non_empty_range(google):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events"
    floating = _event(start={"dateTime": "2026-03-02T18:00:00"}, end={"dateTime": "2026-03-02T19:00:00"})
    refused = google.http.post(url, json=floating, headers=headers)
    assert refused.status_code == 400 and "time zone" in refused.json()["error"]["message"]
    backwards = _event(end={"dateTime": "2026-03-02T17:00:00", "timeZone": "America/New_York"})
    assert _error(google.http.post(url, json=backwards, headers=headers)) == "timeRangeEmpty"
    bad_zone = _event(start={"dateTime": "2026-03-02T18:00:00", "timeZone": "Mars/Olympus"})
    assert google.http.post(url, json=bad_zone, headers=headers).status_code == 400


def test_requests_outside_calendar_v3_json_get_googles_400(google):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events"
    unknown = google.http.post(url, json=_event(colour="blue"), headers=headers)
    assert unknown.status_code == 400
    assert 'Unknown name "colour"' in unknown.json()["error"]["message"]
    misnamed = _event(start={"dateTime": "2026-03-02T18:00:00Z", "zone": "UTC"})
    nested = google.http.post(url, json=misnamed, headers=headers)
    assert nested.status_code == 400 and "resource.start" in nested.json()["error"]["message"]
    wrong_type = google.http.post(url, json=_event(attendees="ana@example.com"), headers=headers)
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["code"] == 400
    bad_param = google.http.get(url, params={"maxResults": "many"}, headers=headers)
    assert bad_param.status_code == 400 and _error(bad_param) == "invalidParameter"
    typo = google.http.get(url, params={"singleEvent": "true"}, headers=headers)
    assert typo.status_code == 400 and "singleEvent" in typo.json()["error"]["message"]
    assert google.http.get(url, headers=headers).json()["items"] == [], "nothing was created by refused requests"


def test_a_token_is_required_and_its_scope_checked(google):
    url = f"{google.api}/calendars/primary/events"
    assert google.http.get(url).status_code == 401
    assert google.http.get(url, headers={"Authorization": "Bearer ya29.made-up"}).status_code == 401
    identity_only = google.bearer("ana@example.com", scope="openid email")
    denied = google.http.post(url, json=_event(), headers=identity_only)
    assert denied.status_code == 403 and _error(denied) == "insufficientPermissions"
    events_only = google.bearer("ana@example.com", scope=CALENDAR_SCOPE)
    assert google.http.post(url, json=_event(), headers=events_only).status_code == 200


def test_calendars_insert_get_list_and_delete_and_users_see_only_their_own(google):
    ana = google.bearer("ana@example.com")
    created = google.http.post(
        f"{google.api}/calendars", json={"summary": "Classes", "timeZone": "America/New_York"}, headers=ana
    )
    assert created.status_code == 200
    calendar_id = created.json()["id"]
    assert calendar_id.endswith("@group.calendar.google.com")
    listed = google.http.get(f"{google.api}/users/me/calendarList", headers=ana).json()["items"]
    assert [(c["id"], c.get("primary", False)) for c in listed] == [("ana@example.com", True), (calendar_id, False)]
    inserted = google.http.post(f"{google.api}/calendars/{calendar_id}/events", json=_event("cls00001"), headers=ana)
    assert inserted.status_code == 200
    ben = google.bearer("ben@example.com")
    assert google.http.get(f"{google.api}/calendars/{calendar_id}", headers=ben).status_code == 404
    assert google.http.get(f"{google.api}/calendars/{calendar_id}/events", headers=ben).status_code == 404
    assert google.http.get(f"{google.api}/calendars/primary/events", headers=ben).json()["items"] == []
    primary = google.http.delete(f"{google.api}/calendars/primary", headers=ana)
    assert primary.status_code == 400 and _error(primary) == "cannotDeletePrimaryCalendar"
    assert google.http.delete(f"{google.api}/calendars/{calendar_id}", headers=ana).status_code == 204
    assert google.http.get(f"{google.api}/calendars/{calendar_id}/events", headers=ana).status_code == 404


def test_inspection_counts_calls_per_user_and_shows_cancelled_events(google):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events"
    google.http.post(url, json=_event("insp0001"), headers=headers)
    google.http.post(url, json=_event("insp0002"), headers=headers)
    google.http.patch(f"{url}/insp0001", json={"summary": "Moved"}, headers=headers)
    google.http.delete(f"{url}/insp0002", headers=headers)
    calls = google.http.get(f"{google.url}/_sandbox/google/calls").json()
    assert calls["byUser"]["ana@example.com"] == {"events.insert": 2, "events.patch": 1, "events.delete": 1}
    seen = google.http.get(f"{google.url}/_sandbox/google/calendars/ana@example.com").json()
    events = {e["id"]: e["status"] for e in seen["calendars"][0]["events"]}
    assert events == {"insp0001": "confirmed", "insp0002": "cancelled"}


def test_ten_concurrent_inserts_of_one_id_create_it_once(google):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events"

    def insert(_):
        with httpx.Client(timeout=30) as client:
            return client.post(url, json=_event("race0001"), headers=headers).status_code

    with ThreadPoolExecutor(10) as pool:
        statuses = sorted(pool.map(insert, range(10)))
    assert statuses == [200] + [409] * 9
    seen = google.http.get(f"{google.url}/_sandbox/google/calendars/ana@example.com").json()
    assert [e["id"] for e in seen["calendars"][0]["events"]] == ["race0001"]
