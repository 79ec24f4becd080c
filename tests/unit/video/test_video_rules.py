"""Video's rules without I/O: a weekly schedule is one series (an irregular one is not), Zoom's
occurrences find their sessions by start instant, and a person's rejoins are one attendee."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integration_core.domain.video import match_occurrences, merge, weekly_plan
from integration_core.ports.video import Occurrence, Segment


def _session(sid: str, start: datetime, minutes: int = 60) -> dict:
    return {"id": sid, "starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=minutes)).isoformat()}


def _london_mon_wed(count: int) -> list[dict]:
    # Mondays and Wednesdays 18:00 Europe/London from 2030-03-18, across the change to summer time (31 March).
    days, day = [], datetime(2030, 3, 18)
    while len(days) < count:
        if day.weekday() in (0, 2):
            offset = 1 if day >= datetime(2030, 3, 31) else 0
            days.append(datetime(day.year, day.month, day.day, 18 - offset, tzinfo=UTC))
        day += timedelta(days=1)
    return [_session(f"ses_{i:08d}", start) for i, start in enumerate(days)]


def test_a_weekly_schedule_across_summer_time_is_one_series():
    plan = weekly_plan(_london_mon_wed(8), "Europe/London")
    assert plan is not None and plan.weekly is not None
    assert (plan.weekly.weekdays, plan.weekly.interval, plan.weekly.count) == ((0, 2), 1, 8)
    assert plan.start == datetime(2030, 3, 18, 18, tzinfo=UTC) and plan.duration_minutes == 60


def test_a_skipped_week_a_moved_class_or_another_length_is_no_weekly_series():
    sessions = _london_mon_wed(6)
    assert weekly_plan(sessions[:2] + sessions[3:], "Europe/London") is None  # a class left out
    moved = [
        *sessions[:-1],
        _session("ses_moved001", datetime.fromisoformat(sessions[-1]["starts_at"]) + timedelta(hours=1)),
    ]
    assert weekly_plan(moved, "Europe/London") is None
    longer = [*sessions[:-1], _session(sessions[-1]["id"], datetime.fromisoformat(sessions[-1]["starts_at"]), 90)]
    assert weekly_plan(longer, "Europe/London") is None


def test_occurrences_are_matched_to_sessions_by_their_start_instant():
    sessions = _london_mon_wed(3)
    occurrences = (
        *(
            Occurrence(
                str(int(datetime.fromisoformat(s["starts_at"]).timestamp() * 1000)),
                datetime.fromisoformat(s["starts_at"]),
                60,
            )
            for s in sessions
        ),
        Occurrence("1", datetime(2031, 1, 1, tzinfo=UTC), 60),
    )
    matched = match_occurrences(occurrences, sessions)
    assert sorted(matched.values()) == sorted(s["id"] for s in sessions)
    assert "1" not in matched


def _at(minute: int) -> datetime:
    return datetime(2030, 3, 18, 18, tzinfo=UTC) + timedelta(minutes=minute)


def test_rejoins_merge_into_one_attendee_matched_by_registrant_or_email():
    segments = [
        Segment("Ana", "ana@example.com", "reg_ana", _at(0), _at(10)),
        Segment("Ana", "ana@example.com", "reg_ana", _at(15), _at(30)),
        Segment("Ana (phone)", "ana@example.com", "", _at(25), _at(50)),  # overlaps: counted once
        Segment("Ben", "BEN@example.com", "", _at(5), _at(20)),
        Segment("Guest", "guest@example.com", "", _at(0), None),
    ]
    attendees = {a.key: a for a in merge(segments, {"ben@example.com": "stu_ben00001"}, {"reg_ana": "stu_ana00001"})}
    ana = attendees["stu_ana00001"]
    assert (ana.first_join, ana.last_leave, ana.minutes, ana.segments) == (_at(0), _at(50), 45.0, 3)
    assert attendees["stu_ben00001"].minutes == 15.0
    assert attendees["guest@example.com"].student_id is None
