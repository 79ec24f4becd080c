"""Weekly classes keep their local wall-clock time across DST changes."""

from datetime import UTC, date, datetime, time

from integration_core import timeutil


def test_weekly_18_00_new_york_class_stays_at_18_00_across_spring_forward():
    starts = timeutil.weekly_occurrences(
        zone="America/New_York", days=["MO"], start_time=time(18, 0), first_day=date(2026, 3, 2), count=3
    )
    # 2026-03-08 is the US change: 18:00 EST is 23:00 UTC, 18:00 EDT is 22:00 UTC.
    assert starts == [
        datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 22, 0, tzinfo=UTC),
        datetime(2026, 3, 16, 22, 0, tzinfo=UTC),
    ]
    assert {timeutil.local_iso(s, "America/New_York")[11:19] for s in starts} == {"18:00:00"}


def test_weekly_class_in_europe_across_autumn_change_and_several_days():
    starts = timeutil.weekly_occurrences(
        zone="Europe/London",
        days=["TU", "TH"],
        start_time=time(9, 30),
        first_day=date(2026, 10, 20),
        last_day=date(2026, 10, 29),
    )
    assert [timeutil.iso_utc(s) for s in starts] == [
        "2026-10-20T08:30:00+00:00",  # BST
        "2026-10-22T08:30:00+00:00",
        "2026-10-27T09:30:00+00:00",  # GMT after 25 October
        "2026-10-29T09:30:00+00:00",
    ]


def test_zone_without_dst_is_stable():
    starts = timeutil.weekly_occurrences(
        zone="Asia/Tokyo", days=["SA"], start_time=time(10, 0), first_day=date(2027, 1, 9), count=2
    )
    assert [timeutil.iso_utc(s) for s in starts] == ["2027-01-09T01:00:00+00:00", "2027-01-16T01:00:00+00:00"]


def test_naive_times_are_local_to_the_zone_and_aware_ones_keep_their_offset():
    assert timeutil.iso_utc(timeutil.to_utc(datetime(2026, 7, 1, 18, 0), "Europe/Madrid")) == (
        "2026-07-01T16:00:00+00:00"
    )
    aware = datetime.fromisoformat("2026-07-01T18:00:00+09:00")
    assert timeutil.iso_utc(timeutil.to_utc(aware, "Europe/Madrid")) == "2026-07-01T09:00:00+00:00"


def test_only_iana_zone_names_are_valid():
    assert timeutil.is_valid_zone("America/Sao_Paulo")
    assert not timeutil.is_valid_zone("Mars/Olympus")
    assert not timeutil.is_valid_zone("../../etc/passwd")
    assert not timeutil.is_valid_zone("")
