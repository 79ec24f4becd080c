"""The event catalog: every domain event type a webhook can subscribe to, with the JSON Schema of
its `data`, an example and who may publish it. Each capability registers its own types here
(payments adds payment_refunded, subscription_activated, ...); `GET /webhooks/events` serves the
catalog and publishing validates data against it.

Who publishes a type (`published_by`): a type owned by a capability of this service (`payments`,
`enrollments`, `webhooks`) is published only by that capability's own code, in the transaction of
the change it reports; `POST /events` refuses it, whoever calls, since an event there would say that
a payment or an enrollment happened when this service recorded nothing of the kind. Only types
marked `external` (facts this service does not own: grades, a course's classes taking place) may be
announced through `POST /events` by the center's other systems.

The examples are checked against their schemas by tests/unit/events/test_event_catalog.py, not at import:
compiling every schema cost each function that imports the catalog ~10 ms of cold start."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from integration_core.errors import Unprocessable, field_error

EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
TEST_EVENT = "webhook.test"
EXTERNAL = "external"
CAPABILITIES = (
    "payments",
    "enrollments",
    "directory",
    "webhooks",
    "calendar",
    "video",
)  # add yours when it publishes events
PUBLISHERS = (EXTERNAL, *CAPABILITIES)


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    schema: dict[str, Any]
    example: dict[str, Any]
    published_by: str
    subscribable: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def announceable(self) -> bool:
        """May the center's other systems announce it through POST /events?"""
        return self.published_by == EXTERNAL


CATALOG: dict[str, EventType] = {}


def register_event_type(
    name: str,
    description: str,
    schema: dict[str, Any],
    example: dict[str, Any],
    *,
    published_by: str,
    subscribable: bool = True,
) -> EventType:
    """Add a type to the catalog; the example must satisfy the schema (a unit test checks every
    entry, so a wrong one fails the tests rather than a receiver). `published_by` is required: a
    new type says whether it is this service's own (its capability) or `external`."""
    if not EVENT_TYPE_RE.match(name):
        raise ValueError(f"event type {name!r} is not lowercase dotted/underscored")
    if published_by not in PUBLISHERS:
        raise ValueError(f"event type {name!r}: published_by must be one of {', '.join(PUBLISHERS)}")
    if name in CATALOG and CATALOG[name].schema != schema:
        raise ValueError(f"event type {name!r} is already registered with another schema")
    entry = EventType(name, description, schema, example, published_by, subscribable)
    CATALOG[name] = entry
    return entry


def event_type(name: str) -> EventType:
    entry = CATALOG.get(name)
    if entry is None:
        known = ", ".join(sorted(CATALOG))
        raise Unprocessable(
            f"eventType: unknown event type {name!r}; known: {known}",
            errors=[field_error("eventType", "unknown event type")],
        )
    return entry


def validate_data(name: str, data: dict[str, Any]) -> None:
    """422 naming every offending field of `data` (each missing property, each property that does
    not match its schema), not only the first one a validator meets."""
    entry = event_type(name)
    errors = data_errors(entry.schema, data)
    if errors:
        summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        raise Unprocessable(summary, errors=errors)


def data_errors(schema: dict[str, Any], data: Any) -> list[dict[str, str]]:
    """Every failing field of `data` against an object schema of the catalog. Data that fails the
    whole schema is looked at field by field: the required properties that are missing, then each
    present property against its own schema; the whole schema's reason when no single one shows it."""
    if not isinstance(data, dict):
        return [field_error("data", "must be an object")]
    whole = _failure(schema, data, "data")
    if whole is None:  # the common case in one check (each compiles its schema anew), not one per property
        return []
    errors = [field_error(f"data.{p}", "required") for p in schema.get("required", []) if p not in data]
    for prop, subschema in schema.get("properties", {}).items():
        if prop in data:
            reason = _failure({"$schema": schema.get("$schema"), **subschema}, data[prop], f"data.{prop}")
            if reason is not None:
                errors.append(field_error(reason[0], reason[1]))
    return errors or [field_error(*whole)]


