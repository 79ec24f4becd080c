"""The outbox marks of one dispatch against DynamoDB: several events in one transaction, and each
on its own when another dispatch recorded one of them on the bus first (never written twice)."""

from __future__ import annotations

from integration_core import keys
from integration_core.services import events
from integration_core.stores import outbox as outbox_store


def _recorded(db, event_id: str) -> None:
    _, operations = events.event_operations(
        db,
        "course_started",
        {"courseId": "crs_marks0001", "meetingId": "mtg_marks0001", "startedAt": "2026-01-01T10:00:00Z"},
        event_id=event_id,
    )
    outbox_store.record_event(db, operations)


def _item(db, event_id: str) -> dict:
    return db.get(keys.event_pk(event_id), keys.EVENT, consistent=True)


def test_two_events_are_marked_in_one_transaction_and_leave_the_outbox(aws):
    db = events._db()
    for event_id in ("evt_marka0001", "evt_markb0001"):
        _recorded(db, event_id)
    marks = [outbox_store.Mark("evt_marka0001", 2, on_bus=True), outbox_store.Mark("evt_markb0001", 0, on_bus=True)]
    assert outbox_store.mark_dispatched(db, marks, "2026-01-01T10:00:01Z") == ("TransactWriteItems", 1)
    a, b = _item(db, "evt_marka0001"), _item(db, "evt_markb0001")
    assert (a["delivery_count"], b["delivery_count"]) == (2, 0)
    assert a["bus_at"] == b["bus_at"] == "2026-01-01T10:00:01Z"
    assert "GSI1PK" not in a and "GSI1PK" not in b
    assert list(outbox_store.in_outbox(db)) == []


def test_an_event_another_dispatch_put_on_the_bus_keeps_its_mark_and_the_others_are_still_marked(aws):
    db = events._db()
    for event_id in ("evt_marka0002", "evt_markb0002"):
        _recorded(db, event_id)
    first = [outbox_store.Mark("evt_marka0002", 1, on_bus=True)]
    assert outbox_store.mark_dispatched(db, first, "2026-01-01T10:00:01Z") == ("UpdateItem", 1)
    marks = [outbox_store.Mark("evt_marka0002", 1, on_bus=True), outbox_store.Mark("evt_markb0002", 3, on_bus=True)]
    assert outbox_store.mark_dispatched(db, marks, "2026-01-01T10:00:09Z") == ("UpdateItem", 2)
    assert _item(db, "evt_marka0002")["bus_at"] == "2026-01-01T10:00:01Z"  # not written twice
    b = _item(db, "evt_markb0002")
    assert (b["bus_at"], b["delivery_count"], "GSI1PK" in b) == ("2026-01-01T10:00:09Z", 3, False)


def test_an_event_waiting_for_the_bus_stays_in_the_outbox(aws):
    db = events._db()
    _recorded(db, "evt_marka0003")
    marks = [outbox_store.Mark("evt_marka0003", 1, on_bus=False, done=False)]
    assert outbox_store.mark_dispatched(db, marks, "2026-01-01T10:00:01Z") == ("UpdateItem", 1)
    item = _item(db, "evt_marka0003")
    assert item["dispatched_at"] == "2026-01-01T10:00:01Z" and "bus_at" not in item
    assert [e["event_id"] for e in outbox_store.in_outbox(db)] == ["evt_marka0003"]
    assert outbox_store.mark_dispatched(db, [outbox_store.Mark("evt_marka0003", None, done=False)], "x") is None
