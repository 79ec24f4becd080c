"""One Idempotency-Key policy for every route that takes a key: 8 to 255 visible ASCII."""

from __future__ import annotations

import re

import pytest

from integration_core import idempotency_keys
from integration_core.domain import payment_models
from integration_core.errors import Unprocessable


@pytest.mark.parametrize("key", ["a" * 8, "k" * 255, "order-2026-0001", "~!#$%&'*+-.^_`|"])
def test_visible_ascii_of_8_to_255_is_a_key(key):
    assert idempotency_keys.checked(key) == key
    assert re.fullmatch(idempotency_keys.IDEMPOTENCY_KEY, key)


@pytest.mark.parametrize("key", ["", "a" * 7, "k" * 256, "has space1", "tab\there1", "ключ-ключ-ключ", "line\nbreak1"])
def test_anything_else_is_a_422_naming_the_header(key):
    with pytest.raises(Unprocessable) as caught:
        idempotency_keys.checked(key)
    assert caught.value.errors == [{"field": "Idempotency-Key", "reason": "8 to 255 visible ASCII characters"}]
    assert not re.fullmatch(idempotency_keys.IDEMPOTENCY_KEY, key)


def test_no_key_is_none_and_the_route_decides_whether_it_needs_one():
    assert idempotency_keys.checked(None) is None


def test_the_body_field_of_payment_changes_keeps_the_same_pattern():
    schema = payment_models.StripeInitialize.model_json_schema()["properties"]["idempotencyKey"]
    assert [option.get("pattern") for option in schema["anyOf"]] == [idempotency_keys.IDEMPOTENCY_KEY, None]