def _failure(schema: dict[str, Any], value: Any, where: str) -> tuple[str, str] | None:
    """(field, reason) of the first rule `value` breaks, or None when it satisfies `schema`."""
    # Powertools validation (fastjsonschema) loads on the first publish, not in every importer.
    from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

    try:
        validate(event=value, schema=schema)
    except SchemaValidationError as error:
        path = str(error.name or "data")
        inner = path.removeprefix("data")
        field_name = where + inner
        reason = str(error.validation_message or "").removeprefix(path).strip() or "does not match the schema"
        if error.rule == "required" and isinstance(error.value, dict):
            missing = [p for p in error.rule_definition or [] if p not in error.value]
            field_name, reason = (f"{field_name}.{missing[0]}" if missing else field_name), "required"
        return field_name, reason
    return None


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": True,
    }


_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_TIME = {"type": "string", "format": "date-time"}
_AMOUNT = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "Decimal amount as text"}
_CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$"}

register_event_type(
    "payment_completed",
    "A course payment succeeded.",
    _object(
        {
            "paymentId": _ID,
            "transactionId": {
                "type": "string",
                "minLength": 1,
                "maxLength": 128,
                "description": "The provider's id of the payment: Stripe PaymentIntent, PayPal order, invoice",
            },
            "captureId": {"type": "string", "minLength": 1, "maxLength": 128, "description": "PayPal's capture"},
            "studentId": _ID,
            "courseId": _ID,
            "amount": _AMOUNT,
            "currency": _CURRENCY,
            "provider": {"type": "string", "enum": ["stripe", "paypal", "manual"]},
            "completedAt": _TIME,
        },
        ["paymentId", "studentId", "amount", "currency", "completedAt"],
    ),
    {
        "paymentId": "pay_5j2mxkq3p4r7t8v9w0ya",
        "transactionId": "pi_3Pq2x4LkdIwHu7ix0cY1z9Ab",
        "studentId": "stu_b2c3d4e5f6g7h2j3k4m5",
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "amount": "149.00",
        "currency": "EUR",
        "provider": "stripe",
        "completedAt": "2025-03-01T10:15:00+00:00",
    },
    published_by="payments",
)
register_event_type(
    "student_enrolled",
    "A student was enrolled in a course.",
    _object(
        {"studentId": _ID, "courseId": _ID, "enrolledAt": _TIME, "source": {"type": "string", "maxLength": 64}},
        ["studentId", "courseId", "enrolledAt"],
    ),
    {
        "studentId": "stu_b2c3d4e5f6g7h2j3k4m5",
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "enrolledAt": "2025-03-01T10:16:00+00:00",
        "source": "payment",
    },
    published_by="enrollments",
)
register_event_type(
    "student_unenrolled",
    "A student's enrollment in a course ended (removed by an admin, or a full refund of the payment that bought it).",
    _object(
        {
            "studentId": _ID,
            "courseId": _ID,
            "unenrolledAt": _TIME,
            "reason": {"type": "string", "enum": ["removed", "refunded"]},
            "paymentId": _ID,
        },
        ["studentId", "courseId", "unenrolledAt", "reason"],
    ),
    {
        "studentId": "stu_b2c3d4e5f6g7h2j3k4m5",
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "unenrolledAt": "2025-04-02T09:00:00+00:00",
        "reason": "refunded",
        "paymentId": "pay_5j2mxkq3p4r7t8v9w0ya",
    },
    published_by="enrollments",
)
register_event_type(
    "course_schedule_changed",
    "A course's class sessions were added, moved or cancelled (calendars and reminders follow it).",
    _object(
        {
            "courseId": _ID,
            "change": {"type": "string", "enum": ["added", "moved", "cancelled"]},
            "sessionIds": {"type": "array", "items": _ID, "minItems": 1, "maxItems": 366},
        },
        ["courseId", "change", "sessionIds"],
    ),
    {"courseId": "crs_k2m3n4p5q6r7s2t3v4w5", "change": "moved", "sessionIds": ["ses_m2n3p4q5r6s7t2v3w4x5"]},
    published_by="directory",
)
register_event_type(
    "course_deleted",
    "A course was deleted (with its sessions); its video meetings are deleted at the provider by video.",
    _object({"courseId": _ID, "teacherId": _ID, "deletedAt": _TIME}, ["courseId", "deletedAt"]),
    {
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "teacherId": "tch_q2r3s4t5v6w7x2y3z4a5",
        "deletedAt": "2025-07-01T09:00:00+00:00",
    },
    published_by="directory",
)
register_event_type(
    "grade_updated",
    "A student's grade in a course was set or changed.",
    _object(
        {
            "studentId": _ID,
            "courseId": _ID,
            "assessment": {"type": "string", "minLength": 1, "maxLength": 200},
            "grade": {"type": ["string", "number"]},
            "previousGrade": {"type": ["string", "number", "null"]},
            "updatedAt": _TIME,
        },
        ["studentId", "courseId", "grade", "updatedAt"],
    ),
    {
        "studentId": "stu_b2c3d4e5f6g7h2j3k4m5",
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "assessment": "Mid-term speaking test",
        "grade": "B2",
        "previousGrade": "B1",
        "updatedAt": "2025-04-10T16:00:00+00:00",
    },
    published_by="external",
)
register_event_type(
    "course_started",
    "A class of a course began: announced by the center's timetable, or published by video when the "
    "class's meeting starts (then with meetingId and, when the class is one of the course's sessions, sessionId).",
    _object(
        {"courseId": _ID, "startedAt": _TIME, "teacherId": _ID, "sessionId": _ID, "meetingId": _ID},
        ["courseId", "startedAt"],
    ),
    {
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "startedAt": "2025-03-03T18:00:00+00:00",
        "teacherId": "tch_q2r3s4t5v6w7x2y3z4a5",
    },
    published_by="external",
)
register_event_type(
    "course_ended",
    "A class of a course ended: announced by the center's timetable, or published by video when the "
    "class's meeting ends (then with meetingId and, when the class is one of the course's sessions, sessionId).",
    _object(
        {"courseId": _ID, "endedAt": _TIME, "teacherId": _ID, "sessionId": _ID, "meetingId": _ID},
        ["courseId", "endedAt"],
    ),
    {
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "endedAt": "2025-06-30T19:30:00+00:00",
        "teacherId": "tch_q2r3s4t5v6w7x2y3z4a5",
    },
    published_by="external",
)
register_event_type(
    TEST_EVENT,
    "Sent by `POST /webhooks/{webhookId}/test` to check a receiver; it cannot be published.",
    _object(
        {"message": {"type": "string"}, "webhookId": _ID, "requestedBy": {"type": "string"}},
        ["message", "webhookId"],
    ),
    {"message": "This is a test event.", "webhookId": "whk_a2b3c4d5e6f7g2h3j4k5", "requestedBy": "usr_1"},
    published_by="webhooks",
)

