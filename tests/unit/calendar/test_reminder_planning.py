"""Reminder planning (domain.reminders): which schedules a course's sessions call for, what a sync
creates, moves and deletes, none in the past, and the right UTC instants across daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from integration_core import timeutil
from integration_core.domain.reminders import (
    MIN_LEAD_SECONDS,
    OffsetsError,
    Reminder,
    parse_offsets,
    plan,
    schedule_name,
    wanted,
)

COURSE = "crs_dst00001"
NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def session(session_id: str, starts: datetime, *, version: int = 1, status: str = "scheduled") -> dict:
    return {
        "id": session_id,
        "starts_at": timeutil.iso_utc(starts),
        "ends_at": timeutil.iso_utc(starts + timedelta(minutes=90)),
        "version": version,
        "status": status,
    }


def weekly_new_york_1800(first_day: date, last_day: date) -> list[dict]:
    starts = timeutil.weekly_occurrences(
        zone="America/New_York", days=["MO"], start_time=time(18, 0), first_day=first_day, last_day=last_day
    )
    return [session(f"ses_w{i:04d}", s) for i, s in enumerate(starts)]


def test_offsets_parse_largest_first_and_refuse_what_is_not_whole_minutes():
    assert parse_offsets("60,1440") == (1440, 60)
    assert parse_offsets(" 1440 , 60 ,60") == (1440, 60)
    for bad in ("0", "-5", "1.5", "x", "99999"):
        with pytest.raises(OffsetsError):
            parse_offsets(bad)


def test_a_weekly_new_york_1800_class_across_the_march_change_is_reminded_at_the_right_utc_instants():
    # 2026: clocks go forward on Sunday 8 March. Mondays 2, 9 and 16 March, 18:00 local.
    sessions = weekly_new_york_1800(date(2026, 3, 2), date(2026, 3, 16))
    want = wanted(COURSE, sessions, (1440, 60), NOW)
    fire = {(r.session_id, r.offset_minutes): r.fire_at for r in want.values()}
    assert [s["starts_at"] for s in sessions] == [
        "2026-03-02T23:00:00+00:00",  # EST, UTC-5
        "2026-03-09T22:00:00+00:00",  # EDT, UTC-4
        "2026-03-16T22:00:00+00:00",
    ]
    assert fire[("ses_w0000", 60)] == "2026-03-02T22:00:00+00:00"
    assert fire[("ses_w0000", 1440)] == "2026-03-01T23:00:00+00:00"
    assert fire[("ses_w0001", 60)] == "2026-03-09T21:00:00+00:00"  # 17:00 EDT
    assert fire[("ses_w0001", 1440)] == "2026-03-08T22:00:00+00:00"  # 24 h before: 18:00 EDT on the change's day
    assert want[schedule_name("ses_w0002", 60)].expression == "at(2026-03-16T21:00:00)"


def test_a_weekly_new_york_1800_class_across_the_november_change_is_reminded_at_the_right_utc_instants():
    # 2026: clocks go back on Sunday 1 November. Mondays 26 October and 2 November.
    sessions = weekly_new_york_1800(date(2026, 10, 26), date(2026, 11, 2))
    want = wanted(COURSE, sessions, (60,), NOW)
    assert [r.expression for r in sorted(want.values(), key=lambda r: r.fire_at)] == [
        "at(2026-10-26T21:00:00)",  # 17:00 EDT
        "at(2026-11-02T22:00:00)",  # 17:00 EST
    ]
    for reminder in want.values():
        local = timeutil.parse_iso(reminder.fire_at).astimezone(timeutil.ZoneInfo("America/New_York"))
        assert (local.hour, local.minute) == (17, 0)


def test_no_schedule_in_the_past_nor_for_a_cancelled_session():
    starts = NOW + timedelta(minutes=90)
    sessions = [session("ses_soon0001", starts), session("ses_gone0001", starts, status="cancelled")]
    want = wanted(COURSE, sessions, (1440, 60), NOW)
    assert list(want) == [schedule_name("ses_soon0001", 60)]  # the 24 h one would be in the past
    # A reminder due within the lead time is not created either.
    edge = NOW + timedelta(minutes=60, seconds=MIN_LEAD_SECONDS)
    assert wanted(COURSE, [session("ses_edge0001", edge)], (60,), NOW) == {}
    later = edge + timedelta(seconds=1)
    assert list(wanted(COURSE, [session("ses_edge0001", later)], (60,), NOW)) == [schedule_name("ses_edge0001", 60)]


def test_names_are_deterministic_and_fit_scheduler_limits():
    name = schedule_name("ses_" + "a" * 40, 40320)
    assert len(name) <= 64 and name == schedule_name("ses_" + "a" * 40, 40320)
    assert all(c.isalnum() or c in "-_." for c in name)


def _reminder(session_id: str, fire: datetime, *, version: int = 1, offset: int = 60) -> Reminder:
    starts = fire + timedelta(minutes=offset)
    return Reminder(COURSE, session_id, offset, timeutil.iso_utc(fire), timeutil.iso_utc(starts), version)


def test_a_sync_creates_what_is_missing_moves_what_changed_and_deletes_what_is_no_longer_wanted():
    base = NOW + timedelta(days=2)
    same = _reminder("ses_same0001", base)
    moved_before = _reminder("ses_move0001", base)
    moved_after = _reminder("ses_move0001", base + timedelta(hours=2), version=2)
    new = _reminder("ses_new00001", base)
    cancelled = _reminder("ses_canc0001", base)
    fired = _reminder("ses_past0001", NOW - timedelta(minutes=5))
    recorded = {r.name: r for r in (same, moved_before, cancelled, fired)}
    want = {r.name: r for r in (same, moved_after, new)}
    steps = plan(want, recorded, NOW)
    assert steps.create == [new]
    assert steps.update == [moved_after]
    assert steps.delete == [cancelled]
    assert steps.expired == [fired]  # fired already: forgotten, never deleted at Scheduler
    assert steps.unchanged == [same]
    # A repeat of the same sync, once recorded, does nothing.
    again = plan(want, want, NOW)
    assert (again.create, again.update, again.delete, again.unchanged) == (
        [],
        [],
        [],
        sorted(want.values(), key=lambda r: r.name),
    )


def test_a_version_change_alone_updates_the_schedule_so_the_reminder_is_not_skipped_as_stale():
    fire = NOW + timedelta(days=1)
    steps = plan({"x": _reminder("ses_v0000001", fire, version=3)}, {"x": _reminder("ses_v0000001", fire)}, NOW)
    assert [r.version for r in steps.update] == [3]


def test_one_rule_reads_calendar_reminder_minutes_for_google_events_and_reminders(monkeypatch):
    from integration_core.calendar_config import calendar_settings
    from integration_core.reminder_config import reminder_settings

    monkeypatch.setenv("CALENDAR_REMINDER_MINUTES", "60, 1440,30")
    reminder_settings.cache_clear()
    try:
        assert calendar_settings().reminder_minutes == reminder_settings().offsets_minutes == (1440, 60, 30)
        monkeypatch.setenv("CALENDAR_REMINDER_MINUTES", "0")  # a reminder at the start is no reminder
        with pytest.raises(OffsetsError):
            calendar_settings()
        monkeypatch.setenv("CALENDAR_REMINDER_MINUTES", "1,2,3,4,5,6")  # Google takes 5 overrides
        with pytest.raises(ValueError, match="1 to 5"):
            calendar_settings()
    finally:
        reminder_settings.cache_clear()


def test_the_reminder_function_takes_back_the_input_a_schedule_carries_and_nothing_else():
    from integration_core.services.reminders.firing import ReminderInput

    [reminder] = wanted(COURSE, [session("ses_a0000001", NOW + timedelta(days=1))], [30], NOW).values()
    given = reminder.input()
    assert ReminderInput.parse(given) == ReminderInput(
        COURSE, "ses_a0000001", 30, 1, timeutil.iso_utc(NOW + timedelta(days=1))
    )
    assert ReminderInput.parse({**given, "extra": "ignored"}) == ReminderInput.parse(given)
    refused = [
        None,
        [given],
        {k: v for k, v in given.items() if k != "startsAt"},
        {**given, "version": True},
        {**given, "version": "1"},
        {**given, "offsetMinutes": 0},
        {**given, "offsetMinutes": 30.0},
        {**given, "courseId": ""},
        {**given, "sessionId": "s" * 65},
        {**given, "startsAt": None},
    ]
    assert [ReminderInput.parse(payload) for payload in refused] == [None] * len(refused)
