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
