"""A course's class sessions into a user's "Classes" calendar, without duplicates.

Every session is one Google event whose id derives from (user, session) (domain.calendar.event_id),
written as an upsert: insert under that id, and on Google's 409 (it exists: a repeat, a retry, a
concurrent sync) patch it with the same fields. So however many syncs run, each event exists once.
A record per (user, session) keeps the session version synced (and the user's video link written
with it): an unchanged session costs no Google call, a moved one (a new version) or one whose link
appeared or changed is patched, a cancelled one is cancelled at Google. The links are video's, read
from stores.join_links (one Query per user and course). Start and end
are the course's wall clock with its IANA zone, so Google keeps an 18:00 class at 18:00 across DST.

Google calls run `sync_concurrency` at a time (4 by default); rate limits (429, 403
rateLimitExceeded / userRateLimitExceeded) are retried with backoff by the shared client.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from integration_core import timeutil
from integration_core.calendar_config import calendar_settings
from integration_core.domain.calendar import ConnectionBroken, NotConnected, event_id, session_event
from integration_core.errors import Forbidden, NotFound
from integration_core.observability import logger
from integration_core.ports.calendar import AccessExpired
from integration_core.principal import Principal, Role
from integration_core.services.calendar import connection, deps
from integration_core.services.calendar.connection import Access
from integration_core.stores.calendar import CONNECTED
from integration_core.stores.join_links import holder

CONFIRMED, CANCELLED = "confirmed", "cancelled"


@dataclass
class UserSync:
    user_id: str
    synced: int = 0  # events of scheduled sessions in the calendar after this sync
    cancelled: int = 0  # events cancelled by this sync
    google_calls: int = 0


@dataclass
class _Writer:
    """One user's token and calendar for a sync, shared by its worker threads (a 401 refreshes once)."""

    current: Access
    calendar_id: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: int = 0

    def run(self, write: Any) -> Any:
        seen = self.current
        with self.lock:
            self.calls += 1
        try:
            return write(seen.token, self.calendar_id)
        except AccessExpired:
            with self.lock:
                if self.current is seen:
                    self.current = connection._refreshed(seen.connection, refused=True)
                fresh = self.current
            return write(fresh.token, self.calendar_id)


