"""Join links: where each person's video link for a course's classes is found by the capabilities
that show classes (the directory's sessions view, the calendar's Google events and its feed)
without importing video. Video writes them (a student's personal link when they are registered, the
meeting's link for the course's teacher) and removes them (a cancelled registration, a deleted
meeting); the others only read. A link names the session it is for, or `*` for every session of
the course (a recurring meeting with one registration for all its occurrences), so a provider that
makes one meeting per session writes one link per session. Keys in integration_core.keys (the join
link rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from integration_core import keys
from integration_core.adapters.dynamodb import Table, table
from integration_core.config import settings
from integration_core.ids import kind_of

TEACHER = keys.TEACHER_LINK
ALL_SESSIONS = "*"  # a link for every session of the course
BATCH = 25  # deletes per transaction


def holder(user_id: str) -> str:
    """Whose links a user reads: a student their own; a teacher the course's teacher's."""
    return TEACHER if kind_of(user_id) == "teacher" else user_id


@dataclass(frozen=True)
class Links:
    """One person's links of one course: session id (or `*`) -> link, and when they last changed."""

    by_session: dict[str, str] = field(default_factory=dict)
    updated_at: str | None = None

    def for_session(self, session_id: str) -> str | None:
        return self.by_session.get(session_id) or self.by_session.get(ALL_SESSIONS)


class JoinLinkStore:
    def __init__(self, db: Table) -> None:
        self.db = db

    def links(self, course_id: str, who: str) -> Links:
        """One Query: `who`'s links of the course (`who`: a student id, or TEACHER)."""
        found: dict[str, str] = {}
        stamps: list[str] = []
        page = self.db.query(keys.join_links_pk(course_id), sk_prefix=keys.join_links_prefix(who), limit=100)
        items = list(page.items)
        while page.last_key:
            page = self.db.query(
                keys.join_links_pk(course_id), sk_prefix=keys.join_links_prefix(who), limit=100, after=page.last_key
            )
            items += page.items
        for item in items:
            found[item["session_id"]] = item["join_url"]
            stamps.append(item.get("updated_at", ""))
        return Links(found, max(stamps) if stamps else None)

    def put(self, course_id: str, who: str, record: dict[str, Any], session_id: str = ALL_SESSIONS) -> None:
        """`record`: join_url, meeting_id, provider, updated_at."""
        self.db.put(
            {
                "PK": keys.join_links_pk(course_id),
                "SK": keys.join_link_sk(who, session_id),
                "who": who,
                "session_id": session_id,
                **record,
            }
        )

    def remove(self, course_id: str, who: str) -> None:
        """Every link of `who` in the course (nothing there is fine)."""
        self._delete(course_id, keys.join_links_prefix(who))

    def remove_session(self, course_id: str, session_id: str) -> None:
        """Everyone's link for one session (its meeting deleted); one Query of the course's links."""
        pk = keys.join_links_pk(course_id)
        page = self.db.query(pk, limit=100)
        items = list(page.items)
        while page.last_key:
            page = self.db.query(pk, limit=100, after=page.last_key)
            items += page.items
        gone = [i for i in items if i.get("session_id") == session_id]
        for start in range(0, len(gone), BATCH):
            self.db.transact([self.db.delete_op(i["PK"], i["SK"]) for i in gone[start : start + BATCH]])

    def remove_course(self, course_id: str) -> None:
        self._delete(course_id, None)

    def _delete(self, course_id: str, prefix: str | None) -> None:
        pk = keys.join_links_pk(course_id)
        while True:
            page = self.db.query(pk, sk_prefix=prefix, limit=100)
            for start in range(0, len(page.items), BATCH):
                chunk = page.items[start : start + BATCH]
                self.db.transact([self.db.delete_op(i["PK"], i["SK"]) for i in chunk])
            if not page.last_key:
                return


def store() -> JoinLinkStore:
    return JoinLinkStore(table(settings().table_name))
