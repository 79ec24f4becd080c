"""The video store: a course's meeting (provider ids, the occurrence -> session map), its lookup by
the provider's meeting id, registrants with their personal join links, recordings, attendance,
participant segments from callbacks, and the markers of applied provider callbacks. Keys in
integration_core.keys (the video rows)."""

from __future__ import annotations

import time
from typing import Any

from integration_core import keys
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings

INTERNAL = ("PK", "SK", "GSI1PK", "GSI1SK", "expiresAt")
CALLBACK_TTL_DAYS = 90
DELETED = "deleted"


def _clean(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: v for k, v in item.items() if k not in INTERNAL} if item else None


class VideoStore:
    def __init__(self, db: Table) -> None:
        self.db = db

    # ------------------------------------------------------------------ meetings
    def meeting(self, meeting_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        return _clean(self.db.get(keys.meeting_pk(meeting_id), keys.PROFILE, consistent=consistent))

    def meeting_by_provider(self, provider: str, provider_id: str) -> dict[str, Any] | None:
        ref = self.db.get(keys.video_ref_pk(provider, provider_id), keys.REF)
        return self.meeting(ref["meeting_id"]) if ref else None

    def provider_ref(self, provider: str, callback_id: str) -> dict[str, Any] | None:
        """{"meeting_id", "provider_meeting_id"?} of an id a callback names the meeting by."""
        return _clean(self.db.get(keys.video_ref_pk(provider, callback_id), keys.REF))

    def _ref_ops(self, provider: str, meeting_id: str, provider_id: str, ids: tuple[str, ...]) -> list[dict]:
        return [
            self.db.put_op(
                {
                    "PK": keys.video_ref_pk(provider, i),
                    "SK": keys.REF,
                    "meeting_id": meeting_id,
                    "provider_meeting_id": provider_id,
                }
            )
            for i in dict.fromkeys((provider_id, *ids))
        ]

    def store_session_meeting(
        self, meeting_id: str, provider: str, session_id: str, entry: dict[str, Any], ids: tuple[str, ...]
    ) -> None:
        """One session's provider meeting on the pending (or ready) record, with its lookups."""
        ops = [
            self.db.update_op(
                keys.meeting_pk(meeting_id),
                keys.PROFILE,
                "SET session_meetings.#s = :e",
                "attribute_exists(PK)",
                names={"#s": session_id},
                values={":e": entry},
            ),
            *self._ref_ops(provider, meeting_id, entry["provider_meeting_id"], ids),
        ]
        self.db.transact(ops)

    def remove_session_meeting(self, meeting_id: str, provider: str, session_id: str, ids: tuple[str, ...]) -> None:
        ops = [
            self.db.update_op(
                keys.meeting_pk(meeting_id), keys.PROFILE, "REMOVE session_meetings.#s", names={"#s": session_id}
            ),
            *[self.db.delete_op(keys.video_ref_pk(provider, i), keys.REF) for i in dict.fromkeys(ids)],
        ]
        self.db.transact(ops)

    def reserve(self, record: dict[str, Any]) -> bool:
        """The pending meeting, written before the provider is asked; False when one exists."""
        try:
            self.db.put(
                {"PK": keys.meeting_pk(record["id"]), "SK": keys.PROFILE, **record},
                "attribute_not_exists(PK)",
            )
        except ConditionFailed:
            return False
        return True

    def store_provider_meeting(
        self, meeting_id: str, provider: str, fields: dict[str, Any], ids: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """The provider's meeting recorded on the pending record, with its lookups (the provider id
        and the other `ids` callbacks name it by), in one transaction."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        ops = [
            self.db.update_op(
                keys.meeting_pk(meeting_id), keys.PROFILE, update, "attribute_exists(PK)", names=names, values=values
            ),
            *self._ref_ops(provider, meeting_id, fields["provider_meeting_id"], ids),
        ]
        self.db.transact(ops)
        found = self.meeting(meeting_id)
        assert found is not None
        return found

    def deleted_operations(self, meeting_id: str, at: str) -> list[dict[str, Any]]:
        """The meeting marked deleted, once (ConditionFailed when it is already, or gone). Its
        lookup by the provider's id stays, so a late callback is known and ignored; recordings and
        attendance stay for the school's records."""
        return [
            self.db.update_op(
                keys.meeting_pk(meeting_id),
                keys.PROFILE,
                "SET #status = :deleted, deleted_at = :at",
                "attribute_exists(PK) AND #status <> :deleted",
                names={"#status": "status"},
                values={":deleted": DELETED, ":at": at},
            )
        ]

    def remove_registrants(self, meeting_id: str) -> None:
        """Every registrant row (their links died with the provider's meeting)."""
        while True:
            page = self.db.query(keys.meeting_pk(meeting_id), sk_prefix=keys.REGISTRANT_PREFIX, limit=100)
            for start in range(0, len(page.items), 25):
                chunk = page.items[start : start + 25]
                self.db.transact([self.db.delete_op(i["PK"], i["SK"]) for i in chunk])
            if not page.last_key:
                return

    # ------------------------------------------------------------------ subscriptions and polls
    def put_subscription(self, subscription_id: str, record: dict[str, Any]) -> None:
        self.db.put(
            {
                "PK": keys.VIDEO_SUBSCRIPTIONS,
                "SK": keys.video_subscription_sk(subscription_id),
                "subscription_id": subscription_id,
                **record,
            }
        )

    def drop_subscription(self, subscription_id: str) -> None:
        self.db.delete(keys.VIDEO_SUBSCRIPTIONS, keys.video_subscription_sk(subscription_id))

    def subscriptions(self) -> list[dict[str, Any]]:
        return self._partition(keys.VIDEO_SUBSCRIPTIONS, keys.SUBSCRIPTION_PREFIX)

    def put_poll(
        self,
        meeting_id: str,
        provider: str,
        provider_id: str,
        due: Any,
        join_url: str = "",
        subscribed: list[str] | None = None,
    ) -> None:
        """A meeting to follow: its attendance read after `due`, and its notifications of each
        kind not yet `subscribed` subscribed by the schedule once its start comes near."""
        when = due.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.db.put(
            {
                "PK": keys.VIDEO_POLLS,
                "SK": keys.video_poll_sk(when, meeting_id, provider_id),
                "meeting_id": meeting_id,
                "provider": provider,
                "provider_meeting_id": provider_id,
                "due": when,
                "join_url": join_url,
                "subscribed": list(subscribed or []),
            }
        )

    def mark_subscribed(self, sk: str, kinds: list[str]) -> None:
        self.db.update(keys.VIDEO_POLLS, sk, "SET subscribed = :k", "attribute_exists(PK)", values={":k": kinds})

    def polls_due(self, now: str, limit: int = 200) -> list[dict[str, Any]]:
        """Polls due by `now` (oldest first; the partition is read in due order and stops there)."""
        found: list[dict[str, Any]] = []
        page = self.db.query(keys.VIDEO_POLLS, sk_prefix=keys.POLL_PREFIX, limit=100)
        while True:
            for item in page.items:
                if item["due"] > now or len(found) >= limit:
                    return found
                found.append({"sk": item["SK"], **(_clean(item) or {})})
            if not page.last_key:
                return found
            page = self.db.query(keys.VIDEO_POLLS, sk_prefix=keys.POLL_PREFIX, limit=100, after=page.last_key)

    def drop_poll(self, sk: str) -> None:
        self.db.delete(keys.VIDEO_POLLS, sk)

    def _partition(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = self.db.query(pk, sk_prefix=prefix, limit=100)
        found.extend(page.items)
        while page.last_key:
            page = self.db.query(pk, sk_prefix=prefix, limit=100, after=page.last_key)
            found.extend(page.items)
        return [c for c in (_clean(i) for i in found) if c]

    # ------------------------------------------------------------------ registrants
    def registrant(self, meeting_id: str, who: str) -> dict[str, Any] | None:
        return _clean(self.db.get(keys.meeting_pk(meeting_id), keys.registrant_sk(who), consistent=True))

    def put_registrant(self, meeting_id: str, who: str, record: dict[str, Any]) -> None:
        self.db.put({"PK": keys.meeting_pk(meeting_id), "SK": keys.registrant_sk(who), **record})

    def remove_registrant(self, meeting_id: str, who: str) -> None:
        self.db.delete(keys.meeting_pk(meeting_id), keys.registrant_sk(who))

    def _all(self, meeting_id: str, prefix: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = self.db.query(keys.meeting_pk(meeting_id), sk_prefix=prefix, limit=100)
        found.extend(page.items)
        while page.last_key:
            page = self.db.query(keys.meeting_pk(meeting_id), sk_prefix=prefix, limit=100, after=page.last_key)
            found.extend(page.items)
        return [c for c in (_clean(i) for i in found) if c]

    def registrants(self, meeting_id: str) -> list[dict[str, Any]]:
        return self._all(meeting_id, keys.REGISTRANT_PREFIX)

    # ------------------------------------------------------------------ recordings, attendance, segments
    def put_recording(self, meeting_id: str, record: dict[str, Any]) -> None:
        self.db.put({"PK": keys.meeting_pk(meeting_id), "SK": keys.recording_sk(record["occurrence_uuid"]), **record})

    def recordings(self, meeting_id: str) -> list[dict[str, Any]]:
        return self._all(meeting_id, keys.RECORDING_PREFIX)

    def put_attendance(self, meeting_id: str, record: dict[str, Any]) -> None:
        self.db.put({"PK": keys.meeting_pk(meeting_id), "SK": keys.attendance_sk(record["occurrence_uuid"]), **record})

    def attendance(self, meeting_id: str) -> list[dict[str, Any]]:
        return self._all(meeting_id, keys.ATTENDANCE_PREFIX)

    def segments(self, meeting_id: str, occurrence_uuid: str) -> list[dict[str, Any]]:
        return self._all(meeting_id, keys.segments_prefix(occurrence_uuid))

    # ------------------------------------------------------------------ callbacks applied once
    def segment_operation(self, meeting_id: str, occurrence_uuid: str, who: str, record: dict[str, Any]) -> dict:
        item = {
            "PK": keys.meeting_pk(meeting_id),
            "SK": keys.segment_sk(occurrence_uuid, who, record["joined_at"]),
            **record,
        }
        return self.db.put_op(item)

    def apply_callback(self, provider: str, digest: str, operations: list[dict[str, Any]]) -> bool:
        """The callback's changes with its marker, once: False when it was applied before."""
        marker = {
            "PK": keys.provider_event_pk(provider, digest),
            "SK": keys.EVENT_SK,
            "expiresAt": int(time.time()) + CALLBACK_TTL_DAYS * 86400,
        }
        try:
            self.db.transact([self.db.put_op(marker, "attribute_not_exists(PK)"), *operations])
        except ConditionFailed:
            return False
        return True

    def callback_applied(self, provider: str, digest: str) -> bool:
        return self.db.get(keys.provider_event_pk(provider, digest), keys.EVENT_SK, consistent=True) is not None


def store() -> VideoStore:
    return VideoStore(table(settings().table_name))
