"""What the directory does when other capabilities' events happen (its internal event handlers).

- `payment_refunded` of a FULL refund ends the enrollment that payment bought, with
  `student_unenrolled` (reason "refunded"), when the school's rule says so
  (`FullRefundEndsEnrollment`). A partial refund, an enrollment bought by another payment or made
  by an admin, or one already gone are left alone.

Run by DirectoryEventsFunction from its queue (template.yaml: DirectoryEventsRule lists these
types); see integration_core.internal_events for the delivery, retries and the once-per-event rule.
"""

from __future__ import annotations

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
    if directory.end_refunded_enrollment(course_id, student_id, payment_id, reaction.commit):
        logger.info("full refund ended the enrollment", extra={"payment_id": payment_id, "course_id": course_id})