# ---------------------------------------------------------------- payments
_PROVIDER = {"type": "string", "enum": ["stripe", "paypal"]}
register_event_type(
    "payment_refunded",
    "A payment was refunded, in part or in full (one event per refund).",
    _object(
        {
            "paymentId": _ID,
            "transactionId": {"type": "string", "minLength": 1, "maxLength": 128},
            "studentId": _ID,
            "courseId": _ID,
            "refundId": {"type": "string", "minLength": 1, "maxLength": 128},
            "amount": _AMOUNT,
            "amountMinor": {"type": "integer", "minimum": 1},
            "refundedTotal": _AMOUNT,
            "currency": _CURRENCY,
            "provider": _PROVIDER,
            "status": {"type": "string", "enum": ["partially_refunded", "refunded"]},
            "reason": {"type": ["string", "null"], "maxLength": 500},
            "refundedAt": _TIME,
        },
        [
            "paymentId",
            "studentId",
            "refundId",
            "amount",
            "refundedTotal",
            "currency",
            "provider",
            "status",
            "refundedAt",
        ],
    ),
    {
        "paymentId": "pay_5j2mxkq3p4r7t8v9w0ya",
        "studentId": "stu_b2c3d4e5f6g7h2j3k4m5",
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "refundId": "re_3Pq2x4LkdIwHu7ix0cY1z9Ab",
        "amount": "74.50",
        "amountMinor": 7450,
        "refundedTotal": "74.50",
        "currency": "EUR",
        "provider": "stripe",
        "status": "partially_refunded",
        "reason": "Moved to the evening group",
        "refundedAt": "2025-03-05T09:00:00+00:00",
    },
    published_by="payments",
)
_SUBSCRIPTION = {
    "subscriptionId": _ID,
    "studentId": _ID,
    "planId": _ID,
    "provider": _PROVIDER,
    "providerSubscriptionId": {"type": "string", "minLength": 1, "maxLength": 128},
}
register_event_type(
    "subscription_activated",
    "A student's subscription to a plan became active (the first payment went through).",
    _object(
        {**_SUBSCRIPTION, "activatedAt": _TIME},
        ["subscriptionId", "studentId", "planId", "provider", "providerSubscriptionId", "activatedAt"],
    ),
    {
        "subscriptionId": "sbs_m2n3p4q5r6s7t2v3w4x5",
        "studentId": "stu_b2c3d4e5f6g7h2j3k4m5",
        "planId": "pln_c2d3e4f5g6h7j2k3m4n5",
        "provider": "paypal",
        "providerSubscriptionId": "I-BW452GLLEP1G",
        "activatedAt": "2025-03-01T10:20:00+00:00",
    },
    published_by="payments",
)
register_event_type(
    "subscription_canceled",
    "A student's subscription ended: canceled by the student, an admin, or the provider.",
    _object(
        {**_SUBSCRIPTION, "canceledAt": _TIME},
        ["subscriptionId", "studentId", "planId", "provider", "providerSubscriptionId", "canceledAt"],
    ),
    {
        "subscriptionId": "sbs_m2n3p4q5r6s7t2v3w4x5",
        "studentId": "stu_b2c3d4e5f6g7h2j3k4m5",
        "planId": "pln_c2d3e4f5g6h7j2k3m4n5",
        "provider": "stripe",
        "providerSubscriptionId": "sub_1PqRsT2eZvKYlo2C",
        "canceledAt": "2025-06-01T08:00:00+00:00",
    },
    published_by="payments",
)

