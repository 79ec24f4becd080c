"""The calendar's store: a user's Google connection (tokens encrypted before they get here), the
refresh lease, the synced class events and the single-use authorization states. It owns item
shapes, keys and conditions; services get records without keys and yes/no outcomes.

- A token write is conditional on the `token_version` it read, so a refresher that lost a race
  cannot overwrite newer tokens; a connection broken or revoked meanwhile is not written either.
- The refresh lease is a conditional put (absent or expired): one refresher at a time per user.
- A synced event is written only when its session version is not older than the stored one, so a
  slow sync cannot undo a newer one's record.
- A state is taken by a conditional delete: two uses of one state, one wins."""

from __future__ import annotations

from typing import Any

from integration_core import keys
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings
from integration_core.stores.common import public

CONNECTED = "connected"
BROKEN = "broken"


class CalendarStore:
    def __init__(self, db: Table) -> None:
        self.db = db

    # ------------------------------------------------------------ authorization states
    def put_state(self, digest: str, record: dict[str, Any], expires_at: int) -> None:
        item = {"PK": keys.oauth_state_pk(digest), "SK": keys.STATE, "expiresAt": expires_at, **record}
        self.db.put(item, "attribute_not_exists(PK)")

    def take_state(self, digest: str, now: int) -> dict[str, Any] | None:
        """The state's record, deleted so that it serves once; None when unknown, used or expired."""
        pk = keys.oauth_state_pk(digest)
        item = self.db.get(pk, keys.STATE, consistent=True)
        if item is None:
            return None
        try:
            self.db.delete(pk, keys.STATE, "attribute_exists(PK)")
        except ConditionFailed:
            return None  # another request took it first
        if int(item.get("expiresAt", 0)) <= now:
            return None
        return public(item, ("expiresAt",))

    # ------------------------------------------------------------ connections
    def connection(self, user_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        item = self.db.get(keys.calendar_user_pk(user_id), keys.CONNECTION, consistent=consistent)
        return public(item) if item else None

    def connections(self, user_ids: list[str]) -> list[dict[str, Any]]:
        found = self.db.batch_get([(keys.calendar_user_pk(u), keys.CONNECTION) for u in user_ids])
        return [public(item) for item in found]

    def save_connection(self, record: dict[str, Any]) -> None:
        """A new connection (a first one, or a reconnection replacing the old one)."""
        self.db.put({"PK": keys.calendar_user_pk(record["user_id"]), "SK": keys.CONNECTION, **record})

    def save_tokens(self, user_id: str, read_version: int, tokens: dict[str, Any]) -> bool:
        """New tokens over the ones of `read_version`; False when the connection moved on (another
        refresher won, it broke, it was revoked)."""
        names = {f"#{k}": k for k in tokens} | {"#v": "token_version", "#s": "status"}
        values = {f":{k}": v for k, v in tokens.items()} | {":read": read_version, ":next": read_version + 1}
        sets = ", ".join(f"#{k} = :{k}" for k in tokens)
        try:
            self.db.update(
                keys.calendar_user_pk(user_id),
                keys.CONNECTION,
                f"SET {sets}, #v = :next",
                "#v = :read AND #s = :connected",
                names=names,
                values=values | {":connected": CONNECTED},
            )
        except ConditionFailed:
            return False
        return True

    def mark_broken(self, user_id: str, read_version: int, reason: str, at: str, also: list[dict]) -> bool:
        """Broken (the grant is gone; its tokens dropped), with `also` (its event) in the same
        transaction; False when it was broken, revoked or replaced meanwhile."""
        update = self.db.update_op(
            keys.calendar_user_pk(user_id),
            keys.CONNECTION,
            "SET #s = :broken, broken_reason = :why, broken_at = :at, #v = :next, GSI1PK = :bpk, GSI1SK = :bsk "
            "REMOVE access_token, refresh_token",
            "#v = :read AND #s = :connected",
            names={"#s": "status", "#v": "token_version"},
            values={
                ":broken": BROKEN,
                ":why": reason,
                ":at": at,
                ":read": read_version,
                ":next": read_version + 1,
                ":connected": CONNECTED,
                # In the broken connections' index (the admins' page) until reconnected or revoked.
                ":bpk": keys.BROKEN_CALENDARS,
                ":bsk": keys.listing_sk(at, user_id),
            },
        )
        try:
            self.db.transact([update, *also])
        except ConditionFailed:
            return False
        return True

    def broken(self, limit: int) -> list[dict[str, Any]]:
        """Broken connections, the latest broken first (their tokens are gone already)."""
        page = self.db.query(keys.BROKEN_CALENDARS, index=keys.GSI1, limit=limit, newest_first=True)
        return [public(item, ("access_token", "refresh_token")) for item in page.items]

    def set_calendar(self, user_id: str, calendar_id: str) -> bool:
        """Remember the user's calendar; False when one was remembered first (the caller's is a duplicate)."""
        try:
            self.db.update(
                keys.calendar_user_pk(user_id),
                keys.CONNECTION,
                "SET calendar_id = :c",
                "attribute_exists(PK) AND attribute_not_exists(calendar_id)",
                values={":c": calendar_id},
            )
        except ConditionFailed:
            return False
        return True

    def record_sync(self, user_id: str, at: str, event_count: int) -> None:
        try:
            self.db.update(
                keys.calendar_user_pk(user_id),
                keys.CONNECTION,
                "SET last_synced_at = :at, event_count = :n",
                "attribute_exists(PK)",
                values={":at": at, ":n": event_count},
            )
        except ConditionFailed:
            return  # revoked meanwhile: nothing to record

    def delete_connection(self, user_id: str) -> None:
        self.db.delete(keys.calendar_user_pk(user_id), keys.CONNECTION)
        self.db.delete(keys.calendar_user_pk(user_id), keys.REFRESH_LEASE)

    # ------------------------------------------------------------ the refresh lease
    def take_lease(self, user_id: str, owner: str, now: float, seconds: float) -> bool:
        item = {
            "PK": keys.calendar_user_pk(user_id),
            "SK": keys.REFRESH_LEASE,
            "owner": owner,
            "until": int(now + seconds) + 1,  # whole seconds (DynamoDB numbers here are ints)
            "expiresAt": int(now + seconds) + 3600,
        }
        try:
            self.db.put(
                item, "attribute_not_exists(PK) OR #until < :now", names={"#until": "until"}, values={":now": int(now)}
            )
        except ConditionFailed:
            return False
        return True

    def release_lease(self, user_id: str, owner: str) -> None:
        try:
            self.db.delete(
                keys.calendar_user_pk(user_id),
                keys.REFRESH_LEASE,
                "#o = :o",
                names={"#o": "owner"},
                values={":o": owner},
            )
        except ConditionFailed:
            return  # expired and taken by another: theirs now

    # ------------------------------------------------------------ synced events
    def synced_events(self, user_id: str, course_id: str | None = None) -> list[dict[str, Any]]:
        prefix = keys.calendar_course_prefix(course_id) if course_id else keys.CALEVENT_PREFIX
        found: list[dict[str, Any]] = []
        after = None
        while True:
            page = self.db.query(keys.calendar_user_pk(user_id), sk_prefix=prefix, limit=100, after=after)
            found += [public(item) for item in page.items]
            after = page.last_key
            if not after:
                return found

    def save_synced(self, user_id: str, record: dict[str, Any]) -> bool:
        """The synced event (course_id, session_id, event_id, session_version, status); False when
        a newer session version was recorded meanwhile."""
        item = {
            "PK": keys.calendar_user_pk(user_id),
            "SK": keys.calendar_event_sk(record["course_id"], record["session_id"]),
            **record,
        }
        try:
            self.db.put(
                item,
                "attribute_not_exists(PK) OR session_version <= :v",
                values={":v": record["session_version"]},
            )
        except ConditionFailed:
            return False
        return True

    def forget_synced(self, user_id: str) -> None:
        for record in self.synced_events(user_id):
            self.db.delete(
                keys.calendar_user_pk(user_id), keys.calendar_event_sk(record["course_id"], record["session_id"])
            )


def store() -> CalendarStore:
    return CalendarStore(table(settings().table_name))
