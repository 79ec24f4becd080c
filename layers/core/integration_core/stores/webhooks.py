"""The webhooks' store, shared by the API and the dispatcher: webhooks with the ciphertexts of the
secrets in use (two during a rotation; services/webhook_secrets.py encrypts and decrypts them),
subscription rows that exist only while a webhook is active, statistics (and the failing index
auto-disable reads), deliveries with their attempts and failed markers.

It owns their item shapes, keys, conditions and transactions; services get records without keys
and named outcomes. The dispatcher describes what an attempt changed (`AttemptRecord`,
`StatsChange`) and the store writes it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from integration_core import keys, timeutil
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings
from integration_core.stores.common import KEY_ATTRIBUTES, Listing, Outcome
from integration_core.stores.common import public as without_keys

# The signing secrets' ciphertexts, and the plaintext ones of items written before they were encrypted.
SECRETS = (
    "secret_ciphertext",
    "previous_secret_ciphertext",
    "previous_secret_expires_at",
    "secret",
    "previous_secret",
)
_INTERNAL = (*KEY_ATTRIBUTES, *SECRETS)
PENDING, FAILED = "pending", "failed"


def db() -> Table:
    return table(settings().table_name)


def public(item: dict[str, Any]) -> dict[str, Any]:
    """What an owner sees of a webhook, delivery or attempt: no keys, no secrets."""
    return {k: v for k, v in item.items() if k not in _INTERNAL}


def subscription_ops(store: Table, webhook_id: str, events: list[str], *, add: bool) -> list[dict]:
    if add:
        return [
            store.put_op(
                {"PK": keys.subscriptions_pk(e), "SK": keys.subscription_sk(webhook_id), "webhook_id": webhook_id}
            )
            for e in events
        ]
    return [store.delete_op(keys.subscriptions_pk(e), keys.subscription_sk(webhook_id)) for e in events]


def disable(store: Table, webhook: dict[str, Any], reason: str) -> bool:
    """Deactivate with a reason its owner can read; False when it was no longer active."""
    now = timeutil.iso_utc(timeutil.utc_now())
    webhook_id = webhook["webhook_id"]
    ops = [
        store.update_op(
            keys.webhook_pk(webhook_id),
            keys.PROFILE,
            "SET is_active = :off, disabled_reason = :why, disabled_at = :now, updated_at = :now",
            "is_active = :on",
            values={":off": False, ":on": True, ":why": reason, ":now": now},
        ),
        # Out of the failing index (auto-disable has nothing more to do for it), into the disabled
        # one (the admins' page) until its owner enables it again (`update`, reset_failing).
        store.update_op(
            keys.webhook_pk(webhook_id),
            keys.STATS,
            "SET GSI1PK = :disabled, GSI1SK = :at",
            values={":disabled": keys.DISABLED_WEBHOOKS, ":at": keys.listing_sk(now, webhook_id)},
        ),
        *subscription_ops(store, webhook_id, webhook["events"], add=False),
    ]
    try:
        store.transact(ops)
    except ConditionFailed:
        return False
    return True


def _number(value: float) -> Decimal:
    # DynamoDB numbers go through Decimal; a tenth of a millisecond is precise enough.
    return Decimal(str(round(value, 1)))


def _set_remove(sets: dict[str, Any], removes: list[str]) -> tuple[str, dict[str, str], dict[str, Any]]:
    update = "SET " + ", ".join(f"#{k} = :{k}" for k in sets)
    if removes:
        update += " REMOVE " + ", ".join(f"#{k}" for k in removes)
    names = {f"#{k}": k for k in [*sets, *removes]}
    values = {f":{k}": v for k, v in sets.items()}
    return update, names, values


# ---------------------------------------------------------------- what the dispatcher records
@dataclass
class AttemptRecord:
    """One attempt of a delivery and the delivery's new state; written on condition that the
    delivery is still pending at `number - 1` attempts (so a duplicate records nothing)."""

    delivery: dict[str, Any]
    number: int
    attempt: dict[str, Any]  # at, success, status_code, latency_ms, error_class, error, response_body
    sets: dict[str, Any]  # the delivery's new fields (None values are removed)
    removes: list[str]
    failed: bool  # the delivery failed for good: a failed marker for replay
    expires_at: int


@dataclass
class StatsChange:
    """One webhook's statistics change for a group of outcomes (counters by ADD, so concurrent
    batches compose). `failing`: "start" (enter the failing index unless in it), "restart" (enter it
    from now), "stop" (leave it) or None. With `worst`, the worst latency is set on condition that
    it is higher than the one stored."""

    webhook_id: str
    adds: dict[str, float] = field(default_factory=dict)
    sets: dict[str, Any] = field(default_factory=dict)
    failing: str | None = None
    worst: float | None = None


def attempt_operations(store: Table, record: AttemptRecord) -> list[dict]:
    delivery_id = record.delivery["delivery_id"]
    attempt = {
        "PK": keys.delivery_pk(delivery_id),
        "SK": keys.attempt_sk(record.number),
        "kind": "attempt",
        "attempt": record.number,
        **record.attempt,
        "latency_ms": _number(record.attempt["latency_ms"]),
        "expiresAt": record.expires_at,
    }
    sets = {k: v for k, v in record.sets.items() if v is not None}
    removes = [*record.removes, *(k for k, v in record.sets.items() if v is None)]
    update, names, values = _set_remove(sets, removes)
    names |= {"#st": "status", "#at": "attempts"}
    values |= {":prev": record.number - 1, ":pending": PENDING}
    ops = [
        store.put_op(attempt, "attribute_not_exists(PK)"),
        store.update_op(
            keys.delivery_pk(delivery_id),
            keys.DELIVERY,
            update,
            "#at = :prev AND #st = :pending",
            names=names,
            values=values,
        ),
    ]
    if record.failed:
        delivery = record.delivery
        marker = {
            "PK": keys.webhook_pk(delivery["webhook_id"]),
            "SK": keys.failed_sk(delivery["created_at"], delivery_id),
            "kind": "failed_delivery",
            "delivery_id": delivery_id,
            "created_at": delivery["created_at"],
        }
        ops.append(store.put_op(marker))
    return ops


def stats_operation(store: Table, change: StatsChange, now: str) -> dict:
    webhook_id = change.webhook_id
    sets = dict(change.sets)
    removes: list[str] = []
    if_absent: dict[str, Any] = {}
    failing = {"failing_since": now, "GSI1PK": keys.FAILING_WEBHOOKS, "GSI1SK": keys.listing_sk(now, webhook_id)}
    if change.failing == "start":
        if_absent = failing
    elif change.failing == "restart":
        sets |= failing
    elif change.failing == "stop":
        removes = ["failing_since", "GSI1PK", "GSI1SK"]
    condition = None
    if change.worst is not None:
        sets["worst_latency_ms"] = _number(change.worst)
        condition = "attribute_not_exists(#worst_latency_ms) OR #worst_latency_ms < :worst_latency_ms"
    adds = {k: v for k, v in change.adds.items() if v}
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    clauses = []
    for k, v in sets.items():
        names[f"#{k}"], values[f":{k}"] = k, v
        clauses.append(f"#{k} = :{k}")
    for k, v in if_absent.items():
        names[f"#{k}"], values[f":{k}"] = k, v
        clauses.append(f"#{k} = if_not_exists(#{k}, :{k})")
    update = ("SET " + ", ".join(clauses)) if clauses else ""
    if removes:
        update += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        names |= {f"#{k}": k for k in removes}
    if adds:
        update += " ADD " + ", ".join(f"#{k} :{k}" for k in adds)
        names |= {f"#{k}": k for k in adds}
        values |= {f":{k}": int(v) if float(v).is_integer() else _number(v) for k, v in adds.items()}
    return store.update_op(
        keys.webhook_pk(webhook_id), keys.STATS, update.strip(), condition, names=names, values=values
    )


@dataclass(frozen=True)
class Recorded:
    """What recording a wave came to: DONE, or RACED: by another run that recorded a delivery
    (`outrun` empty), or only by concurrent batches that stored a higher worst latency for the
    `outrun` webhooks (the stored one stands; record again without theirs)."""

    outcome: Outcome
    outrun: frozenset[str] = frozenset()


def record_wave(
    store: Table, attempts: list[AttemptRecord], changes: list[StatsChange], now: str, token: str
) -> Recorded:
    """Every attempt with every statistics change, in one transaction (its token makes an SDK
    retry after a lost answer a no-op instead of a failed condition)."""
    delivery_ops = [op for record in attempts for op in attempt_operations(store, record)]
    stats_ops = [stats_operation(store, change, now) for change in changes]
    try:
        store.transact(delivery_ops + stats_ops, token=token)
    except ConditionFailed as failed:
        # One reason per operation: the deliveries' first, then one statistics update per webhook.
        delivery_reasons, stats_reasons = failed.reasons[: len(delivery_ops)], failed.reasons[len(delivery_ops) :]
        if "ConditionalCheckFailed" in delivery_reasons:
            return Recorded(Outcome.RACED)
        outrun = frozenset(
            c.webhook_id
            for c, reason in zip(changes, stats_reasons, strict=False)
            if reason == "ConditionalCheckFailed"
        )
        return Recorded(Outcome.RACED, outrun)
    return Recorded(Outcome.DONE)


def record_one(store: Table, attempt: AttemptRecord, change: StatsChange, now: str) -> bool:
    """One delivery's attempt and statistics; False when another run recorded it already."""
    try:
        store.transact([*attempt_operations(store, attempt), stats_operation(store, change, now)])
    except ConditionFailed:
        return False
    return True


