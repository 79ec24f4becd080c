"""The Zoom adapter against a fake Zoom (httpx.MockTransport): the account_credentials token,
the daily quota as a 429 problem naming UTC midnight (one call, never retried), a meeting left
at Zoom by a crash found by its reference instead of made twice, and callback signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from integration_core.adapters import provider_http, zoom_api
from integration_core.errors import QuotaExhausted
from integration_core.ports.video import CallbackRefused, Handshake, MeetingRequest, Weekly

SECRET = "webhook-secret"


class FakeZoom:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.meetings: list[dict[str, Any]] = []
        self.quota_left = 100

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append((request.method, path))
        if path == "/oauth/token":
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            assert form == {"grant_type": "account_credentials", "account_id": "acct"}
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3599})
        assert request.headers["Authorization"] == "Bearer tok"
        if request.method == "GET" and path.startswith("/v2/users/") and path.endswith("/meetings"):
            return httpx.Response(200, json={"meetings": self.meetings, "next_page_token": ""})
        if request.method == "GET" and path.startswith("/v2/users/"):
            return httpx.Response(200, json={"id": "u1", "email": "t@example.com"})
        if request.method == "POST" and path.endswith("/meetings"):
            if self.quota_left <= 0:
                return httpx.Response(
                    429,
                    headers={"X-RateLimit-Type": "Daily-limit", "Retry-After": "2030-03-06T00:00:00Z"},
                    json={"code": 429, "message": "You have exceeded the daily rate limit (100)"},
                )
            self.quota_left -= 1
            body = json.loads(request.content)
            meeting = {"id": 900 + len(self.meetings), "host_email": "t@example.com", "join_url": "https://j", **body}
            self.meetings.append(meeting)
            return httpx.Response(201, json=meeting)
        if request.method == "GET" and path.startswith("/v2/meetings/"):
            found = next(m for m in self.meetings if str(m["id"]) == path.rsplit("/", 1)[1])
            return httpx.Response(200, json=found)
        return httpx.Response(404, json={"code": 3001, "message": "not found"})


@pytest.fixture
def zoom(monkeypatch) -> FakeZoom:
    fake = FakeZoom()
    creds = zoom_api._Credentials(
        "acct", "cid", "csecret", SECRET, "https://zoom.test/oauth/token", "https://zoom.test/v2"
    )
    http = provider_http.ProviderHttp(
        "zoom",
        title="Zoom",
        timeout=2,
        credentials=provider_http.ClientCredentials(
            creds.oauth_url, "cid", "csecret", grant_type="account_credentials", extra=(("account_id", "acct"),)
        ),
        quota=zoom_api.is_daily_quota,
        transport=httpx.MockTransport(fake),
        sleep=lambda _: None,
    )
    monkeypatch.setattr(zoom_api, "_credentials", lambda: creds)
    monkeypatch.setattr(zoom_api, "_http", lambda c, t: http)
    return fake


def _request() -> MeetingRequest:
    return MeetingRequest(
        "mtg_course0001",
        "English B1",
        "t@example.com",
        "me",
        datetime(2030, 3, 18, 18, tzinfo=UTC),
        60,
        "Europe/London",
        True,
        Weekly((0, 2), 1, 8),
    )


def test_a_weekly_course_is_one_recurring_meeting_with_school_settings(zoom):
    made = zoom_api.ADAPTER.ensure_meeting(_request())
    [sent] = zoom.meetings
    assert sent["type"] == 8 and sent["recurrence"] == {
        "type": 2,
        "repeat_interval": 1,
        "weekly_days": "2,4",
        "end_times": 8,
    }
    assert sent["settings"]["waiting_room"] and not sent["settings"]["join_before_host"]
    assert sent["settings"]["mute_upon_entry"] and sent["settings"]["approval_type"] == 0
    assert sent["settings"]["auto_recording"] == "cloud"
    assert made.provider_id == "900"


def test_a_meeting_left_behind_by_a_crash_is_found_not_made_again(zoom):
    zoom_api.ADAPTER.ensure_meeting(_request())
    again = zoom_api.ADAPTER.ensure_meeting(_request())
    assert again.provider_id == "900" and len(zoom.meetings) == 1
    assert len([c for c in zoom.calls if c[0] == "POST" and c[1].endswith("/meetings")]) == 1


def test_the_daily_quota_is_a_429_naming_utc_midnight_and_is_not_retried(zoom):
    zoom.quota_left = 0
    with pytest.raises(QuotaExhausted) as raised:
        zoom_api.ADAPTER.ensure_meeting(_request())
    problem = raised.value.problem()
    assert problem["status"] == 429 and problem["resetsAt"].endswith("T00:00:00Z")
    assert "UTC midnight" in problem["detail"] and 0 < problem["retryAfter"] <= 86400
    assert len([c for c in zoom.calls if c[0] == "POST" and c[1].endswith("/meetings")]) == 1


def _signed(body: dict, stamp: int, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + raw, hashlib.sha256).hexdigest()
    return raw, {"x-zm-request-timestamp": str(stamp), "x-zm-signature": f"v0={signature}"}


def test_url_validation_is_answered_with_the_hmac_of_the_plain_token(zoom):
    raw, headers = _signed({"event": "endpoint.url_validation", "payload": {"plainToken": "abc"}}, int(time.time()))
    answer = zoom_api.ADAPTER.callback(raw, headers)
    expected = hmac.new(SECRET.encode(), b"abc", hashlib.sha256).hexdigest()
    assert isinstance(answer, Handshake) and answer.body == {"plainToken": "abc", "encryptedToken": expected}


@pytest.mark.parametrize(
    "stamp_offset, secret, reason",
    [(0, "forged", "does not match"), (-3600, SECRET, "tolerance"), (0, None, "malformed")],
)
def test_forged_stale_or_unsigned_callbacks_are_refused(zoom, stamp_offset, secret, reason):
    body = {"event": "meeting.started", "payload": {"object": {"id": "900", "uuid": "u"}}}
    raw, headers = _signed(body, int(time.time()) + stamp_offset, secret or SECRET)
    if secret is None:
        headers = {}
    with pytest.raises(CallbackRefused) as refused:
        zoom_api.ADAPTER.callback(raw, headers)
    assert reason in refused.value.reason


def test_a_uuid_with_slashes_is_encoded_twice():
    assert zoom_api.encode_uuid("/abc//d==") == "%252Fabc%252F%252Fd%253D%253D"
    assert zoom_api.encode_uuid("abc+d==") == "abc%2Bd%3D%3D"
