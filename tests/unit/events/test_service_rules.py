"""Rules that live in services, not handlers: who may publish an event is decided by the service, so
every caller of the service (a route, a job, another capability) gets the rule."""

from __future__ import annotations

import pytest

from integration_core.errors import Forbidden, Unprocessable
from integration_core.principal import Principal, Role
from integration_core.services import events

GRADE = {"studentId": "stu_ana00001", "courseId": "crs_abcd0001", "grade": "B2"}


@pytest.mark.parametrize("role, sub", [(Role.STUDENT, "stu_ana00001"), (Role.TEACHER, "tch_maria0001")])
def test_only_admins_and_services_announce_events(role, sub):
    with pytest.raises(Forbidden):
        events.announce(Principal(sub, role), "grade_updated", GRADE)


def test_an_announcement_key_keeps_the_one_idempotency_key_policy():
    with pytest.raises(Unprocessable) as caught:
        events.announce(Principal("svc_accounting", Role.SERVICE), "grade_updated", GRADE, idempotency_key="short")
    assert caught.value.errors[0]["field"] == "Idempotency-Key"