def _sessions(course_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    directory = deps.directory()
    scheduled = [s for s in directory.all_sessions(course_id) if s.get("status", "scheduled") == "scheduled"]
    return scheduled, directory.all_sessions(course_id, cancelled=True)


def sync_user_course(user_id: str, course: dict[str, Any], *, removed: bool = False) -> UserSync:
    """Bring the user's events of `course` in line with its sessions (`removed`: the user left the
    course, every event of it is cancelled). NotConnected / ConnectionBroken when there is nothing
    to write to."""
    store, provider = deps.store(), deps.provider()
    settings = calendar_settings()
    course_id = course["id"]
    scheduled, cancelled = _sessions(course_id) if not removed else ([], [])
    records = {r["session_id"]: r for r in store.synced_events(user_id, course_id)}
    reminders = list(settings.reminder_minutes)
    links = deps.join_links().links(course_id, holder(user_id)) if scheduled else None
    link_of = {s["id"]: links.for_session(s["id"]) if links else None for s in scheduled}
    upserts = [
        s
        for s in scheduled
        if not (
            (r := records.get(s["id"]))
            and r.get("status") == CONFIRMED
            and r.get("session_version") == s.get("version", 1)
            and r.get("reminders") == reminders
            and r.get("join_url") == link_of[s["id"]]
        )
    ]
    gone = {s["id"]: s for s in cancelled}
    cancels = [
        r
        for r in records.values()
        if r.get("status") == CONFIRMED
        and (removed or r["session_id"] in gone or r["session_id"] not in {s["id"] for s in scheduled})
    ]
    result = UserSync(user_id)
    if upserts or cancels:
        zone = course.get("time_zone") or "UTC"
        current, calendar_id = connection.with_access(user_id, lambda a: (a, connection.calendar_of(a, zone)))
        writer = _Writer(current, calendar_id)
        now = timeutil.iso_utc(timeutil.utc_now())

        def upsert(session: dict[str, Any]) -> None:
            body = session_event(course, session, user_id, settings.reminder_minutes, link_of[session["id"]])
            google_id = event_id(user_id, session["id"])
            writer.run(lambda token, cal: provider.upsert_event(token, cal, google_id, body))
            store.save_synced(
                user_id,
                {
                    "course_id": course_id,
                    "session_id": session["id"],
                    "event_id": google_id,
                    "session_version": session.get("version", 1),
                    "starts_at": session["starts_at"],
                    "status": CONFIRMED,
                    "reminders": reminders,
                    "join_url": link_of[session["id"]],
                    "synced_at": now,
                },
            )

        def cancel(record: dict[str, Any]) -> None:
            writer.run(lambda token, cal: provider.cancel_event(token, cal, record["event_id"]))
            version = (
                gone[record["session_id"]].get("version", 1)
                if record["session_id"] in gone
                else record.get("session_version", 1)
            )
            store.save_synced(user_id, {**record, "status": CANCELLED, "session_version": version, "synced_at": now})

        with ThreadPoolExecutor(max_workers=max(1, settings.sync_concurrency)) as pool:
            futures = [pool.submit(upsert, s) for s in upserts] + [pool.submit(cancel, r) for r in cancels]
            for future in futures:
                future.result()  # the first failure is raised (the others finished or failed too)
        result.google_calls = writer.calls
    result.synced = len(scheduled)
    result.cancelled = len(cancels)
    _record(user_id)
    return result


def _record(user_id: str) -> None:
    store = deps.store()
    count = sum(1 for r in store.synced_events(user_id) if r.get("status") == CONFIRMED)
    store.record_sync(user_id, timeutil.iso_utc(timeutil.utc_now()), count)


def _connected(user_ids: list[str]) -> tuple[list[str], list[str]]:
    """(connected users, the others) among `user_ids`."""
    found = {c["user_id"]: c for c in deps.store().connections(user_ids)} if user_ids else {}
    ok = [u for u in user_ids if found.get(u, {}).get("status") == CONNECTED]
    return ok, [u for u in user_ids if u not in ok]


def enrolled_students(course_id: str) -> list[str]:
    directory = deps.directory()
    students: list[str] = []
    cursor = None
    while True:
        page = directory.enrollments_of_course(course_id, 100, cursor)
        students += [e["student_id"] for e in page.items]
        cursor = page.next_cursor
        if not cursor:
            return students


def sync_course(principal: Principal, course_id: str, student_id: str | None = None) -> dict[str, Any]:
    """POST /google-calendar/sync-course/{courseId}: a student or teacher syncs their own calendar
    (a student of the course, its teacher); an admin syncs it for one student or for every enrolled,
    connected one."""
    directory = deps.directory()
    course = directory.course(course_id)
    if course is None:
        raise NotFound(f"course {course_id} does not exist")
    if principal.is_admin:
        users = [student_id] if student_id else enrolled_students(course_id)
        if student_id and directory.enrollment(student_id, course_id) is None:
            raise NotFound(f"{student_id} is not enrolled in {course_id}")
        users, skipped = _connected(users)
    else:
        principal.require(Role.STUDENT, Role.TEACHER)
        if student_id and student_id != principal.sub:
            raise Forbidden("a student or teacher syncs their own calendar only")
        if principal.role is Role.STUDENT and directory.enrollment(principal.sub, course_id) is None:
            raise Forbidden(f"you are not enrolled in {course_id}")
        if principal.role is Role.TEACHER and course.get("teacher_id") != principal.sub:
            raise Forbidden(f"you do not teach {course_id}")
        connection.connection_of(principal.sub)  # NotConnected / ConnectionBroken for the caller
        users, skipped = [principal.sub], []
    students = synced = cancelled = 0
    for user_id in users:
        try:
            done = sync_user_course(user_id, course)
        except (NotConnected, ConnectionBroken):
            if not principal.is_admin:
                raise
            skipped.append(user_id)
            continue
        students, synced, cancelled = students + 1, synced + done.synced, cancelled + done.cancelled
    logger.info("course synced", extra={"course_id": course_id, "students": students, "events_synced": synced})
    return {
        "course_id": course_id,
        "students": students,
        "events_synced": synced,
        "events_cancelled": cancelled,
        "skipped": skipped,
    }
