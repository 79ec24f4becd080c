"""Problem details and the single-table keys."""

import json

from integration_core import ids, keys
from integration_core.errors import ProviderUnavailable, invalid
from integration_core.http import problem_response


def test_domain_errors_render_as_rfc9457_problem_json():
    response = problem_response(invalid("price.amount", "JPY has 0 decimal places"), "/api/v1/integration/x")
    body = json.loads(response.body)
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert body["type"].endswith("/validation-error")
    assert body["errors"] == [{"field": "price.amount", "reason": "JPY has 0 decimal places"}]
    assert body["instance"] == "/api/v1/integration/x"


def test_unavailable_provider_carries_a_retry_hint():
    response = problem_response(ProviderUnavailable("Stripe is down", retry_after=7))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert json.loads(response.body)["retryAfter"] == 7


def test_key_patterns():
    assert keys.entity_pk("student", "stu_1") == "STUDENT#stu_1"
    assert keys.email_lock_pk("student", "Ana@Example.COM") == "EMAIL#student#ana@example.com"
    assert keys.listing_sk("2026-01-01T00:00:00+00:00", "crs_1") == "2026-01-01T00:00:00+00:00#crs_1"
    assert keys.sessions_pk("crs_1") == "SESSIONS#crs_1"


def test_ids_are_typed_and_stable_ids_repeat():
    assert ids.new_id("student").startswith("stu_")
    assert ids.new_id("student") != ids.new_id("student")
    assert ids.stable_id("session", "crs_1", "t") == ids.stable_id("session", "crs_1", "t")
    assert ids.stable_id("session", "crs_1", "t") != ids.stable_id("session", "crs_2", "t")
