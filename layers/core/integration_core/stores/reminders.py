"""The reminders' store: what was asked of EventBridge Scheduler for each course (one row per
schedule, expiring two days after it fires), and the once-per-student markers of reminders sent.

A marker is written with the reminder's `class_reminder` event in one transaction and records
when its email went out: a reminder that fires twice finds the marker and sends nothing; one that
died between the marker and the email takes it over after a lease and sends the email once (a
try within the lease fails, so that Lambda tries the invocation again later)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from integration_core import keys, timeutil
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings
from integration_core.domain.reminders import Reminder

RECORD_TTL_SECONDS = 2 * 24 * 3600  # a schedule's row outlives its firing by two days
SENT_TTL_SECONDS = 30 * 24 * 3600
SEND_LEASE_SECONDS = 120  # a send claimed and not finished within this is taken over


class Claim(StrEnum):
    """What claiming a reminder for one student came to."""

    NEW = "new"  # first claim: the marker and its event were written now
    TAKEN_OVER = "taken_over"  # an earlier claim died before its email went out
    BUSY = "busy"  # claimed within the lease and not sent yet: by a live invocation or a dead one
    DONE = "done"  # sent already


@dataclass(frozen=True)
class SentKey:
    session_id: str
    offset_minutes: int
    version: int
    student_id: str

    @property
    def pk(self) -> str:
        return keys.reminder_sent_pk(self.session_id, self.offset_minutes, self.version, self.student_id)


def _epoch(iso: str) -> int:
    return int(timeutil.parse_iso(iso).timestamp())


class ReminderStore:
    def __init__(self, db: Table) -> None:
        self.db = db

    # ------------------------------------------------------------ schedules asked for
    def recorded(self, course_id: str) -> dict[str, Reminder]:
        """The course's schedules as last recorded, by schedule name."""
        found: dict[str, Reminder] = {}
        after = None
        while True:
            page = self.db.query(
                keys.entity_pk("course", course_id), sk_prefix=keys.REMINDER_PREFIX, limit=100, after=after
            )
            for item in page.items:
                reminder = Reminder(
                    course_id=course_id,
                    session_id=item["session_id"],
                    offset_minutes=int(item["offset_minutes"]),
                    fire_at=item["fire_at"],
                    starts_at=item["starts_at"],
                    version=int(item["version"]),
                )
                found[reminder.name] = reminder
            after = page.last_key
            if not after:
                return found

    def record(self, reminder: Reminder) -> None:
        self.db.put(
            {
                "PK": keys.entity_pk("course", reminder.course_id),
                "SK": keys.reminder_sk(reminder.session_id, reminder.offset_minutes),
                "kind": "reminder",
                "schedule_name": reminder.name,
                "session_id": reminder.session_id,
                "offset_minutes": reminder.offset_minutes,
                "fire_at": reminder.fire_at,
                "starts_at": reminder.starts_at,
                "version": reminder.version,
                "expiresAt": _epoch(reminder.fire_at) + RECORD_TTL_SECONDS,
            }
        )

    def forget(self, reminder: Reminder) -> None:
        self.db.delete(
            keys.entity_pk("course", reminder.course_id), keys.reminder_sk(reminder.session_id, reminder.offset_minutes)
        )

    # ------------------------------------------------------------ reminders sent
    def claim(self, key: SentKey, now: str, also: list[dict[str, Any]]) -> Claim:
        """Claim sending this reminder to this student, with `also` (its event) when the claim is the
        first; a claim whose email has not gone out after SEND_LEASE_SECONDS is taken over."""
        item = {
            "PK": key.pk,
            "SK": keys.SENT,
            "kind": "reminder_sent",
            "session_id": key.session_id,
            "student_id": key.student_id,
            "claimed_at": now,
            "claimed_epoch": _epoch(now),
            "expiresAt": _epoch(now) + SENT_TTL_SECONDS,
        }
        try:
            self.db.transact([self.db.put_op(item, "attribute_not_exists(PK)"), *also])
            return Claim.NEW
        except ConditionFailed as failed:
            if failed.reasons and failed.reasons[0] != "ConditionalCheckFailed":
                raise  # the event's own condition: it was recorded without a marker (cannot be), say so
        lease_end = _epoch(now) - SEND_LEASE_SECONDS
        try:
            self.db.update(
                key.pk,
                keys.SENT,
                "SET claimed_at = :now, claimed_epoch = :epoch",
                "attribute_exists(PK) AND attribute_not_exists(emailed_at) AND claimed_epoch < :lease_end",
                values={":now": now, ":epoch": _epoch(now), ":lease_end": lease_end},
            )
        except ConditionFailed:
            marker = self.db.get(key.pk, keys.SENT, consistent=True) or {}
            return Claim.DONE if marker.get("emailed_at") else Claim.BUSY
        return Claim.TAKEN_OVER

    def sent(self, key: SentKey, now: str, message_id: str) -> None:
        self.db.update(
            key.pk, keys.SENT, "SET emailed_at = :now, message_id = :m", values={":now": now, ":m": message_id}
        )


def store() -> ReminderStore:
    return ReminderStore(table(settings().table_name))
