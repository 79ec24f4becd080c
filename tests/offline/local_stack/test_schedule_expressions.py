"""Schedule expressions as EventBridge evaluates them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from offline.schedule_expressions import ScheduleExpressionError, next_fire

T0 = datetime(2026, 3, 27, 12, 0, 30, tzinfo=UTC)


def test_rate_counts_from_its_anchor():
    assert next_fire("rate(5 minutes)", T0, "UTC", T0) == datetime(2026, 3, 27, 12, 5, 30, tzinfo=UTC)


def test_cron_in_a_time_zone_keeps_local_time_across_dst():
    # 18:00 in Berlin: 17:00 UTC before the switch on 29 March 2026, 16:00 UTC after it.
    before = next_fire("cron(0 18 ? * * *)", T0, "Europe/Berlin", T0)
    assert before == datetime(2026, 3, 27, 17, 0, tzinfo=UTC)
    after = next_fire("cron(0 18 ? * * *)", datetime(2026, 3, 29, 12, tzinfo=UTC), "Europe/Berlin", T0)
    assert after == datetime(2026, 3, 29, 16, 0, tzinfo=UTC)


def test_cron_weekdays_nth_and_last():
    assert next_fire("cron(0 9 ? * MON-FRI *)", T0, "UTC", T0) == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    assert next_fire("cron(0 9 ? * 2#1 *)", T0, "UTC", T0) == datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
    assert next_fire("cron(0 0 L * ? *)", T0, "UTC", T0) == datetime(2026, 3, 31, 0, 0, tzinfo=UTC)
    assert next_fire("cron(0/15 * * * ? *)", T0, "UTC", T0) == datetime(2026, 3, 27, 12, 15, tzinfo=UTC)


def test_at_fires_once():
    assert next_fire("at(2026-03-27T12:00:40)", T0, "UTC", T0) == datetime(2026, 3, 27, 12, 0, 40, tzinfo=UTC)
    assert next_fire("at(2026-03-27T12:00:00)", T0, "UTC", T0) is None


def test_bad_expressions_are_refused():
    with pytest.raises(ScheduleExpressionError):
        next_fire("every(5 minutes)", T0, "UTC", T0)
    with pytest.raises(ScheduleExpressionError):
        next_fire("cron(0 9 * *)", T0, "UTC", T0)
