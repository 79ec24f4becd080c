"""The providers' health for the admins' page: per provider its last success and last failure
(and what failed), written where provider calls are made (`adapters.provider_http.ProviderHttp`,
`adapters.stripe_api`), cheaply:

- at most one conditional UpdateItem per provider and outcome per process every 30 s (a busy Lambda
  environment writes twice a minute, not once per call), and the condition keeps a late writer
  from moving a time backwards;
- recording never fails a provider call: anything that goes wrong here is logged and dropped;
- without a table (unit tests of adapters) nothing is written.

"Success" means the provider answered (any answer below 500 that is not a throttle: a refused
request is the provider working); "failure" means it could not be reached, timed out, kept
answering 5xx or 429, was out of quota, or refused our credentials."""

from __future__ import annotations

import threading
import time
from typing import Any

from integration_core import keys, timeutil
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings
from integration_core.stores.common import public

EVERY_SECONDS = 30.0
enabled = True  # tests without an embedded AWS turn it off (tests/conftest.py)
_last: dict[tuple[str, bool], float] = {}
_lock = threading.Lock()


def _due(provider: str, ok: bool, now: float) -> bool:
    with _lock:
        last = _last.get((provider, ok))
        if last is not None and now - last < EVERY_SECONDS:
            return False
        _last[(provider, ok)] = now
        return True


def note(provider: str, ok: bool, detail: str | None = None) -> None:
    """Remember that `provider` answered (ok) or failed (with a short `detail`, never a body)."""
    name = settings().table_name
    if not enabled or not name or not _due(provider, ok, time.monotonic()):
        return
    try:
        ProviderHealthStore(table(name)).record(provider, ok, timeutil.iso_utc(timeutil.utc_now()), detail)
    except Exception:  # the health page must never break a provider call
        from integration_core.observability import logger

        logger.warning("provider health not recorded", extra={"provider": provider})


class ProviderHealthStore:
    def __init__(self, db: Table) -> None:
        self.db = db

    def record(self, provider: str, ok: bool, at: str, detail: str | None) -> None:
        field = "last_success_at" if ok else "last_failure_at"
        sets = f"provider = :p, {field} = :at"
        values: dict[str, Any] = {":p": provider, ":at": at}
        if not ok:
            sets += ", last_failure = :why"
            values[":why"] = (detail or "failed")[:200]
        try:
            self.db.update(
                keys.PROVIDER_HEALTH,
                keys.provider_health_sk(provider),
                f"SET {sets}",
                f"attribute_not_exists({field}) OR {field} < :at",
                values=values,
            )
        except ConditionFailed:
            return  # a later outcome was recorded meanwhile

    def all(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after = None
        while True:
            page = self.db.query(keys.PROVIDER_HEALTH, limit=100, after=after)
            found += [public(i) for i in page.items]
            after = page.last_key
            if not after:
                return found


def forget() -> None:
    """Forget when each outcome was last written (a fresh process, for tests)."""
    with _lock:
        _last.clear()


def store() -> ProviderHealthStore:
    return ProviderHealthStore(table(settings().table_name))
