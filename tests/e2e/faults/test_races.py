"""Races through the local stack (up to ten environments per function, so requests really run at
once; DynamoDB conditions decide): ten confirms and ten Stripe callbacks for one payment, ten
refunds summing to more than the payment, ten students for a course's last seat, ten
registrations of one student into a meeting. One success each, the rest refused or no-ops, and the
stored state consistent. (Ten concurrent calendar syncs of one student: tests/e2e/calendar,
test_ten_concurrent_syncs_create_each_event_once.)"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.e2e.faults.consumers import World, _meeting, _zoom


def at_once(calls: list[Any]) -> list[Any]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def published(world: World, event_type: str, *parts: str) -> dict[str, Any] | None:
    from integration_core.ids import stable_id

    table = world.stack.state["resources"]["AppTable"]["ref"]
    key = {"PK": {"S": f"EVENT#{stable_id('event', event_type, *parts)}"}, "SK": {"S": "EVENT"}}
    item = world.stack.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return {k: next(iter(v.values())) for k, v in item.items()} if item else None


def test_ten_confirms_and_ten_callbacks_at_once_succeed_the_payment_once(crash_stack, api):
    world = World(crash_stack[0], api)
    course, student = world.course(), world.student()
    me = world.caller("student", student["id"])
    world.sandbox("POST", "/_sandbox/stripe/delivery", {"auto": False})
    try:
        started = me.post("/payments/stripe/initialize", {"courseId": course}).json()
        intent, payment = started["paymentIntentId"], started["paymentId"]
        body = {"transactionId": intent, "provider": "stripe", "paymentMethod": "pm_card_visa"}

        def confirm() -> httpx.Response:
            return me.post("/payments/confirm", body)

        def callback() -> int:
            # Stripe's callback, as soon as the payment succeeded at Stripe (sent by the first confirm).
            deadline = time.monotonic() + 120  # the confirms go first; on a loaded machine slowly
            while time.monotonic() < deadline:
                events = world.sandbox("GET", "/_sandbox/stripe/events").json()
                found = [
                    e for e in events if e["type"] == "payment_intent.succeeded" and e["data"]["object"]["id"] == intent
                ]
                if found:
                    return int(world.sandbox("POST", f"/_sandbox/stripe/events/{found[0]['id']}/send").json()["status"])
                time.sleep(0.05)
            return 0

        answers = at_once([confirm] * 10 + [callback] * 10)
    finally:
        world.sandbox("POST", "/_sandbox/stripe/delivery", {"auto": True})
    confirms, callbacks = answers[:10], answers[10:]
    # Every confirm answers the payment's one outcome (a repeat is a no-op, not an error).
    assert {(a.status_code, a.json()["status"]) for a in confirms} == {(200, "succeeded")}, [a.text for a in confirms]
    assert callbacks == [200] * 10
    history = me.get(f"/payments/history/{student['id']}").json()["items"]
    assert [(p["paymentId"], p["status"]) for p in history] == [(payment, "succeeded")]
    enrollments = me.get("/directory/enrollments", studentId=student["id"]).json()["items"]
    assert [e["courseId"] for e in enrollments] == [course]
    assert published(world, "payment_completed", payment) and published(world, "student_enrolled", payment)
    confirmed_at_stripe = [
        r
        for r in world.sandbox("GET", "/_sandbox/requests?provider=stripe").json()
        if r["path"] == f"/v1/payment_intents/{intent}/confirm" and r["status"] == 200
    ]
    assert len(confirmed_at_stripe) == 1  # charged once


def test_ten_refunds_at_once_summing_to_more_than_the_payment_refund_at_most_its_amount(crash_stack, api):
    world = World(crash_stack[0], api)
    course, student = world.course(), world.student()  # 15000 JPY
    me = world.caller("student", student["id"])
    paid = me.post("/payments/stripe/initialize", {"courseId": course, "paymentMethod": "pm_card_visa"})
    assert paid.status_code == 201 and paid.json()["status"] == "succeeded", paid.text
    payment = paid.json()["paymentId"]
    refund = {"transactionId": payment, "provider": "stripe", "amount": "2000"}
    answers = at_once([lambda: world.admin.post("/payments/refund", refund)] * 10)  # 20000 asked
    made = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    # 7 x 2000 fit in 15000: those succeed, the others are refused with a 4xx naming why.
    assert len(made) == 7, [a.text for a in answers]
    assert all(400 <= a.status_code < 500 for a in refused), [a.text for a in refused]
    assert len({a.json()["refundId"] for a in made}) == 7
    at_stripe = [
        r
        for r in world.sandbox("GET", "/_sandbox/stripe/state").json()["refunds"].values()
        if r["payment_intent"] == paid.json()["paymentIntentId"]
    ]
    assert sum(r["amount"] for r in at_stripe) == 14000 and len(at_stripe) == 7
    status = me.get(f"/payments/history/{student['id']}").json()["items"][0]
    assert status["status"] == "partially_refunded"
    rest = world.admin.post("/payments/refund", {"transactionId": payment, "provider": "stripe"})
    assert rest.status_code == 201 and rest.json()["amount"] == "1000", rest.text


def test_ten_students_at_once_for_the_last_seat_enroll_one(crash_stack, api):
    world = World(crash_stack[0], api)
    teacher = world.teacher()
    created = world.admin.post(
        "/directory/courses",
        {
            "title": "Small group",
            "price": {"amount": "100.00", "currency": "EUR"},
            "timeZone": "Europe/London",
            "teacherId": teacher["id"],
            "capacity": 3,
        },
    )
    assert created.status_code == 201, created.text
    course = created.json()["id"]
    for _ in range(2):
        world.enroll(course, world.student()["id"])
    students = [world.student()["id"] for _ in range(10)]
    answers = at_once(
        [lambda s=s: world.admin.post("/directory/enrollments", {"courseId": course, "studentId": s}) for s in students]
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 9, [a.text for a in answers]
    shown = world.admin.get(f"/directory/courses/{course}").json()
    assert (shown["enrolledCount"], shown["seatsLeft"]) == (3, 0)
    enrolled = world.admin.get("/directory/enrollments", courseId=course).json()["items"]
    assert len(enrolled) == 3
    winner = next(s for s, a in zip(students, answers, strict=True) if a.status_code == 201)
    assert winner in {e["studentId"] for e in enrolled}


def test_ten_registrations_at_once_of_one_student_register_them_once(crash_stack, api):
    world = World(crash_stack[0], api)
    _, meeting = _meeting(world)
    email = f"guest-{uuid.uuid4().hex[:8]}@example.com"
    path = f"/video/zoom/{meeting['meetingId']}/participants"
    answers = at_once([lambda: world.admin.post(path, {"email": email, "name": "Gina Guest"})] * 10)
    assert {a.status_code for a in answers} <= {200, 201, 409}, [a.text for a in answers]
    assert any(a.status_code == 201 for a in answers)
    links = {a.json()["joinUrl"] for a in answers if a.status_code in (200, 201)}
    assert len(links) == 1  # every answer names the one registration
    listed = [p for p in world.admin.get(path).json()["items"] if p["email"] == email]
    assert len(listed) == 1 and listed[0]["joinUrl"] in links
    registrants = _zoom(
        world, "GET", f"/meetings/{meeting['providerMeetingId']}/registrants", params={"status": "approved"}
    ).json()["registrants"]
    assert [r["join_url"] for r in registrants if r["email"] == email] == [listed[0]["joinUrl"]]
