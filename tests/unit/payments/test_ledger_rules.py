"""The ledger's rules against in-memory fakes (no DynamoDB, no provider): statuses move only forward,
a success happens exactly once with its enrollment and events, a student pays once per enrollment,
and refunds add up."""

from __future__ import annotations

import pytest

from integration_core.domain.payments import PaymentStatus
from integration_core.errors import Unprocessable
from integration_core.services.payments.ledger import advance, apply_refund
from integration_core.services.payments.refunds import refund_amount
from tests.unit.payments.conftest import provider_says

S = PaymentStatus


# ---------------------------------------------------------------- forward only
def test_a_succeeded_payment_never_moves_back(world):
    item = world.payment()
    advance(item, provider_says(item, S.SUCCEEDED), cause="confirm")
    for late in (S.FAILED, S.CREATED, S.REQUIRES_ACTION, S.CANCELED):
        _, changed = advance(world.stored(item), provider_says(item, late, failure_code="late"), cause="late")
        assert changed is False
    assert world.stored(item)["status"] == "succeeded"
    assert "failure_code" not in world.stored(item)


def test_a_failed_payment_takes_a_later_attempts_failure_and_then_a_success(world):
    item = world.payment()
    advance(item, provider_says(item, S.FAILED, failure_code="card_declined"), cause="one")
    _, changed = advance(world.stored(item), provider_says(item, S.FAILED, failure_code="expired_card"), cause="two")
    assert changed is True
    assert world.stored(item)["failure_code"] == "expired_card"
    _, changed = advance(world.stored(item), provider_says(item, S.SUCCEEDED), cause="three")
    assert changed is True
    assert world.stored(item)["status"] == "succeeded"
    assert "failure_code" not in world.stored(item)  # each attempt's outcome is its own


def test_a_stale_read_cannot_move_a_payment_back(world):
    # Two readers hold the same old record: the later one's backward step is refused by the store.
    item = world.payment()
    advance(item, provider_says(item, S.APPROVED), cause="one")
    _, changed = advance(item, provider_says(item, S.REQUIRES_ACTION), cause="stale")
    assert changed is False
    assert world.stored(item)["status"] == "approved"


# ---------------------------------------------------------------- exactly once
def test_confirm_and_callback_racing_succeed_once_with_one_enrollment(world):
    item = world.payment()
    stale = dict(item)  # both read the payment before either wrote
    _, first = advance(item, provider_says(item, S.SUCCEEDED), cause="confirm:pay")
    _, second = advance(stale, provider_says(item, S.SUCCEEDED), cause="stripe:evt_1")
    assert (first, second) == (True, False)
    assert world.event_types().count("payment_completed") == 1
    assert world.event_types().count("student_enrolled") == 1
    assert world.state.enrollments[("stu_ana00001", "crs_math0001")]["payment_id"] == item["payment_id"]
    assert sorted(world.state.dispatched) == sorted(e for e, _ in world.state.events)


def test_a_payment_without_a_course_succeeds_without_enrolling(world):
    item = world.payment(course=None)
    _, changed = advance(item, provider_says(item, S.SUCCEEDED), cause="confirm")
    assert changed is True
    assert world.event_types() == ["payment_completed"]
    assert world.state.enrollments == {}


# ---------------------------------------------------------------- one payment per enrollment
def test_a_second_payment_for_one_enrollment_succeeds_marked_and_is_refunded_once(world):
    first, second = world.payment(), world.payment()
    advance(first, provider_says(first, S.SUCCEEDED), cause="confirm:first")
    _, changed = advance(second, provider_says(second, S.SUCCEEDED), cause="confirm:second")
    assert changed is True
    stored = world.stored(second)
    assert stored["duplicate_of"] == first["payment_id"]
    assert (stored["status"], stored["refunded_minor"]) == ("refunded", 5000)
    assert world.event_types().count("student_enrolled") == 1
    # Seen again (a callback of the same success): no second refund at the provider.
    advance(stored, provider_says(second, S.SUCCEEDED), cause="stripe:evt_2")
    assert [(amount) for _, amount, _ in world.provider.refunds] == [5000]
    assert world.state.enrollments[("stu_ana00001", "crs_math0001")]["payment_id"] == first["payment_id"]


# ---------------------------------------------------------------- refunds
def _paid(world, amount: int = 5000) -> dict:
    item = world.payment(course=None, amount=amount)
    advance(item, provider_says(item, S.SUCCEEDED), cause="confirm")
    return world.stored(item)


def test_partial_refunds_add_up_to_a_full_one(world):
    item = _paid(world)
    item, changed = apply_refund(item, "re_1", 2000, None, "refund:a")
    assert (changed, item["status"], item["refunded_minor"]) == (True, "partially_refunded", 2000)
    item, changed = apply_refund(item, "re_2", 3000, None, "refund:b")
    assert (changed, item["status"], item["refunded_minor"]) == (True, "refunded", 5000)
    assert world.event_types().count("payment_refunded") == 2


def test_one_refund_seen_twice_counts_once(world):
    item = _paid(world)
    apply_refund(item, "re_1", 2000, None, "refund:a")
    item, changed = apply_refund(world.stored(item), "re_1", 2000, None, "stripe:evt_9")
    assert (changed, item["refunded_minor"]) == (False, 2000)


def test_a_refund_computed_from_a_stale_total_is_recomputed(world):
    item = _paid(world)
    stale = dict(item)
    apply_refund(item, "re_1", 2000, None, "refund:a")
    stored, changed = apply_refund(stale, "re_2", 1000, None, "refund:b")
    assert (changed, stored["refunded_minor"], stored["status"]) == (True, 3000, "partially_refunded")


def test_the_refunded_total_never_exceeds_the_amount(world):
    item = _paid(world)
    item, _ = apply_refund(item, "re_1", 4000, None, "refund:a")
    item, _ = apply_refund(item, "re_2", 4000, None, "provider:evt")  # the provider's word, capped at the amount
    assert (item["refunded_minor"], item["status"]) == (5000, "refunded")


@pytest.mark.parametrize(
    ("refunded", "asked", "expected"),
    [(0, None, 5000), (0, "20.00", 2000), (2000, None, 3000), (2000, "30.00", 3000)],
)
def test_a_refund_asks_for_what_is_left_or_a_part_of_it(refunded, asked, expected):
    item = {"amount_minor": 5000, "refunded_minor": refunded, "currency": "USD"}
    assert refund_amount(item, asked).amount_minor == expected


@pytest.mark.parametrize(("refunded", "asked"), [(0, "50.01"), (2000, "30.01"), (5000, None), (5000, "0.01")])
def test_an_over_refund_is_refused_naming_what_is_left(refunded, asked):
    item = {"amount_minor": 5000, "refunded_minor": refunded, "currency": "USD"}
    with pytest.raises(Unprocessable) as refused:
        refund_amount(item, asked)
    left = f"{(5000 - refunded) / 100:.2f}"
    assert refused.value.problem("/refund")["errors"] == [
        {"field": "amount", "reason": f"only {left} USD is left to refund"}
    ]
