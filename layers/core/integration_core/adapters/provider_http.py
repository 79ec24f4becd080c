"""One HTTP client for every provider spoken to over httpx (PayPal now; Zoom, Graph, Google and
GitHub next): what is the same for all of them lives here, what each provider's payloads mean
stays in its adapter.

- timeouts: one `httpx.Client` per provider with a connect and a total timeout;
- an OAuth client-credentials token (or a grant of that shape: Zoom's account_credentials), cached
  per (token URL, client id) and fetched again shortly
  before it expires, or a token from a source of its own (Graph: MSAL and its token cache);
  concurrent callers wait for one fetch instead of each asking for a token;
  a 401 on a call fetches one fresh token and tries once more;
- retries on 429 and 5xx (and on connection failures) with capped exponential backoff and full
  jitter, honouring `Retry-After` in both of its forms (seconds or an HTTP date), parsed by
  `integration_core.timeutil.parse_retry_after`, the one parser the webhook delivery uses too;
  a timeout is retried only for a GET, whose repetition is harmless;
- a quota answer (the provider says the allowance is used up) is never retried: waiting a second
  does not refill a daily quota;
- every outcome is noted for the admins' health page (`stores.provider_health.note`: at most one
  conditional write per provider and outcome per process every 30 s, never failing the call);
- failures become domain errors: ProviderUnavailable with a retry hint when the provider is down,
  slow, throttling or out of quota, ProviderRejected when it refuses our credentials. Any other
  answer below 500 goes back to the adapter, which knows what the provider's error body means.

The retry loop is written out here instead of using tenacity or stamina: the loop is a dozen lines,
and importing either library costs a cold start more than this whole module (see the README).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from integration_core.errors import ProviderRejected, ProviderUnavailable
from integration_core.observability import logger
from integration_core.timeutil import parse_retry_after, utc_now

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
DEFAULT_RETRY_AFTER = 10  # the hint we give our caller when the provider gives none
QUOTA_RETRY_AFTER = 60


class QuotaExceeded(ProviderUnavailable):
    """The provider's allowance is used up: retrying now will not help, later will."""


