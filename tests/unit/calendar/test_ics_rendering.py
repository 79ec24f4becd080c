"""The calendar feed's rendering (domain.ics): stable UIDs, a VTIMEZONE per course zone, TZID'd
local times across DST, SEQUENCE = the session's version, cancellations, the join link, and the
same bytes for the same classes (the ETag depends on it)."""

from __future__ import annotations

from datetime import timedelta

import icalendar

from integration_core import timeutil
from integration_core.domain.ics import FeedEntry, last_modified, render, uid
from tests.support.ical import read_feed

NY = {"id": "crs_ny000001", "title": "Evening English", "time_zone": "America/New_York", "description": "B2 group"}
TOKYO = {"id": "crs_tk000001", "title": "Business Japanese", "time_zone": "Asia/Tokyo"}


def session(course: dict, session_id: str, starts: str, **extra) -> dict:
    start = timeutil.parse_iso(starts)
    return {
        "id": session_id,
        "course_id": course["id"],
        "starts_at": timeutil.iso_utc(start),
        "ends_at": timeutil.iso_utc(start + timedelta(minutes=90)),
        "local_starts_at": timeutil.local_iso(start, course["time_zone"]),
        "time_zone": course["time_zone"],
        "status": "scheduled",
        "version": 1,
        "updated_at": "2026-02-01T10:00:00+00:00",
        **extra,
    }


ENTRIES = [
    FeedEntry(NY, session(NY, "ses_mar00002", "2026-03-09T22:00:00+00:00", version=3, status="cancelled")),
    FeedEntry(NY, session(NY, "ses_mar00001", "2026-03-02T23:00:00+00:00", join_url="https://meet.example/abc")),
    FeedEntry(
        TOKYO, session(TOKYO, "ses_tok00001", "2026-03-03T10:00:00+00:00", updated_at="2026-02-05T08:30:00+00:00")
    ),
]


def test_the_feed_parses_with_two_independent_parsers_and_keeps_local_times_across_dst():
    body = render("Classes of Ana", ENTRIES)
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "Classes of Ana" and str(calendar["VERSION"]) == "2.0"
    assert sorted(str(z["TZID"]) for z in calendar.walk("VTIMEZONE")) == ["America/New_York", "Asia/Tokyo"]
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {uid("ses_mar00001"), uid("ses_mar00002"), uid("ses_tok00001")}
    before, after = events[uid("ses_mar00001")], events[uid("ses_mar00002")]
    assert before["DTSTART"].params["TZID"] == "America/New_York"
    assert before.decoded("DTSTART").strftime("%H:%M") == after.decoded("DTSTART").strftime("%H:%M") == "18:00"
    assert before.decoded("DTSTART").utcoffset() != after.decoded("DTSTART").utcoffset()  # EST, then EDT
    assert str(after["STATUS"]) == "CANCELLED" and int(after["SEQUENCE"]) == 3
    assert str(before["STATUS"]) == "CONFIRMED" and int(before["SEQUENCE"]) == 1
    assert str(before["URL"]) == "https://meet.example/abc" and "https://meet.example/abc" in str(before["DESCRIPTION"])
    assert str(before["SUMMARY"]) == "Evening English"
    # vobject reads the same instants and UIDs.
    parsed = read_feed(body.decode())
    instants = {v.uid.value: v.dtstart.value for v in parsed.vevent_list}
    assert {k: timeutil.iso_utc(v) for k, v in instants.items()} == {
        uid("ses_mar00001"): "2026-03-02T23:00:00+00:00",
        uid("ses_mar00002"): "2026-03-09T22:00:00+00:00",
        uid("ses_tok00001"): "2026-03-03T10:00:00+00:00",
    }


def test_the_same_classes_give_the_same_bytes_and_a_change_other_bytes():
    assert render("Classes", ENTRIES) == render("Classes", list(reversed(ENTRIES)))
    moved = [
        *ENTRIES[:2],
        FeedEntry(TOKYO, {**ENTRIES[2].session, "version": 2, "starts_at": "2026-03-03T11:00:00+00:00"}),
    ]
    assert render("Classes", moved) != render("Classes", ENTRIES)


def test_last_modified_is_the_latest_change_and_none_without_classes():
    assert timeutil.iso_utc(last_modified(ENTRIES)) == "2026-02-05T08:30:00+00:00"  # type: ignore[arg-type]
    assert last_modified([]) is None
    empty = icalendar.Calendar.from_ical(render("Classes", []))
    assert empty.walk("VEVENT") == []