def raise_worst_latency(store: Table, webhook_id: str, latency: float) -> None:
    with contextlib.suppress(ConditionFailed):  # a concurrent batch saw a slower one
        store.update(
            keys.webhook_pk(webhook_id),
            keys.STATS,
            "SET worst_latency_ms = :l",
            "attribute_not_exists(worst_latency_ms) OR worst_latency_ms < :l",
            values={":l": _number(latency)},
        )


@dataclass
class BatchRead:
    """The records a batch of queued deliveries needs, by id (missing ones absent)."""

    deliveries: dict[str, dict[str, Any]]
    webhooks: dict[str, dict[str, Any]]
    stats: dict[str, dict[str, Any]]
    events: dict[str, dict[str, Any]]


def read_batch(store: Table, wanted: list[tuple[str, str, str]]) -> BatchRead:
    """(delivery id, webhook id, event id) each: every delivery, webhook, statistics and event in
    one BatchGetItem."""
    request: list[tuple[str, str]] = []
    for delivery_id, webhook_id, event_id in wanted:
        request += [
            (keys.delivery_pk(delivery_id), keys.DELIVERY),
            (keys.webhook_pk(webhook_id), keys.PROFILE),
            (keys.webhook_pk(webhook_id), keys.STATS),
            (keys.event_pk(event_id), keys.EVENT),
        ]
    read = BatchRead({}, {}, {}, {})
    for item in store.batch_get(list(dict.fromkeys(request))):
        if item["SK"] == keys.DELIVERY:
            read.deliveries[item["delivery_id"]] = without_keys(item)
        elif item["SK"] == keys.PROFILE:
            read.webhooks[item["webhook_id"]] = without_keys(item)
        elif item["SK"] == keys.STATS:
            read.stats[item["webhook_id"]] = without_keys(item)
        else:
            read.events[item["event_id"]] = without_keys(item)
    return read


