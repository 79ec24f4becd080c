"""The video schedule against in-memory fakes: a Teams meeting is subscribed to once its start comes
within a subscription's lifetime; Graph subscriptions are renewed a day before they expire while
their meeting is to come and deleted after it; a Teams meeting's attendance is read once its
scheduled end has passed, recorded once per report, and its poll then dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integration_core import timeutil
from integration_core.ports.video import Subscription
from integration_core.services.video import callbacks, maintenance, meetings

NOW = datetime(2030, 3, 18, 12, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeStore:
    def __init__(self) -> None:
        self.subs: dict[str, dict[str, Any]] = {}
        self.polls: list[dict[str, Any]] = []
        self.attendance_rows: list[dict[str, Any]] = []
        self.deleted_meetings: set[str] = set()

    def subscriptions(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self.subs.values()]

    def put_subscription(self, subscription_id: str, record: dict[str, Any]) -> None:
        self.subs[subscription_id] = {**record, "subscription_id": subscription_id}

    def drop_subscription(self, subscription_id: str) -> None:
        del self.subs[subscription_id]

    def polls_due(self, now: str) -> list[dict[str, Any]]:
        return [p for p in self.polls if p["due"] <= now]

    def mark_subscribed(self, sk: str, kinds: list[str]) -> None:
        for p in self.polls:
            if p["sk"] == sk:
                p["subscribed"] = kinds

    def drop_poll(self, sk: str) -> None:
        self.polls = [p for p in self.polls if p["sk"] != sk]

    def meeting(self, meeting_id: str) -> dict[str, Any] | None:
        status = "deleted" if meeting_id in self.deleted_meetings else "ready"
        return {"id": meeting_id, "course_id": "crs_ielts0001", "provider": "teams", "status": status}

    def attendance(self, meeting_id: str) -> list[dict[str, Any]]:
        return self.attendance_rows


class FakeGraph:
    def __init__(self) -> None:
        self.renewed: list[str] = []
        self.deleted: list[str] = []
        self.reports: dict[str, list[str]] = {}
        self.subscribed: list[str] = []

    def renew(self, subscription_id: str, minutes: int) -> datetime | None:
        self.renewed.append(subscription_id)
        return NOW + timedelta(minutes=minutes)

    def unsubscribe(self, subscription_id: str) -> None:
        self.deleted.append(subscription_id)

    def ended_occurrences(self, provider_id: str) -> list[str]:
        return self.reports.get(provider_id, [])

    subscription_kinds = ("calls", "recordings")

    def subscribe(self, provider_id: str, join_url: str, minutes: int, skip: frozenset[str]) -> list[Subscription]:
        """The recordings subscription fails the first time (its handshake timed out)."""
        kinds = [k for k in self.subscription_kinds if k not in skip]
        if "recordings" in kinds and not self.subscribed:
            kinds.remove("recordings")
        self.subscribed.extend(f"{provider_id}:{k}" for k in kinds)
        return [Subscription(f"sub-{provider_id}-{k}", NOW + timedelta(minutes=minutes), k) for k in kinds]


@pytest.fixture
def world(monkeypatch):
    store, graph = FakeStore(), FakeGraph()
    recorded: list[str] = []

    def record(provider: str, meeting: dict[str, Any], uuid: str, provider_id: str | None, moment: Any) -> dict:
        recorded.append(uuid)
        store.attendance_rows.append({"occurrence_uuid": uuid})
        return {}

    monkeypatch.setattr(meetings, "_store", lambda: store)
    monkeypatch.setattr(meetings, "adapter", lambda name: graph)
    monkeypatch.setattr(callbacks, "record_attendance", record)
    monkeypatch.setattr(timeutil, "utc_now", lambda: NOW)
    return store, graph, recorded


def _sub(store: FakeStore, sub_id: str, expires: datetime, until: datetime) -> None:
    store.put_subscription(
        sub_id, {"provider": "teams", "meeting_id": "mtg_x", "expires": _iso(expires), "until": _iso(until)}
    )


def test_subscriptions_are_renewed_before_they_expire_and_dropped_after_their_meeting(world):
    store, graph, _ = world
    _sub(store, "soon", NOW + timedelta(hours=5), NOW + timedelta(days=3))  # expires within a day: renewed
    _sub(store, "later", NOW + timedelta(days=2), NOW + timedelta(days=3))  # not yet
    _sub(store, "past", NOW + timedelta(hours=5), NOW - timedelta(minutes=1))  # its meeting is over
    assert maintenance.renew_subscriptions() == {"renewed": 1, "dropped": 1}
    assert graph.renewed == ["soon"] and graph.deleted == ["past"]
    assert set(store.subs) == {"soon", "later"}
    assert store.subs["soon"]["expires"] > _iso(NOW + timedelta(days=2))


def test_attendance_is_read_after_the_scheduled_end_once_per_report(world):
    store, graph, recorded = world
    due, future = _iso(NOW - timedelta(minutes=1)), _iso(NOW + timedelta(hours=1))
    store.polls = [
        {"sk": "a", "due": due, "meeting_id": "mtg_x", "provider": "teams", "provider_meeting_id": "org|m1"},
        {"sk": "b", "due": future, "meeting_id": "mtg_x", "provider": "teams", "provider_meeting_id": "org|m2"},
    ]
    assert maintenance.poll_attendance() == {"recorded": 0, "polls_done": 0}  # no report yet: asked again later
    graph.reports["org|m1"] = ["org|m1#r1"]
    assert maintenance.poll_attendance() == {"recorded": 1, "polls_done": 1}
    assert recorded == ["org|m1#r1"] and [p["sk"] for p in store.polls] == ["b"]
    store.polls.append(dict(store.polls[0], sk="c", due=due, provider_meeting_id="org|m1"))
    maintenance.poll_attendance()
    assert recorded == ["org|m1#r1"]  # a report recorded before is not recorded again


def test_a_meeting_is_subscribed_to_once_its_start_is_within_a_subscriptions_lifetime(world):
    store, graph, _ = world
    soon, far = _iso(NOW + timedelta(days=1)), _iso(NOW + timedelta(days=30))
    store.polls = [
        {
            "sk": "a",
            "due": soon,
            "meeting_id": "mtg_x",
            "provider": "teams",
            "provider_meeting_id": "org|m1",
            "join_url": "https://teams.test/1",
            "subscribed": False,
        },
        {
            "sk": "b",
            "due": far,
            "meeting_id": "mtg_x",
            "provider": "teams",
            "provider_meeting_id": "org|m2",
            "join_url": "https://teams.test/2",
            "subscribed": False,
        },
    ]
    assert maintenance.subscribe_coming() == {"subscribed": 1}  # the recordings one was refused
    assert graph.subscribed == ["org|m1:calls"] and store.polls[0]["subscribed"] == ["calls"]
    assert store.subs["sub-org|m1-calls"]["until"] > soon  # kept until after the class
    assert maintenance.subscribe_coming() == {"subscribed": 1}  # the missing kind only, not calls again
    assert graph.subscribed == ["org|m1:calls", "org|m1:recordings"]
    assert store.polls[0]["subscribed"] == ["calls", "recordings"]
    assert maintenance.subscribe_coming() == {"subscribed": 0}


def test_a_deleted_meetings_polls_are_dropped_without_asking_graph(world):
    store, graph, recorded = world
    store.deleted_meetings.add("mtg_gone")
    due, soon = _iso(NOW - timedelta(minutes=1)), _iso(NOW + timedelta(days=1))
    for sk, when in (("a", due), ("b", soon)):
        store.polls.append(
            {"sk": sk, "due": when, "meeting_id": "mtg_gone", "provider": "teams", "provider_meeting_id": "org|m9"}
        )
    graph.reports["org|m9"] = ["org|m9#r1"]
    assert maintenance.run() == {"subscribed": 0, "renewed": 0, "dropped": 0, "recorded": 0, "polls_done": 0}
    assert store.polls == [] and graph.subscribed == [] and recorded == []
