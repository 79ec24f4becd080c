"""Who is calling: the role and id the authorizer verified, and the ownership rules.

A caller's identity is its role and its id together. Ids carry their kind's prefix, and a caller's
id carries its role's (`stu_` for a student, `tch_` a teacher, `adm_` an admin, `svc_` a service),
so a token whose `sub` does not fit its role is refused before any handler runs, a Principal that
does not fit cannot be made, and owning a record means having both the record owner's role (read
from the owner id's prefix) and its id: a student whose `sub` spelled a service's id, or a teacher
whose `sub` spelled a student's, would own nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from integration_core import ids
from integration_core.errors import Forbidden, Unauthorized


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"
    SERVICE = "service"


_SUBJECT = {role: re.compile(ids.id_pattern(role.value)) for role in Role}


def subject_fits(role: Role | str, sub: object) -> bool:
    """True when `sub` is an id of the role's kind: stu_ana00001 for a student, svc_crm0 for a service."""
    try:
        pattern = _SUBJECT[Role(role)]
    except ValueError:
        return False
    return isinstance(sub, str) and pattern.fullmatch(sub) is not None


def subject_rule(role: Role | str) -> str:
    """What a subject of the role looks like, for error messages."""
    return f"{ids.PREFIXES[Role(role).value]}_ and 4 to 40 lowercase letters or digits"


def role_of(owner_id: str) -> Role | None:
    """The role whose callers have ids like this one (an owner id's prefix names it)."""
    kind = ids.kind_of(owner_id)
    return Role(kind) if kind in set(Role) else None


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role

    def __post_init__(self) -> None:
        if not subject_fits(self.role, self.sub):
            raise Unauthorized(f"a {Role(self.role).value}'s id is {subject_rule(self.role)}")

    @property
    def identity(self) -> tuple[Role, str]:
        return (self.role, self.sub)

    @property
    def key(self) -> str:
        """The identity as one string, for scoping what a caller stores (idempotency, cursors)."""
        return f"{self.role.value}:{self.sub}"

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def owns(self, owner_id: str) -> bool:
        """Role and id both: the owner id's prefix gives the owner's role."""
        return (role_of(owner_id), owner_id) == self.identity

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this action needs one of the roles: {allowed}")

    def require_owner_or_admin(self, owner_id: str) -> None:
        """Admins see everything; anyone else only what belongs to them (role and id)."""
        if not self.is_admin and not self.owns(owner_id):
            raise Forbidden("this resource belongs to someone else")


def principal_from_authorizer(context: dict | None) -> Principal:
    """The authorizer passes {"sub", "role"}; a request without them never reaches a handler
    in AWS, so their absence here means a misconfigured route: refuse it."""
    if not context or not context.get("sub") or context.get("role") not in set(Role):
        raise Unauthorized("no verified caller on this request")
    return Principal(sub=str(context["sub"]), role=Role(context["role"]))