# ---------------------------------------------------------------- what owners change
class WebhookStore:
    def __init__(self, store: Table) -> None:
        self.db = store

    def webhook(self, webhook_id: str) -> dict[str, Any] | None:
        """The webhook with its secrets (consistent: a change just made is seen)."""
        item = self.db.get(keys.webhook_pk(webhook_id), keys.PROFILE, consistent=True)
        return without_keys(item) if item else None

    def webhooks_of(self, user_id: str, limit: int, cursor: str | None) -> Listing:
        page = self.db.query(keys.user_webhooks_pk(user_id), index=keys.GSI1, limit=limit, cursor=cursor)
        return Listing([public(i) for i in page.items], page.next_cursor)

    def create(self, record: dict[str, Any]) -> None:
        """The webhook, its statistics and (active) its subscription rows, at once; the webhook's
        id is the request token, so a retried call after a lost answer does not fail its own condition."""
        webhook_id, owner = record["webhook_id"], record["user_id"]
        item = {
            "PK": keys.webhook_pk(webhook_id),
            "SK": keys.PROFILE,
            "GSI1PK": keys.user_webhooks_pk(owner),
            "GSI1SK": keys.listing_sk(record["created_at"], webhook_id),
            "kind": "webhook",
            **record,
        }
        stats = {
            "PK": keys.webhook_pk(webhook_id),
            "SK": keys.STATS,
            "kind": "webhook_stats",
            "webhook_id": webhook_id,
            **dict.fromkeys(("total", "succeeded", "failed", "pending", "consecutive_failures"), 0),
        }
        ops = [self.db.put_op(item, "attribute_not_exists(PK)"), self.db.put_op(stats)]
        if record["is_active"]:
            ops += subscription_ops(self.db, webhook_id, record["events"], add=True)
        self.db.transact(ops, token=webhook_id)

    def update(
        self,
        current: dict[str, Any],
        sets: dict[str, Any],
        removes: list[str],
        subscribe: list[str],
        unsubscribe: list[str],
        *,
        reset_failing: bool,
    ) -> Outcome:
        """Change the webhook on condition it is unchanged since read (`updated_at`), with its
        subscription rows; `reset_failing` gives auto-disable a fresh start. RACED otherwise."""
        webhook_id = current["webhook_id"]
        update, names, values = _set_remove(sets, removes)
        names |= {"#seen": "updated_at"}
        values |= {":seen": current["updated_at"]}
        ops = [
            self.db.update_op(
                keys.webhook_pk(webhook_id), keys.PROFILE, update, "#seen = :seen", names=names, values=values
            ),
            *subscription_ops(self.db, webhook_id, unsubscribe, add=False),
            *subscription_ops(self.db, webhook_id, subscribe, add=True),
        ]
        if reset_failing:
            ops.append(
                self.db.update_op(
                    keys.webhook_pk(webhook_id),
                    keys.STATS,
                    "SET consecutive_failures = :zero REMOVE failing_since, GSI1PK, GSI1SK",
                    values={":zero": 0},
                )
            )
        try:
            self.db.transact(ops)
        except ConditionFailed:
            return Outcome.RACED
        return Outcome.DONE

    def delete(self, current: dict[str, Any]) -> None:
        webhook_id = current["webhook_id"]
        ops = [
            self.db.delete_op(keys.webhook_pk(webhook_id), keys.PROFILE),
            self.db.delete_op(keys.webhook_pk(webhook_id), keys.STATS),
        ]
        if current["is_active"]:
            ops += subscription_ops(self.db, webhook_id, current["events"], add=False)
        self.db.transact(ops)

    def rotate_secret(self, current: dict[str, Any], ciphertext: str, previous_until: int, now: str) -> Outcome:
        """The new secret's ciphertext, the current one kept as the previous until `previous_until`
        (epoch); RACED when it was rotated meanwhile."""
        try:
            self.db.update(
                keys.webhook_pk(current["webhook_id"]),
                keys.PROFILE,
                "SET secret_ciphertext = :new, previous_secret_ciphertext = :old, "
                "previous_secret_expires_at = :until, secret_rotated_at = :now, updated_at = :now "
                "REMOVE previous_secret",
                "secret_ciphertext = :old",
                values={
                    ":new": ciphertext,
                    ":old": current["secret_ciphertext"],
                    ":until": previous_until,
                    ":now": now,
                },
            )
        except ConditionFailed:
            return Outcome.RACED
        return Outcome.DONE

    def seal_secrets(self, current: dict[str, Any], sealed: dict[str, str]) -> bool:
        """Replace an item's plaintext secrets by their ciphertexts (`sealed`: secret_ciphertext and,
        when it had one, previous_secret_ciphertext), on condition that its plaintext is the one
        read; False when another run sealed or rotated it first."""
        update, names, values = _set_remove(dict(sealed), ["secret", "previous_secret"])
        names |= {"#plain": "secret", "#sealed": "secret_ciphertext"}
        values |= {":plain": current["secret"]}
        try:
            self.db.update(
                keys.webhook_pk(current["webhook_id"]),
                keys.PROFILE,
                update,
                "#plain = :plain AND attribute_not_exists(#sealed)",
                names=names,
                values=values,
            )
        except ConditionFailed:
            return False
        return True

    def disable(self, webhook: dict[str, Any], reason: str) -> bool:
        return disable(self.db, webhook, reason)

    # ------------------------------------------------------------ deliveries
    def deliveries_of(self, webhook_id: str, limit: int, cursor: str | None) -> Listing:
        """A webhook's delivery history, newest first."""
        page = self.db.query(
            keys.deliveries_pk(webhook_id), index=keys.GSI1, limit=limit, cursor=cursor, newest_first=True
        )
        return Listing([without_keys(i) for i in page.items], page.next_cursor)

    def delivery_with_attempts(self, delivery_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        items = self.db.query(keys.delivery_pk(delivery_id), limit=100).items
        head = next((without_keys(i) for i in items if i["SK"] == keys.DELIVERY), None)
        return head, [public(i) for i in items if i["SK"].startswith(keys.ATTEMPT_PREFIX)]

    def deliveries(self, delivery_ids: list[str]) -> list[dict[str, Any]]:
        return [
            without_keys(i) for i in self.db.batch_get([(keys.delivery_pk(d), keys.DELIVERY) for d in delivery_ids])
        ]

    def requeue(self, delivery: dict[str, Any], now: str) -> bool:
        """Back to pending for a new series of attempts; False when it was no longer failed."""
        webhook_id, delivery_id = delivery["webhook_id"], delivery["delivery_id"]
        try:
            self.db.transact(
                [
                    self.db.update_op(
                        keys.delivery_pk(delivery_id),
                        keys.DELIVERY,
                        "SET #st = :pending, series_start = attempts, updated_at = :now REMOVE next_attempt_at",
                        "#st = :failed",
                        names={"#st": "status"},
                        values={":pending": PENDING, ":failed": FAILED, ":now": now},
                    ),
                    self.db.delete_op(keys.webhook_pk(webhook_id), keys.failed_sk(delivery["created_at"], delivery_id)),
                    self.db.update_op(
                        keys.webhook_pk(webhook_id),
                        keys.STATS,
                        "ADD failed :minus, pending :one",
                        values={":minus": -1, ":one": 1},
                    ),
                ]
            )
        except ConditionFailed:
            return False
        return True

    def failed_since(self, webhook_id: str, since: str, limit: int) -> tuple[list[str], bool]:
        """The ids of the webhook's failed deliveries created since `since`, newest first, at most
        `limit`, and whether there are more."""
        markers: list[dict[str, Any]] = []
        after: dict[str, Any] | None = None
        while True:
            page = self.db.query(
                keys.webhook_pk(webhook_id), sk_prefix=keys.FAILED_PREFIX, limit=100, after=after, newest_first=True
            )
            fresh = [m for m in page.items if m["created_at"] >= since]
            markers += fresh
            if len(markers) > limit:
                return [m["delivery_id"] for m in markers[:limit]], True
            after = page.last_key
            if not after or len(fresh) < len(page.items):
                return [m["delivery_id"] for m in markers], False

    # ------------------------------------------------------------ statistics
    def stats(self, webhook_id: str) -> dict[str, Any]:
        item = self.db.get(keys.webhook_pk(webhook_id), keys.STATS)
        return without_keys(item) if item else {}

    def failing(self) -> Iterator[dict[str, Any]]:
        """Statistics of the webhooks failing now, the longest failing first."""
        after: dict[str, Any] | None = None
        while True:
            page = self.db.query(keys.FAILING_WEBHOOKS, index=keys.GSI1, limit=100, after=after)
            for item in page.items:
                yield without_keys(item)
            after = page.last_key
            if not after:
                return

    def disabled(self, limit: int) -> list[dict[str, Any]]:
        """Statistics of the webhooks disabled for failing, the latest disabled first."""
        page = self.db.query(keys.DISABLED_WEBHOOKS, index=keys.GSI1, limit=limit, newest_first=True)
        return [without_keys(item) for item in page.items]

    def webhooks(self, webhook_ids: list[str]) -> list[dict[str, Any]]:
        """Webhooks by id (without their secrets), in one BatchGetItem."""
        found = self.db.batch_get([(keys.webhook_pk(w), keys.PROFILE) for w in webhook_ids])
        return [public(item) for item in found]


def store() -> WebhookStore:
    return WebhookStore(db())
