"""events.list in the Google emulator: time windows, paging, and singleEvents expansion of
recurring events in their IANA zone across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


def _one_off(event_id, day):
    return {
        "id": event_id,
        "summary": f"Session {event_id}",
        "start": {"dateTime": f"{day}T18:00:00", "timeZone": "America/New_York"},
        "end": {"dateTime": f"{day}T19:00:00", "timeZone": "America/New_York"},
    }


def _weekly(event_id="recur001", first="2026-02-23", count=40):
    return {
        "id": event_id,
        "summary": "Weekly English",
        "start": {"dateTime": f"{first}T18:00:00", "timeZone": "America/New_York"},
        "end": {"dateTime": f"{first}T19:30:00", "timeZone": "America/New_York"},
        "recurrence": [f"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT={count}"],
    }


def _all_pages(google, headers, params):
    items, token, pages = [], None, 0
    while True:
        query = params | ({"pageToken": token} if token else {})
        answer = google.http.get(f"{google.api}/calendars/primary/events", params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        pages += 1
        token = body.get("nextPageToken")
        if not token or pages > 50:
            return items, pages


def test_paging_returns_every_event_once_in_start_order(google):
    headers = google.bearer("ana@example.com")
    days = ["2026-05-04", "2026-05-01", "2026-05-03", "2026-05-05", "2026-05-02"]
    for number, day in enumerate(days):
        created = google.http.post(
            f"{google.api}/calendars/primary/events", json=_one_off(f"page{number:04d}", day), headers=headers
        )
        assert created.status_code == 200
    items, pages = _all_pages(google, headers, {"singleEvents": "true", "orderBy": "startTime", "maxResults": "2"})
    assert pages == 3
    assert [i["start"]["dateTime"][:10] for i in items] == sorted(days)
    assert len({i["id"] for i in items}) == 5


def test_time_window_and_extended_property_filters(google):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events"
    for number, day in enumerate(["2026-04-01", "2026-04-10", "2026-04-20"]):
        event = _one_off(f"in{number:06d}", day) | {"extendedProperties": {"private": {"course": f"c{number % 2}"}}}
        google.http.post(url, json=event, headers=headers)
    window = {"timeMin": "2026-04-05T00:00:00Z", "timeMax": "2026-04-30T00:00:00Z", "singleEvents": "true"}
    inside = google.http.get(url, params=window, headers=headers).json()["items"]
    assert sorted(i["id"] for i in inside) == ["in000001", "in000002"]
    filtered = google.http.get(url, params={"privateExtendedProperty": "course=c0"}, headers=headers).json()["items"]
    assert sorted(i["id"] for i in filtered) == ["in000000", "in000002"]
    no_offset = google.http.get(url, params={"timeMin": "2026-04-05T00:00:00"}, headers=headers)
    assert no_offset.status_code == 400


def test_order_by_start_time_needs_single_events(google):
    headers = google.bearer("ana@example.com")
    refused = google.http.get(
        f"{google.api}/calendars/primary/events", params={"orderBy": "startTime"}, headers=headers
    )
    assert refused.status_code == 400 and refused.json()["error"]["errors"][0]["reason"] == "badRequest"


def test_a_weekly_1800_class_stays_at_1800_new_york_time_across_both_dst_changes(google):
    headers = google.bearer("ana@example.com")
    created = google.http.post(f"{google.api}/calendars/primary/events", json=_weekly(), headers=headers)
    assert created.status_code == 200
    params = {
        "singleEvents": "true",
        "orderBy": "startTime",
        "timeMin": "2026-01-01T00:00:00Z",
        "timeMax": "2027-01-01T00:00:00Z",
        "maxResults": "7",
    }
    items, _ = _all_pages(google, headers, params)
    assert len(items) == 40
    utc_hours = {}
    for item in items:
        start = datetime.fromisoformat(item["start"]["dateTime"])
        local = start.astimezone(NEW_YORK)
        assert (local.hour, local.minute, local.weekday()) == (18, 0, 0), item["start"]
        assert item["start"]["timeZone"] == "America/New_York"
        assert datetime.fromisoformat(item["end"]["dateTime"]) - start == (
            datetime(2026, 1, 1, 19, 30) - datetime(2026, 1, 1, 18, 0)
        )
        assert item["recurringEventId"] == "recur001"
        assert item["id"] == "recur001_" + start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        utc_hours[local.date().isoformat()] = start.astimezone(UTC).hour
    assert utc_hours["2026-03-02"] == 23  # EST, before the change on 8 March
    assert utc_hours["2026-03-09"] == 22  # EDT
    assert utc_hours["2026-10-26"] == 22  # EDT, before the change on 1 November
    assert utc_hours["2026-11-02"] == 23  # EST again
    masters = google.http.get(f"{google.api}/calendars/primary/events", headers=headers).json()["items"]
    assert [m["id"] for m in masters] == ["recur001"] and masters[0]["recurrence"]


def test_expansion_honours_the_window_and_exdates(google):
    headers = google.bearer("ana@example.com")
    event = _weekly("recur002", count=10)
    event["recurrence"].append("EXDATE;TZID=America/New_York:20260309T180000")
    google.http.post(f"{google.api}/calendars/primary/events", json=event, headers=headers)
    window = {
        "singleEvents": "true",
        "orderBy": "startTime",
        "timeMin": "2026-03-01T00:00:00Z",
        "timeMax": "2026-03-24T00:00:00Z",
    }
    items = google.http.get(f"{google.api}/calendars/primary/events", params=window, headers=headers).json()["items"]
    assert [i["start"]["dateTime"] for i in items] == [
        "2026-03-02T18:00:00-05:00",
        "2026-03-16T18:00:00-04:00",
        "2026-03-23T18:00:00-04:00",
    ]


def test_an_expanded_instance_can_be_read_by_its_id(google):
    headers = google.bearer("ana@example.com")
    google.http.post(f"{google.api}/calendars/primary/events", json=_weekly("recur003", count=3), headers=headers)
    url = f"{google.api}/calendars/primary/events"
    instance = google.http.get(f"{url}/recur003_20260302T230000Z", headers=headers)
    assert instance.status_code == 200
    assert instance.json()["start"]["dateTime"] == "2026-03-02T18:00:00-05:00"
    assert instance.json()["recurringEventId"] == "recur003"
    assert google.http.get(f"{url}/recur003_20260302T220000Z", headers=headers).status_code == 404
