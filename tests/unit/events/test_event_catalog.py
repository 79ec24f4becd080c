"""The event catalog: every example satisfies its own schema (what a receiver is promised), and
publishing refuses data that does not."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.validation import validate

from integration_core.domain.events import CATALOG, validate_data
from integration_core.errors import Unprocessable


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_example_satisfies_its_schema(name):
    entry = CATALOG[name]
    validate(event=entry.example, schema=entry.schema)
    validate_data(name, entry.example)


def test_data_missing_a_required_field_is_refused_naming_it():
    example = dict(CATALOG["payment_completed"].example)
    del example["paymentId"]
    with pytest.raises(Unprocessable) as refused:
        validate_data("payment_completed", example)
    assert refused.value.errors == [{"field": "data.paymentId", "reason": "required"}]


def test_every_type_says_who_publishes_it_and_only_external_ones_are_announceable():
    from integration_core.domain.events import CAPABILITIES, EXTERNAL

    for entry in CATALOG.values():
        assert entry.published_by in (EXTERNAL, *CAPABILITIES), entry.name
        assert entry.announceable is (entry.published_by == EXTERNAL)
    owned_by_payments = {n for n, e in CATALOG.items() if e.published_by == "payments"}
    assert {
        "payment_completed",
        "payment_refunded",
        "subscription_activated",
        "subscription_canceled",
    } <= owned_by_payments
    assert CATALOG["student_enrolled"].published_by == CATALOG["student_unenrolled"].published_by == "enrollments"


def test_a_new_type_must_say_who_publishes_it():
    from integration_core.domain.events import register_event_type

    schema = {"type": "object"}
    with pytest.raises(TypeError):
        register_event_type("made_up_type", "x", schema, {})  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="published_by"):
        register_event_type("made_up_type", "x", schema, {}, published_by="anyone")
    assert "made_up_type" not in CATALOG


def test_every_failing_field_is_named_not_only_the_first():
    data = {"paymentId": 7, "studentId": "", "amount": "ten", "currency": "eur", "completedAt": "2025-03-01T10:15:00Z"}
    with pytest.raises(Unprocessable) as refused:
        validate_data("payment_completed", data)
    assert [e["field"] for e in refused.value.errors] == [
        "data.paymentId",
        "data.studentId",
        "data.amount",
        "data.currency",
    ]
    assert validate_data("payment_completed", CATALOG["payment_completed"].example) is None
