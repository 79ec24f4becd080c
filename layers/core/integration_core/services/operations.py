"""The admins' integration health at a glance (the dead letters are services.dead_letters).

Where each part comes from (all GetItem, Query, BatchGetItem or queue attributes; no Scan):
- providers: the provider health items written where provider calls are made
  (`stores.provider_health`), merged with the providers this service talks to, never-called ones
  shown as unknown;
- broken calendar connections: a sparse index of them (stores.calendar, keys.py);
- webhooks failing (the index auto-disable reads) or disabled for failing (an index of their own),
  with their webhooks in one BatchGetItem;
- queues: GetQueueAttributes of each watched queue and its dead letter queue (operations_config),
  and for those that hold messages, the oldest message's age from CloudWatch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from integration_core import timeutil
from integration_core.adapters import cloudwatch, dynamodb, sqs
from integration_core.domain.operations import (
    DELIVERIES,
    EVENTS,
    LISTED,
    BrokenCalendar,
    IntegrationHealth,
    ProviderHealth,
    QueueHealth,
    TroubledWebhook,
)
from integration_core.operations_config import WatchedQueue, watched_queues
from integration_core.principal import Principal, Role
from integration_core.stores import calendar as calendar_store
from integration_core.stores import provider_health
from integration_core.stores import webhooks as webhook_store

# The providers this service calls, by the names their adapters record under.
PROVIDERS = {
    "stripe": "Stripe",
    "paypal": "PayPal",
    "google": "Google (Calendar and its OAuth)",
    "zoom": "Zoom",
    "graph": "Microsoft Graph (Teams)",
    "google-signin": "Sign in with Google",
    "microsoft-signin": "Sign in with Microsoft",
    "github-signin": "Sign in with GitHub",
}
BEHIND_SECONDS = 60
READS_AT_ONCE = 8  # the health page's concurrent reads (botocore pools 10 connections per client)


def _now() -> str:
    return timeutil.iso_utc(timeutil.utc_now())


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _providers() -> list[ProviderHealth]:
    recorded = {item["provider"]: item for item in provider_health.store().all()}
    names = [*PROVIDERS, *sorted(set(recorded) - set(PROVIDERS))]
    shown = []
    for name in names:
        item = recorded.get(name, {})
        success, failure = item.get("last_success_at"), item.get("last_failure_at")
        healthy = None if not (success or failure) else (not failure or bool(success and success > failure))
        shown.append(
            ProviderHealth(
                provider=name,
                title=PROVIDERS.get(name, name),
                last_success_at=success,
                last_failure_at=failure,
                last_failure=item.get("last_failure") if failure else None,
                healthy=healthy,
            )
        )
    return shown


def _broken_calendars() -> list[BrokenCalendar]:
    return [
        BrokenCalendar(
            user_id=c["user_id"],
            google_email=c.get("email"),
            broken_at=c.get("broken_at"),
            broken_reason=c.get("broken_reason"),
        )
        for c in calendar_store.store().broken(LISTED)
    ]


def _webhooks() -> list[TroubledWebhook]:
    store = webhook_store.store()
    failing = []
    for stats in store.failing():
        failing.append(stats)
        if len(failing) >= LISTED:
            break
    disabled = store.disabled(LISTED)
    found = {w["webhook_id"]: w for w in store.webhooks([s["webhook_id"] for s in [*failing, *disabled]])}
    shown = []
    for state, group in (("failing", failing), ("disabled", disabled)):
        for stats in group:
            webhook = found.get(stats["webhook_id"])
            if webhook is None:
                continue  # deleted meanwhile
            shown.append(
                TroubledWebhook(
                    webhook_id=stats["webhook_id"],
                    user_id=webhook.get("user_id"),
                    url=webhook.get("url"),
                    state=state,
                    failing_since=stats.get("failing_since"),
                    consecutive_failures=int(stats.get("consecutive_failures", 0)),
                    last_failure_at=stats.get("last_failure_at"),
                    disabled_reason=webhook.get("disabled_reason") if state == "disabled" else None,
                )
            )
    return shown


def _queues(queues: tuple[WatchedQueue, ...], counts: dict[str, dict[str, int]]) -> list[QueueHealth]:
    # Ages only of the queues that hold messages: CloudWatch's figure lags by minutes, so for a queue
    # empty now it would be a past one (and the page would pay a client and a call for it).
    holding = {q.name: _queue_name(q.queue_url) for q in queues if any(counts[q.queue_url].values())}
    ages = cloudwatch.oldest_message_ages(holding)
    shown = []
    for queue in queues:
        waiting, dead = counts[queue.queue_url], counts.get(queue.dlq_url, {})
        backlog = waiting["ApproximateNumberOfMessages"] + waiting["ApproximateNumberOfMessagesDelayed"]
        dead_count = dead.get("ApproximateNumberOfMessages", 0) + dead.get("ApproximateNumberOfMessagesNotVisible", 0)
        age = ages.get(queue.name)
        shown.append(
            QueueHealth(
                name=queue.name,
                carries=DELIVERIES if queue.carries_deliveries else EVENTS,
                backlog=backlog,
                in_flight=waiting["ApproximateNumberOfMessagesNotVisible"],
                oldest_message_age_seconds=age,
                dead_letters=dead_count,
                behind=bool(dead_count) or (age is not None and age > BEHIND_SECONDS),
            )
        )
    return shown


def health(principal: Principal) -> IntegrationHealth:
    principal.require(Role.ADMIN)
    queues = watched_queues()
    urls = [url for q in queues for url in (q.queue_url, q.dlq_url) if url]
    # Some fifteen independent reads (a round trip each): made at once, the page waits for the slowest.
    # Each service's client is made here, not in the threads (there they would queue on the botocore
    # session's lock), and just before its reads: the reads already sent are answered meanwhile.
    with ThreadPoolExecutor(max_workers=READS_AT_ONCE) as pool:
        dynamodb.client()
        providers, calendars, webhooks = pool.submit(_providers), pool.submit(_broken_calendars), pool.submit(_webhooks)
        sqs.client()
        counts = dict(zip(urls, pool.map(sqs.counts, urls), strict=True))
        shown = _queues(queues, counts)
        return IntegrationHealth(
            checked_at=_now(),
            providers=providers.result(),
            broken_calendars=calendars.result(),
            webhooks=webhooks.result(),
            queues=shown,
            dead_letters=sum(q.dead_letters for q in shown),
        )
