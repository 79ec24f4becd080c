"""The meetings service against in-memory fakes of its store, the directory and a provider: a
course's meeting is made once, a crash between the provider's answer and the store is recovered by
the meeting's reference, and a student outside the course is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integration_core.adapters.dynamodb import ConditionFailed
from integration_core.errors import Forbidden, NotFound, ProviderUnavailable, Unprocessable
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

    def meeting(self, meeting_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        return dict(self.meetings[meeting_id]) if meeting_id in self.meetings else None

    def meeting_by_provider(self, provider: str, provider_id: str) -> dict[str, Any] | None:
        return self.meeting(self.refs[provider_id]) if provider_id in self.refs else None

    def reserve(self, record: dict[str, Any]) -> bool:
        if record["id"] in self.meetings:
            return False
        self.meetings[record["id"]] = dict(record)
        return True

    def store_provider_meeting(self, meeting_id: str, provider: str, fields: dict[str, Any]) -> dict[str, Any]:
        if self.crash_on_store:
            self.crash_on_store = False
            raise RuntimeError("the function died here")
        self.meetings[meeting_id].update(fields)
        self.refs[fields["provider_meeting_id"]] = meeting_id
        return dict(self.meetings[meeting_id])

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
        self.links: dict[tuple[str, str], str] = {}

    def put(self, course_id: str, who: str, record: dict[str, Any], session_id: str = "*") -> None:
        self.links[(course_id, who)] = record["join_url"]

    def remove(self, course_id: str, who: str) -> None:
        self.links.pop((course_id, who), None)

    def remove_course(self, course_id: str) -> None:
        for key in [k for k in self.links if k[0] == course_id]:
            del self.links[key]


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

    def __init__(self) -> None:
        self.made: dict[str, ProviderMeeting] = {}  # by our reference
        self.creates = 0
        self.requests: list[MeetingRequest] = []
        self.deleted: list[str] = []
        self.fail_delete = False

    def ensure_meeting(self, request: MeetingRequest) -> ProviderMeeting:
        self.requests.append(request)
        if request.reference not in self.made:
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
                "https://zoom.test/j",
                request.recording,
                "waiting",
                occurrences,
            )
        return self.made[request.reference]

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


def test_an_irregular_schedule_is_refused_before_the_provider_is_called(world):
    _, provider, directory = world
    directory.sessions = [*_weekly(3), *[replace_start(s, hours=1) for s in _weekly(4)[3:]]]
    with pytest.raises(Unprocessable) as refused:
        _create()
    assert refused.value.errors == [{"field": "courseId", "reason": "irregular schedule"}]
    assert provider.requests == []


def replace_start(session: dict[str, Any], hours: int) -> dict[str, Any]:
    start = datetime.fromisoformat(session["starts_at"]) + timedelta(hours=hours)
    return {**session, "starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=90)).isoformat()}


def test_a_student_outside_the_course_may_not_read_its_meeting(world):
    meeting = _create()
    outsider = Principal("stu_other0001", Role.STUDENT)
    with pytest.raises(Forbidden):
        meetings.details(outsider, "zoom", meeting["id"])


def test_links_are_written_for_the_students_and_the_teacher_and_announced_once(world):
    store, _, _ = world
    meeting = _create()
    assert store.links.links == {
        ("crs_ielts0001", "stu_kenji0001"): "https://zoom.test/w/1001?tk=stu_kenji0001@school.example",
        ("crs_ielts0001", "TEACHER"): "https://zoom.test/j",
    }
    [(kind, data, _)] = store.published
    assert kind == "join_link_ready" and data["userIds"] == ["stu_kenji0001", "tch_maria0001"]
    meetings.register_student(meeting, "stu_new00001", announce=True)
    assert store.published[-1][1]["userIds"] == ["stu_new00001"]
    meetings.cancel_student(meeting, "stu_new00001")
    assert ("crs_ielts0001", "stu_new00001") not in store.links.links


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
