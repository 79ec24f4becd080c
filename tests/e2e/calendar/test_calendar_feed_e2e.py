"""The secret calendar feed end to end through the local stack: a student creates a feed URL, any
calendar app reads it without a token (200 text/calendar, parsed by icalendar and by vobject, an
independent parser), UIDs stay the same across requests, ETag and Last-Modified give 304s, a
cancellation shows as STATUS:CANCELLED with a higher SEQUENCE, rotating ends the old URL and
revoking the new one (404, a problem that names nothing)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import icalendar

from offline.testing import RunningStack
from tests.e2e.calendar.test_reminders_e2e import ZONE, School
from tests.support.ical import read_feed


def _uids(body: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_a_students_feed_serves_their_classes_with_stable_uids_and_honours_etag(
    local_stack: RunningStack, api_base: str
) -> None:
    school = School(local_stack, api_base)
    student = school.as_role("student", school.student)
    title = f"Feed course {uuid.uuid4().hex[:6]}"
    # 18:00 in New York on a Monday before and after the March change: 23:00 UTC, then 22:00 UTC.
    monday = datetime(2027, 3, 8, 23, 0, tzinfo=UTC)
    course_id, (before, after) = school.course(title, [monday, monday + timedelta(days=7, hours=-1)])
    assert student.get(f"{api_base}/calendar/feed").json() == {"exists": False, "createdAt": None}
    created = student.post(f"{api_base}/calendar/feed")
    assert created.status_code == 201, created.text
    url = created.json()["url"]
    assert url.startswith(api_base + "/calendar/feed/") and url.endswith(".ics")
    assert student.get(f"{api_base}/calendar/feed").json()["exists"] is True
    assert url not in student.get(f"{api_base}/calendar/feed").text  # shown once, at creation only

    first = httpx.get(url)  # no token: the URL is the credential
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "text/calendar; charset=utf-8"
    events = _uids(first.content)
    assert len(events) == 2
    calendar = icalendar.Calendar.from_ical(first.content)
    assert str(calendar["X-WR-CALNAME"]) == "Classes of Sam Student"
    assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == [ZONE]
    for event in events.values():
        assert str(event["SUMMARY"]) == title
        start = event.decoded("DTSTART")
        assert str(start.tzinfo) == ZONE and (start.hour, start.minute) == (18, 0)
        assert event["DTSTART"].params["TZID"] == ZONE
        assert int(event["SEQUENCE"]) == 1 and str(event["STATUS"]) == "CONFIRMED"
    parsed = read_feed(first.text)
    starts = sorted(v.dtstart.value for v in parsed.vevent_list)
    assert [s.astimezone(UTC).hour for s in starts] == [23, 22]  # the same 18:00 across the change
    assert sorted(v.uid.value for v in parsed.vevent_list) == sorted(events)

    again = httpx.get(url)
    assert set(_uids(again.content)) == set(events) and again.headers["etag"] == first.headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    not_modified = httpx.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert not_modified.status_code == 304 and not_modified.content == b""

    # A cancelled class stays in the feed, cancelled, one version up; the old ETag no longer matches.
    assert school.admin.delete(f"{api_base}/directory/courses/{course_id}/sessions/{after}").status_code == 204
    changed = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200
    events = _uids(changed.content)
    cancelled = next(e for uid, e in events.items() if uid.startswith(after))
    assert str(cancelled["STATUS"]) == "CANCELLED" and int(cancelled["SEQUENCE"]) == 2
    assert str(next(e for uid, e in events.items() if uid.startswith(before))["STATUS"]) == "CONFIRMED"

    rotated = student.post(f"{api_base}/calendar/feed")
    assert rotated.status_code == 201 and rotated.json()["rotated"] is True
    old = httpx.get(url)
    assert old.status_code == 404 and old.headers["content-type"] == "application/problem+json"
    assert httpx.get(rotated.json()["url"]).status_code == 200

    assert student.delete(f"{api_base}/calendar/feed").status_code == 204
    revoked = httpx.get(rotated.json()["url"])
    assert revoked.status_code == 404 and revoked.json()["detail"] == old.json()["detail"]
    assert student.get(f"{api_base}/calendar/feed").json()["exists"] is False

    teacher = school.as_role("teacher", school.teacher)
    teacher_feed = teacher.post(f"{api_base}/calendar/feed").json()["url"]
    assert len(_uids(httpx.get(teacher_feed).content)) == 2
    assert school.admin.post(f"{api_base}/calendar/feed").status_code == 403
