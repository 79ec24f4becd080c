"""The provider HTTP client against httpx.MockTransport: retries on 429/5xx with backoff that honours
Retry-After (seconds and HTTP date), a quota answer not retried, the token cached and refreshed
shortly before it expires (once for concurrent callers), and failures mapped to domain errors."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from integration_core.adapters.provider_http import (
    ClientCredentials,
    ProviderHttp,
    QuotaExceeded,
    RetryPolicy,
)
from integration_core.errors import ProviderRejected, ProviderUnavailable
from integration_core.timeutil import utc_now

TOKEN_URL = "https://provider.test/oauth/token"
API = "https://provider.test/v1/thing"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(handler, *, sleeps=None, clock=None, quota=None, **kwargs) -> ProviderHttp:
    extra = {"quota": quota} if quota else {}
    return ProviderHttp(
        "acme",
        title="Acme",
        timeout=1.0,
        credentials=ClientCredentials(TOKEN_URL, "client", "s3cret"),
        transport=httpx.MockTransport(handler),
        sleep=(sleeps.append if sleeps is not None else lambda _: None),
        clock=clock or time.monotonic,
        **extra,
        **kwargs,
    )


def answers(*responses):
    """A handler that gives the API responses in order and a token whenever one is asked for."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if str(request.url) == TOKEN_URL:
            return httpx.Response(200, json={"access_token": f"tok{len(seen)}", "expires_in": 3600})
        return queue.pop(0)

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def api_calls(handler) -> list[httpx.Request]:
    return [r for r in handler.seen if str(r.url) != TOKEN_URL]


def test_a_503_then_a_200_is_retried_with_backoff():
    handler = answers(httpx.Response(503), httpx.Response(200, json={"ok": True}))
    sleeps: list[float] = []
    answer = make(handler, sleeps=sleeps).call("GET", API, what="get thing")
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert len(api_calls(handler)) == 2
    assert len(sleeps) == 1 and 0.1 <= sleeps[0] <= 0.2  # first backoff: half to all of base 0.2 s


def test_backoff_grows_exponentially_and_is_capped():
    policy = RetryPolicy(max_attempts=10, base_seconds=0.2, max_backoff_seconds=2.0)
    for attempt, ceiling in [(0, 0.2), (1, 0.4), (2, 0.8), (3, 1.6), (4, 2.0), (9, 2.0)]:
        waits = [policy.backoff(attempt) for _ in range(200)]
        assert max(waits) <= ceiling and min(waits) >= ceiling / 2
        assert len(set(waits)) > 1  # jitter: callers that failed together do not retry together


def test_retry_after_in_seconds_is_honoured():
    handler = answers(httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200))
    sleeps: list[float] = []
    make(handler, sleeps=sleeps).call("GET", API, what="get thing")
    assert sleeps == [1.0]


def test_retry_after_as_an_http_date_is_honoured():
    when = format_datetime(utc_now() + timedelta(seconds=2), usegmt=True)
    handler = answers(httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200))
    sleeps: list[float] = []
    make(handler, sleeps=sleeps).call("GET", API, what="get thing")
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 2.0


def test_a_long_retry_after_ends_the_retries_and_reaches_the_caller():
    handler = answers(httpx.Response(429, headers={"Retry-After": "30"}), httpx.Response(200))
    sleeps: list[float] = []
    with pytest.raises(ProviderUnavailable) as caught:
        make(handler, sleeps=sleeps).call("POST", API, what="create thing", json={})
    assert caught.value.retry_after == 30 and sleeps == [] and len(api_calls(handler)) == 1
    assert caught.value.status == 503 and "Acme failed (create thing)" in caught.value.detail


def test_a_long_http_date_retry_after_reaches_the_caller():
    when = format_datetime(utc_now() + timedelta(seconds=90), usegmt=True)
    handler = answers(httpx.Response(503, headers={"Retry-After": when}))
    with pytest.raises(ProviderUnavailable) as caught:
        make(handler).call("GET", API, what="get thing")
    assert 85 <= caught.value.retry_after <= 90


def test_every_attempt_failing_is_unavailable_with_a_hint():
    handler = answers(httpx.Response(500), httpx.Response(502), httpx.Response(504))
    with pytest.raises(ProviderUnavailable) as caught:
        make(handler).call("GET", API, what="get thing")
    assert len(api_calls(handler)) == 3 and caught.value.retry_after == 10


