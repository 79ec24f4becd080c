"""What a transaction that enrolls or unenrolls a student takes from the directory: the enrollment as
it stands, the store's operations and the directory's events about them (`student_enrolled`,
`student_unenrolled`), without the directory API's models. The directory's own writes use them,
and so does a payment's success, so a provider callback that enrolls imports this, not
services.directory (domain.payments says why pydantic stays out of a callback)."""

from __future__ import annotations

from typing import Any

from integration_core.adapters.dynamodb import Table
from integration_core.stores import directory as stores

enrollment_operations = stores.enrollment_operations


def enrollment(student_id: str, course_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    """The student's enrollment in the course (with the `payment_id` that bought it, if one did)."""
    return stores.store().enrollment(student_id, course_id, consistent=consistent)


def enrolled_event_operations(
    db: Table, course_id: str, student_id: str, source: str, now: str, *, event_id: str | None = None, cause: str
) -> tuple[str, list[dict]]:
    data = {"studentId": student_id, "courseId": course_id, "enrolledAt": now, "source": source}
    from integration_core.services import events

    return events.event_operations(db, "student_enrolled", data, event_id=event_id, cause=cause)


def unenrolled_event_operations(
    db: Table,
    course_id: str,
    student_id: str,
    reason: str,
    now: str,
    *,
    payment_id: str | None = None,
    event_id: str | None = None,
    cause: str,
) -> tuple[str, list[dict]]:
    data = {"studentId": student_id, "courseId": course_id, "unenrolledAt": now, "reason": reason}
    if payment_id:
        data["paymentId"] = payment_id
    from integration_core.services import events

    return events.event_operations(db, "student_unenrolled", data, event_id=event_id, cause=cause)
