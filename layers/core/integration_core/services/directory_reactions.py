"""What the directory does when other capabilities' events happen (its internal event handlers).

- `payment_refunded` of a FULL refund ends the enrollment that payment bought, with
  `student_unenrolled` (reason "refunded"), when the school's rule says so
  (`FullRefundEndsEnrollment`). A partial refund, an enrollment bought by another payment or made
  by an admin, or one already gone are left alone.

Run by DirectoryEventsFunction from its queue (template.yaml: DirectoryEventsRule lists these
types); see integration_core.internal_events for the delivery, retries and the once-per-event rule.
"""

from __future__ import annotations

from integration_core import timeutil
from integration_core.adapters.dynamodb import ConditionFailed
from integration_core.ids import stable_id
from integration_core.internal_events import InternalEvent, Reaction, consumer
from integration_core.observability import logger
from integration_core.payment_config import payment_settings
from integration_core.services import directory

DIRECTORY = consumer("directory")


@DIRECTORY.on("payment_refunded")
def end_enrollment_on_full_refund(event: InternalEvent, reaction: Reaction) -> None:
    data = event.data
    course_id, student_id, payment_id = data.get("courseId"), data["studentId"], data["paymentId"]
    if data.get("status") != "refunded" or not course_id or not payment_settings().full_refund_ends_enrollment:
        return
    found = directory.enrollment(student_id, course_id, consistent=True)
    if found is None or found.get("payment_id") != payment_id:
        return  # gone already, or bought otherwise: not this payment's to end
    db = directory._db()
    now = timeutil.iso_utc(timeutil.utc_now())
    # The id derives from the payment: one enrollment ended per payment, whatever the deliveries.
    event_id, event_ops = directory.unenrolled_event_operations(
        db,
        course_id,
        student_id,
        "refunded",
        now,
        payment_id=payment_id,
        event_id=stable_id("event", "student_unenrolled", payment_id),
        cause=f"refund:{payment_id}",
    )
    try:
        reaction.commit([*directory.unenrollment_operations(db, course_id, student_id, payment_id), *event_ops])
    except ConditionFailed:
        return  # the enrollment changed meanwhile (removed, or ended by an earlier delivery)
    logger.info("full refund ended the enrollment", extra={"payment_id": payment_id, "course_id": course_id})
    directory._dispatch([event_id])
