"""The calendar store's conditions against moto's DynamoDB, and KMS encryption contexts: what the
services rely on for "once" (a state, a refresh, a calendar) must hold in the real table."""

from __future__ import annotations

import boto3
import pytest

from integration_core.adapters import kms
from integration_core.stores.calendar import BROKEN, CONNECTED, store


def _connection(user_id: str = "stu_ana00001") -> dict:
    return {
        "user_id": user_id,
        "email": "ana@example.com",
        "status": CONNECTED,
        "token_version": 1,
        "access_token": "c1",
        "refresh_token": "r1",
        "access_expires_at": 100,
    }


def test_a_state_serves_once_and_not_after_it_expired(aws):
    calendar = store()
    calendar.put_state("d1", {"user_id": "stu_ana00001", "code_verifier": "v"}, expires_at=2000)
    assert calendar.take_state("d1", now=1000) == {"user_id": "stu_ana00001", "code_verifier": "v"}
    assert calendar.take_state("d1", now=1000) is None
    calendar.put_state("d2", {"user_id": "stu_ana00001", "code_verifier": "v"}, expires_at=2000)
    assert calendar.take_state("d2", now=2000) is None


def test_tokens_are_written_only_over_the_version_read(aws):
    calendar = store()
    calendar.save_connection(_connection())
    assert calendar.save_tokens("stu_ana00001", 1, {"access_token": "c2"}) is True
    assert calendar.save_tokens("stu_ana00001", 1, {"access_token": "c3"}) is False  # a late refresher
    found = calendar.connection("stu_ana00001")
    assert (found["access_token"], found["refresh_token"], found["token_version"]) == ("c2", "r1", 2)


def test_broken_once_tokens_dropped_and_no_token_written_after(aws):
    calendar = store()
    calendar.save_connection(_connection())
    assert calendar.mark_broken("stu_ana00001", 1, "invalid_grant", "2026-01-01T00:00:00+00:00", []) is True
    assert calendar.mark_broken("stu_ana00001", 1, "invalid_grant", "2026-01-01T00:00:00+00:00", []) is False
    found = calendar.connection("stu_ana00001")
    assert found["status"] == BROKEN and "refresh_token" not in found and "access_token" not in found
    assert calendar.save_tokens("stu_ana00001", 2, {"access_token": "c9"}) is False


def test_one_lease_at_a_time_until_released_or_expired(aws):
    calendar = store()
    assert calendar.take_lease("stu_ana00001", "a", now=1000, seconds=15) is True
    assert calendar.take_lease("stu_ana00001", "b", now=1001, seconds=15) is False
    calendar.release_lease("stu_ana00001", "b")  # not b's: stays
    assert calendar.take_lease("stu_ana00001", "c", now=1002, seconds=15) is False
    assert calendar.take_lease("stu_ana00001", "c", now=1100, seconds=15) is True  # a's expired


def test_the_calendar_is_remembered_once_and_an_older_sync_record_does_not_win(aws):
    calendar = store()
    calendar.save_connection(_connection())
    assert calendar.set_calendar("stu_ana00001", "cal-1") is True
    assert calendar.set_calendar("stu_ana00001", "cal-2") is False
    record = {"course_id": "crs_a0000001", "session_id": "ses_a0000001", "event_id": "abcde", "status": "confirmed"}
    assert calendar.save_synced("stu_ana00001", {**record, "session_version": 2}) is True
    assert calendar.save_synced("stu_ana00001", {**record, "session_version": 1}) is False
    assert [r["session_version"] for r in calendar.synced_events("stu_ana00001", "crs_a0000001")] == [2]


def test_a_token_encrypted_for_one_user_does_not_decrypt_for_another(aws):
    key = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
    sealed = kms.encrypt(key, "1//0secret", kms.context("stu_ana00001", "google-calendar-refresh-token"))
    assert "secret" not in sealed
    assert kms.decrypt(key, sealed, kms.context("stu_ana00001", "google-calendar-refresh-token")) == "1//0secret"
    with pytest.raises(kms.Undecryptable):
        kms.decrypt(key, sealed, kms.context("stu_ben00001", "google-calendar-refresh-token"))
