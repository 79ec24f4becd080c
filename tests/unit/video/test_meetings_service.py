"""The meetings service against in-memory fakes of its store, the directory and a provider: a
course's meeting is made once, a crash between the provider's answer and the store is recovered by
the meeting's reference, an irregular schedule (or a provider without recurring meetings) is one
meeting per session and resumes where a failure stopped it, and a student outside the course is
refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integration_core.adapters.dynamodb import ConditionFailed
from integration_core.errors import Forbidden, NotFound, ProviderUnavailable, QuotaExhausted
from integration_core.ports.video import MeetingRequest, Occurrence, ProviderMeeting, Registration
from integration_core.principal import Principal, Role
from integration_core.services.video import meetings

ADMIN = Principal("adm_office", Role.ADMIN)
FIRST = datetime(2030, 3, 18, 9, tzinfo=UTC)  # Mondays 18:00 in Tokyo


class FakeStore:
    def __init__(self) -> None:
        self.meetings: dict[str, dict[str, Any]] = {}
        self.refs: dict[str, str] = {}
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.crash_on_store = False
        self.subscribed: dict[str, dict[str, Any]] = {}

    def meeting(self, meeting_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        return dict(self.meetings[meeting_id]) if meeting_id in self.meetings else None

    def meeting_by_provider(self, provider: str, provider_id: str) -> dict[str, Any] | None:
        return self.meeting(self.refs[provider_id]) if provider_id in self.refs else None

    def reserve(self, record: dict[str, Any]) -> bool:
        if record["id"] in self.meetings:
            return False
        self.meetings[record["id"]] = dict(record)
        return True

    def store_provider_meeting(
        self, meeting_id: str, provider: str, fields: dict[str, Any], ids: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if self.crash_on_store:
            self.crash_on_store = False
            raise RuntimeError("the function died here")
        self.meetings[meeting_id].update(fields)
        self.refs[fields["provider_meeting_id"]] = meeting_id
        return dict(self.meetings[meeting_id])

    def store_session_meeting(
        self, meeting_id: str, provider: str, session_id: str, entry: dict[str, Any], ids: tuple[str, ...]
    ) -> None:
        self.meetings[meeting_id].setdefault("session_meetings", {})[session_id] = entry
        self.refs[entry["provider_meeting_id"]] = meeting_id

    def remove_session_meeting(self, meeting_id: str, provider: str, session_id: str, ids: tuple[str, ...]) -> None:
        del self.meetings[meeting_id]["session_meetings"][session_id]

    def put_poll(self, *args: Any) -> None:
        pass

    def put_subscription(self, subscription_id: str, record: dict[str, Any]) -> None:
        self.subscribed[subscription_id] = {"subscription_id": subscription_id, **record}

    def subscriptions(self) -> list[dict[str, Any]]:
        return list(self.subscribed.values())

    def drop_subscription(self, subscription_id: str) -> None:
        del self.subscribed[subscription_id]

    def registrant(self, meeting_id: str, who: str) -> dict[str, Any] | None:
        return self.rows.get((meeting_id, who))

    def put_registrant(self, meeting_id: str, who: str, record: dict[str, Any]) -> None:
        self.rows[(meeting_id, who)] = record

    def registrants(self, meeting_id: str) -> list[dict[str, Any]]:
        return [r for (m, _), r in self.rows.items() if m == meeting_id]

    def remove_registrant(self, meeting_id: str, who: str) -> None:
        self.rows.pop((meeting_id, who), None)

    def remove_registrants(self, meeting_id: str) -> None:
        for key in [k for k in self.rows if k[0] == meeting_id]:
            del self.rows[key]

    def deleted_operations(self, meeting_id: str, at: str) -> list[dict[str, Any]]:
        return [{"deleted": meeting_id, "at": at}]

    def commit(self, operations: list[dict[str, Any]]) -> None:
        for op in operations:
            if self.meetings[op["deleted"]].get("status") == "deleted":
                raise ConditionFailed(["ConditionalCheckFailed"])
            self.meetings[op["deleted"]]["status"] = "deleted"


class FakeLinks:
    def __init__(self) -> None:
        self.links: dict[tuple[str, str, str], str] = {}  # (course, who, session or *) -> link

    def put(self, course_id: str, who: str, record: dict[str, Any], session_id: str = "*") -> None:
        self.links[(course_id, who, session_id)] = record["join_url"]

    def remove(self, course_id: str, who: str) -> None:
        for key in [k for k in self.links if k[:2] == (course_id, who)]:
            del self.links[key]

    def remove_session(self, course_id: str, session_id: str) -> None:
        for key in [k for k in self.links if k[0] == course_id and k[2] == session_id]:
            del self.links[key]

    def remove_course(self, course_id: str) -> None:
        for key in [k for k in self.links if k[0] == course_id]:
            del self.links[key]

    def of(self, who: str) -> dict[str, str]:
        return {k[2]: v for k, v in self.links.items() if k[1] == who}


class FakeDirectory:
    def __init__(self, sessions: list[dict[str, Any]]) -> None:
        self.sessions = sessions

    def course(self, course_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        return (
            {"id": course_id, "teacher_id": "tch_maria0001", "time_zone": "Asia/Tokyo"}
            if course_id == "crs_ielts0001"
            else None
        )

    def person(self, kind: str, person_id: str) -> dict[str, Any] | None:
        return {"id": person_id, "email": f"{person_id}@school.example", "name": "Ken Ji"}

    def all_sessions(self, course_id: str) -> list[dict[str, Any]]:
        return self.sessions

    def all_enrollments_of_course(self, course_id: str) -> list[dict[str, Any]]:
        return [{"student_id": "stu_kenji0001"}]

    def enrollment(self, student_id: str, course_id: str) -> dict[str, Any] | None:
        return {"student_id": student_id} if student_id == "stu_kenji0001" else None


class FakeProvider:
    name, recurring, ends_meetings = "Fake", True, True
    attendees_in_meeting = polls_attendance = False

    def __init__(self) -> None:
        self.made: dict[str, ProviderMeeting] = {}  # by our reference
        self.creates = 0
        self.requests: list[MeetingRequest] = []
        self.quota = 1000  # creates left today
        self.updated: list[str] = []
        self.deleted: list[str] = []
        self.fail_delete = False

    def callback_ids(self, provider_id: str) -> tuple[str, ...]:
        return (provider_id,)

    subscription_kinds: tuple[str, ...] = ()

    def subscribe(self, provider_id: str, join_url: str, minutes: int, skip: frozenset[str]) -> list[Any]:
        return []

    def ensure_meeting(self, request: MeetingRequest) -> ProviderMeeting:
        self.requests.append(request)
        if request.reference not in self.made:
            if self.creates >= self.quota:
                raise QuotaExhausted("used up", retry_after=60)
            self.creates += 1
            count = request.weekly.count if request.weekly else 1
            occurrences = tuple(
                Occurrence(str(i), request.start + timedelta(weeks=i), request.duration_minutes) for i in range(count)
            )
            self.made[request.reference] = ProviderMeeting(
                str(1000 + self.creates),
                request.topic,
                request.host,
                request.start,
                request.duration_minutes,
                f"https://zoom.test/j/{1000 + self.creates}",
                request.recording,
                "waiting",
                occurrences,
            )
        return self.made[request.reference]

    def update_meeting(self, provider_id: str, request: MeetingRequest) -> ProviderMeeting:
        self.updated.append(provider_id)
        return ProviderMeeting(
            provider_id,
            request.topic,
            request.host,
            request.start,
            request.duration_minutes,
            "https://zoom.test/j",
            request.recording,
            "waiting",
        )

    def register(self, provider_id: str, email: str, first_name: str, last_name: str) -> Registration:
        return Registration(f"reg-{email}", f"https://zoom.test/w/{provider_id}?tk={email}")

    def cancel(self, provider_id: str, registrant_id: str, email: str) -> None:
        pass

    def delete_meeting(self, provider_id: str) -> None:
        self.deleted.append(provider_id)
        if self.fail_delete:
            self.fail_delete = False
            raise ProviderUnavailable("Zoom is down", retry_after=5)


def _weekly(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"ses_{i:08d}",
            "starts_at": (FIRST + timedelta(weeks=i)).isoformat(),
            "ends_at": (FIRST + timedelta(weeks=i, minutes=90)).isoformat(),
            "status": "scheduled",
        }
        for i in range(count)
    ]


@pytest.fixture
def world(monkeypatch):
    store, provider, directory = FakeStore(), FakeProvider(), FakeDirectory(_weekly(8))
    monkeypatch.setattr(meetings, "_store", lambda: store)
    monkeypatch.setattr(meetings, "_directory", lambda: directory)
    monkeypatch.setattr(meetings, "adapter", lambda name: provider)
    links, published = FakeLinks(), []
    monkeypatch.setattr(meetings, "_links", lambda: links)
    monkeypatch.setattr(meetings, "_publish", lambda kind, data, event_id: published.append((kind, data, event_id)))
    store.links, store.published = links, published  # type: ignore[attr-defined]
    return store, provider, directory


def _create(**kwargs: Any) -> dict[str, Any]:
    return meetings.create_meeting(
        ADMIN, "zoom", course_id="crs_ielts0001", title="IELTS", start=None, end=None, recording=True, **kwargs
    )


def test_a_weekly_course_is_one_create_with_every_session_matched_and_students_registered(world):
    store, provider, _ = world
    meeting = _create()
    assert provider.creates == 1 and provider.requests[0].weekly is not None
    assert provider.requests[0].host == "tch_maria0001@school.example"
    assert sorted(meeting["occurrences"].values()) == [f"ses_{i:08d}" for i in range(8)]
    assert [r["student_id"] for r in store.registrants(meeting["id"])] == ["stu_kenji0001"]
    assert _create()["provider_meeting_id"] == meeting["provider_meeting_id"]
    assert len(provider.requests) == 1  # a repeat answers the stored meeting without asking the provider


def test_a_crash_between_the_providers_answer_and_the_store_reuses_the_meeting(world):
    store, provider, _ = world
    store.crash_on_store = True
    with pytest.raises(RuntimeError):
        _create()
    assert store.meeting(meetings.meeting_id_of("crs_ielts0001"))["status"] == "pending"
    meeting = _create()
    assert provider.creates == 1 and meeting["status"] == "ready"
    assert {r.reference for r in provider.requests} == {meeting["id"]}


def test_an_irregular_schedule_is_one_meeting_per_session_and_resumes_after_the_quota(world):
    store, provider, directory = world
    directory.sessions = [*_weekly(3), *[replace_start(s, hours=1) for s in _weekly(5)[3:]]]
    provider.quota = 3  # the host's daily creates run out after three sessions
    with pytest.raises(QuotaExhausted):
        _create()
    pending = store.meeting(meetings.meeting_id_of("crs_ielts0001"))
    assert pending["status"] == "pending" and len(pending["session_meetings"]) == 3
    provider.quota = 1000  # the next UTC day
    meeting = _create()
    assert provider.creates == 5 and meeting["status"] == "ready" and meeting["per_session"] is True
    assert all(r.weekly is None for r in provider.requests)
    assert sorted(meeting["occurrences"].values()) == [f"ses_{i:08d}" for i in range(5)]
    kenji = store.registrant(meeting["id"], "stu_kenji0001")
    assert len(kenji["registrations"]) == 5  # registered with each session's meeting


def test_a_provider_without_recurring_meetings_gets_one_meeting_per_weekly_session(world):
    _, provider, _ = world
    provider.recurring = False
    meeting = _create()
    assert provider.creates == 8 and meeting["per_session"] is True
    assert {r.reference for r in provider.requests} == {f"{meeting['id']}:ses_{i:08d}" for i in range(8)}


def replace_start(session: dict[str, Any], hours: int) -> dict[str, Any]:
    start = datetime.fromisoformat(session["starts_at"]) + timedelta(hours=hours)
    return {**session, "starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=90)).isoformat()}


def test_a_student_outside_the_course_may_not_read_its_meeting(world):
    meeting = _create()
    outsider = Principal("stu_other0001", Role.STUDENT)
    with pytest.raises(Forbidden):
        meetings.details(outsider, "zoom", meeting["id"])


def test_a_changed_schedule_of_meetings_per_session_makes_moves_and_deletes_only_what_changed(world):
    store, provider, directory = world
    provider.recurring = False
    meeting = _create()
    by_session = {sid: pid for pid, sid in meeting["occurrences"].items()}
    sessions = _weekly(8)
    moved = replace_start(sessions[2], hours=2)
    added = {**replace_start(sessions[7], hours=24 * 7), "id": "ses_new00001"}
    directory.sessions = [*sessions[:2], moved, *sessions[3:7], added]  # the last class dropped, one moved, one new
    updated = meetings.follow_schedule(store.meeting(meeting["id"]))
    assert provider.deleted == [by_session["ses_00000007"]]
    assert provider.updated == [by_session["ses_00000002"]]
    assert provider.creates == 9 and sorted(updated["occurrences"].values()) == sorted(
        s["id"] for s in directory.sessions
    )
    kenji = store.registrant(meeting["id"], "stu_kenji0001")
    assert set(kenji["registrations"]) >= set(updated["occurrences"])  # registered with the new session's meeting


def test_links_are_written_for_the_students_and_the_teacher_and_announced_once(world):
    store, _, _ = world
    meeting = _create()
    assert store.links.links == {
        ("crs_ielts0001", "stu_kenji0001", "*"): "https://zoom.test/w/1001?tk=stu_kenji0001@school.example",
        ("crs_ielts0001", "TEACHER", "*"): "https://zoom.test/j/1001",
    }
    [(kind, data, _)] = store.published
    assert kind == "join_link_ready" and data["userIds"] == ["stu_kenji0001", "tch_maria0001"]
    meetings.register_student(meeting, "stu_new00001", announce=True)
    assert store.published[-1][1]["userIds"] == ["stu_new00001"]
    meetings.cancel_student(meeting, "stu_new00001")
    assert store.links.of("stu_new00001") == {}


def test_a_course_deletion_deletes_its_meeting_once_and_a_failed_try_is_finished_by_the_next(world):
    store, provider, _ = world
    meeting = _create()
    provider.fail_delete = True
    with pytest.raises(ProviderUnavailable):
        meetings.delete_for_course("crs_ielts0001", store.commit)
    assert store.meeting(meeting["id"])["status"] == "ready"  # nothing marked: the next delivery retries
    assert meetings.delete_for_course("crs_ielts0001", store.commit) == 1
    assert store.meeting(meeting["id"])["status"] == "deleted"
    assert store.registrants(meeting["id"]) == [] and store.links.links == {}
    assert meetings.delete_for_course("crs_ielts0001", store.commit) == 0  # a redelivery: nothing asked
    assert provider.deleted == [meeting["provider_meeting_id"]] * 2
    with pytest.raises(NotFound):
        meetings.details(ADMIN, "zoom", meeting["provider_meeting_id"])


def test_meetings_per_session_give_a_link_per_session_and_a_deletion_deletes_every_one(world):
    store, provider, directory = world
    provider.recurring = False
    meeting = _create()
    by_session = {sid: pid for pid, sid in meeting["occurrences"].items()}
    kenji = store.links.of("stu_kenji0001")
    assert sorted(kenji) == sorted(by_session)  # one link per session, none for "every session"
    assert kenji["ses_00000003"] == f"https://zoom.test/w/{by_session['ses_00000003']}?tk=stu_kenji0001@school.example"
    assert sorted(store.links.of("TEACHER")) == sorted(by_session)
    directory.sessions = _weekly(7)  # the last class dropped
    meetings.follow_schedule(store.meeting(meeting["id"]))
    assert "ses_00000007" not in store.links.of("stu_kenji0001")
    assert "ses_00000007" not in store.links.of("TEACHER")
    assert meetings.delete_for_course("crs_ielts0001", store.commit) == 1
    assert sorted(provider.deleted) == sorted(by_session.values())  # the dropped one, then the other seven
    assert store.links.links == {} and store.meeting(meeting["id"])["status"] == "deleted"


def test_a_new_session_of_meetings_per_session_gets_everyones_links_and_is_announced(world):
    store, provider, directory = world
    provider.recurring = False
    meeting = _create()
    added = {**replace_start(_weekly(8)[7], hours=24 * 7), "id": "ses_new00001"}
    directory.sessions = [*_weekly(8), added]
    updated = meetings.follow_schedule(store.meeting(meeting["id"]))
    new_id = next(pid for pid, sid in updated["occurrences"].items() if sid == "ses_new00001")
    assert store.links.of("stu_kenji0001")["ses_new00001"].startswith(f"https://zoom.test/w/{new_id}?")
    assert "ses_new00001" in store.links.of("TEACHER")
    kind, data, _ = store.published[-1]
    assert kind == "join_link_ready" and data["userIds"] == ["stu_kenji0001", "tch_maria0001"]


def test_attendees_invited_with_the_meeting_get_the_meetings_join_link(world):
    store, provider, _ = world
    provider.recurring, provider.attendees_in_meeting = False, True
    meeting = _create()
    assert provider.requests[0].attendees == (("stu_kenji0001@school.example", "Ken Ji"),)
    entries = meeting["session_meetings"]
    assert len({e["join_url"] for e in entries.values()}) == 8  # each session's meeting has its own
    assert store.links.of("stu_kenji0001") == {sid: e["join_url"] for sid, e in entries.items()}
    assert store.links.of("TEACHER") == store.links.of("stu_kenji0001")


def test_a_pending_course_meeting_stopped_half_way_has_its_made_session_meetings_deleted(world):
    store, provider, directory = world
    directory.sessions = [*_weekly(3), *[replace_start(s, hours=1) for s in _weekly(5)[3:]]]
    provider.quota = 2
    with pytest.raises(QuotaExhausted):
        _create()
    pending = store.meeting(meetings.meeting_id_of("crs_ielts0001"))
    assert meetings.delete_for_course("crs_ielts0001", store.commit) == 1
    assert sorted(provider.deleted) == sorted(e["provider_meeting_id"] for e in pending["session_meetings"].values())
    assert len(provider.deleted) == 2