@dataclass(frozen=True)
class ClientCredentials:
    """An OAuth 2.0 client-credentials grant (RFC 6749 section 4.4)."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    # Zoom's Server-to-Server OAuth is the same exchange with its own grant:
    # grant_type=account_credentials and the account_id as a further form field.
    grant_type: str = "client_credentials"
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_seconds: float = 0.2
    max_backoff_seconds: float = 2.0  # a Retry-After longer than this ends the retries at once

    def backoff(self, attempt: int) -> float:
        """Full jitter over a capped exponential: attempt 0 waits up to base, then 2x, 4x, ..."""
        ceiling = min(self.max_backoff_seconds, self.base_seconds * 2.0**attempt)
        return ceiling * (0.5 + random.random() / 2)


def _note(provider: str, ok: bool, detail: str | None = None) -> None:
    from integration_core.stores import provider_health  # loaded once a provider is called

    provider_health.note(provider, ok, detail)


def _never_quota(_: httpx.Response) -> bool:
    return False


def _never_throttled(_: httpx.Response) -> bool:
    return False


class ProviderHttp:
    """Calls to one provider. `quota` tells a quota answer from a passing throttle (providers say
    it differently: Zoom a 429 with code 429 and a daily limit, Google a 403 `quotaExceeded`);
    `throttled` names answers besides 429 and 5xx that are a passing throttle, retried like a 429
    (Google's 403 `rateLimitExceeded` / `userRateLimitExceeded`)."""

    def __init__(
        self,
        name: str,
        *,
        title: str,
        timeout: float,
        connect_timeout: float = 2.0,
        credentials: ClientCredentials | None = None,
        token_source: Callable[[bool], str] | None = None,
        token_margin_seconds: float = 120,
        retry: RetryPolicy | None = None,
        quota: Callable[[httpx.Response], bool] = _never_quota,
        throttled: Callable[[httpx.Response], bool] = _never_throttled,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name  # in log messages: "paypal timeout"
        self.title = title  # in problem details: "PayPal did not answer in time"
        self.credentials = credentials
        # A token from elsewhere (MSAL's cache for Graph): token_source(fresh) answers the token,
        # a new one when `fresh` (after a 401); the source keeps its own cache.
        self._token_source = token_source
        self.retry = retry or RetryPolicy()
        self._quota = quota
        self._throttled = throttled
        self._sleep = sleep
        self._clock = clock
        self._margin = token_margin_seconds
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=20),
            transport=transport,
        )
        self._token: tuple[str, float] | None = None  # (access token, monotonic time to refresh at)
        self._token_lock = threading.Lock()

    # ------------------------------------------------------------------ the token
    def token(self, *, fresh: bool = False, stale: str | None = None) -> str:
        """The cached access token, fetched when there is none, it is about to expire, or `fresh`.
        `stale` is the token a 401 refused: when another caller has already replaced it, that
        replacement is the answer and no second fetch is made."""
        if self._token_source is not None:
            with self._token_lock:
                return self._token_source(fresh)
        creds = self.credentials
        if creds is None:
            raise RuntimeError(f"{self.name}: no client credentials configured")
        with self._token_lock:
            cached = self._token
            usable = cached is not None and cached[1] > self._clock()
            if cached and usable and (not fresh or (stale is not None and cached[0] != stale)):
                return cached[0]
            form = {"grant_type": creds.grant_type, **dict(creds.extra)}
            if creds.scope:
                form["scope"] = creds.scope
            answer = self.send(
                "POST", creds.token_url, what="token", auth=(creds.client_id, creds.client_secret), data=form
            )
            if answer.status_code != 200:
                logger.error(f"{self.name} token refused", extra={"status": answer.status_code})
                _note(self.name, False, f"token refused ({answer.status_code})")
                raise ProviderRejected(f"{self.title} refused our credentials; the operator must fix the configuration")
            body = answer.json()
            lifetime = max(0.0, float(body.get("expires_in", 0)) - self._margin)
            token: str = body["access_token"]
            self._token = (token, self._clock() + lifetime)
            return token

    # ------------------------------------------------------------------ calls
    def call(self, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """One call with the bearer token (fresh once on a 401); retries as `send` does."""
        headers = dict(kwargs.pop("headers", None) or {})
        token = self.token()
        headers["Authorization"] = f"Bearer {token}"
        answer = self.send(method, url, what=what, headers=headers, **kwargs)
        if answer.status_code == 401:
            headers["Authorization"] = f"Bearer {self.token(fresh=True, stale=token)}"
            answer = self.send(method, url, what=what, headers=headers, **kwargs)
        return answer

    def send(self, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """The answer to the first attempt that is not a 429 or 5xx; ProviderUnavailable when every
        attempt failed, the wait asked for is too long, or the quota is used up."""
        policy = self.retry
        answer: httpx.Response | None = None
        for attempt in range(policy.max_attempts):
            last = attempt + 1 == policy.max_attempts
            try:
                answer = self._client.request(method, url, **kwargs)
            except httpx.TimeoutException:
                logger.warning(f"{self.name} timeout", extra={"call": what, "attempt": attempt})
                if not last and method == "GET":
                    continue
                _note(self.name, False, f"timeout ({what})")
                raise ProviderUnavailable(
                    f"{self.title} did not answer in time ({what}); try again", retry_after=5
                ) from None
            except httpx.TransportError:
                if not last:
                    self._sleep(policy.backoff(attempt))
                    continue
                _note(self.name, False, f"unreachable ({what})")
                raise ProviderUnavailable(
                    f"{self.title} cannot be reached ({what}); try again", retry_after=5
                ) from None
            if self._quota(answer):
                hint = parse_retry_after(answer.headers.get("Retry-After"), utc_now())
                logger.warning(f"{self.name} quota exceeded", extra={"call": what, "status": answer.status_code})
                _note(self.name, False, f"quota used up ({what})")
                raise QuotaExceeded(
                    f"{self.title} quota is used up ({what}); try again later",
                    retry_after=max(1, hint if hint is not None else QUOTA_RETRY_AFTER),
                )
            if answer.status_code not in RETRYABLE_STATUS and answer.status_code < 500 and not self._throttled(answer):
                _note(self.name, True)
                return answer
            hint = parse_retry_after(answer.headers.get("Retry-After"), utc_now())
            if last or (hint is not None and hint > policy.max_backoff_seconds):
                break
            self._sleep(float(hint) if hint is not None else policy.backoff(attempt))
        status = answer.status_code if answer is not None else 0
        logger.warning(f"{self.name} unavailable", extra={"call": what, "status": status})
        _note(self.name, False, f"answered {status} ({what})")
        hint = parse_retry_after(answer.headers.get("Retry-After"), utc_now()) if answer is not None else None
        raise ProviderUnavailable(
            f"{self.title} failed ({what}); try again",
            retry_after=max(1, hint if hint is not None else DEFAULT_RETRY_AFTER),
        )
