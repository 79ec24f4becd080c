"""A caller's identity is its role and its id together: ids carry their kind's prefix."""

import pytest

from integration_core import ids
from integration_core.errors import Forbidden, Unauthorized
from integration_core.principal import Principal, Role, principal_from_authorizer, role_of, subject_fits


@pytest.mark.parametrize(
    ("role", "sub"),
    [
        (Role.STUDENT, "svc_accounting"),  # a service's id in a student's token
        (Role.TEACHER, "stu_ana00001"),  # a student's id in a teacher's token
        (Role.ADMIN, "tch_james0001"),
        (Role.SERVICE, "adm_office"),
        (Role.ADMIN, "1"),
        (Role.SERVICE, "svc-crm"),
        (Role.STUDENT, "stu_ana00001 "),
        (Role.STUDENT, "stu_ana00001\n"),
        (Role.STUDENT, ""),
    ],
)
def test_a_subject_that_does_not_fit_its_role_makes_no_principal(role, sub):
    assert not subject_fits(role, sub)
    with pytest.raises(Unauthorized):
        Principal(sub, role)
    with pytest.raises(Unauthorized):
        principal_from_authorizer({"sub": sub, "role": role.value})


def test_ownership_is_role_and_id_together():
    service = Principal("svc_accounting", Role.SERVICE)
    assert service.owns("svc_accounting")
    assert not service.owns("svc_crm00001")
    assert not service.owns("adm_accounting")  # same tail, another kind
    assert service.identity == (Role.SERVICE, "svc_accounting")
    assert service.key == "service:svc_accounting"
    student = Principal("stu_ana00001", Role.STUDENT)
    assert student.owns("stu_ana00001") and not student.owns("tch_ana00001")
    with pytest.raises(Forbidden):
        student.require_owner_or_admin("svc_accounting")
    Principal("adm_office", Role.ADMIN).require_owner_or_admin("svc_accounting")  # admins see everything


def test_every_caller_kind_has_a_prefix_and_ids_name_their_kind():
    assert {role.value for role in Role} <= set(ids.PREFIXES)
    assert [role_of(i) for i in ("stu_ana00001", "tch_james0001", "adm_office", "svc_local")] == list(Role)
    assert role_of("crs_ielts0001") is None and role_of("svc_x") is None and role_of("nonsense") is None
    assert ids.kind_of(ids.new_id("webhook")) == "webhook"
