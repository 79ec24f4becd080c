"""The stored shape of webhooks shared by the API and the dispatcher: the items, the secrets in
use (two during a rotation), subscription rows that exist only while a webhook is active, and
disabling (by a 410, by auto-disable or by its owner)."""

from __future__ import annotations

from typing import Any

from integration_core import keys, timeutil
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings

_INTERNAL = ("PK", "SK", "GSI1PK", "GSI1SK", "kind", "secret", "previous_secret", "previous_secret_expires_at")


def db() -> Table:
    return table(settings().table_name)


def public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _INTERNAL}


def secrets_in_use(webhook: dict[str, Any], now_epoch: float) -> list[str]:
    """The current secret, and the previous one while the rotation overlap lasts."""
    in_use = [webhook["secret"]]
    if webhook.get("previous_secret") and float(webhook.get("previous_secret_expires_at", 0)) > now_epoch:
        in_use.append(webhook["previous_secret"])
    return in_use


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
        # Out of the failing index: auto-disable has nothing more to do for it.
        store.update_op(keys.webhook_pk(webhook_id), keys.STATS, "REMOVE GSI1PK, GSI1SK"),
        *subscription_ops(store, webhook_id, webhook["events"], add=False),
    ]
    try:
        store.transact(ops)
    except ConditionFailed:
        return False
    return True