def test_a_quota_answer_is_not_retried():
    def quota(answer: httpx.Response) -> bool:
        return answer.status_code == 429 and answer.headers.get("X-Quota") == "daily"

    handler = answers(httpx.Response(429, headers={"X-Quota": "daily", "Retry-After": "1"}), httpx.Response(200))
    sleeps: list[float] = []
    with pytest.raises(QuotaExceeded) as caught:
        make(handler, sleeps=sleeps, quota=quota).call("GET", API, what="get thing")
    assert len(api_calls(handler)) == 1 and sleeps == []
    assert isinstance(caught.value, ProviderUnavailable) and caught.value.retry_after == 1
    assert "quota" in caught.value.detail


def test_a_4xx_goes_back_to_the_adapter_unretried():
    handler = answers(httpx.Response(422, json={"name": "UNPROCESSABLE_ENTITY"}))
    answer = make(handler).call("POST", API, what="create thing", json={})
    assert answer.status_code == 422 and len(api_calls(handler)) == 1


def test_a_timeout_is_retried_for_a_get_only():
    calls = {"n": 0}

    def slow(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        calls["n"] += 1
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ProviderUnavailable) as caught:
        make(slow).call("POST", API, what="capture", json={})
    assert calls["n"] == 1 and "did not answer in time" in caught.value.detail
    calls["n"] = 0
    with pytest.raises(ProviderUnavailable):
        make(slow).call("GET", API, what="get thing")
    assert calls["n"] == 3


def test_a_connection_failure_is_retried_then_unavailable():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = make(down)
    with pytest.raises(ProviderUnavailable) as caught:
        client.send("GET", API, what="get thing")
    assert "cannot be reached" in caught.value.detail and caught.value.retry_after == 5


def test_the_token_is_cached_and_refreshed_shortly_before_it_expires():
    handler = answers(*[httpx.Response(200) for _ in range(4)])
    clock = Clock()
    client = make(handler, clock=clock, token_margin_seconds=120)
    client.call("GET", API, what="a")
    client.call("GET", API, what="b")
    tokens = [r for r in handler.seen if str(r.url) == TOKEN_URL]
    assert len(tokens) == 1
    assert tokens[0].headers["Authorization"].startswith("Basic ")  # client credentials, never in the URL
    assert b"grant_type=client_credentials" in tokens[0].content
    clock.now += 3600 - 121  # still more than the margin left: the cached token serves
    client.call("GET", API, what="c")
    assert len([r for r in handler.seen if str(r.url) == TOKEN_URL]) == 1
    clock.now += 2  # within the margin of expiry: fetched again before the provider refuses it
    client.call("GET", API, what="d")
    assert len([r for r in handler.seen if str(r.url) == TOKEN_URL]) == 2
    last = api_calls(handler)[-1]
    assert last.headers["Authorization"] != api_calls(handler)[0].headers["Authorization"]


def test_concurrent_callers_share_one_token_fetch():
    fetches = {"n": 0}
    started = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            fetches["n"] += 1
            started.set()
            time.sleep(0.05)  # a slow token endpoint: the other callers arrive while it answers
            return httpx.Response(200, json={"access_token": "shared", "expires_in": 3600})
        return httpx.Response(200, json={"auth": request.headers["Authorization"]})

    client = make(handler)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(client.call("GET", API, what="x").json()["auth"]))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fetches["n"] == 1 and results == ["Bearer shared"] * 8


def test_a_401_fetches_one_fresh_token_and_tries_again():
    handler = answers(httpx.Response(401), httpx.Response(200, json={"ok": True}))
    answer = make(handler).call("GET", API, what="get thing")
    assert answer.status_code == 200
    calls = api_calls(handler)
    assert len(calls) == 2 and calls[0].headers["Authorization"] != calls[1].headers["Authorization"]


def test_refused_credentials_are_provider_rejected_and_the_secret_is_not_in_the_message():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    with pytest.raises(ProviderRejected) as caught:
        make(handler).call("GET", API, what="get thing")
    assert caught.value.status == 502 and "refused our credentials" in caught.value.detail
    assert "s3cret" not in caught.value.detail and "s3cret" not in repr(ClientCredentials(TOKEN_URL, "c", "s3cret"))
