"""Who is calling: the subject and role the authorizer verified, and the ownership rules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from integration_core.errors import Forbidden, Unauthorized


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"
    SERVICE = "service"


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this action needs one of the roles: {allowed}")

    def require_owner_or_admin(self, owner_sub: str) -> None:
        """Admins see everything; anyone else only what belongs to them."""
        if not self.is_admin and self.sub != owner_sub:
            raise Forbidden("this resource belongs to someone else")


def principal_from_authorizer(context: dict | None) -> Principal:
    """The authorizer passes {"sub", "role"}; a request without them never reaches a handler
    in AWS, so their absence here means a misconfigured route: refuse it."""
    if not context or not context.get("sub") or context.get("role") not in set(Role):
        raise Unauthorized("no verified caller on this request")
    return Principal(sub=str(context["sub"]), role=Role(context["role"]))
