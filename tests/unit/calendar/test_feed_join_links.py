"""The feed's classes with their owner's join link (services.calendar_feed): the link becomes the
event's URL, and its appearing moves the event's last change, so Last-Modified and a conditional
GET see it."""

from __future__ import annotations

from integration_core.domain.ics import FeedEntry, last_modified
from integration_core.services.calendar_feed import _with_link
from integration_core.stores.join_links import Links

SESSION = {
    "id": "ses_mar00001",
    "course_id": "crs_ny000001",
    "starts_at": "2026-03-02T23:00:00+00:00",
    "ends_at": "2026-03-03T00:30:00+00:00",
    "time_zone": "America/New_York",
    "status": "scheduled",
    "version": 1,
    "updated_at": "2026-02-01T10:00:00+00:00",
}
COURSE = {"id": "crs_ny000001", "title": "Evening English", "time_zone": "America/New_York"}


def test_a_link_for_every_session_or_for_this_one_is_the_events_and_moves_its_last_change():
    later = Links({"*": "https://zoom.test/w/1?tk=ana"}, "2026-02-10T09:00:00+00:00")
    shown = _with_link(SESSION, later)
    assert shown["join_url"] == "https://zoom.test/w/1?tk=ana"
    before = last_modified([FeedEntry(COURSE, SESSION)])
    after = last_modified([FeedEntry(COURSE, shown)])
    assert before is not None and after is not None and after > before
    own = Links({"ses_mar00001": "https://teams.test/l/ses1", "*": "https://zoom.test/w/1"}, None)
    assert _with_link(SESSION, own)["join_url"] == "https://teams.test/l/ses1"


def test_without_a_link_the_session_is_shown_as_it_is():
    assert _with_link(SESSION, Links()) is SESSION
    assert _with_link(SESSION, Links({"ses_other0001": "https://x.test/y"})) is SESSION
