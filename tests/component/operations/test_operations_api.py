"""The operations function against moto: the sample event answers, a non-admin is refused, and a
provider outcome noted by an adapter shows on the health page."""

from integration_core.stores import provider_health
from tests.support.lambdas import api_event, invoke, sample_event


def test_the_sample_shows_every_known_provider_unknown_and_no_trouble(aws):
    answer = invoke("operations", sample_event("operations/get_integrations.json"))
    assert answer.status == 200, answer.body
    assert {p["provider"]: p["healthy"] for p in answer.body["providers"]}["stripe"] is None
    assert (answer.body["brokenCalendars"], answer.body["webhooks"]) == ([], [])


def test_a_noted_failure_after_a_success_shows_the_provider_unhealthy(aws):
    provider_health.note("paypal", True)
    provider_health.note("paypal", False, "answered 503 (create order)")
    answer = invoke("operations", api_event("GET", "/admin/integrations", caller=("adm_office", "admin")))
    paypal = next(p for p in answer.body["providers"] if p["provider"] == "paypal")
    assert paypal["healthy"] is False and paypal["lastFailure"] == "answered 503 (create order)"
    assert paypal["lastSuccessAt"] <= paypal["lastFailureAt"]


def test_a_student_is_refused(aws):
    answer = invoke("operations", api_event("GET", "/admin/integrations", caller=("stu_ana00001", "student")))
    assert answer.status == 403