# ---------------------------------------------------------------- calendar
register_event_type(
    "class_reminder",
    "A class starts soon: one event per enrolled student and reminder (24 h and 1 h before by default), "
    "sent with the reminder email, so the school's other systems can send a push or an SMS.",
    _object(
        {
            "courseId": _ID,
            "courseTitle": {"type": "string", "maxLength": 200},
            "sessionId": _ID,
            "studentId": _ID,
            "startsAt": _TIME,
            "endsAt": _TIME,
            "localStartsAt": {"type": "string", "description": "The start in the course's zone"},
            "timeZone": {"type": "string", "minLength": 1, "maxLength": 64},
            "minutesBefore": {"type": "integer", "minimum": 1},
            "sessionVersion": {"type": "integer", "minimum": 1},
            "joinUrl": {"type": ["string", "null"], "description": "The meeting's join link, once video lands"},
        },
        ["courseId", "sessionId", "studentId", "startsAt", "timeZone", "minutesBefore"],
    ),
    {
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "courseTitle": "Business English B2",
        "sessionId": "ses_m2n3p4q5r6s7t2v3w4x5",
        "studentId": "stu_b2c3d4e5f6g7h2j3k4m5",
        "startsAt": "2026-03-09T22:00:00+00:00",
        "endsAt": "2026-03-09T23:30:00+00:00",
        "localStartsAt": "2026-03-09T18:00:00-04:00",
        "timeZone": "America/New_York",
        "minutesBefore": 60,
        "sessionVersion": 1,
        "joinUrl": None,
    },
    published_by="calendar",
)
register_event_type(
    "calendar_connection_broken",
    "Google refused a user's calendar connection (invalid_grant: revoked at Google or expired); "
    "nothing syncs for that user until they connect again.",
    _object(
        {
            "userId": _ID,
            "email": {"type": "string", "maxLength": 320},
            "reason": {"type": "string", "minLength": 1, "maxLength": 500},
            "brokenAt": _TIME,
        },
        ["userId", "reason", "brokenAt"],
    ),
    {
        "userId": "stu_b2c3d4e5f6g7h2j3k4m5",
        "email": "ana@example.com",
        "reason": "invalid_grant: the Google grant was revoked or has expired",
        "brokenAt": "2025-03-01T10:16:00+00:00",
    },
    published_by="calendar",
)

