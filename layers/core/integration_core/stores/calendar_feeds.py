"""The calendar feeds' store: a secret feed token per student or teacher, kept only as its SHA-256
(the lookup key of the public feed route), with the owner's row pointing at it so that rotating
or revoking removes the old lookup in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integration_core import keys
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings


@dataclass(frozen=True)
class Feed:
    owner_id: str
    owner_kind: str  # student | teacher
    token_hash: str
    created_at: str


class FeedStore:
    def __init__(self, db: Table) -> None:
        self.db = db

    def of_owner(self, kind: str, owner_id: str) -> Feed | None:
        item = self.db.get(keys.entity_pk(kind, owner_id), keys.CALENDAR_FEED, consistent=True)
        return _feed(item) if item else None

    def by_token_hash(self, token_hash: str) -> Feed | None:
        item = self.db.get(keys.calendar_feed_pk(token_hash), keys.FEED)
        return _feed(item) if item else None

    def replace(self, current: Feed | None, new: Feed) -> bool:
        """The owner's feed becomes `new` (its lookup row written, the old one deleted), on condition
        that the owner's row is still `current`; False when another change came first."""
        owner_pk = keys.entity_pk(new.owner_kind, new.owner_id)
        record = _record(new)
        if current is None:
            guard, values = "attribute_not_exists(PK)", None
        else:
            guard, values = "token_hash = :seen", {":seen": current.token_hash}
        ops = [
            self.db.put_op({"PK": owner_pk, "SK": keys.CALENDAR_FEED, **record}, guard, values=values),
            self.db.put_op(
                {"PK": keys.calendar_feed_pk(new.token_hash), "SK": keys.FEED, **record}, "attribute_not_exists(PK)"
            ),
        ]
        if current is not None:
            ops.append(self.db.delete_op(keys.calendar_feed_pk(current.token_hash), keys.FEED))
        try:
            self.db.transact(ops)
        except ConditionFailed:
            return False
        return True

    def remove(self, current: Feed) -> bool:
        """Both rows, on condition that the owner's row is still `current`; False otherwise."""
        try:
            self.db.transact(
                [
                    self.db.delete_op(
                        keys.entity_pk(current.owner_kind, current.owner_id),
                        keys.CALENDAR_FEED,
                        "token_hash = :seen",
                        values={":seen": current.token_hash},
                    ),
                    self.db.delete_op(keys.calendar_feed_pk(current.token_hash), keys.FEED),
                ]
            )
        except ConditionFailed:
            return False
        return True


def _record(feed: Feed) -> dict[str, Any]:
    return {
        "kind": "calendar_feed",
        "owner_id": feed.owner_id,
        "owner_kind": feed.owner_kind,
        "token_hash": feed.token_hash,
        "created_at": feed.created_at,
    }


def _feed(item: dict[str, Any]) -> Feed:
    return Feed(item["owner_id"], item["owner_kind"], item["token_hash"], item["created_at"])


def store() -> FeedStore:
    return FeedStore(table(settings().table_name))
