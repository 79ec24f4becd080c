"""Fault injection in the Google emulator: rate limits in Google's error shape, 429 with
Retry-After, 5xx, slow answers; each for the next N calls only."""

from __future__ import annotations

import httpx
import pytest


def _fault(google, **body):
    answer = google.http.post(f"{google.url}/_sandbox/google/faults", json=body)
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("kind", ["rateLimitExceeded", "userRateLimitExceeded"])
def test_rate_limits_answer_403_in_googles_shape_for_the_next_calls_only(google, kind):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events"
    _fault(google, kind=kind, count=2)
    for _ in range(2):
        limited = google.http.get(url, headers=headers)
        assert limited.status_code == 403
        error = limited.json()["error"]
        assert error["code"] == 403
        assert error["errors"][0] == {"domain": "usageLimits", "reason": kind, "message": error["message"]}
    assert google.http.get(url, headers=headers).status_code == 200
    assert google.http.get(f"{google.url}/_sandbox/google/calls").json()["faulted"] == {kind: 2}


def test_429_carries_retry_after_and_5xx_are_backend_errors(google):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events"
    _fault(google, status=429, retryAfter=2)
    _fault(google, status=500)
    _fault(google, status=503)
    throttled = google.http.get(url, headers=headers)
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"
    assert throttled.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    failed = google.http.get(url, headers=headers)
    assert failed.status_code == 500 and failed.json()["error"]["errors"][0]["reason"] == "backendError"
    assert google.http.get(url, headers=headers).status_code == 503
    assert google.http.get(url, headers=headers).status_code == 200


def test_a_fault_can_target_one_method_and_path(google):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events"
    _fault(google, kind="rateLimitExceeded", method="POST", pathPrefix="/calendar/v3/calendars/primary/events")
    assert google.http.get(url, headers=headers).status_code == 200
    event = {
        "summary": "x",
        "start": {"dateTime": "2026-03-02T18:00:00Z"},
        "end": {"dateTime": "2026-03-02T19:00:00Z"},
    }
    assert google.http.post(url, json=event, headers=headers).status_code == 403
    assert google.http.post(url, json=event, headers=headers).status_code == 200
    assert google.http.get(f"{google.url}/_sandbox/google/faults").json() == []


def test_a_slow_fault_delays_the_answer_of_the_next_call_only(google):
    headers = google.bearer("ana@example.com")
    url = f"{google.api}/calendars/primary/events"
    _fault(google, kind="slow", delayMs=3000)
    with pytest.raises(httpx.ReadTimeout):
        google.http.get(url, headers=headers, timeout=0.5)
    assert google.http.get(url, headers=headers).status_code == 200


def test_the_sandboxs_own_fault_control_answers_in_googles_shape(google):
    headers = google.bearer("ana@example.com")
    google.http.post(f"{google.url}/_sandbox/faults", json={"provider": "google", "status": 503, "retryAfter": 1})
    down = google.http.get(f"{google.api}/calendars/primary/events", headers=headers)
    assert down.status_code == 503 and down.headers["retry-after"] == "1"
    assert down.json()["error"]["errors"][0]["reason"] == "backendError"