# ---------------------------------------------------------------- video
register_event_type(
    "recording_ready",
    "A class's cloud recording is ready at the video provider (Zoom's download links need a token).",
    _object(
        {
            "courseId": _ID,
            "meetingId": _ID,
            "provider": {"type": "string", "enum": ["zoom", "teams"]},
            "occurrenceUuid": {"type": "string", "minLength": 1, "maxLength": 512},
            "sessionId": {"type": ["string", "null"], "maxLength": 64},
            "files": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "fileType": {"type": "string"},
                        "size": {"type": "integer", "minimum": 0},
                        "playUrl": {"type": "string"},
                        "downloadUrl": {"type": "string"},
                    },
                    "required": ["fileType"],
                },
            },
            "readyAt": _TIME,
        },
        ["courseId", "meetingId", "provider", "occurrenceUuid", "files", "readyAt"],
    ),
    {
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "meetingId": "mtg_a2b3c4d5e6f7g2h3j4k5",
        "provider": "zoom",
        "occurrenceUuid": "4444AAAiAAAAAiAiAiiAii==",
        "sessionId": "ses_m2n3p4q5r6s7t2v3w4x5",
        "files": [
            {
                "fileType": "MP4",
                "size": 264929,
                "playUrl": "https://zoom.us/rec/play/x",
                "downloadUrl": "https://zoom.us/rec/download/x",
            }
        ],
        "readyAt": "2025-03-03T19:40:00+00:00",
    },
    published_by="video",
)
register_event_type(
    "attendance_recorded",
    "A class's attendance, taken from the video provider's participants report after the meeting ended.",
    _object(
        {
            "courseId": _ID,
            "meetingId": _ID,
            "occurrenceUuid": {"type": "string", "minLength": 1, "maxLength": 512},
            "sessionId": {"type": ["string", "null"], "maxLength": 64},
            "attended": {"type": "array", "items": _ID},
            "absent": {"type": "array", "items": _ID},
            "recordedAt": _TIME,
        },
        ["courseId", "meetingId", "occurrenceUuid", "attended", "absent", "recordedAt"],
    ),
    {
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "meetingId": "mtg_a2b3c4d5e6f7g2h3j4k5",
        "occurrenceUuid": "4444AAAiAAAAAiAiAiiAii==",
        "sessionId": "ses_m2n3p4q5r6s7t2v3w4x5",
        "attended": ["stu_b2c3d4e5f6g7h2j3k4m5"],
        "absent": ["stu_c2d3e4f5g6h7j2k3m4n5"],
        "recordedAt": "2025-03-03T19:45:00+00:00",
    },
    published_by="video",
)
register_event_type(
    "join_link_ready",
    "Personal join links of a course's video meeting are ready for these people (students enrolled, the "
    "course's teacher): their sessions view, calendar events and feed show them. The links themselves are "
    "not in the event.",
    _object(
        {
            "courseId": _ID,
            "meetingId": _ID,
            "provider": {"type": "string", "enum": ["zoom", "teams"]},
            "userIds": {"type": "array", "items": _ID, "minItems": 1},
        },
        ["courseId", "meetingId", "provider", "userIds"],
    ),
    {
        "courseId": "crs_k2m3n4p5q6r7s2t3v4w5",
        "meetingId": "mtg_a2b3c4d5e6f7g2h3j4k5",
        "provider": "zoom",
        "userIds": ["stu_b2c3d4e5f6g7h2j3k4m5", "tch_q2r3s4t5v6w7x2y3z4a5"],
    },
    published_by="video",
)
