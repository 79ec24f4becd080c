"""The calendar services against in-memory fakes (tests/unit/calendar/fakes.py): the real Google
adapter runs over an httpx mock of Google that keeps Google's 409 on a duplicate event id."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from integration_core.domain.calendar import ConnectionBroken, NotConnected, event_id
from integration_core.errors import Forbidden, Unprocessable
from integration_core.principal import Principal, Role
from integration_core.services.calendar import connection, status, sync
from tests.unit.calendar.fakes import install

ANA = Principal("stu_ana00001", Role.STUDENT)
BEN = Principal("stu_ben00001", Role.STUDENT)
ADMIN = Principal("adm_office", Role.ADMIN)
COURSE = {
    "id": "crs_ny000001",
    "title": "Evening English",
    "time_zone": "America/New_York",
    "teacher_id": "tch_maria0001",
}


@pytest.fixture
def fakes(monkeypatch):
    store, directory, google = install(monkeypatch)
    directory.courses[COURSE["id"]] = COURSE
    directory.sessions[COURSE["id"]] = [
        _session("ses_one00001", "2026-03-02T23:00:00+00:00"),  # 18:00 EST
        _session("ses_two00001", "2026-03-09T22:00:00+00:00"),  # 18:00 EDT
        _session("ses_three001", "2026-03-16T22:00:00+00:00"),
    ]
    directory.enrolled[COURSE["id"]] = {ANA.sub}
    return store, directory, google


def _session(session_id, starts_at, version=1, status="scheduled"):
    ends = (datetime.fromisoformat(starts_at) + timedelta(hours=1)).isoformat()
    return {
        "id": session_id,
        "course_id": COURSE["id"],
        "starts_at": starts_at,
        "ends_at": ends,
        "time_zone": COURSE["time_zone"],
        "status": status,
        "version": version,
    }


def _connect(principal=ANA):
    started = connection.authorize(principal)
    query = parse_qs(urlsplit(started["authorization_url"]).query)
    return connection.authenticate(principal, "code-1", query["state"][0]), query


# ---------------------------------------------------------------- ids
def test_event_ids_follow_googles_rules_and_are_stable_per_user_and_session():
    first = event_id("stu_ana00001", "ses_one00001")
    assert re.fullmatch(r"[a-v0-9]{5,1024}", first) and len(first) == 52
    assert first == event_id("stu_ana00001", "ses_one00001")
    assert first != event_id("stu_ben00001", "ses_one00001") != event_id("stu_ana00001", "ses_two00001")


# ---------------------------------------------------------------- connecting
def test_authorization_url_asks_offline_access_with_pkce_s256_and_the_state_serves_once(fakes):
    store, _, _google = fakes
    answer, query = _connect()
    assert query["access_type"] == ["offline"] and query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43 and "code_verifier" not in query
    assert answer["email"] == "ana@example.com" and answer["is_authenticated"] is True
    assert not {"accessToken", "access_token", "refreshToken", "refresh_token"} & set(answer)
    assert "rt-1" not in str(store.conns) and "at-1" not in str(store.conns)  # stored encrypted
    with pytest.raises(Unprocessable):
        connection.authenticate(ANA, "code-1", query["state"][0])  # the same state again


def test_a_state_started_by_another_user_is_refused(fakes):
    started = connection.authorize(ANA)
    state = parse_qs(urlsplit(started["authorization_url"]).query)["state"][0]
    with pytest.raises(Forbidden):
        connection.authenticate(BEN, "code-1", state)


def test_ten_concurrent_callers_with_an_expiring_token_refresh_it_once(fakes):
    store, _, google = fakes
    _connect()
    store.conns[ANA.sub]["access_expires_at"] = int(time.time()) + 60  # inside the 5-minute margin
    google.refresh_delay = 0.05
    with ThreadPoolExecutor(max_workers=10) as pool:
        tokens = list(pool.map(lambda _: connection.access(ANA.sub).token, range(10)))
    assert google.calls["refresh_token"] == 1
    assert len(set(tokens)) == 1 and tokens[0] != "at-1"


def test_a_refresh_without_a_refresh_token_keeps_the_old_one(fakes):
    store, _, google = fakes
    _connect()
    before = store.conns[ANA.sub]["refresh_token"]
    store.conns[ANA.sub]["access_expires_at"] = 0
    connection.access(ANA.sub)
    assert store.conns[ANA.sub]["refresh_token"] == before
    google.rotate_refresh_token = True
    store.conns[ANA.sub]["access_expires_at"] = 0
    connection.access(ANA.sub)
    assert store.conns[ANA.sub]["refresh_token"] != before


def test_invalid_grant_breaks_the_connection_once_publishes_and_stops_calling_google(fakes):
    store, _, google = fakes
    _connect()
    google.refresh_error = "invalid_grant"
    store.conns[ANA.sub]["access_expires_at"] = 0
    for _ in range(5):
        with pytest.raises(ConnectionBroken):
            sync.sync_user_course(ANA.sub, COURSE)
    assert google.calls["refresh_token"] == 1  # never retried, never asked again
    shown = status.status(ANA)
    assert (shown["status"], shown["connected"]) == ("broken", False)
    assert "invalid_grant" in shown["broken_reason"]
    assert len(google.published) == 1 and store.broken_events[0][0]["type"] == "calendar_connection_broken"
    assert "refresh_token" not in store.conns[ANA.sub]


def test_revoke_calls_google_and_forgets_tokens_and_events(fakes):
    store, _, google = fakes
    _connect()
    sync.sync_course(ANA, COURSE["id"])
    connection.revoke(ANA)
    assert google.calls["revoke"] == 1 and ANA.sub not in store.conns and not store.synced
    with pytest.raises(NotConnected):
        sync.sync_course(ANA, COURSE["id"])


# ---------------------------------------------------------------- sync
def test_sync_creates_each_event_once_and_a_repeat_calls_google_for_nothing(fakes):
    _store, _, google = fakes
    _connect()
    first = sync.sync_course(ANA, COURSE["id"])
    assert (first["events_synced"], len(google.events)) == (3, 3)
    calls = dict(google.calls)
    again = sync.sync_course(ANA, COURSE["id"])
    assert again["events_synced"] == 3 and len(google.events) == 3
    assert google.calls == calls  # nothing changed, nothing asked of Google
    assert status.status(ANA)["event_count"] == 3


def test_a_join_link_that_appears_is_written_into_each_event_once(fakes):
    _store, directory, google = fakes
    _connect()
    sync.sync_course(ANA, COURSE["id"])
    assert all("location" not in e for e in google.events.values())
    directory.links.by_holder[(COURSE["id"], ANA.sub)] = {"*": "https://zoom.test/w/1?tk=ana"}
    directory.links.by_holder[(COURSE["id"], "stu_other0001")] = {"*": "https://zoom.test/w/1?tk=other"}
    calls = dict(google.calls)
    sync.sync_user_course(ANA.sub, COURSE)
    assert google.calls.get("events.insert", 0) + google.calls.get("events.patch", 0) > sum(
        calls.get(k, 0) for k in ("events.insert", "events.patch")
    )
    for event in google.events.values():
        assert event["location"] == "https://zoom.test/w/1?tk=ana"
        assert "Join the class: https://zoom.test/w/1?tk=ana" in event["description"]
        assert "tk=other" not in str(event)
    calls = dict(google.calls)
    sync.sync_user_course(ANA.sub, COURSE)
    assert google.calls == calls  # the link is synced: nothing more to write


def test_local_wall_time_and_zone_on_every_event_across_dst(fakes):
    _, _, google = fakes
    _connect()
    sync.sync_course(ANA, COURSE["id"])
    starts = sorted((e["start"]["dateTime"], e["start"]["timeZone"]) for e in google.events.values())
    assert starts == [(f"2026-03-{d}T18:00:00", "America/New_York") for d in ("02", "09", "16")]
    [reminders] = {str(e["reminders"]) for e in google.events.values()}
    assert "1440" in reminders and "'minutes': 60" in reminders


def test_ten_concurrent_syncs_create_each_event_once(fakes):
    _store, _, google = fakes
    _connect()
    barrier = threading.Barrier(10)

    def one(_):
        barrier.wait()
        return sync.sync_user_course(ANA.sub, COURSE).synced

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert list(pool.map(one, range(10))) == [3] * 10
    assert len(google.events) == 3
    assert (
        google.calls["events.insert"] >= 3 and google.calls.get("events.patch", 0) == google.calls["events.insert"] - 3
    )
    assert len(google.calendars) == 1 or google.calls.get("calendars.delete", 0) == len(google.calendars) - 1


def test_a_moved_session_is_patched_and_a_cancelled_one_cancelled(fakes):
    _store, directory, google = fakes
    _connect()
    sync.sync_course(ANA, COURSE["id"])
    sessions = directory.sessions[COURSE["id"]]
    sessions[0] = {**_session("ses_one00001", "2026-03-03T23:00:00+00:00", version=2)}
    sessions[1] = {**sessions[1], "status": "cancelled", "version": 2}
    answer = sync.sync_course(ANA, COURSE["id"])
    assert (answer["events_synced"], answer["events_cancelled"]) == (2, 1)
    moved = google.events[event_id(ANA.sub, "ses_one00001")]
    assert moved["start"]["dateTime"] == "2026-03-03T18:00:00"
    assert google.events[event_id(ANA.sub, "ses_two00001")]["status"] == "cancelled"
    assert len(google.events) == 3


def test_unenrollment_cancels_the_courses_events(fakes):
    _, _, google = fakes
    _connect()
    sync.sync_course(ANA, COURSE["id"])
    done = sync.sync_user_course(ANA.sub, COURSE, removed=True)
    assert done.cancelled == 3 and {e["status"] for e in google.events.values()} == {"cancelled"}


def test_rate_limits_are_retried_with_backoff(fakes):
    _, _, google = fakes
    _connect()
    limited = {"error": {"code": 403, "errors": [{"reason": "userRateLimitExceeded"}], "message": "Rate Limit"}}
    google.faults = [httpx.Response(403, json=limited), httpx.Response(429, json={})]
    sync.sync_course(ANA, COURSE["id"])
    assert len(google.events) == 3 and google.calls["fault"] == 2 and len(google.sleeps) == 2


def test_an_expired_access_token_refused_by_google_is_refreshed_once_and_the_call_repeated(fakes):
    store, _, google = fakes
    _connect()
    # A token Google refuses although we think it valid: the 401 refreshes once.
    store.conns[ANA.sub]["access_token"] = connection.deps.cipher().encrypt(ANA.sub, connection.ACCESS, "expired-x")
    sync.sync_course(ANA, COURSE["id"])
    assert google.calls["refresh_token"] == 1 and len(google.events) == 3


def test_who_may_sync_and_read_status(fakes):
    _, directory, _ = fakes
    _connect()
    with pytest.raises(Forbidden):
        sync.sync_course(BEN, COURSE["id"])  # not enrolled
    with pytest.raises(Forbidden):
        status.status(BEN, ANA.sub)
    assert status.status(ADMIN, ANA.sub)["email"] == "ana@example.com"
    directory.enrolled[COURSE["id"]].add(BEN.sub)
    answer = sync.sync_course(ADMIN, COURSE["id"])
    assert answer["students"] == 1 and answer["skipped"] == [BEN.sub]  # Ben has not connected


def test_next_reminder_is_the_earliest_start_minus_offset_still_ahead():
    records = [{"status": "confirmed", "starts_at": "2099-01-02T10:00:00+00:00"}]
    assert status.next_reminder_at(records, (1440, 60)) == "2099-01-01T10:00:00+00:00"
